/**
 * `quantile` against a sort-based float64 reference of `torch.quantile` (position q·(n − 1)
 * rounded to float32 as PyTorch computes it, the five interpolations), over dims, views,
 * ties, signed zeros, NaN rows and long rows; and bad arguments.
 */
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { gpuTest, quantileReference, randomArray, rng } from "./_util.ts";
import { narrow, tensor, transpose } from "../mod.ts";
import { quantile, type QuantileInterpolation } from "../core/ops/quantile.ts";

function rowsOf(data: ArrayLike<number>, M: number, n: number): number[][] {
  return Array.from({ length: M }, (_, i) => Array.from({ length: n }, (_, j) => data[i * n + j]));
}

function close(got: ArrayLike<number>, want: number[], what: string): void {
  assertEquals(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i])) {
      assert(Number.isNaN(got[i]), `${what}[${i}]: want NaN, got ${got[i]}`);
      continue;
    }
    const tol = 1e-6 * Math.max(1, Math.abs(want[i]));
    assert(Math.abs(got[i] - want[i]) <= tol, `${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

gpuTest("quantile: rows of a matrix, every q and interpolation, equal to the sorted reference", async () => {
  const M = 5, n = 37;
  // Ties and signed zeros on purpose: values on a coarse grid.
  const r = rng(3);
  const data = Float32Array.from({ length: M * n }, () => Math.round((r() - 0.5) * 16) / 4);
  data[3] = -0;
  data[4] = 0;
  const x = tensor(data, [M, n]);
  const rows = rowsOf(data, M, n);
  for (const q of [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.995, 1]) {
    for (const mode of ["linear", "lower", "higher", "midpoint", "nearest"] as const) {
      const got = await quantile(x, q, 1, { interpolation: mode }).data();
      close(got, rows.map((row) => quantileReference(row, q, mode)), `q=${q} ${mode}`);
    }
  }
});

gpuTest("quantile: dims, keepdim, whole-tensor, views with offsets and strides", async () => {
  const shape = [3, 4, 5];
  const data = Float32Array.from(randomArray(60, 7, -3, 3));
  const x = tensor(data, shape);
  const at = (i: number, j: number, k: number) => data[(i * 4 + j) * 5 + k];
  // Middle dim: (3, 5) results.
  const mid = quantile(x, 0.3, 1);
  assertEquals(mid.shape, [3, 5]);
  const want: number[] = [];
  for (let i = 0; i < 3; i++) {
    for (let k = 0; k < 5; k++) want.push(quantileReference([0, 1, 2, 3].map((j) => at(i, j, k)), 0.3));
  }
  close(await mid.data(), want, "dim 1");
  assertEquals(quantile(x, 0.3, -2, { keepdim: true }).shape, [3, 1, 5]);
  // Whole tensor.
  const all = quantile(x, 0.62);
  assertEquals(all.shape, []);
  close(await all.data(), [quantileReference([...data], 0.62)], "all elements");
  assertEquals(quantile(x, 0.62, undefined, { keepdim: true }).shape, [1, 1, 1]);
  // A transposed view and a narrowed (offset) view.
  const m = tensor(Float32Array.from(randomArray(24, 9)), [4, 6]);
  const md = await m.data() as Float32Array;
  const cols = rowsOf(md, 4, 6);
  close(
    await quantile(transpose(m, 0, 1), 0.5, 1).data(),
    [0, 1, 2, 3, 4, 5].map((j) => quantileReference(cols.map((row) => row[j]), 0.5)),
    "transposed",
  );
  close(
    await quantile(narrow(m, 0, 2, 2), 0.8, 1).data(),
    [quantileReference(cols[2], 0.8), quantileReference(cols[3], 0.8)],
    "narrow",
  );
});

gpuTest("quantile: NaN rows give NaN, a single element is itself, long rows stay exact", async () => {
  const x = tensor(Float32Array.of(1, NaN, 3, 4, 5, 6), [2, 3]);
  close(await quantile(x, 0.5, 1).data(), [NaN, 5], "NaN row");
  close(await quantile(tensor(Float32Array.of(-2.5), [1, 1]), 0.7, 1).data(), [-2.5], "n = 1");
  const n = 5000;
  const long = Float32Array.from(randomArray(2 * n, 21, -100, 100));
  const rows = rowsOf(long, 2, n);
  close(
    await quantile(tensor(long, [2, n]), 0.995, 1).data(),
    rows.map((r) => quantileReference(r, 0.995)),
    "long rows",
  );
  // Extreme magnitudes keep their order (the u32 key covers the whole float range).
  const ext = Float32Array.of(-3.4e38, -1e-38, 0, 1e-38, 3.4e38, -Infinity, Infinity);
  close(await quantile(tensor(ext), 0.5).data(), [quantileReference([...ext], 0.5)], "extremes");
});

gpuTest("quantile: bad arguments name what was expected", () => {
  const x = tensor(Float32Array.of(1, 2, 3));
  assertThrows(() => quantile(x, 1.5), RangeError, "q must be in [0, 1]");
  assertThrows(() => quantile(x, 0.5, 3), RangeError);
  assertThrows(() => quantile(tensor(new Int32Array([1, 2])), 0.5), TypeError, "float32");
  assertThrows(
    () => quantile(x, 0.5, 0, { interpolation: "cubic" as QuantileInterpolation }),
    RangeError,
    "interpolation",
  );
});
