/**
 * torchvision EfficientNets: parameter counts (B0 5,288,548 and B4 19,341,616 at 1000 classes),
 * state-dict names/shapes/order, eval-mode logits of B0 against torchvision with formula weights
 * (tests/fixtures/efficientnet_b0.json from scripts/make_efficientnet_fixture.py), gradients,
 * and stochastic depth.
 */
import { efficientnetB0, efficientnetB4, makeDivisible } from "../models/mod.ts";
import { noGrad, ones, stochasticDepth, tensor } from "../mod.ts";
import { assertClose, gpuTest } from "./_util.ts";
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { formulaStateDict } from "./_formula_weights.ts";

interface EfficientNetFixture {
  keys: [string, number[]][];
  param_counts: { efficientnet_b0: number; efficientnet_b4: number };
  input: number[];
  input_shape: number[];
  logits: number[];
  logits_shape: number[];
}

const fixture = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/efficientnet_b0.json", import.meta.url)),
) as EfficientNetFixture;

const paramCount = (m: { parameters(): { size: number }[] }): number => m.parameters().reduce((n, p) => n + p.size, 0);

gpuTest("efficientnet: makeDivisible follows torchvision's rounding", () => {
  assertEquals([32, 16, 24, 40, 80, 112, 192, 320].map((c) => makeDivisible(c * 1.4)), [
    48,
    24,
    32,
    56,
    112,
    160,
    272,
    448,
  ]);
  assertEquals(makeDivisible(10), 16, "never below 90 % (8 would be)");
});

gpuTest("efficientnet: parameter counts equal torchvision's (B0, B4 at 1000 classes)", () => {
  const b0 = efficientnetB0();
  assertEquals(paramCount(b0), fixture.param_counts.efficientnet_b0);
  assertEquals(paramCount(b0), 5_288_548);
  b0.dispose();
  const b4 = efficientnetB4();
  assertEquals(paramCount(b4), fixture.param_counts.efficientnet_b4);
  assertEquals(b4.numFeatures, 1792);
  b4.dispose();
});

gpuTest("efficientnet: state dict names, shapes and order equal torchvision's", () => {
  const net = efficientnetB0({ numClasses: 10 });
  const sd = net.stateDict();
  assertEquals(Object.entries(sd).map(([k, t]) => [k, [...t.shape]]), fixture.keys);
  net.dispose();
});

gpuTest("efficientnet: eval-mode B0 logits match torchvision (formula weights, 32×32 input)", async () => {
  const net = efficientnetB0({ numClasses: 10 });
  net.loadStateDict(formulaStateDict(fixture.keys));
  net.eval();
  const x = tensor(fixture.input, fixture.input_shape);
  const y = noGrad(() => net.call(x));
  assertEquals(y.shape, fixture.logits_shape);
  const scale = fixture.logits.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assertClose(await y.data(), fixture.logits, { atol: 1e-4 * scale, rtol: 0, msg: "logits" });
  net.dispose();
});

gpuTest("efficientnet: one backward reaches every parameter (train mode, with stochastic depth)", async () => {
  const net = efficientnetB0({ numClasses: 3 }); // stochastic depth up to 0.2 in train mode
  const x = tensor(new Float32Array(2 * 3 * 32 * 32).map((_, i) => Math.sin(i)), [2, 3, 32, 32]);
  net.call(x).square().mean().backward();
  let missing = 0;
  for (const [name, p] of net.namedParameters()) {
    if (!p.grad) {
      missing++;
      continue;
    }
    const g = await p.grad.data();
    assert(g.every(Number.isFinite), `${name}: finite gradient`);
  }
  assertEquals(missing, 0, "every parameter has a gradient");
  net.dispose();
});

gpuTest("stochasticDepth: drops whole samples, rescales the kept ones, identity in eval", async () => {
  const x = ones([400, 2, 3]);
  const y = await stochasticDepth(x, 0.25, true).data();
  let kept = 0;
  for (let n = 0; n < 400; n++) {
    const row = y.subarray(n * 6, n * 6 + 6);
    assert(row.every((v) => v === row[0]), "one decision per sample");
    if (row[0] !== 0) {
      assertClose([row[0]], [1 / 0.75]);
      kept++;
    }
  }
  assert(kept > 260 && kept < 340, `kept ${kept} of 400 at p = 0.25`);
  assertEquals(await stochasticDepth(x, 0.25, false).data(), await x.data());
  const batch = await stochasticDepth(x, 0.5, true, { mode: "batch" }).data();
  assert(batch.every((v) => v === batch[0]), "batch mode: one decision for all");
  assertThrows(() => stochasticDepth(x, 1.5), RangeError, "p must be in [0, 1]");
});
