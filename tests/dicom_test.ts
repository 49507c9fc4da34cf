/**
 * DICOM reader and RLE codec: small files written by pydicom (bit depths 1/8/16/32, signed and
 * unsigned, BitsStored masking, rescale, implicit/explicit/big-endian/deflated syntaxes, planar
 * configuration, multi-frame, RLE) checked against pydicom's pixel arrays
 * (`scripts/make_medical_fixtures.py` → `tests/fixtures/medical.json`); files built here byte by
 * byte (RLE round trips, float pixel data, functional-group rescale, bare data sets); corrupt
 * copies; the VOI window; and the real pydicom samples in `../shared/data/dicom/pydicom`.
 */
import { applyWindow, parseDicom, readDicom, transferSyntaxName } from "../datasets/dicom.ts";
import { decodeRleFrame, encodeRleFrame, RleError, type RleFrameInfo } from "../datasets/dicom_rle.ts";
import { Rng } from "../util/rng.ts";
import { DatasetError } from "../datasets/types.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { needsSharedData, sharedDataPath } from "./_shared_data.ts";
import { skippableTest } from "./_skip.ts";
import { concat, el, encapsulated, imageAttrs, leBytes, part10, sq, te } from "./_dicom_writer.ts";

const FIXTURES = new URL("./fixtures/medical/", import.meta.url);
const fixturePath = (name: string): string => new URL(name, FIXTURES).pathname;

interface DicomCase {
  file: string;
  note: string;
  transferSyntax: string;
  rows: number;
  columns: number;
  frames: number;
  samplesPerPixel: number;
  pixels: number[];
}

interface RealCase {
  shape: number[];
  sum: number;
  weightedSum: number;
  min: number;
  max: number;
  percentile1: number;
  samples: [number, number][];
}

const REF = JSON.parse(Deno.readTextFileSync(new URL("./fixtures/medical.json", import.meta.url))) as {
  dicom: DicomCase[];
  dicomReal: Record<string, RealCase>;
};

function assertNear(actual: number, expected: number, rtol: number, what: string): void {
  assert(
    Math.abs(actual - expected) <= rtol * Math.max(1, Math.abs(expected)),
    `${what}: got ${actual}, expected ${expected}`,
  );
}

// ------------------------------------------------------------------ pydicom fixtures

Deno.test("dicom: pydicom-written files decode to pydicom's pixel arrays", async () => {
  assert(REF.dicom.length >= 15, "fixture cases");
  for (const c of REF.dicom) {
    const img = await readDicom(fixturePath(c.file));
    const what = `${c.file} (${c.note})`;
    assertEquals(
      [img.rows, img.columns, img.frames, img.samplesPerPixel],
      [c.rows, c.columns, c.frames, c.samplesPerPixel],
      what,
    );
    assertEquals(img.meta.transferSyntaxUID, c.transferSyntax, what);
    assertEquals(img.pixels.length, c.pixels.length, `${what}: pixel count`);
    for (let i = 0; i < c.pixels.length; i++) {
      // float32 output: exact up to 2^24, then within an ulp
      assertNear(img.pixels[i], c.pixels[i], 1.2e-7, `${what}: pixel ${i}`);
    }
  }
});

