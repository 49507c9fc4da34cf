/**
 * DiT3D (models/dit3d.ts): output and gradients against its PyTorch twin
 * (scripts/make_dit3d_fixture.py: non-cubic grid and patches, a padded window block), and
 * classifier-free guidance moving every latent channel; window attention against a float64 reference that attends inside each
 * window only (non-cubic grid and windows, padding on all three axes), its input gradient, that it
 * equals global attention when one window covers the grid and differs otherwise (the public code's
 * "window attention" was global: this test would catch it); the 3-D sin-cos embedding; shapes for
 * non-cubic grids and patches; zero output at construction (adaLN-Zero); option errors.
 */
import { loadSafetensors } from "../core/nn/safetensors.ts";
import { noGrad, type Tensor, tensor } from "../mod.ts";
import { DiTAttention, type DiTBlock } from "../models/dit.ts";
import {
  DiT3D,
  dit3d,
  dit3dKeysFromSeed,
  resolveDiT3DConfig,
  sincosPosEmbed3d,
  type Triple,
  WindowAttention3d,
} from "../models/dit3d.ts";
import { ClassifierFreeGuidance } from "../samplers/guidance.ts";
import { OptionError } from "../util/errors.ts";
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { assertClose, assertGradMatches, gpuTest, gradCheck, maxAbsOf, randomArray } from "./_util.ts";

const DIM = 12, HEADS = 2;

interface Weights {
  wqkv: Float64Array;
  bqkv: Float64Array;
  wproj: Float64Array;
  bproj: Float64Array;
}

function weights(seed: number): Weights {
  const r = (n: number, s: number, scale: number) =>
    Float64Array.from(Float32Array.from(randomArray(n, s, -scale, scale)));
  return {
    wqkv: r(3 * DIM * DIM, seed, 0.5),
    bqkv: r(3 * DIM, seed + 1, 0.2),
    wproj: r(DIM * DIM, seed + 2, 0.5),
    bproj: r(DIM, seed + 3, 0.2),
  };
}

function load(attn: DiTAttention, w: Weights): void {
  const t = (a: Float64Array, shape: number[]) => tensor(Float32Array.from(a), shape);
  attn.loadStateDict({
    "qkv.weight": t(w.wqkv, [3 * DIM, DIM]),
    "qkv.bias": t(w.bqkv, [3 * DIM]),
    "proj.weight": t(w.wproj, [DIM, DIM]),
    "proj.bias": t(w.bproj, [DIM]),
  });
}

/**
 * Float64 multi-head attention of x (B, T, DIM) on a (gd, gh, gw) token grid where token i sees
 * token j only if both fall in the same window (window null: everything is one window).
 */
function reference(x: Float64Array, B: number, grid: Triple, window: Triple | null, w: Weights): Float64Array {
  const [gd, gh, gw] = grid, T = gd * gh * gw, hd = DIM / HEADS;
  const windowOf = (i: number) => {
    if (!window) return 0;
    const d = Math.floor(i / (gh * gw)), h = Math.floor(i / gw) % gh, c = i % gw;
    return ((Math.floor(d / window[0]) * 1000) + Math.floor(h / window[1])) * 1000 + Math.floor(c / window[2]);
  };
  const out = new Float64Array(B * T * DIM);
  for (let b = 0; b < B; b++) {
    const qkv = new Float64Array(T * 3 * DIM);
    for (let i = 0; i < T; i++) {
      for (let o = 0; o < 3 * DIM; o++) {
        let s = w.bqkv[o];
        for (let k = 0; k < DIM; k++) s += w.wqkv[o * DIM + k] * x[(b * T + i) * DIM + k];
        qkv[i * 3 * DIM + o] = s;
      }
    }
    const heads = new Float64Array(T * DIM);
    for (let h = 0; h < HEADS; h++) {
      for (let i = 0; i < T; i++) {
        const scores: number[] = [], js: number[] = [];
        for (let j = 0; j < T; j++) {
          if (windowOf(i) !== windowOf(j)) continue;
          let s = 0;
          for (let k = 0; k < hd; k++) s += qkv[i * 3 * DIM + h * hd + k] * qkv[j * 3 * DIM + DIM + h * hd + k];
          scores.push(s / Math.sqrt(hd));
          js.push(j);
        }
        const m = Math.max(...scores), e = scores.map((s) => Math.exp(s - m)), z = e.reduce((a, v) => a + v, 0);
        for (let k = 0; k < hd; k++) {
          let s = 0;
          js.forEach((j, q) => s += (e[q] / z) * qkv[j * 3 * DIM + 2 * DIM + h * hd + k]);
          heads[i * DIM + h * hd + k] = s;
        }
      }
    }
    for (let i = 0; i < T; i++) {
      for (let o = 0; o < DIM; o++) {
        let s = w.bproj[o];
        for (let k = 0; k < DIM; k++) s += w.wproj[o * DIM + k] * heads[i * DIM + k];
        out[(b * T + i) * DIM + o] = s;
      }
    }
  }
  return out;
}

