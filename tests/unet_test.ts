/**
 * The DDPM U-Net (models/unet.ts) against its PyTorch twin (scripts/make_unet_fixture.py):
 * parameter counts and state-dict keys/shapes/order of three configurations, and eval-mode
 * outputs of a tiny network (odd 7×7 input, three levels, multi-head attention, class
 * conditioning with the null class, capped GroupNorm groups) after loading PyTorch's weights;
 * gradients reach every parameter; 28×28 and 64×64 forward shapes; and a tiny U-Net learns to
 * predict the noise of a 4-image set.
 */
import {
  AdamW,
  dispatchCounters,
  Generator,
  manualSeed,
  mseLoss,
  noGrad,
  randint,
  randn,
  scope,
  silu,
  type Tensor,
  tensor,
} from "../mod.ts";
import { loadSafetensors, saveSafetensors } from "../core/nn/safetensors.ts";
import { type DownBlock2D, normGroups, ResnetBlock2D, TimeShifts, type UpBlock2D } from "../models/unet_blocks.ts";
import { GroupNorm } from "../core/nn/norm.ts";
import type { NormActivation } from "../core/ops/norm.ts";
import type { ModuleList } from "../core/nn/containers.ts";
import { UNet, type UNetOptions } from "../models/unet.ts";
import { timestepEmbedding } from "../models/embeddings.ts";
import { assert, assertEquals } from "./_asserts.ts";
import { assertClose, gpuTest, maxAbsOf, randomArray, withFixedKernels } from "./_util.ts";

interface KeysEntry {
  config: Record<string, unknown>;
  num_parameters: number;
  keys: [string, number[]][];
}

const keysFixture = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/unet_keys.json", import.meta.url)),
) as Record<"bench" | "large" | "tiny", KeysEntry>;

/** The fixture's PyTorch keyword arguments as `UNetOptions`. */
function optionsOf(cfg: Record<string, unknown>): UNetOptions {
  const names: Record<string, keyof UNetOptions> = {
    in_channels: "inChannels",
    out_channels: "outChannels",
    base_channels: "baseChannels",
    channel_mults: "channelMults",
    num_res_blocks: "numResBlocks",
    attention_resolutions: "attentionResolutions",
    head_dim: "headDim",
    num_heads: "numHeads",
    num_groups: "numGroups",
    num_classes: "numClasses",
    dropout: "dropout",
    image_size: "imageSize",
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cfg)) {
    if (!(k in names)) throw new Error(`unet fixture: unknown config key ${k}`);
    out[names[k]] = v;
  }
  return out as UNetOptions;
}

gpuTest("unet: parameter counts and state-dict keys, shapes and order equal the PyTorch twin's", () => {
  for (const name of ["bench", "large", "tiny"] as const) {
    const entry = keysFixture[name];
    const net = new UNet(optionsOf(entry.config));
    assertEquals(net.numParameters(), entry.num_parameters, `${name}: parameter count`);
    const sd = net.stateDict();
    assertEquals(Object.entries(sd).map(([k, t]) => [k, [...t.shape]]), entry.keys, `${name}: keys`);
    net.dispose();
  }
  assertEquals(keysFixture.bench.num_parameters, 3_941_315);
  // The group cap: largest divisor ≤ the maximum.
  assertEquals([normGroups(64, 32), normGroups(48, 32), normGroups(24, 6), normGroups(16, 6), normGroups(7, 4)], [
    32,
    24,
    6,
    4,
    1,
  ]);
});

