/**
 * 3D transforms on volumes: {@linkcode ArrayImage}s of shape `[C, D, H, W]` or `[D, H, W]`
 * (float32, row-major). Spatial axes are numbered 0 = D, 1 = H, 2 = W. Intensity transforms
 * work per channel (a `[D, H, W]` volume is one channel); spatial transforms move all channels
 * alike and keep the input's rank.
 *
 * - Intensity: {@linkcode intensityWindow} (a `{min, max}` or CT `{center, width}` window, or
 *   the volume's own range, mapped to [0, 1]), {@linkcode zScoreNormalize} (optionally over
 *   nonzero voxels only), {@linkcode percentileClip}.
 * - Spatial: {@linkcode resizeVolume} (trilinear or nearest, PyTorch `interpolate` with
 *   `align_corners=False`), {@linkcode cropOrPadVolume} (centred), {@linkcode randomCropVolume},
 *   {@linkcode randomFlipVolume}, {@linkcode randomRot90Volume}.
 * @module
 */
import type { Rng } from "../../util/rng.ts";
import type { ArrayImage, Sample, Transform } from "../types.ts";
import { centeredStart, checkProbability, isArrayImage } from "./_image.ts";

/** A spatial shape `[D, H, W]`. */
export type VolumeShape = readonly [number, number, number];

interface Vol {
  data: Float32Array;
  C: number;
  dims: [number, number, number];
  channelAxis: boolean;
}

function viewVolume(image: unknown, op: string): Vol {
  if (!isArrayImage(image)) {
    const what = image && typeof image === "object" && "width" in image ? "a 2D Raster" : typeof image;
    throw new TypeError(
      `${op}: expected sample.image to be a volume (an ArrayImage [C, D, H, W] or [D, H, W]), got ${what}`,
    );
  }
  const s = image.shape;
  if ((s.length !== 3 && s.length !== 4) || s.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`${op}: expected a volume of shape [C, D, H, W] or [D, H, W], got [${s.join(", ")}]`);
  }
  const [C, D, H, W] = s.length === 4 ? s : [1, ...s];
  if (image.data.length !== C * D * H * W) {
    throw new RangeError(
      `${op}: the volume's data has ${image.data.length} values, its shape [${s}] needs ${C * D * H * W}`,
    );
  }
  return { data: image.data, C, dims: [D, H, W], channelAxis: s.length === 4 };
}

function toArray(v: Vol): ArrayImage {
  return { data: v.data, shape: v.channelAxis ? [v.C, ...v.dims] : [...v.dims] };
}

function volumeTransform(op: string, fn: (v: Vol, rng: Rng) => Vol): Transform<Sample, Sample> {
  return (sample: Sample, rng: Rng): Sample => {
    if (typeof sample !== "object" || sample === null || !("image" in sample)) {
      throw new TypeError(`${op}: expected a Sample ({image, label, id, meta}), got ${sample}`);
    }
    return { ...sample, image: toArray(fn(viewVolume(sample.image, op), rng)) };
  };
}

function checkShape(shape: unknown, op: string): [number, number, number] {
  if (!Array.isArray(shape) || shape.length !== 3 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`${op}: shape must be [D, H, W] of positive integers, got ${JSON.stringify(shape)}`);
  }
  return [shape[0], shape[1], shape[2]];
}

/** Calls `fn(channel data)` for each channel's subarray. */
function perChannel(v: Vol, fn: (src: Float32Array, dst: Float32Array) => void): Vol {
  const n = v.dims[0] * v.dims[1] * v.dims[2];
  const out = new Float32Array(v.data.length);
  for (let c = 0; c < v.C; c++) fn(v.data.subarray(c * n, (c + 1) * n), out.subarray(c * n, (c + 1) * n));
  return { ...v, data: out };
}

// ---------------------------------------------------------------- intensity

/** An intensity window: explicit bounds, or a CT window by centre and width (e.g. HU 40/400). */
export type IntensityWindow = { min: number; max: number } | { center: number; width: number };

/** Options of {@linkcode intensityWindow}. */
export interface IntensityWindowOptions {
  /** Clip values outside the window to 0 and 1 (default true). */
  clip?: boolean;
}

/**
 * Maps the window `[lo, hi]` linearly to [0, 1]: `(x − lo) / (hi − lo)`, clipped unless
 * `clip: false`. `{center, width}` means `lo = center − width/2`, `hi = center + width/2`
 * (a CT window, e.g. `{center: 40, width: 400}` for soft tissue in HU). Without a window each
 * channel's own minimum and maximum are used; a constant channel becomes 0.
 */
