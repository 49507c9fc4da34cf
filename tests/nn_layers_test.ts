/**
 * Layer modules: forward = the functional op with the module's parameters, PyTorch's
 * state-dict keys (from tests/fixtures/resnet18_small.json, made by
 * scripts/make_resnet_fixture.py), default initialisation, batch-norm train/eval, and
 * MultiheadAttention against PyTorch and a float64 reference.
 */
import {
  AdaptiveAvgPool2d,
  AdaptiveAvgPool3d,
  AvgPool2d,
  AvgPool3d,
  BatchNorm1d,
  BatchNorm2d,
  Conv1d,
  Conv2d,
  Conv3d,
  ConvTranspose1d,
  ConvTranspose2d,
  ConvTranspose3d,
  Flatten,
  GroupNorm,
  InstanceNorm2d,
  InstanceNorm3d,
  LayerNorm,
  Linear,
  MaxPool2d,
  MaxPool3d,
  type Module,
  MultiheadAttention,
  ReLU,
  Sequential,
  Unflatten,
  Upsample,
} from "../core/nn/mod.ts";
import {
  adaptiveAvgPool2d,
  adaptiveAvgPool3d,
  avgPool2d,
  avgPool3d,
  batchNorm,
  conv1d,
  conv2d,
  conv3d,
  convTranspose1d,
  convTranspose2d,
  convTranspose3d,
  groupNorm,
  instanceNorm,
  interpolate,
  layerNorm,
  maxPool2d,
  maxPool3d,
  type Tensor,
  tensor,
} from "../mod.ts";
import { assertClose, gpuTest, prod, randomArray } from "./_util.ts";
import { assert, assertEquals, assertThrows } from "./_asserts.ts";

interface MhaFixture {
  state: Record<string, { shape: number[]; data: number[] }>;
  q: number[];
  k: number[];
  v: number[];
  attn_mask: boolean[];
  key_padding_mask: boolean[];
  out: number[];
  weights: number[];
  out_nomask: number[];
  weights_nomask: number[];
  dims: { E: number; H: number; L: number; S: number; N: number };
}

const fixture = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/resnet18_small.json", import.meta.url)),
) as { state_keys: Record<string, string[]>; mha: MhaFixture };

function rand(shape: number[], seed: number, lo = -1, hi = 1): Tensor {
  return tensor(Float32Array.from(randomArray(prod(shape), seed, lo, hi)), shape);
}

async function same(a: Tensor, b: Tensor, msg: string, atol = 0): Promise<void> {
  assertEquals(a.shape, b.shape, `${msg}: shape`);
  assertClose(await a.data(), await b.data(), { atol, rtol: 0, msg });
}

const keys = (m: Module) => Object.keys(m.stateDict());

gpuTest("nn layers: state-dict keys are PyTorch's", () => {
  const k = fixture.state_keys;
  assertEquals(keys(new Conv2d(3, 4, 3)), k.conv2d);
  assertEquals(keys(new Conv2d(3, 4, 3, { bias: false })), k.conv2d_nobias);
  assertEquals(keys(new BatchNorm2d(4)), k.batchnorm2d);
  assertEquals(keys(new BatchNorm2d(4, { affine: false, trackRunningStats: false })), k.batchnorm2d_noaffine_notrack);
  assertEquals(keys(new GroupNorm(2, 4)), k.groupnorm);
  assertEquals(keys(new LayerNorm(4)), k.layernorm);
  assertEquals(keys(new MultiheadAttention(8, 2)), k.mha);
  assertEquals(keys(new MultiheadAttention(8, 2, { kdim: 4, vdim: 6 })), k.mha_kdim);
  assertEquals(keys(new MultiheadAttention(8, 2, { bias: false })), k.mha_nobias);
  const seq = new Sequential(new Conv2d(3, 4, 3), new BatchNorm2d(4), new ReLU(), new Linear(4, 2));
  assertEquals(keys(seq), k.sequential);
  assertEquals(keys(new LayerNorm([2, 3], { bias: false })), ["weight"]);
  assertEquals(keys(new InstanceNorm2d(3)), []);
  assertEquals(keys(new InstanceNorm2d(3, { affine: true })), ["weight", "bias"]);
});

