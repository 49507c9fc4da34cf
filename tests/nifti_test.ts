/**
 * NIfTI reader: small files written by nibabel (every datatype, both byte orders, NIfTI-1 and 2,
 * scaling, 4D, gzip, qform/sform, RGB) checked against what nibabel reads back
 * (`scripts/make_medical_fixtures.py` → `tests/fixtures/medical.json`), the quaternion maths,
 * `.hdr`/`.img` pairs, corrupt copies made here, and the real volumes in `../shared/data/nifti`.
 */
import { gzipSync } from "fflate";
import { type NiftiVolume, parseNifti, quaternToAffine, readNifti } from "../datasets/nifti.ts";
import { NiftiDataset } from "../datasets/volume_dataset.ts";
import { DatasetError } from "../datasets/types.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { needsSharedData, sharedDataPath } from "./_shared_data.ts";
import { skippableTest } from "./_skip.ts";

const FIXTURES = new URL("./fixtures/medical/", import.meta.url);
const fixturePath = (name: string): string => new URL(name, FIXTURES).pathname;

interface NiftiCase {
  file: string;
  version: 1 | 2;
  littleEndian: boolean;
  dims: number[];
  datatype: number;
  affine: number[][];
  qformCode: number;
  sformCode: number;
  pixdim: number[];
  description: string;
  data: number[];
  qform?: number[][];
}

interface RealCase {
  dims: number[];
  affine: number[][];
  sum: number;
  weightedSum: number;
  min: number;
  max: number;
  samples: [number, number][];
}

const REF = JSON.parse(Deno.readTextFileSync(new URL("./fixtures/medical.json", import.meta.url))) as {
  nifti: NiftiCase[];
  niftiReal: Record<string, RealCase>;
};
const byName = (file: string): NiftiCase => REF.nifti.find((c) => c.file === file)!;

function assertNear(actual: number, expected: number, rtol: number, what: string): void {
  const err = Math.abs(actual - expected);
  assert(err <= rtol * Math.max(1, Math.abs(expected)), `${what}: got ${actual}, expected ${expected}`);
}

function assertMatrix(actual: number[][], expected: number[][], tol: number, what: string): void {
  assertEquals(actual.length, 4, `${what}: 4 rows`);
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) assertNear(actual[r][c], expected[r][c], tol, `${what}[${r}][${c}]`);
  }
}

const DT_NAMES: Record<number, string> = {
  2: "uint8",
  4: "int16",
  8: "int32",
  16: "float32",
  64: "float64",
  128: "rgb24",
  256: "int8",
  512: "uint16",
  768: "uint32",
};

function checkCase(v: NiftiVolume, c: NiftiCase): void {
  const rgb = c.datatype === 128;
  assertEquals(v.meta.dims, c.dims, `${c.file}: dims`);
  assertEquals(v.shape, rgb ? [...c.dims].reverse().concat([3]) : [...c.dims].reverse(), `${c.file}: shape`);
  assertEquals(v.meta.version, c.version, `${c.file}: version`);
  assertEquals(v.meta.endianness, c.littleEndian ? "little" : "big", `${c.file}: endianness`);
  assertEquals(v.meta.datatypeCode, c.datatype);
  assertEquals(v.meta.datatype, DT_NAMES[c.datatype]);
  assertEquals(v.meta.qformCode, c.qformCode);
  assertEquals(v.meta.sformCode, c.sformCode);
  assertEquals(v.meta.description, c.description);
  assertEquals(v.meta.spatialUnit, "mm");
  assertEquals(v.data.length, c.data.length, `${c.file}: element count`);
  for (let i = 0; i < c.data.length; i++) {
    // float32 output: integers up to 2^24 are exact, beyond that 1 ulp (~6e-8 relative)
    assertNear(v.data[i], c.data[i], 1.2e-7, `${c.file}: data[${i}]`);
  }
  assertMatrix(v.meta.affine, c.affine, 1e-6, `${c.file}: affine`);
  for (let k = 0; k < 3; k++) assertNear(v.meta.voxelSize[k], Math.abs(c.pixdim[k + 1]), 1e-7, "voxelSize");
}