export function intensityWindow(
  window?: IntensityWindow,
  options: IntensityWindowOptions = {},
): Transform<Sample, Sample> {
  let fixed: [number, number] | null = null;
  if (window !== undefined) {
    if (typeof window !== "object" || window === null) {
      throw new TypeError(`intensityWindow: window must be {min, max} or {center, width}, got ${window}`);
    }
    if ("center" in window) {
      if (!Number.isFinite(window.center) || !(window.width > 0) || !Number.isFinite(window.width)) {
        throw new RangeError(
          `intensityWindow: need a finite center and a positive width, got ${JSON.stringify(window)}`,
        );
      }
      fixed = [window.center - window.width / 2, window.center + window.width / 2];
    } else {
      if (!Number.isFinite(window.min) || !Number.isFinite(window.max) || !(window.min < window.max)) {
        throw new RangeError(`intensityWindow: need finite min < max, got ${JSON.stringify(window)}`);
      }
      fixed = [window.min, window.max];
    }
  }
  const clip = options.clip ?? true;
  return volumeTransform("intensityWindow", (v) =>
    perChannel(v, (src, dst) => {
      let [lo, hi] = fixed ?? [Infinity, -Infinity];
      if (!fixed) {
        for (let i = 0; i < src.length; i++) {
          if (src[i] < lo) lo = src[i];
          if (src[i] > hi) hi = src[i];
        }
        if (!(hi > lo)) return; // constant: stays 0
      }
      const scale = 1 / (hi - lo);
      for (let i = 0; i < src.length; i++) {
        const y = (src[i] - lo) * scale;
        dst[i] = clip ? (y < 0 ? 0 : y > 1 ? 1 : y) : y;
      }
    }));
}

/** Options of {@linkcode zScoreNormalize}. */
export interface ZScoreOptions {
  /** Use only nonzero voxels for the statistics and leave zero voxels at 0 (default false). */
  nonzero?: boolean;
}

/**
 * `(x − mean) / std` per channel, with the population standard deviation (÷N). With
 * `nonzero`, statistics come from nonzero voxels and zeros stay 0 (background of a
 * skull-stripped MRI). A channel with std 0 is only centred.
 */
export function zScoreNormalize(options: ZScoreOptions = {}): Transform<Sample, Sample> {
  const nonzero = options.nonzero ?? false;
  return volumeTransform("zScoreNormalize", (v) =>
    perChannel(v, (src, dst) => {
      let n = 0, sum = 0;
      for (let i = 0; i < src.length; i++) {
        if (!nonzero || src[i] !== 0) {
          n++;
          sum += src[i];
        }
      }
      if (n === 0) return; // all zero under `nonzero`: stays 0
      const mean = sum / n;
      let ss = 0;
      for (let i = 0; i < src.length; i++) if (!nonzero || src[i] !== 0) ss += (src[i] - mean) ** 2;
      const std = Math.sqrt(ss / n);
      const inv = std > 0 ? 1 / std : 1;
      for (let i = 0; i < src.length; i++) dst[i] = nonzero && src[i] === 0 ? 0 : (src[i] - mean) * inv;
    }));
}

/** The `p`-th percentile (0–100) of sorted values, interpolating linearly (NumPy's default). */
function percentileSorted(sorted: Float32Array, p: number): number {
  const pos = (p / 100) * (sorted.length - 1);
  const i = Math.floor(pos), f = pos - i;
  return i + 1 < sorted.length ? sorted[i] + (sorted[i + 1] - sorted[i]) * f : sorted[i];
}

/** Options of {@linkcode percentileClip}. */
export interface PercentileClipOptions {
  /** Lower percentile, 0–100 (default 0.5). */
  lower?: number;
  /** Upper percentile, 0–100 (default 99.5). */
  upper?: number;
  /** Then map [low, high] to [0, 1] (default false). */
  rescale?: boolean;
  /** Take the percentiles over nonzero voxels only (default false); zeros are still clipped. */
  nonzero?: boolean;
}

/**
 * Clips each channel to its `[lower, upper]` percentiles (linear interpolation between ranks,
 * as `numpy.percentile`), and with `rescale` maps that range to [0, 1].
 */
export function percentileClip(options: PercentileClipOptions = {}): Transform<Sample, Sample> {
  const lower = options.lower ?? 0.5, upper = options.upper ?? 99.5;
  if (!(lower >= 0 && lower <= upper && upper <= 100)) {
    throw new RangeError(`percentileClip: need 0 ≤ lower ≤ upper ≤ 100, got lower ${lower}, upper ${upper}`);
  }
  return volumeTransform("percentileClip", (v) =>
    perChannel(v, (src, dst) => {
      const values = options.nonzero ? src.filter((x) => x !== 0) : src.slice();
      if (values.length === 0) {
        dst.set(src);
        return;
      }
      values.sort();
      const lo = percentileSorted(values, lower), hi = percentileSorted(values, upper);
      const scale = options.rescale ? (hi > lo ? 1 / (hi - lo) : 0) : 1;
      for (let i = 0; i < src.length; i++) {
        const x = src[i] < lo ? lo : src[i] > hi ? hi : src[i];
        dst[i] = options.rescale ? (x - lo) * scale : x;
      }
    }));
}

