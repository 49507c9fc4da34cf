/**
 * The classifier workflow's command-line entry points as functions (`tasks/train_classifier.ts`
 * and `tasks/evaluate.ts` call them with `Deno.args`; tests call them directly).
 * @module
 */
import { latestCheckpoint, loadCheckpoint } from "../../train/checkpoint.ts";
import { openImageData } from "../common/data.ts";
import { parseTaskArgs } from "../lib/args.ts";
import { ConfigError, loadConfig, parseConfigOption } from "../../train/config.ts";
import { openRunDir, type RunDir } from "../../train/run_dir.ts";
import { joinPath } from "../../util/path.ts";
import { classifierSchema } from "./config.ts";
import { inPreparedRun, prepareRun } from "../common/run_setup.ts";
import { writeEvaluation } from "./evaluate.ts";
import { buildClassifier, checkClassifierFits } from "./model.ts";
import type { MetricValue } from "./predict.ts";
import { predict } from "./predict.ts";
import { type ClassifierTrainResult, evalLoader, trainClassifier } from "./trainer.ts";
import { bestCheckpointPath } from "../../train/checkpoint_files.ts";
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
      "Trains a ResNet / EfficientNet / ViT classifier and keeps the best checkpoint by a validation metric.",
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
  });
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

/** `deno task evaluate --run <dir> [--split test|val|train] [--checkpoint best|latest|file] [--bootstrap n]`. */
export async function evaluateCommand(argv: readonly string[], quiet = false): Promise<EvaluateResult | null> {
  const args = parseTaskArgs(argv, {
    name: "evaluate",
    description: "Evaluates a classifier run's best checkpoint: metrics with bootstrap CIs, report, ROC, confusion.",
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
  const cfg = (await loadConfig(classifierSchema, { file: run.configPath })).config;
  let bootstrap = cfg.evaluate.bootstrap;
  if (o.bootstrap !== undefined) {
    bootstrap = parseConfigOption(classifierSchema, "evaluate.bootstrap", "bootstrap", o.bootstrap) as number;
  }
  const data = await openImageData(cfg.data, cfg.seed);
  if (split === "test" && !data.test) {
    throw new ConfigError([`the run's data (${cfg.data.dataset}) has no test split; use --split val`]);
  }
  let ckpt: string | undefined = o.checkpoint === "best" ? bestCheckpointPath(run.checkpointsDir) : o.checkpoint;
  if (o.checkpoint === "latest") ckpt = await latestCheckpoint(run.checkpointsDir);
  if (!ckpt) throw new Error(`${run.path}: no checkpoint to evaluate`);
  const model = buildClassifier(cfg, data.channels, data.imageSize, data.classes.length);
  await loadCheckpoint(ckpt, { model, restoreRng: false });
  const pred = await predict(model, evalLoader(cfg, data, split));
  let jsonl: string | undefined;
  try {
    jsonl = await Deno.readTextFile(run.metricsPath);
  } catch { /* no training log to plot */ }
  const outDir = o.out ?? joinPath(run.path, `eval-${split}`);
  const { metrics, files } = await writeEvaluation(pred, outDir, {
    classes: data.classes,
    split,
    bootstrap,
    eceBins: cfg.evaluate.eceBins,
    seed: cfg.seed,
    metricsJsonl: jsonl,
    checkpoint: ckpt,
  });
  if (!quiet) {
    const show = (k: string) => {
      const m = metrics[k];
      const ci = m.lower !== undefined ? ` [${m.lower.toFixed(3)}, ${m.upper!.toFixed(3)}]` : "";
      return `${k} ${m.value.toFixed(4)}${ci}`;
    };
    console.log(`${split} (${pred.yTrue.length} samples), ${ckpt}:`);
    for (const k of ["accuracy", "balanced_accuracy", "macro_f1", "auroc", "qwk", "ece"]) console.log(`  ${show(k)}`);
    console.log(`wrote ${files.map((f) => joinPath(outDir, f)).join(", ")}`);
  }
  model.dispose();
  return { outDir, files, metrics };
}
