/**
 * torchvision Swin Transformer (v1): state-dict names/shapes/order and parameter counts of
 * swin_t and swin_b, eval-mode logits of small models against torchvision with formula weights
 * (padding to the window, shifted windows, a shift off in one dim only, odd patch merging, a
 * greyscale 28×28 input), gradients against PyTorch's, the shifted-window mask against a float64
 * reference of torchvision's slicing, stochastic depth and dropout in training only, option
 * errors. Fixture: tests/fixtures/swin_small.json from scripts/make_swin_fixture.py.
 */
import {
  effectiveShift,
  relativePositionIndex,
  resolveSwinConfig,
  ShiftedWindowAttention,
  swinB,
  swinT,
  SwinTransformer,
  type SwinTransformerBlock,
  type SwinTransformerOptions,
} from "../models/mod.ts";
import { noGrad, type Tensor, tensor } from "../mod.ts";
import type { Sequential } from "../core/nn/containers.ts";
import { shiftedWindowMask2d } from "../core/ops/window.ts";
import { OptionError } from "../util/errors.ts";
import { evaluateCommand, trainClassifierCommand } from "../tasks/classify/commands.ts";
import { ConfigError } from "../train/config.ts";
import { assertClose, gpuTest, withTempDir } from "./_util.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { formulaTensor } from "./_formula_weights.ts";

interface SwinCaseConfig {
  patch: number;
  embed: number;
  depths: number[];
  heads: number[];
  window: number;
  classes: number;
  in_channels: number;
}

interface SwinCase {
  config: SwinCaseConfig;
  keys: [string, number[]][];
  input: number[];
  input_shape: number[];
  logits: number[];
  logits_shape: number[];
  grads?: Record<string, { shape: number[]; values: number[] }>;
}

interface SwinFixture {
  swin_t: { keys: [string, number[]][]; param_count: number };
  swin_b: { keys: [string, number[]][]; param_count: number };
  cases: Record<string, SwinCase>;
  relative_position_index: Record<string, number[]>;
}

const fixture = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/swin_small.json", import.meta.url)),
) as SwinFixture;

const optionsOf = (c: SwinCaseConfig): SwinTransformerOptions => ({
  patchSize: c.patch,
  embedDim: c.embed,
  depths: c.depths,
  numHeads: c.heads,
  windowSize: c.window,
  numClasses: c.classes,
  inChannels: c.in_channels,
  stochasticDepthProb: 0,
});

const keysOf = (net: SwinTransformer): [string, number[]][] =>
  Object.entries(net.stateDict()).map(([k, t]) => [k, [...t.shape]]);

/** The fixture's model with formula weights; the index buffers keep their own values (strict load). */
function formulaModel(c: SwinCase, opts: SwinTransformerOptions = {}): SwinTransformer {
  const net = new SwinTransformer({ ...optionsOf(c.config), ...opts });
  const own = net.stateDict();
  net.loadStateDict(
    Object.fromEntries(
      c.keys.map(([k, shape]) => [k, k.endsWith("relative_position_index") ? own[k] : formulaTensor(k, shape)]),
    ),
  );
  return net;
}

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

gpuTest("swin: swin_t and swin_b state dicts (names, shapes, order) and parameter counts equal torchvision's", () => {
  for (const [make, ref] of [[swinT, fixture.swin_t], [swinB, fixture.swin_b]] as const) {
    const net = make();
    assertEquals(keysOf(net), ref.keys);
    assertEquals(net.numParameters(), ref.param_count);
    net.dispose();
  }
  assertEquals(fixture.swin_t.param_count, 28_288_354);
  assertEquals(fixture.swin_b.param_count, 87_768_224);
});

gpuTest("swin: the relative position index equals torchvision's buffer (square and non-square windows)", async () => {
  assertEquals(Array.from(relativePositionIndex(4)), fixture.relative_position_index["4x4"]);
  assertEquals(Array.from(relativePositionIndex([3, 5])), fixture.relative_position_index["3x5"]);
  const attn = new ShiftedWindowAttention(8, [3, 5], [1, 2], 2);
  assertEquals(attn.relative_position_index.dtype, "int32");
  assertEquals(Array.from(await attn.relative_position_index.data()), fixture.relative_position_index["3x5"]);
  assertEquals(attn.relative_position_bias_table.shape, [5 * 9, 2]);
  attn.dispose();
});

for (const name of Object.keys(fixture.cases)) {
  gpuTest(`swin: eval-mode logits match torchvision (formula weights), ${name}`, async () => {
    const c = fixture.cases[name];
    const net = formulaModel(c).eval();
    assertEquals(keysOf(net), c.keys);
    const y = noGrad(() => net.call(tensor(c.input, c.input_shape)));
    assertEquals(y.shape, c.logits_shape);
    assertClose(await y.data(), c.logits, { atol: 1e-4, rtol: 0, msg: `${name} logits` });
    net.dispose();
  });
}

