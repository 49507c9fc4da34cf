/**
 * Internal helpers shared by the 2D transforms: one strided view over both image kinds
 * (interleaved HWC {@linkcode Raster}s and planar CHW / HW {@linkcode ArrayImage}s), so that
 * every geometric and colour operation is written once and returns the kind it was given.
 * @module
 */
import type { Rng } from "../../util/rng.ts";
import type { ArrayImage, Raster, Sample, Transform } from "../types.ts";

/** Pixel data of either image kind. */
export type PixelData = Uint8Array | Float32Array;

/** A strided 2D image: value (y, x, c) lives at `c * cs + y * ys + x * xs`. */
export interface Img {
  /** Pixel values (uint8 only for rasters). */
  data: PixelData;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Channels. */
  channels: number;
  /** Stride between channels. */
  cs: number;
  /** Stride between rows. */
  ys: number;
  /** Stride between columns. */
  xs: number;
  /** Which kind the image came as (and goes back as). */
  kind: "raster" | "chw" | "hw";
}

/** True for a {@linkcode Raster}-shaped object. */
export function isRaster(image: unknown): image is Raster {
  const r = image as Raster;
  return typeof r === "object" && r !== null && (r.data instanceof Uint8Array || r.data instanceof Float32Array) &&
    typeof r.width === "number" && typeof r.height === "number" && typeof r.channels === "number";
}

/** True for an {@linkcode ArrayImage}-shaped object. */
export function isArrayImage(image: unknown): image is ArrayImage {
  const a = image as ArrayImage;
  return typeof a === "object" && a !== null && a.data instanceof Float32Array && Array.isArray(a.shape);
}

function describe(image: unknown): string {
  if (isArrayImage(image)) return `an array of shape [${image.shape.join(", ")}]`;
  if (image === null || image === undefined) return String(image);
  if (typeof image === "string") return "a string (decode it first with decodeImage)";
  if (image instanceof Uint8Array || image instanceof ArrayBuffer) return "encoded bytes (decode them first)";
  return typeof image === "object" ? `an object with keys {${Object.keys(image).join(", ")}}` : typeof image;
}

/** A strided view of a Raster or a 2D (HW / CHW) ArrayImage; throws naming `op` otherwise. */
export function viewImage(image: unknown, op: string): Img {
  if (isRaster(image)) {
    const { data, width, height, channels } = image;
    if (
      !Number.isInteger(width) || !Number.isInteger(height) || !Number.isInteger(channels) || width < 1 ||
      height < 1 || channels < 1 || data.length !== width * height * channels
    ) {
      throw new RangeError(
        `${op}: the raster's data has ${data.length} values, expected width·height·channels = ` +
          `${width}·${height}·${channels}`,
      );
    }
    return { data, width, height, channels, cs: 1, ys: width * channels, xs: channels, kind: "raster" };
  }
  if (isArrayImage(image)) {
    const s = image.shape;
    if ((s.length !== 2 && s.length !== 3) || s.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new RangeError(
        `${op}: expected a 2D image (a Raster, or an array of shape [C, H, W] or [H, W]), got ` +
          `${describe(image)}${s.length === 4 ? " (a volume: use the volume transforms)" : ""}`,
      );
    }
    const [c, h, w] = s.length === 3 ? s : [1, s[0], s[1]];
    if (image.data.length !== c * h * w) {
      throw new RangeError(
        `${op}: the array's data has ${image.data.length} values, its shape [${s}] needs ${c * h * w}`,
      );
    }
    return {
      data: image.data,
      width: w,
      height: h,
      channels: c,
      cs: h * w,
      ys: w,
      xs: 1,
      kind: s.length === 3 ? "chw" : "hw",
    };
  }
  throw new TypeError(`${op}: expected sample.image to be a Raster or an ArrayImage, got ${describe(image)}`);
}

/** A new image of the same kind, data type and channels as `like`, of size `width`×`height`. */
export function allocLike(like: Img, width: number, height: number, channels: number = like.channels): Img {
  const n = width * height * channels;
  const data = like.data instanceof Uint8Array ? new Uint8Array(n) : new Float32Array(n);
  if (like.kind === "raster") {
    return { data, width, height, channels, cs: 1, ys: width * channels, xs: channels, kind: "raster" };
  }
  return {
    data,
    width,
    height,
    channels,
    cs: width * height,
    ys: width,
    xs: 1,
    kind: channels === 1 ? like.kind : "chw",
  };
}

/** Back from a view to the public image type. */
export function toImage(img: Img): Raster | ArrayImage {
  if (img.kind === "raster") return { data: img.data, width: img.width, height: img.height, channels: img.channels };
  const shape = img.kind === "hw" ? [img.height, img.width] : [img.channels, img.height, img.width];
  return { data: img.data as Float32Array, shape };
}