gpuTest("nn layers: conv modules = functional ops", async () => {
  const x1 = rand([2, 4, 9], 1), x2 = rand([2, 4, 7, 6], 2), x3 = rand([1, 4, 5, 4, 6], 3);
  const c1 = new Conv1d(4, 6, 3, { stride: 2, padding: 1, groups: 2 });
  await same(c1.call(x1), conv1d(x1, c1.weight, c1.bias, { stride: 2, padding: 1, groups: 2 }), "Conv1d");
  const c2 = new Conv2d(4, 5, [3, 2], { padding: "same", dilation: [1, 2], bias: false });
  assertEquals(c2.weight.shape, [5, 4, 3, 2]);
  await same(c2.call(x2), conv2d(x2, c2.weight, null, { padding: "same", dilation: [1, 2] }), "Conv2d");
  const c3 = new Conv3d(4, 2, 3, { stride: [1, 2, 1], padding: [1, 0, 1] });
  await same(c3.call(x3), conv3d(x3, c3.weight, c3.bias, { stride: [1, 2, 1], padding: [1, 0, 1] }), "Conv3d");
  const t1 = new ConvTranspose1d(4, 6, 3, { stride: 2, padding: 1, outputPadding: 1, groups: 2 });
  assertEquals(t1.weight.shape, [4, 3, 3]);
  await same(
    t1.call(x1),
    convTranspose1d(x1, t1.weight, t1.bias, { stride: 2, padding: 1, outputPadding: 1, groups: 2 }),
    "ConvTranspose1d",
  );
  const t2 = new ConvTranspose2d(4, 3, 4, { stride: 2, padding: 1 });
  const y2 = t2.call(x2);
  assertEquals(y2.shape, [2, 3, 14, 12]);
  await same(y2, convTranspose2d(x2, t2.weight, t2.bias, { stride: 2, padding: 1 }), "ConvTranspose2d");
  // outputSize picks the output padding, as PyTorch's output_size argument.
  const t2b = new ConvTranspose2d(4, 3, 3, { stride: 2, padding: 1 });
  const y2b = t2b.call(x2, [14, 11]);
  assertEquals(y2b.shape, [2, 3, 14, 11]);
  await same(y2b, convTranspose2d(x2, t2b.weight, t2b.bias, { stride: 2, padding: 1, outputPadding: [1, 0] }), "oS");
  assertThrows(() => t2b.call(x2, [20, 11]), RangeError, "valid sizes");
  const t3 = new ConvTranspose3d(4, 2, 2, { stride: 2, bias: false });
  await same(t3.call(x3), convTranspose3d(x3, t3.weight, null, { stride: 2 }), "ConvTranspose3d");
  assertThrows(() => new Conv2d(3, 4, 3, { paddingMode: "reflect" }), RangeError, `only "zeros"`);
  assertThrows(() => new Conv2d(3, 4, 3, { groups: 2 }), RangeError, "divisible by groups");
  assertThrows(() => new Conv2d(3, 4, 3, { padding: "same", stride: 2 }), RangeError, "same");
  assertEquals(
    c1.extraRepr(),
    "4, 6, kernel_size=(3,), stride=(2,), padding=(1,), groups=2",
  );
});

gpuTest("nn layers: default conv initialisation (kaiming_uniform a=√5, bias U(±1/√fan_in))", async () => {
  const conv = new Conv2d(16, 32, 3);
  const fanIn = 16 * 9, bound = 1 / Math.sqrt(fanIn);
  const w = Array.from(await conv.weight.data()), b = Array.from(await conv.bias!.data());
  const maxW = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert(maxW <= bound && maxW > 0.95 * bound, `weight bound ${maxW} vs ${bound}`);
  const meanW = w.reduce((s, v) => s + v, 0) / w.length;
  const varW = w.reduce((s, v) => s + v * v, 0) / w.length;
  assert(Math.abs(meanW) < 0.05 * bound, `weight mean ${meanW}`);
  assertClose([varW], [(bound * bound) / 3], { rtol: 0.1, atol: 0 });
  assert(b.every((v) => Math.abs(v) <= bound) && b.some((v) => Math.abs(v) > 0.5 * bound), "bias bound");
  // Transposed: fan_in comes from weight.shape[1] = outChannels/groups.
  const tc = new ConvTranspose2d(8, 4, 3);
  const tb = 1 / Math.sqrt(4 * 9);
  const tw = Array.from(await tc.weight.data());
  const maxT = tw.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert(maxT <= tb && maxT > 0.9 * tb, `transposed weight bound ${maxT} vs ${tb}`);
  const bn = new BatchNorm2d(3);
  assertEquals([...await bn.weight!.data()], [1, 1, 1]);
  assertEquals([...await bn.bias!.data()], [0, 0, 0]);
  assertEquals([...await bn.runningMean!.data()], [0, 0, 0]);
  assertEquals([...await bn.runningVar!.data()], [1, 1, 1]);
  assertEquals(bn.numBatchesTracked!.dtype, "int32");
  assertEquals([...await bn.numBatchesTracked!.data()], [0]);
});