const GRID: Triple = [3, 4, 5];

const fixture = JSON.parse(Deno.readTextFileSync(new URL("./fixtures/dit3d.json", import.meta.url))) as {
  tiny: { config: Record<string, unknown>; keys: [string, number[]][] };
  grad_params: string[];
};

gpuTest("dit3d: output and gradients match the PyTorch twin after a strict load of its safetensors", async () => {
  const file = await loadSafetensors(new URL("./fixtures/dit3d_tiny.safetensors", import.meta.url));
  const state = Object.fromEntries(Object.entries(file).filter(([k]) => !/^(input|expected|grad)\./.test(k)));
  const c = fixture.tiny.config as Record<string, number & Triple & number[]>;
  const net = new DiT3D({
    inputSize: c.input_size,
    patchSize: c.patch_size,
    inChannels: c.in_channels,
    hiddenSize: c.hidden_size,
    depth: c.depth,
    numHeads: c.num_heads,
    mlpRatio: c.mlp_ratio,
    numClasses: c.num_classes,
    windowSize: c.window_size,
    windowBlocks: c.window_blocks,
  });
  assertEquals(Object.entries(net.stateDict()).map(([k, t]) => [k, [...t.shape]]), fixture.tiny.keys);
  net.loadStateDict(state);
  const x = file["input.x"].detach();
  x.requiresGrad = true;
  const y = net.call(x, file["input.t"], file["input.labels"]);
  const want = await file["expected.out"].data();
  assertClose(await y.data(), want, { atol: 1e-4 * maxAbsOf(want), rtol: 0, msg: "output" });
  y.mul(file["input.grad_weights"]).sum().backward();
  await assertGradMatches("input", x.grad, file["grad.input.x"]);
  const params = new Map(net.namedParameters());
  for (const name of fixture.grad_params) await assertGradMatches(name, params.get(name)!.grad, file[`grad.${name}`]);

  // Classifier-free guidance moves every latent channel (the seed's sampler guided three of four).
  const t = file["input.t"], labels = tensor(new Int32Array([1, 0]), [2]), nullClass = c.num_classes;
  const [guided, cond, uncond] = noGrad(() => [
    new ClassifierFreeGuidance({ guidanceScale: 3 }).predict((a, b, l) => net.call(a, b, l), x, t, labels, nullClass),
    net.call(x, t, labels),
    net.call(x, t, tensor(new Int32Array([nullClass, nullClass]), [2])),
  ]);
  const [g, cd, u] = await Promise.all([guided.data(), cond.data(), uncond.data()]);
  const perChannel = 4 * 4 * 6, C = c.in_channels;
  for (let b = 0; b < 2; b++) {
    for (let ch = 0; ch < C; ch++) {
      let moved = 0;
      for (let i = 0; i < perChannel; i++) {
        const k = (b * C + ch) * perChannel + i;
        assert(Math.abs(g[k] - (u[k] + 3 * (cd[k] - u[k]))) <= 1e-4 * (1 + Math.abs(g[k])), `guided value ${k}`);
        moved = Math.max(moved, Math.abs(g[k] - cd[k]));
      }
      assert(moved > 1e-3, `sample ${b}, channel ${ch}: guidance changed nothing (${moved})`);
    }
  }
  for (const v of [guided, cond, uncond, labels]) v.dispose();
  net.dispose();
  for (const v of Object.values(file)) v.dispose();
});

gpuTest(
  "dit3d: window attention attends inside each window only (padding on every axis), with its gradient",
  async () => {
    const w = weights(11), window: Triple = [2, 3, 2], B = 2, T = GRID[0] * GRID[1] * GRID[2];
    const attn = new WindowAttention3d(DIM, HEADS, GRID, window);
    load(attn, w);
    assert(attn.key_mask !== null, "3×4×5 in 2×3×2 windows is padded on all three axes");
    await gradCheck(
      "window attention",
      [{ shape: [B, T, DIM] }],
      (x) => attn.call(x),
      (x) => reference(x, B, GRID, window, w),
      { atol: 1e-4, rtol: 1e-4 },
    );
    attn.dispose();
  },
);

