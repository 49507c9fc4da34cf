/**
 * torchvision ResNets: parameter counts, state-dict names and shapes, output and feature
 * shapes, gradients to every parameter, and eval-mode logits against PyTorch.
 *
 * The PyTorch check (tests/fixtures/resnet18_small.json, from scripts/make_resnet_fixture.py)
 * stores no weights: ResNet-18's 45 MB would be too big to commit. Both sides compute them
 * from the same integer hash of the state-dict key (`formulaTensor` in tests/_formula_weights.ts, `formula_tensor`
 * in the script), which gives bit-identical float32 values in Python and TypeScript.
 */
import { BatchNorm2d, Conv2d, Linear } from "../core/nn/mod.ts";
import { type BasicBlock, type Bottleneck, resnet18, resnet50 } from "../models/mod.ts";
import { noGrad, tensor } from "../mod.ts";
import { assertClose, gpuTest, randomArray } from "./_util.ts";
import { formulaTensor } from "./_formula_weights.ts";
import { assert, assertEquals } from "./_asserts.ts";

interface ResNetFixture {
  keys: [string, number[]][];
  input: number[];
  input_shape: number[];
  logits: number[];
  logits_shape: number[];
  features: number[][];
}

const fixture = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/resnet18_small.json", import.meta.url)),
) as ResNetFixture;

gpuTest("resnet: parameter counts equal torchvision's; 224×224 forward", async () => {
  const r50 = resnet50();
  assertEquals(r50.numParameters(), 25_557_032);
  assertEquals(r50.layer2.at<Bottleneck>(0).conv2.stride, [2, 2], "v1.5: the stride sits on the 3×3 conv");
  r50.dispose();
  const r18 = resnet18();
  assertEquals(r18.numParameters(), 11_689_512);
  assertEquals(r18.conv1.weight.shape, [64, 3, 7, 7]);
  r18.eval();
  const y = noGrad(() => r18.call(tensor(Float32Array.from(randomArray(3 * 224 * 224, 5)), [1, 3, 224, 224])));
  assertEquals(y.shape, [1, 1000]);
  assert((await y.data()).every(Number.isFinite), "finite logits");
  // Default initialisation: kaiming_normal(fan_out, relu) convs, BN 1/0.
  const w = Array.from(await r18.layer3.at<BasicBlock>(0).conv1.weight.data());
  const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
  assertClose([std], [Math.sqrt(2 / (256 * 9))], { rtol: 0.05, atol: 0 });
  r18.dispose();
});

gpuTest("resnet: state dict names, shapes and order equal torchvision's", () => {
  const net = resnet18({ numClasses: 10, smallInput: true });
  const sd = net.stateDict();
  assertEquals(Object.entries(sd).map(([k, t]) => [k, [...t.shape]]), fixture.keys);
  assert("layer2.0.downsample.0.weight" in sd && "layer2.0.downsample.1.running_var" in sd);
  assertEquals(net.maxpool, null);
  net.dispose();
  const zero = resnet18({ numClasses: 3, zeroInitResidual: true, inChannels: 1 });
  assertEquals(zero.conv1.weight.shape, [64, 1, 7, 7]);
  assertEquals(zero.fc!.weight.shape, [3, 512]);
  zero.dispose();
});

gpuTest("resnet: eval-mode logits match PyTorch (ResNet-18, small input, formula weights)", async () => {
  const net = resnet18({ numClasses: 10, smallInput: true });
  net.loadStateDict(Object.fromEntries(fixture.keys.map(([k, shape]) => [k, formulaTensor(k, shape)])));
  net.eval();
  const x = tensor(fixture.input, fixture.input_shape);
  const y = noGrad(() => net.call(x));
  assertEquals(y.shape, fixture.logits_shape);
  const scale = fixture.logits.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assertClose(await y.data(), fixture.logits, { atol: 1e-4 * scale, rtol: 0, msg: "logits" });
  const feats = noGrad(() => net.forwardFeatures(x));
  assertEquals(feats.map((f) => [...f.shape]), fixture.features);
  net.dispose();
});

gpuTest("resnet: one backward reaches every parameter (small input, train mode)", async () => {
  const net = resnet18({ numClasses: 4, smallInput: true, zeroInitResidual: true });
  const bn2 = net.layer1.at<BasicBlock>(0).bn2;
  assertEquals([...await bn2.weight!.data()].every((v) => v === 0), true, "zeroInitResidual");
  const x = tensor(Float32Array.from(randomArray(2 * 3 * 16 * 16, 9)), [2, 3, 16, 16]);
  const y = net.call(x);
  assertEquals(y.shape, [2, 4]);
  y.mul(tensor([1, -2, 0.5, 3, -1, 2, 1, -0.5], [2, 4])).sum().backward();
  const missing = net.namedParameters().filter(([, p]) => !p.grad).map(([n]) => n);
  assertEquals(missing, []);
  for (const [name, p] of net.namedParameters()) {
    const g = await p.grad!.data();
    assert(g.every(Number.isFinite), `${name}: finite gradient`);
  }
  // The running statistics moved and every batch norm counted one batch.
  const bns = net.modules().filter((m): m is BatchNorm2d => m instanceof BatchNorm2d);
  assertEquals(bns.length, 20);
  for (const bn of bns) assertEquals([...await bn.numBatchesTracked!.data()], [1]);
  assert(net.modules().some((m) => m instanceof Conv2d) && net.fc instanceof Linear);
  net.dispose();
});
