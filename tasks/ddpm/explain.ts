/**
 * `deno task explain --run <diffusion run>`: counterfactual explanations from a class-conditional
 * diffusion model. Each image is classified by denoising (`samplers/diffusion_classifier.ts`),
 * then noised to `--t` of the schedule and denoised towards another class with classifier-free
 * guidance (`DiffusionPipeline` from an image); the difference to the input shows what the model
 * would change to make it that class. Writes `explain-<i>-<id>.png` panels (input,
 * counterfactual, difference) and `explain.json` (per image: classes, votes, uncertainty, the
 * mean |difference|).
 * @module
 */
import { cat } from "../../core/ops/join.ts";
import type { Tensor } from "../../core/tensor.ts";
import { counterfactualPlot } from "../../plots/counterfactual.ts";
import { diffusionClassify, rankClasses, voteUncertainty } from "../../samplers/diffusion_classifier.ts";
import { ClassifierFreeGuidance } from "../../samplers/guidance.ts";
import { DiffusionPipeline } from "../../samplers/pipeline.ts";
import { ConfigError, loadConfig } from "../../train/config.ts";
import { openRunDir } from "../../train/run_dir.ts";
import { writeJsonAtomic } from "../../util/io.ts";
import { joinPath } from "../../util/path.ts";
import { dataNormalization, openImageData } from "../common/data.ts";
import { checkSplit } from "../common/evaluation.ts";
import { evaluationLoader, loaderSettings } from "../common/loaders.ts";
import { loadRunDataInfo } from "../common/run_info.ts";
import { parseTaskArgs } from "../lib/args.ts";
import { ddpmSchema } from "./config.ts";
import { buildSampler, buildTrainScheduler, diffusionSpace } from "./model.ts";
import { ddpmCheckpoint, loadRunDenoiser } from "./run_model.ts";

/** What `deno task explain` wrote. */
export interface ExplainCommandResult {
  /** Folder of the panels. */
  outDir: string;
  /** File names written. */
  files: string[];
}

function numberOption(name: string, v: string | undefined, lo: number, hi: number, integer: boolean): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n < lo || n > hi || (integer && !Number.isInteger(n))) {
    throw new ConfigError([`--${name} must be ${integer ? "an integer" : "a number"} in [${lo}, ${hi}], got ${v}`]);
  }
  return n;
}

