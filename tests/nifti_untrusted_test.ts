/**
 * NIfTI files that must not be trusted, made here: gzip data failing its CRC-32 or ISIZE check,
 * decompression bombs (a header declaring far more than the limit or than the file can hold, a
 * stream inflating far past its header), scaling that overflows float32, and float data holding
 * NaN/Inf; and the options that govern them, through readNifti and NiftiDataset.
 */
import { gzipSync } from "fflate";
import { parseNifti, readNifti } from "../datasets/nifti.ts";
import { NiftiDataset } from "../datasets/volume_dataset.ts";
import { DatasetError, SizeLimitError } from "../datasets/types.ts";
import { asDatasetError } from "../datasets/untrusted.ts";
import { formatBytes } from "../util/errors.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { captureWarnings } from "./_util.ts";
import { concatBytes as concat } from "../util/bytes.ts";

/** A NIfTI-1 single-file header (little-endian, vox_offset 352) with the 4 extension bytes. */
function header(o: { dims: number[]; datatype: number; bitpix: number; slope?: number; inter?: number }): Uint8Array {
  const b = new Uint8Array(352);
  const dv = new DataView(b.buffer);
  dv.setInt32(0, 348, true);
  dv.setInt16(40, o.dims.length, true);
  o.dims.forEach((d, i) => dv.setInt16(42 + 2 * i, d, true));
  dv.setInt16(70, o.datatype, true);
  dv.setInt16(72, o.bitpix, true);
  for (let i = 1; i <= 3; i++) dv.setFloat32(76 + 4 * i, 1, true);
  dv.setFloat32(108, 352, true);
  dv.setFloat32(112, o.slope ?? 0, true);
  dv.setFloat32(116, o.inter ?? 0, true);
  b.set([0x6e, 0x2b, 0x31, 0], 344); // "n+1\0"
  return b;
}

function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(b.subarray(at, at + 65536));
  return b;
}

/** `fn`'s error, and how long it took to come, in milliseconds. */
function timedThrow<E extends Error>(fn: () => unknown, cls: new (...a: never[]) => E, includes: string): [E, number] {
  const t0 = performance.now();
  const err = assertThrows(fn, cls, includes) as E;
  return [err, performance.now() - t0];
}

