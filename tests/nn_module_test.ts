/** Module trees, state dicts, initialisers, containers and simple layers. */
import {
  Dropout,
  Embedding,
  GELU,
  Identity,
  kaimingNormal_,
  kaimingUniform_,
  LeakyReLU,
  Linear,
  Module,
  ModuleDict,
  ModuleList,
  normal_,
  packParameters,
  Parameter,
  ReLU,
  Sequential,
  Sigmoid,
  SiLU,
  Softmax,
  Softplus,
  Tanh,
  truncNormal_,
  uniform_,
  xavierNormal_,
  xavierUniform_,
} from "../core/nn/mod.ts";
import { chain } from "../core/nn/containers.ts";
import { BatchNorm2d, GroupNorm } from "../core/nn/norm.ts";
import { calculateFanInAndFanOut, calculateGain, constant_, ones_, zeros_ } from "../core/nn/init.ts";
import { Generator, ones, scope, type Tensor, tensor, zeros } from "../mod.ts";
import { assertClose, dispatchedOps, gpuTest, randomArray } from "./_util.ts";
import { assert, assertEquals, assertThrows } from "./_asserts.ts";

class Block extends Module {
  conv1: Linear;
  bn: Norm;
  constructor(n: number) {
    super();
    this.conv1 = new Linear(n, n);
    this.bn = new Norm(n);
  }
  override forward(x: Tensor): Tensor {
    return this.bn.call(this.conv1.call(x));
  }
}

/** A module with a parameter, a persistent and a non-persistent buffer. */
class Norm extends Module {
  weight: Parameter;
  runningMean: Tensor;
  scratch: Tensor;
  constructor(n: number) {
    super();
    this.weight = new Parameter(ones([n]));
    this.runningMean = this.registerBuffer("runningMean", zeros([n]));
    this.scratch = this.registerBuffer("scratch", zeros([1]), { persistent: false });
  }
  override forward(x: Tensor): Tensor {
    return x.mul(this.weight);
  }
}

class Net extends Module {
  stem = new Linear(3, 4);
  layer1 = new Sequential(new Block(4), new Block(4));
  heads = new ModuleDict({ b: new Linear(4, 2), a: new Linear(4, 1, { bias: false }) });
  scale = new Parameter(ones([1]));
  notState = 3;
  override forward(x: Tensor): Tensor {
    return this.layer1.call(this.stem.call(x));
  }
}

gpuTest("Module: parameter, buffer and module names and order follow PyTorch", () => {
  const net = new Net();
  try {
    // As in PyTorch: each module lists its own parameters (then buffers) before its children's.
    assertEquals(net.namedParameters().map(([n]) => n), [
      "scale",
      "stem.weight",
      "stem.bias",
      "layer1.0.conv1.weight",
      "layer1.0.conv1.bias",
      "layer1.0.bn.weight",
      "layer1.1.conv1.weight",
      "layer1.1.conv1.bias",
      "layer1.1.bn.weight",
      "heads.b.weight",
      "heads.b.bias",
      "heads.a.weight",
    ]);
    assertEquals(net.namedBuffers().map(([n]) => n), [
      "layer1.0.bn.runningMean",
      "layer1.0.bn.scratch",
      "layer1.1.bn.runningMean",
      "layer1.1.bn.scratch",
    ]);
    const sd = net.stateDict();
    assertEquals(Object.keys(sd), [
      "scale",
      "stem.weight",
      "stem.bias",
      "layer1.0.conv1.weight",
      "layer1.0.conv1.bias",
      "layer1.0.bn.weight",
      "layer1.0.bn.runningMean",
      "layer1.1.conv1.weight",
      "layer1.1.conv1.bias",
      "layer1.1.bn.weight",
      "layer1.1.bn.runningMean",
      "heads.b.weight",
      "heads.b.bias",
      "heads.a.weight",
    ]);
    for (const t of Object.values(sd)) t.dispose();
    assertEquals(net.namedModules().map(([n]) => n), [
      "",
      "stem",
      "layer1",
      "layer1.0",
      "layer1.0.conv1",
      "layer1.0.bn",
      "layer1.1",
      "layer1.1.conv1",
      "layer1.1.bn",
      "heads",
      "heads.b",
      "heads.a",
    ]);
    assertEquals(net.namedChildren().map(([n]) => n), ["stem", "layer1", "heads"]);
    assertEquals(net.numParameters(), 3 * 4 + 4 + 2 * (16 + 4 + 4) + 8 + 2 + 4 + 1);
    assert(net.layer1[1] instanceof Block && net.layer1.at(-1) === net.layer1[1], "Sequential indexing");
    assert(net.heads.get("a") instanceof Linear);
    assert(String(net).includes("(stem): Linear(in_features=3, out_features=4, bias=true)"), String(net));
    // A shared parameter and module are listed once.
    const tied = new Sequential(net.stem, net.stem);
    assertEquals(tied.namedParameters().map(([n]) => n), ["0.weight", "0.bias"]);
  } finally {
    net.dispose();
  }
});

