/**
 * What `deno task evaluate-generation` measures, on feature sets: the distribution metrics of
 * generated against real test images, overall and per class, beside the same metrics of the
 * real training split against the real test split (the floor: what "good" is on this data), and
 * the memorisation check (each generated image's nearest training image, in pixels and features,
 * against how near real test images come to the training set).
 * @module
 */
import { nearestNeighbours } from "../../core/ops/knn.ts";
import { tensor } from "../../core/ops/creation.ts";
import { frechetDistance, kernelDistance, manifoldMetrics } from "../../metrics/mod.ts";
import { selectRows } from "../../metrics/features.ts";
import type { FeatureSet } from "./feature_network.ts";

/** The distribution metrics of one (reference, candidate) pair of sets. */
export interface SetMetrics {
  /** Vectors in the reference (real test) and candidate sets. */
  n_reference: number;
  n_candidate: number;
  /** Fréchet distance in the feature network's space. */
  fd: number;
  /** Kernel distance (unbiased polynomial MMD²) over subsets: mean and standard deviation. */
  kd_mean: number;
  kd_std: number;
  kd_subset_size: number;
  precision: number;
  recall: number;
  density: number;
  coverage: number;
}

/** The feature rows of `s` whose label passes `keep`. */
function rowsOf(s: FeatureSet, keep: (label: number) => boolean) {
  const idx: number[] = [];
  for (let i = 0; i < s.n; i++) if (keep(s.labels[i])) idx.push(i);
  return selectRows({ data: s.features, d: s.d }, idx);
}

/** The metrics of `candidate` against `reference`, or the reason they cannot be computed (too few vectors). */
export function compareSets(
  reference: FeatureSet,
  candidate: FeatureSet,
  label: number | null,
  seed: number,
): SetMetrics | { skipped: string } {
  const keep = (y: number) => label === null || y === label;
  const a = rowsOf(reference, keep), b = rowsOf(candidate, keep);
  const need = 6; // density/coverage's k = 5 needs 6 vectors; the others need fewer
  if (a.n < need || b.n < need) return { skipped: `needs ${need} vectors per set, has ${a.n} and ${b.n}` };
  const kd = kernelDistance(a, b, { subsets: 100, subsetSize: 1000, seed });
  const m = manifoldMetrics(a, b, { kPrecisionRecall: 3, kDensityCoverage: 5 });
  return {
    n_reference: a.n,
    n_candidate: b.n,
    fd: frechetDistance(a, b),
    kd_mean: kd.mean,
    kd_std: kd.std,
    kd_subset_size: kd.subsetSize,
    precision: m.precision,
    recall: m.recall,
    density: m.density,
    coverage: m.coverage,
  };
}

/** Nearest-training-image distances of one space (pixels or features). */
export interface NearestStats {
  /** Per generated image: Euclidean distance to its nearest training image, and that image's index. */
  generated: Float64Array;
  generatedIndex: Int32Array;
  /** Per real test image: the same distance (the reference). */
  test: Float64Array;
  /** The closest real test–train pair, and the 5th percentile of the test distances. */
  testMin: number;
  testP05: number;
  /** Shares of generated images nearer their training neighbour than `testMin` and than `testP05`. */
  belowTestMin: number;
  belowTestP05: number;
  /** Median distance of generated and of test images to the training set. */
  generatedMedian: number;
  testMedian: number;
}

async function nearest(queries: Float32Array, refs: Float32Array, width: number) {
  const q = tensor(queries, [queries.length / width, width]), r = tensor(refs, [refs.length / width, width]);
  const { indices, distances } = nearestNeighbours(q, r);
  try {
    return {
      index: Int32Array.from(await indices.data() as Int32Array),
      distance: Float64Array.from(await distances.data() as Float32Array, (v) => Math.sqrt(Math.max(v, 0))),
    };
  } finally {
    for (const t of [q, r, indices, distances]) t.dispose();
  }
}

const quantileOf = (sorted: Float64Array, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/** How near generated images come to the training set, against real test images, in one space. */
export async function nearestTraining(
  train: FeatureSet,
  test: FeatureSet,
  generated: FeatureSet,
  space: "pixels" | "features",
): Promise<NearestStats> {
  const width = space === "pixels" ? train.p : train.d;
  const pick = (s: FeatureSet) => (space === "pixels" ? s.pixels : s.features);
  const gen = await nearest(pick(generated), pick(train), width);
  const ref = await nearest(pick(test), pick(train), width);
  const sortedTest = Float64Array.from(ref.distance).sort();
  const sortedGen = Float64Array.from(gen.distance).sort();
  const testMin = sortedTest[0], testP05 = quantileOf(sortedTest, 0.05);
  const share = (limit: number) => gen.distance.filter((v) => v < limit).length / Math.max(1, gen.distance.length);
  return {
    generated: gen.distance,
    generatedIndex: gen.index,
    test: ref.distance,
    testMin,
    testP05,
    belowTestMin: share(testMin),
    belowTestP05: share(testP05),
    generatedMedian: quantileOf(sortedGen, 0.5),
    testMedian: quantileOf(sortedTest, 0.5),
  };
}
