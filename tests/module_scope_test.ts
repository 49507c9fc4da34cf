/** `Module.call`'s scope and `chain`: intermediates freed, outputs and the autograd graph kept. */
import { chain, Linear, Module } from "../core/nn/mod.ts";
import { BasicBlock, ResNet } from "../models/resnet.ts";
import { UNet } from "../models/unet.ts";
import { manualSeed, memoryStats, noGrad, scope, type Tensor, tensor } from "../mod.ts";
import { assertClose, gpuTest, randomArray } from "./_util.ts";
import { assert, assertEquals, assertThrows } from "./_asserts.ts";

/** Two linears with a ReLU between; remembers the intermediates its forward made. */
class Block extends Module {
  fc1 = new Linear(4, 8);
  fc2 = new Linear(8, 3);
  made: Tensor[] = [];
  override forward(x: Tensor): Tensor {
    const h = this.fc1.call(x);
    const a = h.relu();
    this.made.push(h, a);
    return this.fc2.call(a);
  }
}

/** Nested calls, and an output that is an object holding an array. */
class Net extends Module {
  block = new Block();
  head = new Linear(3, 2);
  override forward(x: Tensor): { out: Tensor; aux: Tensor[] } {
    const y = this.block.call(x);
    return { out: this.head.call(y.tanh()), aux: [y] };
  }
}

/** x·Wᵀ + b in float64 on the CPU (rows of x). */
async function linearRef(x: number[][], l: Linear): Promise<number[][]> {
  const w = await l.weight.data(), b = await l.bias!.data(), n = l.inFeatures;
  return x.map((row) => Array.from(b, (bo, o) => row.reduce((s, v, i) => s + v * w[o * n + i], bo)));
}

async function expected(net: Net, x: number[][]): Promise<{ out: number[]; y: number[] }> {
  const h = (await linearRef(x, net.block.fc1)).map((r) => r.map((v) => Math.max(v, 0)));
  const y = await linearRef(h, net.block.fc2);
  const out = await linearRef(y.map((r) => r.map(Math.tanh)), net.head);
  return { out: out.flat(), y: y.flat() };
}

const X = [[0.5, -1, 2, 0.25], [-0.3, 0.8, -1.5, 1]];

gpuTest("Module.call under noGrad: intermediates freed, nested outputs kept and correct", async () => {
  manualSeed(1);
  const net = new Net();
  const x = tensor(X);
  const before = memoryStats().liveBuffers;
  const r = noGrad(() => net.call(x));
  assertEquals(memoryStats().liveBuffers - before, 2, "only out and aux[0] stay alive");
  assert(net.block.made.length === 2 && net.block.made.every((t) => t.isDisposed), "intermediates freed");
  assert(!r.out.isDisposed && !r.aux[0].isDisposed, "outputs kept");
  const want = await expected(net, X);
  assertClose(await r.out.data(), want.out, { atol: 1e-5 });
  assertClose(await r.aux[0].data(), want.y, { atol: 1e-5 });
  r.out.dispose();
  r.aux[0].dispose();
  assertEquals(memoryStats().liveBuffers, before);
  net.dispose();
});

gpuTest("Module.call with grad: intermediates freed, backward still works, nothing leaks", async () => {
  manualSeed(2);
  const net = new Net();
  const x = tensor(X);
  const before = memoryStats().liveBuffers;
  const r = net.call(x);
  assert(net.block.made.every((t) => t.isDisposed), "the handles are freed; the graph keeps its own");
  assertClose(await r.out.data(), (await expected(net, X)).out, { atol: 1e-5 });
  // d(sum out)/d head.bias = batch size per output; d/d fc1.weight must be finite and non-zero.
  const loss = r.out.sum();
  loss.backward();
  assertClose(await net.head.bias!.grad!.data(), [2, 2]);
  const g1 = await net.block.fc1.weight.grad!.data();
  assert(g1.every(Number.isFinite) && g1.some((v) => v !== 0), "gradient reached the first layer");
  for (const t of [loss, r.out, r.aux[0]]) t.dispose();
  net.zeroGrad();
  assertEquals(memoryStats().liveBuffers, before, "backward freed the saved tensors; the scope the rest");
  net.dispose();
});

gpuTest("Module.call: a forward that throws frees what it made", () => {
  class Boom extends Module {
    override forward(x: Tensor): Tensor {
      x.mul(2).add(1);
      throw new Error("boom");
    }
  }
  const x = tensor([1, 2, 3]);
  const before = memoryStats().liveBuffers;
  assertThrows(() => new Boom().call(x), Error, "boom");
  assertEquals(memoryStats().liveBuffers, before);
});

gpuTest("chain: each intermediate is freed once the next stage has read it; x is left alone", async () => {
  const x = tensor([1, -2, 3]);
  const seen: Tensor[] = [];
  const stage = (f: (h: Tensor) => Tensor) => (h: Tensor) => {
    if (seen.length >= 2) assert(seen[seen.length - 1].isDisposed, "the previous stage's input: freed already");
    seen.push(h);
    return f(h);
  };
  const y = chain(x, stage((h) => h.mul(2)), stage((h) => h.add(1)), stage((h) => h.neg()), stage((h) => h.relu()));
  assertEquals(await y.toArray(), [0, 3, 0]);
  assert(!x.isDisposed, "the input is not the chain's to free");
  assert(seen.slice(1).every((t) => t.isDisposed), "every intermediate freed");
});

gpuTest("models: a training step and an eval forward leave no live tensors behind", () => {
  manualSeed(4);
  const resnet = new ResNet(BasicBlock, [1, 1, 1, 1], { numClasses: 3, smallInput: true, inChannels: 2 });
  const sizes = { inChannels: 2, baseChannels: 8, channelMults: [1, 2], numResBlocks: 1, numGroups: 4, imageSize: 8 };
  const unet = new UNet({ ...sizes, attentionResolutions: [4], numClasses: 2 }); // attention at 4×4, classes
  const x = tensor(Float32Array.from(randomArray(2 * 2 * 8 * 8, 5)), [2, 2, 8, 8]);
  const t = tensor(new Int32Array([10, 900])), labels = tensor(new Int32Array([0, 1]));
  const runs: [string, () => Tensor][] = [
    ["resnet", () => resnet.call(x)],
    ["unet", () => unet.call(x, t, labels)],
  ];
  for (const [name, run] of runs) {
    const before = memoryStats().liveBuffers;
    const y = noGrad(run);
    assertEquals(memoryStats().liveBuffers - before, 1, `${name} eval: only the output stays alive`);
    y.dispose();
    const out = run();
    // The loss and backward run in a scope that holds their own temporaries (a two-pass sum leaves
    // its partial result to the caller's scope); the forward runs outside any scope but the test's,
    // so anything its calls left behind shows below.
    scope(() => out.square().mean().backward());
    out.dispose();
    resnet.zeroGrad();
    unet.zeroGrad();
    // BatchNorm's running statistics are updated in place, so they count as before.
    assertEquals(memoryStats().liveBuffers, before, `${name} train: nothing left after backward`);
  }
  resnet.dispose();
  unet.dispose();
});
