import { assertEquals } from "./_asserts.ts";
import { assertClose, gpuTest } from "./_util.ts";
import { conv2d, manualSeed, randn, scope } from "../mod.ts";

// ResNet-18's layer4.0.conv1 at batch 64: the weight gradient's per-image partials
// (64 × 512 × 256·9 floats = 302 MB) exceed a 128 MiB storage binding unless chunked.
gpuTest("conv2d weight gradient of a large batch is chunked under the binding limit", async () => {
  manualSeed(3);
  const x = randn([64, 256, 7, 7]);
  const w = randn([512, 256, 3, 3], { requiresGrad: true });
  const full = await scope(async () => {
    conv2d(x, w, null, { stride: 2, padding: 1 }).sum().backward();
    const d = await w.grad!.data();
    w.grad!.dispose();
    w.grad = null;
    return d;
  });
  // The same gradient accumulated over four batches of 16.
  for (let i = 0; i < 4; i++) {
    scope(() => conv2d(x.narrow(0, 16 * i, 16), w, null, { stride: 2, padding: 1 }).sum().backward());
  }
  const parts = await w.grad!.data();
  assertEquals(full.length, 512 * 256 * 9);
  assertClose(full, parts, { atol: 1e-3, rtol: 1e-4 });
});