/** Per-channel batch mean and unbiased variance of (N, C, S) data. */
function channelStats(x: ArrayLike<number>, N: number, C: number, S: number): { mean: number[]; uvar: number[] } {
  const mean: number[] = [], uvar: number[] = [];
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < S; i++) s += x[(n * C + c) * S + i];
    const m = s / (N * S);
    let q = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < S; i++) q += (x[(n * C + c) * S + i] - m) ** 2;
    mean.push(m);
    uvar.push(q / (N * S - 1));
  }
  return { mean, uvar };
}

gpuTest("nn layers: BatchNorm train/eval, running stats and numBatchesTracked", async () => {
  const [N, C, H, W] = [3, 4, 3, 2];
  const bn = new BatchNorm2d(C, { momentum: 0.2 });
  const xs = [rand([N, C, H, W], 11, -1, 3), rand([N, C, H, W], 12, -2, 1)];
  const refMean = [0, 0, 0, 0], refVar = [1, 1, 1, 1];
  for (const [i, x] of xs.entries()) {
    const y = bn.call(x);
    await same(y, batchNorm(x, null, null, bn.weight, bn.bias, { training: true }), `train output ${i}`, 1e-6);
    const st = channelStats(await x.data(), N, C, H * W);
    for (let c = 0; c < C; c++) {
      refMean[c] = 0.8 * refMean[c] + 0.2 * st.mean[c];
      refVar[c] = 0.8 * refVar[c] + 0.2 * st.uvar[c];
    }
    assertClose(await bn.runningMean!.data(), refMean, { atol: 1e-6, msg: "running mean" });
    assertClose(await bn.runningVar!.data(), refVar, { atol: 1e-5, msg: "running var" });
    assertEquals([...await bn.numBatchesTracked!.data()], [i + 1]);
  }
  bn.eval();
  const y = bn.call(xs[0]);
  await same(y, batchNorm(xs[0], bn.runningMean, bn.runningVar, bn.weight, bn.bias), "eval output");
  assertEquals([...await bn.numBatchesTracked!.data()], [2], "eval does not count");
  // momentum null: cumulative average of the batch statistics.
  const cum = new BatchNorm2d(C, { momentum: null });
  cum.call(xs[0]);
  cum.call(xs[1]);
  const s0 = channelStats(await xs[0].data(), N, C, H * W), s1 = channelStats(await xs[1].data(), N, C, H * W);
  assertClose(await cum.runningMean!.data(), s0.mean.map((m, c) => (m + s1.mean[c]) / 2), { atol: 1e-6 });
  assertClose(await cum.runningVar!.data(), s0.uvar.map((v, c) => (v + s1.uvar[c]) / 2), { atol: 1e-5 });
  assertEquals([...await cum.numBatchesTracked!.data()], [2]);
  // Without running stats, eval mode uses batch statistics too.
  const free = new BatchNorm2d(C, { trackRunningStats: false, affine: false }).eval();
  assertEquals(free.runningMean, null);
  await same(free.call(xs[1]), batchNorm(xs[1], null, null, null, null, { training: true }), "untracked eval");
  // BatchNorm1d on (N, C) input; rank checks.
  const bn1 = new BatchNorm1d(4);
  const x2 = rand([5, 4], 13);
  await same(bn1.call(x2), batchNorm(x2, null, null, bn1.weight, bn1.bias, { training: true }), "BatchNorm1d", 1e-6);
  assertThrows(() => bn1.call(rand([2, 4, 2, 2], 1)), RangeError, "2-D (N, C) or 3-D");
  assertThrows(() => bn.call(rand([2, 3, 2, 2], 1)), RangeError, "expected 4 channels");
  // Loading a state dict (PyTorch's int64 num_batches_tracked arrives as int32) and resetting.
  bn.loadStateDict({
    weight: tensor([1, 2, 3, 4]),
    bias: tensor([0, 0, 0, 1]),
    running_mean: tensor([1, 1, 1, 1]),
    running_var: tensor([4, 4, 4, 4]),
    num_batches_tracked: tensor(new Int32Array([9]), []),
  });
  assertEquals([...await bn.numBatchesTracked!.data()], [9]);
  bn.resetRunningStats();
  assertEquals([...await bn.runningVar!.data()], [1, 1, 1, 1]);
  assertEquals([...await bn.numBatchesTracked!.data()], [0]);
});