Deno.test("nifti: nibabel-written files, every datatype, both byte orders, NIfTI-1 and NIfTI-2", async () => {
  assert(REF.nifti.length >= 17, "fixture cases");
  for (const c of REF.nifti) {
    const v = await readNifti(fixturePath(c.file));
    checkCase(v, c);
    // parseNifti on the same bytes agrees
    const again = parseNifti(await Deno.readFile(fixturePath(c.file)), c.file);
    assertEquals(Array.from(again.data), Array.from(v.data));
  }
});

Deno.test("nifti: layout is row-major over shape = reversed NIfTI dims (x fastest)", async () => {
  const c = byName("n1_4d.nii.gz");
  const v = await readNifti(fixturePath(c.file));
  const [nx, ny, nz, nt] = c.dims;
  assertEquals(v.shape, [nt, nz, ny, nx]);
  // nibabel's data is in Fortran order: value (i, j, k, t) at i + nx (j + ny (k + nz t))
  for (const [i, j, k, t] of [[0, 0, 0, 0], [2, 1, 0, 3], [1, 0, 1, 4], [2, 1, 1, 4]]) {
    const fortran = i + nx * (j + ny * (k + nz * t));
    const rowMajor = ((t * nz + k) * ny + j) * nx + i;
    assertEquals(v.data[rowMajor], Math.fround(c.data[fortran]));
  }
  assertEquals(v.meta.timeStep, 2.5);
  assertEquals(v.meta.temporalUnit, "s");
  assertEquals(v.meta.affineSource, "sform");
});

Deno.test("nifti: scl_slope/scl_inter applied; slope 0 means unscaled", async () => {
  const scaled = await readNifti(fixturePath("n1_int16_scaled.nii"));
  assertEquals([scaled.meta.sclSlope, scaled.meta.sclInter, scaled.meta.scaled], [0.5, -10, true]);
  const raw = await readNifti(fixturePath("n1_int16_slope0.nii"));
  assertEquals([raw.meta.sclSlope, raw.meta.sclInter, raw.meta.scaled], [0, 7, false]);
  // same stored values in both files: scaled = 0.5 · raw − 10
  for (let i = 0; i < raw.data.length; i++) assertEquals(scaled.data[i], 0.5 * raw.data[i] - 10);
  const be = await readNifti(fixturePath("n2_uint8_scaled_be.nii"));
  assertEquals([be.meta.version, be.meta.endianness, be.meta.sclSlope, be.meta.sclInter], [2, "big", -2, 1.5]);
  const rgb = await readNifti(fixturePath("n1_rgb24.nii"));
  assertEquals([rgb.meta.channels, rgb.meta.scaled], [3, false]);
});

Deno.test("nifti: qform from the quaternion, sform preferred when both are set", async () => {
  const q = byName("n1_qform.nii");
  const v = await readNifti(fixturePath(q.file));
  assertEquals(v.meta.affineSource, "qform");
  assertEquals(v.meta.pixdim[0], -1); // qfac
  assertMatrix(v.meta.affine, q.qform!, 1e-6, "qform affine");
  const both = byName("n1_sform_and_qform.nii");
  const w = await readNifti(fixturePath(both.file));
  assertEquals([w.meta.affineSource, w.meta.sformCode, w.meta.qformCode], ["sform", 4, 1]);
  assertMatrix(w.meta.affine, both.affine, 1e-6, "sform affine");
  assertMatrix(w.meta.qform, both.qform!, 1e-6, "qform kept in meta");
});

