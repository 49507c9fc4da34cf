/**
 * Regression tests: every pass-through in a forward path keeps the autograd graph. `alias()`
 * makes a handle without graph history; these once cut gradients (same-dtype cast, Identity,
 * an empty Sequential, batch-first MultiheadAttention, separate q/k/v projection weights,
 * ResNet's identity shortcut, a disabled GradScaler).
 */
import { constant_ } from "../core/nn/init.ts";
import { BasicBlock } from "../models/mod.ts";
import { cast, GradScaler, identity, manualSeed, nn, randn, scope, tensor } from "../mod.ts";
import { assert, assertEquals } from "./_asserts.ts";
import { assertClose, gpuTest } from "./_util.ts";

gpuTest("identity, same-dtype cast, nn.Identity and an empty Sequential pass gradients", async () => {
  await scope(async () => {
    for (
      const f of [
        identity,
        (x: ReturnType<typeof tensor>) => cast(x, "float32"),
        (x: ReturnType<typeof tensor>) => new nn.Identity().call(x),
        (x: ReturnType<typeof tensor>) => new nn.Sequential().call(x),
      ]
    ) {
      const x = tensor([1, 2, 3], undefined, { requiresGrad: true });
      f(x).mul(tensor([2, 3, 4])).sum().backward();
      assertEquals(await x.grad!.toArray(), [2, 3, 4]);
    }
  });
});

gpuTest("MultiheadAttention: batch-first gives the same gradients as sequence-first", async () => {
  manualSeed(5);
  const first = new nn.MultiheadAttention(8, 2, { batchFirst: true });
  const seqFirst = new nn.MultiheadAttention(8, 2);
  seqFirst.loadStateDict(first.stateDict());
  await scope(async () => {
    const xb = randn([2, 5, 8], { requiresGrad: true });
    const [yb] = first.call(xb, xb, xb, { needWeights: false });
    yb.square().sum().backward();
    const xs = xb.detach().transpose(0, 1).contiguous();
    xs.requiresGrad = true;
    const [ys] = seqFirst.call(xs, xs, xs, { needWeights: false });
    ys.square().sum().backward();
    assertClose(await xb.grad!.data(), await xs.grad!.transpose(0, 1).contiguous().data(), { atol: 1e-5 });
    const [pb, ps] = [first, seqFirst].map((m) => m.namedParameters());
    for (let i = 0; i < pb.length; i++) {
      assert(pb[i][1].grad, `${pb[i][0]} has a gradient (batch first)`);
      assertClose(await pb[i][1].grad!.data(), await ps[i][1].grad!.data(), { atol: 1e-5, msg: pb[i][0] });
    }
  });
});

gpuTest("MultiheadAttention: separate q/k/v projection weights (kdim, vdim) get gradients", async () => {
  manualSeed(6);
  const mha = new nn.MultiheadAttention(8, 2, { kdim: 4, vdim: 6 });
  await scope(async () => {
    const [y] = mha.call(randn([3, 2, 8]), randn([5, 2, 4]), randn([5, 2, 6]));
    y.square().sum().backward();
    for (const [name, p] of mha.namedParameters()) {
      assert(p.grad, `${name} has a gradient`);
      assert((await p.grad.data()).some((v) => v !== 0), `${name}: nonzero gradient`);
    }
  });
});

gpuTest("ResNet BasicBlock: the identity shortcut carries the gradient", async () => {
  const block = new BasicBlock(2, 2);
  constant_(block.conv1.weight, 0);
  constant_(block.conv2.weight, 0);
  block.eval(); // running stats 0/1: the branch is exactly 0, so y = relu(x)
  await scope(async () => {
    const x = tensor(new Float32Array(2 * 2 * 3 * 3).map((_, i) => 1 + i), [2, 2, 3, 3], { requiresGrad: true });
    block.call(x).sum().backward();
    assertClose(await x.grad!.data(), new Float32Array(36).fill(1), { atol: 1e-6 });
  });
  block.dispose();
});

gpuTest("GradScaler({enabled: false}): scale() is the identity and backward reaches the loss's inputs", async () => {
  const w = tensor([1, 2], undefined, { requiresGrad: true });
  await scope(async () => {
    new GradScaler({ enabled: false }).scale(w.square().sum()).backward();
    assertEquals(await w.grad!.toArray(), [2, 4]);
  });
});