gpuTest("nn layers: GroupNorm, LayerNorm, InstanceNorm = functional ops", async () => {
  const x = rand([2, 6, 3, 4], 21, -2, 2);
  const gn = new GroupNorm(3, 6);
  await same(gn.call(x), groupNorm(x, 3, gn.weight, gn.bias), "GroupNorm");
  const ln = new LayerNorm([3, 4], { eps: 1e-3 });
  await same(ln.call(x), layerNorm(x, [3, 4], ln.weight, ln.bias, { eps: 1e-3 }), "LayerNorm");
  const lnNoBias = new LayerNorm(4, { bias: false });
  assertEquals(lnNoBias.bias, null);
  await same(lnNoBias.call(x), layerNorm(x, 4, lnNoBias.weight, null), "LayerNorm without bias");
  const inorm = new InstanceNorm2d(6, { affine: true });
  await same(inorm.call(x), instanceNorm(x, inorm.weight, inorm.bias), "InstanceNorm2d");
  const x3 = rand([6, 2, 3, 4], 22);
  const y3 = new InstanceNorm3d(6).call(x3); // unbatched (C, D, H, W)
  const x3b = x3.unsqueeze(0);
  await same(y3, instanceNorm(x3b).squeeze(0), "InstanceNorm3d unbatched");
  assertThrows(() => new InstanceNorm2d(3, { trackRunningStats: true }), RangeError, "trackRunningStats");
  assertThrows(() => new GroupNorm(4, 6), RangeError, "divisible");
});

gpuTest("nn layers: pooling, Upsample, Flatten, Unflatten = functional ops", async () => {
  const x = rand([2, 3, 7, 6], 31), x3 = rand([1, 2, 4, 5, 6], 32);
  await same(
    new MaxPool2d(3, { stride: 2, padding: 1 }).call(x),
    maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }),
    "mp2",
  );
  const [vals, idx] = new MaxPool2d(2).forwardWithIndices(x);
  const [rv, ri] = maxPool2d(x, { kernelSize: 2, returnIndices: true });
  await same(vals, rv, "mp2 values");
  assertEquals([...await idx.data()], [...await ri.data()]);
  await same(new MaxPool3d(2, { ceilMode: true }).call(x3), maxPool3d(x3, { kernelSize: 2, ceilMode: true }), "mp3");
  await same(
    new AvgPool2d([3, 2], { stride: 1, padding: [1, 0], countIncludePad: false }).call(x),
    avgPool2d(x, { kernelSize: [3, 2], stride: 1, padding: [1, 0], countIncludePad: false }),
    "ap2",
  );
  await same(new AvgPool3d(2).call(x3), avgPool3d(x3, { kernelSize: 2 }), "ap3");
  await same(new AdaptiveAvgPool2d([2, 3]).call(x), adaptiveAvgPool2d(x, [2, 3]), "aap2");
  await same(new AdaptiveAvgPool3d(1).call(x3), adaptiveAvgPool3d(x3, 1), "aap3");
  const up = new Upsample({ scaleFactor: 2, mode: "bilinear", alignCorners: true });
  await same(up.call(x), interpolate(x, { scaleFactor: 2, mode: "bilinear", alignCorners: true }), "Upsample");
  await same(new Upsample({ size: [5, 5] }).call(x), interpolate(x, { size: [5, 5] }), "Upsample nearest");
  assertThrows(() => new Upsample({}), RangeError, "exactly one");
  const f = new Flatten().call(x);
  assertEquals(f.shape, [2, 126]);
  assertEquals(new Flatten(0, 1).call(x).shape, [6, 7, 6]);
  assertEquals(new Unflatten(1, [3, -1]).call(f).shape, [2, 3, 42]);
  assertEquals(new Unflatten(-1, [6, 7]).call(rand([2, 42], 1)).shape, [2, 6, 7]);
});

