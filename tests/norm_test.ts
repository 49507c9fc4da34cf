/**
 * Batch, group, instance and layer norm against plain float64 references, with gradient checks;
 * the fused activation (`activation: "silu"`) against the unfused `silu(norm(x))`.
 */
import { dispatchCounters, narrow, ones, permute, relu, scope, silu, type Tensor, tensor, zeros } from "../mod.ts";
import { gpu } from "../core/device.ts";
import { batchNorm, groupNorm, instanceNorm, layerNorm } from "../core/ops/norm.ts";
import { GroupNorm } from "../core/nn/norm.ts";
import { assertClose, dispatchedOps, gpuTest, gradCheck, prod, randomArray } from "./_util.ts";
import { assert, assertEquals, assertThrows } from "./_asserts.ts";

/**
 * Reference normalisation: element i belongs to statistics row `rowOf(i)` and affine channel
 * `chOf(i)`; optional fixed stats replace the batch ones.
 */
function normRef(
  x: ArrayLike<number>,
  rowOf: (i: number) => number,
  chOf: (i: number) => number,
  w?: ArrayLike<number>,
  b?: ArrayLike<number>,
  eps = 1e-5,
  fixed?: { mean: ArrayLike<number>; var: ArrayLike<number> },
): Float64Array {
  const sum = new Map<number, number>(), cnt = new Map<number, number>(), sq = new Map<number, number>();
  for (let i = 0; i < x.length; i++) {
    const r = rowOf(i);
    sum.set(r, (sum.get(r) ?? 0) + x[i]);
    cnt.set(r, (cnt.get(r) ?? 0) + 1);
  }
  const mean = (r: number) => fixed ? fixed.mean[r] : sum.get(r)! / cnt.get(r)!;
  for (let i = 0; i < x.length; i++) {
    const r = rowOf(i), d = x[i] - mean(r);
    sq.set(r, (sq.get(r) ?? 0) + d * d);
  }
  const variance = (r: number) => fixed ? fixed.var[r] : sq.get(r)! / cnt.get(r)!;
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const r = rowOf(i), c = chOf(i);
    out[i] = (x[i] - mean(r)) / Math.sqrt(variance(r) + eps) * (w ? w[c] : 1) + (b ? b[c] : 0);
  }
  return out;
}

/** (N, C, S) index helpers. */
const chan = (shape: number[]) => {
  const S = prod(shape.slice(2)), C = shape[1];
  return (i: number) => Math.floor(i / S) % C;
};

const bnRef = (shape: number[]) => (x: Float64Array, w?: Float64Array, b?: Float64Array) =>
  normRef(x, chan(shape), chan(shape), w, b);

const gnRef = (shape: number[], G: number) => (x: Float64Array, w?: Float64Array, b?: Float64Array) => {
  const S = prod(shape.slice(2)), C = shape[1], Cg = C / G;
  return normRef(x, (i) => Math.floor(i / (S * Cg)), chan(shape), w, b);
};

const lnRef = (L: number) => (x: Float64Array, w?: Float64Array, b?: Float64Array) =>
  normRef(x, (i) => Math.floor(i / L), (i) => i % L, w, b);

gpuTest("batchNorm training: 2-D to 5-D inputs, values and gradients", async () => {
  for (const shape of [[5, 3], [3, 2, 4], [2, 3, 3, 2], [2, 2, 2, 3, 2]]) {
    const C = shape[1];
    await gradCheck(
      `batchNorm ${shape}`,
      [{ shape }, { shape: [C], lo: 0.5, hi: 1.5 }, { shape: [C] }],
      (x, w, b) => batchNorm(x, null, null, w, b, { training: true }),
      bnRef(shape),
    );
  }
  // Without affine; long rows use one workgroup per channel.
  const shape = [4, 2, 5, 6];
  await gradCheck(
    `batchNorm no affine ${shape}`,
    [{ shape }],
    (x) => batchNorm(x, null, null, null, null, { training: true }),
    bnRef(shape),
  );
});