gpuTest("Module: train/eval propagate, apply visits children first, parameters survive scopes", async () => {
  const net = scope(() => new Net());
  try {
    assert(net.training && net.layer1.at<Block>(0).bn.training);
    net.eval();
    assert(net.modules().every((m) => !m.training), "eval everywhere");
    net.train();
    assert(net.modules().every((m) => m.training), "train everywhere");
    const order: string[] = [];
    new Sequential(new ReLU(), new Sequential(new Tanh())).apply((m) => order.push(m.constructor.name));
    assertEquals(order, ["ReLU", "Tanh", "Sequential", "Sequential"]);
    // Parameters made inside the scope are alive after it.
    assert(net.parameters().every((p) => !p.isDisposed && p.requiresGrad));
    // zeroGrad frees gradients.
    const y = net.call(tensor([[1, 2, 3]]));
    y.sum().backward();
    assert(net.stem.weight.grad !== null);
    net.zeroGrad();
    assert(net.parameters().every((p) => p.grad === null));
    assertEquals((await net.layer1.at<Block>(1).bn.weight.data()).length, 4);
  } finally {
    net.dispose();
  }
  assert(net.parameters().every((p) => p.isDisposed) && net.buffers().every((b) => b.isDisposed), "dispose");
});

gpuTest("Module: stateDict round trip and loadStateDict checks", async () => {
  const a = new Net(), b = new Net();
  try {
    const before = await b.stem.weight.toArray();
    const sd = a.stateDict();
    // Mis-shaped, missing and unexpected keys are all reported, and nothing is loaded.
    const bad: Record<string, Tensor> = { ...sd, extra: zeros([1]), "stem.bias": zeros([5]) };
    delete bad["scale"];
    const err = assertThrows(() => b.loadStateDict(bad), Error);
    for (const s of ['missing key(s): "scale"', 'unexpected key(s): "extra"', 'size mismatch for "stem.bias"', "[5]"]) {
      assert(err.message.includes(s), `${s} in ${err.message}`);
    }
    assertEquals(await b.stem.weight.toArray(), before, "nothing half-loaded");
    // strict: false reports keys, still rejects wrong shapes.
    assertThrows(() => b.loadStateDict(bad, { strict: false }), Error, "size mismatch");
    const loose: Record<string, Tensor> = { ...sd, extra: zeros([1]) };
    delete loose["scale"];
    const res = b.loadStateDict(loose, { strict: false });
    assertEquals(res, { missingKeys: ["scale"], unexpectedKeys: ["extra"] });
    // A full load copies every value (int32 source converted to float32).
    const full: Map<string, Tensor> = new Map(Object.entries(sd));
    full.set("scale", tensor(Int32Array.from([7]), [1]));
    assertEquals(b.loadStateDict(full), { missingKeys: [], unexpectedKeys: [] });
    for (const [name, t] of Object.entries(b.stateDict())) {
      const want = name === "scale" ? [7] : await sd[name].toArray();
      assertEquals(await t.toArray(), want, name);
    }
    // Copies, not aliases: later changes to `a` do not reach `b`.
    constant_(a.stem.weight, 5);
    assert((await b.stem.weight.toArray()).every((v) => v !== 5));
  } finally {
    a.dispose();
    b.dispose();
  }
});

gpuTest("Module: registration errors, Parameter takes ownership", () => {
  const m = new Module();
  assertThrows(() => m.registerParameter("a.b", null), RangeError, '"a.b"');
  assertThrows(() => m.registerBuffer("w", new Parameter(zeros([1]))), TypeError, "registerParameter");
  assertThrows(() => m.forward(), Error, "not implemented");
  const src = tensor([[1, 2], [3, 4]]).T; // non-contiguous
  const p = new Parameter(src);
  assert(src.isDisposed && p.isContiguous && p.requiresGrad);
  p.dispose();
});

