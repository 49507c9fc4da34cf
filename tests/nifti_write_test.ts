/**
 * writeNifti (datasets/nifti_write.ts): volumes written as NIfTI-1 (.nii and .nii.gz) read back
 * through readNifti with the same voxels, and with the affine in both the sform and the qform
 * (rotated, anisotropic, flipped, offset); bad input is refused.
 */
import { readNifti } from "../datasets/nifti.ts";
import { affineToQuaternion, encodeNifti, writeNifti } from "../datasets/nifti_write.ts";
import { assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { assertClose, withTempDir } from "./_util.ts";

/** A rotation about z by `deg`, then about x by `tilt`, times voxel sizes, plus an offset; `flip` mirrors x. */
function affineOf(deg: number, tilt: number, sizes: number[], offset: number[], flip: boolean): number[][] {
  const a = deg * Math.PI / 180, b = tilt * Math.PI / 180;
  const rz = [[Math.cos(a), -Math.sin(a), 0], [Math.sin(a), Math.cos(a), 0], [0, 0, 1]];
  const rx = [[1, 0, 0], [0, Math.cos(b), -Math.sin(b)], [0, Math.sin(b), Math.cos(b)]];
  const r = rz.map((row) => [0, 1, 2].map((j) => row.reduce((s, v, k) => s + v * rx[k][j], 0)));
  const s = [flip ? -sizes[0] : sizes[0], sizes[1], sizes[2]];
  return [...r.map((row, i) => [...row.map((v, j) => v * s[j]), offset[i]]), [0, 0, 0, 1]];
}

const flat = (m: number[][]) => m.slice(0, 3).flat();

for (const [name, flip] of [["right-handed", false], ["mirrored (qfac −1)", true]] as const) {
  Deno.test(`writeNifti: voxels, sform and qform read back (${name}; .nii and .nii.gz)`, async () => {
    await withTempDir("meddiff-nifti-", async (dir) => {
      const shape = [3, 4, 5];
      const data = Float32Array.from({ length: 60 }, (_, i) => Math.sin(i) * 100);
      const affine = affineOf(30, 20, [0.8, 1.2, 2.5], [-90, 126.5, -72], flip);
      for (const file of ["a.nii", "a.nii.gz"]) {
        await writeNifti(`${dir}/${file}`, { data, shape, affine, description: "test volume" });
        const v = await readNifti(`${dir}/${file}`);
        assertEquals(v.shape, shape);
        assertEquals(Array.from(v.data), Array.from(data));
        assertEquals(v.meta.dims, [5, 4, 3]);
        assertEquals([v.meta.sformCode, v.meta.qformCode], [1, 1]);
        assertEquals(v.meta.affineSource, "sform");
        assertClose(flat(v.meta.sform), flat(affine), { atol: 1e-4, msg: "sform" });
        assertClose(flat(v.meta.qform), flat(affine), { atol: 1e-4, msg: "qform from the quaternion" });
        assertClose(v.meta.voxelSize, [0.8, 1.2, 2.5], { atol: 1e-6 });
        assertEquals(v.meta.spatialUnit, "mm");
        assertEquals(v.meta.description, "test volume");
      }
      assertEquals(affineToQuaternion(affine).qfac, flip ? -1 : 1);
    });
  });
}

Deno.test("writeNifti: a quarter turn (the trace-below-0.5 branches of the quaternion) reads back", async () => {
  await withTempDir("meddiff-nifti-", async (dir) => {
    for (
      const affine of [affineOf(180, 0, [1, 1, 1], [0, 0, 0], false), affineOf(90, 180, [2, 1, 3], [1, 2, 3], false)]
    ) {
      await writeNifti(`${dir}/b.nii`, { data: new Float32Array(8), shape: [2, 2, 2], affine });
      assertClose(flat((await readNifti(`${dir}/b.nii`)).meta.qform), flat(affine), { atol: 1e-4, msg: "qform" });
    }
  });
});

Deno.test("writeNifti: bad input is refused", async () => {
  assertThrows(() => encodeNifti({ data: new Float32Array(5), shape: [2, 2, 2] }), RangeError, "8 values");
  assertThrows(() => encodeNifti({ data: new Float32Array(4), shape: [2, 2] }), RangeError, "shape");
  const singular = [[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
  assertThrows(
    () => encodeNifti({ data: new Float32Array(8), shape: [2, 2, 2], affine: singular }),
    RangeError,
    "singular",
  );
  await assertRejects(
    () => writeNifti("/tmp/x.png", { data: new Float32Array(8), shape: [2, 2, 2] }),
    RangeError,
    ".nii",
  );
});
