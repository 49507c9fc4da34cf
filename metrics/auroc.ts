/**
 * ROC analysis with scikit-learn's semantics: {@linkcode rocCurve} (`roc_curve`, including
 * `drop_intermediate`), {@linkcode auc} (trapezoidal area) and {@linkcode rocAucScore}
 * (`roc_auc_score`: binary, one-vs-rest, and Hand & Till's one-vs-one for multiclass).
 * @module
 */
import {
  checkNumClasses,
  checkProbabilities,
  checkRange,
  checkSameLength,
  type ScoreMatrix,
  type ScoresLike,
  toLabels,
  toScoreMatrix,
  uniqueSorted,
  warnings,
} from "./_input.ts";
import type { LabelsLike } from "./_input.ts";

/** Options of {@linkcode rocCurve}. */
export interface RocCurveOptions {
  /**
   * The positive class. Default: 1, which requires `yTrue` to take values in {0, 1} or
   * {−1, 1}; give it explicitly for other labels (any other label counts as negative).
   */
  posLabel?: number;
  /**
   * Drop thresholds that lie on a straight segment of the curve (they change neither its shape
   * nor its area). Default true, as scikit-learn.
   */
  dropIntermediate?: boolean;
}

/** A ROC curve: points `(fpr[i], tpr[i])` reached by predicting positive when `score ≥ thresholds[i]`. */
export interface RocCurve {
  /** False-positive rates, non-decreasing from 0 to 1. */
  fpr: number[];
  /** True-positive rates, non-decreasing from 0 to 1. */
  tpr: number[];
  /** Decreasing thresholds; the first is `Infinity` (nothing predicted positive). */
  thresholds: number[];
}

/** Cumulative false and true positives at each distinct score, highest score first. */
function binaryClfCurve(isPos: Uint8Array, score: Float64Array): { fps: number[]; tps: number[]; thr: number[] } {
  const n = score.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[b] - score[a] || a - b);
  const fps: number[] = [];
  const tps: number[] = [];
  const thr: number[] = [];
  let tp = 0;
  for (let k = 0; k < n; k++) {
    const i = order[k];
    tp += isPos[i];
    if (k === n - 1 || score[order[k + 1]] !== score[i]) {
      tps.push(tp);
      fps.push(k + 1 - tp);
      thr.push(score[i]);
    }
  }
  return { fps, tps, thr };
}

function curveFrom(isPos: Uint8Array, score: Float64Array, dropIntermediate: boolean, fn: string): RocCurve {
  let { fps, tps, thr } = binaryClfCurve(isPos, score);
  if (dropIntermediate && fps.length > 2) {
    const keep: number[] = [0];
    for (let i = 1; i < fps.length - 1; i++) {
      if (fps[i + 1] - 2 * fps[i] + fps[i - 1] !== 0 || tps[i + 1] - 2 * tps[i] + tps[i - 1] !== 0) keep.push(i);
    }
    keep.push(fps.length - 1);
    fps = keep.map((i) => fps[i]);
    tps = keep.map((i) => tps[i]);
    thr = keep.map((i) => thr[i]);
  }
  fps.unshift(0);
  tps.unshift(0);
  thr.unshift(Infinity);
  const negatives = fps[fps.length - 1];
  const positives = tps[tps.length - 1];
  if (negatives <= 0) {
    warnings.emit(`${fn}: no negative samples in yTrue; the false-positive rates are undefined (NaN)`);
  }
  if (positives <= 0) {
    warnings.emit(`${fn}: no positive samples in yTrue; the true-positive rates are undefined (NaN)`);
  }
  return {
    fpr: fps.map((v) => (negatives > 0 ? v / negatives : NaN)),
    tpr: tps.map((v) => (positives > 0 ? v / positives : NaN)),
    thresholds: thr,
  };
}

/**
 * Receiver operating characteristic for a binary problem (scikit-learn's `roc_curve`): one
 * point per distinct score (fewer with `dropIntermediate`), preceded by `(0, 0)` at threshold
 * `Infinity`. `score` is higher for the positive class (a probability, logit or any score).
 *
 * @example
 * ```ts
 * const { fpr, tpr, thresholds } = rocCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]);
 * // fpr [0, 0, 0.5, 0.5, 1], tpr [0, 0.5, 0.5, 1, 1], thresholds [Infinity, 0.8, 0.4, 0.35, 0.1]
 * ```
 */
