/**
 * `deno task evaluate-generation --run <diffusion run> --features <classifier run>`: samples
 * `--count` images per class from the run (or reads `--images`, a folder of them) and measures them against the real test split in the
 * feature space of a classifier trained on the real training split — Fréchet and kernel
 * distances, precision/recall, density/coverage, overall and per class, beside the real
 * training split's own figures (the floor) — and checks memorisation: each generated image's
 * nearest training image in pixels and in features, against how near real test images come.
 * Writes `generation.json`, `closest_pairs.png` (generated above, nearest training image below),
 * `memorisation_pixels.png` / `memorisation_features.png` (the nearest-training distances of
 * generated and real test images) and `samples.png`.
 * @module
 */
import { rasterToArray } from "../../datasets/transforms/normalize.ts";
import { ConfigError, loadConfig } from "../../train/config.ts";
import { openRunDir } from "../../train/run_dir.ts";
import { writeJsonAtomic } from "../../util/io.ts";
import { joinPath } from "../../util/path.ts";
import { savePng } from "../../util/png.ts";
import { distanceHistogramPlot } from "../../plots/distances.ts";
import { dataNormalization, toUnitRange } from "../common/data.ts";
import { checkSplit } from "../common/evaluation.ts";
import { openGeneratedFolder } from "../common/training_mix.ts";
import { loadRunDataInfo } from "../common/run_info.ts";
import { ddpmSchema } from "../ddpm/config.ts";
import { ddpmCheckpoint, loadRunDenoiser } from "../ddpm/run_model.ts";
import { generateImages } from "../ddpm/sampling.ts";
import { imageGrid } from "../lib/image_grid.ts";
import { parseTaskArgs, positiveInt } from "../lib/args.ts";
import { type FeatureNetwork, imageSet, openFeatureNetwork, openInceptionNetwork, realSet } from "./feature_network.ts";
import { compareSets, type NearestStats, nearestTraining, type SetMetrics } from "./report.ts";

/** What `deno task evaluate-generation` wrote and measured. */
export interface GenerationEvaluation {
  outDir: string;
  files: string[];
  /** The whole `generation.json`. */
  report: Record<string, unknown>;
}

type Compared = SetMetrics | { skipped: string };