gpuTest("init: fans, gains and distributions", async () => {
  assertEquals(calculateFanInAndFanOut([16, 8, 3, 3]), { fanIn: 72, fanOut: 144 });
  assertThrows(() => calculateFanInAndFanOut([5]), RangeError, "fewer than 2");
  assertClose([calculateGain("leaky_relu", Math.sqrt(5)), calculateGain("tanh")], [Math.sqrt(2 / 6), 5 / 3]);
  const w = zeros([64, 64]); // 4096 samples
  const stats = async () => {
    const v = await w.toArray();
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
    return { mean, std, min: Math.min(...v), max: Math.max(...v) };
  };
  const check = async (what: string, mean: number, std: number, lo = -Infinity, hi = Infinity) => {
    const s = await stats();
    assert(Math.abs(s.mean - mean) < 0.06 * std + 1e-6, `${what} mean ${s.mean} vs ${mean}`);
    assert(Math.abs(s.std - std) < 0.05 * std + 1e-6, `${what} std ${s.std} vs ${std}`);
    assert(s.min >= lo && s.max <= hi, `${what} range [${s.min}, ${s.max}] outside [${lo}, ${hi}]`);
  };
  const gen = new Generator(3);
  uniform_(w, -2, 3, { generator: gen });
  await check("uniform", 0.5, 5 / Math.sqrt(12), -2, 3);
  normal_(w, 1, 2, { generator: gen });
  await check("normal", 1, 2);
  const b = Math.sqrt(6 / 128);
  xavierUniform_(w, 1, { generator: gen });
  await check("xavierUniform", 0, b / Math.sqrt(3), -b, b);
  xavierNormal_(w, 2, { generator: gen });
  await check("xavierNormal", 0, 2 * Math.sqrt(2 / 128));
  kaimingUniform_(w, { a: Math.sqrt(5), generator: gen });
  await check("kaimingUniform(a=√5)", 0, 1 / 8 / Math.sqrt(3), -1 / 8, 1 / 8);
  kaimingNormal_(w, { mode: "fan_out", nonlinearity: "relu", generator: gen });
  await check("kaimingNormal", 0, Math.SQRT2 / 8);
  // N(0, 1) truncated to [-1, 2]: mean and std of the truncated distribution.
  truncNormal_(w, 0, 1, -1, 2, { generator: gen });
  const phi = (x: number) => Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
  const Z = 0.9772498680518208 - 0.15865525393145707;
  const tMean = (phi(-1) - phi(2)) / Z;
  const tStd = Math.sqrt(1 + (-1 * phi(-1) - 2 * phi(2)) / Z - tMean * tMean);
  await check("truncNormal", tMean, tStd, -1, 2);
  ones_(w);
  assertEquals((await stats()).min, 1);
  zeros_(w);
  assertEquals((await stats()).max, 0);
  // Seeded: the same generator state gives the same numbers.
  const a1 = await uniform_(zeros([5]), 0, 1, { generator: new Generator(9) }).toArray();
  const a2 = await uniform_(zeros([5]), 0, 1, { generator: new Generator(9) }).toArray();
  assertEquals(a1, a2);
  assertThrows(() => uniform_(zeros([2], { dtype: "int32" })), TypeError, "float32");
});

gpuTest("Linear: PyTorch default init bounds, forward and gradients", async () => {
  const lin = new Linear(16, 3, { generator: new Generator(1) });
  const noBias = new Linear(2, 2, { bias: false });
  try {
    assertEquals(noBias.namedParameters().map(([n]) => n), ["weight"]);
    const w = await lin.weight.toArray(), bias = await lin.bias!.toArray();
    assert(w.every((v) => Math.abs(v) <= 0.25) && bias.every((v) => Math.abs(v) <= 0.25), "U(-1/√16, 1/√16)");
    assert(Math.max(...w.map(Math.abs)) > 0.15, "not degenerate");
    const xs = randomArray(2 * 16, 4);
    const y = lin.call(tensor(xs, [2, 16]));
    assertEquals(y.shape, [2, 3]);
    const ref = [0, 1].flatMap((i) =>
      [0, 1, 2].map((o) => bias[o] + xs.slice(i * 16, i * 16 + 16).reduce((s, v, k) => s + v * w[o * 16 + k], 0))
    );
    assertClose(await y.data(), ref, { atol: 1e-5 });
    y.sum().backward();
    // d(sum)/d bias = batch size; d/dW[o][k] = Σ_i x[i][k].
    assertClose(await lin.bias!.grad!.data(), [2, 2, 2]);
    assertClose((await lin.weight.grad!.data()).slice(0, 16), xs.slice(0, 16).map((v, k) => v + xs[16 + k]));
    assertThrows(() => lin.call(zeros([2, 5])), RangeError, "last dim 16");
  } finally {
    lin.dispose();
    noBias.dispose();
  }
});

