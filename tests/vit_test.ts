/**
 * torchvision Vision Transformer: state-dict names/shapes/order and eval-mode logits of a small
 * ViT against torchvision with formula weights (tests/fixtures/vit_small.json from
 * scripts/make_vit_fixture.py), parameter counts of ViT-S/16 and ViT-B/16, gradients, errors.
 */
import { VisionTransformer, vitB16, vitS16 } from "../models/mod.ts";
import { noGrad, tensor } from "../mod.ts";
import { assertClose, gpuTest } from "./_util.ts";
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { formulaStateDict } from "./_formula_weights.ts";

interface VitFixture {
  keys: [string, number[]][];
  param_counts: { vit_s_16: number; vit_b_16: number };
  input: number[];
  input_shape: number[];
  logits: number[];
  logits_shape: number[];
}

const fixture = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/vit_small.json", import.meta.url)),
) as VitFixture;

const small = () =>
  new VisionTransformer({
    imageSize: 32,
    patchSize: 8,
    numLayers: 2,
    numHeads: 4,
    hiddenDim: 32,
    mlpDim: 64,
    numClasses: 10,
  });

const paramCount = (m: { parameters(): { size: number }[] }): number => m.parameters().reduce((n, p) => n + p.size, 0);

gpuTest("vit: state dict names, shapes and order equal torchvision's", () => {
  const net = small();
  assertEquals(Object.entries(net.stateDict()).map(([k, t]) => [k, [...t.shape]]), fixture.keys);
  net.dispose();
});

gpuTest("vit: parameter counts of ViT-S/16 and ViT-B/16 equal torchvision's", () => {
  for (
    const [make, expected] of [[vitS16, fixture.param_counts.vit_s_16], [
      vitB16,
      fixture.param_counts.vit_b_16,
    ]] as const
  ) {
    const net = make();
    assertEquals(paramCount(net), expected);
    net.dispose();
  }
  assertEquals(fixture.param_counts.vit_s_16, 22_050_664);
});

gpuTest("vit: eval-mode logits match torchvision (formula weights)", async () => {
  const net = small();
  net.loadStateDict(formulaStateDict(fixture.keys));
  net.eval();
  const y = noGrad(() => net.call(tensor(fixture.input, fixture.input_shape)));
  assertEquals(y.shape, fixture.logits_shape);
  const scale = fixture.logits.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assertClose(await y.data(), fixture.logits, { atol: 1e-4 * scale, rtol: 0, msg: "logits" });
  net.dispose();
});

gpuTest("vit: one backward reaches every parameter; bad input sizes are named", async () => {
  const net = small();
  net.loadStateDict(formulaStateDict(fixture.keys)); // torchvision starts the head at zero: use nonzero weights
  const x = tensor(new Float32Array(2 * 3 * 32 * 32).map((_, i) => Math.cos(i)), [2, 3, 32, 32]);
  net.call(x).square().mean().backward();
  for (const [name, p] of net.namedParameters()) {
    assert(p.grad, `${name} has a gradient`);
    const g = await p.grad.data();
    assert(g.every(Number.isFinite) && g.some((v) => v !== 0), `${name}: finite, nonzero gradient`);
  }
  assertThrows(() => net.call(tensor(new Float32Array(3 * 16 * 16), [1, 3, 16, 16])), RangeError, "(N, C, 32, 32)");
  assertThrows(() => new VisionTransformer({ imageSize: 30, patchSize: 8 }), RangeError, "not divisible");
  net.dispose();
});