/** `deno task evaluate-generation`; null after `--help`. */
export async function evaluateGenerationCommand(
  argv: readonly string[],
  quiet = false,
): Promise<GenerationEvaluation | null> {
  const args = parseTaskArgs(argv, {
    name: "evaluate-generation",
    description: "Measures a class-conditional diffusion run's samples against the real test split (Fréchet and " +
      "kernel distances, precision/recall, density/coverage in a trained classifier's feature space, with the " +
      "real training split as the floor) and checks them for memorised training images.",
    options: {
      run: { description: "the diffusion run folder (required)", valueName: "dir" },
      features: {
        description: "a classifier run trained on the same data's training split: the feature network",
        valueName: "dir",
      },
      inception: {
        description:
          "instead of --features: Inception-v3 FID weights (safetensors, torchvision names); metrics are FID/KID",
        valueName: "file",
      },
      count: { description: "images sampled per class (default 100)", valueName: "n" },
      images: {
        description: "measure this folder of generated images (deno task sample --images) instead of sampling",
        valueName: "dir",
      },
      guidance: { description: "classifier-free guidance scale (default: the run's sample.guidance)", valueName: "s" },
      steps: { description: "denoising steps (default: the run's sample.steps)", valueName: "n" },
      batch: { description: "images per sampling batch (default 64)", valueName: "n" },
      seed: { description: "seed of the sampling noise and the metrics' subsets (default 0)", valueName: "n" },
      checkpoint: { description: "best (default), latest, or a checkpoint file", valueName: "which", default: "best" },
      out: { description: "output folder (default: <run>/generation-<feature network>)", valueName: "dir" },
    },
  });
  if (args.help) {
    console.log(args.helpText);
    return null;
  }
  const o = args.options;
  if (!o.run) throw new ConfigError(["--run <dir> is required (a folder made by deno task train)"]);
  if (!o.features === !o.inception) {
    throw new ConfigError([
      "give one feature network: --features <dir> (a classifier run of deno task train-classifier) or " +
      "--inception <file> (Inception-v3 FID weights as safetensors)",
    ]);
  }
  if (args.overrides.length > 0) throw new ConfigError([`unknown arguments: ${args.overrides.join(" ")}`]);
  const count = positiveInt("count", o.count, 100);
  const batch = positiveInt("batch", o.batch, 64);
  const seed = o.seed === undefined ? 0 : Number(o.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new ConfigError([`--seed must be an integer ≥ 0, got ${o.seed}`]);
  const run = await openRunDir(o.run);
  const cfg = (await loadConfig(ddpmSchema, { file: run.configPath })).config;
  const steps = positiveInt("steps", o.steps, cfg.sample.steps);
  const guidance = o.guidance === undefined ? cfg.sample.guidance : Number(o.guidance);
  if (!Number.isFinite(guidance) || guidance < 0) {
    throw new ConfigError([`--guidance must be a number ≥ 0, got ${o.guidance}`]);
  }
  const info = await loadRunDataInfo(run);
  const started = performance.now();
  const net = o.features ? await openFeatureNetwork(o.features) : await openInceptionNetwork(o.inception!, cfg);
  const { channels: C, imageSize: S, classes } = info;
  const mismatch: string[] = [];
  if (net.data.channels !== C || net.data.imageSize !== S) {
    mismatch.push(
      `--features ${o.features} sees ${net.data.channels}×${net.data.imageSize}² images, the run ${C}×${S}²`,
    );
  }
  if (net.data.classes.join("\n") !== classes.join("\n")) {
    mismatch.push(`--features classes [${net.data.classes}] differ from the run's [${classes}]`);
  }
  if (mismatch.length > 0) throw new ConfigError(mismatch);
  checkSplit(net.data, "test", "the feature network's data");
  const log = (s: string) => {
    if (!quiet) console.log(s);
  };

  // Real sets, through the classifier's own data pipeline.
  log(`real images: training and test splits through ${net.name}`);
  const train = await realSet(net, "train");
  const test = await realSet(net, "test");

  // Generated images in [0, 1]: read from --images, or `count` per class sampled from the run.
  const K = classes.length, img = C * S * S;
  let pixels: Float32Array, labels: Int32Array, ckpt: string | null = null;
  const genStart = performance.now();
  if (o.images !== undefined) {
    if (o.count !== undefined || o.steps !== undefined || o.guidance !== undefined) {
      throw new ConfigError(["--images reads generated images: --count, --steps and --guidance do not apply"]);
    }
    ({ pixels, labels } = await readGenerated(o.images, classes, C, S));
    log(`read ${labels.length} generated images from ${o.images}`);
  } else {
    ckpt = await ddpmCheckpoint(run, o.checkpoint!);
    const unet = await loadRunDenoiser(cfg, info, ckpt);
    const generatorNorm = dataNormalization(cfg.data, C);
    pixels = new Float32Array(K * count * img);
    labels = Int32Array.from({ length: K * count }, (_, i) => Math.floor(i / count));
    try {
      for (let k = 0; k < K; k++) {
        for (let s = 0; s < count; s += batch) {
          const m = Math.min(batch, count - s);
          const { samples } = await generateImages(unet, cfg, info, {
            labels: new Int32Array(m).fill(k),
            guidance,
            sampler: cfg.sample.sampler,
            steps,
            seed: seed * 1_000_003 + k * 10_007 + s,
          });
          pixels.set(toUnitRange(samples, generatorNorm, S * S), (k * count + s) * img);
          log(`sampled ${k * count + s + m}/${K * count}`);
        }
      }
    } finally {
      unet.dispose();
    }
  }
  const sampleSeconds = (performance.now() - genStart) / 1000;
  const gen = await imageSet(net, pixels, labels, [C, S, S]);
  net.embedder.dispose();

  // Distribution metrics, overall and per class, and their real-vs-real floors.
  const per = (candidate: typeof gen) => ({
    overall: compareSets(test, candidate, null, seed),
    per_class: Object.fromEntries(classes.map((name, k) => [name, compareSets(test, candidate, k, seed)])),
  });
  const generated = per(gen), floor = per(train);
  const pixelsNn = await nearestTraining(train, test, gen, "pixels");
  const featuresNn = await nearestTraining(train, test, gen, "features");
  const summary = (s: NearestStats) => ({
    test_min: s.testMin,
    test_p05: s.testP05,
    share_below_test_min: s.belowTestMin,
    share_below_test_p05: s.belowTestP05,
    generated_median: s.generatedMedian,
    test_median: s.testMedian,
  });

  const outDir = o.out ?? joinPath(run.path, `generation-${net.name}`);
  await Deno.mkdir(outDir, { recursive: true });
  const files: string[] = [];
  // The 8 generated images nearest a training image (pixels), each above its neighbour.
  const order = Array.from(pixelsNn.generated.keys()).sort((a, b) => pixelsNn.generated[a] - pixelsNn.generated[b]);
  const pairs = order.slice(0, Math.min(8, order.length));
  const pairData = new Float32Array(2 * pairs.length * img);
  pairs.forEach((g, j) => {
    pairData.set(gen.pixels.subarray(g * img, (g + 1) * img), j * img);
    const t = pixelsNn.generatedIndex[g];
    pairData.set(train.pixels.subarray(t * img, (t + 1) * img), (pairs.length + j) * img);
  });
  await savePng(
    joinPath(outDir, "closest_pairs.png"),
    imageGrid(pairData, [2 * pairs.length, C, S, S], { nrow: pairs.length, range: [0, 1] }),
  );
  files.push("closest_pairs.png");
  for (const [space, st] of [["pixels", pixelsNn], ["features", featuresNn]] as const) {
    const name = `memorisation_${space}.png`;
    await distanceHistogramPlot(
      [{ label: "generated", values: st.generated }, { label: "real test", values: st.test }],
      joinPath(outDir, name),
      {
        title: `Nearest training image (${space === "pixels" ? "pixels in [0, 1]" : `${net.name} features`})`,
        marker: { label: "closest test–train pair", value: st.testMin },
      },
    );
    files.push(name);
  }
  // Up to 8 images of each class, one row per class (blank where a class has fewer).
  const perClassShown = 8;
  const shown = new Float32Array(K * perClassShown * img);
  const filled = new Int32Array(K);
  labels.forEach((k, i) => {
    if (filled[k] < perClassShown) {
      shown.set(pixels.subarray(i * img, (i + 1) * img), (k * perClassShown + filled[k]++) * img);
    }
  });
  await savePng(
    joinPath(outDir, "samples.png"),
    imageGrid(shown, [K * perClassShown, C, S, S], { nrow: perClassShown, range: [0, 1] }),
  );
  files.push("samples.png");
  const report = {
    feature_network: { name: net.name, run: net.run, checkpoint: net.checkpoint, layer: net.layer },
    metric_names: net.metricNames,
    generator: o.images !== undefined
      ? { run: run.path, images: o.images, count_per_class: perClassCounts(labels, classes) }
      : { run: run.path, checkpoint: ckpt, count_per_class: count, guidance, steps, sampler: cfg.sample.sampler },
    seed,
    real: { train: train.n, test: test.n },
    generated,
    floor_train_vs_test: floor,
    memorisation: {
      pixels: summary(pixelsNn),
      features: summary(featuresNn),
      closest_pairs: pairs.map((g) => ({
        generated: g,
        class: classes[labels[g]],
        training_index: pixelsNn.generatedIndex[g],
        pixel_distance: pixelsNn.generated[g],
      })),
    },
    seconds: { sampling: sampleSeconds, total: (performance.now() - started) / 1000 },
  };
  await writeJsonAtomic(joinPath(outDir, "generation.json"), report);
  files.unshift("generation.json");
  if (!quiet) printSummary(net, generated.overall, floor.overall, pixelsNn, featuresNn, outDir, files);
  return { outDir, files, report };
}

/** A generated image folder's images as CHW float32 in [0, 1], with their labels. */
async function readGenerated(
  path: string,
  classes: readonly string[],
  channels: number,
  imageSize: number,
): Promise<{ pixels: Float32Array; labels: Int32Array }> {
  const folder = await openGeneratedFolder(path, classes, { channels, imageSize }, "--images");
  const img = channels * imageSize * imageSize;
  const pixels = new Float32Array(folder.length * img);
  for (let i = 0; i < folder.length; i++) pixels.set(rasterToArray((await folder.get(i)).image).data, i * img);
  return { pixels, labels: Int32Array.from(folder.entries, (e) => e.label) };
}

const perClassCounts = (labels: Int32Array, classes: readonly string[]) =>
  Object.fromEntries(classes.map((name, k) => [name, labels.filter((l) => l === k).length]));

function printSummary(
  net: FeatureNetwork,
  gen: Compared,
  floor: Compared,
  px: NearestStats,
  ft: NearestStats,
  outDir: string,
  files: string[],
): void {
  const row = (label: string, m: Compared) =>
    "skipped" in m
      ? `${label}: skipped (${m.skipped})`
      : `${label}: FD ${m.fd.toFixed(3)}, KD ${m.kd_mean.toExponential(2)} ± ${m.kd_std.toExponential(1)}, precision ${
        m.precision.toFixed(3)
      }, recall ${m.recall.toFixed(3)}, density ${m.density.toFixed(3)}, coverage ${m.coverage.toFixed(3)}`;
  console.log(`feature network ${net.name} (${net.metricNames.fd}); against the real test split:`);
  console.log(`  ${row("generated", gen)}`);
  console.log(`  ${row("real training split (floor)", floor)}`);
  const mem = (what: string, s: NearestStats) =>
    `  ${what}: ${(100 * s.belowTestMin).toFixed(1)} % of generated images nearer a training image than the ` +
    `closest test image is (${s.testMin.toFixed(3)}); median ${s.generatedMedian.toFixed(3)} vs test ${
      s.testMedian.toFixed(3)
    }`;
  console.log("memorisation (nearest training image):");
  console.log(mem("pixels", px));
  console.log(mem("features", ft));
  console.log(`wrote ${files.map((f) => joinPath(outDir, f)).join(", ")}`);
}