gpuTest("batchNorm: running statistics are updated in place (unbiased variance) and used in eval", async () => {
  const shape = [4, 3, 5];
  const data = randomArray(prod(shape), 3, -2, 3);
  const x = tensor(data, shape);
  const rm = tensor([0.5, -1, 2], [3]), rv = tensor([1, 2, 0.5], [3]);
  batchNorm(x, rm, rv, null, null, { training: true, momentum: 0.2 });
  const expM: number[] = [], expV: number[] = [];
  for (let c = 0; c < 3; c++) {
    const vals = data.filter((_, i) => chan(shape)(i) === c).map((v) => Math.fround(v));
    const m = vals.reduce((a, v) => a + v, 0) / vals.length;
    const v = vals.reduce((a, e) => a + (e - m) ** 2, 0) / (vals.length - 1);
    expM.push(0.8 * [0.5, -1, 2][c] + 0.2 * m);
    expV.push(0.8 * [1, 2, 0.5][c] + 0.2 * v);
  }
  assertClose(await rm.data(), expM, { msg: "running mean" });
  assertClose(await rv.data(), expV, { msg: "running var" });

  // Eval mode: normalise with the running statistics; gradients treat them as constants.
  const m = [0.3, -0.2, 0.1], v = [0.5, 1.5, 2];
  await gradCheck(
    "batchNorm eval",
    [{ shape: [2, 3, 4] }, { shape: [3] }, { shape: [3] }],
    (xt, w, b) => batchNorm(xt, tensor(m), tensor(v), w, b, { training: false }),
    (xt, w, b) => normRef(xt, chan([2, 3, 4]), chan([2, 3, 4]), w, b, 1e-5, { mean: m, var: v }),
  );
  // Eval must leave the running stats alone.
  const rm2 = tensor(m), rv2 = tensor(v);
  batchNorm(x, rm2, rv2);
  assertClose(await rm2.data(), m);
  assertClose(await rv2.data(), v);
});

gpuTest("batchNorm: running stats in a strided view are updated in place", async () => {
  const both = zeros([3, 2]); // column 0 = mean, column 1 = var
  const rm = both.slice(1, 0, 1).squeeze(1), rv = ones([3]);
  const x = tensor(randomArray(2 * 3 * 4, 5), [2, 3, 4]);
  batchNorm(x, rm, rv, null, null, { training: true });
  const got = await both.toArray();
  const mean = await x.mean([0, 2]).toArray();
  assertClose([got[0], got[2], got[4]], mean.map((e) => 0.1 * e));
  assertClose([got[1], got[3], got[5]], [0, 0, 0]);
});

gpuTest("groupNorm and instanceNorm: values and gradients", async () => {
  for (
    const [shape, G] of [[[2, 6, 5], 3], [[2, 4, 3, 3], 2], [[1, 4, 2], 4], [[3, 2, 4], 1]] as [number[], number][]
  ) {
    await gradCheck(
      `groupNorm ${shape} G=${G}`,
      [{ shape }, { shape: [shape[1]], lo: 0.5, hi: 1.5 }, { shape: [shape[1]] }],
      (x, w, b) => groupNorm(x, G, w, b),
      gnRef(shape, G),
    );
  }
  const big = [2, 4, 8, 9]; // rows of 144 elements: one workgroup per row
  await gradCheck(
    `groupNorm ${big}`,
    [{ shape: big }, { shape: [4] }, { shape: [4] }],
    (x, w, b) => groupNorm(x, 2, w, b),
    gnRef(big, 2),
  );
  await gradCheck("groupNorm no affine", [{ shape: [2, 4, 3] }], (x) => groupNorm(x, 2), gnRef([2, 4, 3], 2));
  await gradCheck(
    "instanceNorm",
    [{ shape: [2, 3, 2, 3] }, { shape: [3] }, { shape: [3] }],
    (x, w, b) => instanceNorm(x, w, b),
    gnRef([2, 3, 2, 3], 3),
  );
});

