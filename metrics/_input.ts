/**
 * Input checks shared by the metrics: class labels, score matrices, lengths, zero-division
 * policy. Internal to `metrics/`; the public types are re-exported from `metrics/mod.ts`.
 * @module
 */

/** Class labels: integers, as a plain array or any typed array. */
export type LabelsLike = ArrayLike<number>;

/**
 * Scores or probabilities: one value per sample (1-D, binary), a flat row-major `(N, C)`
 * array (the shape a tensor readback gives; `C` is inferred from `N = yTrue.length`), or an
 * array of `N` rows of `C` values.
 */
export type ScoresLike = ArrayLike<number> | ArrayLike<ArrayLike<number>>;

/** What a ratio with a zero denominator becomes: `"warn"` (0 and a console warning), 0, 1 or NaN. */
export type ZeroDivision = "warn" | 0 | 1 | number;

/** A dense row-major score matrix with `n` rows and `cols` columns (`cols` 1 for 1-D scores). */
export interface ScoreMatrix {
  /** Values, row-major. */
  data: Float64Array;
  /** Number of rows (samples). */
  n: number;
  /** Number of columns (classes); 1 for a 1-D input. */
  cols: number;
  /** Whether the input was 1-D (one value per sample). */
  oneD: boolean;
}

function isArrayLike(v: unknown): v is ArrayLike<unknown> {
  return v !== null && typeof v === "object" && typeof (v as { length?: unknown }).length === "number";
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (isArrayLike(v)) return (v as object).constructor?.name ?? "an array-like";
  return typeof v;
}

/** Checks `y` is an array of integer labels and returns them as numbers. */
export function toLabels(fn: string, name: string, y: unknown, allowEmpty = false): number[] {
  if (!isArrayLike(y) || typeof y === "string") {
    throw new TypeError(`${fn}: ${name} must be an array or typed array of integer class labels, got ${describe(y)}`);
  }
  const n = y.length;
  if (n === 0 && !allowEmpty) throw new RangeError(`${fn}: ${name} is empty; at least one sample is needed`);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const v = y[i];
    if (typeof v !== "number" && typeof v !== "bigint") {
      throw new TypeError(`${fn}: ${name}[${i}] must be an integer class label, got ${describe(v)}`);
    }
    const x = Number(v);
    if (!Number.isInteger(x)) throw new RangeError(`${fn}: ${name}[${i}] must be an integer class label, got ${x}`);
    out[i] = x;
  }
  return out;
}

/** Throws unless `a` and `b` have the same length. */
export function checkSameLength(fn: string, aName: string, a: number, bName: string, b: number): void {
  if (a !== b) {
    throw new RangeError(
      `${fn}: ${aName} and ${bName} must have the same length (one entry per sample), got ${a} and ${b}`,
    );
  }
}

/** Sorted distinct values of the given label arrays. */
export function uniqueSorted(...arrays: number[][]): number[] {
  const set = new Set<number>();
  for (const a of arrays) for (const v of a) set.add(v);
  return [...set].sort((x, y) => x - y);
}

/** Checks an explicit `labels` option: a non-empty array of distinct integers. */
export function checkLabelsOption(fn: string, labels: unknown): number[] {
  const out = toLabels(fn, "options.labels", labels, true);
  if (out.length === 0) throw new RangeError(`${fn}: options.labels must list at least one label`);
  const seen = new Set<number>();
  for (const v of out) {
    if (seen.has(v)) throw new RangeError(`${fn}: options.labels must not repeat a label, got ${v} twice`);
    seen.add(v);
  }
  return out;
}

/** Checks `numClasses` and that every label lies in `[0, numClasses)`. */
export function checkRange(fn: string, name: string, y: number[], numClasses: number): void {
  for (let i = 0; i < y.length; i++) {
    if (y[i] < 0 || y[i] >= numClasses) {
      throw new RangeError(
        `${fn}: ${name}[${i}] = ${y[i]} is out of range; class labels must lie in [0, ${numClasses})`,
      );
    }
  }
}

/** Checks a `numClasses` option: a positive integer. */
export function checkNumClasses(fn: string, numClasses: unknown, min = 1): number {
  if (typeof numClasses !== "number" || !Number.isInteger(numClasses) || numClasses < min) {
    throw new RangeError(`${fn}: options.numClasses must be an integer ≥ ${min}, got ${numClasses}`);
  }
  return numClasses;
}

/**
 * Reads scores for `n` samples into a dense matrix: 1-D (`n` values), flat `(n, C)` (`n·C`
 * values) or `n` rows of equal length. NaN is rejected; ±Infinity is allowed.
 */