// ---------------------------------------------------------------- resampling

/** Interpolation of {@linkcode resizeVolume}. */
export type VolumeInterpolation = "trilinear" | "nearest";

/** Resamples one axis (1 = D, 2 = H, 3 = W of [C, D, H, W]) to `out` samples. */
function resampleAxis(data: Float32Array, shape: number[], axis: number, out: number, mode: VolumeInterpolation) {
  const n = shape[axis];
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const res = new Float32Array(outer * out * inner);
  const scale = n / out;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < out; i++) {
      const dst = (o * out + i) * inner;
      if (mode === "nearest") {
        const s = (o * n + Math.min(Math.floor(i * scale), n - 1)) * inner;
        res.set(data.subarray(s, s + inner), dst);
        continue;
      }
      const real = Math.max((i + 0.5) * scale - 0.5, 0);
      const i0 = Math.min(Math.floor(real), n - 1), i1 = Math.min(i0 + 1, n - 1), l = real - i0;
      const a = (o * n + i0) * inner, b = (o * n + i1) * inner;
      for (let k = 0; k < inner; k++) res[dst + k] = data[a + k] * (1 - l) + data[b + k] * l;
    }
  }
  shape[axis] = out;
  return res;
}

/**
 * Resizes the spatial dimensions to `shape` ([D, H, W]) with PyTorch's `interpolate`
 * semantics (`align_corners=False`, no antialiasing): `"trilinear"` (default) samples at
 * `(i + 0.5)·in/out − 0.5` (clamped at 0); `"nearest"` takes `floor(i·in/out)`.
 */
export function resizeVolume(
  shape: VolumeShape,
  options: { mode?: VolumeInterpolation } = {},
): Transform<Sample, Sample> {
  const target = checkShape(shape, "resizeVolume");
  const mode = options.mode ?? "trilinear";
  if (mode !== "trilinear" && mode !== "nearest") {
    throw new RangeError(`resizeVolume: mode must be "trilinear" or "nearest", got ${mode}`);
  }
  return volumeTransform("resizeVolume", (v) => {
    const s = [v.C, ...v.dims];
    let data = v.data;
    for (const axis of [3, 2, 1]) {
      if (s[axis] !== target[axis - 1]) data = resampleAxis(data, s, axis, target[axis - 1], mode);
    }
    return { ...v, data: data === v.data ? data.slice() : data, dims: [...target] };
  });
}

/** Copies a window starting at `start` (per spatial axis, may be negative) of size `size`, padding with `value`. */
function window(v: Vol, start: number[], size: [number, number, number], value: number): Vol {
  const [D, H, W] = v.dims, [d, h, w] = size;
  const out = new Float32Array(v.C * d * h * w);
  for (let c = 0; c < v.C; c++) {
    for (let z = 0; z < d; z++) {
      const zz = z + start[0];
      for (let y = 0; y < h; y++) {
        const yy = y + start[1];
        const o = ((c * d + z) * h + y) * w;
        if (zz < 0 || zz >= D || yy < 0 || yy >= H) {
          out.fill(value, o, o + w);
          continue;
        }
        const base = ((c * D + zz) * H + yy) * W;
        for (let x = 0; x < w; x++) {
          const xx = x + start[2];
          out[o + x] = xx < 0 || xx >= W ? value : v.data[base + xx];
        }
      }
    }
  }
  return { ...v, data: out, dims: [d, h, w] };
}

/**
 * Crops or pads every spatial axis to `shape`, centred: a crop starts at `⌊(in − out)/2⌋`, a
 * pad puts `⌊(out − in)/2⌋` voxels of `padValue` (default 0) before and the rest after.
 */
export function cropOrPadVolume(shape: VolumeShape, options: { padValue?: number } = {}): Transform<Sample, Sample> {
  const target = checkShape(shape, "cropOrPadVolume");
  const pad = options.padValue ?? 0;
  if (!Number.isFinite(pad)) throw new RangeError(`cropOrPadVolume: padValue must be finite, got ${pad}`);
  return volumeTransform(
    "cropOrPadVolume",
    (v) => window(v, v.dims.map((n, i) => centeredStart(n, target[i])), target, pad),
  );
}