gpuTest("unet: eval-mode output matches PyTorch after loading its safetensors (tiny, 7×7, classes)", async () => {
  const file = await loadSafetensors(new URL("./fixtures/unet_tiny.safetensors", import.meta.url));
  const {
    "input.x": x,
    "input.t": t,
    "input.labels": labels,
    "expected.out": expected,
    "expected.out_null": expectedNull,
    ...state
  } = file;
  const net = new UNet(optionsOf(keysFixture.tiny.config));
  net.loadStateDict(state);
  net.eval();
  assertEquals(t.dtype, "int32");
  const y = noGrad(() => net.call(x, t, labels));
  assertEquals(y.shape, [3, 3, 7, 7]);
  const want = await expected.data();
  const scale = maxAbsOf(want);
  assertClose(await y.data(), want, { atol: 1e-4 * scale, rtol: 0, msg: "output" });
  // No labels → the null class; float32 timesteps give the same as int32 ones.
  const yNull = noGrad(() => net.call(x, t.float()));
  assertClose(await yNull.data(), await expectedNull.data(), { atol: 1e-4 * scale, rtol: 0, msg: "null-class output" });
  // Round trip through safetensors: a fresh network loads what this one saved.
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  try {
    await saveSafetensors(path, net.stateDict());
    const copy = new UNet(optionsOf(keysFixture.tiny.config)).eval();
    copy.loadStateDict(await loadSafetensors(path));
    assertEquals(await noGrad(() => copy.call(x, t, labels)).data(), await y.data());
    copy.dispose();
  } finally {
    await Deno.remove(path);
  }
  net.dispose();
});

gpuTest("unet: sinusoidal timestep embedding is [cos, sin] over 10000^(−i/half) (odd dims padded)", async () => {
  const ts = [0, 3, 250.5];
  const emb = timestepEmbedding(tensor(ts), 9);
  assertEquals(emb.shape, [3, 9]);
  const half = 4;
  const want: number[] = [];
  for (const t of ts) {
    // The GPU forms t·freq in float32 (one rounding), as the PyTorch twin does.
    const args = Array.from(
      { length: half },
      (_, i) => Math.fround(t * Math.fround(Math.exp(-Math.log(10000) * i / half))),
    );
    want.push(...args.map(Math.cos), ...args.map(Math.sin), 0);
  }
  assertClose(await emb.data(), want, { atol: 2e-5, rtol: 0 });
  const plain = timestepEmbedding(tensor(new Int32Array([3])), 4, { flipSinToCos: false, downscaleFreqShift: 1 });
  const f = [1, Math.exp(-Math.log(10000))];
  assertClose(await plain.data(), [Math.sin(3 * f[0]), Math.sin(3 * f[1]), Math.cos(3 * f[0]), Math.cos(3 * f[1])], {
    atol: 1e-6,
  });
});

gpuTest("unet: one backward reaches every parameter (tiny, train mode)", async () => {
  manualSeed(3);
  const net = new UNet({
    inChannels: 2,
    baseChannels: 8,
    channelMults: [1, 2],
    numResBlocks: 1,
    attentionResolutions: [4, 8],
    headDim: 4,
    numGroups: 4,
    numClasses: 2,
    imageSize: 8,
  });
  // Every class row, the null row included, is used, so the embedding table's gradient is dense.
  const B = 3;
  const x = tensor(Float32Array.from(randomArray(B * 2 * 8 * 8, 11)), [B, 2, 8, 8]);
  const y = net.call(x, tensor(new Int32Array([5, 400, 999])), tensor(new Int32Array([0, 1, 2])));
  assertEquals(y.shape, [B, 2, 8, 8]);
  const w = tensor(Float32Array.from(randomArray(y.size, 12)), [...y.shape]);
  y.mul(w).sum().backward();
  const maxAbs = new Map<string, number>();
  for (const [name, p] of net.namedParameters()) {
    assert(p.grad, `${name}: no gradient`);
    const g = await p.grad.data();
    assert(g.every(Number.isFinite), `${name}: finite gradient`);
    maxAbs.set(name, maxAbsOf(g));
  }
  // Structural zero: adding to_k's bias shifts every score of a query row by the same q·b, which
  // the softmax cancels, so ∂loss/∂to_k.bias = 0 exactly in real arithmetic (rounding noise here).
  const keyBias = [...maxAbs.keys()].filter((n) => n.endsWith("to_k.bias"));
  assertEquals(keyBias.length, 7, "attention blocks: 2 down, 1 mid, 4 up");
  for (const n of keyBias) {
    const q = maxAbs.get(n.replace("to_k.bias", "to_q.bias"))!;
    assert(maxAbs.get(n)! <= 1e-4 * q, `${n}: ${maxAbs.get(n)} should be ~0 next to to_q.bias's ${q}`);
  }
  const zero = [...maxAbs].filter(([n, v]) => !n.endsWith("to_k.bias") && !(v > 0)).map(([n]) => n);
  assertEquals(zero, [], "parameters with an all-zero gradient");
  net.dispose();
});

