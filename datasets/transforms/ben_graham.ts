/**
 * Fundus photograph preprocessing after Ben Graham, winner of the 2015 Kaggle Diabetic
 * Retinopathy Detection competition ("Kaggle Diabetic Retinopathy Detection competition
 * report", 2015). His recipe, step by step, and what {@linkcode benGraham} does at each:
 *
 * 1. Estimate the fundus radius from the middle row: sum the channels of row `⌊H/2⌋`, count
 *    the pixels brighter than a tenth of that row's mean, halve the count
 *    ({@linkcode estimateFundusRadius}; `radius` overrides it).
 * 2. Rescale the image so that the radius becomes `scale` pixels (he used 300). Here only with
 *    `scaleTo` (bilinear, antialiased; the size becomes `round(W·s) × round(H·s)`); by default
 *    the image keeps its size and `r` stays the estimated radius, since training pipelines
 *    resize later anyway.
 * 3. Subtract the local average colour: `out = 4·I − 4·G + 128`, with `G` a Gaussian blur of
 *    σ = `sigmaFraction`·r (his `scale/30`, the radius over 30), clamped to the value range and
 *    rounded for uint8. The blur is separable with OpenCV's kernel size for 8-bit images
 *    (`round(6σ + 1) | 1` taps) and mirrored borders (reflect-101, OpenCV's default); it is not
 *    rounded to uint8 before the subtraction as OpenCV's is (a difference of at most 2 levels).
 *    `blur: "sharp"` uses libvips' Gaussian instead (faster, see {@linkcode BenGrahamOptions}).
 * 4. Keep a disc of radius `⌊maskRadiusFraction·r⌋` (his `int(0.9·scale)`) centred at
 *    `(⌊W/2⌋, ⌊H/2⌋)`: pixels with `(x − cx)² + (y − cy)² > R²` become `fill` (128, the grey
 *    his `a·b + 128·(1 − b)` gives; `fill: 0` for black). `mask: false` skips this step.
 *
 * uint8 images use the offset and fill 128; float images are taken to be in [0, 1] and use
 * 128/255 for both (clamped to [0, 1]). `weight` replaces the 4.
 *
 * {@linkcode autoCropFundus} crops away the black border around the fundus first (optionally
 * to a square centred on it), which makes the middle-row radius estimate reliable.
 * @module
 */
import { loadSharp } from "../../util/sharp.ts";
import type { ArrayImage, Raster, Sample, Transform } from "../types.ts";
import { gaussianKernel, separableFilter } from "./_filters.ts";
import { allocLike, bound, imageTransform, type Img, toImage, viewImage, writePlane } from "./_image.ts";
import { cropImage, resizeImage } from "./geometric.ts";

/** Options of {@linkcode benGraham}. */
export interface BenGrahamOptions {
  /** Blur σ as a fraction of the fundus radius (default 1/30). */
  sigmaFraction?: number;
  /** Mask radius as a fraction of the fundus radius (default 0.9). */
  maskRadiusFraction?: number;
  /** Fundus radius in input pixels; default: {@linkcode estimateFundusRadius}. */
  radius?: number;
  /** Rescale first so that the radius becomes this many pixels (Graham used 300); default: keep the size. */
  scaleTo?: number;
  /** Multiplier of the difference image − blur (default 4). */
  weight?: number;
  /** Value outside the mask, in the image's units (default 128, or 128/255 for float images). */
  fill?: number;
  /** Apply the circular mask (default true). */
  mask?: boolean;
  /**
   * The Gaussian blur: `"exact"` (default) in TypeScript, float, reflect-101 borders;
   * `"sharp"`: libvips' approximate Gaussian (`precision: "approximate"`: the same ±3σ mask
   * approximated by box filters, 8-bit output, about 4× faster on 512² and run on one of
   * sharp's threads, off the main thread). On a 512² fundus its blur is unbiased and within
   * 1.5 levels of the exact one (the output within 4 of OpenCV's, mean 0.2; harsh synthetic
   * textures at small σ differ more, up to 8 levels); libvips extends the borders its own way, which
   * only matters within 3σ of the image's edge — outside the mask for a fundus cropped to its
   * disc. Only uint8 rasters take the sharp path; other images use the exact blur.
   */
  blur?: "exact" | "sharp";
}

function radiusOf(img: Img): number {
  const { width: W, height: H, data, cs, ys, xs } = img;
  const y = Math.floor(H / 2);
  const cc = Math.min(img.channels, 3);
  const sums = new Float64Array(W);
  let total = 0;
  for (let x = 0; x < W; x++) {
    let s = 0;
    for (let c = 0; c < cc; c++) s += data[c * cs + y * ys + x * xs];
    sums[x] = s;
    total += s;
  }
  const threshold = total / W / 10;
  let count = 0;
  for (let x = 0; x < W; x++) if (sums[x] > threshold) count++;
  return count / 2;
}