gpuTest("layerNorm: values and gradients, one or several normalised dims", async () => {
  await gradCheck(
    "layerNorm [5]",
    [{ shape: [4, 3, 5] }, { shape: [5] }, { shape: [5] }],
    (x, w, b) => layerNorm(x, 5, w, b),
    lnRef(5),
  );
  await gradCheck(
    "layerNorm [3, 5]",
    [{ shape: [2, 3, 5] }, { shape: [3, 5] }, { shape: [3, 5] }],
    (x, w, b) => layerNorm(x, [3, 5], w, b, { eps: 1e-3 }),
    (x, w, b) => normRef(x, (i) => Math.floor(i / 15), (i) => i % 15, w, b, 1e-3),
  );
  await gradCheck(
    "layerNorm long rows",
    [{ shape: [3, 70] }, { shape: [70] }],
    (x, w) => layerNorm(x, [70], w),
    (x, w) => lnRef(70)(x, w),
  );
  await gradCheck("layerNorm no affine", [{ shape: [3, 4] }], (x) => layerNorm(x, [4]), lnRef(4));
});

gpuTest("norms read non-contiguous inputs", async () => {
  const shape = [2, 3, 4];
  const data = randomArray(prod(shape), 11);
  // x stored as (C, N, L) and permuted to (N, C, L).
  const stored = new Array<number>(data.length);
  for (let n = 0; n < 2; n++) {
    for (let c = 0; c < 3; c++) for (let l = 0; l < 4; l++) stored[(c * 2 + n) * 4 + l] = data[(n * 3 + c) * 4 + l];
  }
  const x = permute(tensor(stored, [3, 2, 4]), [1, 0, 2]);
  const x64 = Float64Array.from(Float32Array.from(data));
  assertClose(await batchNorm(x, null, null, null, null, { training: true }).data(), bnRef(shape)(x64));
  assertClose(await groupNorm(x, 3).data(), gnRef(shape, 3)(x64));
  assertClose(await layerNorm(x, 4).data(), lnRef(4)(x64));
});

gpuTest("norms: clear errors for bad shapes", () => {
  const x = zeros([2, 6, 4]);
  assertThrows(() => groupNorm(x, 4), RangeError, "not divisible by numGroups=4");
  assertThrows(() => batchNorm(zeros([6]), null, null), RangeError, "batchNorm: expected a 2-D to 5-D input");
  assertThrows(() => batchNorm(x, null, null, zeros([5])), RangeError, "batchNorm: weight of shape [5]");
  assertThrows(() => batchNorm(x, null, null), Error, "required when not training");
  assertThrows(
    () => batchNorm(zeros([1, 3]), null, null, null, null, { training: true }),
    RangeError,
    "more than 1 value",
  );
  assertThrows(() => layerNorm(x, [6]), RangeError, "layerNorm: normalizedShape [6]");
  assertThrows(() => groupNorm(x, 3, zeros([3])), RangeError, "groupNorm: weight");
});

/** silu of reference values. */
const siluOf = (ys: ArrayLike<number>) => Array.from(ys, (y) => y / (1 + Math.exp(-y)));

/** silu applied to a reference's output. */
const siluRef = (f: (...xs: Float64Array[]) => ArrayLike<number>) => (...xs: Float64Array[]) => siluOf(f(...xs));

/** Which affine parameters a case has. */
type Affine = "both" | "weight" | "bias" | "none";

/** A norm under test: (x, weight, bias, fused activation) → output. */
type NormUnderTest = (x: Tensor, w: Tensor | null, b: Tensor | null, act?: "silu" | "relu") => Tensor;

/**
 * `norm(…, act)` (the activation fused) and `act(norm(…))` on the same data and upstream
 * gradient: outputs and the gradients to x, weight and bias.
 */
