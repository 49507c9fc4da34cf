/**
 * Selective prediction: keep only the most confident X % of the predictions and measure how
 * accurate what is kept is (the risk–coverage curve of Geifman & El-Yaniv 2017). A useful
 * uncertainty puts the mistakes at the low-confidence end: accuracy rises as coverage falls.
 * @module
 */
import { checkSameLength, toLabels } from "./_input.ts";

/** The risk–coverage curve at every coverage k/N (k = 1 … N). */
export interface RiskCoverage {
  /** Fraction kept, k/N, ascending. */
  coverage: number[];
  /** Accuracy of the k most confident predictions. */
  accuracy: number[];
  /** Error rate (1 − accuracy) of the same. */
  risk: number[];
  /** Area under the risk–coverage curve (mean risk over k = 1 … N); lower is better. */
  aurc: number;
}

/**
 * The curve from per-sample confidences and whether each prediction was right. Equal
 * confidences are kept or dropped together (their accuracy is averaged), so the curve does
 * not depend on the input order.
 *
 * @example
 * ```ts
 * riskCoverage([0.9, 0.8, 0.6], [1, 1, 0]).accuracy; // [1, 1, 0.667]
 * ```
 */
export function riskCoverage(confidence: ArrayLike<number>, correct: ArrayLike<number | boolean>): RiskCoverage {
  const fn = "riskCoverage";
  const n = confidence.length;
  checkSameLength(fn, "confidence", n, "correct", correct.length);
  if (n === 0) throw new RangeError(`${fn}: at least one prediction is needed`);
  const right = toLabels(fn, "correct", Array.from(correct, (v) => Number(v)));
  if (right.some((v) => v !== 0 && v !== 1)) throw new RangeError(`${fn}: correct must hold 0/1 or booleans`);
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(confidence[i])) throw new RangeError(`${fn}: confidence[${i}] is NaN`);
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => confidence[b] - confidence[a]);
  const coverage: number[] = [], accuracy: number[] = [], risk: number[] = [];
  let hits = 0;
  for (let k = 0; k < n;) {
    // A run of equal confidences: every coverage inside it sees their average correctness.
    let end = k;
    let runHits = 0;
    while (end < n && confidence[order[end]] === confidence[order[k]]) runHits += right[order[end++]];
    for (let j = k; j < end; j++) {
      const acc = (hits + (runHits * (j - k + 1)) / (end - k)) / (j + 1);
      coverage.push((j + 1) / n);
      accuracy.push(acc);
      risk.push(1 - acc);
    }
    hits += runHits;
    k = end;
  }
  return { coverage, accuracy, risk, aurc: risk.reduce((a, b) => a + b, 0) / n };
}
