/**
 * Photometric transforms in plain TypeScript with torchvision's formulas: colour jitter
 * (brightness, contrast, saturation, hue), sharpness, Gaussian blur, greyscale.
 *
 * Value range: uint8 images live in [0, 255] and float images in [0, 1] (torchvision's
 * convention); every operation clamps to that range. uint8 results are rounded to the nearest
 * level after each operation (torchvision's tensor path truncates, PIL rounds). The first three
 * channels are taken as RGB; a fourth (alpha) is left as it is; one-channel images are grey
 * (saturation and hue leave them unchanged). Works on {@linkcode Raster}s and CHW
 * {@linkcode ArrayImage}s alike.
 * @module
 */
import type { Rng } from "../../util/rng.ts";
import type { ArrayImage, Raster, Sample, Transform } from "../types.ts";
import { gaussianKernel, separableFilter } from "./_filters.ts";
import {
  allocLike,
  bound,
  checkProbability,
  imageTransform,
  type Img,
  readPlane,
  toImage,
  viewImage,
  writePlane,
} from "./_image.ts";

/** Copies channels ≥ `from` (alpha) unchanged. */
function copyExtra(img: Img, out: Img, from: number): void {
  for (let c = from; c < img.channels; c++) writePlane(out, c, readPlane(img, c));
}

/** Colour channels: 1 for grey (1–2 channels), 3 for RGB(A). */
function colourChannels(img: Img): number {
  return img.channels >= 3 ? 3 : 1;
}

/**
 * `ratio·img + (1 − ratio)·other`, clamped to the value range, for the colour channels; `other[c]`
 * is a constant or an H×W plane.
 */
function blendImg(img: Img, ratio: number, other: readonly (number | Float32Array)[]): Img {
  const out = allocLike(img, img.width, img.height);
  const { width: W, height: H, cs, ys, xs, data } = img;
  const b = bound(img), q = 1 - ratio;
  const plane = new Float32Array(W * H);
  const cc = colourChannels(img);
  for (let c = 0; c < cc; c++) {
    const o = other[c];
    for (let y = 0; y < H; y++) {
      const src = c * cs + y * ys, p = y * W;
      if (typeof o === "number") {
        const add = q * o;
        for (let x = 0; x < W; x++) plane[p + x] = ratio * data[src + x * xs] + add;
      } else {
        for (let x = 0; x < W; x++) plane[p + x] = ratio * data[src + x * xs] + q * o[p + x];
      }
    }
    writePlane(out, c, plane, 0, b);
  }
  copyExtra(img, out, cc);
  return out;
}

/** The luma 0.299 R + 0.587 G + 0.114 B per pixel (the grey value of one-channel images) as an H×W plane. */
function lumaPlane(img: Img): Float32Array {
  if (img.channels < 3) return readPlane(img, 0);
  const { width: W, height: H, cs, ys, xs, data } = img;
  const plane = new Float32Array(W * H);
  for (let y = 0; y < H; y++) {
    const p = y * W;
    for (let x = 0; x < W; x++) {
      const i = y * ys + x * xs;
      plane[p + x] = 0.299 * data[i] + 0.587 * data[i + cs] + 0.114 * data[i + 2 * cs];
    }
  }
  return plane;
}

function brightnessImg(img: Img, f: number): Img {
  return blendImg(img, f, [0, 0, 0]);
}

function contrastImg(img: Img, f: number): Img {
  const l = lumaPlane(img);
  let total = 0;
  for (let i = 0; i < l.length; i++) total += l[i];
  const mean = total / l.length;
  return blendImg(img, f, [mean, mean, mean]);
}

function saturationImg(img: Img, f: number): Img {
  if (img.channels < 3) return img;
  const l = lumaPlane(img);
  return blendImg(img, f, [l, l, l]);
}

