import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { assertClose, gpuTest } from "./_util.ts";
import * as md from "../mod.ts";
import { keep, memoryStats, noGrad, scope, tensor } from "../mod.ts";

gpuTest("shared sub-graphs (residual paths) are visited once and gradients add up", async () => {
  const x = tensor([1, 2, 3], undefined, { requiresGrad: true });
  const h = x.mul(x); // used twice below
  const y = h.add(h.mul(2)).add(x).sum(); // 3x² + x
  y.backward();
  assertEquals(await x.grad!.toArray(), [7, 13, 19]); // 6x + 1
});

gpuTest("gradients accumulate into .grad across backward calls", async () => {
  const w = tensor([1, 2], undefined, { requiresGrad: true });
  w.mul(3).sum().backward();
  w.mul(3).sum().backward();
  assertEquals(await w.grad!.toArray(), [6, 6]);
});

gpuTest("backward with an explicit gradient; non-scalar without one is an error", async () => {
  const x = tensor([1, 2, 3], undefined, { requiresGrad: true });
  const y = x.mul(x);
  assertThrows(() => y.backward(), Error, "implicitly created only for scalar outputs");
  y.backward(tensor([1, 0, 2]));
  assertEquals(await x.grad!.toArray(), [2, 0, 12]);
  const z = x.mul(2);
  assertThrows(() => z.backward(tensor([1, 2])), RangeError, "does not match");
});

gpuTest("noGrad and detach cut the graph; requiresGrad propagates", () => {
  const x = tensor([1], undefined, { requiresGrad: true });
  assertEquals(x.add(1).requiresGrad, true);
  assertEquals(noGrad(() => x.add(1)).requiresGrad, false);
  assertEquals(x.detach().requiresGrad, false);
  assertEquals(x.detach().add(1).requiresGrad, false);
  assertEquals(tensor([1]).add(1).requiresGrad, false);
  assertThrows(() => tensor([1]).add(1).backward(), Error, "does not require grad");
});

gpuTest("a second backward without retainGraph fails clearly; with it, it works", async () => {
  const x = tensor([2], undefined, { requiresGrad: true });
  const y2 = x.exp().sum();
  y2.backward(undefined, { retainGraph: true });
  y2.backward();
  assertClose(await x.grad!.data(), [2 * Math.exp(2)], { rtol: 1e-5 });
  const y3 = x.exp().sum();
  y3.backward();
  assertThrows(() => y3.backward(), Error, "already freed");
});

gpuTest("saved tensors outlive disposal of the user's handles", async () => {
  const x = tensor([1, 2], undefined, { requiresGrad: true });
  const h = x.exp();
  const y = h.mul(h).sum();
  h.dispose(); // backward still needs exp(x)
  y.backward();
  assertClose(await x.grad!.data(), [2 * Math.exp(2), 2 * Math.exp(4)], { rtol: 1e-5 });
});

gpuTest("scope frees intermediates, keeps what it returns (and its graph)", async () => {
  const x = keep(tensor([1, 2, 3], undefined, { requiresGrad: true }));
  const before = memoryStats().liveBytes;
  const loss = scope(() => x.mul(x).sum());
  loss.backward(); // the graph survived the scope
  assertEquals(await x.grad!.toArray(), [2, 4, 6]);
  loss.dispose();
  x.grad!.dispose();
  assertEquals(memoryStats().liveBytes, before);
  const r = await scope(async () => {
    const a = tensor([1, 2]);
    await a.data();
    return { kept: a.add(1), other: 3 };
  });
  assertEquals(await r.kept.toArray(), [2, 3]);
  x.dispose();
});

gpuTest("use after dispose names the op and the tensor", async () => {
  const x = tensor([1, 2]);
  x.dispose();
  assertThrows(() => x.add(1), Error, "used after dispose()");
  await assertRejects(() => x.data(), Error, "data: tensor");
});

gpuTest("memory: 1000 forward+backward iterations inside scope leave live bytes flat", async () => {
  const w = keep(md.randn([16, 8], { requiresGrad: true }));
  const b = keep(md.zeros([8], { requiresGrad: true }));
  const x = keep(md.randn([4, 16, 8]));
  const step = () =>
    scope(() => {
      const h = x.mul(w).add(b).tanh(); // [4,16,8]
      const loss = h.sum(1).logsumexp(1).mean().add(h.var(0).mean());
      loss.backward();
    });
  for (let i = 0; i < 10; i++) step();
  await md.synchronize();
  const start = memoryStats().liveBytes;
  for (let i = 0; i < 1000; i++) step();
  await md.synchronize();
  const end = memoryStats().liveBytes;
  assertEquals(end, start, `live bytes grew from ${start} to ${end}`);
  assert(w.grad !== null);
  for (const t of [w, b, x, w.grad!, b.grad!]) t.dispose();
});

