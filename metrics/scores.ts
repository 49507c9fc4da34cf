/**
 * Label-based classification scores with scikit-learn's names and semantics: accuracy,
 * balanced accuracy, and precision / recall / F-beta with `average` ∈ binary | micro | macro |
 * weighted | null (per class) and scikit-learn's `zero_division` rule (a ratio with a zero
 * denominator becomes 0 with a warning by default, or the value of `zeroDivision`).
 * @module
 */
import {
  checkLabelsOption,
  checkSameLength,
  checkZeroDivision,
  toLabels,
  uniqueSorted,
  warnings,
  type ZeroDivision,
} from "./_input.ts";
import type { LabelsLike } from "./_input.ts";
import { countConfusion } from "./confusion.ts";

/** Options of {@linkcode accuracyScore}. */
export interface AccuracyOptions {
  /** `true` (default): the fraction correct; `false`: the number correct. */
  normalize?: boolean;
}

/** Fraction (or, with `normalize: false`, number) of samples whose prediction equals the label. */
export function accuracyScore(yTrue: LabelsLike, yPred: LabelsLike, options: AccuracyOptions = {}): number {
  const fn = "accuracyScore";
  const t = toLabels(fn, "yTrue", yTrue);
  const p = toLabels(fn, "yPred", yPred);
  checkSameLength(fn, "yTrue", t.length, "yPred", p.length);
  let correct = 0;
  for (let i = 0; i < t.length; i++) if (t[i] === p[i]) correct++;
  return options.normalize === false ? correct : correct / t.length;
}

/** Options of {@linkcode balancedAccuracyScore}. */
export interface BalancedAccuracyOptions {
  /** Rescale so that chance scores 0 and perfect 1: `(score − 1/K) / (1 − 1/K)`. Default false. */
  adjusted?: boolean;
}

/**
 * Mean of the per-class recalls over the classes present in `yTrue` (a predicted class that
 * never occurs in `yTrue` is ignored, with a warning, as scikit-learn does).
 */
export function balancedAccuracyScore(
  yTrue: LabelsLike,
  yPred: LabelsLike,
  options: BalancedAccuracyOptions = {},
): number {
  const { counts } = countConfusion("balancedAccuracyScore", yTrue, yPred);
  const perClass: number[] = [];
  counts.forEach((row, i) => {
    const s = row.reduce((a, b) => a + b, 0);
    if (s > 0) perClass.push(row[i] / s);
  });
  if (perClass.length < counts.length) warnings.emit("balancedAccuracyScore: yPred contains classes not in yTrue");
  let score = perClass.reduce((a, b) => a + b, 0) / perClass.length;
  if (options.adjusted) {
    const chance = 1 / perClass.length;
    score = (score - chance) / (1 - chance);
  }
  return score;
}

/** How per-class scores are combined. */
export type Average = "binary" | "micro" | "macro" | "weighted";

/** Options of {@linkcode precisionRecallFscoreSupport} and the single scores. */
export interface PrfOptions {
  /**
   * `"binary"`: the score of class `posLabel` only (binary targets only); `"micro"`: from the
   * total true positives, false positives and false negatives; `"macro"`: the unweighted mean
   * over classes; `"weighted"`: the mean weighted by support; `null`: one value per class, in
   * the order of `labels`. Default `"binary"` for the single scores (as scikit-learn), `null`
   * for {@linkcode precisionRecallFscoreSupport}.
   */
  average?: Average | null;
  /**
   * The classes to score and their order. Default: the sorted labels present in `yTrue` or
   * `yPred`. Ignored with `average: "binary"`.
   */
  labels?: LabelsLike;
  /** The positive class for `average: "binary"`. Default 1. */
  posLabel?: number;
  /**
   * Value of a ratio with a zero denominator (precision with no predicted samples, recall with
   * no true samples, F with neither): `"warn"` (default) gives 0 and a console warning; 0, 1 or
   * NaN give that value silently. NaN entries are left out of the averages.
   */
  zeroDivision?: ZeroDivision;
}

