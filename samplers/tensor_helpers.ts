/**
 * Small tensor helpers the samplers share: argument checks and a·x + b·y with number
 * coefficients.
 * @module
 */
import { add, mul, scope, Tensor } from "../core/mod.ts";

/** a·x + b·y with plain-number coefficients (skips a term whose coefficient is 0). */
export function axpby(a: number, x: Tensor, b: number, y: Tensor): Tensor {
  if (b === 0) return mul(x, a);
  if (a === 0) return mul(y, b);
  return scope(() => add(mul(x, a), mul(y, b)));
}

/** Throws a TypeError naming `arg` unless `x` is a live Tensor. */
export function checkTensorArg(x: unknown, op: string, arg: string): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new TypeError(`${op}: ${arg} must be a Tensor, got ${typeof x}`);
  x.assertLive(op);
}

/** Whether two shapes are equal. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
