/**
 * What every `deno task evaluate` flavour shares: the `--bootstrap`, `--split` and
 * `--checkpoint` choices, the run's training log for the curves, and the console summary.
 * @module
 */
import type { Module } from "../../core/nn/module.ts";
import { EMA } from "../../core/optim/ema.ts";
import { latestCheckpoint, loadCheckpoint } from "../../train/checkpoint.ts";
import { bestCheckpointPath } from "../../train/checkpoint_files.ts";
import { ConfigError, parseConfigOption } from "../../train/config.ts";
import type { RunDir } from "../../train/run_dir.ts";
import { joinPath } from "../../util/path.ts";
import type { MetricValue } from "../classify/predict.ts";
import type { ImageData } from "./data.ts";

/** `--bootstrap` when given (checked as the schema's `evaluate.bootstrap`), else the run's value. */
export function evaluationBootstrap(
  schema: Parameters<typeof parseConfigOption>[0],
  configured: number,
  option: string | undefined,
): number {
  return option === undefined
    ? configured
    : parseConfigOption(schema, "evaluate.bootstrap", "bootstrap", option) as number;
}

/** Fails with a ConfigError when the data has no test split and `--split test` asked for it. */
export function checkSplit(data: ImageData, split: "train" | "val" | "test", dataset: string): void {
  if (split === "test" && !data.test) {
    throw new ConfigError([`the run's data (${dataset}) has no test split; use --split val`]);
  }
}

/** The checkpoint `--checkpoint` names: best (default), latest, or a file. */
export async function evaluationCheckpoint(run: RunDir, which: string): Promise<string> {
  let ckpt: string | undefined = which === "best" ? bestCheckpointPath(run.checkpointsDir) : which;
  if (which === "latest") ckpt = await latestCheckpoint(run.checkpointsDir);
  if (!ckpt) throw new Error(`${run.path}: no checkpoint to evaluate`);
  return ckpt;
}

/**
 * Loads `checkpoint` into `model` for inference: the EMA weights when the run kept an EMA
 * (`emaDecay` > 0, as training validated and selected with them), then eval mode.
 */
export async function loadInferenceWeights(model: Module, checkpoint: string, emaDecay: number): Promise<void> {
  const ema = emaDecay > 0 ? new EMA(() => model.namedParameters(), { decay: emaDecay }) : undefined;
  await loadCheckpoint(checkpoint, { model, ema, restoreRng: false });
  ema?.copyTo();
  ema?.dispose();
  model.eval();
}

/** The run's `metrics.jsonl` text (for the training curves), or undefined without one. */
export async function readMetricsJsonl(run: RunDir): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(run.metricsPath);
  } catch {
    return undefined; // no training log to plot
  }
}

/** Prints the headline metrics (with intervals) and the files written. */
export function printEvaluation(
  split: string,
  samples: number,
  ckpt: string,
  metrics: Record<string, MetricValue>,
  files: readonly string[],
  outDir: string,
): void {
  const show = (k: string) => {
    const m = metrics[k];
    const ci = m.lower !== undefined ? ` [${m.lower.toFixed(3)}, ${m.upper!.toFixed(3)}]` : "";
    return `${k} ${m.value.toFixed(4)}${ci}`;
  };
  console.log(`${split} (${samples} samples), ${ckpt}:`);
  for (const k of ["accuracy", "balanced_accuracy", "macro_f1", "auroc", "qwk", "ece"]) console.log(`  ${show(k)}`);
  console.log(`wrote ${files.map((f) => joinPath(outDir, f)).join(", ")}`);
}