export function rocCurve(yTrue: LabelsLike, score: ArrayLike<number>, options: RocCurveOptions = {}): RocCurve {
  const fn = "rocCurve";
  const t = toLabels(fn, "yTrue", yTrue);
  const m = toScoreMatrix(fn, "score", score, t.length);
  if (!m.oneD) {
    throw new RangeError(
      `${fn}: score must hold one value per sample (${t.length}), got ${m.cols} per sample; ` +
        `pass the positive class's column`,
    );
  }
  let pos = options.posLabel;
  if (pos === undefined) {
    const classes = uniqueSorted(t);
    const ok = classes.every((c) => c === 0 || c === 1) || classes.every((c) => c === -1 || c === 1);
    if (!ok) {
      throw new RangeError(
        `${fn}: yTrue takes the values {${classes.join(", ")}} and options.posLabel is not given; ` +
          `make yTrue take values in {0, 1} or {-1, 1}, or pass options.posLabel`,
      );
    }
    pos = 1;
  }
  const isPos = new Uint8Array(t.length);
  for (let i = 0; i < t.length; i++) isPos[i] = t[i] === pos ? 1 : 0;
  return curveFrom(isPos, m.data, options.dropIntermediate ?? true, fn);
}

/**
 * Area under a curve by the trapezoidal rule (scikit-learn's `auc`); `x` must be monotonic
 * (non-decreasing or non-increasing).
 */
export function auc(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const fn = "auc";
  checkSameLength(fn, "x", x.length, "y", y.length);
  if (x.length < 2) throw new RangeError(`${fn}: at least 2 points are needed to compute an area, got ${x.length}`);
  let direction = 1;
  let inc = true;
  let dec = true;
  for (let i = 1; i < x.length; i++) {
    if (x[i] < x[i - 1]) inc = false;
    if (x[i] > x[i - 1]) dec = false;
  }
  if (!inc) {
    if (dec) direction = -1;
    else throw new RangeError(`${fn}: x is neither increasing nor decreasing; sort the points by x first`);
  }
  let area = 0;
  for (let i = 1; i < x.length; i++) area += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2;
  return direction * area;
}

function binaryAuc(isPos: Uint8Array, score: Float64Array, fn: string, what: string, maxFpr?: number): number {
  let p = 0;
  for (let i = 0; i < isPos.length; i++) p += isPos[i];
  if (p === 0 || p === isPos.length) {
    throw new RangeError(`${fn}: only one class present in yTrue${what}; ROC AUC is not defined in that case`);
  }
  const { fpr, tpr } = curveFrom(isPos, score, true, fn);
  if (maxFpr === undefined || maxFpr === 1) return auc(fpr, tpr);
  // Partial AUC up to maxFpr, standardised (McClish 1989): 0.5 for chance, 1 for perfect.
  let stop = 0;
  while (stop < fpr.length && fpr[stop] <= maxFpr) stop++;
  const x0 = fpr[stop - 1], x1 = fpr[stop], y0 = tpr[stop - 1], y1 = tpr[stop];
  const yAt = x1 === x0 ? y1 : y0 + (y1 - y0) * (maxFpr - x0) / (x1 - x0);
  const partial = auc([...fpr.slice(0, stop), maxFpr], [...tpr.slice(0, stop), yAt]);
  const minArea = 0.5 * maxFpr * maxFpr;
  return 0.5 * (1 + (partial - minArea) / (maxFpr - minArea));
}

/** Options of {@linkcode rocAucScore}. */
export interface RocAucOptions {
  /**
   * Multiclass strategy: `"ovr"` (default) averages the AUC of each class against the rest;
   * `"ovo"` averages over all pairs of classes (Hand & Till 2001). (scikit-learn has no
   * default and asks for one.) Ignored for binary problems.
   */
  multiClass?: "ovr" | "ovo";
  /**
   * `"macro"` (default): unweighted mean; `"weighted"`: weighted by class prevalence (ovr) or
   * pair prevalence (ovo); `null` (ovr only): one AUC per class.
   */
  average?: "macro" | "weighted" | null;
  /** Number of classes, to check the width of flat `(N, C)` scores (inferred otherwise). */
  numClasses?: number;
  /** Binary only: standardised partial AUC over `fpr ≤ maxFpr` (McClish correction). */
  maxFpr?: number;
}

function multiclassPrep(fn: string, t: number[], m: ScoreMatrix): void {
  const c = m.cols;
  checkRange(fn, "yTrue", t, c);
  checkProbabilities(fn, "scores", m, "multiclass ROC AUC scores");
  const counts = new Array<number>(c).fill(0);
  for (const v of t) counts[v]++;
  const absent = counts.flatMap((k, i) => (k === 0 ? [i] : []));
  if (absent.length > 0) {
    throw new RangeError(
      `${fn}: yTrue has no samples of class ${absent.join(", ")}; multiclass ROC AUC needs every one of the ` +
        `${c} score columns' classes present in yTrue`,
    );
  }
}

function column(m: ScoreMatrix, j: number, rows?: number[]): Float64Array {
  const idx = rows ?? Array.from({ length: m.n }, (_, i) => i);
  const out = new Float64Array(idx.length);
  idx.forEach((r, k) => (out[k] = m.data[r * m.cols + j]));
  return out;
}