async function fusedVsComposed(
  shape: number[],
  affine: Affine,
  seed: number,
  norm: NormUnderTest,
  act: "silu" | "relu",
  label: string,
): Promise<void> {
  const C = shape[1], n = prod(shape), what = `${label}+${act} ${shape} affine=${affine}`;
  const xd = Float32Array.from(randomArray(n, seed, -2, 2)), gd = Float32Array.from(randomArray(n, seed + 1));
  const wd = Float32Array.from(randomArray(C, seed + 2, 0.5, 1.5)), bd = Float32Array.from(randomArray(C, seed + 3));
  const run = (fused: boolean) =>
    scope(async () => {
      const x = tensor(xd, shape, { requiresGrad: true });
      const w = affine === "both" || affine === "weight" ? tensor(wd, [C], { requiresGrad: true }) : null;
      const b = affine === "both" || affine === "bias" ? tensor(bd, [C], { requiresGrad: true }) : null;
      const y = fused ? norm(x, w, b, act) : (act === "silu" ? silu : relu)(norm(x, w, b));
      y.backward(tensor(gd, shape));
      const out: ArrayLike<number>[] = [await y.data()];
      for (const t of [x, w, b]) {
        if (!t) continue;
        if (!t.grad) throw new Error(`${what}: no gradient`);
        out.push(await t.grad.data());
        t.grad.dispose();
      }
      return out;
    });
  const fused = await run(true), composed = await run(false);
  const names = ["output", "grad x", ...(affine === "both" || affine === "weight" ? ["grad weight"] : [])];
  if (affine === "both" || affine === "bias") names.push("grad bias");
  assertEquals(fused.length, names.length, what);
  names.forEach((name, i) => {
    let scale = 0;
    for (const v of Array.from(composed[i])) scale = Math.max(scale, Math.abs(v));
    assertClose(fused[i], composed[i], { atol: 1e-5 * Math.max(scale, 1), rtol: 1e-4, msg: `${what} ${name}` });
  });
}

/** groupNorm with `G` groups as a {@linkcode NormUnderTest}. */
const gnUnderTest = (G: number): NormUnderTest => (x, w, b, act) => groupNorm(x, G, w, b, { activation: act });

gpuTest(
  "groupNorm activation silu: equals silu(groupNorm(x)) in values and in gradients to x, weight, bias",
  async () => {
    const cases: [number[], number, Affine][] = [
      [[2, 4, 8, 9], 2, "both"], // 4 rows of 144: a workgroup per row and per affine channel
      [[3, 6, 5], 3, "both"], // rows of 10: a thread per row and per channel
      [[3, 6, 5], 3, "none"],
      [[3, 6, 5], 3, "weight"],
      [[3, 6, 5], 3, "bias"],
      [[3, 10, 7, 5], 5, "both"], // odd sizes, rows of 70
      [[3, 10, 7, 5], 5, "none"],
      [[3, 10, 7, 5], 5, "weight"],
      [[3, 10, 7, 5], 5, "bias"],
      [[5, 7, 3, 1], 7, "both"], // one channel per group, rows of 3
      [[64, 64, 8, 8], 64, "both"], // 4096 rows of 64: a thread per row, a workgroup per channel
    ];
    let seed = 101;
    for (const [shape, G, affine] of cases) {
      await fusedVsComposed(shape, affine, seed += 10, gnUnderTest(G), "silu", `groupNorm G=${G}`);
    }
  },
);

gpuTest(
  "norm activation relu: equals relu(norm(x)) for batch norm (batch and running statistics) and group norm",
  async () => {
    // Batch norm with batch statistics (segment kernels on CPU adapters), with running statistics
    // in eval (the constant-statistics backward), and group norm; vec4 and scalar layouts.
    const stats = (C: number, seed: number) => [
      tensor(randomArray(C, seed, -0.5, 0.5), [C]),
      tensor(randomArray(C, seed + 1, 0.5, 2), [C]),
    ];
    const bnTrain: NormUnderTest = (x, w, b, act) =>
      batchNorm(x, null, null, w, b, { training: true, activation: act });
    const bnEval: NormUnderTest = (x, w, b, act) => {
      const [rm, rv] = stats(x.shape[1], 7);
      return batchNorm(x, rm, rv, w, b, { training: false, activation: act });
    };
    let seed = 501;
    for (const shape of [[4, 8, 4, 4], [3, 6, 5], [2, 4, 3, 3, 3]]) {
      for (const affine of ["both", "none"] as Affine[]) {
        await fusedVsComposed(shape, affine, seed += 10, bnTrain, "relu", "batchNorm train");
        await fusedVsComposed(shape, affine, seed += 10, bnEval, "relu", "batchNorm eval");
      }
    }
    await fusedVsComposed([2, 4, 8, 9], "both", seed += 10, gnUnderTest(2), "relu", "groupNorm G=2");
    await fusedVsComposed([64, 64, 8, 8], "both", seed += 10, gnUnderTest(64), "relu", "groupNorm G=64");
  },
);

