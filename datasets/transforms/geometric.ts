/**
 * Geometric transforms in plain TypeScript, with torchvision's semantics where it has them:
 * resize, crops, rotation, flips. They work on uint8 or float32 HWC {@linkcode Raster}s and on
 * CHW / HW {@linkcode ArrayImage}s, and return the kind they were given (uint8 results are
 * rounded and clamped to [0, 255]; float results are not clamped).
 *
 * Conventions:
 * - Resampling follows PIL (torchvision's image backend): pixel centres at `i + 0.5`, and when
 *   shrinking with `antialias` (the default) the filter is widened by the scale factor
 *   (triangle for bilinear, Keys a = −0.5 for bicubic), so every input pixel contributes.
 *   Values are accumulated in float32 without PIL's intermediate uint8 rounding between the
 *   horizontal and vertical passes (a difference of at most one level). `"nearest"` takes
 *   input pixel `floor((i + 0.5)·in/out)`.
 * - Rotation turns counter-clockwise for positive angles about the image centre
 *   `((W−1)/2, (H−1)/2)`, keeps the size, and fills uncovered pixels with `fill`.
 * - Random draws, in order: crops draw the top offset then the left offset; flips draw one
 *   uniform number each (`< p` flips); rotation draws the angle.
 * @module
 */
import type { Rng } from "../../util/rng.ts";
import type { ArrayImage, Raster, Sample, Transform } from "../types.ts";
import {
  allocLike,
  centeredStart,
  checkPositiveInt,
  checkProbability,
  fillOf,
  imageTransform,
  type Img,
  sizeOf,
  storeFn,
  toImage,
  viewImage,
  writePlane,
} from "./_image.ts";

/** Resampling filter: nearest neighbour, bilinear (triangle) or bicubic (Keys, a = −0.5). */
export type Interpolation = "nearest" | "bilinear" | "bicubic";

/** Target size of {@linkcode resize}: a square side, the shorter side (aspect kept), or both sides. */
export type ResizeTarget =
  | { size: number }
  | { shortSide: number; maxLongSide?: number }
  | { width: number; height: number };

/** Options of {@linkcode resize} and {@linkcode resizeImage}. */
export interface ResizeOptions {
  /** Filter (default `"bilinear"`). */
  interpolation?: Interpolation;
  /** Widen the filter when shrinking so that it averages (default `true`, like PIL). */
  antialias?: boolean;
}

interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float32Array;
  max: number;
}

const FILTERS: Record<Exclude<Interpolation, "nearest">, { support: number; f: (x: number) => number }> = {
  bilinear: {
    support: 1,
    f: (x) => {
      x = Math.abs(x);
      return x < 1 ? 1 - x : 0;
    },
  },
  bicubic: {
    support: 2,
    f: (x) => {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
};

function computeTaps(inSize: number, outSize: number, interp: Exclude<Interpolation, "nearest">, aa: boolean): Taps {
  const filter = FILTERS[interp];
  const scale = inSize / outSize;
  const filterScale = aa ? Math.max(scale, 1) : 1;
  const support = filter.support * filterScale;
  const max = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize), count = new Int32Array(outSize), weights = new Float32Array(outSize * max);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    let total = 0;
    const k = Math.min(hi - lo, max);
    for (let j = 0; j < k; j++) {
      const w = filter.f((j + lo - center + 0.5) / filterScale);
      weights[i * max + j] = w;
      total += w;
    }
    if (total !== 0) { for (let j = 0; j < k; j++) weights[i * max + j] /= total; }
    start[i] = lo;
    count[i] = k;
  }
  return { start, count, weights, max };
}

