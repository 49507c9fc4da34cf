/**
 * `data.fraction` and `data.syntheticPath`/`data.syntheticRatio` (tasks/common/training_mix.ts):
 * the training split keeps a stratified share of the real images and gains a seeded draw of
 * generated ones; validation and test never see a synthetic image; bad settings are refused
 * naming the key.
 */
import { DATA_DEFAULTS, openImageData } from "../tasks/common/data.ts";
import { mixTraining } from "../tasks/common/training_mix.ts";
import { classFolderName, saveImageFolder } from "../tasks/lib/image_grid.ts";
import { ConcatDataset } from "../datasets/concat.ts";
import { ConfigError } from "../train/config.ts";
import { assert, assertEquals, assertRejects } from "./_asserts.ts";
import { gpuTest, TINY_UNET, withTempDir } from "./_util.ts";
import { trainCommand } from "../tasks/ddpm/commands.ts";
import { trainClassifierCommand } from "../tasks/classify/commands.ts";

const BASE = { ...DATA_DEFAULTS, imageSize: 8, channels: 3, numClasses: 2, length: 80, valFraction: 0.25 };

type Sampled = { id: string; label: number; meta: Record<string, unknown> };

async function idsOf(ds: { length: number; get(i: number): Promise<Sampled> }) {
  const out: Sampled[] = [];
  for (let i = 0; i < ds.length; i++) out.push(await ds.get(i));
  return out;
}

/** A sample read from the synthetic folder (its source path is under it). */
const isSynthetic = (s: Sampled, root: string) => String(s.meta.path ?? "").startsWith(`${root}/synthetic/`);

Deno.test("training mix: a stratified real share plus synthetic images, in training only", async () => {
  await withTempDir("meddiff-mix-", async (root) => {
    // 20 generated 8×8 images per class, written as deno task sample --images writes them.
    const n = 40, img = 3 * 8 * 8;
    const pixels = Float32Array.from({ length: n * img }, (_, i) => Math.sin(i) * 0.9);
    const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
    const plain = await openImageData(BASE, 0);
    const names = plain.classes.map(classFolderName);
    await saveImageFolder(`${root}/synthetic`, pixels, [n, 3, 8, 8], labels, names);

    const mixed = await openImageData(
      { ...BASE, fraction: 0.5, syntheticPath: `${root}/synthetic`, syntheticRatio: 1 },
      0,
    );
    const real = Math.round(plain.train.length / 2);
    assert(Math.abs(mixed.train.length - 2 * real) <= 2, `${mixed.train.length} = half the real + as many synthetic`);
    assert(mixed.train instanceof ConcatDataset);
    const train = await idsOf(mixed.train);
    const synthetic = train.filter((s) => isSynthetic(s, root));
    assertEquals(synthetic.length, mixed.train.length - (mixed.train as ConcatDataset).parts[0].length);
    // Labels follow the class folders; the real share keeps both classes in proportion.
    for (const s of synthetic) assertEquals(s.label, names.indexOf(s.id.split("/")[0]), s.id);
    const realLabels = await (mixed.train as ConcatDataset).parts[0].labels!();
    const allLabels = await plain.train.labels!();
    for (const c of [0, 1]) {
      const share = realLabels.filter((l) => l === c).length / realLabels.length;
      const whole = allLabels.filter((l) => l === c).length / allLabels.length;
      assert(Math.abs(share - whole) < 0.1, `class ${c}: ${share} vs ${whole}`);
    }
    // Validation and test are the plain data's, with no synthetic image.
    for (const split of ["val", "test"] as const) {
      const a = await idsOf(mixed[split]!), b = await idsOf(plain[split]!);
      assertEquals(a.map((s) => s.id), b.map((s) => s.id), `${split} unchanged`);
      assert(!a.some((s) => isSynthetic(s, root)), `no synthetic image in ${split}`);
    }
    assert(mixed.description.includes("synthetic"), mixed.description);
    // The same seed draws the same images.
    const again = await openImageData(
      { ...BASE, fraction: 0.5, syntheticPath: `${root}/synthetic`, syntheticRatio: 1 },
      0,
    );
    assertEquals((await idsOf(again.train)).map((s) => s.id), train.map((s) => s.id));
    // data.fractionSeed fixes the real share across run seeds; without it each seed draws its own.
    const share = async (seed: number, fractionSeed: number | null) => {
      const mix = await mixTraining(plain.train, plain.classes, BASE, { ...BASE, fraction: 0.5, fractionSeed }, seed);
      return (await idsOf(mix.train)).map((s) => s.id);
    };
    assertEquals(await share(1, 0), await share(2, 0));
    assertEquals(await share(0, null), await share(0, 0));
    assert(String(await share(1, null)) !== String(await share(2, null)), "each run seed draws its own share");

    // Synthetic images alone (the classification accuracy score): every generated image, real val/test.
    const only = await openImageData({ ...BASE, syntheticPath: `${root}/synthetic`, syntheticOnly: true }, 0);
    assertEquals(only.train.length, n);
    assert((await idsOf(only.train)).every((s) => isSynthetic(s, root)), "training is all synthetic");
    assertEquals((await idsOf(only.test!)).map((s) => s.id), (await idsOf(plain.test!)).map((s) => s.id));
    await assertRejects(
      () => openImageData({ ...BASE, syntheticOnly: true }, 0),
      ConfigError,
      "needs data.syntheticPath",
    );
    await assertRejects(
      () => openImageData({ ...BASE, syntheticPath: `${root}/synthetic`, syntheticRatio: 3 }, 0),
      ConfigError,
      "data.syntheticRatio 3 asks for",
    );
    await assertRejects(
      () => openImageData({ ...BASE, syntheticPath: `${root}/missing` }, 0),
      ConfigError,
      "data.syntheticPath",
    );
    await Deno.mkdir(`${root}/synthetic/not_a_class`);
    await Deno.writeFile(
      `${root}/synthetic/not_a_class/x.png`,
      await Deno.readFile(`${root}/synthetic/${names[0]}/img_000000.png`),
    );
    await assertRejects(
      () => openImageData({ ...BASE, syntheticPath: `${root}/synthetic` }, 0),
      ConfigError,
      "expected class folders",
    );
  });
});