function hueImg(img: Img, shift: number): Img {
  if (img.channels < 3) return img;
  const { width: W, height: H, cs, ys, xs, data } = img;
  const out = allocLike(img, W, H);
  const b = bound(img);
  const planes = [new Float32Array(W * H), new Float32Array(W * H), new Float32Array(W * H)];
  const [pr, pg, pb] = planes;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * ys + x * xs, o = y * W + x;
      const r = data[i] / b, g = data[i + cs] / b, bl = data[i + 2 * cs] / b;
      // RGB → HSV (torchvision's _rgb2hsv).
      const maxc = Math.max(r, g, bl), minc = Math.min(r, g, bl), cr = maxc - minc;
      if (cr === 0) { // grey: hue has no effect
        pr[o] = data[i];
        pg[o] = data[i + cs];
        pb[o] = data[i + 2 * cs];
        continue;
      }
      const s = cr / maxc;
      const rc = (maxc - r) / cr, gc = (maxc - g) / cr, bc = (maxc - bl) / cr;
      let h = maxc === r ? bc - gc : maxc === g ? 2 + rc - bc : 4 + gc - rc;
      h = h / 6 + shift;
      h -= Math.floor(h);
      // HSV → RGB (torchvision's _hsv2rgb).
      const v = maxc * b, h6 = h * 6, sector = Math.floor(h6) % 6, fr = h6 - Math.floor(h6);
      const p = v * (1 - s), q = v * (1 - s * fr), t = v * (1 - s * (1 - fr));
      switch (sector) {
        case 0:
          [pr[o], pg[o], pb[o]] = [v, t, p];
          break;
        case 1:
          [pr[o], pg[o], pb[o]] = [q, v, p];
          break;
        case 2:
          [pr[o], pg[o], pb[o]] = [p, v, t];
          break;
        case 3:
          [pr[o], pg[o], pb[o]] = [p, q, v];
          break;
        case 4:
          [pr[o], pg[o], pb[o]] = [t, p, v];
          break;
        default:
          [pr[o], pg[o], pb[o]] = [v, p, q];
      }
    }
  }
  for (let c = 0; c < 3; c++) writePlane(out, c, planes[c], 0, b);
  copyExtra(img, out, 3);
  return out;
}

function checkFactor(f: unknown, what: string): number {
  if (typeof f !== "number" || !Number.isFinite(f) || f < 0) {
    throw new RangeError(`${what} must be a finite non-negative number, got ${f}`);
  }
  return f;
}

/** Multiplies by `factor` (0 gives black, 1 the original), clamped. */
export function adjustBrightness<I extends Raster | ArrayImage>(image: I, factor: number): I {
  checkFactor(factor, "adjustBrightness: factor");
  return toImage(brightnessImg(viewImage(image, "adjustBrightness"), factor)) as I;
}

/** Blends with the image's mean luma (0.299 R + 0.587 G + 0.114 B): 0 gives flat grey, 1 the original. */
export function adjustContrast<I extends Raster | ArrayImage>(image: I, factor: number): I {
  checkFactor(factor, "adjustContrast: factor");
  return toImage(contrastImg(viewImage(image, "adjustContrast"), factor)) as I;
}

/** Blends each pixel with its luma: 0 gives greyscale, 1 the original, 2 doubles the saturation. */
export function adjustSaturation<I extends Raster | ArrayImage>(image: I, factor: number): I {
  checkFactor(factor, "adjustSaturation: factor");
  return toImage(saturationImg(viewImage(image, "adjustSaturation"), factor)) as I;
}

/** Rotates the hue by `shift` turns (in [−0.5, 0.5]) in HSV space. */
export function adjustHue<I extends Raster | ArrayImage>(image: I, shift: number): I {
  if (typeof shift !== "number" || !(shift >= -0.5 && shift <= 0.5)) {
    throw new RangeError(`adjustHue: shift must be in [-0.5, 0.5], got ${shift}`);
  }
  return toImage(hueImg(viewImage(image, "adjustHue"), shift)) as I;
}

/** Strength of {@linkcode colorJitter}'s operations; a number or an explicit `[min, max]` range. */
export interface ColorJitterOptions {
  /** `b` → factor uniform in [max(0, 1 − b), 1 + b]. */
  brightness?: number | readonly [number, number];
  /** `c` → factor uniform in [max(0, 1 − c), 1 + c]. */
  contrast?: number | readonly [number, number];
  /** `s` → factor uniform in [max(0, 1 − s), 1 + s]. */
  saturation?: number | readonly [number, number];
  /** `h` (≤ 0.5) → hue shift uniform in [−h, h] turns. */
  hue?: number | readonly [number, number];
}

