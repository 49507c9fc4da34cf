/**
 * Assertions in the shape of `@std/assert` (jsr.io is unreachable from our build machines),
 * built on Node's `node:assert`, which Deno ships.
 */
import nodeAssert from "node:assert";

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, msg);
}

/** Truthiness. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

/** |actual − expected| ≤ tolerance (`@std/assert`'s assertAlmostEquals; default 1e-7). */
export function assertAlmostEquals(actual: number, expected: number, tolerance = 1e-7, msg?: string): void {
  if (Math.abs(actual - expected) <= tolerance) return;
  const why = `expected ${actual} to be within ${tolerance} of ${expected}`;
  throw new Error(msg ? `${msg}: ${why}` : why);
}

type ErrorClass = new (...args: never[]) => Error;

/** `fn` throws an instance of `cls` whose message includes `includes`. */
export function assertThrows(fn: () => unknown, cls: ErrorClass = Error, includes?: string): Error {
  try {
    fn();
  } catch (e) {
    checkError(e, cls, includes);
    return e as Error;
  }
  throw new Error(`expected ${cls.name}${includes ? ` including "${includes}"` : ""} to be thrown`);
}

/** `fn` rejects with an instance of `cls` whose message includes `includes`. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  cls: ErrorClass = Error,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    checkError(e, cls, includes);
    return e as Error;
  }
  throw new Error(`expected a rejection with ${cls.name}${includes ? ` including "${includes}"` : ""}`);
}

function checkError(e: unknown, cls: ErrorClass, includes?: string): void {
  if (!(e instanceof cls)) throw new Error(`expected ${cls.name}, got ${e instanceof Error ? e.name : typeof e}: ${e}`);
  if (includes && !e.message.includes(includes)) {
    throw new Error(`error message "${e.message}" does not include "${includes}"`);
  }
}