gpuTest(
  "training mix: data.syntheticPath naming a DDPM run samples it once into <run>/synthetic and reuses it",
  async () => {
    await withTempDir("meddiff-mix-run-", async (root) => {
      const shape = ["--data.length=24", "--data.imageSize=8", "--data.channels=3", "--data.numClasses=2"];
      const gen = await trainCommand(
        [...shape, ...TINY_UNET, "--train.epochs=1", "--train.batchSize=6", "--sample.steps=3", "--no-sample"].concat(
          `--output.root=${root}`,
        ),
        true,
      );
      assert(gen);
      const classifier = (seed: number) =>
        trainClassifierCommand([
          ...shape,
          "--data.valFraction=0.25",
          `--data.syntheticPath=${gen.run.path}`,
          "--data.syntheticRatio=1",
          "--train.epochs=1",
          "--train.batchSize=6",
          `--seed=${seed}`,
          `--output.root=${root}/classifiers`,
        ], true);
      const first = await classifier(0);
      assert(first);
      // 18 real training images at ratio 1 → 18 synthetic: 9 per class.
      const folder = `${gen.run.path}/synthetic/per-class-9`;
      const files = async () => {
        const out: Record<string, number> = {};
        for (const c of Deno.readDirSync(folder)) {
          for (const f of Deno.readDirSync(`${folder}/${c.name}`)) {
            out[`${c.name}/${f.name}`] = (await Deno.stat(`${folder}/${c.name}/${f.name}`)).mtime!.getTime();
          }
        }
        return out;
      };
      const made = await files();
      assertEquals(Object.keys(made).length, 18);
      const log = await Deno.readTextFile(first.run.logPath);
      assert(log.includes(`+ 18 synthetic from ${gen.run.path}`), "the mix is logged");
      assert(await classifier(1));
      assertEquals(await files(), made, "the second run reused the samples");
      // Without a sampler (e.g. evaluate), samples that were never made are an error saying how to make them.
      await assertRejects(
        () =>
          openImageData({
            ...DATA_DEFAULTS,
            length: 24,
            imageSize: 8,
            channels: 3,
            numClasses: 2,
            valFraction: 0.25,
            syntheticPath: gen.run.path,
            syntheticRatio: 2,
          }, 0),
        ConfigError,
        `deno task sample --run ${gen.run.path} --per-class 18`,
      );
    });
  },
);
