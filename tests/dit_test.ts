/**
 * DiT (models/dit.ts) against its PyTorch twin (scripts/make_dit_fixture.py): state-dict keys,
 * shapes and order; the output and the gradients of a tiny network (8×8×2, patch 2, width 32,
 * 2 blocks, 4 heads, 3 classes, every parameter random) after loading PyTorch's safetensors with
 * strict key matching; the preset parameter counts; the sin-cos position embedding against a
 * float64 reference; zero output at construction (adaLN-Zero); argument handling as the U-Net's;
 * option errors.
 */
import { loadSafetensors } from "../core/nn/safetensors.ts";
import { full, noGrad, type Tensor, tensor } from "../mod.ts";
import {
  DiT,
  dit,
  DIT_PRESETS,
  type DiTOptions,
  ditParameterCount,
  type DiTPresetName,
  ditS2,
  resolveDiTConfig,
  sincosPosEmbed2d,
} from "../models/dit.ts";
import { OptionError } from "../util/errors.ts";
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { assertClose, assertGradMatches, gpuTest, maxAbsOf, randomArray } from "./_util.ts";

interface DitFixture {
  param_counts: Record<"learn_sigma" | "eps", Record<DiTPresetName, number>>;
  tiny: { config: Record<string, number | boolean>; num_parameters: number; keys: [string, number[]][] };
  grad_params: string[];
}

const fixture = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/dit.json", import.meta.url)),
) as DitFixture;

/** The twin's keyword arguments as `DiTOptions`. */
function optionsOf(cfg: Record<string, number | boolean>): DiTOptions {
  const names: Record<string, keyof DiTOptions> = {
    input_size: "inputSize",
    patch_size: "patchSize",
    in_channels: "inChannels",
    hidden_size: "hiddenSize",
    depth: "depth",
    num_heads: "numHeads",
    mlp_ratio: "mlpRatio",
    num_classes: "numClasses",
    learn_sigma: "learnSigma",
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cfg)) {
    if (!(k in names)) throw new Error(`dit fixture: unknown config key ${k}`);
    out[names[k]] = v;
  }
  return out as DiTOptions;
}

const TINY = optionsOf(fixture.tiny.config);

/** An independent float64 reference of MAE's 2-D sin-cos table (gridSize², dim), written as numpy does it. */
function sincosReference(dim: number, gridSize: number): number[][] {
  const oneD = (d: number, pos: number[]): number[][] => {
    const omega = Array.from({ length: d / 2 }, (_, i) => 1 / Math.pow(10000, i / (d / 2)));
    return pos.map((p) => [...omega.map((w) => Math.sin(p * w)), ...omega.map((w) => Math.cos(p * w))]);
  };
  // np.meshgrid(grid_w, grid_h): grid[0][h][w] = w, grid[1][h][w] = h, flattened row-major.
  const ws: number[] = [], hs: number[] = [];
  for (let h = 0; h < gridSize; h++) {
    for (let w = 0; w < gridSize; w++) {
      ws.push(w);
      hs.push(h);
    }
  }
  const a = oneD(dim / 2, ws), b = oneD(dim / 2, hs);
  return a.map((row, i) => [...row, ...b[i]]);
}

gpuTest("dit: state-dict keys, shapes and order equal the PyTorch twin's; parameter counts of the presets", () => {
  const net = new DiT(TINY);
  assertEquals(Object.entries(net.stateDict()).map(([k, t]) => [k, [...t.shape]]), fixture.tiny.keys);
  assertEquals(net.numParameters(), fixture.tiny.num_parameters);
  assertEquals(ditParameterCount(TINY), fixture.tiny.num_parameters);
  assertEquals(net.numParameters({ trainableOnly: true }), fixture.tiny.num_parameters - 16 * 32, "pos_embed frozen");
  net.dispose();
  // Every preset on 32×32×4 latents with 1000 classes, counted from the configuration (no B-size
  // network is built on a CPU adapter), and one S network built to tie the count to the module.
  for (const [key, learnSigma] of [["learn_sigma", true], ["eps", false]] as const) {
    for (const name of Object.keys(DIT_PRESETS) as DiTPresetName[]) {
      const opts = { ...DIT_PRESETS[name], inputSize: 32, inChannels: 4, numClasses: 1000, learnSigma };
      assertEquals(ditParameterCount(opts), fixture.param_counts[key][name], `${name} (${key})`);
    }
  }
  const s2 = ditS2({ inputSize: 32, inChannels: 4, numClasses: 1000, learnSigma: true });
  assertEquals(s2.numParameters(), fixture.param_counts.learn_sigma["DiT-S/2"]);
  s2.dispose();
  assertEquals(fixture.param_counts.learn_sigma["DiT-S/2"], 32_963_360, "DiT-S/2 as the reference builds it");
  assertEquals(fixture.param_counts.learn_sigma["DiT-B/2"], 130_512_416);
});

