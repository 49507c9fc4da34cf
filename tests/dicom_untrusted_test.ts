/**
 * DICOM files that must not be trusted, made here: attributes declaring far more pixels than
 * the limit (RLE 65535×65535×3, native multi-frame), a deflated data set that inflates to far more
 * than the limit, RLE frames too short for what they declare, float pixel data holding NaN/Inf
 * and a rescale that overflows float32.
 */
import { deflateSync } from "fflate";
import { parseDicom, readDicom } from "../datasets/dicom.ts";
import { DatasetError, SizeLimitError } from "../datasets/types.ts";
import { formatBytes } from "../util/errors.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { captureWarnings } from "./_util.ts";
import { concat, el, encapsulated, imageAttrs, leBytes, part10 } from "./_dicom_writer.ts";

const EXPLICIT_LE = "1.2.840.10008.1.2.1";
const DEFLATED_LE = "1.2.840.10008.1.2.1.99";
const RLE = "1.2.840.10008.1.2.5";

/** `fn`'s error, and how long it took to come, in milliseconds. */
function timedThrow<E extends Error>(fn: () => unknown, cls: new (...a: never[]) => E, includes: string): [E, number] {
  const t0 = performance.now();
  const err = assertThrows(fn, cls, includes) as E;
  return [err, performance.now() - t0];
}

/** A 3-segment RLE frame header followed by a few bytes: far too short for a big frame. */
function tinyRleFrame(): Uint8Array {
  const f = new Uint8Array(72);
  const dv = new DataView(f.buffer);
  dv.setUint32(0, 3, true);
  [64, 66, 68].forEach((o, s) => dv.setUint32(4 + 4 * s, o, true));
  f.set([0x81, 0, 0x81, 0, 0x81, 0], 64);
  return f;
}