/**
 * Graham's fundus radius estimate: half the number of pixels in the middle row whose channel
 * sum exceeds a tenth of the row's mean channel sum. 0 for an all-black row.
 */
export function estimateFundusRadius(image: Raster | ArrayImage): number {
  return radiusOf(viewImage(image, "estimateFundusRadius"));
}

function checkPositive(v: unknown, what: string): void {
  if (v !== undefined && (typeof v !== "number" || !(v > 0) || !Number.isFinite(v))) {
    throw new RangeError(`benGraham: ${what} must be a positive finite number, got ${v}`);
  }
}

function checkOptions(o: BenGrahamOptions): void {
  if (typeof o !== "object" || o === null) throw new TypeError(`benGraham: options must be an object, got ${o}`);
  checkPositive(o.sigmaFraction, "sigmaFraction");
  checkPositive(o.maskRadiusFraction, "maskRadiusFraction");
  checkPositive(o.radius, "radius");
  checkPositive(o.scaleTo, "scaleTo");
  if (o.weight !== undefined && !Number.isFinite(o.weight)) {
    throw new RangeError(`benGraham: weight must be a finite number, got ${o.weight}`);
  }
  if (o.blur !== undefined && o.blur !== "exact" && o.blur !== "sharp") {
    throw new RangeError(`benGraham: blur must be "exact" or "sharp", got ${o.blur}`);
  }
  if (o.fill !== undefined && !Number.isFinite(o.fill)) {
    throw new RangeError(`benGraham: fill must be a finite number, got ${o.fill}`);
  }
}

/** Steps 1–2: the (rescaled) image and its fundus radius. */
function prepare(input: Img, o: BenGrahamOptions): { img: Img; r: number } {
  let img = input;
  let r = o.radius ?? radiusOf(img);
  if (!(r > 0)) r = Math.min(img.width, img.height) / 2; // a black middle row: assume a centred full disc
  if (o.scaleTo !== undefined) {
    const s = o.scaleTo / r;
    const w = Math.max(1, Math.round(img.width * s)), h = Math.max(1, Math.round(img.height * s));
    img = viewImage(resizeImage(toImage(img), w, h, { interpolation: "bilinear" }), "benGraham");
    r = o.scaleTo;
  }
  return { img, r };
}

/** σ of the blur and OpenCV's kernel size for 8-bit images, `round(6σ + 1) | 1`. */
function blurSize(o: BenGrahamOptions, r: number): { sigma: number; ksize: number } {
  const sigma = (o.sigmaFraction ?? 1 / 30) * r;
  return { sigma, ksize: Math.round(sigma * 6 + 1) | 1 };
}

/** Step 3 with the TypeScript blur: float planes, reflect-101 borders. */
function exactBlur(img: Img, o: BenGrahamOptions, r: number): Img {
  const { sigma, ksize } = blurSize(o, r);
  const k = gaussianKernel(ksize, sigma);
  const planes = separableFilter(img, k, k);
  const { width: W, height: H, channels: C } = img;
  const data = new Float32Array(W * H * C);
  planes.forEach((p, c) => data.set(p, c * W * H));
  return { data, width: W, height: H, channels: C, cs: W * H, ys: W, xs: 1, kind: "chw" };
}

/** Step 3 with libvips' approximate Gaussian (same ±3σ support), on one of sharp's worker threads. */
async function sharpBlur(img: Img, o: BenGrahamOptions, r: number): Promise<Img> {
  const { sigma, ksize } = blurSize(o, r);
  const half = (ksize - 1) / 2;
  const minAmplitude = Math.exp(-(half * half) / (2 * sigma * sigma)) * 0.999;
  const { width, height, channels } = img;
  const sharp = await loadSharp();
  const buf = await sharp(img.data, { raw: { width, height, channels: channels as 1 | 2 | 3 | 4 } })
    .blur({ sigma, precision: "approximate", minAmplitude })
    .raw()
    .toBuffer();
  const data = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  return { data, width, height, channels, cs: 1, ys: width * channels, xs: channels, kind: "raster" };
}

/** Steps 3 (blend with the blurred image) and 4 (mask). */
function finish(img: Img, blurred: Img, r: number, o: BenGrahamOptions): Img {
  const b = bound(img);
  const offset = (128 / 255) * b, fill = o.fill ?? offset, weight = o.weight ?? 4;
  const { width: W, height: H, channels: C, data, cs, ys, xs } = img;
  const out = allocLike(img, W, H);
  const R = Math.floor((o.maskRadiusFraction ?? 0.9) * r);
  const cx = Math.floor(W / 2), cy = Math.floor(H / 2);
  const masked = o.mask ?? true;
  const plane = new Float32Array(W * H);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) {
      // columns [x0, x1] of this row lie inside the mask: (x − cx)² ≤ R² − (y − cy)²
      let x0 = 0, x1 = W - 1;
      if (masked) {
        const rem = R * R - (y - cy) ** 2;
        let h = rem < 0 ? -1 : Math.floor(Math.sqrt(rem));
        while (h >= 0 && h * h > rem) h--;
        while ((h + 1) * (h + 1) <= rem) h++;
        x0 = Math.max(0, cx - h);
        x1 = Math.min(W - 1, cx + h);
      }
      const p = y * W, src = c * cs + y * ys, bl = c * blurred.cs + y * blurred.ys, bxs = blurred.xs;
      plane.fill(fill, p, p + W);
      for (let x = x0; x <= x1; x++) plane[p + x] = weight * (data[src + x * xs] - blurred.data[bl + x * bxs]) + offset;
    }
    writePlane(out, c, plane, 0, b);
  }
  return out;
}