function resampleImg(img: Img, outW: number, outH: number, interp: Interpolation, aa: boolean): Img {
  const out = allocLike(img, outW, outH);
  const { data, width: W, height: H, channels: C, cs, ys, xs } = img;
  if (interp === "nearest") {
    const sx = new Int32Array(outW), sy = new Int32Array(outH);
    for (let x = 0; x < outW; x++) sx[x] = Math.min(Math.floor((x + 0.5) * W / outW), W - 1);
    for (let y = 0; y < outH; y++) sy[y] = Math.min(Math.floor((y + 0.5) * H / outH), H - 1);
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < outH; y++) {
        const src = c * cs + sy[y] * ys, dst = c * out.cs + y * out.ys;
        for (let x = 0; x < outW; x++) out.data[dst + x * out.xs] = data[src + sx[x] * xs];
      }
    }
    return out;
  }
  const tx = outW === W ? null : computeTaps(W, outW, interp, aa);
  const ty = outH === H ? null : computeTaps(H, outH, interp, aa);
  const tmp = new Float32Array(H * outW);
  const plane = new Float32Array(outH * outW);
  for (let c = 0; c < C; c++) {
    // Horizontal pass into tmp (H × outW, planar).
    for (let y = 0; y < H; y++) {
      const row = c * cs + y * ys, t = y * outW;
      if (!tx) {
        for (let x = 0; x < W; x++) tmp[t + x] = data[row + x * xs];
        continue;
      }
      const { start, count, weights, max } = tx;
      for (let x = 0; x < outW; x++) {
        const p = row + start[x] * xs, n = count[x], k = x * max;
        let s = 0;
        for (let j = 0; j < n; j++) s += weights[k + j] * data[p + j * xs];
        tmp[t + x] = s;
      }
    }
    // Vertical pass into the output plane.
    if (!ty) plane.set(tmp);
    else {
      const { start, count, weights, max } = ty;
      for (let y = 0; y < outH; y++) {
        const o = y * outW, st = start[y], n = count[y], k = y * max;
        const w0 = weights[k], r0 = st * outW;
        for (let x = 0; x < outW; x++) plane[o + x] = w0 * tmp[r0 + x];
        for (let j = 1; j < n; j++) {
          const w = weights[k + j], r = (st + j) * outW;
          for (let x = 0; x < outW; x++) plane[o + x] += w * tmp[r + x];
        }
      }
    }
    writePlane(out, c, plane);
  }
  return out;
}

function checkInterpolation(interp: unknown, op: string): Interpolation {
  if (interp !== "nearest" && interp !== "bilinear" && interp !== "bicubic") {
    throw new RangeError(`${op}: interpolation must be "nearest", "bilinear" or "bicubic", got ${interp}`);
  }
  return interp;
}

/** Resizes an image to `width`×`height` (see the module notes for the filter semantics). */
export function resizeImage<I extends Raster | ArrayImage>(
  image: I,
  width: number,
  height: number,
  options: ResizeOptions = {},
): I {
  checkPositiveInt(width, "resizeImage: width");
  checkPositiveInt(height, "resizeImage: height");
  const interp = checkInterpolation(options.interpolation ?? "bilinear", "resizeImage");
  const img = viewImage(image, "resizeImage");
  return toImage(resampleImg(img, width, height, interp, options.antialias ?? true)) as I;
}

function targetSize(target: ResizeTarget, w: number, h: number): [number, number] {
  if ("size" in target) return [target.size, target.size];
  if ("shortSide" in target) {
    const s = target.shortSide;
    let [nw, nh] = w <= h ? [s, Math.trunc(s * h / w)] : [Math.trunc(s * w / h), s];
    const cap = target.maxLongSide;
    if (cap !== undefined && Math.max(nw, nh) > cap) {
      [nw, nh] = w <= h ? [Math.trunc(cap * w / h), cap] : [cap, Math.trunc(cap * h / w)];
    }
    return [Math.max(nw, 1), Math.max(nh, 1)];
  }
  return [target.width, target.height];
}

function checkTarget(target: ResizeTarget): void {
  if (typeof target !== "object" || target === null) {
    throw new TypeError(`resize: target must be {size}, {shortSide, maxLongSide?} or {width, height}, got ${target}`);
  }
  if ("size" in target) checkPositiveInt(target.size, "resize: size");
  else if ("shortSide" in target) {
    checkPositiveInt(target.shortSide, "resize: shortSide");
    if (target.maxLongSide !== undefined) {
      checkPositiveInt(target.maxLongSide, "resize: maxLongSide");
      if (target.maxLongSide < target.shortSide) {
        throw new RangeError(`resize: maxLongSide (${target.maxLongSide}) must be ≥ shortSide (${target.shortSide})`);
      }
    }
  } else if ("width" in target && "height" in target) {
    checkPositiveInt(target.width, "resize: width");
    checkPositiveInt(target.height, "resize: height");
  } else {
    throw new TypeError(
      `resize: target must be {size}, {shortSide, maxLongSide?} or {width, height}, got keys {${Object.keys(target)}}`,
    );
  }
}