gpuTest(
  "unet: GroupNorm+SiLU fused = unfused (output, every parameter's gradient), 2 fewer dispatches a site",
  async () => {
    /** Output, gradients and forward/backward dispatch counts, with GroupNorm's fused SiLU on or swapped for silu(norm). */
    const run = async (fused: boolean) => {
      manualSeed(5);
      const net = new UNet({
        inChannels: 2,
        baseChannels: 8,
        channelMults: [1, 2],
        numResBlocks: 1,
        attentionResolutions: [4],
        headDim: 4,
        numGroups: 4,
        numClasses: 2,
        imageSize: 8,
      });
      const forward = GroupNorm.prototype.forward;
      if (!fused) {
        GroupNorm.prototype.forward = function (this: GroupNorm, x: Tensor, act: NormActivation = "none") {
          const y = forward.call(this, x);
          return act === "silu" ? silu(y) : y;
        };
      }
      try {
        const B = 2;
        const x = tensor(Float32Array.from(randomArray(B * 2 * 8 * 8, 21)), [B, 2, 8, 8]);
        const w = tensor(Float32Array.from(randomArray(B * 2 * 8 * 8, 22)), [B, 2, 8, 8]);
        let d = dispatchCounters().dispatches;
        const y = net.call(x, tensor(new Int32Array([7, 600])), tensor(new Int32Array([1, 2])));
        const fwd = dispatchCounters().dispatches - d;
        const loss = y.mul(w).sum();
        d = dispatchCounters().dispatches;
        loss.backward();
        const bwd = dispatchCounters().dispatches - d;
        const grads = new Map<string, Float32Array>();
        for (const [name, p] of net.namedParameters()) grads.set(name, (await p.grad!.data()) as Float32Array);
        const sites = 2 * net.modules().filter((m) => m instanceof ResnetBlock2D).length + 1;
        return { out: await y.data(), grads, fwd, bwd, sites };
      } finally {
        GroupNorm.prototype.forward = forward;
        net.dispose();
      }
    };
    // Fixed kernel choices: background tuning must not change the other ops' dispatches between the runs.
    const fused = await withFixedKernels(() => run(true)), plain = await withFixedKernels(() => run(false));
    const scale = maxAbsOf(plain.out);
    assertClose(fused.out, plain.out, { atol: 1e-5 * scale, rtol: 1e-4, msg: "output" });
    assertEquals([...fused.grads.keys()], [...plain.grads.keys()]);
    for (const [name, g] of plain.grads) {
      // to_k.bias's gradient is 0 up to rounding (see the test above): measure it on to_q.bias's scale.
      const scaleOf = name.endsWith("to_k.bias") ? plain.grads.get(name.replace("to_k.bias", "to_q.bias"))! : g;
      assertClose(fused.grads.get(name)!, g, { atol: 1e-4 * maxAbsOf(scaleOf), rtol: 1e-3, msg: `grad of ${name}` });
    }
    assertEquals(
      fused.sites,
      2 * 8 + 1,
      "8 residual blocks (2 down, 2 mid, 4 up): 2 norm+silu each, plus conv_norm_out",
    );
    assertEquals(plain.fwd - fused.fwd, fused.sites, "forward: one dispatch fewer per norm+silu");
    assertEquals(plain.bwd - fused.bwd, fused.sites, "backward: one dispatch fewer per norm+silu");
  },
);

/** Which levels of a path have self-attention. */
function withAttention(blocks: ModuleList): boolean[] {
  return [...blocks].map((b) => (b as DownBlock2D | UpBlock2D).attentions !== null);
}

