/**
 * 2-D slices of 3-D volumes (datasets/volume_slices.ts) and `data.sliceAxis` of the 2-D data
 * layer: each axis's slices against index arithmetic, the middle share kept, labels and ids per
 * slice, a MedMNIST 3D archive opened as a 2-D image set, or (without data.sliceAxis) as volumes.
 */
import { zipSync } from "fflate";
import { middleSlices, sliceOf, VolumeSlices } from "../datasets/volume_slices.ts";
import { DATA_DEFAULTS, openImageData } from "../tasks/common/data.ts";
import { Rng } from "../util/rng.ts";
import { encodeNpy } from "../util/formats/npy.ts";
import { assertEquals } from "./_asserts.ts";
import { withTempDir } from "./_util.ts";

Deno.test("volume slices: every axis, the middle share, labels and ids", async () => {
  // A 2×3×4 volume holding its own flat index.
  const v = Float32Array.from({ length: 24 }, (_, i) => i);
  assertEquals(Array.from(sliceOf(v, [2, 3, 4], 0, 1)), [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]);
  assertEquals(Array.from(sliceOf(v, [2, 3, 4], 1, 2)), [8, 9, 10, 11, 20, 21, 22, 23]);
  assertEquals(Array.from(sliceOf(v, [2, 3, 4], 2, 3)), [3, 7, 11, 15, 19, 23]);
  assertEquals(middleSlices(8, 0.5), [2, 3, 4, 5]);
  assertEquals(middleSlices(3, 0.1), [1]);
  const volumes = {
    length: 2,
    classes: ["a", "b"],
    labels: () => Int32Array.from([1, 0]),
    get: (i: number) =>
      Promise.resolve({
        image: { data: v.map((x) => x + 100 * i), shape: [1, 2, 3, 4] },
        label: 1 - i,
        id: `v${i}`,
        meta: {},
      }),
  };
  const s = new VolumeSlices(volumes, [2, 3, 4], 2, 0.5);
  assertEquals(s.length, 4, "2 of 4 sagittal slices per volume");
  assertEquals(Array.from(await s.labels()), [1, 1, 0, 0]);
  const last = await s.get(3);
  assertEquals([last.id, last.label, last.image.shape], ["v1/w2", 0, [1, 2, 3]]);
  assertEquals(Array.from(last.image.data), [102, 106, 110, 114, 118, 122]);
});

Deno.test("volume slices: data.sliceAxis opens a MedMNIST 3D archive as a 2-D image set", async () => {
  await withTempDir("meddiff-slices-", async (dir) => {
    const entry = (split: string, n: number) => ({
      [`${split}_images.npy`]: encodeNpy({
        dtype: "uint8",
        shape: [n, 6, 6, 6],
        data: Uint8Array.from({ length: n * 216 }, (_, i) => (i * 7) & 255),
      }),
      [`${split}_labels.npy`]: encodeNpy({
        dtype: "uint8",
        shape: [n, 1],
        data: Array.from({ length: n }, (_, i) => i % 2),
      }),
    });
    await Deno.writeFile(`${dir}/vols.npz`, zipSync({ ...entry("train", 4), ...entry("val", 2), ...entry("test", 2) }));
    const base = { ...DATA_DEFAULTS, dataset: "medmnist", path: `${dir}/vols.npz`, labelCheck: "off" };
    const d = await openImageData({ ...base, sliceAxis: 1, sliceFraction: 0.5 }, 0);
    assertEquals([d.train.length, d.val.length, d.test!.length, d.imageSize, d.channels], [12, 6, 6, 6, 1]);
    const s = await d.train.get(4);
    assertEquals(s.label, 1, "slice 4 belongs to volume 1");
    // Without data.sliceAxis: the volumes themselves, for a 3-D classifier.
    const vols = await openImageData(base, 0);
    assertEquals([vols.train.length, vols.spatialDims, vols.imageSize], [4, 3, 6]);
    const one = await vols.evalTransform(await vols.train.get(0), new Rng(0));
    assertEquals((one.image as { shape: number[] }).shape, [1, 6, 6, 6]);
  });
});