Deno.test("dicom: meta keeps windows, rescale and geometry, and no patient identifiers by default", async () => {
  const path = fixturePath("ct_s12_rescale_le.dcm");
  const img = await readDicom(path);
  const m = img.meta;
  assertEquals([m.modality, m.rescaleSlope, m.rescaleIntercept, m.rescaleType], ["CT", 2, -1024, "HU"]);
  assertEquals([m.windowCenter, m.windowWidth], [[40, 400], [400, 2000]]);
  assertEquals([m.pixelSpacing, m.sliceThickness], [[0.5, 0.75], 2]);
  assertEquals([m.bitsAllocated, m.bitsStored, m.highBit, m.pixelRepresentation], [16, 12, 11, 1]);
  assertEquals(m.transferSyntaxName, "Explicit VR Little Endian");
  const text = JSON.stringify(m);
  assert(!text.includes("Fixture") && !text.includes("FIXTURE-0001"), `no patient name/ID in meta: ${text}`);
  assert(!("patientName" in m) && !("sopInstanceUID" in m), "identifier keys absent");
  const withIds = await readDicom(path, { includeIdentifiers: true });
  assertEquals([withIds.meta.patientName, withIds.meta.patientID], ["Fixture^Synthetic", "FIXTURE-0001"]);
  assert(typeof withIds.meta.sopInstanceUID === "string", "SOP instance UID with includeIdentifiers");
  // rescale: false gives the stored values
  const stored = await readDicom(path, { rescale: false });
  assertEquals([stored.meta.rescaleSlope, stored.meta.rescaleIntercept], [1, 0]);
  for (let i = 0; i < img.pixels.length; i++) assertEquals(img.pixels[i], stored.pixels[i] * 2 - 1024);
  assert(stored.pixels.every((v) => v >= -2048 && v <= 2047), "12-bit signed range");
  const mono1 = await readDicom(fixturePath("u8_mono1_implicit.dcm"));
  assertEquals([mono1.meta.photometricInterpretation, mono1.meta.transferSyntaxName], [
    "MONOCHROME1",
    "Implicit VR Little Endian",
  ]);
  const rgb = await readDicom(fixturePath("rgb_planar1_2frames.dcm"));
  assertEquals([rgb.meta.planarConfiguration, rgb.meta.photometricInterpretation], [1, "RGB"]);
});

Deno.test("dicom: unsupported codecs name the file and the transfer syntax", async () => {
  const path = fixturePath("jpeg_baseline_stub.dcm");
  const err = await assertRejects(
    () => readDicom(path),
    DatasetError,
    "JPEG Baseline (Process 1) (1.2.840.10008.1.2.4.50) is not supported",
  );
  assert(err.message.startsWith(path) && err.message.includes("gdcmconv"), err.message);
  const unknown = part10("1.2.3.4.99", [...imageAttrs({ rows: 1, columns: 1, bits: 8 })]);
  assertThrows(() => parseDicom(unknown, "odd.dcm"), DatasetError, "transfer syntax 1.2.3.4.99 (unknown UID)");
  assertEquals(transferSyntaxName("1.2.840.10008.1.2.4.90"), "JPEG 2000 Image Compression (Lossless Only)");
  assertEquals(transferSyntaxName("1.2.840.10008.1.2.5"), "RLE Lossless");
  assertEquals(transferSyntaxName("9.9"), undefined);
});

// ------------------------------------------------------------------ RLE

Deno.test("dicom rle: hand-made PackBits segments decode per PS3.5 Annex G", () => {
  // 8-bit, 2×3: literal run of 3, a no-op (-128), replicate 3 × 7, one padding byte
  const frame8 = new Uint8Array(64 + 8);
  const dv = new DataView(frame8.buffer);
  dv.setUint32(0, 1, true);
  dv.setUint32(4, 64, true);
  frame8.set([2, 10, 20, 30, 0x80, 0xfe, 7, 0], 64);
  assertEquals(
    Array.from(decodeRleFrame(frame8, { rows: 2, columns: 3, samplesPerPixel: 1, bitsAllocated: 8 })),
    [10, 20, 30, 7, 7, 7],
  );
  // 16-bit, 1×4: segment 1 holds the high bytes, segment 2 the low bytes; output little-endian
  const hi = [0xff, 0x01, 0x01, 0x01]; // literal 1 (0x12), replicate 3 × 0x00
  const lo = [0x03, 0x34, 0x56, 0x78, 0x9a]; // literal 4
  const frame16 = new Uint8Array(64 + hi.length + lo.length);
  const dv16 = new DataView(frame16.buffer);
  dv16.setUint32(0, 2, true);
  dv16.setUint32(4, 64, true);
  dv16.setUint32(8, 64 + 4, true);
  frame16.set([0x00, 0x12, 0xfe, 0x00], 64);
  frame16.set(lo, 68);
  const out = decodeRleFrame(frame16, { rows: 1, columns: 4, samplesPerPixel: 1, bitsAllocated: 16 });
  assertEquals(Array.from(new Uint16Array(out.buffer)), [0x1234, 0x0056, 0x0078, 0x009a]);
});