/** Float64 reference MHA, batch first, no bias_k/v: returns output (N, L, E) and head-averaged weights (N, L, S). */
function mhaRef(
  st: Record<string, Float64Array>,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  d: { E: number; H: number; L: number; S: number; N: number; kd: number; vd: number },
  mask: (n: number, h: number, i: number, j: number) => number,
): { out: Float64Array; w: Float64Array } {
  const { E, H, L, S, N, kd, vd } = d, D = E / H;
  const wq = st.q ?? st.in.subarray(0, E * E), wk = st.k ?? st.in.subarray(E * E, 2 * E * E);
  const wv = st.v ?? st.in.subarray(2 * E * E);
  const bias = st.inb ?? new Float64Array(3 * E);
  const proj = (x: Float64Array, w: Float64Array, b0: number, len: number, inF: number) => {
    const y = new Float64Array(N * len * E);
    for (let r = 0; r < N * len; r++) {
      for (let o = 0; o < E; o++) {
        let s = bias[b0 + o];
        for (let c = 0; c < inF; c++) s += x[r * inF + c] * w[o * inF + c];
        y[r * E + o] = s;
      }
    }
    return y;
  };
  const Q = proj(q, wq, 0, L, E), K = proj(k, wk, E, S, kd), V = proj(v, wv, 2 * E, S, vd);
  const ctx = new Float64Array(N * L * E), w = new Float64Array(N * L * S);
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < L; i++) {
        const s = new Float64Array(S);
        for (let j = 0; j < S; j++) {
          let dot = 0;
          for (let c = 0; c < D; c++) dot += Q[(n * L + i) * E + h * D + c] * K[(n * S + j) * E + h * D + c];
          s[j] = dot / Math.sqrt(D) + mask(n, h, i, j);
        }
        const m = Math.max(...s);
        const e = s.map((x) => Math.exp(x - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j < S; j++) {
          const p = e[j] / z;
          w[(n * L + i) * S + j] += p / H;
          for (let c = 0; c < D; c++) ctx[(n * L + i) * E + h * D + c] += p * V[(n * S + j) * E + h * D + c];
        }
      }
    }
  }
  const out = new Float64Array(N * L * E);
  for (let r = 0; r < N * L; r++) {
    for (let o = 0; o < E; o++) {
      let s = st.outb ? st.outb[o] : 0;
      for (let c = 0; c < E; c++) s += ctx[r * E + c] * st.out[o * E + c];
      out[r * E + o] = s;
    }
  }
  return { out, w };
}

gpuTest("nn layers: MultiheadAttention matches PyTorch (seq-first, bool attn and key-padding masks)", async () => {
  const fx = fixture.mha, { E, H, L, S, N } = fx.dims;
  const mha = new MultiheadAttention(E, H);
  mha.loadStateDict(Object.fromEntries(Object.entries(fx.state).map(([k, t]) => [k, tensor(t.data, t.shape)])));
  mha.eval();
  const q = tensor(fx.q, [L, N, E]), k = tensor(fx.k, [S, N, E]), v = tensor(fx.v, [S, N, E]);
  const attnMask = tensor(fx.attn_mask, [L, S]), kpm = tensor(fx.key_padding_mask, [N, S]);
  const [out, w] = mha.call(q, k, v, { attnMask, keyPaddingMask: kpm });
  assertEquals(out.shape, [L, N, E]);
  assertEquals(w!.shape, [N, L, S]);
  assertClose(await out.data(), fx.out, { atol: 1e-5, rtol: 1e-4, msg: "masked output" });
  assertClose(await w!.data(), fx.weights, { atol: 1e-6, rtol: 1e-4, msg: "masked weights" });
  // The fused route (no weights) gives the same output.
  const [outFused, none] = mha.call(q, k, v, { attnMask, keyPaddingMask: kpm, needWeights: false });
  assertEquals(none, null);
  assertClose(await outFused.data(), fx.out, { atol: 1e-5, rtol: 1e-4, msg: "masked output, fused" });
  const [out2, w2] = mha.call(q, k, v, { averageAttnWeights: false });
  assertEquals(w2!.shape, [N, H, L, S]);
  assertClose(await out2.data(), fx.out_nomask, { atol: 1e-5, rtol: 1e-4, msg: "output" });
  assertClose(await w2!.data(), fx.weights_nomask, { atol: 1e-6, rtol: 1e-4, msg: "per-head weights" });
});