gpuTest("dit: output and gradients match PyTorch after a strict load of its safetensors", async () => {
  const file = await loadSafetensors(new URL("./fixtures/dit_tiny.safetensors", import.meta.url));
  const pick = (prefix: string) => Object.fromEntries(Object.entries(file).filter(([k]) => k.startsWith(prefix)));
  const state = Object.fromEntries(
    Object.entries(file).filter(([k]) => !/^(input|expected|grad)\./.test(k)),
  ) as Record<string, Tensor>;
  const { "input.x": x0, "input.t": t, "input.labels": labels, "input.grad_weights": r } = pick("input.");
  const net = new DiT(TINY);
  net.loadStateDict(state); // strict: every name must match the twin's
  net.eval();
  assertEquals(t.dtype, "int32");
  const x = x0.detach();
  x.requiresGrad = true;
  const y = net.call(x, t, labels);
  assertEquals(y.shape, [3, 2, 8, 8]);
  const want = await file["expected.out"].data();
  const scale = maxAbsOf(want);
  assertClose(await y.data(), want, { atol: 1e-4 * scale, rtol: 0, msg: "output" });
  // No labels → the null class; float32 timesteps give the same as int32 ones.
  const yNull = noGrad(() => net.call(x0, t.float()));
  assertClose(await yNull.data(), await file["expected.out_null"].data(), {
    atol: 1e-4 * scale,
    rtol: 0,
    msg: "null-class output",
  });
  // Gradients of sum(y · R), against PyTorch's float64 ones.
  y.mul(r).sum().backward();
  await assertGradMatches("input", x.grad, file["grad.input.x"]);
  const params = new Map(net.namedParameters());
  for (const name of fixture.grad_params) await assertGradMatches(name, params.get(name)!.grad, file[`grad.${name}`]);
  assertEquals(fixture.grad_params.length, 8);
  assertEquals(net.pos_embed.grad, null, "pos_embed is not trained");
  net.dispose();
  for (const v of Object.values(file)) v.dispose();
});

gpuTest("dit: the 2-D sin-cos position embedding equals a float64 reference (and the twin's)", async () => {
  for (const [dim, grid] of [[8, 3], [32, 4], [384, 16]]) {
    const ref = sincosReference(dim, grid).flat();
    const got = sincosPosEmbed2d(dim, grid);
    assertEquals(got.length, grid * grid * dim);
    assertClose(got, ref, { atol: 1e-12, rtol: 0, msg: `dim ${dim}, grid ${grid}` });
  }
  // Token (row 1, col 2) of a 3×3 grid, dim 8: [sin 2, sin 2/100, cos 2, cos 2/100, sin 1, sin 1/100, cos 1, cos 1/100].
  const row = Array.from(sincosPosEmbed2d(8, 3).subarray(5 * 8, 6 * 8));
  assertClose(row, [2, 1].flatMap((p) => [Math.sin(p), Math.sin(p / 100), Math.cos(p), Math.cos(p / 100)]), {
    atol: 1e-15,
    rtol: 0,
  });
  const net = new DiT(TINY);
  const ref = sincosReference(32, 4).flat();
  assertEquals(net.pos_embed.shape, [1, 16, 32]);
  assertEquals(net.pos_embed.requiresGrad, false);
  assertClose(await net.pos_embed.data(), ref, { atol: 1e-7, rtol: 0, msg: "pos_embed (float32)" });
  const file = await loadSafetensors(new URL("./fixtures/dit_tiny.safetensors", import.meta.url));
  assertClose(await file["pos_embed"].data(), ref, { atol: 1e-7, rtol: 0, msg: "the twin's pos_embed" });
  for (const v of Object.values(file)) v.dispose();
  net.dispose();
  assertThrows(() => sincosPosEmbed2d(6, 2), RangeError, "multiple of 4");
});