/** Rounds and clamps to [0, 255] for uint8 data; stores as is for float data. */
export function storeFn(data: PixelData): (i: number, v: number) => void {
  if (data instanceof Uint8Array) {
    return (i, v) => {
      data[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    };
  }
  return (i, v) => {
    data[i] = v;
  };
}

/** Largest value of the image's range: 255 for uint8, 1 for float (torchvision's convention). */
export function bound(img: Img): number {
  return img.data instanceof Uint8Array ? 255 : 1;
}

/** Wraps an image-to-image function into a sample transform (other sample fields are kept). */
export function imageTransform(
  op: string,
  fn: (img: Img, rng: Rng) => Img | Promise<Img>,
): Transform<Sample, Sample> {
  return (sample: Sample, rng: Rng): Sample | Promise<Sample> => {
    if (typeof sample !== "object" || sample === null || !("image" in sample)) {
      throw new TypeError(`${op}: expected a Sample ({image, label, id, meta}), got ${describe(sample)}`);
    }
    const out = fn(viewImage(sample.image, op), rng);
    if (out instanceof Promise) return out.then((img) => ({ ...sample, image: toImage(img) }));
    return { ...sample, image: toImage(out) };
  };
}

/** Checks a positive integer argument. */
export function checkPositiveInt(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`${what} must be a positive integer, got ${value}`);
  }
  return value;
}

/** Checks a probability in [0, 1]. */
export function checkProbability(p: unknown, what: string): number {
  if (typeof p !== "number" || !(p >= 0 && p <= 1)) throw new RangeError(`${what} must be in [0, 1], got ${p}`);
  return p;
}

/** A `number | {width, height}` size as `[width, height]`. */
export function sizeOf(size: number | { width: number; height: number }, what: string): [number, number] {
  if (typeof size === "number") {
    checkPositiveInt(size, what);
    return [size, size];
  }
  if (typeof size !== "object" || size === null) {
    throw new TypeError(`${what} must be a positive integer or {width, height}, got ${size}`);
  }
  return [checkPositiveInt(size.width, `${what}.width`), checkPositiveInt(size.height, `${what}.height`)];
}

/** A fill value per channel from a number or an array (one value, or one per channel). */
export function fillOf(fill: number | readonly number[], channels: number, what: string): number[] {
  const f = typeof fill === "number" ? [fill] : [...fill];
  if (f.some((v) => typeof v !== "number" || !Number.isFinite(v))) {
    throw new RangeError(`${what} must be a finite number or an array of them, got ${fill}`);
  }
  if (f.length === 1) return new Array(channels).fill(f[0]);
  if (f.length !== channels) throw new RangeError(`${what} has ${f.length} values, the image has ${channels} channels`);
  return f;
}

/** Start of a centred window of `out` in `inSize`: `⌊(in − out)/2⌋` when cropping, `−⌊(out − in)/2⌋` when padding. */
export function centeredStart(inSize: number, out: number): number {
  return inSize >= out ? Math.floor((inSize - out) / 2) : -Math.floor((out - inSize) / 2);
}

/**
 * Writes an H×W float plane into channel `c` of `out`: clamped to `[lo, hi]` when given, and for
 * uint8 data also rounded and clamped to [0, 255].
 */
export function writePlane(out: Img, c: number, plane: Float32Array, lo = -Infinity, hi = Infinity): void {
  const { width: W, height: H, cs, ys, xs } = out;
  const data = out.data;
  if (data instanceof Uint8Array) {
    const l = Math.max(lo, 0), h = Math.min(hi, 255);
    for (let y = 0; y < H; y++) {
      const o = c * cs + y * ys, p = y * W;
      for (let x = 0; x < W; x++) {
        const v = plane[p + x];
        data[o + x * xs] = v <= l ? l : v >= h ? h : Math.round(v);
      }
    }
    return;
  }
  for (let y = 0; y < H; y++) {
    const o = c * cs + y * ys, p = y * W;
    for (let x = 0; x < W; x++) {
      const v = plane[p + x];
      data[o + x * xs] = v < lo ? lo : v > hi ? hi : v;
    }
  }
}

/** Channel `c` of an image as a new H×W float plane. */
export function readPlane(img: Img, c: number): Float32Array {
  const { width: W, height: H, cs, ys, xs, data } = img;
  const plane = new Float32Array(W * H);
  for (let y = 0; y < H; y++) {
    const o = c * cs + y * ys, p = y * W;
    for (let x = 0; x < W; x++) plane[p + x] = data[o + x * xs];
  }
  return plane;
}