gpuTest(
  "nn layers: MultiheadAttention vs float64 reference (batchFirst, kdim/vdim, float and causal masks)",
  async () => {
    const [E, H, L, S, N, kd, vd] = [8, 2, 4, 5, 2, 3, 6];
    const mha = new MultiheadAttention(E, H, { batchFirst: true, kdim: kd, vdim: vd });
    assertEquals(mha.kProjWeight!.shape, [E, kd]);
    // Non-zero biases so every parameter matters.
    mha.loadStateDict({ in_proj_bias: rand([3 * E], 41), "out_proj.bias": rand([E], 42) }, { strict: false });
    const st: Record<string, Float64Array> = {};
    for (
      const [name, key] of [
        ["q_proj_weight", "q"],
        ["k_proj_weight", "k"],
        ["v_proj_weight", "v"],
        [
          "in_proj_bias",
          "inb",
        ],
        ["out_proj.weight", "out"],
        ["out_proj.bias", "outb"],
      ]
    ) {
      st[key] = Float64Array.from(await mha.stateDict()[name].data());
    }
    const qd = randomArray(N * L * E, 43), kdta = randomArray(N * S * kd, 44), vdta = randomArray(N * S * vd, 45);
    const f32 = (a: number[]) => Float64Array.from(Float32Array.from(a));
    const q = tensor(qd, [N, L, E]), k = tensor(kdta, [N, S, kd]), v = tensor(vdta, [N, S, vd]);
    const fm = randomArray(L * S, 46, -2, 0);
    const dims = { E, H, L, S, N, kd, vd };
    const ref = mhaRef(st, f32(qd), f32(kdta), f32(vdta), dims, (_n, _h, i, j) => Math.fround(fm[i * S + j]));
    for (const needWeights of [true, false]) {
      const [out, w] = mha.call(q, k, v, { attnMask: tensor(fm, [L, S]), needWeights });
      assertEquals(out.shape, [N, L, E]);
      assertClose(await out.data(), ref.out, { atol: 1e-5, rtol: 1e-4, msg: `float mask, needWeights ${needWeights}` });
      if (w) assertClose(await w.data(), ref.w, { atol: 1e-6, rtol: 1e-4, msg: "float mask weights" });
    }
    const causalRef = mhaRef(st, f32(qd), f32(kdta), f32(vdta), dims, (_n, _h, i, j) => (j > i ? -Infinity : 0));
    const [outC] = mha.call(q, k, v, { isCausal: true, needWeights: false });
    assertClose(await outC.data(), causalRef.out, { atol: 1e-5, rtol: 1e-4, msg: "causal" });
    // Unbatched input.
    const [o1, w1] = mha.call(
      q.narrow(0, 1, 1).squeeze(0),
      k.narrow(0, 1, 1).squeeze(0),
      v.narrow(0, 1, 1).squeeze(0),
      {
        isCausal: true,
      },
    );
    assertEquals(o1.shape, [L, E]);
    assertEquals(w1!.shape, [L, S]);
    assertClose(await o1.data(), causalRef.out.subarray(L * E), { atol: 1e-5, rtol: 1e-4, msg: "unbatched" });
    assertThrows(() => mha.call(q, k, v, { attnMask: tensor(fm, [S, L]) }), RangeError, "attnMask must have shape");
    assertThrows(() => new MultiheadAttention(10, 3), RangeError, "divisible");
  },
);
