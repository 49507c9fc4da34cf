/**
 * The confusion matrix, with scikit-learn's `confusion_matrix` semantics: rows are true
 * classes, columns predicted classes, in the order of `labels` (by default the sorted labels
 * that occur in either input).
 * @module
 */
import { checkLabelsOption, checkNumClasses, checkRange, checkSameLength, toLabels, uniqueSorted } from "./_input.ts";
import type { LabelsLike } from "./_input.ts";

/** Options of {@linkcode confusionMatrix}. */
export interface ConfusionMatrixOptions {
  /**
   * The classes to tabulate, in order. Samples whose true or predicted label is not listed are
   * left out (as scikit-learn does). Default: the sorted labels present in `yTrue` or `yPred`.
   */
  labels?: LabelsLike;
  /**
   * Classes `0 … numClasses−1` (also those absent from the data); every label must lie in that
   * range, otherwise an error. Exclusive with `labels`.
   */
  numClasses?: number;
  /**
   * Normalise over the true classes (rows sum to 1), the predicted classes (columns sum to 1)
   * or the whole matrix. A row or column with no samples becomes zeros.
   */
  normalize?: "true" | "pred" | "all" | null;
}

/** Labels and validated inputs shared by the label-based metrics. */
export interface LabelCounts {
  /** The classes in matrix order. */
  labels: number[];
  /** `counts[i][j]`: samples of true class `labels[i]` predicted as `labels[j]`. */
  counts: number[][];
  /** True labels as numbers. */
  yTrue: number[];
  /** Predicted labels as numbers. */
  yPred: number[];
}

/** Validates `yTrue`/`yPred` and counts the confusion matrix (no normalisation). */
export function countConfusion(
  fn: string,
  yTrueIn: LabelsLike,
  yPredIn: LabelsLike,
  labelsIn?: LabelsLike,
  numClasses?: number,
): LabelCounts {
  const yTrue = toLabels(fn, "yTrue", yTrueIn);
  const yPred = toLabels(fn, "yPred", yPredIn);
  checkSameLength(fn, "yTrue", yTrue.length, "yPred", yPred.length);
  let labels: number[];
  if (numClasses !== undefined) {
    if (labelsIn !== undefined) throw new RangeError(`${fn}: give options.labels or options.numClasses, not both`);
    const c = checkNumClasses(fn, numClasses);
    checkRange(fn, "yTrue", yTrue, c);
    checkRange(fn, "yPred", yPred, c);
    labels = Array.from({ length: c }, (_, i) => i);
  } else if (labelsIn !== undefined) {
    labels = checkLabelsOption(fn, labelsIn);
    const wanted = new Set(labels);
    if (!yTrue.some((v) => wanted.has(v))) {
      throw new RangeError(`${fn}: none of options.labels [${labels.join(", ")}] occurs in yTrue; at least one must`);
    }
  } else {
    labels = uniqueSorted(yTrue, yPred);
  }
  const index = new Map<number, number>();
  labels.forEach((l, i) => index.set(l, i));
  const k = labels.length;
  const counts = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let s = 0; s < yTrue.length; s++) {
    const i = index.get(yTrue[s]);
    const j = index.get(yPred[s]);
    if (i !== undefined && j !== undefined) counts[i][j]++;
  }
  return { labels, counts, yTrue, yPred };
}

/**
 * Confusion matrix `C` with `C[i][j]` the number of samples of true class `labels[i]`
 * predicted as `labels[j]` (scikit-learn's `confusion_matrix`).
 *
 * @example
 * ```ts
 * confusionMatrix([0, 1, 2, 2], [0, 2, 2, 1]); // [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
 * confusionMatrix([0, 1, 1], [0, 1, 0], { normalize: "true" }); // [[1, 0], [0.5, 0.5]]
 * ```
 */
export function confusionMatrix(
  yTrue: LabelsLike,
  yPred: LabelsLike,
  options: ConfusionMatrixOptions = {},
): number[][] {
  const fn = "confusionMatrix";
  const { counts } = countConfusion(fn, yTrue, yPred, options.labels, options.numClasses);
  const norm = options.normalize ?? null;
  if (norm === null) return counts;
  const k = counts.length;
  if (norm === "true") {
    return counts.map((row) => {
      const s = row.reduce((a, b) => a + b, 0);
      return row.map((v) => (s === 0 ? 0 : v / s));
    });
  }
  if (norm === "pred") {
    const colSums = new Array<number>(k).fill(0);
    for (const row of counts) row.forEach((v, j) => (colSums[j] += v));
    return counts.map((row) => row.map((v, j) => (colSums[j] === 0 ? 0 : v / colSums[j])));
  }
  if (norm === "all") {
    const total = counts.reduce((a, row) => a + row.reduce((x, y) => x + y, 0), 0);
    return counts.map((row) => row.map((v) => (total === 0 ? 0 : v / total)));
  }
  throw new RangeError(`${fn}: options.normalize must be "true", "pred", "all" or null, got ${JSON.stringify(norm)}`);
}