Deno.test("dicom rle: encode → decode round trips (8/16/32 bits, 1 and 3 samples, long runs)", () => {
  const rng = new Rng(7);
  for (const bits of [8, 16, 32] as const) {
    for (const spp of [1, 3]) {
      if (bits === 32 && spp === 3) continue; // 12 segments: allowed, covered below
      const info: RleFrameInfo = { rows: 5, columns: 300, samplesPerPixel: spp, bitsAllocated: bits };
      const n = info.rows * info.columns * spp * (bits / 8);
      const data = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        // stretches of noise, of constants longer than 128, and of pairs
        const zone = Math.floor(i / 97) % 3;
        data[i] = zone === 0 ? rng.int(256) : zone === 1 ? 42 : (i >> 1) & 0xff;
      }
      const enc = encodeRleFrame(data, info);
      assertEquals(new DataView(enc.buffer).getUint32(0, true), spp * bits / 8, "segment count");
      assertEquals(enc.length % 2, 0, "even length");
      assertEquals(decodeRleFrame(enc, info), data, `${bits}-bit × ${spp}`);
    }
  }
  const info: RleFrameInfo = { rows: 3, columns: 4, samplesPerPixel: 3, bitsAllocated: 32 };
  const data = new Uint8Array(3 * 4 * 3 * 4).map((_, i) => (i * 37) & 0xff);
  assertEquals(decodeRleFrame(encodeRleFrame(data, info), info), data);
  // constant frames compress: 2 bytes per 128-byte run per row
  const flat = new Uint8Array(256 * 256);
  assert(encodeRleFrame(flat, { rows: 256, columns: 256, samplesPerPixel: 1, bitsAllocated: 8 }).length < 1200);
});

Deno.test("dicom rle: malformed streams throw RleError", () => {
  const info: RleFrameInfo = { rows: 2, columns: 2, samplesPerPixel: 1, bitsAllocated: 16 };
  const good = encodeRleFrame(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), info);
  assertThrows(() => decodeRleFrame(good.slice(0, 40), info), RleError, "64-byte header");
  assertThrows(() => decodeRleFrame(good, { ...info, bitsAllocated: 8 }), RleError, "lists 2 segments");
  assertThrows(() => decodeRleFrame(good.slice(0, good.length - 3), info), RleError, "segment 2");
  const badOffset = good.slice();
  new DataView(badOffset.buffer).setUint32(8, 5000, true);
  assertThrows(() => decodeRleFrame(badOffset, info), RleError, "segment 2 starts at byte 5000");
  assertThrows(
    () => decodeRleFrame(good, { ...info, samplesPerPixel: 8 }),
    RleError,
    "needs 16 segments; the standard allows at most 15",
  );
  assertThrows(() => encodeRleFrame(new Uint8Array(3), info), RleError, "expected 8 bytes");
  assertThrows(() => decodeRleFrame(good, { ...info, bitsAllocated: 12 }), RleError, "8, 16 or 32");
});

