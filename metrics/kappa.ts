/**
 * Cohen's kappa (scikit-learn's `cohen_kappa_score`), unweighted or with linear / quadratic
 * disagreement weights — the quadratic form is the QWK used for graded disease severity.
 * @module
 */
import type { LabelsLike } from "./_input.ts";
import { countConfusion } from "./confusion.ts";

/** Options of {@linkcode cohenKappaScore}. */
export interface CohenKappaOptions {
  /**
   * Disagreement weights: `null` (default) counts every disagreement as 1; `"linear"` weighs it
   * by `|i − j|`, `"quadratic"` by `(i − j)²`, where i and j are the classes' positions in
   * `labels`.
   */
  weights?: null | "linear" | "quadratic";
  /**
   * The classes and their order. Default: the sorted labels present in either input. For
   * graded scales give every grade (or use `numClasses`): the weights use positions in this
   * list, so a grade that nobody used would otherwise shrink the distances.
   */
  labels?: LabelsLike;
  /** Classes `0 … numClasses−1`; every label must lie in that range. Exclusive with `labels`. */
  numClasses?: number;
}

/**
 * Cohen's kappa, agreement between two raters corrected for chance: `1 − Σ w·O / Σ w·E`, with
 * `O` the confusion matrix, `E` the outer product of its marginals over N, and `w` the
 * disagreement weights. NaN when the expected disagreement is 0 (both raters always give the
 * same single class).
 *
 * @example
 * ```ts
 * const t = [0, 1, 2, 3, 4, 0, 1, 2, 3, 4], p = [0, 2, 2, 3, 3, 0, 1, 1, 4, 4];
 * cohenKappaScore(t, p); // 0.5
 * cohenKappaScore(t, p, { weights: "quadratic" }); // 0.9
 * ```
 */
export function cohenKappaScore(y1: LabelsLike, y2: LabelsLike, options: CohenKappaOptions = {}): number {
  const fn = "cohenKappaScore";
  const weights = options.weights ?? null;
  if (weights !== null && weights !== "linear" && weights !== "quadratic") {
    throw new RangeError(
      `${fn}: options.weights must be null, "linear" or "quadratic", got ${JSON.stringify(weights)}`,
    );
  }
  const { counts } = countConfusion(fn, y1, y2, options.labels, options.numClasses);
  const k = counts.length;
  const rowSums = counts.map((row) => row.reduce((a, b) => a + b, 0));
  const colSums = new Array<number>(k).fill(0);
  for (const row of counts) row.forEach((v, j) => (colSums[j] += v));
  const total = rowSums.reduce((a, b) => a + b, 0);
  let observed = 0;
  let expected = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const w = weights === null ? (i === j ? 0 : 1) : weights === "linear" ? Math.abs(i - j) : (i - j) * (i - j);
      observed += w * counts[i][j];
      expected += w * rowSums[i] * colSums[j] / total;
    }
  }
  return 1 - observed / expected;
}
