/**
 * ResNet-18 on volumes (models/resnet.ts, spatialDims 3): state-dict names, shapes and order equal
 * a PyTorch twin's (scripts/make_resnet3d_fixture.py), eval-mode logits match with formula weights,
 * every parameter gets a gradient, and the pooled features have the stage-4 width.
 */
import { noGrad, tensor } from "../mod.ts";
import { resnet18 } from "../models/resnet.ts";
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { assertClose, gpuTest, maxAbsOf } from "./_util.ts";
import { formulaStateDict } from "./_formula_weights.ts";

const fixture = JSON.parse(Deno.readTextFileSync(new URL("./fixtures/resnet3d.json", import.meta.url))) as {
  keys: [string, number[]][];
  input_shape: number[];
  logits: number[];
};

const input = () => {
  const n = fixture.input_shape.reduce((a, b) => a * b, 1);
  return tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(0.37 * i)), fixture.input_shape);
};

gpuTest("resnet3d: names, shapes and logits of the PyTorch twin; gradients reach every parameter", async () => {
  const net = resnet18({ spatialDims: 3, smallInput: true, inChannels: 1, numClasses: 2, baseWidth: 8 });
  assertEquals(Object.entries(net.stateDict()).map(([k, t]) => [k, [...t.shape]]), fixture.keys);
  net.loadStateDict(formulaStateDict(fixture.keys));
  net.eval();
  const x = input();
  const y = noGrad(() => net.call(x));
  assertClose(await y.data(), fixture.logits, { atol: 1e-4 * maxAbsOf(fixture.logits), rtol: 0, msg: "logits" });
  const f = noGrad(() => net.embed(x));
  assertEquals(f.shape, [2, 64]);
  net.train();
  net.call(x).sum().backward();
  const missing = net.parameters().filter((p) => !p.grad);
  assert(missing.length === 0, `${missing.length} parameters got no gradient`);
  for (const t of [x, y, f]) t.dispose();
  net.dispose();
  assertThrows(() => resnet18({ spatialDims: 4 as 3 }), RangeError, "spatialDims");
});