/**
 * Resizes to a square `{size}` (size×size), to `{shortSide}` (the shorter side becomes
 * `shortSide`, the other `trunc(shortSide·long/short)` as torchvision computes it, capped by
 * `maxLongSide`), or to `{width, height}`.
 */
export function resize(target: ResizeTarget, options: ResizeOptions = {}): Transform<Sample, Sample> {
  checkTarget(target);
  const interp = checkInterpolation(options.interpolation ?? "bilinear", "resize");
  const aa = options.antialias ?? true;
  return imageTransform("resize", (img) => {
    const [w, h] = targetSize(target, img.width, img.height);
    return w === img.width && h === img.height ? img : resampleImg(img, w, h, interp, aa);
  });
}

/** How pixels outside the image are made up: a constant, the edge pixel, a mirror without / with the edge. */
export type PaddingMode = "constant" | "edge" | "reflect" | "symmetric";

function mapIndex(i: number, n: number, mode: PaddingMode): number {
  if (i >= 0 && i < n) return i;
  if (mode === "constant") return -1;
  if (mode === "edge") return i < 0 ? 0 : n - 1;
  if (n === 1) return 0;
  if (mode === "reflect") {
    const period = 2 * (n - 1);
    let m = i % period;
    if (m < 0) m += period;
    return m < n ? m : period - m;
  }
  const period = 2 * n;
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

/** Copies the window (top, left, height, width) of `img`, making up outside pixels by `mode`. */
function cropImg(img: Img, top: number, left: number, h: number, w: number, mode: PaddingMode, fill: number[]): Img {
  const out = allocLike(img, w, h);
  const { data, width: W, height: H, channels: C, cs, ys, xs } = img;
  const store = storeFn(out.data);
  const sx = new Int32Array(w);
  for (let x = 0; x < w; x++) sx[x] = mapIndex(left + x, W, mode);
  for (let y = 0; y < h; y++) {
    const yy = mapIndex(top + y, H, mode);
    for (let c = 0; c < C; c++) {
      const dst = c * out.cs + y * out.ys;
      if (yy < 0) {
        for (let x = 0; x < w; x++) store(dst + x * out.xs, fill[c]);
        continue;
      }
      const src = c * cs + yy * ys;
      for (let x = 0; x < w; x++) {
        const xx = sx[x];
        if (xx < 0) store(dst + x * out.xs, fill[c]);
        else out.data[dst + x * out.xs] = data[src + xx * xs];
      }
    }
  }
  return out;
}

/** A window of an image, as {@linkcode cropImage} takes it (may reach outside the image). */
export interface CropBox {
  /** First row (may be negative). */
  top: number;
  /** First column (may be negative). */
  left: number;
  /** Rows. */
  height: number;
  /** Columns. */
  width: number;
}

/** Options of {@linkcode cropImage}. */
export interface CropOptions {
  /** Value (or one per channel) for pixels outside the image under `"constant"` (default 0). */
  fill?: number | readonly number[];
  /** How pixels outside the image are made up (default `"constant"`). */
  paddingMode?: PaddingMode;
}

function checkMode(mode: unknown, op: string): PaddingMode {
  if (mode !== "constant" && mode !== "edge" && mode !== "reflect" && mode !== "symmetric") {
    throw new RangeError(`${op}: paddingMode must be "constant", "edge", "reflect" or "symmetric", got ${mode}`);
  }
  return mode;
}

/** Crops `box` out of an image; parts of the box outside the image are padded by `paddingMode`. */
export function cropImage<I extends Raster | ArrayImage>(image: I, box: CropBox, options: CropOptions = {}): I {
  const img = viewImage(image, "cropImage");
  for (const k of ["top", "left"] as const) {
    if (!Number.isInteger(box[k])) throw new RangeError(`cropImage: box.${k} must be an integer, got ${box[k]}`);
  }
  checkPositiveInt(box.width, "cropImage: box.width");
  checkPositiveInt(box.height, "cropImage: box.height");
  const mode = checkMode(options.paddingMode ?? "constant", "cropImage");
  const fill = fillOf(options.fill ?? 0, img.channels, "cropImage: fill");
  return toImage(cropImg(img, box.top, box.left, box.height, box.width, mode, fill)) as I;
}

/**
 * Crops the centre `size` (a side, or {width, height}); the window starts at
 * `⌊(in − out)/2⌋` (torchvision rounds half to even, which differs by one pixel when the
 * difference is odd). An image smaller than `size` is padded with `fill` (default 0),
 * `⌊(out − in)/2⌋` pixels before and the rest after, as torchvision pads.
 */
export function centerCrop(
  size: number | { width: number; height: number },
  options: { fill?: number | readonly number[] } = {},
): Transform<Sample, Sample> {
  const [w, h] = sizeOf(size, "centerCrop: size");
  return imageTransform("centerCrop", (img) => {
    if (img.width === w && img.height === h) return img;
    const fill = fillOf(options.fill ?? 0, img.channels, "centerCrop: fill");
    return cropImg(img, centeredStart(img.height, h), centeredStart(img.width, w), h, w, "constant", fill);
  });
}

/** Options of {@linkcode randomCrop}. */
export interface RandomCropOptions {
  /** Pixels added on every side (a number) or `[left/right, top/bottom]` or `[left, top, right, bottom]`. */
  padding?: number | readonly number[];
  /** Pad an image smaller than `size` (by the shortfall on both sides, as torchvision does); default false. */
  padIfNeeded?: boolean;
  /** Value (or one per channel) for `"constant"` padding (default 0). */
  fill?: number | readonly number[];
  /** How padded pixels are made up (default `"constant"`). */
  paddingMode?: PaddingMode;
}

function paddingOf(padding: number | readonly number[] | undefined): [number, number, number, number] {
  const p = padding === undefined ? [0] : typeof padding === "number" ? [padding] : [...padding];
  if (![1, 2, 4].includes(p.length) || p.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new RangeError(
      `randomCrop: padding must be a non-negative integer or an array of 2 or 4 of them, got ${padding}`,
    );
  }
  if (p.length === 1) return [p[0], p[0], p[0], p[0]];
  if (p.length === 2) return [p[0], p[1], p[0], p[1]];
  return p as [number, number, number, number];
}

/**
 * Crops a random `size` window (torchvision `RandomCrop`): pads by `padding` first, then (with
 * `padIfNeeded`) by any shortfall, then draws the top offset and the left offset uniformly.
 */
export function randomCrop(
  size: number | { width: number; height: number },
  options: RandomCropOptions = {},
): Transform<Sample, Sample> {
  const [w, h] = sizeOf(size, "randomCrop: size");
  const [pl, pt, pr, pb] = paddingOf(options.padding);
  const mode = checkMode(options.paddingMode ?? "constant", "randomCrop");
  return imageTransform("randomCrop", (img, rng) => {
    let [left, top, right, bottom] = [pl, pt, pr, pb];
    if (options.padIfNeeded) {
      const dw = w - (img.width + left + right), dh = h - (img.height + top + bottom);
      if (dw > 0) [left, right] = [left + dw, right + dw];
      if (dh > 0) [top, bottom] = [top + dh, bottom + dh];
    }
    const W = img.width + left + right, H = img.height + top + bottom;
    if (W < w || H < h) {
      throw new RangeError(
        `randomCrop: the crop ${w}×${h} (width×height) is larger than the (padded) image ${W}×${H}; ` +
          `use padIfNeeded or resize first`,
      );
    }
    const i = rng.int(H - h + 1), j = rng.int(W - w + 1);
    const fill = fillOf(options.fill ?? 0, img.channels, "randomCrop: fill");
    return cropImg(img, i - top, j - left, h, w, mode, fill);
  });
}

/** Options of {@linkcode randomResizedCrop}. */
export interface RandomResizedCropOptions extends ResizeOptions {
  /** Range of the crop's area as a fraction of the image's (default [0.08, 1]). */
  scale?: readonly [number, number];
  /** Range of the crop's aspect ratio width/height, drawn log-uniformly (default [3/4, 4/3]). */
  ratio?: readonly [number, number];
}

/**
 * torchvision's `RandomResizedCrop`: up to 10 tries draw an area fraction (uniform in `scale`),
 * a log-uniform aspect ratio, and — when the window fits — its top and left offsets; if no try
 * fits, the centre crop with the ratio clamped to `ratio`. The window is resized to `size`.
 */
export function randomResizedCrop(
  size: number | { width: number; height: number },
  options: RandomResizedCropOptions = {},
): Transform<Sample, Sample> {
  const [ow, oh] = sizeOf(size, "randomResizedCrop: size");
  const [s0, s1] = options.scale ?? [0.08, 1];
  const [r0, r1] = options.ratio ?? [3 / 4, 4 / 3];
  if (!(s0 > 0 && s0 <= s1 && s1 <= 1)) {
    throw new RangeError(`randomResizedCrop: scale must satisfy 0 < min ≤ max ≤ 1, got [${s0}, ${s1}]`);
  }
  if (!(r0 > 0 && r0 <= r1 && Number.isFinite(r1))) {
    throw new RangeError(`randomResizedCrop: ratio must satisfy 0 < min ≤ max, got [${r0}, ${r1}]`);
  }
  const interp = checkInterpolation(options.interpolation ?? "bilinear", "randomResizedCrop");
  const aa = options.antialias ?? true;
  return imageTransform("randomResizedCrop", (img, rng) => {
    const { width: W, height: H } = img;
    const area = W * H;
    let box: [number, number, number, number] | null = null;
    for (let attempt = 0; attempt < 10 && !box; attempt++) {
      const target = area * rng.uniform(s0, s1);
      const aspect = Math.exp(rng.uniform(Math.log(r0), Math.log(r1)));
      const w = Math.round(Math.sqrt(target * aspect)), h = Math.round(Math.sqrt(target / aspect));
      if (w > 0 && w <= W && h > 0 && h <= H) box = [rng.int(H - h + 1), rng.int(W - w + 1), h, w];
    }
    if (!box) {
      const inRatio = W / H;
      let w = W, h = H;
      if (inRatio < r0) h = Math.round(W / r0);
      else if (inRatio > r1) w = Math.round(H * r1);
      box = [Math.floor((H - h) / 2), Math.floor((W - w) / 2), h, w];
    }
    const cropped = cropImg(img, box[0], box[1], box[2], box[3], "constant", new Array(img.channels).fill(0));
    return resampleImg(cropped, ow, oh, interp, aa);
  });
}

/** Options of {@linkcode randomRotation} and {@linkcode rotateImage}. */
export interface RotationOptions {
  /** `"nearest"` (default, as torchvision) or `"bilinear"`. */
  interpolation?: "nearest" | "bilinear";
  /** Value (or one per channel) for pixels the rotated image does not cover (default 0). */
  fill?: number | readonly number[];
}

function rotateImg(img: Img, degrees: number, interp: "nearest" | "bilinear", fill: number[]): Img {
  const { data, width: W, height: H, channels: C, cs, ys, xs } = img;
  const out = allocLike(img, W, H);
  const store = storeFn(out.data);
  const t = degrees * Math.PI / 180;
  let cos = Math.cos(t), sin = Math.sin(t);
  // Exact quarter turns: cos/sin of multiples of 90° are not exactly 0 / ±1 in floating point.
  if (Number.isInteger(degrees / 90)) [cos, sin] = [Math.round(cos), Math.round(sin)];
  const cx = (W - 1) / 2, cy = (H - 1) / 2;
  for (let y = 0; y < H; y++) {
    const dy = y - cy;
    for (let x = 0; x < W; x++) {
      const dx = x - cx;
      // Output (x, y) shows input (sx, sy): the inverse of a counter-clockwise turn on screen.
      const sx = cos * dx - sin * dy + cx, sy = sin * dx + cos * dy + cy;
      const o = y * out.ys + x * out.xs;
      if (interp === "nearest") {
        const ix = Math.round(sx), iy = Math.round(sy);
        if (ix < 0 || iy < 0 || ix >= W || iy >= H) { for (let c = 0; c < C; c++) store(o + c * out.cs, fill[c]); }
        else {
          const s = iy * ys + ix * xs;
          for (let c = 0; c < C; c++) out.data[o + c * out.cs] = data[s + c * cs];
        }
        continue;
      }
      const x0 = Math.floor(sx), y0 = Math.floor(sy), fx = sx - x0, fy = sy - y0;
      if (x0 < -1 || y0 < -1 || x0 >= W || y0 >= H) {
        for (let c = 0; c < C; c++) store(o + c * out.cs, fill[c]);
        continue;
      }
      const in00 = x0 >= 0 && y0 >= 0, in10 = x0 + 1 < W && y0 >= 0;
      const in01 = x0 >= 0 && y0 + 1 < H, in11 = x0 + 1 < W && y0 + 1 < H;
      const b = y0 * ys + x0 * xs;
      for (let c = 0; c < C; c++) {
        const bc = b + c * cs, f = fill[c];
        const v00 = in00 ? data[bc] : f, v10 = in10 ? data[bc + xs] : f;
        const v01 = in01 ? data[bc + ys] : f, v11 = in11 ? data[bc + ys + xs] : f;
        const top = v00 + (v10 - v00) * fx, bottom = v01 + (v11 - v01) * fx;
        store(o + c * out.cs, top + (bottom - top) * fy);
      }
    }
  }
  return out;
}

/** Rotates an image by `degrees` counter-clockwise about its centre, keeping its size. */
export function rotateImage<I extends Raster | ArrayImage>(
  image: I,
  degrees: number,
  options: RotationOptions = {},
): I {
  if (!Number.isFinite(degrees)) throw new RangeError(`rotateImage: degrees must be a finite number, got ${degrees}`);
  const interp = options.interpolation ?? "nearest";
  if (interp !== "nearest" && interp !== "bilinear") {
    throw new RangeError(`rotateImage: interpolation must be "nearest" or "bilinear", got ${interp}`);
  }
  const img = viewImage(image, "rotateImage");
  return toImage(rotateImg(img, degrees, interp, fillOf(options.fill ?? 0, img.channels, "rotateImage: fill"))) as I;
}

/**
 * Rotates by an angle drawn uniformly from `[−degrees, degrees]` (or `[min, max]`), as
 * torchvision's `RandomRotation` (no expansion; uncovered pixels get `fill`).
 */
export function randomRotation(
  degrees: number | readonly [number, number],
  options: RotationOptions = {},
): Transform<Sample, Sample> {
  const [lo, hi] = typeof degrees === "number" ? [-degrees, degrees] : degrees;
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || lo > hi || (typeof degrees === "number" && degrees < 0)) {
    throw new RangeError(`randomRotation: degrees must be a non-negative number or [min, max], got ${degrees}`);
  }
  const interp = options.interpolation ?? "nearest";
  if (interp !== "nearest" && interp !== "bilinear") {
    throw new RangeError(`randomRotation: interpolation must be "nearest" or "bilinear", got ${interp}`);
  }
  return imageTransform("randomRotation", (img, rng) => {
    const angle = rng.uniform(lo, hi);
    return rotateImg(img, angle, interp, fillOf(options.fill ?? 0, img.channels, "randomRotation: fill"));
  });
}