gpuTest(
  "Linear: the weight gradient is gᵀ·x, contiguous (no copy before the optimizer), on folded [B, T, C] input",
  async () => {
    const lin = new Linear(5, 4, { generator: new Generator(3) });
    try {
      await scope(async () => {
        const [B, T, I, O] = [2, 3, 5, 4];
        const xs = randomArray(B * T * I, 11), gs = randomArray(B * T * O, 12);
        const x = tensor(xs, [B, T, I]).requiresGrad_();
        lin.call(x).backward(tensor(gs, [B, T, O]));
        const w = await lin.weight.toArray();
        const gw = lin.weight.grad!;
        assert(gw.isContiguous, `weight gradient strides ${gw.strides}`);
        const refW: number[] = [];
        for (let o = 0; o < O; o++) {
          for (let i = 0; i < I; i++) {
            let acc = 0;
            for (let r = 0; r < B * T; r++) acc += gs[r * O + o] * xs[r * I + i];
            refW.push(acc);
          }
        }
        assertClose(await gw.data(), refW, { atol: 1e-5 });
        const refX: number[] = [];
        for (let r = 0; r < B * T; r++) {
          for (let i = 0; i < I; i++) {
            let acc = 0;
            for (let o = 0; o < O; o++) acc += gs[r * O + o] * w[o * I + i];
            refX.push(acc);
          }
        }
        assertClose(await x.grad!.data(), refX, { atol: 1e-5 });
        assertClose(
          await lin.bias!.grad!.data(),
          [0, 1, 2, 3].map((o) => {
            let acc = 0;
            for (let r = 0; r < B * T; r++) acc += gs[r * O + o];
            return acc;
          }),
          { atol: 1e-5 },
        );
      });
    } finally {
      lin.dispose();
    }
  },
);

