import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { assertClose, gpuTest } from "./_util.ts";
import { GradScaler, memoryStats, scope, SGD, synchronize, tensor } from "../mod.ts";

gpuTest("GradScaler: scaled backward + unscale gives the plain gradient; the step runs", async () => {
  const w = tensor([1, -2, 3], undefined, { requiresGrad: true });
  const opt = new SGD([w], { lr: 0.1 });
  const scaler = new GradScaler({ initScale: 1024 });
  await scope(async () => {
    scaler.scale(w.mul(w).sum()).backward(); // d/dw = 2w, scaled by 1024
    assertClose(await w.grad!.data(), [2048, -4096, 6144]);
    assert(await scaler.step(opt), "a finite step runs");
    await scaler.update();
  });
  assertClose(await w.data(), [0.8, -1.6, 2.4], { atol: 1e-6 }); // w − 0.1·2w
  assertEquals(scaler.getScale(), 1024);
});

gpuTest("GradScaler: an overflow skips the step and backs off; clean steps grow the scale", async () => {
  const w = tensor([1, 2], undefined, { requiresGrad: true });
  const opt = new SGD([w], { lr: 0.1 });
  const scaler = new GradScaler({ initScale: 8, growthInterval: 2 });
  await scope(async () => {
    scaler.scale(w.mul(tensor([Infinity, 1])).sum()).backward(); // gradient ∞ in the first entry
    assertEquals(await scaler.step(opt), false);
    await scaler.update();
  });
  assertEquals(await w.toArray(), [1, 2]); // untouched
  assertEquals(scaler.getScale(), 4);
  for (let i = 0; i < 2; i++) {
    await scope(async () => {
      opt.zeroGrad();
      scaler.scale(w.sum()).backward();
      assertEquals(await scaler.step(opt), true);
      await scaler.update();
    });
  }
  assertEquals(scaler.getScale(), 8); // grown after 2 clean steps
  assertEquals(scaler.stateDict(), { scale: 8, growthTracker: 0 });
  const before = memoryStats().liveBytes;
  await scope(async () => {
    opt.zeroGrad();
    scaler.scale(w.sum().mul(0)).backward();
    await scaler.step(opt);
    await scaler.update();
  });
  await synchronize();
  assertEquals(memoryStats().liveBytes, before, "no leaks per step");
  assertThrows(() => new GradScaler({ backoffFactor: 2 }), RangeError, "backoffFactor");
});
