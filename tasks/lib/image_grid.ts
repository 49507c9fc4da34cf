/**
 * Images out of a run: a batch of NCHW float images tiled into one 8-bit grid (the layout of
 * torchvision's `make_grid` + `save_image`; PNG coding is util/png.ts), and
 * one-PNG-per-image class folders (the `ImageFolder` layout) that never overwrite a file.
 *
 * @example
 * ```ts
 * const x = await samples.data(); // [16, 1, 28, 28] in [-1, 1]
 * await savePng(`${run.samplesDir}/step-1000.png`, imageGrid(x as Float32Array, [16, 1, 28, 28], { nrow: 4 }));
 * ```
 *
 * @module
 */
import { encodePng, type Raster } from "../../util/png.ts";
import { writeNew } from "../../train/run_dir.ts";
import { joinPath } from "../../util/path.ts";

/**
 * How float values map to 0…255: `[lo, hi]` maps lo→0 and hi→255 (values outside are clamped);
 * `"minmax"` uses the batch's own min and max, `"minmax-each"` each image's.
 */
export type ValueRange = readonly [number, number] | "minmax" | "minmax-each";

/** Options of {@linkcode imageGrid}. */
export interface ImageGridOptions {
  /** Images per row (default 8). */
  nrow?: number;
  /** Pixels of padding around and between images (default 2). */
  padding?: number;
  /** Padding value on the output scale, 0 (black) … 1 (white) (default 0). */
  padValue?: number;
  /** Value range of the input (default `[-1, 1]`, the range diffusion models produce). */
  range?: ValueRange;
}

function checkShape(op: string, data: ArrayLike<number>, shape: readonly number[]): [number, number, number, number] {
  if (!Array.isArray(shape) || (shape.length !== 3 && shape.length !== 4)) {
    throw new TypeError(`${op}: shape must be [N, C, H, W] or [C, H, W], got ${JSON.stringify(shape)}`);
  }
  const s = shape.length === 3 ? [1, ...shape] : [...shape];
  if (!s.every((d) => Number.isInteger(d) && d > 0)) {
    throw new TypeError(`${op}: shape must hold positive integers, got ${JSON.stringify(shape)}`);
  }
  const [n, c, h, w] = s;
  if (c < 1 || c > 4) throw new TypeError(`${op}: images must have 1 to 4 channels, got C = ${c} in shape [${shape}]`);
  if (data.length !== n * c * h * w) {
    throw new TypeError(`${op}: data has ${data.length} values, shape [${shape}] needs ${n * c * h * w}`);
  }
  return [n, c, h, w];
}

function rangeOf(data: ArrayLike<number>, from: number, to: number): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let i = from; i < to; i++) {
    const v = data[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : [0, 1];
}

/** Maps v from [lo, hi] to a byte: clamp((v - lo) / (hi - lo)) * 255, rounded half up; NaN → 0. */
function toByte(v: number, lo: number, scale: number): number {
  const t = (v - lo) * scale;
  if (!(t > 0)) return 0;
  if (t >= 1) return 255;
  return Math.floor(t * 255 + 0.5);
}

function rangeFor(op: string, range: ValueRange, data: ArrayLike<number>, from: number, to: number): [number, number] {
  if (range === "minmax-each") return rangeOf(data, from, to);
  if (range === "minmax") return rangeOf(data, 0, data.length);
  if (!Array.isArray(range) || range.length !== 2 || !(range[1] > range[0])) {
    throw new TypeError(
      `${op}: range must be [lo, hi] with lo < hi, "minmax" or "minmax-each", got ${JSON.stringify(range)}`,
    );
  }
  return [range[0], range[1]];
}

/**
 * Tiles `N` images (NCHW floats) into one 8-bit HWC raster, `nrow` per row, with `padding` pixels
 * of `padValue` around and between them: width `min(nrow, N) * (W + padding) + padding`, height
 * `ceil(N / nrow) * (H + padding) + padding` (torchvision's `make_grid` layout; unlike it, a
 * single image is padded too). Empty cells of the last row stay `padValue`.
 */
export function imageGrid(images: ArrayLike<number>, shape: readonly number[], opts: ImageGridOptions = {}): Raster {
  const [n, c, h, w] = checkShape("imageGrid", images, shape);
  const nrow = opts.nrow ?? 8;
  const padding = opts.padding ?? 2;
  const padValue = opts.padValue ?? 0;
  const range = opts.range ?? [-1, 1];
  if (!Number.isInteger(nrow) || nrow < 1) {
    throw new TypeError(`imageGrid: nrow must be a positive integer, got ${nrow}`);
  }
  if (!Number.isInteger(padding) || padding < 0) {
    throw new TypeError(`imageGrid: padding must be a non-negative integer, got ${padding}`);
  }
  if (!(padValue >= 0 && padValue <= 1)) throw new TypeError(`imageGrid: padValue must be in [0, 1], got ${padValue}`);
  const cols = Math.min(nrow, n);
  const rows = Math.ceil(n / cols);
  const width = cols * (w + padding) + padding;
  const height = rows * (h + padding) + padding;
  const out = new Uint8Array(width * height * c).fill(Math.floor(padValue * 255 + 0.5));
  const plane = h * w;
  for (let k = 0; k < n; k++) {
    const base = k * c * plane;
    const [lo, hi] = rangeFor("imageGrid", range, images, base, base + c * plane);
    const scale = hi > lo ? 1 / (hi - lo) : 0;
    const x0 = (k % cols) * (w + padding) + padding;
    const y0 = Math.floor(k / cols) * (h + padding) + padding;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = ((y0 + y) * width + x0 + x) * c;
        for (let ch = 0; ch < c; ch++) out[o + ch] = toByte(images[base + ch * plane + y * w + x], lo, scale);
      }
    }
  }
  return { data: out, width, height, channels: c };
}

