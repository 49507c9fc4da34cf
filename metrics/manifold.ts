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
  const d2 = squaredDistances(x, x);
  const out = new Float64Array(x.n);
  const row = new Float64Array(x.n - 1);
  for (let i = 0; i < x.n; i++) {
    let w = 0;
    for (let j = 0; j < x.n; j++) if (j !== i) row[w++] = d2[i * x.n + j];
    row.sort();
    out[i] = row[k - 1];
  }
  return out;
}

function prepare(real: FeaturesLike, fake: FeaturesLike, fn: string, k: number) {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`${fn}: k must be an integer ≥ 1, got ${k}`);
  const r = toFeatureMatrix(real, fn, "the real set", k + 1);
  const f = toFeatureMatrix(fake, fn, "the generated set", 1);
  checkSameWidth(r, f, fn);
  return { r, f, rf: squaredDistances(r, f) };
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
  const { r, f, rf } = prepare(real, fake, fn, k);
  if (f.n < k + 1) throw new RangeError(`${fn}: the generated set needs at least ${k + 1} feature vectors, got ${f.n}`);
  const realRadii = kthNeighbourRadii(r, k), fakeRadii = kthNeighbourRadii(f, k);
  let inReal = 0;
  for (let j = 0; j < f.n; j++) {
    for (let i = 0; i < r.n; i++) {
      if (rf[i * f.n + j] < realRadii[i]) {
        inReal++;
        break;
      }
    }
  }
  let inFake = 0;
  for (let i = 0; i < r.n; i++) {
    for (let j = 0; j < f.n; j++) {
      if (rf[i * f.n + j] < fakeRadii[j]) {
        inFake++;
        break;
      }
    }
  }
  return { precision: inReal / f.n, recall: inFake / r.n };
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
  const k = options.k ?? 5;
  const { r, f, rf } = prepare(real, fake, "densityCoverage", k);
  const radii = kthNeighbourRadii(r, k);
  let count = 0, covered = 0;
  for (let i = 0; i < r.n; i++) {
    let hit = false;
    for (let j = 0; j < f.n; j++) {
      if (rf[i * f.n + j] < radii[i]) {
        count++;
        hit = true;
      }
    }
    if (hit) covered++;
  }
  return { density: count / (k * f.n), coverage: covered / r.n };
}
