/**
 * k-nearest-neighbour manifold metrics of generated against real feature sets: precision and
 * recall (Kynkäänniemi et al. 2019) and density and coverage (Naeem et al. 2020). Each point's
 * ball reaches its k-th nearest neighbour in its own set (itself excluded); "inside" is a
 * strictly smaller distance, as the reference implementation (clovaai/generative-evaluation-prdc)
 * compares. Exact, from all pairwise distances.
 * @module
 */
import {
  checkSameWidth,
  type FeatureMatrix,
  type FeaturesLike,
  squaredDistances,
  toFeatureMatrix,
} from "./features.ts";

/** Options: `k`, the neighbour that sets each ball's radius. */
export interface ManifoldOptions {
  /** Defaults: 3 for precision/recall, 5 for density/coverage (the papers' choices). */
  k?: number;
}

/** Squared radius of each row's ball: the squared distance to its k-th nearest other row. */
export function kthNeighbourRadii(x: FeatureMatrix, k: number): Float64Array {
  return radiiFrom(squaredDistances(x, x), x.n, [k])[0];
}

/** The k-th smallest off-diagonal entry of each row of the n×n matrix `d2`, for each k of `ks`. */
function radiiFrom(d2: Float64Array, n: number, ks: readonly number[]): Float64Array[] {
  const out = ks.map(() => new Float64Array(n));
  const row = new Float64Array(n - 1);
  for (let i = 0; i < n; i++) {
    let w = 0;
    for (let j = 0; j < n; j++) if (j !== i) row[w++] = d2[i * n + j];
    row.sort();
    ks.forEach((k, q) => out[q][i] = row[k - 1]);
  }
  return out;
}

function checkK(fn: string, k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`${fn}: k must be an integer ≥ 1, got ${k}`);
}

function prepare(real: FeaturesLike, fake: FeaturesLike, fn: string, kReal: number, kFake: number) {
  const r = toFeatureMatrix(real, fn, "the real set", kReal + 1);
  const f = toFeatureMatrix(fake, fn, "the generated set", kFake + 1);
  checkSameWidth(r, f, fn);
  return { r, f, rf: squaredDistances(r, f) };
}

/** Precision and recall from the real×generated squared distances and both sets' radii. */
function precisionRecallFrom(rf: Float64Array, realRadii: Float64Array, fakeRadii: Float64Array) {
  const nr = realRadii.length, nf = fakeRadii.length;
  let inReal = 0;
  for (let j = 0; j < nf; j++) {
    for (let i = 0; i < nr; i++) {
      if (rf[i * nf + j] < realRadii[i]) {
        inReal++;
        break;
      }
    }
  }
  let inFake = 0;
  for (let i = 0; i < nr; i++) {
    for (let j = 0; j < nf; j++) {
      if (rf[i * nf + j] < fakeRadii[j]) {
        inFake++;
        break;
      }
    }
  }
  return { precision: inReal / nf, recall: inFake / nr };
}

/** Density and coverage from the real×generated squared distances and the real radii of `k`. */
function densityCoverageFrom(rf: Float64Array, radii: Float64Array, nf: number, k: number) {
  const nr = radii.length;
  let count = 0, covered = 0;
  for (let i = 0; i < nr; i++) {
    let hit = false;
    for (let j = 0; j < nf; j++) {
      if (rf[i * nf + j] < radii[i]) {
        count++;
        hit = true;
      }
    }
    if (hit) covered++;
  }
  return { density: count / (k * nf), coverage: covered / nr };
}

/**
 * Precision (the share of generated vectors inside some real ball) and recall (the share of
 * real vectors inside some generated ball). Each set needs more than k vectors.
 */
export function precisionRecall(
  real: FeaturesLike,
  fake: FeaturesLike,
  options: ManifoldOptions = {},
): { precision: number; recall: number } {
  const fn = "precisionRecall";
  const k = options.k ?? 3;
  checkK(fn, k);
  const { r, f, rf } = prepare(real, fake, fn, k, k);
  return precisionRecallFrom(rf, kthNeighbourRadii(r, k), kthNeighbourRadii(f, k));
}

/**
 * Density (real balls holding each generated vector, counted and divided by k, averaged: 1 when
 * generated vectors sit as densely as real ones, above 1 when they crowd) and coverage (the
 * share of real vectors whose ball holds at least one generated vector).
 */
export function densityCoverage(
  real: FeaturesLike,
  fake: FeaturesLike,
  options: ManifoldOptions = {},
): { density: number; coverage: number } {
  const fn = "densityCoverage";
  const k = options.k ?? 5;
  checkK(fn, k);
  const { r, f, rf } = prepare(real, fake, fn, k, 0);
  return densityCoverageFrom(rf, kthNeighbourRadii(r, k), f.n, k);
}

/**
 * All four at once, each distance matrix computed once: precision/recall with
 * `kPrecisionRecall` (default 3), density/coverage with `kDensityCoverage` (default 5).
 */
export function manifoldMetrics(
  real: FeaturesLike,
  fake: FeaturesLike,
  options: { kPrecisionRecall?: number; kDensityCoverage?: number } = {},
): { precision: number; recall: number; density: number; coverage: number } {
  const fn = "manifoldMetrics";
  const kp = options.kPrecisionRecall ?? 3, kd = options.kDensityCoverage ?? 5;
  checkK(fn, kp);
  checkK(fn, kd);
  const { r, f, rf } = prepare(real, fake, fn, Math.max(kp, kd), kp);
  const [realP, realD] = radiiFrom(squaredDistances(r, r), r.n, [kp, kd]);
  const [fakeP] = radiiFrom(squaredDistances(f, f), f.n, [kp]);
  return { ...precisionRecallFrom(rf, realP, fakeP), ...densityCoverageFrom(rf, realD, f.n, kd) };
}