gpuTest("norms with activation silu: values and gradients against float64 finite differences", async () => {
  for (const [shape, G] of [[[2, 6, 5], 3], [[2, 4, 8, 9], 2]] as [number[], number][]) {
    await gradCheck(
      `groupNorm+silu ${shape} G=${G}`,
      [{ shape }, { shape: [shape[1]], lo: 0.5, hi: 1.5 }, { shape: [shape[1]] }],
      (x, w, b) => groupNorm(x, G, w, b, { activation: "silu" }),
      siluRef(gnRef(shape, G)),
    );
  }
  await gradCheck(
    "groupNorm+silu no affine",
    [{ shape: [2, 4, 3] }],
    (x) => groupNorm(x, 2, null, null, { activation: "silu" }),
    siluRef(gnRef([2, 4, 3], 2)),
  );
  await gradCheck(
    "groupNorm+silu weight only",
    [{ shape: [2, 4, 3] }, { shape: [4], lo: -1.5, hi: 1.5 }],
    (x, w) => groupNorm(x, 2, w, null, { activation: "silu" }),
    (x, w) => siluRef(gnRef([2, 4, 3], 2))(x, w),
  );
  await gradCheck(
    "groupNorm+silu bias only",
    [{ shape: [2, 4, 3] }, { shape: [4] }],
    (x, b) => groupNorm(x, 2, null, b, { activation: "silu" }),
    (x, b) => siluOf(gnRef([2, 4, 3], 2)(x, undefined, b)),
  );
  await gradCheck(
    "instanceNorm+silu",
    [{ shape: [2, 3, 2, 3] }, { shape: [3] }, { shape: [3] }],
    (x, w, b) => instanceNorm(x, w, b, { activation: "silu" }),
    siluRef(gnRef([2, 3, 2, 3], 3)),
  );
  await gradCheck(
    "layerNorm+silu long rows",
    [{ shape: [3, 70] }, { shape: [70] }, { shape: [70] }],
    (x, w, b) => layerNorm(x, [70], w, b, { activation: "silu" }),
    siluRef(lnRef(70)),
  );
  const bn = [3, 2, 4];
  await gradCheck(
    "batchNorm+silu training",
    [{ shape: bn }, { shape: [2] }, { shape: [2] }],
    (x, w, b) => batchNorm(x, null, null, w, b, { training: true, activation: "silu" }),
    siluRef(bnRef(bn)),
  );
  const m = [0.3, -0.2], v = [0.5, 1.5];
  await gradCheck(
    "batchNorm+silu eval",
    [{ shape: bn }, { shape: [2] }, { shape: [2] }],
    (x, w, b) => batchNorm(x, tensor(m), tensor(v), w, b, { activation: "silu" }),
    siluRef((x, w, b) => normRef(x, chan(bn), chan(bn), w, b, 1e-5, { mean: m, var: v })),
  );
});

