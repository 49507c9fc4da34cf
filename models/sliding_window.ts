/**
 * Sliding-window (tiled) application of a network to volumes too large to pass at once, as
 * MONAI's `sliding_window_inference`: overlapping tiles of `roi` voxels, each passed through `fn`,
 * blended where they overlap with a Gaussian (σ = 1/8 of the tile per axis, MONAI's default) or
 * constant weight, and normalised by the summed weights. `scale` is the output's size per input
 * voxel (1/4 for a VAE encoder with 4× compression, 4 for its decoder), so tiles start on
 * multiples of 1/scale and the output tile lands where its input tile was. The result is stitched
 * on the CPU (the point of tiling is that the whole does not fit on the GPU) and returned as one
 * tensor.
 *
 * A tile that covers the whole volume gives exactly `fn(x)`; position-wise networks give the
 * untiled result whatever the tiles. Networks with global statistics inside (GroupNorm, as the
 * MAISI VAE) see each tile's own statistics, so their tiled result is close to, not equal to,
 * the untiled one — MAISI's own sliding-window decoding has the same property.
 * @module
 */
import { tensor } from "../core/ops/creation.ts";
import { narrow } from "../core/ops/view.ts";
import { scope } from "../core/scope.ts";
import type { Tensor } from "../core/tensor.ts";

/** Options of {@linkcode slidingWindow}. */
export interface SlidingWindowOptions {
  /** Tile size per spatial axis (clamped to the volume). */
  roi: number | readonly number[];
  /** Fraction of a tile shared with its neighbour, in [0, 1) (default 0.25, MONAI's). */
  overlap?: number;
  /** Blending weight of a tile: "gaussian" (default) or "constant". */
  mode?: "gaussian" | "constant";
  /** Output voxels per input voxel, per axis (default 1). */
  scale?: number;
}

/** Tile starts along one axis: every `stride`, the last one flush with the end. */
function starts(size: number, tile: number, stride: number): number[] {
  const out: number[] = [];
  for (let s = 0; s + tile < size; s += stride) out.push(s);
  out.push(size - tile);
  return [...new Set(out)];
}

/** The blending weight along one axis of an output tile of `n` voxels. */
function axisWeight(n: number, mode: "gaussian" | "constant"): Float64Array {
  if (mode === "constant") return new Float64Array(n).fill(1);
  const sigma = 0.125 * n, centre = (n - 1) / 2;
  // MONAI clamps the Gaussian away from zero so border voxels keep a (small) say.
  return Float64Array.from(
    { length: n },
    (_, i) => Math.max(Math.exp(-((i - centre) ** 2) / (2 * sigma * sigma)), 1e-3),
  );
}

/**
 * `fn` over overlapping tiles of x (B, C, …spatial), blended into one (B, C', …spatial·scale)
 * tensor. `fn` maps a tile (B, C, …roi) to (B, C', …roi·scale).
 */
export async function slidingWindow(
  x: Tensor,
  fn: (tile: Tensor) => Tensor,
  opts: SlidingWindowOptions,
): Promise<Tensor> {
  const op = "slidingWindow";
  const spatial = x.shape.slice(2), n = spatial.length;
  if (n < 1) throw new RangeError(`${op}: expected (B, C, …spatial), got [${x.shape}]`);
  const scale = opts.scale ?? 1, overlap = opts.overlap ?? 0.25, mode = opts.mode ?? "gaussian";
  if (!(scale > 0)) throw new RangeError(`${op}: scale must be > 0, got ${scale}`);
  if (!(overlap >= 0 && overlap < 1)) throw new RangeError(`${op}: overlap must be in [0, 1), got ${overlap}`);
  // Input voxels per output voxel (≥ 1): tile sizes and starts must be multiples of it.
  const step = scale < 1 ? Math.round(1 / scale) : 1;
  if (scale < 1 && Math.abs(step * scale - 1) > 1e-9) {
    throw new RangeError(`${op}: scale below 1 must be 1/k, got ${scale}`);
  }
  const roiIn = typeof opts.roi === "number" ? spatial.map(() => opts.roi as number) : [...opts.roi];
  if (roiIn.length !== n || roiIn.some((r) => !Number.isInteger(r) || r < 1)) {
    throw new RangeError(`${op}: roi must be a positive integer or ${n} of them, got ${JSON.stringify(opts.roi)}`);
  }
  const roi = roiIn.map((r, i) => Math.min(r, spatial[i]));
  spatial.forEach((s, i) => {
    if (s % step !== 0 || roi[i] % step !== 0) {
      throw new RangeError(
        `${op}: sizes and roi must be multiples of ${step} (scale ${scale}); axis ${i}: ${s}, ${roi[i]}`,
      );
    }
  });
  const strides = roi.map((r) => Math.max(step, Math.floor((r * (1 - overlap)) / step) * step));
  const axisStarts = spatial.map((s, i) => starts(s, roi[i], strides[i]));
  const outSpatial = spatial.map((s) => Math.round(s * scale)), outRoi = roi.map((r) => Math.round(r * scale));
  const weights = outRoi.map((r) => axisWeight(r, mode));

  let out: Float64Array | null = null, norm: Float64Array | null = null, outC = 0;
  const B = x.shape[0];
  const outStrides = outSpatial.map((_, i) => outSpatial.slice(i + 1).reduce((a, b) => a * b, 1));
  const volume = outSpatial.reduce((a, b) => a * b, 1), tileVolume = outRoi.reduce((a, b) => a * b, 1);
  // Every combination of per-axis starts.
  const combos: number[][] = axisStarts.reduce<number[][]>(
    (acc, list) => acc.flatMap((c) => list.map((s) => [...c, s])),
    [[]],
  );
  for (const at of combos) {
    const y = scope(() => {
      let t = x;
      at.forEach((s, i) => t = narrow(t, 2 + i, s, roi[i]));
      return fn(t);
    });
    const expect = [B, y.shape[1], ...outRoi];
    if (y.shape.length !== expect.length || y.shape.some((d, i) => i !== 1 && d !== expect[i])) {
      y.dispose();
      throw new RangeError(`${op}: fn gave [${y.shape}] for a tile; expected [B, C', ${outRoi}] (scale ${scale})`);
    }
    const data = await y.data() as Float32Array;
    y.dispose();
    if (!out) {
      outC = expect[1];
      out = new Float64Array(B * outC * volume);
      norm = new Float64Array(volume);
    }
    const origin = at.map((s) => Math.round(s * scale));
    // Walk the tile's voxels in row-major order.
    const idx = new Array<number>(n).fill(0);
    for (let v = 0; v < tileVolume; v++) {
      let w = 1, o = 0;
      for (let i = 0; i < n; i++) {
        w *= weights[i][idx[i]];
        o += (origin[i] + idx[i]) * outStrides[i];
      }
      norm![o] += w;
      for (let bc = 0; bc < B * outC; bc++) out[bc * volume + o] += w * data[bc * tileVolume + v];
      for (let i = n - 1; i >= 0; i--) {
        if (++idx[i] < outRoi[i]) break;
        idx[i] = 0;
      }
    }
  }
  const result = new Float32Array(out!.length);
  for (let bc = 0; bc < B * outC; bc++) {
    for (let o = 0; o < volume; o++) result[bc * volume + o] = out![bc * volume + o] / norm![o];
  }
  return tensor(result, [B, outC, ...outSpatial]);
}