function jitterRange(
  v: number | readonly [number, number] | undefined,
  name: string,
  hue: boolean,
): [number, number] | null {
  if (v === undefined) return null;
  let r: [number, number];
  if (typeof v === "number") {
    if (!(v >= 0)) throw new RangeError(`colorJitter: ${name} must be non-negative, got ${v}`);
    r = hue ? [-v, v] : [Math.max(0, 1 - v), 1 + v];
  } else {
    if (!Array.isArray(v) || v.length !== 2 || !(v[0] <= v[1])) {
      throw new RangeError(`colorJitter: ${name} must be a number or [min, max] with min ≤ max, got ${v}`);
    }
    r = [v[0], v[1]];
  }
  if (hue ? !(r[0] >= -0.5 && r[1] <= 0.5) : !(r[0] >= 0 && Number.isFinite(r[1]))) {
    throw new RangeError(
      `colorJitter: ${name} range [${r}] must lie in ${hue ? "[-0.5, 0.5]" : "[0, ∞)"}`,
    );
  }
  if (hue ? r[0] === 0 && r[1] === 0 : r[0] === 1 && r[1] === 1) return null;
  return r;
}

/**
 * torchvision's `ColorJitter`. Per sample it draws, in this order: a random order of the four
 * operations (`rng.permutation(4)`: 0 brightness, 1 contrast, 2 saturation, 3 hue), then a
 * factor for each operation that was asked for, in the order brightness, contrast, saturation,
 * hue; then applies the operations in the drawn order. An operation left out (or with strength
 * 0) draws nothing and is skipped.
 */
export function colorJitter(options: ColorJitterOptions = {}): Transform<Sample, Sample> {
  const ranges = [
    jitterRange(options.brightness, "brightness", false),
    jitterRange(options.contrast, "contrast", false),
    jitterRange(options.saturation, "saturation", false),
    jitterRange(options.hue, "hue", true),
  ];
  const ops = [brightnessImg, contrastImg, saturationImg, hueImg];
  return imageTransform("colorJitter", (img, rng: Rng) => {
    const order = rng.permutation(4);
    const factors = ranges.map((r) => r ? rng.uniform(r[0], r[1]) : null);
    for (const k of order) {
      const f = factors[k];
      if (f !== null) img = ops[k](img, f);
    }
    return img;
  });
}

/**
 * torchvision's `adjust_sharpness`: blends with a smoothed copy (kernel [[1,1,1],[1,5,1],[1,1,1]]/13,
 * border pixels kept; uint8 copies rounded) — 0 blurs, 1 keeps, 2 sharpens.
 */
export function adjustSharpnessImage<I extends Raster | ArrayImage>(image: I, factor: number): I {
  checkFactor(factor, "adjustSharpnessImage: factor");
  return toImage(sharpnessImg(viewImage(image, "adjustSharpnessImage"), factor)) as I;
}

function sharpnessImg(img: Img, factor: number): Img {
  const { width: W, height: H, data, cs, ys, xs } = img;
  if (W < 3 || H < 3) return img;
  const round = data instanceof Uint8Array;
  const degenerate: Float32Array[] = [];
  for (let c = 0; c < colourChannels(img); c++) {
    const d = readPlane(img, c); // borders keep the original values
    for (let y = 1; y < H - 1; y++) {
      for (let x = 1; x < W - 1; x++) {
        const p = c * cs + y * ys + x * xs;
        let s = 4 * data[p];
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) s += data[p + dy * ys + dx * xs];
        d[y * W + x] = round ? Math.round(s / 13) : s / 13;
      }
    }
    degenerate.push(d);
  }
  return blendImg(img, factor, degenerate);
}

/** Sharpens (factor > 1) or softens (factor < 1) every image: see {@linkcode adjustSharpnessImage}. */
export function adjustSharpness(factor: number): Transform<Sample, Sample> {
  checkFactor(factor, "adjustSharpness: factor");
  return imageTransform("adjustSharpness", (img) => sharpnessImg(img, factor));
}

/** torchvision's `RandomAdjustSharpness`: with probability `p` (one draw), {@linkcode adjustSharpness}. */
export function randomAdjustSharpness(factor: number, p: number = 0.5): Transform<Sample, Sample> {
  checkFactor(factor, "randomAdjustSharpness: factor");
  checkProbability(p, "randomAdjustSharpness: p");
  return imageTransform("randomAdjustSharpness", (img, rng: Rng) => rng.random() < p ? sharpnessImg(img, factor) : img);
}