gpuTest(
  "groupNorm activation silu: the forward dispatches of groupNorm alone, silu(groupNorm) one more, same backward",
  () => {
    const shape = [2, 8, 4, 4];
    const xd = Float32Array.from(randomArray(prod(shape), 5)), gd = Float32Array.from(randomArray(prod(shape), 6));
    const dispatches = (fn: () => void) => {
      const before = dispatchCounters().dispatches;
      fn();
      return dispatchCounters().dispatches - before;
    };
    const count = (f: (x: Tensor, w: Tensor, b: Tensor) => Tensor) =>
      scope(() => {
        const x = tensor(xd, shape, { requiresGrad: true });
        const w = ones([8]).requiresGrad_(), b = zeros([8]).requiresGrad_();
        const g = tensor(gd, shape);
        let y: Tensor | undefined;
        const fwd = dispatches(() => y = f(x, w, b));
        const bwd = dispatches(() => y!.backward(g));
        for (const t of [x, w, b]) t.grad?.dispose();
        return { fwd, bwd };
      });
    const plain = count((x, w, b) => groupNorm(x, 2, w, b));
    const fused = count((x, w, b) => groupNorm(x, 2, w, b, { activation: "silu" }));
    const composed = count((x, w, b) => silu(groupNorm(x, 2, w, b)));
    // (One dispatch, or two where few groups take the segment kernels: statistics, then apply.)
    assert(plain.fwd === 1 || (plain.fwd === 2 && gpu().isSoftware), `groupNorm forward: ${plain.fwd} dispatches`);
    assertEquals(fused.fwd, plain.fwd, "fused forward");
    assertEquals(composed.fwd, plain.fwd + 1, "groupNorm then silu");
    assertEquals(fused.bwd, plain.bwd, "fused backward = groupNorm's backward");
    assertEquals(composed.bwd, plain.bwd + 1, "the composition's backward has silu's dispatch on top");
  },
);

gpuTest('GroupNorm module: call(x, "silu") = silu(call(x)), same state dict; bad activations throw', async () => {
  const gn = new GroupNorm(3, 6);
  gn.loadStateDict({ weight: tensor(randomArray(6, 3, 0.5, 1.5)), bias: tensor(randomArray(6, 4)) });
  const x = tensor(randomArray(2 * 6 * 5, 9, -2, 2), [2, 6, 5]);
  assertClose(await gn.call(x, "silu").data(), await silu(gn.call(x)).data(), { atol: 1e-6 });
  const state = gn.stateDict();
  assertEquals(Object.keys(state), ["weight", "bias"]);
  for (const t of Object.values(state)) t.dispose();
  const bad = "gelu" as unknown as "silu";
  assertThrows(() => groupNorm(x, 3, null, null, { activation: bad }), RangeError, "activation must be one of");
  assertThrows(() => gn.call(x, bad), RangeError, "groupNorm: activation");
  assertThrows(() => layerNorm(x, 5, null, null, { activation: bad }), RangeError, "layerNorm: activation");
});

gpuTest(
  "groupNorm + silu with a thread per row, four elements per loop step: values and gradients vs float64",
  async () => {
    // 256 rows of 32 (two 4×4 channels): a thread per row on CPU adapters, and channel blocks of
    // 16, so the loop takes four elements per step. Backward by the closed form, in float64; on
    // CPU adapters once by (sample, channel) segments and once by rows.
    for (const segments of ["1", "0"]) {
      Deno.env.set("MEDDIFF_NORM_SEGMENTS", segments);
      try {
        await checkThreadPerRow(`segments ${segments}`);
      } finally {
        Deno.env.delete("MEDDIFF_NORM_SEGMENTS");
      }
    }
  },
);