gpuTest(
  "unet: the blocks' time projections as one product (TimeShifts) equal each block's own, values and gradients",
  async () => {
    const run = async (batched: boolean) => {
      manualSeed(5);
      const g = new Generator(7);
      // Two groups: a shift per channel that GroupNorm does not cancel (one channel a group would).
      const blocks = [
        new ResnetBlock2D(4, 8, 6, { generator: g, numGroups: 2 }),
        new ResnetBlock2D(8, 4, 6, { generator: g, numGroups: 2 }),
      ];
      const x = tensor(Float32Array.from(randomArray(2 * 4 * 5 * 5, 21)), [2, 4, 5, 5]);
      const tembAct = tensor(Float32Array.from(randomArray(2 * 6, 22)), [2, 6], { requiresGrad: true });
      const temb = batched ? new TimeShifts(tembAct, blocks) : tembAct;
      const y = blocks[1].call(blocks[0].call(x, temb), temb);
      y.mul(tensor(Float32Array.from(randomArray(y.size, 23)), [...y.shape])).sum().backward();
      const grads = [tembAct, ...blocks.flatMap((b) => [b.time_emb_proj.weight, b.time_emb_proj.bias!, b.conv1.weight])]
        .map((t) => t.grad!.data());
      return [await y.data(), ...(await Promise.all(grads))];
    };
    const [one, each] = [await run(true), await run(false)];
    const names = ["y", "d silu(temb)", "proj0 w", "proj0 b", "conv0 w", "proj1 w", "proj1 b", "conv1 w"];
    names.forEach((name, i) => assertClose(one[i], each[i], { atol: 1e-5, rtol: 1e-4, msg: name }));
  },
);

gpuTest("unet: 28×28 (attention at 7) and 64×64 (attention at 16) forward shapes", () => {
  const small = new UNet(optionsOf(keysFixture.bench.config));
  assertEquals(small.config.levelSizes, [28, 14, 7]);
  assertEquals(withAttention(small.down_blocks), [false, false, true], "attention at 7×7");
  assertEquals(withAttention(small.up_blocks), [true, false, false]);
  const y = noGrad(() =>
    small.call(randn([2, 3, 28, 28]), tensor(new Int32Array([1, 999])), tensor(new Int32Array([0, 4])))
  );
  assertEquals(y.shape, [2, 3, 28, 28]);
  small.dispose();
  const large = new UNet(optionsOf(keysFixture.large.config));
  assertEquals(large.config.levelSizes, [64, 32, 16, 8]);
  assertEquals(withAttention(large.down_blocks), [false, false, true, false]);
  assertEquals(withAttention(large.up_blocks), [false, true, false, false]);
  const z = noGrad(() => large.call(randn([1, 1, 64, 64]), 500));
  assertEquals(z.shape, [1, 1, 64, 64]);
  large.dispose();
});

gpuTest("unet: configuration errors name the option", () => {
  const bad: [UNetOptions, RegExp][] = [
    [{ attentionResolutions: [8] }, /attention resolution 8 is not a level size.*\[28,14,7\]/],
    [{ channelMults: [] }, /channelMults must not be empty/],
    [{ numHeads: 2, headDim: 8 }, /numHeads or headDim/],
    [{ baseChannels: 6, attentionResolutions: [7], numHeads: 5 }, /numHeads 5 must be a positive divisor of 24/],
  ];
  for (const [opts, re] of bad) {
    let msg = "";
    try {
      new UNet(opts).dispose();
    } catch (e) {
      msg = (e as Error).message;
    }
    assert(re.test(msg), `expected ${re}, got "${msg}"`);
  }
});

/**
 * Overfitting: a tiny U-Net (base 16, mults [1, 2], 1 residual block, attention at 4×4 and in
 * the mid block, 176,849 parameters) learns ε-prediction on four fixed 8×8 images (a square,
 * a cross, a ramp and a checkerboard in [−1, 1]). DDPM's linear β schedule (1e-4 → 0.02, 1000
 * steps); each step draws t and ε for every image 4 times (batch 16); AdamW lr 5e-3, no weight
 * decay, 100 steps, seed 0. The held-out check uses fixed noise at t ∈ {100, 300, 500, 700}, one
 * draw per image and t: its MSE starts ≈ 1.1 and must end below 0.2 (measured 0.11; seed 1 gave
 * 0.13). Predicting ε̂ = x_t, the best trivial guess, scores ≈ 0.43 there, ε̂ = 0 scores 1.
 */
