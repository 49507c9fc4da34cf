/**
 * Calibration of predicted probabilities: the reliability-diagram bins and the expected
 * calibration error (ECE) as Guo et al. (2017, "On Calibration of Modern Neural Networks")
 * define it — top-label confidence, `nBins` equal-width bins over [0, 1], and
 * `ECE = Σ_b (|B_b| / N) · |acc(B_b) − conf(B_b)|`.
 * @module
 */
import { checkNumClasses, checkProbabilities, checkRange, type ScoresLike, toLabels, toScoreMatrix } from "./_input.ts";
import type { LabelsLike } from "./_input.ts";

/** Options of {@linkcode expectedCalibrationError} and {@linkcode calibrationBins}. */
export interface CalibrationOptions {
  /** Number of equal-width confidence bins over [0, 1] (default 15, as Guo et al.). */
  nBins?: number;
  /** Number of classes, to check the width of flat `(N, C)` probabilities (inferred otherwise). */
  numClasses?: number;
}

/** Reliability-diagram bins: bin `b` holds the samples whose confidence lies in `(lower[b], upper[b]]`. */
export interface CalibrationBins {
  /** Lower bin edges, `b / nBins` (exclusive; the first bin also takes confidence 0). */
  lower: number[];
  /** Upper bin edges, `(b + 1) / nBins` (inclusive). */
  upper: number[];
  /** Samples in each bin. */
  count: number[];
  /** Fraction of the bin's samples whose top-label prediction is right (NaN for an empty bin). */
  accuracy: number[];
  /** Mean top-label confidence in the bin (NaN for an empty bin). */
  confidence: number[];
}

/**
 * Bins samples by top-label confidence (the largest class probability, the prediction being
 * that class; the first on ties) into `nBins` equal-width bins `((b−1)/M, b/M]`, with each bin's
 * accuracy and mean confidence. `probs` is `(N, C)` (rows or flat) or, for a binary problem,
 * 1-D with the probability of class 1 (confidence `max(p, 1 − p)`, prediction 1 when `p > 0.5`).
 */
export function calibrationBins(
  yTrue: LabelsLike,
  probs: ScoresLike,
  options: CalibrationOptions = {},
): CalibrationBins {
  return bins("calibrationBins", yTrue, probs, options);
}

function bins(fn: string, yTrue: LabelsLike, probs: ScoresLike, options: CalibrationOptions): CalibrationBins {
  const nBins = options.nBins ?? 15;
  if (!Number.isInteger(nBins) || nBins < 1) {
    throw new RangeError(`${fn}: options.nBins must be an integer ≥ 1, got ${nBins}`);
  }
  const t = toLabels(fn, "yTrue", yTrue);
  const numClasses = options.numClasses === undefined ? undefined : checkNumClasses(fn, options.numClasses, 2);
  const m = toScoreMatrix(fn, "probs", probs, t.length, numClasses);
  checkProbabilities(fn, "probs", m, "calibration measures");
  checkRange(fn, "yTrue", t, m.oneD ? 2 : m.cols);
  const upper = Array.from({ length: nBins }, (_, b) => (b + 1) / nBins);
  const lower = Array.from({ length: nBins }, (_, b) => b / nBins);
  const count = new Array<number>(nBins).fill(0);
  const correct = new Array<number>(nBins).fill(0);
  const confSum = new Array<number>(nBins).fill(0);
  for (let i = 0; i < t.length; i++) {
    let conf: number;
    let pred: number;
    if (m.oneD) {
      const p = m.data[i];
      pred = p > 0.5 ? 1 : 0;
      conf = pred === 1 ? p : 1 - p;
    } else {
      pred = 0;
      conf = m.data[i * m.cols];
      for (let j = 1; j < m.cols; j++) {
        const v = m.data[i * m.cols + j];
        if (v > conf) {
          conf = v;
          pred = j;
        }
      }
    }
    // Bin b holds (b/M, (b+1)/M]; compare with the same edges the bins report.
    let b = Math.min(nBins - 1, Math.max(0, Math.ceil(conf * nBins) - 1));
    while (b > 0 && conf <= lower[b]) b--;
    while (b < nBins - 1 && conf > upper[b]) b++;
    count[b]++;
    confSum[b] += conf;
    if (pred === t[i]) correct[b]++;
  }
  return {
    lower,
    upper,
    count,
    accuracy: count.map((c, b) => (c === 0 ? NaN : correct[b] / c)),
    confidence: count.map((c, b) => (c === 0 ? NaN : confSum[b] / c)),
  };
}

/**
 * Expected calibration error (Guo et al. 2017): the sample-weighted mean, over `nBins`
 * equal-width top-label-confidence bins, of |accuracy − mean confidence|. 0 is perfectly
 * calibrated. `probs` as in {@linkcode calibrationBins}.
 *
 * @example
 * ```ts
 * expectedCalibrationError([0, 1], [[0.9, 0.1], [0.6, 0.4]], { nBins: 10 }); // (|1 − 0.9| + |0 − 0.6|) / 2 = 0.35
 * ```
 */
export function expectedCalibrationError(
  yTrue: LabelsLike,
  probs: ScoresLike,
  options: CalibrationOptions = {},
): number {
  const r = bins("expectedCalibrationError", yTrue, probs, options);
  const n = r.count.reduce((a, b) => a + b, 0);
  let ece = 0;
  for (let b = 0; b < r.count.length; b++) {
    if (r.count[b] > 0) ece += (r.count[b] / n) * Math.abs(r.accuracy[b] - r.confidence[b]);
  }
  return ece;
}
