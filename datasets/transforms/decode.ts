/**
 * Decoding as a transform: {@linkcode decodeImage} turns a sample whose image is a file path or
 * encoded bytes (PNG, JPEG, TIFF, WebP, ...) into a uint8 HWC {@linkcode Raster} with `sharp`;
 * {@linkcode decodeRaster} is the same step as a plain function. A sample that already holds a
 * raster passes through (converted to the requested channel count).
 *
 * Files are untrusted: the header's width × height × channels is checked against the decode
 * limit (`maxDecodedBytes`, see `util/limits.ts`) before any pixel is decoded, so a small PNG
 * that declares 100000×100000 pixels fails at once with a {@linkcode SizeLimitError}; any decoder
 * failure (empty, truncated, corrupt or non-image files) is a {@linkcode DatasetError} naming the file.
 * @module
 */
import type { Metadata, OutputInfo } from "sharp";
import { loadSharp } from "../../util/sharp.ts";
import { checkDeclaredSize, decodeLimit, type DecodeLimitOptions } from "../../util/limits.ts";
import type { Rng } from "../../util/rng.ts";
import { DatasetError, type Raster, type Sample, type Transform } from "../types.ts";
import { isRaster } from "./_image.ts";

/** What {@linkcode decodeRaster} reads: a file path, or the encoded bytes of an image file. */
export type ImageSource = string | Uint8Array | ArrayBuffer;

/** Options of {@linkcode decodeImage} and {@linkcode decodeRaster}. */
export interface DecodeOptions extends DecodeLimitOptions {
  /** 1 (greyscale) or 3 (sRGB) channels, alpha dropped; default: as stored in the file. */
  channels?: 1 | 3;
}