/** The float64 check of the test above, on the current kernel choice. */
async function checkThreadPerRow(label: string): Promise<void> {
  const [N, C, H, G] = [64, 8, 4, 4];
  const S = H * H, Cg = C / G, L = Cg * S, n = N * C * S;
  const xd = randomArray(n, 61, -2, 2),
    wd = randomArray(C, 62, 0.5, 1.5),
    bd = randomArray(C, 63),
    gd = randomArray(n, 64);
  const x = tensor(xd, [N, C, H, H], { requiresGrad: true });
  const w = tensor(wd, [C], { requiresGrad: true }), b = tensor(bd, [C], { requiresGrad: true });
  const y = groupNorm(x, G, w, b, { activation: "silu" });
  y.mul(tensor(gd, [N, C, H, H])).sum().backward();
  const f = (v: number) => Math.fround(v);
  const wantY = new Float64Array(n),
    wantDx = new Float64Array(n),
    wantDw = new Float64Array(C),
    wantDb = new Float64Array(C);
  for (let r = 0; r < N * G; r++) {
    const at = (j: number) => r * L + j, ch = (j: number) => (r % G) * Cg + Math.floor(j / S);
    let mean = 0, v = 0;
    for (let j = 0; j < L; j++) mean += f(xd[at(j)]) / L;
    for (let j = 0; j < L; j++) v += (f(xd[at(j)]) - mean) ** 2 / L;
    const rstd = 1 / Math.sqrt(v + 1e-5);
    let m1 = 0, m2 = 0;
    const xh: number[] = [], gw: number[] = [];
    for (let j = 0; j < L; j++) {
      xh[j] = (f(xd[at(j)]) - mean) * rstd;
      const pre = xh[j] * f(wd[ch(j)]) + f(bd[ch(j)]), sig = 1 / (1 + Math.exp(-pre));
      wantY[at(j)] = pre * sig;
      const gEff = f(gd[at(j)]) * sig * (1 + pre * (1 - sig)); // ∂L/∂pre through silu
      wantDw[ch(j)] += gEff * xh[j];
      wantDb[ch(j)] += gEff;
      gw[j] = gEff * f(wd[ch(j)]);
      m1 += gw[j] / L;
      m2 += gw[j] * xh[j] / L;
    }
    for (let j = 0; j < L; j++) wantDx[at(j)] = rstd * (gw[j] - m1 - xh[j] * m2);
  }
  assertClose(await y.data(), wantY, { atol: 1e-5, rtol: 1e-4, msg: `${label}: y` });
  assertClose(await x.grad!.data(), wantDx, { atol: 1e-4, rtol: 1e-3, msg: `${label}: dx` });
  assertClose(await w.grad!.data(), wantDw, { atol: 1e-3, rtol: 1e-4, msg: `${label}: dw` });
  assertClose(await b.grad!.data(), wantDb, { atol: 1e-3, rtol: 1e-4, msg: `${label}: db` });
}

gpuTest(
  "norm segment kernels (CPU adapters) equal the row kernels: batch norm, group-norm gradients",
  async () => {
    if (!gpu().isSoftware) return; // the segment kernels run on software adapters only
    const cases: { shape: number[]; G: number; act: "none" | "silu"; training: boolean; offset: number }[] = [
      { shape: [4, 6, 8, 8], G: 0, act: "none", training: true, offset: 0 }, // four per load
      { shape: [3, 5, 7], G: 0, act: "silu", training: true, offset: 0 }, // one per load
      { shape: [2, 3, 4, 4], G: 0, act: "none", training: true, offset: 1 }, // misaligned view
      { shape: [4, 6, 8], G: 0, act: "silu", training: false, offset: 1 }, // eval statistics, misaligned
      { shape: [2, 8, 4, 4], G: 4, act: "silu", training: true, offset: 0 },
      { shape: [2, 6, 5], G: 3, act: "none", training: true, offset: 0 },
      { shape: [3, 4, 6, 4], G: 2, act: "silu", training: true, offset: 1 }, // group norm, misaligned
      { shape: [2, 8, 4, 4], G: 8, act: "none", training: true, offset: 0 }, // instance norm
      // Segments longer than a thread's loop: (N, C, S) run as (N, C·k, S/k), k = 2 and 4.
      { shape: [1, 4, 40, 40, 40], G: 2, act: "silu", training: true, offset: 0 },
      { shape: [2, 2, 48, 48, 48], G: 2, act: "none", training: true, offset: 0 }, // instance norm
    ];
    const run = async (c: (typeof cases)[number]) => {
      const n = prod(c.shape), C = c.shape[1];
      const base = tensor(randomArray(n + c.offset, 3, -2, 3), [n + c.offset]);
      const x = narrow(base, 0, c.offset, n).reshape(c.shape).requiresGrad_();
      // The affine parameters as views `offset` into larger tensors too (their gradients land there).
      const wLeaf = tensor(randomArray(C + c.offset, 4, 0.5, 1.5), [C + c.offset]).requiresGrad_();
      const bLeaf = tensor(randomArray(C + c.offset, 5), [C + c.offset]).requiresGrad_();
      const w = narrow(wLeaf, 0, c.offset, C), b = narrow(bLeaf, 0, c.offset, C);
      const rm = tensor(randomArray(C, 6), [C]), rv = tensor(randomArray(C, 7, 0.5, 2), [C]);
      const y = c.G === 0
        ? batchNorm(x, rm, rv, w, b, { training: c.training, activation: c.act })
        : groupNorm(x, c.G, w, b, { activation: c.act });
      const probe = tensor(randomArray(n, 8), c.shape);
      y.mul(probe).sum().backward();
      const out = [y, x.grad!, wLeaf.grad!, bLeaf.grad!, rm, rv].map((t) => t.toArray() as Promise<number[]>);
      const got = await Promise.all(out);
      for (const t of [base, x, wLeaf, bLeaf, w, b, rm, rv, y, probe]) t.dispose();
      return got;
    };
    for (const c of cases) {
      const segments = await run(c);
      Deno.env.set("MEDDIFF_NORM_SEGMENTS", "0");
      let rows: number[][];
      try {
        rows = await run(c);
      } finally {
        Deno.env.delete("MEDDIFF_NORM_SEGMENTS");
      }
      ["y", "dx", "dw", "db", "running mean", "running var"].forEach((name, i) => {
        assertClose(segments[i], rows[i], { atol: 2e-5, rtol: 2e-4, msg: `${JSON.stringify(c)}: ${name}` });
      });
    }
  },
);

