/**
 * Region-of-interest ops of the DiffMIC-v2 / GMIC guidance network (DCG): `roiSelect` picks
 * the most salient windows of a class-activation map, `cropPatches` cuts the matching patches
 * out of the full-resolution images, `topKMask` / `topFractionMean` aggregate the top t% of a
 * map (DCG's y_global). All run on the GPU without reading anything back.
 */
import { noGrad, record } from "../autograd.ts";
import { checkLoopBudget, dispatch, grid1d, MAX_WORKGROUPS_X, pipeline } from "../device.ts";
import {
  CROP_BACKWARD_META_WORDS,
  CROP_META_WORDS,
  cropPatchesBackwardSource,
  cropPatchesSource,
  ROI_SELECT_META_WORDS,
  ROI_WG,
  roiSelectSource,
  TOPK_META_WORDS,
  topKMaskSource,
} from "../kernels/roi.ts";
import { WG } from "../kernels/wgsl.ts";
import { roundHalfEven } from "../numeric.ts";
import { fmtShape, normDim, numel } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { div, where } from "./elementwise.ts";
import { empty } from "./map.ts";
import { mean, sum } from "./reduce.ts";
import { reshape } from "./view.ts";

/** Largest value the u32 index arithmetic of the kernels may reach. */
const U32_LIMIT = 2 ** 32;

function live(x: unknown, op: string, arg: string): Tensor {
  if (!(x instanceof Tensor)) throw new TypeError(`${op}: ${arg} must be a Tensor, got ${typeof x}`);
  x.assertLive(op);
  return x;
}

/** An (x, y) grid of `m` workgroups (one per row / image / crop). */
function rowGrid(m: number): [number, number] {
  const gx = Math.min(m, MAX_WORKGROUPS_X);
  return [gx, Math.ceil(m / gx)];
}

/**
 * Greedy region-of-interest selection of DCG (GMIC's `RetrieveROIModule`), one GPU dispatch.
 * Per image: each class map of `saliency` (N, C, h, w) is min–max normalised over its h·w
 * cells, (x − min) / (max − min), and the C maps are summed into one h×w map; then k times the
 * window × window window (stride 1, (h − window + 1)·(w − window + 1) positions) with the
 * largest sum is picked — ties go to the smallest row-major position — and its cells are set
 * to 0, so later picks avoid it (once every remaining window sums to 0 the first position wins
 * again, as the reference does).
 *
 * Non-finite saliency (choices of this port; the official code would give NaN picks):
 * - a class map without spread (max = min, e.g. constant) normalises to all zeros (the
 *   official code divides by zero);
 * - NaN cells take no part in their class's min/max and normalise to 0, like the class
 *   minimum (a NaN is never salient); an all-NaN class contributes zeros;
 * - ±Infinity is clamped to ±3.4028235e38 (the largest float32) first, so a +Infinity cell
 *   normalises to 1 and the finite cells of its class to ≈ 0.
 *
 * Window sums are float32; picks whose sums differ by float32 rounding may order differently
 * from a float64 computation.
 *
 * @param saliency float32 (N, C, h, w) class maps (any strides); no gradient flows.
 * @param k picks per image (an integer ≥ 1).
 * @param window side of the square window in cells, 1 ≤ window ≤ min(h, w) (default 1).
 * @returns int32 (N, k, 2): (row, col) of the upper-left cell of each pick, in pick order.
 *
 * @example
 * ```ts
 * const cells = roiSelect(saliency, 6, 1); // (N, 6, 2)
 * const patches = cropPatches(images, cells, { cropSize: 32, grid: [saliency.shape[2], saliency.shape[3]] });
 * ```
 */