/** Options of {@linkcode precisionRecallFscoreSupport} and {@linkcode fbetaScore}. */
export interface FbetaOptions extends PrfOptions {
  /** Weight of recall against precision (F-beta); default 1 (the F1 score). */
  beta?: number;
}

/** Per-class (or averaged) precision, recall, F-beta and support. */
export interface PrfResult<T> {
  /** Precision: TP / (TP + FP). */
  precision: T;
  /** Recall: TP / (TP + FN). */
  recall: T;
  /** F-beta: (1 + β²)·TP / ((1 + β²)·TP + β²·FN + FP). */
  fscore: T;
  /** Number of true samples of each class (per-class results only; null when averaged). */
  support: T extends number ? null : number[];
  /** The classes the per-class values belong to (those averaged, when averaged). */
  labels: number[];
}

type Metric = "precision" | "recall" | "f-score";

function divide(
  num: number[],
  den: number[],
  zd: ZeroDivision,
  metric: Metric,
  warnFor: readonly Metric[],
  fn: string,
  modifier: string,
): number[] {
  let warned = false;
  const out = num.map((x, i) => {
    if (den[i] !== 0) return x / den[i];
    if (zd === "warn") {
      warned = true;
      return 0;
    }
    return zd;
  });
  if (warned && warnFor.includes(metric)) {
    const what = metric === "f-score" ? "F-score is" : `${metric[0].toUpperCase()}${metric.slice(1)} is`;
    const where = num.length === 1 ? "due to" : "in labels with";
    warnings.emit(
      `${fn}: ${what} ill-defined and being set to 0.0 ${where} no ${modifier} samples. ` +
        "Use the `zeroDivision` option to control this behaviour.",
    );
  }
  return out;
}

/** scikit-learn's `_nanaverage`: NaN entries are left out; all-zero weights fall back to the plain mean. */
function nanAverage(values: number[], weights: number[] | null): number {
  const keep = values.map((v) => !Number.isNaN(v));
  if (values.length === 0 || !keep.some(Boolean)) return NaN;
  let sw = 0;
  let s = 0;
  let plain = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    if (!keep[i]) continue;
    plain += values[i];
    count++;
    if (weights) {
      sw += weights[i];
      s += weights[i] * values[i];
    }
  }
  if (weights && sw !== 0) return s / sw;
  return plain / count;
}

/** Labels to score under `average`, following scikit-learn's `_check_set_wise_labels`. */
function setWiseLabels(fn: string, yTrue: number[], yPred: number[], options: PrfOptions, average: Average | null) {
  const present = uniqueSorted(yTrue, yPred);
  if (average === "binary") {
    if (present.length > 2) {
      throw new RangeError(
        `${fn}: the targets are multiclass (${present.length} labels: ${
          present.join(", ")
        }) but average is "binary"; ` +
          `choose options.average from null, "micro", "macro", "weighted"`,
      );
    }
    const pos = options.posLabel ?? 1;
    if (present.length === 2 && !present.includes(pos)) {
      throw new RangeError(
        `${fn}: options.posLabel = ${pos} is not a valid label; it should be one of ${present.join(", ")}`,
      );
    }
    return [pos];
  }
  return options.labels === undefined ? present : checkLabelsOption(fn, options.labels);
}

