/**
 * `deno task classify --run <diffusion run>`: the diffusion classifier on a split of the run's
 * data. The run's class-conditional denoiser (EMA weights) labels each image with the class
 * that denoises it best (`samplers/diffusion_classifier.ts`); class probabilities are
 * `softmax(−mean error / τ)` with τ fitted on the validation split. Writes the evaluation files of
 * `deno task evaluate` (metrics with bootstrap CIs, report, predictions, ROC, confusion) and
 * `diffusion_classifier.json` (settings, τ, NLL and ECE before/after, AURC, seconds per image),
 * `trials.csv` (per-class mean errors, votes, entropy, margin), `calibration.png` and
 * `risk_coverage.png`.
 * @module
 */
import { synchronize } from "../../core/device.ts";
import type { DataLoader } from "../../datasets/loader.ts";
import { calibrationBins, expectedCalibrationError } from "../../metrics/calibration.ts";
import { riskCoverage } from "../../metrics/risk_coverage.ts";
import { fitTemperature, temperatureSoftmax } from "../../metrics/temperature.ts";
import { reliabilityPlot, riskCoveragePlot } from "../../plots/selective.ts";
import {
  type DiffusionClassifierOptions,
  diffusionClassify,
  type EliminationStage,
  voteUncertainty,
} from "../../samplers/diffusion_classifier.ts";
import { ConfigError, loadConfig } from "../../train/config.ts";
import { openRunDir } from "../../train/run_dir.ts";
import { writeFileAtomic, writeJsonAtomic } from "../../util/io.ts";
import { joinPath } from "../../util/path.ts";
import { checkSplit, printEvaluation } from "../common/evaluation.ts";
import { openImageData } from "../common/data.ts";
import { evaluationLoader, loaderSettings } from "../common/loaders.ts";
import { loadRunDataInfo } from "../common/run_info.ts";
import { writeEvaluation } from "../classify/evaluate.ts";
import type { MetricValue, Predictions } from "../classify/predict.ts";
import { parseTaskArgs, positiveInt } from "../lib/args.ts";
import { ddpmSchema } from "./config.ts";
import { scope } from "../../core/scope.ts";
import { buildTrainScheduler, type DiffusionSpace, diffusionSpace } from "./model.ts";
import { ddpmCheckpoint, loadRunDenoiser } from "./run_model.ts";

/** What `deno task classify` wrote and measured. */
export interface ClassifyCommandResult {
  /** Folder of the outputs. */
  outDir: string;
  /** File names written. */
  files: string[];
  /** The metrics of the calibrated probabilities (with intervals). */
  metrics: Record<string, MetricValue>;
  /** The fitted temperature (1 without calibration). */
  temperature: number;
  /** Wall seconds per classified image of the evaluated split. */
  secondsPerImage: number;
}

/** The classifier's raw answers over a split. */
interface SplitAnswers {
  yTrue: number[];
  yPred: number[];
  meanErrors: number[][];
  votes: number[][];
  entropy: number[];
  margin: number[];
  ids: string[];
  seconds: number;
}

/** `--stages 5:2,46:1` → [{ trials: 5, keep: 2 }, { trials: 46, keep: 1 }]. */
function parseStages(v: string | undefined, numClasses: number): EliminationStage[] | undefined {
  if (v === undefined || v === "") return undefined;
  const stages = v.split(",").map((part) => {
    const m = /^\s*(\d+):(\d+)\s*$/.exec(part);
    if (!m) throw new ConfigError([`--stages must look like 5:2,46:1 (trials:keep per stage), got "${v}"`]);
    return { trials: Number(m[1]), keep: Number(m[2]) };
  });
  let active = numClasses;
  for (const s of stages) {
    if (s.trials < 1 || s.keep < 1 || s.keep > active) {
      throw new ConfigError([
        `--stages ${v}: each stage needs trials ≥ 1 and 1 ≤ keep ≤ the classes still in (${active})`,
      ]);
    }
    active = s.keep;
  }
  return stages;
}

async function classifySplit(
  opts: DiffusionClassifierOptions,
  space: DiffusionSpace,
  loader: DataLoader,
  limit: number,
  onProgress?: (done: number) => void,
): Promise<SplitAnswers> {
  const K = opts.numClasses;
  const out: SplitAnswers = {
    yTrue: [],
    yPred: [],
    meanErrors: [],
    votes: [],
    entropy: [],
    margin: [],
    ids: [],
    seconds: 0,
  };
  const t0 = performance.now();
  for await (const batch of loader.iterate(0)) {
    const take = Math.min(batch.ids.length, limit - out.ids.length);
    try {
      const images = scope(() =>
        space.toModel(take < batch.ids.length ? batch.images.narrow(0, 0, take) : batch.images)
      );
      const res = await diffusionClassify(opts, images, batch.indices.subarray(0, take));
      images.dispose();
      const labels = await batch.labels.toArray();
      const u = voteUncertainty(res);
      for (let i = 0; i < take; i++) {
        out.yTrue.push(labels[i]);
        out.yPred.push(res.predictions[i]);
        out.meanErrors.push(Array.from(res.meanErrors.subarray(i * K, (i + 1) * K)));
        out.votes.push(Array.from(res.votes.subarray(i * K, (i + 1) * K)));
        out.entropy.push(u.entropy[i]);
        out.margin.push(u.margin[i]);
        out.ids.push(batch.ids[i]);
      }
    } finally {
      batch.dispose();
    }
    onProgress?.(out.ids.length);
    if (out.ids.length >= limit) break;
  }
  await synchronize();
  out.seconds = (performance.now() - t0) / 1000;
  return out;
}

