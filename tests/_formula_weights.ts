/**
 * Deterministic weights for PyTorch comparisons without committing the weights: both sides
 * compute every tensor from an integer hash of its state-dict key (`formula_tensor` in
 * scripts/make_resnet_fixture.py), giving bit-identical float32 values in Python and TypeScript.
 */
import { type Tensor, tensor } from "../mod.ts";
import { prod } from "./_util.ts";

/** FNV-1a 32-bit hash of the UTF-8 bytes of `s`. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** `n` float32-exact values in [−1, 1): lowbias32 of (i + hash(name)) mod 2³², top 24 bits. */
function unit(name: string, n: number): Float64Array {
  const seed = fnv1a(name), out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let x = (i + seed) >>> 0;
    x ^= x >>> 16;
    x = Math.imul(x, 0x7feb352d);
    x ^= x >>> 15;
    x = Math.imul(x, 0x846ca68b);
    x ^= x >>> 16;
    out[i] = ((x >>> 8) - 8388608) / 8388608;
  }
  return out;
}

/** The script's `formula_tensor`: deterministic weights, running statistics and counts. */
export function formulaTensor(name: string, shape: number[]): Tensor {
  if (name.endsWith("num_batches_tracked")) return tensor(new Int32Array([7]), shape);
  const v = unit(name, prod(shape));
  let f: (x: number) => number;
  if (name.endsWith("running_mean")) f = (x) => 0.1 * x;
  else if (name.endsWith("running_var")) f = (x) => 1 + 0.4 * x;
  else if (name.endsWith("weight") && (shape.length === 4 || shape.length === 5)) {
    const s = Math.sqrt(6 / prod(shape.slice(1)));
    f = (x) => x * s;
  } else if (name.endsWith("weight") && shape.length === 2) {
    const s = Math.sqrt(shape[1]);
    f = (x) => x / s;
  } else if (name.endsWith("weight")) f = (x) => 1 + 0.2 * x;
  else if (name.endsWith("bias") || name.endsWith("class_token") || name.endsWith("pos_embedding")) f = (x) => 0.1 * x;
  else if (name.endsWith("relative_position_bias_table")) f = (x) => 0.5 * x;
  else throw new Error(`no formula for ${name}`);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = f(v[i]);
  return tensor(out, shape);
}

/** A state dict of formula tensors for `[key, shape]` pairs (as the fixtures list them). */
export function formulaStateDict(keys: [string, number[]][]): Record<string, Tensor> {
  return Object.fromEntries(keys.map(([k, shape]) => [k, formulaTensor(k, shape)]));
}
