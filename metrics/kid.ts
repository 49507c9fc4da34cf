/**
 * Kernel distance between feature sets (Bińkowski et al. 2018, "KID" in Inception space): the
 * unbiased squared MMD with the cubic polynomial kernel `k(x, y) = (x·y / d + 1)³`, averaged
 * over random equal-size subsets of both sets, with its standard deviation over the subsets.
 * Unbiased, so two samples of one distribution give a mean near 0 (either sign).
 * @module
 */
import { Rng } from "../util/rng.ts";
import { checkSameWidth, type FeatureMatrix, type FeaturesLike, selectRows, toFeatureMatrix } from "./features.ts";

/** Options of {@linkcode kernelDistance}. */
export interface KernelDistanceOptions {
  /** Random subsets averaged over (default 100). */
  subsets?: number;
  /** Vectors per subset from each set (default 1000, lowered to the smaller set's size). */
  subsetSize?: number;
  /** Seed of the subset draws (default 0). */
  seed?: number;
}

/** Mean and standard deviation (over subsets, population) of the unbiased MMD². */
export interface KernelDistance {
  mean: number;
  std: number;
  /** Subsets and vectors per subset actually used. */
  subsets: number;
  subsetSize: number;
}

/** Sum of k(x, y) over all pairs, or (same = true) over the pairs of distinct rows of one set. */
function kernelSum(a: FeatureMatrix, b: FeatureMatrix, same: boolean): number {
  const { d } = a;
  let total = 0;
  for (let i = 0; i < a.n; i++) {
    for (let j = same ? i + 1 : 0; j < b.n; j++) {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += a.data[i * d + k] * b.data[j * d + k];
      total += (dot / d + 1) ** 3;
    }
  }
  return same ? 2 * total : total;
}

/**
 * Unbiased squared MMD between two whole feature sets with the cubic polynomial kernel (each
 * at least two vectors).
 */
export function polynomialMmd2(a: FeaturesLike, b: FeaturesLike): number {
  const x = toFeatureMatrix(a, "polynomialMmd2", "the first set", 2);
  const y = toFeatureMatrix(b, "polynomialMmd2", "the second set", 2);
  checkSameWidth(x, y, "polynomialMmd2");
  return mmd2(x, y);
}

function mmd2(x: FeatureMatrix, y: FeatureMatrix): number {
  const m = x.n, n = y.n;
  return kernelSum(x, x, true) / (m * (m - 1)) + kernelSum(y, y, true) / (n * (n - 1)) -
    2 * kernelSum(x, y, false) / (m * n);
}

/**
 * The kernel distance between feature sets `a` and `b`: the unbiased polynomial MMD² on
 * `subsets` seeded random subsets of `subsetSize` vectors drawn without replacement from each
 * set; mean and standard deviation.
 */
export function kernelDistance(a: FeaturesLike, b: FeaturesLike, options: KernelDistanceOptions = {}): KernelDistance {
  const fn = "kernelDistance";
  const x = toFeatureMatrix(a, fn, "the first set", 2);
  const y = toFeatureMatrix(b, fn, "the second set", 2);
  checkSameWidth(x, y, fn);
  const subsets = options.subsets ?? 100;
  if (!Number.isInteger(subsets) || subsets < 1) {
    throw new RangeError(`${fn}: subsets must be an integer ≥ 1, got ${subsets}`);
  }
  const wanted = options.subsetSize ?? 1000;
  if (!Number.isInteger(wanted) || wanted < 2) {
    throw new RangeError(`${fn}: subsetSize must be an integer ≥ 2, got ${wanted}`);
  }
  const size = Math.min(wanted, x.n, y.n);
  const rng = new Rng(options.seed ?? 0);
  const values: number[] = [];
  for (let s = 0; s < subsets; s++) {
    const ix = rng.permutation(x.n).subarray(0, size), iy = rng.permutation(y.n).subarray(0, size);
    values.push(mmd2(selectRows(x, ix), selectRows(y, iy)));
  }
  const mean = values.reduce((p, v) => p + v, 0) / subsets;
  const std = Math.sqrt(values.reduce((p, v) => p + (v - mean) ** 2, 0) / subsets);
  return { mean, std, subsets, subsetSize: size };
}
