/**
 * Fréchet distance between two sets of feature vectors (Heusel et al. 2017): the 2-Wasserstein
 * distance between Gaussians fitted to each set,
 * `‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁ Σ₂)^½`. It is "FID" only in Inception-v3's feature
 * space; callers name the feature network the distance was computed in.
 * @module
 */
import { checkSameWidth, type FeatureMatrix, type FeaturesLike, toFeatureMatrix } from "./features.ts";
import { symmetricEigen } from "./symmetric_eigen.ts";

/** Mean and covariance of a feature set. */
export interface FeatureStatistics {
  /** Mean vector (`d`). */
  mean: Float64Array;
  /** Covariance, row-major `d × d`, normalised by n − 1 (as `numpy.cov`). */
  cov: Float64Array;
  /** Features per vector. */
  d: number;
  /** Vectors the statistics came from. */
  n: number;
}

/** Mean and (n − 1)-normalised covariance of `x` (at least two vectors). */
export function featureStatistics(x: FeaturesLike | FeatureMatrix): FeatureStatistics {
  return statisticsOf(toFeatureMatrix(x, "featureStatistics", "features", 2));
}

function statisticsOf(m: FeatureMatrix): FeatureStatistics {
  const { n, d, data } = m;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) mean[k] += data[i * d + k];
  for (let k = 0; k < d; k++) mean[k] /= n;
  const centred = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) centred[i * d + k] = data[i * d + k] - mean[k];
  const cov = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    for (let p = 0; p < d; p++) {
      const v = centred[row + p];
      if (v === 0) continue;
      for (let q = p; q < d; q++) cov[p * d + q] += v * centred[row + q];
    }
  }
  for (let p = 0; p < d; p++) {
    for (let q = p; q < d; q++) {
      const c = cov[p * d + q] / (n - 1);
      cov[p * d + q] = c;
      cov[q * d + p] = c;
    }
  }
  return { mean, cov, d, n };
}

/** `tr (Σ₁ Σ₂)^½` for symmetric positive semi-definite Σ₁, Σ₂: the eigenvalues of Σ₁^½ Σ₂ Σ₁^½. */
function traceSqrtProduct(s1: Float64Array, s2: Float64Array, d: number): number {
  const { values, vectors } = symmetricEigen(s1, d);
  // Σ₁^½ = V diag(√λ) Vᵀ, with round-off negatives clipped to 0.
  const root = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const r = Math.sqrt(Math.max(values[k], 0));
    if (r === 0) continue;
    for (let i = 0; i < d; i++) {
      const vi = vectors[i * d + k] * r;
      if (vi === 0) continue;
      for (let j = 0; j < d; j++) root[i * d + j] += vi * vectors[j * d + k];
    }
  }
  const tmp = multiply(root, s2, d);
  const m = multiply(tmp, root, d);
  for (let i = 0; i < d; i++) { // symmetrise away round-off before the symmetric solver
    for (let j = i + 1; j < d; j++) {
      const avg = (m[i * d + j] + m[j * d + i]) / 2;
      m[i * d + j] = avg;
      m[j * d + i] = avg;
    }
  }
  return symmetricEigen(m, d).values.reduce((s, v) => s + Math.sqrt(Math.max(v, 0)), 0);
}

function multiply(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < d; k++) {
      const aik = a[i * d + k];
      if (aik === 0) continue;
      for (let j = 0; j < d; j++) out[i * d + j] += aik * b[k * d + j];
    }
  }
  return out;
}

/** Fréchet distance between two sets' {@linkcode featureStatistics}. */
export function frechetDistanceFromStatistics(a: FeatureStatistics, b: FeatureStatistics): number {
  if (a.d !== b.d) throw new RangeError(`frechetDistance: the two sets have ${a.d} and ${b.d} features per vector`);
  const d = a.d;
  let meanTerm = 0, trace = 0;
  for (let k = 0; k < d; k++) {
    meanTerm += (a.mean[k] - b.mean[k]) ** 2;
    trace += a.cov[k * d + k] + b.cov[k * d + k];
  }
  // Round-off can leave a tiny negative for two equal sets: clipped to 0.
  return Math.max(0, meanTerm + trace - 2 * traceSqrtProduct(a.cov, b.cov, d));
}

/**
 * Fréchet distance between feature sets `a` and `b` (each at least two vectors of the same
 * width).
 *
 * @example
 * ```ts
 * const fd = frechetDistance(realFeatures, generatedFeatures); // report as "FD-<network>"
 * ```
 */
export function frechetDistance(a: FeaturesLike, b: FeaturesLike): number {
  const ma = toFeatureMatrix(a, "frechetDistance", "the first set", 2);
  const mb = toFeatureMatrix(b, "frechetDistance", "the second set", 2);
  checkSameWidth(ma, mb, "frechetDistance");
  return frechetDistanceFromStatistics(statisticsOf(ma), statisticsOf(mb));
}
