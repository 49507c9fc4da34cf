/**
 * The last steps before batching: {@linkcode toTensor} (HWC raster → CHW float32 array in
 * [0, 1]) and {@linkcode normalize} (per-channel `(x − mean) / std`). They commute: normalising
 * a uint8 raster first scales it by 1/255, so `normalize → toTensor` and `toTensor → normalize`
 * give the same array.
 * @module
 */
import type { Rng } from "../../util/rng.ts";
import type { ArrayImage, Raster, Sample, Transform } from "../types.ts";
import { imageTransform, isArrayImage, isRaster, viewImage } from "./_image.ts";

/** ImageNet channel means (RGB), for models pretrained on ImageNet. */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
/** ImageNet channel standard deviations (RGB). */
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

function perChannel(v: number | readonly number[], channels: number, what: string): number[] {
  const a = typeof v === "number" ? [v] : [...v];
  if (a.length === 1) return new Array(channels).fill(a[0]);
  if (a.length !== channels) {
    throw new RangeError(`normalize: ${what} has ${a.length} values, the image has ${channels} channels`);
  }
  return a;
}

/**
 * `(x − mean[c]) / std[c]` per channel (one value, or one per channel), as float32. uint8
 * rasters are first scaled to [0, 1] (÷255); float rasters and arrays are used as they are.
 * A raster stays an HWC raster (now float32); an array stays an array.
 */
export function normalize(
  mean: number | readonly number[],
  std: number | readonly number[],
): Transform<Sample, Sample> {
  for (const [v, what] of [[mean, "mean"], [std, "std"]] as const) {
    const a: readonly unknown[] = typeof v === "number" ? [v] : Array.isArray(v) ? v : [];
    if (a.length === 0 || a.some((x) => typeof x !== "number" || !Number.isFinite(x))) {
      throw new RangeError(`normalize: ${what} must be a finite number or a non-empty array of them, got ${v}`);
    }
  }
  if ((typeof std === "number" ? [std] : std).some((s) => s === 0)) {
    throw new RangeError(`normalize: std must not contain 0, got ${std}`);
  }
  return imageTransform("normalize", (img) => {
    const m = perChannel(mean, img.channels, "mean"), s = perChannel(std, img.channels, "std");
    const scale = img.data instanceof Uint8Array ? 1 / 255 : 1;
    const out = new Float32Array(img.data.length);
    const n = img.width * img.height;
    if (img.kind === "raster") {
      const C = img.channels;
      for (let c = 0; c < C; c++) {
        const a = scale / s[c], b = -m[c] / s[c];
        for (let p = 0; p < n; p++) out[p * C + c] = img.data[p * C + c] * a + b;
      }
    } else {
      for (let c = 0; c < img.channels; c++) {
        const a = scale / s[c], b = -m[c] / s[c];
        for (let p = c * n; p < (c + 1) * n; p++) out[p] = img.data[p] * a + b;
      }
    }
    return { ...img, data: out };
  });
}

/** An HWC raster as a CHW float32 array: uint8 values ÷ 255 (so in [0, 1]), float values copied. */
export function rasterToArray(raster: Raster): ArrayImage {
  const img = viewImage(raster, "rasterToArray");
  const { width: W, height: H, channels: C, data } = img;
  const n = W * H;
  const out = new Float32Array(n * C);
  const scale = data instanceof Uint8Array ? 1 / 255 : 1;
  for (let c = 0; c < C; c++) {
    const o = c * n;
    for (let p = 0; p < n; p++) out[o + p] = data[p * C + c] * scale;
  }
  return { data: out, shape: [C, H, W] };
}

/**
 * torchvision's `ToTensor` for rasters: HWC → CHW float32, uint8 ÷ 255. A sample whose image
 * is already an {@linkcode ArrayImage} (2D or a volume) passes through unchanged.
 */
export function toTensor(): Transform<Sample, Sample<ArrayImage>> {
  return (sample: Sample, _rng: Rng): Sample<ArrayImage> => {
    const image = sample?.image;
    if (isRaster(image)) return { ...sample, image: rasterToArray(image) };
    if (isArrayImage(image)) return sample as Sample<ArrayImage>;
    viewImage(image, "toTensor"); // throws an error that says what the image was
    throw new TypeError("toTensor: expected a Raster or an ArrayImage");
  };
}