export function toScoreMatrix(fn: string, name: string, scores: unknown, n: number, numClasses?: number): ScoreMatrix {
  if (!isArrayLike(scores) || typeof scores === "string") {
    throw new TypeError(`${fn}: ${name} must be an array, a typed array or an array of rows, got ${describe(scores)}`);
  }
  const len = scores.length;
  if (len === 0) throw new RangeError(`${fn}: ${name} is empty; expected ${n} rows`);
  if (isArrayLike(scores[0])) {
    if (len !== n) {
      throw new RangeError(`${fn}: ${name} has ${len} rows but yTrue has ${n} samples; they must match`);
    }
    const cols = (scores[0] as ArrayLike<unknown>).length;
    if (cols === 0) throw new RangeError(`${fn}: ${name}[0] is empty; expected one score per class`);
    if (numClasses !== undefined && cols !== numClasses) {
      throw new RangeError(`${fn}: ${name} rows have ${cols} columns but options.numClasses is ${numClasses}`);
    }
    const data = new Float64Array(n * cols);
    for (let i = 0; i < n; i++) {
      const row = scores[i];
      if (!isArrayLike(row)) throw new TypeError(`${fn}: ${name}[${i}] must be a row of scores, got ${describe(row)}`);
      if (row.length !== cols) {
        throw new RangeError(
          `${fn}: ${name} rows must all have ${cols} columns (as row 0), but row ${i} has ${row.length}`,
        );
      }
      for (let j = 0; j < cols; j++) data[i * cols + j] = readScore(fn, name, row[j], `[${i}][${j}]`);
    }
    return { data, n, cols, oneD: false };
  }
  let cols: number;
  if (numClasses !== undefined && numClasses > 1) {
    if (len !== n * numClasses) {
      throw new RangeError(
        `${fn}: ${name} has ${len} values; expected N·numClasses = ${n}·${numClasses} = ${
          n * numClasses
        } (flat row-major)`,
      );
    }
    cols = numClasses;
  } else if (len === n) {
    cols = 1;
  } else if (len % n === 0) {
    cols = len / n;
  } else {
    throw new RangeError(
      `${fn}: ${name} has ${len} values for ${n} samples; expected N = ${n} (1-D) or a multiple N·C (flat (N, C))`,
    );
  }
  const data = new Float64Array(len);
  for (let i = 0; i < len; i++) data[i] = readScore(fn, name, scores[i], `[${i}]`);
  return { data, n, cols, oneD: cols === 1 };
}

function readScore(fn: string, name: string, v: unknown, where: string): number {
  if (typeof v !== "number") throw new TypeError(`${fn}: ${name}${where} must be a number, got ${describe(v)}`);
  if (Number.isNaN(v)) throw new RangeError(`${fn}: ${name}${where} is NaN; scores must be numbers`);
  return v;
}

/**
 * Throws unless every row of `m` is a probability vector: entries in [0, 1] and a sum within
 * numpy's `allclose` tolerance of 1 (|1 − s| ≤ 1e-8 + 1e-5·|s|), as scikit-learn checks.
 */
export function checkProbabilities(fn: string, name: string, m: ScoreMatrix, why: string): void {
  const { data, n, cols } = m;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < cols; j++) {
      const v = data[i * cols + j];
      if (!(v >= 0 && v <= 1)) {
        throw new RangeError(`${fn}: ${name} row ${i} has ${v}; ${why} need probabilities in [0, 1]`);
      }
      s += v;
    }
    if (cols > 1 && !(Math.abs(1 - s) <= 1e-8 + 1e-5 * Math.abs(s))) {
      throw new RangeError(
        `${fn}: ${name} row ${i} sums to ${s}; ${why} need probabilities that sum to 1 over classes (apply softmax first)`,
      );
    }
  }
}

/** Checks a `zeroDivision` option. */
export function checkZeroDivision(fn: string, z: unknown): ZeroDivision {
  if (z === "warn" || z === 0 || z === 1 || (typeof z === "number" && Number.isNaN(z))) return z as ZeroDivision;
  throw new RangeError(`${fn}: options.zeroDivision must be "warn", 0, 1 or NaN, got ${JSON.stringify(z) ?? z}`);
}

/** Where a zero-division warning goes (console.warn by default; tests may replace it). */
export const warnings: { emit: (message: string) => void } = {
  emit: (message: string) => console.warn(`meddiff metrics: ${message}`),
};