gpuTest("swin: gradients of mean(logits²) match PyTorch's; every parameter gets one", async () => {
  const c = fixture.cases.small_36;
  const net = formulaModel(c).eval();
  net.call(tensor(c.input, c.input_shape)).square().mean().backward();
  const params = Object.fromEntries(net.namedParameters());
  for (const [k, ref] of Object.entries(c.grads!)) {
    const g = params[k].grad;
    assert(g, `${k} has a gradient`);
    assertEquals(g.shape, ref.shape);
    const scale = maxAbs(ref.values);
    assertClose(await g.data(), ref.values, { atol: 2e-4 * scale, rtol: 1e-3, msg: `d loss / d ${k}` });
  }
  for (const [k, p] of net.namedParameters()) {
    const g = await p.grad!.data();
    assert(g.every(Number.isFinite) && g.some((v) => v !== 0), `${k}: finite, nonzero gradient`);
  }
  net.dispose();
});

/**
 * torchvision 0.14's mask, in float64: label the padded hp×wp map by Python slices
 * (0, −ws), (−ws, −s), (−s, None) per dim, partition into windows, −100 between labels.
 */
function referenceMask(hp: number, wp: number, ws: [number, number], shift: [number, number]): Float64Array {
  const py = (i: number | null, n: number, dflt: number) => (i === null ? dflt : i < 0 ? Math.max(n + i, 0) : i);
  const slices = (n: number, w: number, s: number): [number, number][] =>
    ([[0, -w], [-w, -s], [-s, null]] as [number, number | null][]).map(([a, b]) => [py(a, n, 0), py(b, n, n)]);
  const label = new Float64Array(hp * wp);
  let count = 0;
  for (const [h0, h1] of slices(hp, ws[0], shift[0])) {
    for (const [w0, w1] of slices(wp, ws[1], shift[1])) {
      for (let i = h0; i < h1; i++) for (let j = w0; j < w1; j++) label[i * wp + j] = count;
      count++;
    }
  }
  const nh = hp / ws[0], nw = wp / ws[1], N = ws[0] * ws[1];
  const out = new Float64Array(nh * nw * N * N);
  for (let wi = 0; wi < nh * nw; wi++) {
    const lab = (t: number) =>
      label[(Math.floor(wi / nw) * ws[0] + Math.floor(t / ws[1])) * wp + (wi % nw) * ws[1] + (t % ws[1])];
    for (let a = 0; a < N; a++) {
      for (let b = 0; b < N; b++) out[(wi * N + a) * N + b] = lab(b) - lab(a) !== 0 ? -100 : 0;
    }
  }
  return out;
}

gpuTest(
  "swin: the shifted-window mask equals a float64 reference of torchvision's; shifts off where padded ≤ window",
  async () => {
    const cases: [number, number, [number, number], [number, number]][] = [
      [12, 12, [4, 4], [2, 2]],
      [8, 8, [4, 4], [2, 2]],
      [14, 21, [7, 7], [3, 3]],
      [4, 8, [4, 4], [2, 2]], // H padded = window: no H shift
      [9, 6, [3, 2], [1, 1]], // non-square window
    ];
    for (const [hp, wp, ws, s] of cases) {
      const shift = effectiveShift(hp, wp, ws, s);
      const mask = shiftedWindowMask2d(hp, wp, ws, shift);
      const ref = referenceMask(hp, wp, ws, shift);
      assertEquals(mask.shape, [(hp / ws[0]) * (wp / ws[1]), ws[0] * ws[1], ws[0] * ws[1]]);
      assertEquals(Array.from(await mask.data()), Array.from(ref), `mask ${hp}×${wp}, window ${ws}, shift ${shift}`);
    }
    assertEquals(effectiveShift(4, 8, 4, 2), [0, 2]);
    assertEquals(effectiveShift(7, 7, 7, 3), [0, 0]);
    assertEquals(effectiveShift(14, 7, 7, 3), [3, 0]);
  },
);

gpuTest("swin: stochastic depth and dropout act in training only; eval is deterministic", async () => {
  const c = fixture.cases.small_12x20;
  const x = tensor(c.input, c.input_shape);
  const run = async (net: SwinTransformer): Promise<Float32Array> => {
    const y = noGrad(() => net.call(x));
    const d = await y.data() as Float32Array;
    y.dispose();
    return d;
  };
  const plain = formulaModel(c);
  const evalOut = await run(plain.eval());
  assertClose(await run(plain.train()), evalOut, { atol: 1e-6, msg: "rates 0: training = eval" });
  const noisy = formulaModel(c, { stochasticDepthProb: 0.5, dropout: 0.3, attentionDropout: 0.3 });
  assertClose(await run(noisy.eval()), evalOut, { atol: 1e-6, msg: "eval ignores the rates" });
  const blocks = noisy.modules().filter((m) => m.constructor.name === "SwinTransformerBlock");
  const rates = blocks.map((b) => (b as unknown as { stochastic_depth: { p: number } }).stochastic_depth.p);
  assertClose(rates, [0, 0.5 / 3, 1 / 3, 0.5], { atol: 1e-12, msg: "linear stochastic depth over blocks" });
  const a = await run(noisy.train()), b = await run(noisy);
  assert(a.some((v, i) => Math.abs(v - evalOut[i]) > 1e-4), "training mode drops something");
  assert(a.some((v, i) => v !== b[i]), "fresh masks per call");
  plain.dispose();
  noisy.dispose();
});

