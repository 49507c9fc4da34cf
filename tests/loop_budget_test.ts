/**
 * Kernels whose per-thread loops grow with the problem, past the loop limit of Mesa's software
 * adapters (an invocation's loops stop after 65,535 iterations in all, silently: `loopBudget` in
 * core/device.ts). Each case is sized to cross that limit in one thread and is checked against a
 * float64 reference (or the other attention route); on hardware the same cases run unsplit.
 */
import { argmax, gpu, matmul, nearestNeighbours, ones, quantile, tensor } from "../mod.ts";
import { batchNorm, groupNorm } from "../core/ops/norm.ts";
import { conv2d } from "../core/ops/conv.ts";
import { scaledDotProductAttention } from "../core/ops/attention.ts";
import { roiSelect, topKMask } from "../core/ops/roi.ts";
import { assertEquals, assertThrows } from "./_asserts.ts";
import { assertClose, gpuTest, randomArray } from "./_util.ts";

/** float64 A [M, K] · B [K, N]. */
function gemm64(a: ArrayLike<number>, b: ArrayLike<number>, M: number, K: number, N: number): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let k = 0; k < K; k++) {
      const av = a[i * K + k];
      for (let j = 0; j < N; j++) out[i * N + j] += av * b[k * N + j];
    }
  }
  return out;
}

gpuTest("loop budget: matmul with K past the limit (naive and register-blocked kernels) matches float64", async () => {
  // 2×3 outputs run the naive kernel (a loop step per k), 8×8 the blocked rb4 (a step per 4).
  for (const [M, K, N] of [[2, 70_001, 3], [8, 270_003, 8]]) {
    const a = Float32Array.from(randomArray(M * K, 1)), b = Float32Array.from(randomArray(K * N, 2));
    const got = await matmul(tensor(a, [M, K]), tensor(b, [K, N])).toArray();
    // Sums of K unit-scale products: float32 rounding grows like √K.
    assertClose(got, gemm64(a, b, M, K, N), { atol: 2e-3, rtol: 1e-4, msg: `matmul ${M}×${K}×${N}` });
  }
});

gpuTest("loop budget: nearestNeighbours over references × features past the limit is exact", async () => {
  const n = 12, m = 300, d = 784, k = 3;
  const q = Float32Array.from(randomArray(n * d, 3)), r = Float32Array.from(randomArray(m * d, 4));
  const out = nearestNeighbours(tensor(q, [n, d]), tensor(r, [m, d]), { k });
  const idx = await out.indices.toArray();
  const dist = await out.distances.toArray();
  const want: number[] = [], wantD: number[] = [];
  for (let i = 0; i < n; i++) {
    const all = Array.from({ length: m }, (_, j) => {
      let s = 0;
      for (let c = 0; c < d; c++) s += (q[i * d + c] - r[j * d + c]) ** 2;
      return [j, s] as const;
    }).sort((x, y) => x[1] - y[1] || x[0] - y[0]);
    for (const [j, s] of all.slice(0, k)) want.push(j), wantD.push(s);
  }
  assertEquals(idx, want);
  assertClose(dist, wantD, { atol: 1e-3, rtol: 1e-5, msg: "distances" });
});

gpuTest("loop budget: a direct (depthwise) weight gradient over images × positions past the limit", async () => {
  // Depthwise convolutions take the direct kernels: a thread per weight sums N·L = 67,600 terms.
  const [N, C, H] = [4, 2, 130];
  const xd = randomArray(N * C * H * H, 5), wd = randomArray(C * 9, 6);
  const x = tensor(xd, [N, C, H, H]), w = tensor(wd, [C, 1, 3, 3], { requiresGrad: true });
  conv2d(x, w, null, { padding: 1, groups: C }).sum().backward();
  const want = new Float64Array(C * 9);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let k = 0; k < 9; k++) {
        const dy = Math.floor(k / 3) - 1, dx = (k % 3) - 1;
        for (let i = 0; i < H; i++) {
          for (let j = 0; j < H; j++) {
            const y = i + dy, z = j + dx;
            if (y >= 0 && y < H && z >= 0 && z < H) want[c * 9 + k] += xd[((n * C + c) * H + y) * H + z];
          }
        }
      }
    }
  }
  assertClose(await w.grad!.data(), want, { atol: 1e-2, rtol: 1e-4, msg: "depthwise dw" });
});