/** `deno task explain --run <dir> [...]`; null after `--help`. */
export async function explainCommand(argv: readonly string[], quiet = false): Promise<ExplainCommandResult | null> {
  const args = parseTaskArgs(argv, {
    name: "explain",
    description: "Counterfactual explanations from a class-conditional DDPM run: each image, pushed towards " +
      "another class by the diffusion model, and the difference.",
    options: {
      run: { description: "the DDPM run folder (required)", valueName: "dir" },
      split: { description: "test (default) or val", valueName: "name", default: "test" },
      count: { description: "images to explain, the first of the split (default 16)", valueName: "n", default: "16" },
      "target-class": { description: "class to steer to (default: the runner-up of the vote)", valueName: "k" },
      t: {
        description: "how far the image is noised, in (0, 1] of the schedule (default 0.5)",
        valueName: "f",
        default: "0.5",
      },
      guidance: { description: "classifier-free guidance scale (default 4.5)", valueName: "s", default: "4.5" },
      steps: {
        description: "DDIM steps over the whole schedule (default 100: 50 from t 0.5)",
        valueName: "n",
        default: "100",
      },
      trials: { description: "diffusion-classifier trials per image (default 51)", valueName: "n", default: "51" },
      seed: { description: "seed of the classifier's bank and the noise (default 0)", valueName: "n", default: "0" },
      checkpoint: { description: "best (default), latest, or a checkpoint file", valueName: "which", default: "best" },
      out: { description: "output folder (default: <run>/explain-<split>)", valueName: "dir" },
    },
  });
  if (args.help) {
    console.log(args.helpText);
    return null;
  }
  const o = args.options;
  if (!o.run) throw new ConfigError(["--run <dir> is required (a folder made by deno task train)"]);
  if (args.overrides.length > 0) throw new ConfigError([`unknown arguments: ${args.overrides.join(" ")}`]);
  const split = o.split!;
  if (split !== "test" && split !== "val") throw new ConfigError([`--split must be test or val, got ${split}`]);
  const count = numberOption("count", o.count, 1, 10_000, true);
  const strength = numberOption("t", o.t, 1e-3, 1, false);
  const guidance = numberOption("guidance", o.guidance, 0, 100, false);
  const steps = numberOption("steps", o.steps, 1, 10_000, true);
  const trials = numberOption("trials", o.trials, 1, 10_000, true);
  const seed = numberOption("seed", o.seed, -(2 ** 31), 2 ** 31 - 1, true);

  const run = await openRunDir(o.run);
  const cfg = (await loadConfig(ddpmSchema, { file: run.configPath })).config;
  const info = await loadRunDataInfo(run);
  const K = info.classes.length;
  if (K < 2) throw new ConfigError([`${run.path}: the run's data has ${K} class; counterfactuals need 2 or more`]);
  const target = o["target-class"] === undefined
    ? null
    : numberOption("target-class", o["target-class"], 0, K - 1, true);
  if (steps > cfg.diffusion.numTrainTimesteps) {
    throw new ConfigError([`--steps ${steps} exceeds diffusion.numTrainTimesteps ${cfg.diffusion.numTrainTimesteps}`]);
  }
  const data = await openImageData(cfg.data, cfg.seed);
  checkSplit(data, split, cfg.data.dataset);
  const ckpt = await ddpmCheckpoint(run, o.checkpoint!);
  const net = await loadRunDenoiser(cfg, info, ckpt);
  const trainSched = buildTrainScheduler(cfg), sampler = buildSampler(cfg, "ddim");
  const outDir = o.out ?? joinPath(run.path, `explain-${split}`);
  await Deno.mkdir(outDir, { recursive: true });
  const parts: Tensor[] = [];
  const labels: number[] = [], ids: string[] = [], indices: number[] = [];
  try {
    for await (const batch of evaluationLoader(data, loaderSettings(cfg), split).iterate(0)) {
      const take = Math.min(batch.ids.length, count - ids.length);
      parts.push(batch.images.narrow(0, 0, take).contiguous());
      labels.push(...(await batch.labels.toArray()).slice(0, take));
      ids.push(...batch.ids.slice(0, take));
      indices.push(...batch.indices.subarray(0, take));
      batch.dispose();
      if (ids.length >= count) break;
    }
    const images = cat(parts, 0), space = diffusionSpace(cfg, info);
    const modelImages = space.toModel(images);
    const n = ids.length;
    const res = await diffusionClassify(
      {
        model: (x, t, y) => net.call(x, t, y),
        schedule: trainSched.schedule,
        predictionType: trainSched.config.predictionType,
        numClasses: K,
        trials,
        seed,
      },
      modelImages,
      indices,
    );
    const u = voteUncertainty(res);
    const targets = Array.from({ length: n }, (_, i) =>
      target ??
        rankClasses(
          Array.from({ length: K }, (_, c) => c),
          res.votes.subarray(i * K),
          res.meanErrors.subarray(i * K),
          "majority",
        ).find((c) => c !== res.predictions[i])!);
    const pipe = new DiffusionPipeline({
      model: (x, t, y) => net.call(x, t, y),
      scheduler: sampler,
      guider: new ClassifierFreeGuidance({ guidanceScale: guidance }),
    });
    const t0 = performance.now();
    const generated = await pipe.generate({
      shape: modelImages.shape,
      image: modelImages,
      strength,
      numInferenceSteps: steps,
      classLabels: targets,
      nullClass: K,
      seed,
    });
    const seconds = (performance.now() - t0) / 1000;
    const samples = space.toImages(generated.samples);
    const [xs, cfs] = [await images.toArray(), await samples.toArray()];
    for (const t of [images, modelImages, generated.samples, samples]) t.dispose();
    // Back to [0, 1] for display: x·std + mean per channel.
    const norm = dataNormalization(cfg.data, info.channels);
    const C = info.channels, plane = info.imageSize * info.imageSize, size = C * plane;
    const toUnit = (v: number[], i: number) =>
      Float32Array.from(
        { length: size },
        (_, k) => v[i * size + k] * norm.std[Math.floor(k / plane)] + norm.mean[Math.floor(k / plane)],
      );
    const files: string[] = [];
    const rows = [];
    for (let i = 0; i < n; i++) {
      const image = toUnit(xs, i), counterfactual = toUnit(cfs, i);
      const votes = Array.from(res.votes.subarray(i * K, (i + 1) * K));
      const name = `explain-${String(i).padStart(3, "0")}-${ids[i].replace(/[^A-Za-z0-9_.-]/g, "_")}.png`;
      await counterfactualPlot({
        image,
        counterfactual,
        channels: C as 1 | 3,
        height: info.imageSize,
        width: info.imageSize,
        classes: info.classes,
        predicted: res.predictions[i],
        target: targets[i],
        trueClass: labels[i],
        note: `votes ${votes.join(" / ")} of ${trials}; entropy ${u.entropy[i].toFixed(2)} nats, margin ${
          u.margin[i].toFixed(2)
        }; t ${strength}, guidance ${guidance}`,
      }, joinPath(outDir, name));
      files.push(name);
      const meanAbs = image.reduce((s, v, k) => s + Math.abs(counterfactual[k] - v), 0) / size;
      rows.push({
        id: ids[i],
        true: labels[i],
        predicted: res.predictions[i],
        target: targets[i],
        votes,
        vote_entropy: u.entropy[i],
        vote_margin: u.margin[i],
        mean_abs_difference: meanAbs,
        file: name,
      });
    }
    await writeJsonAtomic(joinPath(outDir, "explain.json"), {
      checkpoint: ckpt,
      split,
      classes: info.classes,
      t: strength,
      guidance,
      steps,
      denoising_steps: Math.ceil(strength * steps),
      trials,
      seed,
      counterfactual_seconds: seconds,
      images: rows,
    });
    files.push("explain.json");
    if (!quiet) console.log(`${n} counterfactual panels (${seconds.toFixed(1)} s of denoising) in ${outDir}`);
    return { outDir, files };
  } finally {
    parts.forEach((p) => p.dispose());
    net.dispose();
    trainSched.dispose();
    sampler.dispose();
  }
}