export function roiSelect(saliency: Tensor, k: number, window = 1): Tensor {
  const op = "roiSelect";
  live(saliency, op, "saliency");
  if (saliency.dtype !== "float32" || saliency.ndim !== 4) {
    throw new TypeError(
      `${op}: saliency must be a float32 (N, C, h, w) tensor, got ${saliency.dtype} of shape ${
        fmtShape(saliency.shape)
      }`,
    );
  }
  const [N, C, h, w] = saliency.shape;
  if (C < 1 || h < 1 || w < 1) {
    throw new RangeError(
      `${op}: saliency needs at least one class and one cell, got shape ${fmtShape(saliency.shape)}`,
    );
  }
  if (typeof k !== "number" || !Number.isInteger(k) || k < 1) {
    throw new RangeError(`${op}: k must be an integer ≥ 1, got ${k}`);
  }
  if (typeof window !== "number" || !Number.isInteger(window) || window < 1 || window > Math.min(h, w)) {
    throw new RangeError(
      `${op}: window must be an integer in [1, min(h, w) = ${Math.min(h, w)}] for a ${h}×${w} map, got ${window}`,
    );
  }
  if (N * h * w >= U32_LIMIT || N * k * 2 >= U32_LIMIT) {
    throw new RangeError(`${op}: saliency ${fmtShape(saliency.shape)} with k = ${k} is too large`);
  }
  // One workgroup per sample: its threads scan the maps, then every window position per pick.
  const c = (n: number) => Math.ceil(n / ROI_WG), tree = 2 * Math.log2(ROI_WG);
  const positions = (h - window + 1) * (w - window + 1);
  checkLoopBudget(
    op,
    C * (2 * c(h * w) + tree + 1) + k * (c(positions) * (window * (window + 1) + 1) + c(window * window) + tree + 1),
    `a ${h}×${w} saliency map of ${C} classes with ${k} picks of ${window}×${window} windows`,
    "pool the saliency map to fewer cells first, or use fewer or smaller windows",
  );
  const out = empty([N, k, 2], "int32", op);
  if (N === 0) return out;
  const scratch = empty([N * h * w], "float32", `${op}.scratch`);
  const [gx, gy] = rowGrid(N);
  const meta = new Uint32Array(ROI_SELECT_META_WORDS);
  meta.set([N, C, h, w, k, window, gx, saliency.offset, ...saliency.strides]);
  dispatch({
    op,
    pipeline: pipeline(op, roiSelectSource()),
    bindings: [saliency.storage.buffer, scratch.storage.buffer, out.storage.buffer],
    uniforms: meta,
    workgroups: [gx, gy],
  });
  scratch.dispose();
  return out;
}

/** Options of {@linkcode cropPatches}. */
export interface CropPatchesOptions {
  /** Side of the square crops in image pixels (an integer ≥ 1). */
  cropSize: number;
  /** (h, w) of the saliency map the cells index (e.g. `saliency.shape.slice(2)`). */
  grid: [number, number];
  /** "all" channels (default) or "first" (channel 0 only, as the official DiffMIC-v2 code). */
  channels?: "all" | "first";
}

/**
 * Cuts DCG's region-of-interest patches out of full-resolution `images` (N, Ch, H, W) at the
 * `cells` (N, k, 2) picked by {@linkcode roiSelect} on an h×w map; one GPU dispatch.
 * Output (N·k, Ch', cropSize, cropSize), crop n·k + j from image n, Ch' = Ch for
 * `channels: "all"` (default) or 1 for `"first"` (channel 0 only, what DiffMIC-v2 does).
 *
 * Pick (row, col) maps to top = round(row·H / h), left = round(col·W / w) (NumPy rounding,
 * halves to even, exact integer arithmetic); cells outside the grid are clamped into
 * [0, h − 1] × [0, w − 1]. Source rows [top, min(top + cropSize, H)) and columns
 * [left, min(left + cropSize, W)) are copied to the BOTTOM-RIGHT of the crop (its origin is
 * cropSize − valid extent on each axis), as in the official `crop_pytorch`; the rest is filled
 * with the minimum of the source channel over the whole image — image n's channel 0 for
 * "first", and per channel (channel c of image n for output channel c) for "all". A channel
 * holding NaN pads with NaN (as torch.min).
 *
 * Gradient: flows to `images` at the copied pixels (summed over overlapping crops; computed
 * as a gather, one thread per image pixel, without atomics); the padding value is treated as
 * a constant, so the minimum pixel gets no gradient through it; channels other than 0 get
 * zero gradient with "first". `cells` gets no gradient.
 *
 * @example
 * ```ts
 * const crops = cropPatches(x, roiSelect(cam, 6), { cropSize: 64, grid: [cam.shape[2], cam.shape[3]], channels: "first" });
 * ```
 */