gpuTest(
  "loop budget: flash attention over more keys than one thread may loop over matches the composite route",
  async () => {
    const [L, D] = [600, 64];
    const data = [7, 8, 9].map((s) => randomArray(L * D, s));
    const run = async (impl: "flash" | "composite") => {
      const [q, k, v] = data.map((d) => tensor(d, [1, 1, L, D], { requiresGrad: true }));
      const y = scaledDotProductAttention(q, k, v, { impl });
      y.mul(tensor(randomArray(L * D, 10), [1, 1, L, D])).sum().backward();
      return [await y.data(), await q.grad!.data(), await k.grad!.data(), await v.grad!.data()];
    };
    const flash = await run("flash"), composite = await run("composite");
    ["output", "dq", "dk", "dv"].forEach((name, i) =>
      assertClose(flash[i], composite[i], { atol: 1e-5, rtol: 1e-4, msg: `flash ${name}` })
    );
  },
);

gpuTest("loop budget: argmax and quantile over more elements than a software adapter's loops allow say so", () => {
  if (!gpu().isSoftware) return; // hardware has no such limit: both simply run
  assertThrows(() => argmax(tensor(randomArray(70_000, 11), [70_000])), RangeError, "stop loops after");
  assertThrows(() => quantile(tensor(randomArray(200_000, 11), [200_000]), 0.5), RangeError, "loop limit");
});

gpuTest("loop budget: group norm rows and batch-norm channels longer than one thread may loop over", async () => {
  // 128 rows of 24,200 elements: a thread per row would loop 3 × 24,200 times.
  const [N, C, H] = [4, 64, 110];
  const xd = randomArray(N * C * H * H, 12, -2, 3);
  const y = await groupNorm(tensor(xd, [N, C, H, H]), 32).data();
  const L = 2 * H * H;
  for (let r = 0; r < N * 32; r += 37) {
    let m = 0, v = 0;
    for (let i = 0; i < L; i++) m += y[r * L + i];
    m /= L;
    for (let i = 0; i < L; i++) v += (y[r * L + i] - m) ** 2;
    assertClose([m, v / L], [0, 1], { atol: 1e-3, rtol: 0, msg: `group ${r}: mean and variance of the output` });
  }
  // 128 channels of 66,248 values: Σ g over a channel (the bias gradient) with g = 1 is the count.
  const [n2, c2, h2] = [8, 128, 91];
  const x = tensor(randomArray(n2 * c2 * h2 * h2, 13), [n2, c2, h2, h2]);
  const w = ones([c2]).requiresGrad_(), b = ones([c2]).requiresGrad_();
  batchNorm(x, null, null, w, b, { training: true }).sum().backward();
  assertClose(await b.grad!.data(), new Array(c2).fill(n2 * h2 * h2), { atol: 0.5, rtol: 0, msg: "batch norm Σg" });
  // Σ g·x̂ over a channel is Σ x̂ = 0.
  assertClose(await w.grad!.data(), new Array(c2).fill(0), { atol: 0.5, rtol: 0, msg: "batch norm Σg·x̂" });
});

gpuTest("loop budget: topKMask and roiSelect are exact below the limit and refuse past it, naming the op", async () => {
  // A row of 100,000 is within topKMask's bound (32 radix passes over the row split 64 ways).
  const n = 100_000, k = 1_000;
  const v = Float32Array.from(randomArray(n, 11));
  const mask = await topKMask(tensor(v, [1, n]), k).toArray();
  const threshold = [...v].sort((a, b) => b - a)[k - 1];
  const want = Array.from(v, (x) => (x >= threshold ? 1 : 0));
  assertEquals(mask.reduce((s, m) => s + m, 0), k);
  assertEquals(mask, want, "the k largest of the row");
  if (!gpu().isSoftware) return; // hardware has no such limit
  assertThrows(() => topKMask(ones([1, 200_000]), 5), RangeError, "topKMask: a row of 200000");
  assertThrows(() => roiSelect(ones([1, 1, 256, 256]), 2, 32), RangeError, "roiSelect: a 256×256 saliency map");
});
