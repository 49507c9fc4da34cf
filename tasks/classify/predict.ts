/**
 * Predictions of a classifier over a loader (class probabilities read back per batch) and the
 * clinical metrics of them: accuracy, balanced accuracy, macro/weighted F1, precision, recall,
 * AUROC (one-vs-rest and one-vs-one), Cohen's kappa (plain, linear, quadratic), expected
 * calibration error and the cross-entropy — each optionally with a bootstrap confidence interval.
 * @module
 */
import { noGrad } from "../../core/autograd.ts";
import { crossEntropy } from "../../core/ops/loss.ts";
import { softmax } from "../../core/ops/softmax.ts";
import { scope } from "../../core/scope.ts";
import type { DataLoader } from "../../datasets/loader.ts";
import type { Tensor } from "../../core/tensor.ts";
import { rocAucScore } from "../../metrics/auroc.ts";
import { bootstrapCi } from "../../metrics/bootstrap.ts";
import { expectedCalibrationError } from "../../metrics/calibration.ts";
import { cohenKappaScore } from "../../metrics/kappa.ts";
import { accuracyScore, balancedAccuracyScore, f1Score, precisionScore, recallScore } from "../../metrics/scores.ts";
import type { Classifier } from "./model.ts";

/** A classifier's outputs on a set. */
export interface Predictions {
  /** True class per sample. */
  yTrue: Int32Array;
  /** Predicted class (argmax) per sample. */
  yPred: Int32Array;
  /** Class probabilities, one row per sample. */
  probs: Float32Array[];
  /** Sample ids. */
  ids: string[];
  /** Mean cross-entropy. */
  loss: number;
}

/** Runs `model` (eval mode, no gradients) over every batch of `loader`. */
export async function predict(model: Classifier, loader: DataLoader, epoch = 0): Promise<Predictions> {
  const wasTraining = model.training;
  model.eval();
  try {
    return await predictWith((x) => model.call(x), loader, epoch);
  } finally {
    if (wasTraining) model.train();
  }
}

/** Accumulates per-sample predictions batch by batch (probabilities, argmax, labels, ids, loss sum). */
export class PredictionSink {
  #yTrue: number[] = [];
  #yPred: number[] = [];
  #probs: Float32Array[] = [];
  #ids: string[] = [];
  #lossSum = 0;

  /** Adds a batch: row-major probabilities (N × C), labels, ids and the batch's summed loss. */
  add(probs: Float32Array, labels: ArrayLike<number>, ids: readonly string[], lossSum: number): void {
    const C = probs.length / ids.length;
    for (let i = 0; i < ids.length; i++) {
      const row = probs.slice(i * C, (i + 1) * C);
      this.#probs.push(row);
      let best = 0;
      for (let c = 1; c < C; c++) if (row[c] > row[best]) best = c;
      this.#yPred.push(best);
      this.#yTrue.push(labels[i]);
      this.#ids.push(ids[i]);
    }
    this.#lossSum += lossSum;
  }

  /** The predictions so far. */
  result(): Predictions {
    const n = this.#yTrue.length;
    return {
      yTrue: Int32Array.from(this.#yTrue),
      yPred: Int32Array.from(this.#yPred),
      probs: this.#probs,
      ids: this.#ids,
      loss: n > 0 ? this.#lossSum / n : NaN,
    };
  }
}

/** Predictions of `logitsOf` (called without gradients, inside a scope) over every batch of `loader`. */
export async function predictWith(
  logitsOf: (images: Tensor) => Tensor,
  loader: DataLoader,
  epoch = 0,
): Promise<Predictions> {
  const sink = new PredictionSink();
  for await (const batch of loader.iterate(epoch)) {
    const [p, l] = await scope(async () => {
      const logits = noGrad(() => logitsOf(batch.images));
      const pr = softmax(logits, 1);
      const loss = crossEntropy(logits, batch.labels, { reduction: "sum" });
      return [await pr.data() as Float32Array, await loss.item()] as const;
    });
    sink.add(p, await batch.labels.data(), batch.ids, l);
    batch.dispose();
  }
  return sink.result();
}

/** A metric's value, with its bootstrap interval when one was asked for. */
export interface MetricValue {
  /** The metric on the whole set (NaN when undefined, e.g. AUROC with a class absent). */
  value: number;
  /** Lower bound of the bootstrap interval. */
  lower?: number;
  /** Upper bound of the bootstrap interval. */
  upper?: number;
}

/** Options of {@linkcode classificationMetrics}. */
export interface MetricsOptions {
  /** Bootstrap resamples (0: no intervals). */
  bootstrap?: number;
  /** Confidence of the intervals (default 0.95). */
  confidence?: number;
  /** Seed of the resampling. */
  seed?: number;
  /** Bins of the calibration error (default 15). */
  eceBins?: number;
}

type LabelMetric = (t: number[], p: number[]) => number;
type ScoreMetric = (t: number[], s: ArrayLike<number>[]) => number;

/** Every metric of `pred` over `numClasses` classes (see the module doc). */
export function classificationMetrics(
  pred: Predictions,
  numClasses: number,
  opts: MetricsOptions = {},
): Record<string, MetricValue> {
  const zd = { zeroDivision: 0 as const };
  const avg = (average: "macro" | "weighted") => ({ average, ...zd });
  const kappa = (weights: null | "linear" | "quadratic"): LabelMetric => (t, p) =>
    cohenKappaScore(t, p, { weights, numClasses });
  const labelMetrics: Record<string, LabelMetric> = {
    accuracy: (t, p) => accuracyScore(t, p),
    balanced_accuracy: (t, p) => balancedAccuracyScore(t, p),
    macro_f1: (t, p) => f1Score(t, p, avg("macro")),
    weighted_f1: (t, p) => f1Score(t, p, avg("weighted")),
    macro_precision: (t, p) => precisionScore(t, p, avg("macro")),
    macro_recall: (t, p) => recallScore(t, p, avg("macro")),
    kappa: kappa(null),
    linear_kappa: kappa("linear"),
    qwk: kappa("quadratic"),
  };
  const scoreMetrics: Record<string, ScoreMetric> = {
    auroc: (t, s) => rocAucScore(t, s, { multiClass: "ovr", numClasses }),
    ...(numClasses > 2 ? { auroc_ovo: (t, s) => rocAucScore(t, s, { multiClass: "ovo", numClasses }) } : {}),
    ece: (t, s) => expectedCalibrationError(t, s, { nBins: opts.eceBins ?? 15 }),
  };
  const t = [...pred.yTrue], p = [...pred.yPred];
  const safe = (f: () => number): number => {
    try {
      return f();
    } catch {
      return NaN; // undefined on this set (e.g. a class without samples for AUROC)
    }
  };
  const out: Record<string, MetricValue> = {};
  const B = opts.bootstrap ?? 0;
  const boot = { nResamples: B, confidence: opts.confidence ?? 0.95, seed: opts.seed ?? 0 };
  for (const [name, f] of Object.entries(labelMetrics)) {
    const value = safe(() => f(t, p));
    out[name] = { value };
    if (B > 0 && Number.isFinite(value)) {
      const ci = bootstrapCi(f, t, p, boot);
      out[name] = { value, lower: ci.lower, upper: ci.upper };
    }
  }
  for (const [name, f] of Object.entries(scoreMetrics)) {
    const value = safe(() => f(t, pred.probs));
    out[name] = { value };
    if (B > 0 && Number.isFinite(value)) {
      const ci = bootstrapCi(f, t, pred.probs, boot);
      out[name] = { value, lower: ci.lower, upper: ci.upper };
    }
  }
  out.loss = { value: pred.loss };
  return out;
}