gpuTest("dit: adaLN-Zero: an untrained DiT outputs zeros; t and labels are taken as the U-Net takes them", async () => {
  const net = dit("DiT-S/8", { inputSize: 16, inChannels: 3, numClasses: 2, depth: 2 });
  const zeroed = net.namedParameters().filter(([n]) => n.includes("adaLN_modulation") || n.startsWith("final_layer"));
  assertEquals(zeroed.length, 2 * 2 + 4);
  for (const [name, p] of zeroed) assertEquals(maxAbsOf(await p.data()), 0, name);
  // The other initialisations, as the reference's initialize_weights: Xavier-uniform Linear
  // weights with zero biases, the patch conv Xavier-uniform as a (D, C·p²) Linear (its bias
  // PyTorch's conv default), N(0, 0.02²) for the timestep MLP's weights and the label table.
  const params = new Map(net.namedParameters());
  const stats = async (name: string) => {
    const v = await params.get(name)!.data();
    let s = 0;
    for (const e of v) s += e * e;
    return { std: Math.sqrt(s / v.length), max: maxAbsOf(v) };
  };
  const uniform = async (name: string, bound: number) => {
    const { std, max } = await stats(name);
    assert(max <= bound * (1 + 1e-6) && max > 0.95 * bound, `${name}: |max| ${max}, bound ${bound}`);
    assertClose([std], [bound / Math.sqrt(3)], { atol: 0, rtol: 0.05, msg: `${name} std` });
  };
  const D = 384, patchIn = 3 * 8 * 8;
  await uniform("x_embedder.proj.weight", Math.sqrt(6 / (patchIn + D)));
  await uniform("x_embedder.proj.bias", 1 / Math.sqrt(patchIn));
  await uniform("blocks.0.attn.qkv.weight", Math.sqrt(6 / (D + 3 * D)));
  await uniform("blocks.1.mlp.fc2.weight", Math.sqrt(6 / (4 * D + D)));
  for (const name of ["t_embedder.mlp.0.weight", "t_embedder.mlp.2.weight", "y_embedder.embedding_table.weight"]) {
    assertClose([(await stats(name)).std], [0.02], { atol: 0, rtol: 0.1, msg: `${name} std` });
  }
  for (
    const name of [
      "t_embedder.mlp.0.bias",
      "blocks.0.attn.qkv.bias",
      "blocks.0.attn.proj.bias",
      "blocks.1.mlp.fc1.bias",
    ]
  ) {
    assertEquals((await stats(name)).max, 0, name);
  }
  const x = tensor(Float32Array.from(randomArray(2 * 3 * 16 * 16, 3)), [2, 3, 16, 16]);
  const y = noGrad(() => net.call(x, tensor(new Int32Array([10, 700])), tensor(new Int32Array([0, 2]))));
  assertEquals(y.shape, [2, 3, 16, 16]);
  assertEquals(maxAbsOf(await y.data()), 0, "zero output at construction");
  net.dispose();

  // Nonzero weights: t as a number = a full tensor = a one-element tensor; no labels = the null class.
  const file = await loadSafetensors(new URL("./fixtures/dit_tiny.safetensors", import.meta.url));
  const small = new DiT(TINY).eval();
  small.loadStateDict(Object.fromEntries(Object.entries(file).filter(([k]) => !/^(input|expected|grad)\./.test(k))));
  const x0 = file["input.x"];
  const run = (t: Tensor | number, labels?: Tensor | null) => noGrad(() => small.call(x0, t, labels)).data();
  const byNumber = await run(321);
  assertClose(await run(full([3], 321, { dtype: "int32" })), byNumber, { atol: 1e-6, rtol: 0 });
  assertClose(await run(tensor(new Float32Array([321]))), byNumber, { atol: 1e-6, rtol: 0 });
  assertClose(await run(321, full([3], 3, { dtype: "int32" })), await run(321, null), { atol: 1e-6, rtol: 0 });
  assertThrows(() => small.call(x0, tensor(new Int32Array([1, 2]))), RangeError, "t must have shape (3)");
  assertThrows(() => small.call(x0, Number.NaN), RangeError, "finite");
  assertThrows(() => small.call(x0, 5, tensor(new Float32Array([0, 1, 2]))), TypeError, "int32");
  assertThrows(() => small.call(x0, 5, tensor(new Int32Array([0, 1]))), RangeError, "classLabels must have shape (3)");
  assertThrows(
    () => small.call(tensor(new Float32Array(2 * 4 * 4), [1, 2, 4, 4]), 5),
    RangeError,
    "expected x of shape (B, 2, 8, 8)",
  );
  // learnSigma: twice the channels out.
  const sigma = new DiT({ ...TINY, learnSigma: true });
  assertEquals(noGrad(() => sigma.call(x0, 5)).shape, [3, 4, 8, 8]);
  assertEquals(sigma.stateDict()["final_layer.linear.weight"].shape, [2 * 2 * 4, 32]);
  sigma.dispose();
  small.dispose();
  for (const v of Object.values(file)) v.dispose();
});

gpuTest("dit: bad options are refused with an OptionError naming the option", () => {
  const cases: [DiTOptions, string, string][] = [
    [{ inputSize: 30, patchSize: 4 }, "patchSize", "inputSize 30 is not divisible by patchSize 4"],
    [{ hiddenSize: 36, numHeads: 8 }, "numHeads", "hiddenSize 36 is not divisible by numHeads 8"],
    [{ hiddenSize: 42, numHeads: 7 }, "hiddenSize", "multiple of 4"],
    [{ depth: 0 }, "depth", "depth must be a positive integer, got 0"],
    [{ inChannels: 1.5 }, "inChannels", "positive integer"],
    [{ numClasses: -1 }, "numClasses", "non-negative integer"],
    [{ mlpRatio: 0 }, "mlpRatio", "positive finite number"],
    [{ hiddenSize: 4, numHeads: 1, mlpRatio: 0.1 }, "mlpRatio", "leaves no MLP unit"],
  ];
  for (const [opts, option, text] of cases) {
    const e = assertThrows(() => resolveDiTConfig(opts), OptionError, text) as OptionError;
    assertEquals(e.option, option, JSON.stringify(opts));
    assertThrows(() => new DiT(opts), OptionError, text);
  }
  assertThrows(() => dit("DiT-XL/2" as DiTPresetName), OptionError, "unknown DiT preset");
  const c = resolveDiTConfig({ inputSize: 16, patchSize: 4, inChannels: 3, learnSigma: true, mlpRatio: 2.5 });
  assertEquals([c.gridSize, c.numPatches, c.outChannels, c.mlpHidden], [4, 16, 6, 960]);
});