Deno.test("nifti: quaternToAffine follows nifti1_io.c", () => {
  // identity rotation: diag of the voxel sizes, offsets in the last column
  assertEquals(quaternToAffine([0, 0, 0], [1, 2, 3], [2, 3, 4], 1), [
    [2, 0, 0, 1],
    [0, 3, 0, 2],
    [0, 0, 4, 3],
    [0, 0, 0, 1],
  ]);
  // 180° about x (b = 1, a = 0): diag(1, -1, -1); qfac -1 flips the third column back
  assertEquals(quaternToAffine([1, 0, 0], [0, 0, 0], [1, 1, 1], 1).slice(0, 3).map((r) => r.slice(0, 3)), [
    [1, 0, 0],
    [0, -1, 0],
    [0, 0, -1],
  ]);
  assertEquals(quaternToAffine([1, 0, 0], [0, 0, 0], [1, 1, 1], -1)[2][2], 1);
  // 90° about z: b = c = 0, d = sin 45°: x → y
  const m = quaternToAffine([0, 0, Math.SQRT1_2], [0, 0, 0], [1, 1, 1], 1);
  for (const [r, c, want] of [[0, 0, 0], [0, 1, -1], [1, 0, 1], [1, 1, 0], [2, 2, 1]]) {
    assertNear(m[r][c], want, 1e-12, "rot z");
  }
  // |(b, c, d)| > 1 is normalised with a = 0; voxel sizes <= 0 count as 1
  const n = quaternToAffine([2, 0, 0], [0, 0, 0], [0, -3, 2], 1);
  assertEquals(n.slice(0, 3).map((r) => r.slice(0, 3)), [[1, 0, 0], [0, -1, 0], [0, 0, -2]]);
});

Deno.test("nifti: no qform/sform → diag(pixdim) (method 1)", async () => {
  const bytes = await Deno.readFile(fixturePath("n1_sform_and_qform.nii"));
  const dv = new DataView(bytes.buffer);
  dv.setInt16(252, 0, true); // qform_code
  dv.setInt16(254, 0, true); // sform_code
  const v = parseNifti(bytes, "codes0.nii");
  assertEquals(v.meta.affineSource, "pixdim");
  const p = v.meta.pixdim;
  assertMatrix(v.meta.affine, [[p[1], 0, 0, 0], [0, p[2], 0, 0], [0, 0, p[3], 0], [0, 0, 0, 1]], 1e-12, "method 1");
});