Deno.test("dicom: RLE files built here (multi-frame, signed, RGB) decode through parseDicom", () => {
  const rng = new Rng(11);
  const rows = 9, columns = 11, frames = 3;
  const values = Array.from({ length: rows * columns * frames }, () => rng.int(65536) - 32768);
  const perFrame = rows * columns;
  const info: RleFrameInfo = { rows, columns, samplesPerPixel: 1, bitsAllocated: 16 };
  const encoded = [0, 1, 2].map((f) =>
    encodeRleFrame(leBytes(values.slice(f * perFrame, (f + 1) * perFrame), 16), info)
  );
  for (const withTable of [true, false]) {
    const file = part10("1.2.840.10008.1.2.5", [
      ...imageAttrs({ rows, columns, frames, bits: 16, signed: true }),
      el(0x28, 0x1052, "DS", "-1024"),
      el(0x28, 0x1053, "DS", "0.5"),
      encapsulated(encoded, withTable),
    ]);
    const img = parseDicom(file, "rle.dcm");
    assertEquals([img.rows, img.columns, img.frames], [rows, columns, frames]);
    assertEquals(Array.from(img.pixels), values.map((v) => v * 0.5 - 1024));
  }
  // RGB 8-bit, 2 frames
  const rgbInfo: RleFrameInfo = { rows: 4, columns: 5, samplesPerPixel: 3, bitsAllocated: 8 };
  const rgb = new Uint8Array(2 * 60).map(() => rng.int(256));
  const file = part10("1.2.840.10008.1.2.5", [
    ...imageAttrs({ rows: 4, columns: 5, frames: 2, spp: 3, bits: 8 }),
    encapsulated([encodeRleFrame(rgb.subarray(0, 60), rgbInfo), encodeRleFrame(rgb.subarray(60), rgbInfo)], true),
  ]);
  const img = parseDicom(file, "rgb.dcm");
  assertEquals([img.samplesPerPixel, img.frames], [3, 2]);
  assertEquals(Array.from(img.pixels), Array.from(rgb));
  // a broken RLE frame is reported with the file and frame
  const broken = part10("1.2.840.10008.1.2.5", [
    ...imageAttrs({ rows, columns, frames: 1, bits: 16, signed: true }),
    encapsulated([encoded[0].slice(0, 80)], false),
  ]);
  assertThrows(() => parseDicom(broken, "broken.dcm"), DatasetError, "broken.dcm: frame 1: RLE: segment");
  const missingFrame = part10("1.2.840.10008.1.2.5", [
    ...imageAttrs({ rows, columns, frames: 3, bits: 16, signed: true }),
    encapsulated(encoded.slice(0, 2), false),
  ]);
  assertThrows(() => parseDicom(missingFrame, "two_of_three.dcm"), DatasetError, "2 fragment(s)");
});

// ------------------------------------------------------------------ other encodings built here