/** One image (CHW floats, or `[N, C, H, W]` with `index`) as an 8-bit raster without padding. */
export function imageToRaster(
  images: ArrayLike<number>,
  shape: readonly number[],
  opts: { range?: ValueRange; index?: number } = {},
): Raster {
  const [n, c, h, w] = checkShape("imageToRaster", images, shape);
  const index = opts.index ?? 0;
  if (!Number.isInteger(index) || index < 0 || index >= n) {
    throw new RangeError(`imageToRaster: index must be an integer in [0, ${n}), got ${index}`);
  }
  const plane = h * w;
  const base = index * c * plane;
  const [lo, hi] = rangeFor("imageToRaster", opts.range ?? [-1, 1], images, base, base + c * plane);
  const scale = hi > lo ? 1 / (hi - lo) : 0;
  const out = new Uint8Array(plane * c);
  for (let p = 0; p < plane; p++) {
    for (let ch = 0; ch < c; ch++) out[p * c + ch] = toByte(images[base + ch * plane + p], lo, scale);
  }
  return { data: out, width: w, height: h, channels: c };
}

/** Options of {@linkcode saveImageFolder}. */
export interface SaveImageFolderOptions {
  /** Value range of the input (default `[-1, 1]`). */
  range?: ValueRange;
  /** File name prefix (default `img_`). */
  prefix?: string;
  /** Number of the first image in the file names (default 0), e.g. to continue an earlier call. */
  startIndex?: number;
  /** Digits of the zero-padded number (default 6). */
  digits?: number;
  /** PNGs encoded at once (default 4). */
  concurrency?: number;
}

const SAFE_NAME = /^[^\\/\0]+$/;

/**
 * The folder (and file-name part) a class name gets in written image folders and figures:
 * runs of characters other than letters, digits, `.`, `_` and `-` become `_`. Readers of those
 * folders map the data's class names through it.
 */
export function classFolderName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, "_");
}

/**
 * Writes each image (NCHW floats) as its own PNG in the sub-folder of its class:
 * `<dir>/<classNames[label]>/<prefix><number>.png`, the layout an image-folder dataset reads.
 * No file is ever overwritten: where a name is taken, `-1`, `-2`, … is added before `.png`.
 * Returns the paths written, in image order.
 */
export async function saveImageFolder(
  dir: string,
  images: ArrayLike<number>,
  shape: readonly number[],
  labels: ArrayLike<number>,
  classNames: readonly string[],
  opts: SaveImageFolderOptions = {},
): Promise<string[]> {
  const [n] = checkShape("saveImageFolder", images, shape);
  if (typeof dir !== "string" || dir === "") throw new TypeError("saveImageFolder: dir must be a non-empty string");
  if (labels.length !== n) throw new TypeError(`saveImageFolder: ${n} images but ${labels.length} labels`);
  for (const name of classNames) {
    if (typeof name !== "string" || !SAFE_NAME.test(name) || name === "." || name === "..") {
      throw new TypeError(`saveImageFolder: class name ${JSON.stringify(name)} cannot be a folder name`);
    }
  }
  const prefix = opts.prefix ?? "img_";
  if (/[\\/]/.test(prefix)) throw new TypeError(`saveImageFolder: prefix must not contain / or \\, got ${prefix}`);
  const start = opts.startIndex ?? 0;
  const digits = opts.digits ?? 6;
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    if (!Number.isInteger(l) || l < 0 || l >= classNames.length) {
      throw new RangeError(`saveImageFolder: labels[${i}] = ${l} is not a class index in [0, ${classNames.length})`);
    }
  }
  for (const name of new Set(Array.from(labels, (l) => classNames[l]))) {
    await Deno.mkdir(joinPath(dir, name), { recursive: true });
  }
  const paths = new Array<string>(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const png = await encodePng(imageToRaster(images, shape, { range: opts.range, index: i }));
      const stem = joinPath(dir, classNames[labels[i]], prefix + String(start + i).padStart(digits, "0"));
      for (let k = 0;; k++) {
        const path = k === 0 ? `${stem}.png` : `${stem}-${k}.png`;
        if (await writeNew(path, png)) {
          paths[i] = path;
          break;
        }
        if (k >= 100000) throw new Error(`saveImageFolder: no free file name for ${stem}.png`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return paths;
}
