/**
 * The 3-D workflows' data (tasks/common/volume_data.ts): a NIfTI folder resampled to the
 * configured cube and scaled to [0, 1] by percentiles, split with a seed (one volume serves every
 * split), the affine carried onto the new grid; a VAE run on it records that affine.
 */
import { writeNifti } from "../datasets/nifti_write.ts";
import { openVolumeData, rescaledAffine, VOLUME_DATA_DEFAULTS } from "../tasks/common/volume_data.ts";
import { trainVaeCommand } from "../tasks/vae3d/commands.ts";
import { ConfigError } from "../train/config.ts";
import { assert, assertEquals, assertRejects } from "./_asserts.ts";
import { assertClose, gpuTest, withTempDir } from "./_util.ts";

const AFFINE = [[-2, 0, 0, 90], [0, 2, 0, -126], [0, 0, 3, -72], [0, 0, 0, 1]];

async function writeVolumes(dir: string, n: number) {
  await Deno.mkdir(dir, { recursive: true });
  for (let i = 0; i < n; i++) {
    const data = Float32Array.from(
      { length: 10 * 12 * 8 },
      (_, k) => 100 + 50 * Math.sin(k * 0.1 + i) + (k === 7 ? 1e4 : 0),
    );
    await writeNifti(`${dir}/vol${i}.nii.gz`, { data, shape: [10, 12, 8], affine: AFFINE });
  }
}

Deno.test("volume data: rescaledAffine keeps the field of view on a coarser grid", () => {
  // x (W) 8 → 4: 2 mm → 4 mm, and the first voxel centre moves half an old voxel… per new voxel: (f − 1)/2 = 0.5.
  const a = rescaledAffine(AFFINE, [10, 12, 8], [5, 6, 4]);
  assertClose(a.flat(), [-4, 0, 0, 89, 0, 4, 0, -125, 0, 0, 6, -70.5, 0, 0, 0, 1], { atol: 1e-12 });
});

gpuTest(
  "volume data: a NIfTI folder resampled, percentile-scaled to [0, 1] and split; a VAE run keeps the affine",
  async () => {
    await withTempDir("meddiff-nifti-data-", async (root) => {
      await writeVolumes(`${root}/three`, 3);
      const d = await openVolumeData(
        { ...VOLUME_DATA_DEFAULTS, dataset: "nifti", path: `${root}/three`, size: 8, valFraction: 0.34 },
        0,
      );
      assertEquals([d.train.length, d.val.length, d.test.length], [2, 1, 1]);
      assertEquals(d.size, [8, 8, 8]);
      assertEquals(d.classes, ["volume"]);
      const s = await d.train.get(0);
      const v = s.image as { data: Float32Array; shape: number[] };
      assertEquals(v.shape, [1, 8, 8, 8]);
      assert(Math.min(...v.data) === 0 && Math.max(...v.data) === 1, "scaled to [0, 1], the outlier clipped");
      assertEquals(s.label, 0);
      assertClose(d.affine!.flat(), rescaledAffine(AFFINE, [10, 12, 8], [8, 8, 8]).flat(), { atol: 1e-12 });

      await writeVolumes(`${root}/one`, 1);
      const one = await openVolumeData({ ...VOLUME_DATA_DEFAULTS, dataset: "nifti", path: `${root}/one`, size: 8 }, 0);
      assert(one.train === one.val && one.val === one.test, "one volume serves every split");

      const out = await trainVaeCommand([
        "--data.dataset=nifti",
        `--data.path=${root}/three`,
        "--data.size=8",
        "--model.numChannels=[4,8]",
        "--model.normNumGroups=2",
        "--train.epochs=1",
        "--train.batchSize=2",
        `--output.root=${root}/runs`,
      ], true);
      const info = JSON.parse(await Deno.readTextFile(`${out!.run.path}/volume.json`));
      assertClose(info.affine.flat(), d.affine!.flat(), { atol: 1e-9 });
      out!.result.model.dispose();
      await Deno.mkdir(`${root}/empty`);
      await assertRejects(
        () => openVolumeData({ ...VOLUME_DATA_DEFAULTS, dataset: "nifti", path: `${root}/empty` }, 0),
        ConfigError,
        "no usable NIfTI volumes",
      );
    });
  },
);

Deno.test("volume data: data.labels gives NIfTI volumes classes (names or indices) and a stratified split", async () => {
  await withTempDir("meddiff-nifti-labels-", async (root) => {
    await writeVolumes(`${root}/vols`, 6);
    const labelled = `${root}/labels.csv`;
    await Deno.writeTextFile(
      labelled,
      "id,label\nvol0.nii.gz,normal\nvol1,mass\nvol2,normal\nvol3,mass\nvol4,normal\nvol5,mass\n",
    );
    const base = { ...VOLUME_DATA_DEFAULTS, dataset: "nifti", path: `${root}/vols`, size: 8, valFraction: 0.34 };
    const data = await openVolumeData({ ...base, labels: labelled }, 0);
    assertEquals(data.classes, ["mass", "normal"]);
    const labelsOf = async (ds: typeof data.train) => {
      const out: [string, number][] = [];
      for (let i = 0; i < ds.length; i++) {
        const s = await ds.get(i);
        out.push([String(s.id), s.label as number]);
      }
      return out;
    };
    const train = await labelsOf(data.train), val = await labelsOf(data.val);
    assertEquals(train.length + val.length, 6);
    for (const [id, label] of [...train, ...val]) assertEquals(label, Number(id.slice(-1)) % 2 === 0 ? 1 : 0, id);
    assertEquals(val.map(([, l]) => l).sort(), [0, 1], "stratified: one of each class in validation");
    assert(data.description.includes("2 classes"));
    // Indices work too; every volume needs a row, every row a volume, and the columns must be there.
    await Deno.writeTextFile(labelled, "id,label\n" + [0, 1, 2, 3, 4, 5].map((i) => `vol${i},${i % 3}`).join("\n"));
    assertEquals((await openVolumeData({ ...base, labels: labelled }, 0)).classes, ["0", "1", "2"]);
    await Deno.writeTextFile(labelled, "id,label\nvol0,a\nvol1,b\n");
    await assertRejects(() => openVolumeData({ ...base, labels: labelled }, 0), ConfigError, "vol2");
    await Deno.writeTextFile(labelled, "id,label\n" + [0, 1, 2, 3, 4, 5, 9].map((i) => `vol${i},x${i % 2}`).join("\n"));
    await assertRejects(() => openVolumeData({ ...base, labels: labelled }, 0), ConfigError, "name no volume");
    await Deno.writeTextFile(labelled, "file,class\nvol0,a\n");
    await assertRejects(() => openVolumeData({ ...base, labels: labelled }, 0), ConfigError, "columns id and label");
  });
});
