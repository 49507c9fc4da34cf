/**
 * The classifier task behind `deno task train-classifier`, on the training engine
 * (train/engine.ts): cross-entropy (optionally class-weighted, label-smoothed) or focal loss,
 * optional class-balanced sampling; validation computes the clinical metrics, and the engine
 * keeps the best checkpoint by `train.selectMetric` (macro F1 by default, as the seeds do).
 * @module
 */
import { manualSeed } from "../../core/ops/random.ts";
import { tensor } from "../../core/ops/creation.ts";
import { focalLoss } from "../../core/ops/focal_loss.ts";
import { crossEntropy } from "../../core/ops/loss.ts";
import { keep } from "../../core/scope.ts";
import type { Tensor } from "../../core/tensor.ts";
import type { DataLoader } from "../../datasets/loader.ts";
import { evaluationLoader, loaderSettings, trainingLoader } from "../common/loaders.ts";
import { fit, type FitResult, type TrainStart } from "../../train/engine.ts";
import type { Logger } from "../../train/logger.ts";
import type { RunDir } from "../../train/run_dir.ts";
import type { ImageData } from "../common/data.ts";
import { type ClassifierConfig, SELECT_METRICS } from "./config.ts";
import { buildClassifier, type Classifier, loadPretrained } from "./model.ts";
import { classificationMetrics, predict } from "./predict.ts";

/** What a classifier training run reports: the engine's summary and the model. */
export interface ClassifierTrainResult extends FitResult {
  /** The model with its final weights. */
  model: Classifier;
}

/** A loader over `data`'s evaluation transform (validation, test). */
export function evalLoader(cfg: ClassifierConfig, data: ImageData, set: "train" | "val" | "test"): DataLoader {
  return evaluationLoader(data, loaderSettings(cfg), set);
}

/** Inverse-frequency class weights N / (C · n_c) (absent classes get 0). */
function inverseFrequency(labels: Int32Array, numClasses: number): Float32Array {
  const counts = new Float64Array(numClasses);
  for (const l of labels) counts[l]++;
  return Float32Array.from(counts, (n) => (n > 0 ? labels.length / (numClasses * n) : 0));
}

/** Trains (or resumes) a classifier run into `run`. */
export async function trainClassifier(
  cfg: ClassifierConfig,
  data: ImageData,
  run: RunDir,
  log: Logger,
  start: TrainStart = {},
): Promise<ClassifierTrainResult> {
  const t = cfg.train;
  manualSeed(cfg.seed);
  const numClasses = data.classes.length;
  const model = buildClassifier(cfg, data.channels, data.imageSize, numClasses, data.spatialDims);
  if (cfg.model.pretrained && !start.resumeFrom) {
    const skipped = await loadPretrained(model, cfg.model.pretrained);
    log.info(
      `pretrained weights from ${cfg.model.pretrained}${skipped.length ? `; not loaded: ${skipped.join(", ")}` : ""}`,
    );
  }
  const labels = await data.train.labels?.();
  if (!labels) throw new Error("the training set does not expose its labels");
  const loader = await trainingLoader(data, loaderSettings(cfg), t.balancedSampling);
  const valLoader = evalLoader(cfg, data, "val");
  const weight = t.classWeights === "balanced" ? keep(tensor(inverseFrequency(labels, numClasses))) : undefined;
  const lossOf = (logits: Tensor, y: Tensor): Tensor =>
    t.loss === "focal"
      ? focalLoss(logits, y, { gamma: t.focalGamma, weight })
      : crossEntropy(logits, y, { weight, labelSmoothing: t.labelSmoothing });
  log.info(`data: ${data.description}`);
  log.info(
    `loss: ${t.loss}${weight ? " class-weighted" : ""}${t.balancedSampling ? ", class-balanced sampling" : ""}`,
  );
  try {
    const out = await fit({
      model,
      loader,
      describe: cfg.model.arch,
      metricNames: SELECT_METRICS,
      loss: (batch) => ({ loss: lossOf(model.call(batch.images), batch.labels) }),
      validate: async () => {
        const m = classificationMetrics(await predict(model, valLoader), numClasses);
        const metrics = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.value]));
        const show = (k: string, name: string) => `${name} ${m[k].value.toFixed(4)}`;
        return {
          metrics,
          summary: [
            show("loss", "val loss"),
            show("accuracy", "acc"),
            show("macro_f1", "macro F1"),
            show("auroc", "AUROC"),
            show("qwk", "QWK"),
          ].join(", "),
        };
      },
    }, { train: t, seed: cfg.seed, run, log, ...start });
    return { ...out, model };
  } finally {
    weight?.dispose();
  }
}