function prfs(
  fn: string,
  yTrueIn: LabelsLike,
  yPredIn: LabelsLike,
  options: FbetaOptions,
  average: Average | null,
  warnFor: readonly Metric[],
): PrfResult<number> | PrfResult<number[]> {
  const yTrue = toLabels(fn, "yTrue", yTrueIn);
  const yPred = toLabels(fn, "yPred", yPredIn);
  checkSameLength(fn, "yTrue", yTrue.length, "yPred", yPred.length);
  if (average !== null && !["binary", "micro", "macro", "weighted"].includes(average)) {
    throw new RangeError(
      `${fn}: options.average must be "binary", "micro", "macro", "weighted" or null, got ${JSON.stringify(average)}`,
    );
  }
  const zd = checkZeroDivision(fn, options.zeroDivision ?? "warn");
  const beta = options.beta ?? 1;
  if (typeof beta !== "number" || !(beta >= 0)) throw new RangeError(`${fn}: options.beta must be ≥ 0, got ${beta}`);
  const labels = setWiseLabels(fn, yTrue, yPred, options, average);
  const index = new Map<number, number>();
  labels.forEach((l, i) => index.set(l, i));
  const k = labels.length;
  let tp = new Array<number>(k).fill(0);
  let predSum = new Array<number>(k).fill(0);
  let trueSum = new Array<number>(k).fill(0);
  for (let s = 0; s < yTrue.length; s++) {
    const i = index.get(yTrue[s]);
    const j = index.get(yPred[s]);
    if (i !== undefined) trueSum[i]++;
    if (j !== undefined) predSum[j]++;
    if (i !== undefined && yTrue[s] === yPred[s]) tp[i]++;
  }
  const support = trueSum;
  if (average === "micro") {
    const sum = (a: number[]) => [a.reduce((x, y) => x + y, 0)];
    tp = sum(tp);
    predSum = sum(predSum);
    trueSum = sum(trueSum);
  }
  const precision = divide(tp, predSum, zd, "precision", warnFor, fn, "predicted");
  const recall = divide(tp, trueSum, zd, "recall", warnFor, fn, "true");
  let fscore: number[];
  if (beta === Infinity) {
    fscore = recall;
  } else if (beta === 0) {
    fscore = precision;
  } else {
    const b2 = beta * beta;
    fscore = divide(
      tp.map((t) => (1 + b2) * t),
      tp.map((_, i) => b2 * trueSum[i] + predSum[i]),
      zd,
      "f-score",
      warnFor,
      fn,
      "true nor predicted",
    );
  }
  if (average === null) return { precision, recall, fscore, support, labels };
  const weights = average === "weighted" ? support : null;
  return {
    precision: nanAverage(precision, weights),
    recall: nanAverage(recall, weights),
    fscore: nanAverage(fscore, weights),
    support: null,
    labels,
  };
}

/**
 * Precision, recall, F-beta and support per class (`average: null`, the default) or averaged
 * (scikit-learn's `precision_recall_fscore_support`).
 *
 * @example
 * ```ts
 * const r = precisionRecallFscoreSupport([0, 1, 2, 2], [0, 2, 2, 1]);
 * r.precision; // [1, 0, 0.5]
 * r.support;   // [1, 1, 2]
 * ```
 */
export function precisionRecallFscoreSupport(
  yTrue: LabelsLike,
  yPred: LabelsLike,
  options?: FbetaOptions & { average?: null },
): PrfResult<number[]>;
/** Averaged precision, recall and F-beta (`support` is null). */
export function precisionRecallFscoreSupport(
  yTrue: LabelsLike,
  yPred: LabelsLike,
  options: FbetaOptions & { average: Average },
): PrfResult<number>;
/** Per-class or averaged precision, recall, F-beta and support. */
export function precisionRecallFscoreSupport(
  yTrue: LabelsLike,
  yPred: LabelsLike,
  options?: FbetaOptions,
): PrfResult<number> | PrfResult<number[]>;
export function precisionRecallFscoreSupport(
  yTrue: LabelsLike,
  yPred: LabelsLike,
  options: FbetaOptions = {},
): PrfResult<number> | PrfResult<number[]> {
  return prfs(
    "precisionRecallFscoreSupport",
    yTrue,
    yPred,
    options,
    options.average ?? null,
    ["precision", "recall", "f-score"],
  );
}