Deno.test("dicom: float pixel data, functional-group rescale, bare data sets, encapsulated uncompressed", () => {
  const floats = new Float32Array([1.5, -2.25, 3e6, 0, 7, -0.125]);
  const f = parseDicom(
    part10("1.2.840.10008.1.2.1", [
      ...imageAttrs({ rows: 2, columns: 3, bits: 32 }).slice(0, 8),
      el(0x7fe0, 0x0008, "OF", new Uint8Array(floats.buffer)),
    ]),
    "float.dcm",
  );
  assertEquals([f.meta.pixelDataKind, Array.from(f.pixels)], ["float", Array.from(floats)]);

  // enhanced multi-frame: per-frame Pixel Value Transformation (0028,9145) in (5200,9230)
  const pvt = (slope: string, inter: string): Uint8Array =>
    sq(0x0028, 0x9145, [concat([el(0x28, 0x1052, "DS", inter), el(0x28, 0x1053, "DS", slope)])]);
  const enhanced = part10("1.2.840.10008.1.2.1", [
    ...imageAttrs({ rows: 1, columns: 2, frames: 2, bits: 16 }),
    sq(0x5200, 0x9230, [pvt("2", "10"), pvt("3", "-5")]),
    el(0x7fe0, 0x0010, "OW", leBytes([1, 2, 3, 4], 16)),
  ]);
  const e = parseDicom(enhanced, "enhanced.dcm");
  assertEquals(Array.from(e.pixels), [12, 14, 4, 7]);
  assertEquals(e.meta.frameRescale, [[2, 10], [3, -5]]);
  const shared = part10("1.2.840.10008.1.2.1", [
    ...imageAttrs({ rows: 1, columns: 2, frames: 2, bits: 16 }),
    sq(0x5200, 0x9229, [pvt("4", "1")]),
    el(0x7fe0, 0x0010, "OW", leBytes([1, 2, 3, 4], 16)),
  ]);
  assertEquals(Array.from(parseDicom(shared, "shared.dcm").pixels), [5, 9, 13, 17]);

  // no preamble, no meta group: an explicit-VR data set straight away
  const bare = part10("", [
    ...imageAttrs({ rows: 2, columns: 2, bits: 16, signed: true }),
    el(0x7fe0, 0x0010, "OW", leBytes([-1, 2, -3, 4], 16)),
  ], false);
  const bareImg = parseDicom(bare, "bare.dcm");
  assertEquals(Array.from(bareImg.pixels), [-1, 2, -3, 4]);
  assertEquals(bareImg.meta.transferSyntaxUID, "1.2.840.10008.1.2.1");

  // Encapsulated Uncompressed: one raw little-endian fragment per frame
  const enc = part10("1.2.840.10008.1.2.1.98", [
    ...imageAttrs({ rows: 1, columns: 3, frames: 2, bits: 16 }),
    encapsulated([leBytes([1, 2, 3], 16), leBytes([400, 500, 600], 16)], false),
  ]);
  assertEquals(Array.from(parseDicom(enc, "encu.dcm").pixels), [1, 2, 3, 400, 500, 600]);
  // a native syntax with encapsulated data (and the reverse) is malformed
  const mixed = part10("1.2.840.10008.1.2.1", [
    ...imageAttrs({ rows: 1, columns: 3, bits: 16 }),
    encapsulated([leBytes([1, 2, 3], 16)], false),
  ]);
  assertThrows(() => parseDicom(mixed, "mixed.dcm"), DatasetError, "needs native pixel data, found encapsulated");
  const nativeRle = part10("1.2.840.10008.1.2.5", [
    ...imageAttrs({ rows: 1, columns: 3, bits: 16 }),
    el(0x7fe0, 0x0010, "OW", leBytes([1, 2, 3], 16)),
  ]);
  assertThrows(() => parseDicom(nativeRle, "rle.dcm"), DatasetError, "RLE Lossless needs encapsulated pixel data");
});

Deno.test("dicom: applyWindow follows the VOI LUT formulas", () => {
  // LINEAR, c = 40, w = 400: 0 at x <= -160, 1 at x > 239, linear between
  const x = [-1000, -160, -159, 39.5, 239, 240, 3000];
  const y = Array.from(applyWindow(x, 40, 400));
  const lin = (v: number): number => (v - 39.5) / 399 + 0.5;
  const want = [0, 0, lin(-159), 0.5, lin(239), 1, 1];
  y.forEach((v, i) => assertNear(v, want[i], 1e-6, `LINEAR at ${x[i]}`));
  assertEquals(lin(239), 1);
  const exact = Array.from(applyWindow([-160, -100, 40, 240, 241], 40, 400, { function: "LINEAR_EXACT" }));
  [0, 0.15, 0.5, 1, 1].forEach((v, i) => assertNear(exact[i], v, 1e-6, "LINEAR_EXACT"));
  const sig = applyWindow([40, 140], 40, 400, { function: "SIGMOID" });
  assertNear(sig[0], 0.5, 1e-7, "SIGMOID centre");
  assertNear(sig[1], 1 / (1 + Math.exp(-1)), 1e-6, "SIGMOID");
  assertEquals(Array.from(applyWindow([-1000, 1000], 0, 10, { invert: true })), [1, 0]);
  assertThrows(() => applyWindow([0], 0, 0.5), RangeError, "width >= 1");
  assertThrows(() => applyWindow([0], 0, 0, { function: "SIGMOID" }), RangeError, "width > 0");
  assertThrows(() => applyWindow([0], 0, 10, { function: "GAMMA" }), RangeError, "unknown VOI LUT function");
});

