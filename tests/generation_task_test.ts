/**
 * `deno task evaluate-generation` end to end on tiny runs (procedural 8×8 images): a DDPM run and
 * a ResNet-18 classifier run on the same data; the report holds every metric overall and per
 * class, the real-vs-real floor, the memorisation check and its figures; a folder of copied
 * training images (`--images`) is caught as memorised; bad input is refused before any sampling.
 */
import { trainClassifierCommand } from "../tasks/classify/commands.ts";
import { trainCommand } from "../tasks/ddpm/commands.ts";
import { evaluateGenerationCommand } from "../tasks/generation/commands.ts";
import { openFeatureNetwork, realSet } from "../tasks/generation/feature_network.ts";
import { classFolderName, saveImageFolder } from "../tasks/lib/image_grid.ts";
import { ConfigError } from "../train/config.ts";
import { assert, assertEquals, assertRejects } from "./_asserts.ts";
import { gpuTest, TINY_UNET, withTempDir } from "./_util.ts";

const DATA = ["--data.length=64", "--data.imageSize=8", "--data.valFraction=0.25"];

gpuTest("evaluate-generation: distances, manifold metrics, floors and memorisation of a tiny run", async () => {
  await withTempDir("meddiff-generation-", async (root) => {
    const ddpm = await trainCommand([
      ...DATA,
      ...TINY_UNET,
      "--train.batchSize=12",
      "--train.epochs=1",
      `--output.root=${root}`,
      "--no-sample",
    ], true);
    const cls = await trainClassifierCommand(
      [...DATA, "--train.epochs=1", "--train.batchSize=16", `--output.root=${root}`],
      true,
    );
    const run = ddpm!.run.path, features = cls!.run.path;
    const out = await evaluateGenerationCommand(
      ["--run", run, "--features", features, "--count", "8", "--steps", "2", "--batch", "5", "--out", `${root}/gen`],
      true,
    );
    assertEquals(out!.files, [
      "generation.json",
      "closest_pairs.png",
      "memorisation_pixels.png",
      "memorisation_features.png",
      "samples.png",
    ]);
    const r = JSON.parse(await Deno.readTextFile(`${root}/gen/generation.json`));
    assertEquals(r.feature_network.name, "resnet18-procedural");
    assertEquals(r.metric_names.fd, "FD-resnet18-procedural");
    assertEquals(r.generator.count_per_class, 8);
    for (const part of [r.generated, r.floor_train_vs_test]) {
      const m = part.overall;
      assert(m.fd >= 0 && Number.isFinite(m.kd_mean) && m.kd_std >= 0, JSON.stringify(m));
      for (const k of ["precision", "recall", "coverage"]) assert(m[k] >= 0 && m[k] <= 1, `${k} ${m[k]}`);
      assertEquals(Object.keys(part.per_class).length, 4, "one entry per class");
    }
    assertEquals(r.generated.overall.n_candidate, 32);
    assertEquals(r.floor_train_vs_test.overall.n_candidate, r.real.train);
    for (const space of ["pixels", "features"]) {
      const m = r.memorisation[space];
      assert(m.share_below_test_min >= 0 && m.share_below_test_min <= m.share_below_test_p05, JSON.stringify(m));
      assert(m.test_min <= m.test_p05 && m.test_p05 <= m.test_median, JSON.stringify(m));
    }
    const pairs = r.memorisation.closest_pairs;
    assertEquals(pairs.length, 8);
    for (let i = 1; i < pairs.length; i++) {
      assert(pairs[i - 1].pixel_distance <= pairs[i].pixel_distance, "nearest first");
    }

    // --images: a folder holding copies of the training images is flagged as memorised in full,
    // and its distances to the test split are the floor's (up to PNG rounding).
    const net = await openFeatureNetwork(features);
    const train = await realSet(net, "train");
    net.embedder.dispose();
    const names = net.data.classes.map(classFolderName);
    await saveImageFolder(`${root}/copies`, train.pixels, [train.n, 3, 8, 8], train.labels, names, { range: [0, 1] });
    const copied = await evaluateGenerationCommand(
      ["--run", run, "--features", features, "--images", `${root}/copies`, "--out", `${root}/gen-copies`],
      true,
    );
    const c = copied!.report as typeof r;
    assertEquals(c.generator.images, `${root}/copies`);
    assertEquals(c.generated.overall.n_candidate, train.n);
    assertEquals(
      c.memorisation.pixels.share_below_test_min,
      1,
      "every copy is nearer its original than any test image",
    );
    assert(
      c.memorisation.pixels.generated_median < Math.sqrt(3 * 8 * 8) / 255, // half a level's rounding per value at most
      `copies are within PNG rounding: ${c.memorisation.pixels.generated_median}`,
    );
    const fdCopy = c.generated.overall.fd, fdFloor = c.floor_train_vs_test.overall.fd;
    assert(Math.abs(fdCopy - fdFloor) <= 0.02 * fdFloor + 1e-3, `FD of the copies ${fdCopy} vs the floor ${fdFloor}`);
    await assertRejects(
      () =>
        evaluateGenerationCommand(
          ["--run", run, "--features", features, "--images", `${root}/copies`, "--count", "4"],
          true,
        ),
      ConfigError,
      "--images reads generated images",
    );
    await assertRejects(
      () => evaluateGenerationCommand(["--run", run, "--features", features, "--images", `${root}/missing`], true),
      ConfigError,
      "--images",
    );

    // --inception (user-supplied Inception-v3 weights; the network is checked in
    // tests/inception_test.ts, its 299×299 passes are too slow for this suite): exactly one
    // feature network, and a missing file is named.
    await assertRejects(
      () => evaluateGenerationCommand(["--run", run, "--inception", `${root}/none.safetensors`], true),
      Error,
      `${root}/none.safetensors`,
    );
    await assertRejects(
      () => evaluateGenerationCommand(["--run", run, "--features", features, "--inception", "x.safetensors"], true),
      ConfigError,
      "give one feature network",
    );

    await assertRejects(() => evaluateGenerationCommand(["--run", run], true), ConfigError, "--features");
    await assertRejects(
      () => evaluateGenerationCommand(["--run", run, "--features", run], true),
      ConfigError,
      "must be a classifier run",
    );
    await assertRejects(
      () => evaluateGenerationCommand(["--run", run, "--features", features, "--count", "0"], true),
      ConfigError,
      "--count",
    );
  });
});
