/** `quantile`: PyTorch's `torch.quantile` (a number q) on the GPU, without sorting. */
import { checkLoopBudget, dispatch, MAX_WORKGROUPS_X, pipeline } from "../device.ts";
import { type QuantileInterpolation, quantileSource, SELECT_META_WORDS, SELECT_WG } from "../kernels/quantile.ts";
import { roundHalfEven } from "../numeric.ts";
import { fmtShape, normDim } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { empty } from "./map.ts";
import { flatten, reshape, transpose } from "./view.ts";

export type { QuantileInterpolation } from "../kernels/quantile.ts";

const MODES: Record<QuantileInterpolation, number> = { linear: 0, lower: 1, higher: 2, midpoint: 3, nearest: 4 };

/** Options of `quantile`. */
export interface QuantileOptions {
  /** Keep the reduced dim with size 1 (default false). */
  keepdim?: boolean;
  /** Between the two nearest order statistics (default "linear", as PyTorch). */
  interpolation?: QuantileInterpolation;
}

/**
 * The q-quantile of `x` along `dim` (all elements when `dim` is undefined), as
 * `torch.quantile(x, q, dim, keepdim, interpolation=…)`: position q·(n − 1) (in float32, as
 * PyTorch computes it for float32 input) between the order statistics ⌊·⌋ and ⌊·⌋ + 1; a
 * slice holding NaN gives NaN. float32 in and out; not differentiable (the result carries no
 * gradient).
 *
 * @example
 * ```ts
 * const s = quantile(abs(x0).flatten(1), 0.995, 1); // per-sample 99.5th percentile of |x̂₀|
 * ```
 */
export function quantile(x: Tensor, q: number, dim?: number, opts: QuantileOptions = {}): Tensor {
  const op = "quantile";
  if (!(x instanceof Tensor)) throw new TypeError(`${op}: x must be a Tensor, got ${typeof x}`);
  x.assertLive(op);
  if (x.dtype !== "float32") throw new TypeError(`${op}: x must be float32, got ${x.dtype}`);
  if (typeof q !== "number" || !(q >= 0 && q <= 1)) throw new RangeError(`${op}: q must be in [0, 1], got ${q}`);
  const interpolation = opts.interpolation ?? "linear";
  if (!(interpolation in MODES)) {
    throw new RangeError(
      `${op}: interpolation must be one of ${Object.keys(MODES).join(", ")}, got ${JSON.stringify(interpolation)}`,
    );
  }
  const keepdim = opts.keepdim ?? false;
  // Rows of the reduced dim, last and dense (all elements: one row of the flattened tensor).
  const whole = dim === undefined;
  const src = whole ? flatten(x) : x;
  const d = whole ? 0 : normDim(dim, x.ndim, op);
  const moved = d === src.ndim - 1 ? src : transpose(src, d, src.ndim - 1);
  const dense = moved.contiguous();
  const n = src.shape[d];
  const rows = reshape(dense, [n === 0 ? 0 : dense.size / n, n]);
  for (const t of new Set([src, moved, dense])) if (t !== x) t.dispose();
  const outShape = whole
    ? (keepdim ? x.shape.map(() => 1) : [])
    : x.shape.flatMap((s, i) => (i === d ? (keepdim ? [1] : []) : [s]));
  const M = rows.shape[0];
  try {
    if (n === 0) {
      throw new RangeError(
        `${op}: cannot take a quantile over an empty dimension of a tensor of shape ${fmtShape(x.shape)}`,
      );
    }
    // A workgroup's threads each walk n / SELECT_WG elements once per key bit (32) and once for NaNs.
    const loops = 33 * (Math.ceil(n / SELECT_WG) + 1) + 32 * 8;
    checkLoopBudget(op, loops, `${n} values per quantile`, "take it over fewer values (a subsample, or per channel)");
    const out = empty([M], "float32", op);
    if (M > 0) {
      const rank = Math.fround(Math.fround(q) * (n - 1));
      const k = Math.floor(rank);
      const frac = Math.fround(rank - k);
      const weight = interpolation === "nearest" ? (roundHalfEven(rank) > k ? 1 : 0) : frac;
      const meta = new Uint32Array(SELECT_META_WORDS);
      const gx = Math.min(M, MAX_WORKGROUPS_X), gy = Math.ceil(M / gx);
      meta.set([M, n, k, new Uint32Array(Float32Array.of(weight).buffer)[0], MODES[interpolation], gx, rows.offset]);
      dispatch({
        op,
        pipeline: pipeline(op, quantileSource()),
        bindings: [rows.storage.buffer, out.storage.buffer],
        uniforms: meta,
        workgroups: [gx, gy],
      });
    }
    const shaped = reshape(out, outShape);
    if (shaped !== out) out.dispose();
    return shaped;
  } finally {
    if (rows !== x) rows.dispose();
  }
}
