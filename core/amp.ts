/**
 * Automatic mixed precision, opt-in: inside `autocast(fn)`, matmul and convolution read their
 * operands as f16 and multiply in f16 (sums of four products), accumulating in f32 and writing
 * f32 — where the adapter has `shader-f16`. Elsewhere `autocast` changes nothing and the same
 * code runs in f32. Parameters stay f32 (master weights); pair it with `GradScaler` so small
 * gradients do not underflow f16. Backward passes run in the precision their forward ran in,
 * whenever `backward()` is called.
 * @module
 */
import { gpu } from "./device.ts";

/** Options of {@linkcode autocast}. */
export interface AutocastOptions {
  /** `false` runs `fn` in f32 (handy to switch mixed precision by a config flag). Default true. */
  enabled?: boolean;
}

let enabled = false;

/** True when the adapter can run the f16 path (`shader-f16` enabled on the device). */
export function f16Supported(): boolean {
  return gpu().features.has("shader-f16");
}

/** True inside an enabled `autocast` on an adapter with `shader-f16`: matmul/conv run in f16. */
export function autocastActive(): boolean {
  return enabled && f16Supported();
}

/**
 * Runs `fn` (sync or async) with the f16 matmul/conv path on (see the module doc) and restores
 * the previous state afterwards — after the promise settles for an async `fn`, so do not
 * interleave other GPU work with an async autocast region.
 */
export function autocast<R>(fn: () => R, options: AutocastOptions = {}): R {
  return withAutocastState(options.enabled ?? true, fn);
}

/** Runs `fn` with the autocast flag set to `state` (used to replay a forward's precision in backward). */
export function withAutocastState<R>(state: boolean, fn: () => R): R {
  const previous = enabled;
  enabled = state;
  let result: R;
  try {
    result = fn();
  } catch (e) {
    enabled = previous;
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(() => {
      enabled = previous;
    }) as R;
  }
  enabled = previous;
  return result;
}

/** The current autocast flag (whether an enabled `autocast` region is running). */
export function autocastEnabled(): boolean {
  return enabled;
}