gpuTest(
  "a leaf that did not need gradients when an op ran gets none from it, even if it needs them by backward()",
  async () => {
    const w = tensor([2, 3], undefined, { requiresGrad: true });
    const x = tensor([5, 7], undefined, { requiresGrad: true });
    w.requiresGrad = false; // frozen for this op only (as a GAN's generator term reads its discriminator)
    const frozen = w.mul(x).sum();
    w.requiresGrad = true;
    const live = w.mul(w).sum();
    frozen.add(live).backward();
    assertEquals(await w.grad!.toArray(), [4, 6], "only the op that ran with w trainable");
    assertEquals(await x.grad!.toArray(), [2, 3]);
  },
);

gpuTest(
  "add's gradient passes through without a copy; leaves sharing it get their own, so in-place updates stay apart",
  async () => {
    await scope(async () => {
      // The backward of 2a + 3b runs one kernel per mul and none for the add.
      const a0 = tensor([1, 2, 3], [3]).requiresGrad_(), b0 = tensor([4, 5, 6], [3]).requiresGrad_();
      const sum2 = md.add(a0.mul(2), b0.mul(3));
      const before = md.dispatchCounters().dispatches;
      sum2.backward(tensor([1, 1, 1], [3]));
      assertEquals(md.dispatchCounters().dispatches - before, 2, "dispatches of the backward pass");
      assertClose(await a0.grad!.data(), [2, 2, 2]);
      assertClose(await b0.grad!.data(), [3, 3, 3]);

      // Leaves that receive the same storage (w from add, a from sub's first input) get copies.
      const a = tensor([1, 2, 3], [3]).requiresGrad_();
      const b = tensor([4, 5, 6], [3]).requiresGrad_();
      const w = tensor([0.5, -1, 2], [3]).requiresGrad_();
      const s = md.add(md.add(a.mul(2), b.mul(3)), w);
      md.sub(s, a).square().sum().backward();
      // s − a = a + 3b + w; loss = Σ (s − a)² → dL/ds = 2(a + 3b + w)
      const ds = [1, 2, 3].map((ai, i) => 2 * (ai + 3 * [4, 5, 6][i] + [0.5, -1, 2][i]));
      assertClose(await a.grad!.data(), ds);
      assertClose(await b.grad!.data(), ds.map((d) => 3 * d));
      assertClose(await w.grad!.data(), ds);
      for (const [x, y] of [[a, b], [a, w], [b, w]]) assert(x.grad!.storage !== y.grad!.storage, "own storage");
      md.clipGradNorm([w], 1e-3); // in place on w.grad only
      assertClose(await a.grad!.data(), ds);
      assertClose(await b.grad!.data(), ds.map((d) => 3 * d));
    });
  },
);

gpuTest(
  "cat along dim 0: each input's gradient is a dense slice of the output's, not a copy; the caller's gradient is never aliased",
  async () => {
    await scope(async () => {
      const a = tensor([1, 2, 3, 4], [2, 2]).requiresGrad_();
      const b = tensor([5, 6], [1, 2]).requiresGrad_();
      const weights = tensor([1, 2, 3, 4, 5, 6], [3, 2]);
      // The same backward pass with and without the cat in front: cat adds no kernel.
      const backwardDispatches = (x: md.Tensor) => {
        const loss = x.mul(weights).sum();
        const before = md.dispatchCounters().dispatches;
        loss.backward();
        return md.dispatchCounters().dispatches - before;
      };
      const plain = backwardDispatches(tensor([1, 2, 3, 4, 5, 6], [3, 2]).requiresGrad_());
      assertEquals(backwardDispatches(md.cat([a, b], 0)), plain, "dispatches of the backward pass");
      assertClose(await a.grad!.data(), [1, 2, 3, 4]);
      assertClose(await b.grad!.data(), [5, 6]);
      assert(a.grad!.storage === b.grad!.storage && b.grad!.offset === 4, "slices of one storage");
      md.clipGradNorm([a], 1e-3); // in place on a's slice only
      assertClose(await b.grad!.data(), [5, 6]);

      // With the caller's own gradient tensor, the leaves get copies: it is left as it was.
      const p = tensor([1, 1], [1, 2]).requiresGrad_(), q = tensor([2, 2], [1, 2]).requiresGrad_();
      const mine = tensor([7, 8, 9, 10], [2, 2]);
      md.cat([p, q], 0).backward(mine);
      assert(p.grad!.storage !== mine.storage && q.grad!.storage !== mine.storage, "not views of the caller's tensor");
      md.clipGradNorm([p, q], 1e-3);
      assertClose(await mine.data(), [7, 8, 9, 10]);
    });
  },
);