gpuTest("unet: a tiny U-Net learns to predict the noise of 4 images (held-out ε-MSE < 0.2 in 100 steps)", async () => {
  await withFixedKernels(overfit); // the same figures on every run
});

async function overfit(): Promise<void> {
  const HW = 8, T = 1000, REPEAT = 4, STEPS = 100, MAX_EVAL = 0.2;
  const alphaBar: number[] = [];
  let acc = 1;
  for (let i = 0; i < T; i++) alphaBar.push(acc *= 1 - (1e-4 + ((0.02 - 1e-4) * i) / (T - 1)));
  const sqrtAb = tensor(Float32Array.from(alphaBar, Math.sqrt));
  const sqrtOneMinus = tensor(Float32Array.from(alphaBar, (a) => Math.sqrt(1 - a)));
  const images = new Float32Array(4 * HW * HW);
  const c = (HW - 1) / 2;
  for (let y = 0; y < HW; y++) {
    for (let x = 0; x < HW; x++) {
      const at = y * HW + x;
      images[at] = Math.abs(y - c) < HW / 4 && Math.abs(x - c) < HW / 4 ? 1 : -1;
      images[HW * HW + at] = Math.abs(y - c) < 1 || Math.abs(x - c) < 1 ? 1 : -1;
      images[2 * HW * HW + at] = -1 + (2 * x) / (HW - 1);
      images[3 * HW * HW + at] = (x + y) % 2 ? 1 : -1;
    }
  }
  const x0 = tensor(images, [4, 1, HW, HW]);
  /** q(x_t | x_0) = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε. */
  const noisy = (t: Tensor, eps: Tensor, x: Tensor): Tensor => {
    const a = sqrtAb.indexSelect(0, t).reshape([-1, 1, 1, 1]);
    const b = sqrtOneMinus.indexSelect(0, t).reshape([-1, 1, 1, 1]);
    return x.mul(a).add(eps.mul(b));
  };
  manualSeed(0);
  const net = new UNet({
    inChannels: 1,
    baseChannels: 16,
    channelMults: [1, 2],
    numResBlocks: 1,
    attentionResolutions: [4],
    numGroups: 8,
    imageSize: HW,
  });
  assertEquals(net.numParameters(), 176_849);
  const evalT = tensor(Int32Array.from({ length: 16 }, (_, i) => [100, 300, 500, 700][i >> 2]));
  const evalX = x0.repeat([4, 1, 1, 1]);
  const evalEps = randn([16, 1, HW, HW], { generator: new Generator(7) });
  const evalLoss = async (): Promise<number> => {
    net.eval();
    const loss = await scope(() => noGrad(() => mseLoss(net.call(noisy(evalT, evalEps, evalX), evalT), evalEps)))
      .item();
    net.train();
    return loss;
  };
  const before = await evalLoss();
  const opt = new AdamW(net.parameters(), { lr: 5e-3, weightDecay: 0 });
  const batch = x0.repeat([REPEAT, 1, 1, 1]);
  const t0 = performance.now();
  for (let step = 0; step < STEPS; step++) {
    scope(() => {
      const t = randint(0, T, [4 * REPEAT]);
      const eps = randn([4 * REPEAT, 1, HW, HW]);
      mseLoss(net.call(noisy(t, eps, batch), t), eps).backward();
      opt.step();
      opt.zeroGrad();
    });
  }
  const after = await evalLoss();
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `unet overfit: held-out ε-MSE ${before.toFixed(3)} → ${after.toFixed(3)} in ${STEPS} steps, ${
      seconds.toFixed(1)
    } s`,
  );
  assert(before > 0.9, `an untrained network should not predict the noise (MSE ${before})`);
  assert(after < MAX_EVAL, `held-out ε-MSE ${after} after ${STEPS} steps, want < ${MAX_EVAL}`);
  net.dispose();
}
