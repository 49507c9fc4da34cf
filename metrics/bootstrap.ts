/**
 * Bootstrap confidence intervals for any metric: resample the cases with replacement
 * (seeded), recompute the metric, and take percentiles of the resampled values. Resamples on
 * which the metric is undefined — it throws (e.g. AUROC on a resample with one class) or
 * returns NaN — are skipped and counted.
 * @module
 */
import { Rng } from "../util/rng.ts";

/** Options of {@linkcode bootstrapCi}. */
export interface BootstrapOptions {
  /** Number of resamples (default 1000). */
  nResamples?: number;
  /** Coverage of the interval, in (0, 1) (default 0.95). */
  confidence?: number;
  /** Seed of the resampling (default 0): the same seed gives the same interval. */
  seed?: number;
  /**
   * Resample within each class of `yTrue`, keeping the class counts fixed (a stratified
   * bootstrap; no resample then loses a class). Default false.
   */
  stratified?: boolean;
}

/** A bootstrap estimate and percentile interval. */
export interface BootstrapResult {
  /** The metric on the original data. */
  estimate: number;
  /** Lower end of the percentile interval (the `(1 − confidence)/2` quantile of `values`). */
  lower: number;
  /** Upper end (the `(1 + confidence)/2` quantile of `values`). */
  upper: number;
  /** The interval's coverage. */
  confidence: number;
  /** Resamples drawn. */
  nResamples: number;
  /** Resamples on which the metric was undefined (threw or gave NaN) and that were left out. */
  nSkipped: number;
  /** The metric on each kept resample, in drawing order. */
  values: Float64Array;
}

/** Quantile `q` of sorted values with linear interpolation (numpy's default `"linear"` method). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError("quantileSorted: sorted is empty");
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantileSorted: q must lie in [0, 1], got ${q}`);
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

function isRowArray(v: ArrayLike<unknown>): boolean {
  const first = v[0];
  return first !== null && typeof first === "object" && typeof (first as { length?: unknown }).length === "number";
}

/**
 * Percentile bootstrap confidence interval of `metricFn(yTrue, yPredOrScores)`. Cases (rows)
 * are resampled with replacement; `metricFn` receives the resampled labels as `number[]` and
 * the resampled predictions in the form given: `number[]` for a 1-D or flat `(N, C)` array (the
 * row width is `length / N`), an array of the original rows for an array of rows.
 *
 * @example
 * ```ts
 * const ci = bootstrapCi((t, s) => rocAucScore(t, s), yTrue, probs, { seed: 1 });
 * console.log(`AUROC ${ci.estimate.toFixed(3)} (95% CI ${ci.lower.toFixed(3)}–${ci.upper.toFixed(3)})`);
 * ```
 */