Deno.test("dicom untrusted: RLE declaring 65535×65535×3 is a SizeLimitError naming the file and fields", async () => {
  const file = part10(RLE, [
    ...imageAttrs({ rows: 65535, columns: 65535, spp: 3, bits: 8 }),
    encapsulated([tinyRleFrame()], false),
  ]);
  const dir = await Deno.makeTempDir({ prefix: "meddiff_dicom_huge_" });
  try {
    const path = `${dir}/huge_rle.dcm`;
    await Deno.writeFile(path, file);
    const t0 = performance.now();
    const err = await assertRejects(() => readDicom(path), SizeLimitError, `${path}: Rows × Columns`) as SizeLimitError;
    const ms = performance.now() - t0;
    const stored = 65535 * 65535 * 3;
    assertEquals(err.declared, stored + 4 * stored);
    assertEquals(err.field, "(0028,0010) Rows, (0028,0011) Columns, (0028,0002) Samples per Pixel");
    assert(err.message.includes(formatBytes(err.declared)) && err.message.includes(formatBytes(err.limit)));
    // With the limit raised out of the way, the frame is still too short to hold what it
    // declares: a DatasetError before anything is allocated, not a bare RangeError.
    const [err2, ms2] = timedThrow(
      () => parseDicom(file, "huge_rle.dcm", { maxDecodedBytes: 2 ** 50 }),
      DatasetError,
      "huge_rle.dcm: frame 1: RLE: the frame has 72 bytes",
    );
    assert(!(err2 instanceof SizeLimitError));
    assert(ms < 500 && ms2 < 500, `took ${ms}, ${ms2} ms`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dicom untrusted: a native multi-frame file declaring too much fails before allocating", () => {
  const file = part10(EXPLICIT_LE, [
    ...imageAttrs({ rows: 4096, columns: 4096, frames: 100, bits: 16 }),
    el(0x7fe0, 0x0010, "OW", leBytes([1, 2, 3, 4], 16)),
  ]);
  const [err] = timedThrow(() => parseDicom(file, "frames.dcm"), SizeLimitError, "frames.dcm: Rows × Columns");
  assert(err.message.includes("4096×4096×100×1 samples of 16 bits"), err.message);
  assertEquals(err.field, "(0028,0010) Rows, (0028,0011) Columns, (0028,0008) Number of Frames");
});

Deno.test("dicom untrusted: a deflated data set inflates under the limit", () => {
  // 8 MiB of zero pixels deflate to ~8 KB
  const body = concat([
    ...imageAttrs({ rows: 2048, columns: 2048, bits: 16 }),
    el(0x7fe0, 0x10, "OW", new Uint8Array(8 << 20)),
  ]);
  const bomb = part10(DEFLATED_LE, [deflateSync(body)]);
  assert(bomb.length < 100_000, `${bomb.length} bytes`);
  const [err, ms] = timedThrow(
    () => parseDicom(bomb, "bomb.dcm", { maxDecodedBytes: 1 << 20 }),
    SizeLimitError,
    "bomb.dcm: the deflated data set: the compressed data inflates to more than",
  );
  assertEquals(err.limit, 1 << 20);
  assert(ms < 1000, `took ${ms} ms`);
  // a small deflated file reads under a small limit
  const values = [1, -2, 300, -400, 5, 6];
  const good = part10(DEFLATED_LE, [
    deflateSync(concat([
      ...imageAttrs({ rows: 2, columns: 3, bits: 16, signed: true }),
      el(0x7fe0, 0x10, "OW", leBytes(values, 16)),
    ])),
  ]);
  assertEquals(Array.from(parseDicom(good, "good.dcm", { maxDecodedBytes: 4096 }).pixels), values);
  // whatever the preamble holds (it used to be parsed as elements in front of the inflated data)
  good.fill(0xff, 0, 128);
  assertEquals(Array.from(parseDicom(good, "preamble.dcm").pixels), values);
});

Deno.test("dicom untrusted: NaN/Inf pixels and an overflowing rescale warn by default, fail on request", async () => {
  const floats = part10(EXPLICIT_LE, [
    ...imageAttrs({ rows: 1, columns: 4, bits: 32 }).slice(0, 8),
    el(0x7fe0, 0x0008, "OF", new Uint8Array(Float32Array.from([1, NaN, -Infinity, 2]).buffer)),
  ]);
  const said = await captureWarnings(() => parseDicom(floats, "nan.dcm"));
  assertEquals(said.length, 1);
  assert(said[0].startsWith("nan.dcm: 2 of 4 values are NaN or ±Inf as stored"), said[0]);
  assert(said[0].includes("(7FE0,0008) Float Pixel Data"), said[0]);
  const err = assertThrows(
    () => parseDicom(floats, "nan.dcm", { nonFinite: "error" }),
    DatasetError,
    "nan.dcm: 2 of 4",
  );
  assertEquals((err as DatasetError).field, "(7FE0,0008) Float Pixel Data");
  assertEquals(await captureWarnings(() => parseDicom(floats, "nan.dcm", { nonFinite: "ignore" })), []);

  const scaled = part10(EXPLICIT_LE, [
    ...imageAttrs({ rows: 1, columns: 4, bits: 16 }),
    el(0x28, 0x1052, "DS", "0"),
    el(0x28, 0x1053, "DS", "3e38"),
    el(0x7fe0, 0x0010, "OW", leBytes([0, 1, 2, 3], 16)),
  ]);
  const said2 = await captureWarnings(() => parseDicom(scaled, "slope.dcm"));
  assertEquals(said2.length, 1);
  assert(
    said2[0].startsWith("slope.dcm: 2 of 4 values are NaN or ±Inf after rescaling by Rescale Slope 3e+38"),
    said2[0],
  );
  const err2 = assertThrows(() => parseDicom(scaled, "slope.dcm", { nonFinite: "error" }), DatasetError, "2 of 4");
  assertEquals((err2 as DatasetError).field, "(0028,1053) Rescale Slope");
  assertEquals(await captureWarnings(() => parseDicom(scaled, "slope.dcm", { rescale: false })), []);
});