/** `−error`, the classifier's logits; eliminated classes (never evaluated) get the worst finite one. */
function logitsOf(a: SplitAnswers): number[][] {
  return a.meanErrors.map((row) => {
    const finite = row.filter(Number.isFinite);
    const worst = Math.max(...finite);
    return row.map((e) => -(Number.isFinite(e) ? e : worst));
  });
}

function nll(probs: ArrayLike<number>, y: readonly number[], K: number): number {
  return -y.reduce((s, c, i) => s + Math.log(Math.max(probs[i * K + c], 1e-300)), 0) / y.length;
}

const csvField = (s: string): string => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);

/** `deno task classify --run <dir> [...]`; null after `--help`. */
export async function classifyCommand(argv: readonly string[], quiet = false): Promise<ClassifyCommandResult | null> {
  const args = parseTaskArgs(argv, {
    name: "classify",
    description: "Classifies a split with a trained class-conditional DDPM run (diffusion classifier), " +
      "with calibrated probabilities, uncertainty and the evaluation report.",
    flags: { "no-calibration": { description: "keep τ = 1 (do not classify the validation split to fit it)" } },
    options: {
      run: { description: "the DDPM run folder (required)", valueName: "dir" },
      split: { description: "test (default) or val", valueName: "name", default: "test" },
      checkpoint: { description: "best (default), latest, or a checkpoint file", valueName: "which", default: "best" },
      trials: { description: "trials per image (default 51)", valueName: "n", default: "51" },
      vote: { description: "majority (default) or mean", valueName: "rule", default: "majority" },
      stages: { description: "staged elimination, trials:keep per stage, e.g. 5:2,46:1", valueName: "list" },
      seed: { description: "seed of the timestep and noise bank (default 0)", valueName: "n", default: "0" },
      "max-batch": { description: "network rows (image × trial × class) per pass (default 256)", valueName: "n" },
      limit: { description: "classify only the first n images of the split", valueName: "n" },
      "val-limit": { description: "fit τ on only the first n validation images", valueName: "n" },
      bootstrap: { description: "bootstrap resamples for the CIs (default 1000)", valueName: "n", default: "1000" },
      out: { description: "output folder (default: <run>/classify-<split>)", valueName: "dir" },
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
  const vote = o.vote!;
  if (vote !== "majority" && vote !== "mean") throw new ConfigError([`--vote must be majority or mean, got ${vote}`]);
  const seed = Number(o.seed);
  if (!Number.isInteger(seed)) throw new ConfigError([`--seed must be an integer, got ${o.seed}`]);
  const bootstrap = Number(o.bootstrap);
  if (!Number.isInteger(bootstrap) || bootstrap < 0) {
    throw new ConfigError([`--bootstrap must be a non-negative integer, got ${o.bootstrap}`]);
  }
  const limit = positiveInt("limit", o.limit, Infinity);
  const valLimit = positiveInt("val-limit", o["val-limit"], Infinity);
  const maxBatch = positiveInt("max-batch", o["max-batch"], 256);

  const run = await openRunDir(o.run);
  const cfg = (await loadConfig(ddpmSchema, { file: run.configPath })).config;
  const info = await loadRunDataInfo(run);
  const K = info.classes.length;
  if (K < 2) throw new ConfigError([`${run.path}: the run's data has ${K} class; classification needs 2 or more`]);
  const stages = parseStages(o.stages, K);
  const trials = stages ? stages.reduce((a, s) => a + s.trials, 0) : positiveInt("trials", o.trials, 51);
  const data = await openImageData(cfg.data, cfg.seed);
  checkSplit(data, split, cfg.data.dataset);
  if (data.classes.join("\n") !== info.classes.join("\n")) {
    throw new Error(`${run.path}: the data's classes [${data.classes}] differ from the run's [${info.classes}]`);
  }
  const calibrate = !args.flags["no-calibration"] && split === "test" && data.val.length > 0;
  const ckpt = await ddpmCheckpoint(run, o.checkpoint!);
  const net = await loadRunDenoiser(cfg, info, ckpt);
  const sched = buildTrainScheduler(cfg), space = diffusionSpace(cfg, info);
  const opts: DiffusionClassifierOptions = {
    model: (x, t, y) => net.call(x, t, y),
    schedule: sched.schedule,
    predictionType: sched.config.predictionType,
    numClasses: K,
    trials,
    decision: vote,
    stages,
    maxBatch,
    seed,
  };
  const settings = loaderSettings(cfg);
  const progress = (what: string, total: number) => (done: number) => {
    if (!quiet) console.log(`${what}: ${done}/${total} images`);
  };
  try {
    let temperature = 1;
    let valFit: { nllBefore: number; nllAfter: number; images: number } | null = null;
    if (calibrate) {
      const n = Math.min(valLimit, data.val.length);
      const val = await classifySplit(
        opts,
        space,
        evaluationLoader(data, settings, "val"),
        n,
        progress("validation", n),
      );
      const fit = fitTemperature(val.yTrue, logitsOf(val), { numClasses: K });
      temperature = fit.temperature;
      valFit = { nllBefore: fit.nllBefore, nllAfter: fit.nllAfter, images: val.yTrue.length };
    }
    const set = split === "test" ? data.test! : data.val;
    const n = Math.min(limit, set.length);
    const ans = await classifySplit(opts, space, evaluationLoader(data, settings, split), n, progress(split, n));
    const logits = logitsOf(ans);
    const raw = temperatureSoftmax(logits, 1, K), cal = temperatureSoftmax(logits, temperature, K);
    const rows = (p: Float64Array) => ans.yTrue.map((_, i) => Float32Array.from(p.subarray(i * K, (i + 1) * K)));
    const pred: Predictions = {
      yTrue: Int32Array.from(ans.yTrue),
      yPred: Int32Array.from(ans.yPred),
      probs: rows(cal),
      ids: ans.ids,
      loss: nll(cal, ans.yTrue, K),
    };
    const outDir = o.out ?? joinPath(run.path, `classify-${split}`);
    const { metrics, files } = await writeEvaluation(pred, outDir, {
      classes: info.classes,
      split,
      bootstrap,
      eceBins: 15,
      seed: cfg.seed,
      checkpoint: ckpt,
    });
    const correct = ans.yTrue.map((y, i) => (y === ans.yPred[i] ? 1 : 0));
    const topProb = (p: Float64Array) => ans.yTrue.map((_, i) => Math.max(...p.subarray(i * K, (i + 1) * K)));
    const byProb = riskCoverage(topProb(cal), correct);
    const byMargin = riskCoverage(ans.margin, correct);
    const put = async (name: string, write: (path: string) => Promise<unknown>) => {
      await write(joinPath(outDir, name));
      files.push(name);
    };
    const secondsPerImage = ans.seconds / Math.max(1, ans.yTrue.length);
    await put("diffusion_classifier.json", (p) =>
      writeJsonAtomic(p, {
        split,
        images: ans.yTrue.length,
        checkpoint: ckpt,
        trials,
        decision: vote,
        stages: stages ?? null,
        seed,
        prediction_type: sched.config.predictionType,
        temperature,
        calibration: valFit
          ? {
            fitted_on: "val",
            images: valFit.images,
            val_nll_before: valFit.nllBefore,
            val_nll_after: valFit.nllAfter,
          }
          : null,
        nll_before: nll(raw, ans.yTrue, K),
        nll_after: pred.loss,
        ece_before: expectedCalibrationError(ans.yTrue, rows(raw), { nBins: 15 }),
        ece_after: expectedCalibrationError(ans.yTrue, pred.probs, { nBins: 15 }),
        aurc_probability: byProb.aurc,
        aurc_vote_margin: byMargin.aurc,
        seconds: ans.seconds,
        seconds_per_image: secondsPerImage,
      }));
    const header = ["id", "true", "predicted", ...info.classes.flatMap((c) => [`error_${c}`, `votes_${c}`])]
      .concat(["vote_entropy", "vote_margin"]).map(csvField).join(",");
    const lines = ans.ids.map((id, i) =>
      [
        csvField(id),
        ans.yTrue[i],
        ans.yPred[i],
        ...ans.meanErrors[i].flatMap((e, c) => [e.toPrecision(6), ans.votes[i][c]]),
        ans.entropy[i].toFixed(4),
        ans.margin[i].toFixed(4),
      ].join(",")
    );
    await put("trials.csv", (p) => writeFileAtomic(p, [header, ...lines].join("\n") + "\n"));
    await put("calibration.png", (p) =>
      reliabilityPlot(
        [
          { label: "τ = 1", data: calibrationBins(ans.yTrue, rows(raw), { nBins: 10 }) },
          ...(calibrate
            ? [{
              label: `τ = ${temperature.toPrecision(3)} (fitted on val)`,
              data: calibrationBins(ans.yTrue, pred.probs, { nBins: 10 }),
            }]
            : []),
        ],
        p,
        { title: `Reliability (${split})` },
      ));
    await put("risk_coverage.png", (p) =>
      riskCoveragePlot(
        [
          { label: "by probability", data: byProb },
          { label: "by vote margin", data: byMargin },
        ],
        p,
        { title: `Accuracy vs coverage (${split})` },
      ));
    if (!quiet) {
      printEvaluation(split, ans.yTrue.length, ckpt, metrics, files, outDir);
      console.log(
        `τ = ${temperature.toPrecision(4)}; ${secondsPerImage.toFixed(3)} s per image (${trials} trials, ${K} classes)`,
      );
    }
    return { outDir, files, metrics, temperature, secondsPerImage };
  } finally {
    net.dispose();
    sched.dispose();
  }
}
