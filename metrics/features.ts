/**
 * Feature matrices, the input of the generation metrics: one row of `d` features per image, as
 * a classifier's penultimate layer gives them. Accepted as an array of rows or as flat
 * row-major values with their shape (what a tensor read-back gives).
 * @module
 */

/** A dense row-major matrix of `n` feature vectors of `d` values. */
export interface FeatureMatrix {
  /** Values, row-major (`n·d`). */
  data: Float64Array;
  /** Number of feature vectors (images). */
  n: number;
  /** Features per vector. */
  d: number;
}

/** Feature input: rows, or flat row-major values with `n` and `d`. */
export type FeaturesLike = ArrayLike<ArrayLike<number>> | { data: ArrayLike<number>; n: number; d: number };

/**
 * Checks and copies `x` into a float64 {@linkcode FeatureMatrix}; errors name `fn` and `what`.
 * At least `minRows` rows; every value finite.
 */
export function toFeatureMatrix(x: FeaturesLike, fn: string, what: string, minRows = 1): FeatureMatrix {
  let out: FeatureMatrix;
  if (x !== null && typeof x === "object" && "data" in x && "n" in x && "d" in x) {
    const { data, n, d } = x;
    if (!Number.isInteger(n) || !Number.isInteger(d) || n < 0 || d < 1 || data.length !== n * d) {
      throw new RangeError(`${fn}: ${what} must hold n·d values (n ≥ 0, d ≥ 1), got ${data.length} for n ${n}, d ${d}`);
    }
    out = { data: Float64Array.from(data), n, d };
  } else if (x !== null && typeof x === "object" && typeof (x as ArrayLike<unknown>).length === "number") {
    const rows = x as ArrayLike<ArrayLike<number>>;
    const n = rows.length;
    const d = n > 0 ? rows[0]?.length : 0;
    if (n > 0 && (typeof d !== "number" || d < 1)) {
      throw new TypeError(`${fn}: ${what} must be an array of feature rows (arrays of numbers)`);
    }
    const data = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      if (r === null || typeof r !== "object" || r.length !== d) {
        throw new RangeError(`${fn}: ${what} row ${i} has ${r?.length ?? "no"} features, row 0 has ${d}`);
      }
      for (let j = 0; j < d; j++) data[i * d + j] = r[j];
    }
    out = { data, n, d: Math.max(d, 1) };
  } else {
    throw new TypeError(`${fn}: ${what} must be an array of feature rows or { data, n, d }, got ${typeof x}`);
  }
  if (out.n < minRows) throw new RangeError(`${fn}: ${what} needs at least ${minRows} feature vectors, got ${out.n}`);
  const bad = out.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new RangeError(
      `${fn}: ${what} has a non-finite value (${out.data[bad]}) at row ${Math.floor(bad / out.d)}, ` +
        `feature ${bad % out.d}`,
    );
  }
  return out;
}

/** The rows `idx` (in that order) of row-major `data` with `d` values per row, as a float64 matrix. */
export function selectRows(m: { data: ArrayLike<number>; d: number }, idx: ArrayLike<number>): FeatureMatrix {
  const data = new Float64Array(idx.length * m.d);
  for (let r = 0; r < idx.length; r++) {
    for (let k = 0; k < m.d; k++) data[r * m.d + k] = m.data[idx[r] * m.d + k];
  }
  return { data, n: idx.length, d: m.d };
}

/** Checks that two feature matrices have the same width. */
export function checkSameWidth(a: FeatureMatrix, b: FeatureMatrix, fn: string): void {
  if (a.d !== b.d) throw new RangeError(`${fn}: the two sets have ${a.d} and ${b.d} features per vector`);
}

/** Squared Euclidean distances between every row of `a` and every row of `b` (row-major `a.n × b.n`). */
export function squaredDistances(a: FeatureMatrix, b: FeatureMatrix): Float64Array {
  const { d } = a;
  const out = new Float64Array(a.n * b.n);
  for (let i = 0; i < a.n; i++) {
    const ai = i * d;
    for (let j = 0; j < b.n; j++) {
      const bj = j * d;
      let s = 0;
      for (let k = 0; k < d; k++) {
        const t = a.data[ai + k] - b.data[bj + k];
        s += t * t;
      }
      out[i * b.n + j] = s;
    }
  }
  return out;
}
