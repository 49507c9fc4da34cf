/**
 * The generation metrics (metrics/frechet.ts, kid.ts, manifold.ts, symmetric_eigen.ts) against
 * NumPy/SciPy reference values (`scripts/make_generation_metrics_fixtures.py`: pytorch-fid's
 * Fréchet distance, the unbiased polynomial MMD², clovaai's precision/recall/density/coverage),
 * and against properties that need no reference: a set against itself, translations, subsets
 * that are whole sets.
 */
import {
  densityCoverage,
  featureStatistics,
  frechetDistance,
  kernelDistance,
  manifoldMetrics,
  polynomialMmd2,
  precisionRecall,
} from "../metrics/mod.ts";
import { symmetricEigen } from "../metrics/symmetric_eigen.ts";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./_asserts.ts";

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/generation_metrics.json", import.meta.url)),
) as {
  real: number[][];
  fake: number[][];
  few: number[][];
  frechet: number;
  frechet_few: number;
  mmd2: number;
  mmd2_same_set_halves: number;
  k3: Record<"precision" | "recall" | "density" | "coverage", number>;
  k5: Record<"precision" | "recall" | "density" | "coverage", number>;
};
const { real, fake } = fixture;

const close = (actual: number, expected: number, rtol: number, msg: string) =>
  assertAlmostEquals(actual, expected, rtol * Math.max(1, Math.abs(expected)), msg);

Deno.test("symmetricEigen: V diag(λ) Vᵀ rebuilds the matrix, V is orthonormal, λ ascending", () => {
  let s = 7;
  const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647 - 0.5;
  for (const n of [1, 2, 7, 40]) {
    const b = Array.from({ length: n * n }, rnd);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) a[i * n + j] = b[i * n + j] + b[j * n + i];
    }
    const { values, vectors } = symmetricEigen(a, n);
    for (let k = 1; k < n; k++) assert(values[k - 1] <= values[k], "ascending");
    let rebuild = 0, orth = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let t = 0, o = 0;
        for (let k = 0; k < n; k++) {
          t += vectors[i * n + k] * values[k] * vectors[j * n + k];
          o += vectors[k * n + i] * vectors[k * n + j];
        }
        rebuild = Math.max(rebuild, Math.abs(t - a[i * n + j]));
        orth = Math.max(orth, Math.abs(o - (i === j ? 1 : 0)));
      }
    }
    assert(rebuild < 1e-12 && orth < 1e-12, `n ${n}: rebuild ${rebuild}, orthonormality ${orth}`);
  }
  assertEquals([...symmetricEigen([2, 1, 1, 2], 2).values].map((v) => Math.round(v * 1e12) / 1e12), [1, 3]);
  assertEquals([...symmetricEigen([0, 0, 0, 0], 2).values], [0, 0]);
  assertThrows(() => symmetricEigen([1, 2, 3], 2), RangeError, "n×n");
});

Deno.test("frechetDistance: pytorch-fid's value, singular covariances, 0 for a set with itself, ‖c‖² for a shift", () => {
  close(frechetDistance(real, fake), fixture.frechet, 1e-9, "against scipy.linalg.sqrtm");
  close(frechetDistance(fake, real), fixture.frechet, 1e-9, "symmetric");
  close(frechetDistance(fixture.few, fake), fixture.frechet_few, 1e-7, "5 vectors of 8 features: singular Σ");
  assert(frechetDistance(real, real) < 1e-9, "a set against itself");
  const c = [0.5, -1, 0, 2, 0, 0, 0.25, 1];
  const shifted = real.map((row) => row.map((v, k) => v + c[k]));
  close(frechetDistance(real, shifted), c.reduce((s, v) => s + v * v, 0), 1e-9, "translation: only the means move");
  const st = featureStatistics({ data: [1, 2, 3, 6], n: 2, d: 2 });
  assertEquals([...st.mean], [2, 4]);
  assertEquals([...st.cov], [2, 4, 4, 8], "normalised by n − 1");
});

Deno.test("kernelDistance: the unbiased polynomial MMD², near 0 within one distribution, seeded subsets", () => {
  close(polynomialMmd2(real, fake), fixture.mmd2, 1e-10, "whole sets against NumPy");
  close(polynomialMmd2(real.slice(0, 30), real.slice(30)), fixture.mmd2_same_set_halves, 1e-10, "two halves");
  // Subsets as large as both (equal-size) sets are permutations of them: every subset gives the whole-set value.
  const whole = kernelDistance(real.slice(0, 50), fake, { subsets: 3, subsetSize: 1000 });
  assertEquals(whole.subsetSize, 50);
  close(whole.mean, polynomialMmd2(real.slice(0, 50), fake), 1e-10, "mean of permutations");
  assert(whole.std < 1e-9, `std ${whole.std}`);
  const between = kernelDistance(real, fake, { subsets: 20, subsetSize: 25, seed: 3 });
  const within = kernelDistance(real.slice(0, 30), real.slice(30), { subsets: 20, subsetSize: 25, seed: 3 });
  assert(Math.abs(within.mean) < between.mean / 3, `within ${within.mean} vs between ${between.mean}`);
  assertEquals(
    kernelDistance(real, fake, { subsets: 4, subsetSize: 10, seed: 9 }).mean,
    kernelDistance(real, fake, { subsets: 4, subsetSize: 10, seed: 9 }).mean,
    "same seed, same value",
  );
});

Deno.test("precisionRecall and densityCoverage: clovaai's values at k = 3 and 5", () => {
  for (const k of [3, 5] as const) {
    const ref = k === 3 ? fixture.k3 : fixture.k5;
    const pr = precisionRecall(real, fake, { k });
    const dc = densityCoverage(real, fake, { k });
    close(pr.precision, ref.precision, 1e-12, `precision k ${k}`);
    close(pr.recall, ref.recall, 1e-12, `recall k ${k}`);
    close(dc.density, ref.density, 1e-12, `density k ${k}`);
    close(dc.coverage, ref.coverage, 1e-12, `coverage k ${k}`);
  }
  const self = precisionRecall(real, real);
  assertEquals([self.precision, self.recall], [1, 1], "a set against itself: every point inside its own ball");
  // manifoldMetrics: the four at once (each distance matrix once), the same values.
  const all = manifoldMetrics(real, fake, { kPrecisionRecall: 3, kDensityCoverage: 5 });
  for (const [key, ref] of [["precision", fixture.k3.precision], ["recall", fixture.k3.recall]] as const) {
    close(all[key], ref, 1e-12, `manifoldMetrics ${key}`);
  }
  close(all.density, fixture.k5.density, 1e-12, "manifoldMetrics density");
  close(all.coverage, fixture.k5.coverage, 1e-12, "manifoldMetrics coverage");
});

Deno.test("generation metrics: bad input names the function, the set and what was expected", () => {
  assertThrows(() => frechetDistance(real, [[1, 2]]), RangeError, "at least 2");
  assertThrows(() => frechetDistance(real, fake.map((r) => r.slice(1))), RangeError, "8 and 7 features");
  const nan = fake.map((r) => [...r]);
  nan[4][2] = NaN;
  assertThrows(() => kernelDistance(real, nan), RangeError, "row 4, feature 2");
  assertThrows(() => precisionRecall(real, fake, { k: 0 }), RangeError, "k must be");
  assertThrows(() => densityCoverage(real.slice(0, 5), fake, { k: 5 }), RangeError, "at least 6");
  assertThrows(() => manifoldMetrics(real, fake.slice(0, 3)), RangeError, "at least 4");
  assertThrows(() => kernelDistance(real, fake, { subsetSize: 1 }), RangeError, "subsetSize");
});