gpuTest("Embedding: lookup, padding row is zero and gets no gradient", async () => {
  const emb = new Embedding(5, 3, { paddingIdx: -1, generator: new Generator(2) });
  try {
    assertEquals(emb.paddingIdx, 4);
    const w = await emb.weight.toArray();
    assertEquals(w.slice(12), [0, 0, 0]);
    const idx = tensor(Int32Array.from([1, 4, 1, 0]), [2, 2]);
    const out = emb.call(idx);
    assertEquals(out.shape, [2, 2, 3]);
    assertClose(await out.data(), [...w.slice(3, 6), 0, 0, 0, ...w.slice(3, 6), ...w.slice(0, 3)]);
    out.sum().backward();
    assertClose(await emb.weight.grad!.data(), [1, 1, 1, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assertThrows(() => emb.call(zeros([2])), TypeError, "int32");
  } finally {
    emb.dispose();
  }
});

gpuTest("Dropout: train masks and scales by 1/(1-p), eval is the identity", async () => {
  const drop = new Dropout(0.25, { generator: new Generator(5) });
  const x = ones([4096]);
  const y = await drop.call(x).toArray();
  const kept = y.filter((v) => v !== 0);
  assertClose(kept.slice(0, 3), [4 / 3, 4 / 3, 4 / 3]);
  assert(kept.every((v) => Math.abs(v - 4 / 3) < 1e-6), "scale");
  const frac = 1 - kept.length / y.length;
  assert(Math.abs(frac - 0.25) < 0.03, `drop fraction ${frac}`);
  drop.eval();
  assertEquals(await drop.call(x).toArray(), await x.toArray());
  assertThrows(() => new Dropout(1.5), RangeError, "[0, 1]");
});

gpuTest("activation modules and containers", async () => {
  const x = tensor([-2, -0.5, 0, 1.5]);
  const v = [-2, -0.5, 0, 1.5];
  const sig = (a: number) => 1 / (1 + Math.exp(-a));
  const cases: [Module, number[]][] = [
    [new ReLU(), v.map((a) => Math.max(a, 0))],
    [new LeakyReLU(0.2), v.map((a) => (a > 0 ? a : 0.2 * a))],
    [new Tanh(), v.map(Math.tanh)],
    [new Sigmoid(), v.map(sig)],
    [new SiLU(), v.map((a) => a * sig(a))],
    [
      new GELU({ approximate: "tanh" }),
      v.map((a) => 0.5 * a * (1 + Math.tanh(0.7978845608 * (a + 0.044715 * a ** 3)))),
    ],
    [new Softplus({ beta: 2 }), v.map((a) => Math.log1p(Math.exp(2 * a)) / 2)],
    [new Softmax(0), v.map((a) => Math.exp(a) / v.reduce((s, b) => s + Math.exp(b), 0))],
    [new Identity(), v],
  ];
  for (const [m, want] of cases) {
    assertClose(await (m.forward as (x: Tensor) => Tensor)(x).data(), want, { msg: m.constructor.name });
  }
  const seq = new Sequential({ act: new ReLU(), id: new Identity() });
  assertEquals(seq.namedChildren().map(([n]) => n), ["act", "id"]);
  assertClose(await seq.call(x).data(), [0, 0, 0, 1.5]);
  const list = new ModuleList([new ReLU(), new Tanh()]);
  list.insert(1, new Sigmoid()).append(new SiLU());
  assertEquals(list.namedChildren().map(([n, m]) => `${n}:${m.constructor.name}`), [
    "0:ReLU",
    "1:Sigmoid",
    "2:Tanh",
    "3:SiLU",
  ]);
  assertEquals([...list].length, 4);
  const dict = new ModuleDict([["2", new ReLU()], ["1", new Tanh()]]);
  assertEquals(dict.keys(), ["2", "1"], "ModuleDict keeps insertion order even for integer-like keys");
  assertThrows(() => dict.set("a.b", new ReLU()), RangeError, '"a.b"');
});

gpuTest("packParameters: the layers' parameters share one storage, keep their values, names and loading", async () => {
  const layers = [new Linear(3, 2), new Linear(3, 4), new Linear(3, 1)];
  const before = await Promise.all(layers.map((l) => l.weight.data()));
  packParameters(layers, "weight");
  const storage = layers[0].weight.storage;
  assert(layers.every((l) => l.weight.storage === storage && l.weight instanceof Parameter && l.weight.requiresGrad));
  assertEquals(layers.map((l) => l.weight.offset - layers[0].weight.offset), [0, 6, 18]);
  assertEquals(await Promise.all(layers.map((l) => l.weight.data())), before);
  // Loading writes into the shared storage (the views stay views); other parameters are untouched.
  const fresh = new Linear(3, 4);
  layers[1].loadStateDict(fresh.stateDict());
  assert(layers[1].weight.storage === storage);
  assertEquals(await layers[1].weight.data(), await fresh.weight.data());
  assertEquals(await layers[0].weight.data(), before[0]);
  assertThrows(() => packParameters([layers[0], layers[0]], "weight"), RangeError, "appears twice");
  assertThrows(() => packParameters([new ReLU()], "weight"), TypeError, 'no parameter "weight"');
  for (const l of [...layers, fresh]) l.dispose();
});

gpuTest("chain and Sequential run a norm and the activation after it as one fused layer, same values", async () => {
  const x = tensor(randomArray(2 * 4 * 3 * 3, 31, -2, 2), [2, 4, 3, 3]);
  for (const [norm, act] of [[new BatchNorm2d(4), new ReLU()], [new GroupNorm(2, 4), new SiLU()]] as const) {
    const seq = new Sequential(norm, act);
    const ops = dispatchedOps(() => seq.call(x).dispose());
    const alone = dispatchedOps(() => norm.call(x).dispose());
    assertEquals(ops.length, alone.length, `${norm.constructor.name} → ${act.constructor.name}: no separate pass`);
    assert(ops.some((o) => o.includes(`+${act.fusibleActivation}`)), `fused kernel in ${ops}`);
    const separate = act.call(norm.call(x));
    assertClose(await seq.call(x).data(), await separate.data(), { atol: 1e-5 });
    // Not fused across a function stage or in the other order.
    assertEquals(dispatchedOps(() => chain(x, norm, (h) => h, act).dispose()).length, alone.length + 1);
    assertEquals(dispatchedOps(() => chain(x, act, norm).dispose()).length, alone.length + 1);
  }
});