gpuTest("group norm of segments longer than a thread's loop (3-D volumes) takes its gradients by segments", () => {
  if (!gpu().isSoftware) return; // the segment kernels run on software adapters only
  const x = tensor(randomArray(4 * 48 ** 3, 11), [1, 4, 48, 48, 48]).requiresGrad_();
  const w = tensor(randomArray(4, 12, 0.5, 1.5), [4]).requiresGrad_(), b = tensor(randomArray(4, 13), [4]);
  const y = groupNorm(x, 2, w, b.requiresGrad_());
  const ops = dispatchedOps(() => y.sum().backward());
  assert(ops.includes("groupNorm.segmentDx"), `segment kernels expected, got ${ops.join(", ")}`);
  assert(!ops.includes("groupNorm.backward"), "no row kernel for dx");
  for (const t of [x, w, b, y]) t.dispose();
});

gpuTest("group norm's backward adds the gradient its input already has (a residual's) in its dx kernel", async () => {
  // x feeds a residual and group norm + SiLU: out = x·v + silu(gn(x))·u. The residual's gradient
  // v reaches x first; the norm's dx kernel adds it (on CPU adapters, no separate add), and the
  // result is v plus x's gradient through the norm alone. Shapes: vec4 segments and scalar ones.
  for (const shape of [[2, 8, 4, 4], [2, 6, 3, 3]]) {
    await scope(async () => {
      const n = prod(shape), C = shape[1];
      const w = tensor(randomArray(C, 3), [C]), b = tensor(randomArray(C, 4), [C]);
      const u = tensor(randomArray(n, 5), shape), v = tensor(randomArray(n, 6), shape);
      const gradThroughNorm = async (residual: boolean) => {
        // x an op's output (a leaf's gradients accumulate in .grad instead).
        const x0 = tensor(randomArray(n, 7), shape).requiresGrad_(), x = x0.mul(1);
        const y = groupNorm(x, 2, w, b, { activation: "silu" }).mul(u);
        const loss = (residual ? x.mul(v).add(y) : y).sum();
        const ops = dispatchedOps(() => loss.backward());
        return { dx: await x0.grad!.data(), adds: ops.filter((o) => o === "add").length };
      };
      const alone = await gradThroughNorm(false), both = await gradThroughNorm(true);
      const vs = await v.data();
      assertClose(both.dx, alone.dx.map((d, i) => d + vs[i]), { rtol: 1e-5, atol: 1e-6, msg: `${shape}` });
      if (gpu().isSoftware) assertEquals(both.adds, 0, `${shape}: the residual's gradient is added in the dx kernel`);
    });
  }
});