// ------------------------------------------------------------------ corrupt files

function findElement(bytes: Uint8Array, group: number, element: number): number {
  for (let i = 132; i + 4 <= bytes.length; i += 2) {
    if (
      bytes[i] === (group & 0xff) && bytes[i + 1] === group >> 8 && bytes[i + 2] === (element & 0xff) &&
      bytes[i + 3] === element >> 8
    ) return i;
  }
  throw new Error(`element (${group.toString(16)},${element.toString(16)}) not found`);
}

Deno.test("dicom: corrupt and truncated files give DatasetErrors naming the file", async () => {
  const good = await Deno.readFile(fixturePath("ct_s12_rescale_le.dcm"));
  const rle = await Deno.readFile(fixturePath("rle_s16.dcm"));
  const pixelAt = findElement(good, 0x7fe0, 0x0010);
  const bigRows = good.slice();
  new DataView(bigRows.buffer).setUint16(findElement(good, 0x28, 0x10) + 8, 50, true);
  const noRows = good.slice();
  noRows[findElement(good, 0x28, 0x10) + 2] = 0x12; // retag Rows as (0028,0012)
  const badMagic = good.slice();
  badMagic.set(te.encode("DICX"), 128);
  const cases: [string, Uint8Array, string][] = [
    ["empty.dcm", new Uint8Array(0), "not a DICOM file: only 0 bytes"],
    ["text.dcm", te.encode("x".repeat(300)), 'no "DICM" marker at byte 128'],
    ["bad_magic.dcm", badMagic, 'no "DICM" marker at byte 128'],
    ["short_meta.dcm", good.slice(0, 150), "truncated or corrupt file meta information"],
    ["short_pixels.dcm", good.slice(0, good.length - 20), "truncated pixel data"],
    ["pixel_header_only.dcm", good.slice(0, pixelAt + 12), "truncated pixel data"],
    ["big_rows.dcm", bigRows, "Pixel Data holds 70 bytes, but 50 rows × 7 columns × 1 frame(s)"],
    ["no_rows.dcm", noRows, "missing Rows (0028,0010)"],
    ["short_rle.dcm", rle.slice(0, rle.length - 30), "rle"],
  ];
  const dir = await Deno.makeTempDir({ prefix: "meddiff_dicom_bad_" });
  try {
    for (const [name, bytes, message] of cases) {
      const path = `${dir}/${name}`;
      await Deno.writeFile(path, bytes);
      const err = await assertRejects(() => readDicom(path), DatasetError, message);
      assert(err.message.startsWith(path + ": "), `${name}: message names the file: ${err.message}`);
    }
    await assertRejects(() => readDicom(`${dir}/missing.dcm`), DatasetError, "file not found");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ------------------------------------------------------------------ real files

const DIR = "dicom/pydicom/";

function checkReal(pixels: Float32Array, ref: RealCase, what: string): void {
  assertEquals(pixels.length, ref.shape.reduce((a, b) => a * b, 1), `${what}: size`);
  let sum = 0, weighted = 0;
  for (let i = 0; i < pixels.length; i++) {
    sum += pixels[i];
    weighted += pixels[i] * ((i % 1009) + 1);
  }
  assertNear(sum, ref.sum, 1e-9, `${what}: sum`);
  assertNear(weighted, ref.weightedSum, 1e-9, `${what}: weighted sum (layout)`);
  for (const [i, v] of ref.samples) assertEquals(pixels[i], v, `${what}: pixel ${i}`);
}

const ct = sharedDataPath(DIR + "CT_small.dcm");
skippableTest({
  name: "dicom: real CT_small.dcm decodes to 128×128 HU",
  skip: needsSharedData(ct),
  fn: async () => {
    const img = await readDicom(ct!);
    assertEquals([img.rows, img.columns, img.frames, img.samplesPerPixel], [128, 128, 1, 1]);
    assertEquals([img.meta.modality, img.meta.rescaleIntercept, img.meta.rescaleSlope], ["CT", -1024, 1]);
    const sorted = Float32Array.from(img.pixels).sort();
    const min = sorted[0], p1 = sorted[Math.floor(0.01 * (sorted.length - 1))], max = sorted[sorted.length - 1];
    // air outside the body is the darkest: about -1000 HU (this downsized slice bottoms out near -900)
    assert(min > -1100 && min < -800, `minimum ${min} HU should be air`);
    assert(p1 < -700, `1st percentile ${p1} HU should be air`);
    assert(max > 300 && max < 3100, `maximum ${max} HU should be bone`);
    const ref = REF.dicomReal["CT_small.dcm"];
    assertEquals([min, max], [ref.min, ref.max]);
    assertNear(p1, ref.percentile1, 0.05, "1st percentile vs numpy");
    checkReal(img.pixels, ref, "CT_small");
  },
});

const mrNames = ["MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "MR_small_RLE.dcm"];
const mrPaths = mrNames.map((n) => sharedDataPath(DIR + n));
skippableTest({
  name: "dicom: real MR_small in four encodings (explicit, implicit, big endian, RLE) decode identically",
  skip: needsSharedData(...mrPaths),
  fn: async () => {
    const imgs = await Promise.all(mrPaths.map((p) => readDicom(p!)));
    const syntaxes = imgs.map((i) => i.meta.transferSyntaxUID);
    assertEquals(syntaxes, ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.5"]);
    for (const img of imgs) {
      assertEquals([img.rows, img.columns], [64, 64]);
      assertEquals(img.pixels, imgs[0].pixels);
      assertEquals([img.meta.windowCenter, img.meta.windowWidth], [[600], [1600]]);
    }
    checkReal(imgs[0].pixels, REF.dicomReal["MR_small.dcm"], "MR_small");
    const shown = applyWindow(imgs[0].pixels, 600, 1600);
    assert(shown.every((v) => v >= 0 && v <= 1), "window in [0, 1]");
  },
});

const rgbPath = sharedDataPath(DIR + "ExplVR_BigEnd.dcm");
skippableTest({
  name: "dicom: real ExplVR_BigEnd.dcm (big-endian RGB, planar) decodes to 60×80×3",
  skip: needsSharedData(rgbPath),
  fn: async () => {
    const img = await readDicom(rgbPath!);
    assertEquals([img.rows, img.columns, img.samplesPerPixel, img.meta.photometricInterpretation], [60, 80, 3, "RGB"]);
    checkReal(img.pixels, REF.dicomReal["ExplVR_BigEnd.dcm"], "ExplVR_BigEnd");
  },
});

const compressed: [string, string, string][] = [
  ["JPEG2000.dcm", "1.2.840.10008.1.2.4.91", "JPEG 2000 Image Compression"],
  ["MR_small_jp2klossless.dcm", "1.2.840.10008.1.2.4.90", "JPEG 2000 Image Compression (Lossless Only)"],
  ["MR_small_jpeg_ls_lossless.dcm", "1.2.840.10008.1.2.4.80", "JPEG-LS Lossless Image Compression"],
  ["JPEG-lossy.dcm", "1.2.840.10008.1.2.4.51", "JPEG Extended (Process 2 & 4)"],
];
skippableTest({
  name: "dicom: real JPEG 2000 / JPEG-LS / lossy JPEG files give the unsupported-codec error",
  skip: needsSharedData(...compressed.map(([n]) => sharedDataPath(DIR + n))),
  fn: async () => {
    for (const [name, uid, title] of compressed) {
      const path = sharedDataPath(DIR + name)!;
      const err = await assertRejects(() => readDicom(path), DatasetError, `${title} (${uid}) is not supported`);
      assert(err.message.startsWith(path), err.message);
    }
  },
});