/** Crops a random window of `shape`, drawing the start on axes D, H, W in that order; the volume must be at least that big. */
export function randomCropVolume(shape: VolumeShape): Transform<Sample, Sample> {
  const target = checkShape(shape, "randomCropVolume");
  return volumeTransform("randomCropVolume", (v, rng) => {
    if (v.dims.some((n, i) => n < target[i])) {
      throw new RangeError(
        `randomCropVolume: the volume [${v.dims}] (D, H, W) is smaller than the crop [${target}]; pad it first with cropOrPadVolume`,
      );
    }
    const start = v.dims.map((n, i) => rng.int(n - target[i] + 1));
    return window(v, start, target, 0);
  });
}

/** Copies `v` with output spatial axis k taken from input axis `perm[k]`, reversed where `rev[k]`. */
function permuteFlip(v: Vol, perm: number[], rev: boolean[]): Vol {
  const [D, H, W] = v.dims;
  const inStride = [H * W, W, 1];
  const od = perm.map((p) => v.dims[p]);
  const stride = perm.map((p) => inStride[p]);
  const start = od.map((n, k) => (rev[k] ? (n - 1) * stride[k] : 0));
  const step = stride.map((s, k) => (rev[k] ? -s : s));
  const out = new Float32Array(v.data.length);
  const n = D * H * W;
  let o = 0;
  for (let c = 0; c < v.C; c++) {
    for (let a = 0; a < od[0]; a++) {
      const pa = c * n + start[0] + a * step[0];
      for (let b = 0; b < od[1]; b++) {
        const pb = pa + start[1] + b * step[1];
        for (let x = 0; x < od[2]; x++) out[o++] = v.data[pb + start[2] + x * step[2]];
      }
    }
  }
  return { ...v, data: out, dims: [od[0], od[1], od[2]] };
}

function checkAxes(axes: unknown, op: string): number[] {
  if (!Array.isArray(axes) || axes.some((a) => a !== 0 && a !== 1 && a !== 2) || new Set(axes).size !== axes.length) {
    throw new RangeError(
      `${op}: axes must be distinct spatial axes among 0 (D), 1 (H), 2 (W), got ${JSON.stringify(axes)}`,
    );
  }
  return axes;
}

/** Options of {@linkcode randomFlipVolume}. */
export interface RandomFlipVolumeOptions {
  /** Spatial axes that may flip: 0 = D, 1 = H, 2 = W (default all three). */
  axes?: readonly number[];
  /** Probability of flipping each axis (default 0.5). */
  p?: number;
}

/** Flips each of `axes` independently with probability `p`: one uniform draw per axis, in the order given. */
export function randomFlipVolume(options: RandomFlipVolumeOptions = {}): Transform<Sample, Sample> {
  const axes = checkAxes([...(options.axes ?? [0, 1, 2])], "randomFlipVolume");
  const p = checkProbability(options.p ?? 0.5, "randomFlipVolume: p");
  return volumeTransform("randomFlipVolume", (v, rng) => {
    const rev = [false, false, false];
    for (const a of axes) rev[a] = rng.random() < p;
    return rev.some((r) => r) ? permuteFlip(v, [0, 1, 2], rev) : v;
  });
}

/** Rotates by `k` quarter turns in the plane of spatial axes `[a, b]`, as `numpy.rot90(x, k, axes=(a, b))`. */
function rot90(v: Vol, k: number, a: number, b: number): Vol {
  const perm = [0, 1, 2], rev = [false, false, false];
  if (k === 1) {
    [perm[a], perm[b]] = [b, a];
    rev[a] = true;
  } else if (k === 2) {
    rev[a] = rev[b] = true;
  } else if (k === 3) {
    [perm[a], perm[b]] = [b, a];
    rev[b] = true;
  } else return v;
  return permuteFlip(v, perm, rev);
}

/** Options of {@linkcode randomRot90Volume}. */
export interface RandomRot90Options {
  /** The two spatial axes spanning the plane (default [1, 2], the H–W plane). */
  plane?: readonly [number, number];
  /** Probability of rotating at all (default 1). */
  p?: number;
}

/**
 * Rotates by k quarter turns in `plane`, from its first axis towards its second (`numpy.rot90`):
 * draws `rng.random() < p` (only when `p < 1`), then k uniform in {0, 1, 2, 3}. Odd k swaps the
 * two axes' sizes.
 */
export function randomRot90Volume(options: RandomRot90Options = {}): Transform<Sample, Sample> {
  const plane = checkAxes([...(options.plane ?? [1, 2])], "randomRot90Volume: plane");
  if (plane.length !== 2) throw new RangeError(`randomRot90Volume: plane must name two axes, got [${plane}]`);
  const p = checkProbability(options.p ?? 1, "randomRot90Volume: p");
  return volumeTransform("randomRot90Volume", (v, rng) => {
    if (p < 1 && !(rng.random() < p)) return v;
    return rot90(v, rng.int(4), plane[0], plane[1]);
  });
}