Deno.test("nifti: gzip in memory and .hdr/.img pairs", async () => {
  const plain = await Deno.readFile(fixturePath("n1_int16_be.nii"));
  const ref = parseNifti(plain, "plain");
  const gz = parseNifti(gzipSync(plain), "gz");
  assertEquals(Array.from(gz.data), Array.from(ref.data));

  const dir = await Deno.makeTempDir({ prefix: "meddiff_nifti_" });
  try {
    // a pair: the header with magic "ni1" and vox_offset 0, the voxels alone in the .img
    const hdr = plain.slice(0, 352);
    hdr.set([0x6e, 0x69, 0x31, 0], 344);
    new DataView(hdr.buffer).setFloat32(108, 0, false);
    await Deno.writeFile(`${dir}/pair.hdr`, hdr);
    await Deno.writeFile(`${dir}/pair.img`, plain.slice(352));
    const pair = await readNifti(`${dir}/pair.hdr`);
    assertEquals(pair.shape, ref.shape);
    assertEquals(Array.from(pair.data), Array.from(ref.data));
    assertEquals(pair.meta.affine, ref.meta.affine);
    // gzipped image half of the pair
    await Deno.remove(`${dir}/pair.img`);
    await Deno.writeFile(`${dir}/pair.img.gz`, gzipSync(plain.slice(352)));
    assertEquals(Array.from((await readNifti(`${dir}/pair.hdr`)).data), Array.from(ref.data));
    await Deno.remove(`${dir}/pair.img.gz`);
    await assertRejects(() => readNifti(`${dir}/pair.hdr`), DatasetError, "pair.img");
    assertThrows(() => parseNifti(hdr, "lone.hdr"), DatasetError, "separate .img file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("nifti: corrupt and truncated files give DatasetErrors naming the file", async () => {
  const good = await Deno.readFile(fixturePath("n1_int16_be.nii"));
  const good2 = await Deno.readFile(fixturePath("n2_int16.nii"));
  const dir = await Deno.makeTempDir({ prefix: "meddiff_nifti_bad_" });
  const patch = (src: Uint8Array, f: (dv: DataView, b: Uint8Array) => void): Uint8Array => {
    const b = src.slice();
    f(new DataView(b.buffer), b);
    return b;
  };
  const cases: [string, Uint8Array, string][] = [
    ["empty.nii", new Uint8Array(0), "not a NIfTI file"],
    ["text.nii", new TextEncoder().encode("hello, this is not a volume at all"), "not a NIfTI file"],
    ["short_header.nii", good.slice(0, 200), "truncated NIfTI-1 header"],
    ["short_header2.nii", good2.slice(0, 300), "truncated NIfTI-2 header"],
    ["short_data.nii", good.slice(0, good.length - 5), "truncated voxel data"],
    ["no_data.nii", good.slice(0, 348), "truncated voxel data"],
    ["bad_magic.nii", patch(good, (_, b) => b.set([0x61, 0x62, 0x63, 0x64], 344)), 'wrong NIfTI-1 magic "abcd"'],
    ["bad_magic2.nii", patch(good2, (_, b) => b.set([0x78, 0x2b, 0x32, 0], 4)), "wrong NIfTI-2 magic"],
    ["too_big.nii", patch(good, (dv) => dv.setInt16(42, 400, false)), "truncated voxel data"],
    ["too_big2.nii", patch(good2, (dv) => dv.setBigInt64(24, 1000n, true)), "truncated voxel data"],
    ["complex.nii", patch(good, (dv) => dv.setInt16(70, 32, false)), "complex64 is not supported"],
    ["binary.nii", patch(good, (dv) => dv.setInt16(70, 1, false)), "binary (1 bit per voxel) is not supported"],
    ["bad_ndim.nii", patch(good, (dv) => dv.setInt16(40, 0, false)), "bad dim[0] = 0"],
    ["neg_dim.nii", patch(good, (dv) => dv.setInt16(44, -3, false)), "bad dim[2] = -3"],
    ["short.nii.gz", gzipSync(good).slice(0, 60), "gzip data is corrupt or truncated"],
  ];
  try {
    for (const [name, bytes, message] of cases) {
      const path = `${dir}/${name}`;
      await Deno.writeFile(path, bytes);
      const err = await assertRejects(() => readNifti(path), DatasetError, message);
      assert(err.message.startsWith(path), `${name}: message names the file: ${err.message}`);
      assertEquals((err as DatasetError).file, path);
    }
    await assertRejects(() => readNifti(`${dir}/missing.nii`), DatasetError, "file not found");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function checkReal(v: NiftiVolume, ref: RealCase, what: string): void {
  assertEquals(v.meta.dims, ref.dims, `${what}: dims`);
  assertEquals(v.shape, [...ref.dims].reverse(), `${what}: shape`);
  assertMatrix(v.meta.affine, ref.affine, 1e-6, `${what}: affine`);
  let sum = 0, weighted = 0, min = Infinity, max = -Infinity;
  for (let i = 0; i < v.data.length; i++) {
    const x = v.data[i];
    sum += x;
    weighted += x * ((i % 1009) + 1);
    if (x < min) min = x;
    if (x > max) max = x;
  }
  for (const [i, want] of ref.samples) assertNear(v.data[i], want, 1e-6, `${what}: voxel ${i}`);
  assertNear(sum, ref.sum, 1e-6, `${what}: sum`);
  assertNear(weighted, ref.weightedSum, 1e-6, `${what}: weighted sum (layout)`);
  assertNear(min, ref.min, 1e-6, `${what}: min`);
  assertNear(max, ref.max, 1e-6, `${what}: max`);
}

const anatomical = sharedDataPath("nifti/nibabel/anatomical.nii");
skippableTest({
  name: "nifti: real anatomical.nii (big-endian int16) matches nibabel",
  skip: needsSharedData(anatomical),
  fn: async () => {
    const v = await readNifti(anatomical!);
    assertEquals([v.meta.endianness, v.meta.datatype, v.meta.scaled], ["big", "int16", false]);
    assertEquals(v.meta.voxelSize, [2, 2, 2]);
    assertEquals(v.meta.affine, [[-2, 0, 0, 32], [0, 2, 0, -40], [0, 0, 2, -16], [0, 0, 0, 1]]);
    assertMatrix(v.meta.qform, v.meta.affine, 1e-12, "qform = sform here");
    checkReal(v, REF.niftiReal["nifti/nibabel/anatomical.nii"], "anatomical");
  },
});

const functional = sharedDataPath("nifti/nibabel/functional.nii");
skippableTest({
  name: "nifti: real functional.nii (4D 17×21×3×20, scaled) matches nibabel",
  skip: needsSharedData(functional),
  fn: async () => {
    const v = await readNifti(functional!);
    assertEquals(v.shape, [20, 3, 21, 17]);
    assert(v.meta.scaled && Math.abs(v.meta.sclSlope - 0.0754069686) < 1e-8, "scaled by scl_slope");
    assertEquals([v.meta.timeStep, v.meta.temporalUnit], [2, "s"]);
    checkReal(v, REF.niftiReal["nifti/nibabel/functional.nii"], "functional");
  },
});

for (const name of ["ch2", "ch2bet"]) {
  const path = sharedDataPath(`nifti/mricron/${name}.nii.gz`);
  skippableTest({
    name: `nifti: real ${name}.nii.gz (181×217×181 uint8, gzip) matches nibabel`,
    skip: needsSharedData(path),
    fn: async () => {
      const v = await readNifti(path!);
      assertEquals(v.shape, [181, 217, 181]);
      assertEquals([v.meta.datatype, v.meta.sformCode, v.meta.qformCode, v.meta.affineSource], [
        "uint8",
        4,
        0,
        "sform",
      ]);
      checkReal(v, REF.niftiReal[`nifti/mricron/${name}.nii.gz`], name);
    },
  });
}

// ------------------------------------------------------------------ NiftiDataset

Deno.test("NiftiDataset: a folder with a labels map, [C, D, H, W] samples", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meddiff_niftids_" });
  try {
    for (const f of ["n1_uint8.nii", "n1_4d.nii.gz", "n1_rgb24.nii", "n2_int16.nii"]) {
      await Deno.copyFile(fixturePath(f), `${dir}/${f}`);
    }
    await Deno.writeTextFile(`${dir}/notes.txt`, "not a volume");
    const ds = await NiftiDataset.open({
      dir,
      labels: { n1_uint8: 0, "n1_4d.nii.gz": 1, n1_rgb24: 2, [`${dir}/n2_int16.nii`]: 1 },
      classes: ["a", "b", "c"],
    });
    assertEquals(ds.entries.map((e) => e.id), ["n1_4d", "n1_rgb24", "n1_uint8", "n2_int16"]);
    assertEquals(Array.from(ds.labels!()), [1, 2, 0, 1]);
    assertEquals(ds.classes, ["a", "b", "c"]);
    const four = await ds.get(0);
    assertEquals(four.image.shape, [5, 2, 2, 3]); // time as channels
    const pd = byName("n1_4d.nii.gz").pixdim;
    assertEquals(four.meta.spacing, [Math.abs(pd[3]), Math.abs(pd[2]), Math.abs(pd[1])]);
    const rgb = await ds.get(1);
    assertEquals(rgb.image.shape, [3, 2, 3, 4]);
    const ref = byName("n1_rgb24.nii").data; // interleaved [z, y, x, 3]
    for (let i = 0; i < 24; i++) for (let c = 0; c < 3; c++) assertEquals(rgb.image.data[c * 24 + i], ref[i * 3 + c]);
    const grey = await ds.get(2);
    assertEquals([grey.image.shape, grey.label, grey.id], [[1, 2, 3, 4], 0, "n1_uint8"]);
    assertEquals(Array.from(grey.image.data), byName("n1_uint8.nii").data);
    assertEquals(grey.meta.affine, byName("n1_uint8.nii").affine);
    await assertRejects(() => ds.get(4), RangeError, "index must be an integer in [0, 4)");

    // a missing label: error, or skipped and reported
    await assertRejects(
      () => NiftiDataset.open({ dir, labels: new Map([["n1_uint8", 0]]) }),
      DatasetError,
      'no label for "n1_4d"',
    );
    const some = await NiftiDataset.open({ dir, labels: new Map([["n1_uint8", 0], ["n2_int16", 7]]), onError: "skip" });
    assertEquals(some.entries.map((e) => e.id), ["n1_uint8", "n2_int16"]);
    const big = await NiftiDataset.open({
      dir,
      labels: new Map([["n1_uint8", 0], ["n2_int16", 7], ["n1_4d", 1], ["n1_rgb24", 1]]),
      numClasses: 2,
      onError: "skip",
    });
    assertEquals(big.skipReport.skipped.map((s) => s.reason), [
      "label 7 in the labels map is not an integer in [0, 2)",
    ]);
    // unlabelled
    const plain = await NiftiDataset.open({ files: [fixturePath("n1_int8.nii")] });
    assertEquals([plain.labels, (await plain.get(0)).label], [undefined, -1]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("NiftiDataset: CSV rows name the volumes and their labels", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meddiff_niftics_" });
  try {
    for (const f of ["n1_uint8.nii", "n1_int8.nii", "n1_4d.nii.gz"]) await Deno.copyFile(fixturePath(f), `${dir}/${f}`);
    await Deno.writeTextFile(`${dir}/labels.csv`, "subject,dx\nn1_int8,1\nn1_4d.nii.gz,0\nn1_uint8,1\n");
    const ds = await NiftiDataset.open({
      dir,
      csv: { path: `${dir}/labels.csv`, idColumn: "subject", labelColumn: "dx" },
    });
    assertEquals(ds.entries.map((e) => [e.id, e.label]), [["n1_int8", 1], ["n1_4d", 0], ["n1_uint8", 1]]);
    assertEquals((await ds.get(0)).image.shape, [1, 2, 3, 4]);

    await Deno.writeTextFile(`${dir}/bad.csv`, "subject,dx\nn1_int8,1\nghost,0\nn1_uint8,x\n");
    const csv = { path: `${dir}/bad.csv`, idColumn: "subject", labelColumn: "dx" };
    await assertRejects(
      () => NiftiDataset.open({ dir, csv }),
      DatasetError,
      `${dir}/bad.csv:3: no volume file for id "ghost"`,
    );
    const kept = await NiftiDataset.open({ dir, csv, onError: "skip" });
    assertEquals(kept.entries.map((e) => e.id), ["n1_int8"]);
    assertEquals(kept.skipReport.skipped.length, 2);
    await assertRejects(
      () => NiftiDataset.open({ dir, csv: { ...csv, labelColumn: "diagnosis" } }),
      DatasetError,
      'no column "diagnosis"',
    );
    // a corrupt volume is found when read, and the error names it
    await Deno.writeFile(`${dir}/n1_int8.nii`, new Uint8Array(100));
    await assertRejects(() => kept.get(0), DatasetError, `${dir}/n1_int8.nii: not a NIfTI file`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
