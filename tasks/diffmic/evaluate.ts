/**
 * `deno task evaluate` for the DiffMIC-v2 workflow. A DCG run: the guidance network's own
 * predictions (softmax of y_fusion). A denoiser run: DiffMIC-v2's predictions with every
 * classifier output (metrics with bootstrap CIs, report, predictions CSV, ROC, confusion,
 * curves), the DCG-only outputs on the same images in `dcg/`, and `comparison.json` /
 * `comparison.md` putting the two side by side with the inference throughput.
 * @module
 */
import { loadCheckpoint } from "../../train/checkpoint.ts";
import { loadConfig } from "../../train/config.ts";
import type { RunDir } from "../../train/run_dir.ts";
import { writeFileAtomic, writeJsonAtomic } from "../../util/io.ts";
import { joinPath } from "../../util/path.ts";
import { writeEvaluation } from "../classify/evaluate.ts";
import { type MetricValue, predictWith } from "../classify/predict.ts";
import { openImageData } from "../common/data.ts";
import {
  checkSplit,
  evaluationBootstrap,
  evaluationCheckpoint,
  printEvaluation,
  readMetricsJsonl,
} from "../common/evaluation.ts";
import { evaluationLoader, loaderSettings } from "../common/loaders.ts";
import { dcgSchema, diffmicSchema } from "./config.ts";
import { buildDcg, buildDenoiser, loadDcgCopy } from "./model.ts";
import { inferenceSettings, labelScheduler, predictDiffmic } from "./predict.ts";

/** The choices `deno task evaluate` passes on. */
export interface EvaluateChoices {
  /** Split to evaluate. */
  split: "train" | "val" | "test";
  /** best, latest or a checkpoint file. */
  checkpoint: string;
  /** `--bootstrap` as given (undefined: the run's). */
  bootstrap?: string;
  /** Output folder (default `<run>/eval-<split>`). */
  out?: string;
  /** No console output. */
  quiet: boolean;
}

/** What an evaluation wrote. */
export interface WorkflowEvaluation {
  /** Folder of the outputs. */
  outDir: string;
  /** File names written (relative to `outDir`). */
  files: string[];
  /** The metrics (with intervals). */
  metrics: Record<string, MetricValue>;
  /** The DCG's metrics on the same images (denoiser runs). */
  dcgMetrics?: Record<string, MetricValue>;
  /** Inference throughput, images per second (denoiser runs). */
  imagesPerSecond?: number;
}

const HEADLINE = ["accuracy", "macro_f1", "qwk", "auroc"] as const;

function cell(m: MetricValue): string {
  const ci = m.lower !== undefined ? ` (${m.lower.toFixed(3)}–${m.upper!.toFixed(3)})` : "";
  return `${m.value.toFixed(3)}${ci}`;
}

/** Evaluates a DCG run or a DiffMIC-v2 denoiser run (see the module doc). */
export async function evaluateDiffmicWorkflow(
  kind: "dcg" | "diffmic",
  run: RunDir,
  c: EvaluateChoices,
): Promise<WorkflowEvaluation> {
  const ckpt = await evaluationCheckpoint(run, c.checkpoint);
  const outDir = c.out ?? joinPath(run.path, `eval-${c.split}`);
  const metricsJsonl = await readMetricsJsonl(run);
  if (kind === "dcg") {
    const cfg = (await loadConfig(dcgSchema, { file: run.configPath })).config;
    const bootstrap = evaluationBootstrap(dcgSchema, cfg.evaluate.bootstrap, c.bootstrap);
    const data = await openImageData(cfg.data, cfg.seed);
    checkSplit(data, c.split, cfg.data.dataset);
    const model = buildDcg(cfg.model, data.channels, data.classes.length);
    await loadCheckpoint(ckpt, { model, restoreRng: false });
    model.eval();
    const pred = await predictWith((x) => model.call(x).yFusion, evaluationLoader(data, loaderSettings(cfg), c.split));
    const opts = { classes: data.classes, split: c.split, bootstrap, eceBins: cfg.evaluate.eceBins, seed: cfg.seed };
    const { metrics, files } = await writeEvaluation(pred, outDir, { ...opts, metricsJsonl, checkpoint: ckpt });
    if (!c.quiet) printEvaluation(c.split, pred.yTrue.length, ckpt, metrics, files, outDir);
    model.dispose();
    return { outDir, files, metrics };
  }
  const cfg = (await loadConfig(diffmicSchema, { file: run.configPath })).config;
  const bootstrap = evaluationBootstrap(diffmicSchema, cfg.evaluate.bootstrap, c.bootstrap);
  const data = await openImageData(cfg.data, cfg.seed);
  checkSplit(data, c.split, cfg.data.dataset);
  const C = data.classes.length;
  const prior = await loadDcgCopy(run, data.channels, C);
  const denoiser = buildDenoiser(cfg, prior, data.channels, C);
  await loadCheckpoint(ckpt, { model: denoiser, restoreRng: false });
  const p = await predictDiffmic(
    prior.dcg,
    denoiser,
    labelScheduler(cfg.diffusion),
    evaluationLoader(data, loaderSettings(cfg), c.split),
    inferenceSettings(cfg),
  );
  const opts = { classes: data.classes, split: c.split, bootstrap, eceBins: cfg.evaluate.eceBins, seed: cfg.seed };
  const ours = await writeEvaluation(p.diffmic, outDir, { ...opts, metricsJsonl, checkpoint: ckpt });
  const dcgDir = joinPath(outDir, "dcg");
  const dcg = await writeEvaluation(p.dcg, dcgDir, { ...opts, checkpoint: prior.source });
  const rows = [["DiffMIC-v2", ours.metrics], ["DCG alone (its prior)", dcg.metrics]] as const;
  const table = [
    `| model | ${HEADLINE.join(" | ")} |`,
    `| --- |${HEADLINE.map(() => " --- |").join("")}`,
    ...rows.map(([name, m]) => `| ${name} | ${HEADLINE.map((k) => cell(m[k])).join(" | ")} |`),
  ].join("\n");
  const note =
    `${c.split} split, ${p.diffmic.yTrue.length} images; 95 % bootstrap intervals (${bootstrap} resamples); ` +
    `${cfg.diffusion.inferenceSteps} DDIM steps × ${cfg.diffusion.samples} sample(s), ` +
    `${p.imagesPerSecond.toFixed(1)} images/s (DCG + denoising)`;
  await writeFileAtomic(joinPath(outDir, "comparison.md"), `${table}\n\n${note}\n`);
  await writeJsonAtomic(joinPath(outDir, "comparison.json"), {
    split: c.split,
    samples: p.diffmic.yTrue.length,
    checkpoint: ckpt,
    dcg: prior.source,
    imagesPerSecond: p.imagesPerSecond,
    diffmic: ours.metrics,
    dcgAlone: dcg.metrics,
  });
  const files = [...ours.files, ...dcg.files.map((f) => `dcg/${f}`), "comparison.md", "comparison.json"];
  if (!c.quiet) {
    printEvaluation(c.split, p.diffmic.yTrue.length, ckpt, ours.metrics, files, outDir);
    console.log(table);
    console.log(note);
  }
  denoiser.dispose();
  prior.dcg.dispose();
  return { outDir, files, metrics: ours.metrics, dcgMetrics: dcg.metrics, imagesPerSecond: p.imagesPerSecond };
}