export function bootstrapCi(
  metricFn: (yTrue: number[], yPred: number[]) => number,
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  options?: BootstrapOptions,
): BootstrapResult;
/** Bootstrap CI of a metric of labels and score rows (`N` rows of `C` values). */
export function bootstrapCi(
  metricFn: (yTrue: number[], scores: ArrayLike<number>[]) => number,
  yTrue: ArrayLike<number>,
  scores: ArrayLike<ArrayLike<number>>,
  options?: BootstrapOptions,
): BootstrapResult;
export function bootstrapCi(
  metricFn: ((yTrue: number[], yPred: number[]) => number) | ((yTrue: number[], scores: ArrayLike<number>[]) => number),
  yTrue: ArrayLike<number>,
  yPredOrScores: ArrayLike<number> | ArrayLike<ArrayLike<number>>,
  options: BootstrapOptions = {},
): BootstrapResult {
  const fn = "bootstrapCi";
  if (typeof metricFn !== "function") {
    throw new TypeError(`${fn}: metricFn must be a function (yTrue, yPred) => number`);
  }
  const nResamples = options.nResamples ?? 1000;
  const confidence = options.confidence ?? 0.95;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(nResamples) || nResamples < 1) {
    throw new RangeError(`${fn}: options.nResamples must be an integer ≥ 1, got ${nResamples}`);
  }
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`${fn}: options.confidence must lie strictly between 0 and 1, got ${confidence}`);
  }
  if (!Number.isFinite(seed)) throw new RangeError(`${fn}: options.seed must be a finite number, got ${seed}`);
  if (yTrue === null || typeof yTrue !== "object" || typeof yTrue.length !== "number") {
    throw new TypeError(`${fn}: yTrue must be an array or typed array`);
  }
  if (yPredOrScores === null || typeof yPredOrScores !== "object" || typeof yPredOrScores.length !== "number") {
    throw new TypeError(`${fn}: yPredOrScores must be an array, a typed array or an array of rows`);
  }
  const n = yTrue.length;
  if (n === 0) throw new RangeError(`${fn}: yTrue is empty; at least one sample is needed`);
  const t = Array.from(yTrue, (v, i) => {
    if (typeof v !== "number" || Number.isNaN(v)) throw new TypeError(`${fn}: yTrue[${i}] must be a number, got ${v}`);
    return v;
  });
  const rows = isRowArray(yPredOrScores);
  let width = 1;
  if (rows) {
    if (yPredOrScores.length !== n) {
      throw new RangeError(
        `${fn}: yPredOrScores has ${yPredOrScores.length} rows but yTrue has ${n} samples; they must match`,
      );
    }
  } else {
    if (yPredOrScores.length % n !== 0 || yPredOrScores.length === 0) {
      throw new RangeError(
        `${fn}: yPredOrScores has ${yPredOrScores.length} values for ${n} samples; expected N = ${n} values ` +
          `or a multiple N·C (flat (N, C))`,
      );
    }
    width = yPredOrScores.length / n;
  }
  const flat = yPredOrScores as ArrayLike<number>;
  const rowArr = yPredOrScores as ArrayLike<ArrayLike<number>>;
  const call = metricFn as (yTrue: number[], y: number[] | ArrayLike<number>[]) => number;
  const evaluate = (idx: ArrayLike<number> | null): number => {
    const m = idx === null ? n : idx.length;
    const tt = new Array<number>(m);
    for (let k = 0; k < m; k++) tt[k] = t[idx === null ? k : idx[k]];
    if (rows) {
      const rr = new Array<ArrayLike<number>>(m);
      for (let k = 0; k < m; k++) rr[k] = rowArr[idx === null ? k : idx[k]];
      return call(tt, rr);
    }
    const pp = new Array<number>(m * width);
    for (let k = 0; k < m; k++) {
      const src = (idx === null ? k : idx[k]) * width;
      for (let j = 0; j < width; j++) pp[k * width + j] = flat[src + j];
    }
    return call(tt, pp);
  };

  const estimate = evaluate(null);
  if (typeof estimate !== "number" || Number.isNaN(estimate)) {
    throw new RangeError(`${fn}: the metric is undefined (${estimate}) on the full data; no interval can be formed`);
  }

  // Strata: one group of indices per distinct yTrue value (or one group of all).
  const groups: number[][] = [];
  if (options.stratified) {
    const byValue = new Map<number, number[]>();
    t.forEach((v, i) => {
      const g = byValue.get(v);
      if (g) g.push(i);
      else byValue.set(v, [i]);
    });
    groups.push(...byValue.values());
  } else {
    groups.push(Array.from({ length: n }, (_, i) => i));
  }

  const rng = new Rng(seed);
  const idx = new Int32Array(n);
  const values: number[] = [];
  let nSkipped = 0;
  let lastError: unknown = null;
  for (let r = 0; r < nResamples; r++) {
    let k = 0;
    for (const g of groups) for (let s = 0; s < g.length; s++) idx[k++] = g[rng.int(g.length)];
    let v: number;
    try {
      v = evaluate(idx);
    } catch (e) {
      lastError = e;
      nSkipped++;
      continue;
    }
    if (typeof v !== "number" || Number.isNaN(v)) {
      nSkipped++;
      continue;
    }
    values.push(v);
  }
  if (values.length === 0) {
    const why = lastError instanceof Error ? `; last error: ${lastError.message}` : "";
    throw new RangeError(`${fn}: the metric was undefined on all ${nResamples} resamples${why}`);
  }
  const sorted = Float64Array.from(values).sort();
  const alpha = (1 - confidence) / 2;
  return {
    estimate,
    lower: quantileSorted(sorted, alpha),
    upper: quantileSorted(sorted, 1 - alpha),
    confidence,
    nResamples,
    nSkipped,
    values: Float64Array.from(values),
  };
}