function kernelSizes(kernelSize: number | readonly [number, number], op: string): [number, number] {
  const [kx, ky] = typeof kernelSize === "number" ? [kernelSize, kernelSize] : kernelSize;
  for (const k of [kx, ky]) {
    if (!Number.isInteger(k) || k < 1 || k % 2 === 0) {
      throw new RangeError(`${op}: kernelSize must be an odd positive integer or [x, y] of them, got ${kernelSize}`);
    }
  }
  return [kx, ky];
}

function blurImg(img: Img, kx: number, ky: number, sigma: number): Img {
  const planes = separableFilter(img, gaussianKernel(kx, sigma), gaussianKernel(ky, sigma));
  const out = allocLike(img, img.width, img.height);
  for (let c = 0; c < img.channels; c++) writePlane(out, c, planes[c]);
  return out;
}

/**
 * Gaussian blur with a `kernelSize` (odd, or [x, y]) kernel of standard deviation `sigma`
 * (torchvision's `gaussian_blur`: normalised taps, mirrored borders without edge repeat).
 */
export function gaussianBlurImage<I extends Raster | ArrayImage>(
  image: I,
  kernelSize: number | readonly [number, number],
  sigma: number,
): I {
  const [kx, ky] = kernelSizes(kernelSize, "gaussianBlurImage");
  if (!(sigma > 0) || !Number.isFinite(sigma)) {
    throw new RangeError(`gaussianBlurImage: sigma must be a positive number, got ${sigma}`);
  }
  return toImage(blurImg(viewImage(image, "gaussianBlurImage"), kx, ky, sigma)) as I;
}

/**
 * torchvision's `GaussianBlur`: draws σ uniformly from `sigma` (`[min, max]`, default
 * [0.1, 2]; a number means fixed) and blurs with a `kernelSize` kernel.
 */
export function gaussianBlur(
  kernelSize: number | readonly [number, number],
  sigma: number | readonly [number, number] = [0.1, 2],
): Transform<Sample, Sample> {
  const [kx, ky] = kernelSizes(kernelSize, "gaussianBlur");
  const [lo, hi] = typeof sigma === "number" ? [sigma, sigma] : sigma;
  if (!(lo > 0 && lo <= hi && Number.isFinite(hi))) {
    throw new RangeError(
      `gaussianBlur: sigma must be a positive number or [min, max] with 0 < min ≤ max, got ${sigma}`,
    );
  }
  return imageTransform("gaussianBlur", (img, rng: Rng) => blurImg(img, kx, ky, rng.uniform(lo, hi)));
}

/** Greyscale with 1 output channel, or 3 equal ones (`channels: 3`), from the luma 0.299 R + 0.587 G + 0.114 B. */
export function grayscale(options: { channels?: 1 | 3 } = {}): Transform<Sample, Sample> {
  const channels = options.channels ?? 1;
  if (channels !== 1 && channels !== 3) throw new RangeError(`grayscale: channels must be 1 or 3, got ${channels}`);
  return imageTransform("grayscale", (img) => grayImg(img, channels));
}

function grayImg(img: Img, channels: number): Img {
  const out = allocLike(img, img.width, img.height, channels);
  const l = lumaPlane(img);
  for (let c = 0; c < channels; c++) writePlane(out, c, l);
  return out;
}

/** torchvision's `RandomGrayscale`: with probability `p` (one draw), greyscale keeping the channel count. */
export function randomGrayscale(p: number = 0.1): Transform<Sample, Sample> {
  checkProbability(p, "randomGrayscale: p");
  return imageTransform("randomGrayscale", (img, rng: Rng) => {
    if (!(rng.random() < p) || img.channels < 3) return img;
    const out = grayImg(img, 3);
    if (img.channels === 4) {
      const o = allocLike(img, img.width, img.height);
      for (let y = 0; y < img.height; y++) {
        for (let x = 0; x < img.width; x++) {
          for (let c = 0; c < 3; c++) {
            o.data[c * o.cs + y * o.ys + x * o.xs] = out.data[c * out.cs + y * out.ys + x * out.xs];
          }
        }
      }
      copyExtra(img, o, 3);
      return o;
    }
    return out;
  });
}