gpuTest("swin: bad options and inputs are named", () => {
  const bad = (opts: SwinTransformerOptions, option: string, msg: string) => {
    const e = assertThrows(() => resolveSwinConfig(opts), OptionError, msg);
    assertEquals((e as OptionError).option, option);
  };
  bad({ depths: [2, 2], numHeads: [2, 4, 8] }, "numHeads", "numHeads has 3 entries but depths has 2");
  bad({ embedDim: 24, depths: [2, 2], numHeads: [5, 4] }, "numHeads[0]", "stage 0 is 24 wide");
  bad({ embedDim: 24, depths: [2, 2], numHeads: [2, 5] }, "numHeads[1]", "stage 1 is 48 wide");
  bad({ imageSize: 3 }, "patchSize", "imageSize 3 is smaller than patchSize 4");
  bad({ windowSize: 0 }, "windowSize", "windowSize must be a positive integer");
  bad({ windowSize: [7, 1.5] as unknown as [number, number] }, "windowSize[1]", "windowSize[1]");
  bad({ depths: [] }, "depths", "non-empty list");
  bad({ depths: [2, 0], numHeads: [1, 2] }, "depths[1]", "depths[1] must be a positive integer");
  bad({ stochasticDepthProb: 1 }, "stochasticDepthProb", "[0, 1)");
  bad({ numClasses: 0 }, "numClasses", "numClasses must be a positive integer");
  bad({ mlpRatio: 0 }, "mlpRatio", "mlpRatio");
  assertEquals(resolveSwinConfig({ imageSize: 28 }).windowSize, [7, 7]);
  const net = new SwinTransformer({ embedDim: 8, depths: [1], numHeads: [2], inChannels: 1, numClasses: 2 });
  const x: Tensor = tensor(new Float32Array(3 * 8 * 8), [1, 3, 8, 8]);
  assertThrows(() => net.call(x), RangeError, "expected (N, 1, H, W) images with H ≥ 4 and W ≥ 4");
  assertThrows(() => net.call(tensor(new Float32Array(3 * 3), [1, 1, 3, 3])), RangeError, "H ≥ 4");
  assertThrows(() => new ShiftedWindowAttention(8, 4, 4, 2), RangeError, "shiftSize");
  net.dispose();
});

gpuTest(
  "train-classifier --model.arch swinT: a few steps on tiny images, a best checkpoint that evaluate reloads",
  () =>
    withTempDir("swin_task_", async (root) => {
      const out = await trainClassifierCommand([
        "--model.arch=swinT",
        "--model.stochasticDepth=0.1",
        "--model.windowSize=4", // 16 px images: 4×4 tokens at the first stage, fewer padded tokens than with 7
        "--data.length=32",
        "--data.imageSize=16",
        "--data.valFraction=0.25",
        "--train.epochs=1",
        "--train.batchSize=8",
        "--train.logEvery=1",
        `--output.root=${root}`,
      ], true);
      assert(out);
      assertEquals(out.result.step, 3, "24 training images, batches of 8");
      assert(out.result.best !== null, "validated once");
      const net = out.result.model as SwinTransformer;
      assert(net instanceof SwinTransformer, "model.arch swinT builds a SwinTransformer");
      assertEquals(net.config.embedDim, 96);
      assertEquals(net.config.windowSize, [4, 4]);
      assertEquals(net.config.depths, [2, 2, 6, 2]);
      const last = net.features.at<Sequential>(7).at<SwinTransformerBlock>(1);
      assertClose([last.stochastic_depth.p], [0.1], {
        atol: 1e-12,
        msg: "model.stochasticDepth reaches the last block",
      });
      const ev = await evaluateCommand(["--run", out.run.path, "--bootstrap", "10"], true);
      assert(ev && ev.files.includes("metrics.json"), "evaluate loads the checkpoint (index buffers included)");
    }),
);

gpuTest(
  "train-classifier: a Swin patch larger than the image names model.patchSize before any run folder",
  () =>
    withTempDir("swin_task_err_", async (root) => {
      await assertRejects(
        () =>
          trainClassifierCommand([
            "--model.arch=swinB",
            "--model.patchSize=32",
            "--data.length=16",
            `--output.root=${root}`,
          ], true),
        ConfigError,
        "model.patchSize 32 cannot work on the data (28×28×3 images, 4 classes): imageSize 28 is smaller than patchSize 32",
      );
      assertEquals([...Deno.readDirSync(root)], [], "no run folder was made");
    }),
);
