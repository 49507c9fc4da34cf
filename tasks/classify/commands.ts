/**
 * The classifier workflow's command-line entry points as functions (`tasks/train_classifier.ts`
 * and `tasks/evaluate.ts` call them with `Deno.args`; tests call them directly).
 * @module
 */
import { sampleSyntheticImages } from "../ddpm/synthetic.ts";
import { loadCheckpoint } from "../../train/checkpoint.ts";
import { openImageData } from "../common/data.ts";
import {
  checkSplit,
  evaluationBootstrap,
  evaluationCheckpoint,
  printEvaluation,
  readMetricsJsonl,
} from "../common/evaluation.ts";
import { runKind } from "../common/run_kind.ts";
import { evaluateDiffmicWorkflow } from "../diffmic/evaluate.ts";
import { evaluateVaeRun } from "../vae3d/evaluate.ts";
import { parseTaskArgs } from "../lib/args.ts";
import { ConfigError, loadConfig } from "../../train/config.ts";
import { openRunDir, type RunDir } from "../../train/run_dir.ts";
import { joinPath } from "../../util/path.ts";
import { classifierSchema } from "./config.ts";
import { inPreparedRun, prepareRun } from "../common/run_setup.ts";
import { writeEvaluation } from "./evaluate.ts";
import { buildClassifier, checkClassifierFits } from "./model.ts";
import type { MetricValue } from "./predict.ts";
import { predict } from "./predict.ts";
import { type ClassifierTrainResult, evalLoader, trainClassifier } from "./trainer.ts";
import type { InterruptController } from "../../train/signals.ts";

/** What `deno task train-classifier` did. */
export interface TrainClassifierResult {
  /** The run folder. */
  run: RunDir;
  /** The training summary. */
  result: ClassifierTrainResult;
}

/** `deno task train-classifier [--config f] [--resume r] [--key.path v …]`; null after `--help`. */
export async function trainClassifierCommand(
  argv: readonly string[],
  quiet = false,
  interrupts?: InterruptController,
): Promise<TrainClassifierResult | null> {
  const args = parseTaskArgs(argv, {
    name: "train-classifier",
    description:
      "Trains a ResNet / EfficientNet / ViT / Swin classifier and keeps the best checkpoint by a validation metric.",
    options: {
      config: {
        description: "YAML configuration file (defaults: ResNet-18 on the embedded procedural set)",
        valueName: "file",
      },
      resume: { description: "continue a run: its folder or one of its checkpoints", valueName: "run|checkpoint" },
    },
    schema: classifierSchema,
  });
  if (args.help) {
    console.log(args.helpText);
    return null;
  }
  if (args.options.resume && args.overrides.length > 0) {
    throw new ConfigError(["a resumed classifier run keeps its config: no --key overrides"]);
  }
  const prepared = await prepareRun(args, classifierSchema, quiet, async (c, d) => {
    checkClassifierFits(c, d);
    if (c.model.pretrained === null) return;
    try {
      await Deno.stat(c.model.pretrained);
    } catch {
      throw new ConfigError([`model.pretrained ${c.model.pretrained} does not exist`]);
    }
  }, sampleSyntheticImages); // data.syntheticPath may name a DDPM run: sampled once, kept in the run
  const { cfg, data, run, log, resumeFrom } = prepared;
  return await inPreparedRun(prepared, async () => {
    const result = await trainClassifier(cfg, data, run, log, { resumeFrom, quiet, interrupts });
    log.info(
      `trained ${result.step} steps in ${result.epochsDone} epochs (${result.seconds.toFixed(0)} s, ` +
        `${result.imagesPerSecond.toFixed(1)} images/s); best validation ${cfg.train.selectMetric} ` +
        `${result.best?.toFixed(4) ?? "n/a"}; evaluate with: deno task evaluate --run ${run.path}`,
    );
    return { run, result };
  });
}