gpuTest(
  "dit3d: window attention equals global attention when one window covers the grid, and differs otherwise",
  async () => {
    const w = weights(5), B = 2, T = GRID[0] * GRID[1] * GRID[2];
    const x = tensor(Float32Array.from(randomArray(B * T * DIM, 3)), [B, T, DIM]);
    const global = new DiTAttention(DIM, HEADS);
    load(global, w);
    const run = (m: DiTAttention) => noGrad(() => m.call(x));
    const g = await run(global).data();
    assertClose(g, reference(Float64Array.from(await x.data()), B, GRID, null, w), { atol: 1e-4, msg: "global" });
    // One (padded) window over the whole 3×4×5 grid: the same attention, padding never attended to.
    const whole = new WindowAttention3d(DIM, HEADS, GRID, [4, 4, 8]);
    load(whole, w);
    assertClose(await run(whole).data(), g, { atol: 1e-5, msg: "a window covering the grid is global attention" });
    // Smaller windows: local, so not the global result.
    const local = new WindowAttention3d(DIM, HEADS, GRID, [2, 2, 5]);
    load(local, w);
    const l = await run(local).data() as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < l.length; i++) maxDiff = Math.max(maxDiff, Math.abs(l[i] - g[i]));
    assert(maxDiff > 1e-2, `window attention must not be global (max difference ${maxDiff})`);
    for (const m of [global, whole, local]) m.dispose();
    x.dispose();
  },
);

gpuTest("dit3d: the 3-D sin-cos embedding gives a third of the width per axis (d, h, w)", () => {
  const e = sincosPosEmbed3d(12, [2, 3, 4]);
  assertEquals(e.length, 24 * 12);
  const token = (d: number, h: number, w: number) =>
    e.subarray(((d * 3 + h) * 4 + w) * 12, ((d * 3 + h) * 4 + w + 1) * 12);
  const oneD = (pos: number) =>
    [0, 1].map((k) => Math.sin(pos / 10000 ** (k / 2))).concat(
      [0, 1].map((k) => Math.cos(pos / 10000 ** (k / 2))),
    );
  assertClose(token(1, 2, 3), [...oneD(1), ...oneD(2), ...oneD(3)], { atol: 1e-12 });
  assertClose(token(0, 0, 0), [...oneD(0), ...oneD(0), ...oneD(0)], { atol: 1e-12 });
});

gpuTest("dit3d: non-cubic grid and patches, window blocks, zero output at construction (adaLN-Zero)", async () => {
  const net = new DiT3D({
    inputSize: [8, 4, 12],
    patchSize: [4, 2, 4],
    inChannels: 3,
    hiddenSize: 24,
    depth: 2,
    numHeads: 2,
    numClasses: 2,
    windowSize: [2, 2, 2],
    windowBlocks: [1],
  });
  assertEquals(net.config.gridSize, [2, 2, 3]);
  assert(!((net.blocks.at(0) as DiTBlock).attn instanceof WindowAttention3d), "block 0 is global");
  assert((net.blocks.at(1) as DiTBlock).attn instanceof WindowAttention3d, "block 1 attends in windows");
  assert(!Object.keys(net.stateDict()).some((k) => k.includes("key_mask")), "the padding mask is not saved");
  const x = tensor(Float32Array.from(randomArray(2 * 3 * 8 * 4 * 12, 1)), [2, 3, 8, 4, 12]);
  const y: Tensor = noGrad(() =>
    net.call(x, tensor(new Int32Array([3, 500]), [2]), tensor(new Int32Array([0, 2]), [2]))
  );
  assertEquals(y.shape, [2, 3, 8, 4, 12]);
  assert((await y.data()).every((v) => v === 0), "adaLN-Zero: an untrained DiT3D outputs zeros");
  for (const t of [x, y]) t.dispose();
  net.dispose();
  const xl = resolveDiT3DConfig({ ...{ depth: 28, hiddenSize: 1152, numHeads: 16 }, inputSize: 16 });
  assertEquals(xl.numPatches, 512);
  const small = dit3d("S", { inputSize: 4, depth: 1 });
  assertEquals(small.config.hiddenSize, 384);
  small.dispose();
});

gpuTest("dit3d: the seeds' checkpoint keys map to DiT3D's", () => {
  assertEquals(
    Object.keys(dit3dKeysFromSeed({
      "model.module.patch_embed.proj.weight": 1,
      "model.blocks.0.attn.qkv.weight": 2,
      "pos_embed": 3,
    })),
    ["x_embedder.proj.weight", "blocks.0.attn.qkv.weight", "pos_embed"],
  );
  assertThrows(() => dit3dKeysFromSeed({ "module.pos_embed": 1, "pos_embed": 2 }), Error, "two keys map to pos_embed");
});

gpuTest("dit3d: bad options are refused naming the option", () => {
  assertThrows(() => resolveDiT3DConfig({ inputSize: [8, 4, 12], patchSize: [3, 2, 4] }), OptionError, "patchSize");
  assertThrows(() => resolveDiT3DConfig({ hiddenSize: 32, numHeads: 4 }), OptionError, "multiple of 6");
  assertThrows(() => resolveDiT3DConfig({ depth: 2, windowBlocks: [2] }), OptionError, "windowBlocks");
  assertThrows(() => resolveDiT3DConfig({ windowSize: [2, 2] as unknown as Triple }), OptionError, "windowSize");
});