export function cropPatches(images: Tensor, cells: Tensor, opts: CropPatchesOptions): Tensor {
  const op = "cropPatches";
  live(images, op, "images");
  live(cells, op, "cells");
  if (images.dtype !== "float32" || images.ndim !== 4) {
    throw new TypeError(
      `${op}: images must be a float32 (N, Ch, H, W) tensor, got ${images.dtype} of shape ${fmtShape(images.shape)}`,
    );
  }
  const [N, Ch, H, W] = images.shape;
  if (Ch < 1 || H < 1 || W < 1) {
    throw new RangeError(`${op}: images need at least one channel and pixel, got shape ${fmtShape(images.shape)}`);
  }
  if (cells.dtype !== "int32" || cells.ndim !== 3 || cells.shape[0] !== N || cells.shape[2] !== 2) {
    throw new TypeError(
      `${op}: cells must be an int32 (${N}, k, 2) tensor (as roiSelect returns), got ${cells.dtype} of shape ${
        fmtShape(cells.shape)
      }`,
    );
  }
  if (typeof opts !== "object" || opts === null) {
    throw new TypeError(`${op}: opts must be an object { cropSize, grid, channels? }, got ${opts}`);
  }
  const S = opts.cropSize;
  if (typeof S !== "number" || !Number.isInteger(S) || S < 1) {
    throw new RangeError(`${op}: cropSize must be an integer ≥ 1, got ${S}`);
  }
  const grid = opts.grid;
  if (!Array.isArray(grid) || grid.length !== 2 || !grid.every((g) => Number.isInteger(g) && g >= 1)) {
    throw new RangeError(`${op}: grid must be [h, w], two integers ≥ 1, got ${JSON.stringify(grid)}`);
  }
  const [h, w] = grid;
  const channels = opts.channels ?? "all";
  if (channels !== "all" && channels !== "first") {
    throw new RangeError(`${op}: channels must be "all" or "first", got ${JSON.stringify(channels)}`);
  }
  const k = cells.shape[1];
  const cho = channels === "first" ? 1 : Ch;
  const outShape = [N * k, cho, S, S];
  if (h * H >= U32_LIMIT || w * W >= U32_LIMIT || numel(outShape) >= U32_LIMIT || images.size >= U32_LIMIT) {
    throw new RangeError(`${op}: images ${fmtShape(images.shape)} with grid ${h}×${w} and crops ${S} are too large`);
  }
  const first = channels === "first" ? 1 : 0;
  const out = empty(outShape, "float32", op);
  if (out.size > 0) {
    const pairs = N * k * cho;
    const [gx, gy] = rowGrid(pairs);
    const meta = new Uint32Array(CROP_META_WORDS);
    meta.set([pairs, k, cho, H, W, S, h, w, first, gx, images.offset, ...images.strides]);
    meta.set([cells.offset, ...cells.strides], 15);
    dispatch({
      op,
      pipeline: pipeline(op, cropPatchesSource()),
      bindings: [images.storage.buffer, cells.storage.buffer, out.storage.buffer],
      uniforms: meta,
      workgroups: [gx, gy],
    });
  }
  const inShape = images.shape;
  return record(op, out, [images], (g, [c]) => {
    const gxT = empty(inShape, "float32", `${op}.backward`);
    const total = gxT.size;
    if (total === 0) return [gxT];
    const meta = new Uint32Array(CROP_BACKWARD_META_WORDS);
    meta.set([total, k, Ch, H, W, S, h, w, first, g.offset, ...g.strides, c.offset, ...c.strides]);
    dispatch({
      op: `${op}.backward`,
      pipeline: pipeline(`${op}.backward`, cropPatchesBackwardSource()),
      bindings: [g.storage.buffer, c.storage.buffer, gxT.storage.buffer],
      uniforms: meta,
      workgroups: grid1d(Math.ceil(total / WG)),
    });
    return [gxT];
  }, [cells]);
}