Deno.test("nifti untrusted: a .nii.gz failing its CRC-32 or ISIZE check is an error naming the file", async () => {
  const values = Int16Array.from({ length: 6 * 5 * 4 }, (_, i) => i * 37 - 2000);
  const gz = gzipSync(concat(header({ dims: [6, 5, 4], datatype: 4, bitpix: 16 }), values), { level: 0 });
  assertEquals(Array.from(parseNifti(gz, "ok.nii.gz").data), Array.from(values));
  const flip = (at: number): Uint8Array => {
    const b = gz.slice();
    b[at] ^= 0x10;
    return b;
  };
  const cases: [string, Uint8Array, string][] = [
    ["voxel.nii.gz", flip(gz.length - 8 - 11), "fails its CRC-32 check"], // stored block: still inflates
    ["crc.nii.gz", flip(gz.length - 7), "fails its CRC-32 check"],
    ["isize.nii.gz", flip(gz.length - 3), "but its trailer (ISIZE) says"],
  ];
  const dir = await Deno.makeTempDir({ prefix: "meddiff_nifti_crc_" });
  try {
    for (const [name, bytes, message] of cases) {
      const path = `${dir}/${name}`;
      await Deno.writeFile(path, bytes);
      const err = await assertRejects(() => readNifti(path), DatasetError, message) as DatasetError;
      assert(err.message.startsWith(`${path}: `), err.message);
      assertEquals(err.file, path);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("nifti untrusted: a 0.5 MB .nii.gz declaring 512×1024×1024 int16 voxels fails at once", () => {
  const hdr = header({ dims: [512, 1024, 1024], datatype: 4, bitpix: 16 });
  const gz = gzipSync(concat(hdr, randomBytes(512 * 1024)), { level: 0 });
  assert(gz.length < 600 * 1024, `${gz.length} bytes`);
  const declared = 352 + 2 * 2 ** 29 + 4 * 2 ** 29; // int16 voxels after the header, then as float32
  const limit = 2 ** 30;
  const [err, ms] = timedThrow(
    () => parseNifti(gz, "bomb.nii.gz", { maxDecodedBytes: limit }),
    SizeLimitError,
    "bomb.nii.gz: the header declares 512×1024×1024 int16 voxels",
  );
  assertEquals([err.declared, err.limit, err.field], [declared, limit, "dim"]);
  assert(err.message.includes(formatBytes(declared)) && err.message.includes(formatBytes(limit)), err.message);
  // Under the default limit (4 GiB at most) the declared 3 GiB may fit, but 0.5 MB of gzip data
  // cannot inflate to it: that fails before inflating too.
  const [err2, ms2] = timedThrow(() => parseNifti(gz, "bomb.nii.gz"), DatasetError, "bomb.nii.gz: ");
  if (!(err2 instanceof SizeLimitError)) assert(err2.message.includes("1032×"), err2.message);
  // the same for an uncompressed file
  const [, ms3] = timedThrow(
    () => parseNifti(concat(hdr, new Uint8Array(1024)), "big.nii", { maxDecodedBytes: limit }),
    SizeLimitError,
    "big.nii: the header declares 512×1024×1024 int16 voxels",
  );
  assert(ms < 500 && ms2 < 500 && ms3 < 500, `took ${ms}, ${ms2}, ${ms3} ms`);
});

Deno.test("nifti untrusted: a stream that inflates far past its header is an error, not a volume", () => {
  const hdr = header({ dims: [4, 4, 4], datatype: 2, bitpix: 8 });
  const voxels = Uint8Array.from({ length: 64 }, (_, i) => i);
  const gz = gzipSync(concat(hdr, voxels, new Uint8Array(8 << 20)), { level: 1 }); // 8 MiB of trailing zeros
  const [, ms] = timedThrow(
    () => parseNifti(gz, "long.nii.gz"),
    DatasetError,
    "long.nii.gz: the gzip data inflates to more than the 416 bytes its header declares",
  );
  assert(ms < 1000, `took ${ms} ms`);
  // a little trailing padding is accepted
  const padded = parseNifti(gzipSync(concat(hdr, voxels, new Uint8Array(100))), "padded.nii.gz");
  assertEquals(Array.from(padded.data), Array.from(voxels));
});

Deno.test("nifti untrusted: values that come out NaN/±Inf warn by default, fail with nonFinite: error", async () => {
  const stored = Int16Array.from([0, 1, -1, 2, -2, 100, 5, 0]);
  const file = concat(header({ dims: [8], datatype: 4, bitpix: 16, slope: 3e38 }), stored);
  let v = parseNifti(file, "a.nii", { nonFinite: "ignore" });
  const said = await captureWarnings(() => (v = parseNifti(file, "overflow.nii")));
  assertEquals(said.length, 1);
  assert(said[0].startsWith("overflow.nii: 4 of 8 values are NaN or ±Inf after scaling by scl_slope"), said[0]);
  assert(said[0].includes("(scl_slope)"), said[0]);
  assertEquals(Array.from(v.data.subarray(3, 6)), [Infinity, -Infinity, Infinity]);
  const err = assertThrows(
    () => parseNifti(file, "overflow.nii", { nonFinite: "error" }),
    DatasetError,
    "overflow.nii: 4 of 8 values are NaN or ±Inf after scaling",
  ) as DatasetError;
  assertEquals(err.field, "scl_slope");
  assertEquals(await captureWarnings(() => parseNifti(file, "overflow.nii", { nonFinite: "ignore" })), []);
  // a sane slope says nothing
  const sane = concat(header({ dims: [8], datatype: 4, bitpix: 16, slope: 0.5, inter: -1 }), stored);
  assertEquals(await captureWarnings(() => parseNifti(sane, "sane.nii")), []);

  // float data holding NaN/Inf, and float64 too large for float32
  const floats = concat(header({ dims: [4], datatype: 16, bitpix: 32 }), Float32Array.from([1, NaN, Infinity, -2]));
  const f32 = await captureWarnings(() => parseNifti(floats, "nan.nii"));
  assertEquals(f32.length, 1);
  assert(f32[0].startsWith("nan.nii: 2 of 4 values are NaN or ±Inf as stored (float32 data)"), f32[0]);
  assertThrows(() => parseNifti(floats, "nan.nii", { nonFinite: "error" }), DatasetError, "nan.nii: 2 of 4");
  const doubles = concat(header({ dims: [3], datatype: 64, bitpix: 64 }), Float64Array.from([1, 1e300, -2]));
  assertThrows(() => parseNifti(doubles, "huge.nii", { nonFinite: "error" }), DatasetError, "huge.nii: 1 of 3");
  assertThrows(() => parseNifti(file, "x.nii", { nonFinite: "loud" as never }), RangeError, "nonFinite");
});

Deno.test("nifti untrusted: NiftiDataset passes maxDecodedBytes and nonFinite to every read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meddiff_nifti_opts_" });
  try {
    const vol = concat(header({ dims: [64, 64, 64], datatype: 4, bitpix: 16 }), new Int16Array(64 ** 3));
    await Deno.writeFile(`${dir}/big.nii.gz`, gzipSync(vol));
    const small = await NiftiDataset.open({ dir, maxDecodedBytes: 1 << 20 });
    await assertRejects(() => small.get(0), SizeLimitError, `${dir}/big.nii.gz: the header declares 64×64×64`);
    assertEquals((await (await NiftiDataset.open({ dir })).get(0)).image.shape, [1, 64, 64, 64]);

    await Deno.remove(`${dir}/big.nii.gz`);
    const overflow = concat(header({ dims: [2], datatype: 4, bitpix: 16, slope: 3e38 }), Int16Array.from([1, 9]));
    await Deno.writeFile(`${dir}/overflow.nii`, overflow);
    const strict = await NiftiDataset.open({ dir, nonFinite: "error" });
    await assertRejects(() => strict.get(0), DatasetError, `${dir}/overflow.nii: 1 of 2 values`);
    await assertRejects(() => NiftiDataset.open({ dir, nonFinite: "no" as never }), RangeError, "nonFinite");
    await assertRejects(() => NiftiDataset.open({ dir, maxDecodedBytes: -1 }), RangeError, "maxDecodedBytes");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("nifti untrusted: a stray exception (an allocation failure) becomes a DatasetError naming the file", () => {
  const err = asDatasetError("x.nii", new RangeError("Array buffer allocation failed"));
  assert(err instanceof DatasetError);
  assertEquals(err.message, "x.nii: cannot decode the file (RangeError: Array buffer allocation failed)");
  const same = new DatasetError("y.nii", "bad");
  assert(asDatasetError("x.nii", same) === same, "a DatasetError passes through");
});