function useSharp(img: Img, o: BenGrahamOptions): boolean {
  return o.blur === "sharp" && img.kind === "raster" && img.data instanceof Uint8Array && img.channels <= 4;
}

function benGrahamImg(input: Img, o: BenGrahamOptions): Img | Promise<Img> {
  const { img, r } = prepare(input, o);
  if (useSharp(img, o)) return sharpBlur(img, o, r).then((blurred) => finish(img, blurred, r, o));
  return finish(img, exactBlur(img, o, r), r, o);
}

/**
 * Ben Graham's preprocessing of one image (see the module notes for each step), with the
 * TypeScript blur (`options.blur` is ignored here; use the transform for the sharp blur).
 */
export function benGrahamImage<I extends Raster | ArrayImage>(image: I, options: BenGrahamOptions = {}): I {
  checkOptions(options);
  return toImage(benGrahamImg(viewImage(image, "benGrahamImage"), { ...options, blur: "exact" }) as Img) as I;
}

/**
 * Ben Graham's fundus preprocessing as a transform (it draws nothing from the rng); see the
 * module notes. With `blur: "sharp"` it returns a promise for uint8 rasters.
 */
export function benGraham(options: BenGrahamOptions = {}): Transform<Sample, Sample> {
  checkOptions(options);
  return imageTransform("benGraham", (img) => benGrahamImg(img, options));
}

/** Options of {@linkcode autoCropFundus}. */
export interface AutoCropOptions {
  /** A pixel is background when every channel is ≤ this (uint8 levels; ÷255 for float images). Default 10. */
  threshold?: number;
  /** Extra pixels kept around the bounding box (default 0). */
  margin?: number;
  /** Grow the box to a square centred on it, padding with black outside the image (default false). */
  square?: boolean;
}

function cropBox(img: Img, o: AutoCropOptions): { top: number; left: number; width: number; height: number } | null {
  const t = (o.threshold ?? 10) * (img.data instanceof Uint8Array ? 1 : 1 / 255);
  const { width: W, height: H, channels: C, data, cs, ys, xs } = img;
  let x0 = W, x1 = -1, y0 = H, y1 = -1;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let fg = false;
      for (let c = 0; c < Math.min(C, 3) && !fg; c++) fg = data[c * cs + y * ys + x * xs] > t;
      if (fg) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return null;
  const m = o.margin ?? 0;
  let left = Math.max(0, x0 - m), top = Math.max(0, y0 - m);
  let width = Math.min(W - 1, x1 + m) - left + 1, height = Math.min(H - 1, y1 + m) - top + 1;
  if (o.square && width !== height) {
    const side = Math.max(width, height);
    left -= Math.floor((side - width) / 2);
    top -= Math.floor((side - height) / 2);
    width = height = side;
  }
  return { top, left, width, height };
}

function checkCrop(o: AutoCropOptions, op: string): void {
  if (o.threshold !== undefined && !(o.threshold >= 0)) {
    throw new RangeError(`${op}: threshold must be ≥ 0, got ${o.threshold}`);
  }
  if (o.margin !== undefined && !(Number.isInteger(o.margin) && o.margin >= 0)) {
    throw new RangeError(`${op}: margin must be a non-negative integer, got ${o.margin}`);
  }
}

/**
 * Crops an image to the bounding box of its non-background pixels (any of the first three
 * channels above `threshold`), optionally squared; an image with no such pixel is returned as is.
 */
export function autoCropFundusImage<I extends Raster | ArrayImage>(image: I, options: AutoCropOptions = {}): I {
  checkCrop(options, "autoCropFundusImage");
  const box = cropBox(viewImage(image, "autoCropFundusImage"), options);
  return box ? cropImage(image, box) : image;
}

/** {@linkcode autoCropFundusImage} as a (deterministic) transform. */
export function autoCropFundus(options: AutoCropOptions = {}): Transform<Sample, Sample> {
  checkCrop(options, "autoCropFundus");
  return imageTransform("autoCropFundus", (img) => {
    const box = cropBox(img, options);
    return box ? viewImage(cropImage(toImage(img), box), "autoCropFundus") : img;
  });
}