function single(
  fn: string,
  metric: Metric,
  yTrue: LabelsLike,
  yPred: LabelsLike,
  options: FbetaOptions,
): number | number[] {
  const average = options.average === undefined ? "binary" : options.average;
  const r = prfs(fn, yTrue, yPred, options, average, [metric]);
  return metric === "precision" ? r.precision : metric === "recall" ? r.recall : r.fscore;
}

/** Options whose `average` is null: the scores come back per class. */
export type PerClass<O> = O & { average: null };

/**
 * Precision TP / (TP + FP) (scikit-learn's `precision_score`). Default `average: "binary"`
 * (positive class `posLabel`, binary targets only); `average: null` gives one value per class.
 */
export function precisionScore(yTrue: LabelsLike, yPred: LabelsLike, options: PerClass<PrfOptions>): number[];
/** Precision, averaged as `options.average` says (default `"binary"`). */
export function precisionScore(yTrue: LabelsLike, yPred: LabelsLike, options?: PrfOptions): number;
/** Per class when `options.average` is null, else one number. */
export function precisionScore(yTrue: LabelsLike, yPred: LabelsLike, options?: PrfOptions): number | number[];
export function precisionScore(yTrue: LabelsLike, yPred: LabelsLike, options: PrfOptions = {}): number | number[] {
  return single("precisionScore", "precision", yTrue, yPred, options);
}

/**
 * Recall (sensitivity) TP / (TP + FN) (scikit-learn's `recall_score`). Default
 * `average: "binary"`; `average: null` gives one value per class.
 */
export function recallScore(yTrue: LabelsLike, yPred: LabelsLike, options: PerClass<PrfOptions>): number[];
/** Recall, averaged as `options.average` says (default `"binary"`). */
export function recallScore(yTrue: LabelsLike, yPred: LabelsLike, options?: PrfOptions): number;
/** Per class when `options.average` is null, else one number. */
export function recallScore(yTrue: LabelsLike, yPred: LabelsLike, options?: PrfOptions): number | number[];
export function recallScore(yTrue: LabelsLike, yPred: LabelsLike, options: PrfOptions = {}): number | number[] {
  return single("recallScore", "recall", yTrue, yPred, options);
}

/**
 * F1 score, the harmonic mean of precision and recall (scikit-learn's `f1_score`). Default
 * `average: "binary"`; `average: null` gives one value per class.
 *
 * @example
 * ```ts
 * f1Score([0, 1, 2, 3, 4, 0, 1, 2, 3, 4], [0, 2, 2, 3, 3, 0, 1, 1, 4, 4], { average: "macro" }); // 0.6
 * ```
 */
export function f1Score(yTrue: LabelsLike, yPred: LabelsLike, options: PerClass<PrfOptions>): number[];
/** F1, averaged as `options.average` says (default `"binary"`). */
export function f1Score(yTrue: LabelsLike, yPred: LabelsLike, options?: PrfOptions): number;
/** Per class when `options.average` is null, else one number. */
export function f1Score(yTrue: LabelsLike, yPred: LabelsLike, options?: PrfOptions): number | number[];
export function f1Score(yTrue: LabelsLike, yPred: LabelsLike, options: PrfOptions = {}): number | number[] {
  return single("f1Score", "f-score", yTrue, yPred, { ...options, beta: 1 });
}

/** F-beta score (scikit-learn's `fbeta_score`); `beta` > 1 favours recall. Per class with `average: null`. */
export function fbetaScore(yTrue: LabelsLike, yPred: LabelsLike, options: PerClass<FbetaOptions>): number[];
/** F-beta, averaged as `options.average` says (default `"binary"`). */
export function fbetaScore(yTrue: LabelsLike, yPred: LabelsLike, options?: FbetaOptions): number;
/** Per class when `options.average` is null, else one number. */
export function fbetaScore(yTrue: LabelsLike, yPred: LabelsLike, options?: FbetaOptions): number | number[];
export function fbetaScore(yTrue: LabelsLike, yPred: LabelsLike, options: FbetaOptions = {}): number | number[] {
  return single("fbetaScore", "f-score", yTrue, yPred, options);
}