/** Throws a RangeError naming `op` unless `channels` is 1, 3 or undefined. */
export function checkChannels(channels: unknown, op: string): void {
  if (channels !== undefined && channels !== 1 && channels !== 3) {
    throw new RangeError(`${op}: channels must be 1 or 3 (or left out to keep the file's), got ${channels}`);
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Bytes per sample of sharp's band formats (libvips decodes at this depth before converting). */
const DEPTH_BYTES: Record<string, number> = { ushort: 2, short: 2, uint: 4, int: 4, float: 4, complex: 8, double: 8 };

/**
 * Throws a {@linkcode SizeLimitError} naming `name` when the pixels an image header declares
 * (width × height × channels × bytes per sample) exceed `limit` bytes.
 */
export function checkImageHeader(name: string, meta: Metadata, limit: number): void {
  const { width = 0, height = 0, channels = 3 } = meta;
  const depth = DEPTH_BYTES[meta.depth ?? "uchar"] ?? 1;
  const of = depth > 1 ? ` of ${8 * depth}-bit samples` : "";
  const what = `the image header declares ${width}×${height} pixels × ${channels} channels${of}:`;
  checkDeclaredSize(name, what, width * height * channels * depth, limit, "dimensions");
}

/** The problem when sharp fails on `source` while doing `what`; an empty file is named as such. */
async function failure(source: string | Uint8Array, what: string, e: unknown): Promise<string> {
  let empty = typeof source !== "string" && source.length === 0;
  if (typeof source === "string") {
    try {
      empty = (await Deno.stat(source)).size === 0;
    } catch {
      // Missing or unreadable: sharp's message says so.
    }
  }
  return empty ? "empty file (0 bytes): not an image" : `${what} (${message(e)})`;
}

/**
 * Reads an image's header with sharp and checks its size against the decode limit; a file
 * sharp cannot read is a {@linkcode DatasetError} naming `name` ("cannot read the image header").
 */
export async function readImageHeader(source: string | Uint8Array, name: string, limit: number): Promise<Metadata> {
  const sharp = await loadSharp();
  let meta: Metadata;
  try {
    // No pixel cap here: the header holds no pixels, and checkImageHeader applies the limit.
    meta = await sharp(source, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new DatasetError(name, await failure(source, "cannot read the image header", e), { cause: e });
  }
  checkImageHeader(name, meta, limit);
  return meta;
}

/**
 * Decodes a file path or encoded bytes into a uint8 HWC {@linkcode Raster} (16-bit images are
 * scaled to 8 bits). With `channels`, the image is converted to sRGB by sharp (alpha dropped),
 * and for `channels: 1` reduced to the luma 0.299 R + 0.587 G + 0.114 B of the sRGB values, as
 * PIL's `convert("L")` and torchvision's `rgb_to_grayscale` compute it (sharp's own greyscale
 * works in linear light and gives brighter greys for saturated colours). A missing, corrupt or
 * truncated file throws a {@linkcode DatasetError} naming `name` (default: the path, or
 * `"<bytes>"`).
 */
export async function decodeRaster(
  source: ImageSource,
  options: DecodeOptions & { name?: string } = {},
): Promise<Raster> {
  checkChannels(options.channels, "decodeRaster");
  const limit = decodeLimit(options.maxDecodedBytes);
  const name = options.name ?? (typeof source === "string" ? source : "<bytes>");
  if (typeof source !== "string" && !(source instanceof Uint8Array) && !(source instanceof ArrayBuffer)) {
    throw new TypeError(`decodeRaster: ${name}: expected a file path or encoded bytes, got ${typeof source}`);
  }
  const input = source instanceof ArrayBuffer ? new Uint8Array(source) : source;
  let result: { data: Uint8Array; info: OutputInfo };
  const sharp = await loadSharp();
  try {
    // sharp's own pixel cap is lifted: the header is checked against the decode limit first.
    let img = sharp(input, { failOn: "warning", limitInputPixels: false });
    const m = await img.metadata();
    checkImageHeader(name, m, limit);
    if (options.channels !== undefined) img = img.removeAlpha().toColourspace("srgb");
    // sharp outputs sRGB by default; keep a greyscale file (with or without alpha) grey.
    else if ((m.channels ?? 3) - (m.hasAlpha ? 1 : 0) === 1) img = img.toColourspace("b-w");
    result = await img.raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    throw new DatasetError(name, await failure(input, "cannot decode the image", e), { cause: e });
  }
  const { data, info } = result;
  const raster: Raster = {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
    channels: info.channels,
  };
  return options.channels === undefined ? raster : convertChannels(raster, options.channels);
}

/**
 * A raster with `channels` channels: grey → RGB repeats the value; RGB(A) → grey is the luma
 * 0.299 R + 0.587 G + 0.114 B (rounded for uint8); alpha is dropped.
 */
export function convertChannels(raster: Raster, channels: 1 | 3): Raster {
  checkChannels(channels, "convertChannels");
  const { data, width, height, channels: c } = raster;
  if (c === channels) return raster;
  if (c < 1 || c > 4) throw new RangeError(`convertChannels: expected a raster of 1 to 4 channels, got ${c}`);
  const n = width * height;
  const out = data instanceof Uint8Array ? new Uint8Array(n * channels) : new Float32Array(n * channels);
  const round = data instanceof Uint8Array;
  for (let p = 0; p < n; p++) {
    const i = p * c;
    if (channels === 3) {
      if (c <= 2) out[3 * p] = out[3 * p + 1] = out[3 * p + 2] = data[i];
      else {
        out[3 * p] = data[i];
        out[3 * p + 1] = data[i + 1];
        out[3 * p + 2] = data[i + 2];
      }
    } else {
      const v = c <= 2 ? data[i] : 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
      out[p] = round ? Math.round(v) : v;
    }
  }
  return { data: out, width, height, channels };
}

/**
 * Decodes `sample.image` — a file path or encoded bytes — into a uint8 HWC raster with `sharp`.
 * Errors name the file: the path, else `sample.meta.path`, else `sample.id`. A sample that
 * already holds a raster passes through, converted to `channels` when they differ.
 */
export function decodeImage(options: DecodeOptions = {}): Transform<Sample<unknown>, Sample<Raster>> {
  checkChannels(options.channels, "decodeImage");
  const { channels, maxDecodedBytes } = options;
  return async (sample: Sample<unknown>, _rng: Rng): Promise<Sample<Raster>> => {
    const src = sample.image;
    if (isRaster(src)) return { ...sample, image: channels ? convertChannels(src, channels) : src };
    const metaPath = typeof sample.meta?.path === "string" ? sample.meta.path : undefined;
    const name = typeof src === "string" ? src : metaPath ?? sample.id ?? "<bytes>";
    if (typeof src !== "string" && !(src instanceof Uint8Array) && !(src instanceof ArrayBuffer)) {
      throw new TypeError(
        `decodeImage: ${name}: expected sample.image to be a file path, encoded bytes or a Raster, got ` +
          (src === null ? "null" : typeof src === "object" ? `an object with keys {${Object.keys(src)}}` : typeof src),
      );
    }
    return { ...sample, image: await decodeRaster(src, { channels, name, maxDecodedBytes }) };
  };
}