/** What `deno task evaluate` wrote. */
export interface EvaluateResult {
  /** Folder of the outputs. */
  outDir: string;
  /** File names written. */
  files: string[];
  /** The metrics (with intervals). */
  metrics: Record<string, MetricValue>;
}

/**
 * `deno task evaluate --run <dir> [--split test|val|train] [--checkpoint best|latest|file] [--bootstrap n]`:
 * a classifier run, a DCG run, a DiffMIC-v2 run or a 3-D VAE run (told apart by its configuration).
 */
export async function evaluateCommand(argv: readonly string[], quiet = false): Promise<EvaluateResult | null> {
  const args = parseTaskArgs(argv, {
    name: "evaluate",
    description:
      "Evaluates a classifier, DCG or DiffMIC-v2 run's best checkpoint (metrics with bootstrap CIs, report, ROC, " +
      "confusion), or a 3-D VAE run's reconstructions (L1, PSNR, SSIM with bootstrap CIs).",
    options: {
      run: { description: "the run folder (required)", valueName: "dir" },
      split: { description: "test (default), val or train", valueName: "name", default: "test" },
      checkpoint: { description: "best (default), latest, or a checkpoint file", valueName: "which", default: "best" },
      bootstrap: { description: "bootstrap resamples (default: the run's evaluate.bootstrap)", valueName: "n" },
      out: { description: "output folder (default: <run>/eval-<split>)", valueName: "dir" },
    },
  });
  if (args.help) {
    console.log(args.helpText);
    return null;
  }
  const o = args.options;
  if (!o.run) throw new ConfigError(["--run <dir> is required (a folder made by deno task train-classifier)"]);
  if (args.overrides.length > 0) throw new ConfigError([`unknown arguments: ${args.overrides.join(" ")}`]);
  const split = o.split!;
  if (split !== "test" && split !== "val" && split !== "train") {
    throw new ConfigError([`--split must be test, val or train, got ${split}`]);
  }
  const run = await openRunDir(o.run);
  const kind = await runKind(run);
  if (kind === "vae") {
    const r = await evaluateVaeRun(run, {
      split,
      checkpoint: o.checkpoint!,
      bootstrap: o.bootstrap,
      out: o.out,
      quiet,
    });
    return { outDir: r.outDir, files: r.files, metrics: r.metrics };
  }
  if (kind !== "classifier") {
    return await evaluateDiffmicWorkflow(kind, run, {
      split,
      checkpoint: o.checkpoint!,
      bootstrap: o.bootstrap,
      out: o.out,
      quiet,
    });
  }
  const cfg = (await loadConfig(classifierSchema, { file: run.configPath })).config;
  const bootstrap = evaluationBootstrap(classifierSchema, cfg.evaluate.bootstrap, o.bootstrap);
  const data = await openImageData(cfg.data, cfg.seed);
  checkSplit(data, split, cfg.data.dataset);
  const ckpt = await evaluationCheckpoint(run, o.checkpoint!);
  const model = buildClassifier(cfg, data.channels, data.imageSize, data.classes.length, data.spatialDims);
  await loadCheckpoint(ckpt, { model, restoreRng: false });
  const t0 = performance.now(); // the whole pass: loading, the first batch's kernel compiles, read-backs
  const pred = await predict(model, evalLoader(cfg, data, split));
  const secondsPerImage = (performance.now() - t0) / 1000 / Math.max(1, pred.yTrue.length);
  const outDir = o.out ?? joinPath(run.path, `eval-${split}`);
  const { metrics, files } = await writeEvaluation(pred, outDir, {
    classes: data.classes,
    split,
    bootstrap,
    eceBins: cfg.evaluate.eceBins,
    seed: cfg.seed,
    metricsJsonl: await readMetricsJsonl(run),
    checkpoint: ckpt,
    secondsPerImage,
  });
  if (!quiet) {
    printEvaluation(split, pred.yTrue.length, ckpt, metrics, files, outDir);
    console.log(`${secondsPerImage.toFixed(4)} s per image`);
  }
  model.dispose();
  return { outDir, files, metrics };
}