function flipImg(img: Img, horizontal: boolean): Img {
  const out = allocLike(img, img.width, img.height);
  const { data, width: W, height: H, channels: C, cs, ys, xs } = img;
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) {
      const src = c * cs + (horizontal ? y : H - 1 - y) * ys, dst = c * out.cs + y * out.ys;
      if (horizontal) { for (let x = 0; x < W; x++) out.data[dst + x * out.xs] = data[src + (W - 1 - x) * xs]; }
      else for (let x = 0; x < W; x++) out.data[dst + x * out.xs] = data[src + x * xs];
    }
  }
  return out;
}

/** Mirrors left–right with probability `p` (default 0.5; one uniform draw). */
export function randomHorizontalFlip(p: number = 0.5): Transform<Sample, Sample> {
  checkProbability(p, "randomHorizontalFlip: p");
  return imageTransform("randomHorizontalFlip", (img, rng: Rng) => rng.random() < p ? flipImg(img, true) : img);
}

/** Mirrors top–bottom with probability `p` (default 0.5; one uniform draw). */
export function randomVerticalFlip(p: number = 0.5): Transform<Sample, Sample> {
  checkProbability(p, "randomVerticalFlip: p");
  return imageTransform("randomVerticalFlip", (img, rng: Rng) => rng.random() < p ? flipImg(img, false) : img);
}
