/**
 * PNG coding through sharp: 8-bit {@linkcode Raster}s to PNG bytes and back (any format sharp
 * reads decodes), and atomic PNG files.
 * @module
 */
import { writeFileAtomic } from "./io.ts";
import type { Raster as AnyRaster } from "./raster.ts";
import { loadSharp } from "./sharp.ts";

/** An 8-bit image (the shared HWC raster with uint8 pixels), rows top to bottom. */
export type Raster = AnyRaster & { data: Uint8Array };

function checkRaster(op: string, r: Raster): void {
  if (!r || !(r.data instanceof Uint8Array)) throw new TypeError(`${op}: raster.data must be a Uint8Array`);
  if (![1, 2, 3, 4].includes(r.channels)) {
    throw new TypeError(`${op}: raster.channels must be 1 to 4, got ${r.channels}`);
  }
  if (!Number.isInteger(r.width) || !Number.isInteger(r.height) || r.width < 1 || r.height < 1) {
    throw new TypeError(`${op}: raster width and height must be positive integers, got ${r.width}x${r.height}`);
  }
  if (r.data.length !== r.width * r.height * r.channels) {
    throw new TypeError(
      `${op}: raster.data has ${r.data.length} bytes, ${r.width}x${r.height}x${r.channels} needs ${
        r.width * r.height * r.channels
      }`,
    );
  }
}

/** Encodes a raster as PNG bytes (lossless; 1-channel rasters as grayscale PNG). */
export async function encodePng(raster: Raster): Promise<Uint8Array> {
  checkRaster("encodePng", raster);
  const channels = raster.channels as 1 | 2 | 3 | 4;
  const sharp = await loadSharp();
  let img = sharp(raster.data, { raw: { width: raster.width, height: raster.height, channels } });
  if (channels <= 2) img = img.toColourspace("b-w"); // a grayscale PNG, not RGB
  const buf = await img.png().toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function size(info: { width: number; height: number }): { width: number; height: number } {
  return { width: info.width, height: info.height };
}

/** Decodes PNG (or any format sharp reads) bytes or a file into an 8-bit raster. */
export async function decodePng(input: Uint8Array | string): Promise<Raster> {
  let bytes: Uint8Array;
  if (typeof input === "string") {
    try {
      bytes = await Deno.readFile(input);
    } catch (e) {
      throw new Error(`decodePng: cannot read ${input}: ${(e as Error).message}`);
    }
  } else bytes = input;
  const sharp = await loadSharp();
  try {
    const meta = await sharp(bytes).metadata();
    const gray = meta.space === "b-w" || meta.channels === 1;
    if (gray && meta.channels === 1) {
      const { data, info } = await sharp(bytes).toColourspace("b-w").raw().toBuffer({ resolveWithObject: true });
      return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), ...size(info), channels: 1 };
    }
    const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
    const all = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (gray && meta.channels === 2 && info.channels === 4) { // gray + alpha comes out as RGBA: keep G and A
      const out = new Uint8Array(info.width * info.height * 2);
      for (let p = 0; p < info.width * info.height; p++) {
        out[2 * p] = all[4 * p];
        out[2 * p + 1] = all[4 * p + 3];
      }
      return { data: out, ...size(info), channels: 2 };
    }
    return { data: all, ...size(info), channels: info.channels };
  } catch (e) {
    const what = typeof input === "string" ? input : "the bytes";
    throw new Error(`decodePng: cannot decode ${what}: ${(e as Error).message}`);
  }
}

/** Writes a raster as a PNG file, atomically (temporary file + rename). */
export async function savePng(path: string, raster: Raster): Promise<void> {
  await writeFileAtomic(path, await encodePng(raster));
}