/**
 * A float32 0/1 mask of `x`'s shape marking the `k` largest entries along `dim` (one GPU
 * dispatch for a contiguous input; a strided view is made dense first). Ties go to the smaller
 * index; NaN counts as larger than everything (as `torch.topk`), NaNs among themselves by
 * index; −0 and +0 are equal. 0 ≤ k ≤ x.shape[dim]. No gradient (the mask is a constant;
 * multiply or `where` with it to let gradients through the selected entries).
 *
 * @example
 * ```ts
 * const m = topKMask(scores, 3, 1); // 1 at the 3 largest scores of each row
 * ```
 */
export function topKMask(x: Tensor, k: number, dim = -1): Tensor {
  const op = "topKMask";
  live(x, op, "x");
  if (x.dtype !== "float32") throw new TypeError(`${op}: x must be float32, got ${x.dtype}`);
  const shape = x.ndim === 0 ? [1] : x.shape;
  const d = normDim(dim, shape.length, op);
  const n = shape[d];
  if (typeof k !== "number" || !Number.isInteger(k) || k < 0 || k > n) {
    throw new RangeError(`${op}: k must be an integer in [0, ${n}] (the size of dim ${d}), got ${k}`);
  }
  if (x.size >= U32_LIMIT) throw new RangeError(`${op}: x of shape ${fmtShape(x.shape)} is too large`);
  // A radix select over 32 key bits, each a pass over the row split among the workgroup's threads.
  const c = Math.ceil(n / ROI_WG), tree = 2 * Math.log2(ROI_WG);
  checkLoopBudget(op, 32 * (c + tree) + 4 * c + ROI_WG + tree, `a row of ${n} along dim ${d}`, "use shorter rows");
  const out = empty(x.shape, "float32", op);
  if (out.size === 0) return out;
  const dense = noGrad(() => x.contiguous());
  const inner = numel(shape.slice(d + 1));
  const rows = out.size / n;
  const [gx, gy] = rowGrid(rows);
  const meta = new Uint32Array(TOPK_META_WORDS);
  meta.set([rows, n, k, gx, dense.offset, inner]);
  dispatch({
    op,
    pipeline: pipeline(op, topKMaskSource()),
    bindings: [dense.storage.buffer, out.storage.buffer],
    uniforms: meta,
    workgroups: [gx, gy],
  });
  dense.dispose();
  return out;
}

/**
 * DCG's top-t% aggregation (y_global): for `x` (N, C, ...) the mean, per (n, c), of the
 * t = max(1, round(L·fraction)) largest of the L = product of the trailing dims (Python's
 * round, halves to even, as the official `int(round(H·W·percent_t))`). Built from
 * {@linkcode topKMask} and differentiable ops, so the gradient (1/t) reaches the selected
 * entries; fraction 1 (or t = L) is the plain mean, without a mask.
 *
 * @param x float32 (N, C, ...) maps, at least 2-D with L ≥ 1.
 * @param fraction in (0, 1].
 * @returns (N, C).
 *
 * @example
 * ```ts
 * const yGlobal = topFractionMean(saliency, 0.02); // (N, C)
 * ```
 */
export function topFractionMean(x: Tensor, fraction: number): Tensor {
  const op = "topFractionMean";
  live(x, op, "x");
  if (x.dtype !== "float32" || x.ndim < 2) {
    throw new TypeError(`${op}: x must be a float32 (N, C, ...) tensor, got ${x.dtype} of shape ${fmtShape(x.shape)}`);
  }
  if (typeof fraction !== "number" || !(fraction > 0 && fraction <= 1)) {
    throw new RangeError(`${op}: fraction must be in (0, 1], got ${fraction}`);
  }
  const [N, C] = x.shape;
  const L = numel(x.shape.slice(2));
  if (L === 0) throw new RangeError(`${op}: x of shape ${fmtShape(x.shape)} has no cells to average`);
  const t = Math.max(1, roundHalfEven(L * fraction));
  const flat = reshape(x, [N, C, L]);
  const temps: Tensor[] = [flat];
  try {
    if (t >= L) return mean(flat, 2);
    const mask = topKMask(flat, t, 2);
    temps.push(mask);
    const picked = where(mask, flat, 0);
    temps.push(picked);
    const s = sum(picked, 2);
    temps.push(s);
    return div(s, t);
  } finally {
    for (const tmp of temps) if (tmp !== x) tmp.dispose();
  }
}