/**
 * Area under the ROC curve (scikit-learn's `roc_auc_score`).
 *
 * - Binary, 1-D `scores` (higher for the positive class): `yTrue` has two labels; the larger
 *   is positive.
 * - Binary, `(N, 2)` probabilities: `yTrue` in {0, 1}; column 1 is the positive class.
 * - Multiclass, `(N, C)` probabilities (rows sum to 1; an array of rows or a flat row-major
 *   array): `yTrue` in `[0, C)` with every class present; `multiClass` `"ovr"` or `"ovo"`.
 *
 * @example
 * ```ts
 * rocAucScore([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]); // 0.75
 * rocAucScore([0, 1, 2], [[0.8, 0.1, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7]], { multiClass: "ovo" }); // 1
 * ```
 */
export function rocAucScore(
  yTrue: LabelsLike,
  scores: ScoresLike,
  options: RocAucOptions & { average: null },
): number[];
/** ROC AUC, averaged (default macro) over classes for multiclass. */
export function rocAucScore(yTrue: LabelsLike, scores: ScoresLike, options?: RocAucOptions): number;
/** ROC AUC: per class when `options.average` is null (ovr), else one number. */
export function rocAucScore(yTrue: LabelsLike, scores: ScoresLike, options?: RocAucOptions): number | number[];
export function rocAucScore(yTrue: LabelsLike, scores: ScoresLike, options: RocAucOptions = {}): number | number[] {
  const fn = "rocAucScore";
  const t = toLabels(fn, "yTrue", yTrue);
  const numClasses = options.numClasses === undefined ? undefined : checkNumClasses(fn, options.numClasses, 2);
  const m = toScoreMatrix(fn, "scores", scores, t.length, numClasses);
  const multiClass = options.multiClass ?? "ovr";
  if (multiClass !== "ovr" && multiClass !== "ovo") {
    throw new RangeError(`${fn}: options.multiClass must be "ovr" or "ovo", got ${JSON.stringify(multiClass)}`);
  }
  const average = options.average === undefined ? "macro" : options.average;
  if (average !== "macro" && average !== "weighted" && average !== null) {
    throw new RangeError(`${fn}: options.average must be "macro", "weighted" or null, got ${JSON.stringify(average)}`);
  }
  const maxFpr = options.maxFpr;
  if (maxFpr !== undefined && !(maxFpr > 0 && maxFpr <= 1)) {
    throw new RangeError(`${fn}: options.maxFpr must lie in (0, 1], got ${maxFpr}`);
  }

  if (m.cols <= 2) {
    const classes = uniqueSorted(t);
    let isPos: Uint8Array;
    let score: Float64Array;
    if (m.cols === 1) {
      if (classes.length > 2) {
        throw new RangeError(
          `${fn}: yTrue has ${classes.length} classes but scores has one value per sample; ` +
            `give (N, ${classes.length}) class probabilities for a multiclass AUC`,
        );
      }
      isPos = Uint8Array.from(t, (v) => (classes.length === 2 && v === classes[1] ? 1 : 0));
      score = m.data;
    } else {
      checkRange(fn, "yTrue", t, 2);
      checkProbabilities(fn, "scores", m, "(N, 2) scores");
      isPos = Uint8Array.from(t, (v) => (v === 1 ? 1 : 0));
      score = column(m, 1);
    }
    const a = binaryAuc(isPos, score, fn, "", maxFpr);
    return average === null ? [a] : a;
  }

  if (maxFpr !== undefined && maxFpr !== 1) {
    throw new RangeError(`${fn}: options.maxFpr (partial AUC) is only available for binary problems`);
  }
  multiclassPrep(fn, t, m);
  const c = m.cols;
  const n = t.length;
  if (multiClass === "ovr") {
    const per: number[] = [];
    const support: number[] = [];
    for (let j = 0; j < c; j++) {
      const isPos = Uint8Array.from(t, (v) => (v === j ? 1 : 0));
      per.push(binaryAuc(isPos, column(m, j), fn, ` for class ${j} against the rest`));
      support.push(isPos.reduce((a, b) => a + b, 0));
    }
    if (average === null) return per;
    if (average === "macro") return per.reduce((a, b) => a + b, 0) / c;
    return per.reduce((a, v, j) => a + v * support[j], 0) / n;
  }
  if (average === null) throw new RangeError(`${fn}: options.average null (per class) is not defined for "ovo"`);
  let sum = 0;
  let wsum = 0;
  for (let a = 0; a < c; a++) {
    for (let b = a + 1; b < c; b++) {
      const rows: number[] = [];
      for (let i = 0; i < n; i++) if (t[i] === a || t[i] === b) rows.push(i);
      const aPos = Uint8Array.from(rows, (i) => (t[i] === a ? 1 : 0));
      const bPos = Uint8Array.from(rows, (i) => (t[i] === b ? 1 : 0));
      const pair = (binaryAuc(aPos, column(m, a, rows), fn, "") + binaryAuc(bPos, column(m, b, rows), fn, "")) / 2;
      const w = average === "weighted" ? rows.length / n : 1;
      sum += w * pair;
      wsum += w;
    }
  }
  return sum / wsum;
}
