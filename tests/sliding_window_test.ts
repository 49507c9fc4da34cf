/**
 * slidingWindow (models/sliding_window.ts): overlapping, blended tiles give the untiled result
 * for position-wise and block-local networks (also across scales: 2× down, 2× up), a tile that
 * covers the volume gives exactly fn(x) even for the MAISI VAE (GroupNorm inside), and bad
 * arguments are refused.
 */
import { avgPool3d, interpolate, noGrad, tensor } from "../mod.ts";
import { Conv3d } from "../core/nn/conv.ts";
import { MaisiVAE } from "../models/vae3d.ts";
import { slidingWindow } from "../models/sliding_window.ts";
import { assertEquals, assertRejects } from "./_asserts.ts";
import { assertClose, gpuTest, randomArray } from "./_util.ts";

const volume = (shape: number[], seed = 1) =>
  tensor(Float32Array.from(randomArray(shape.reduce((a, b) => a * b, 1), seed)), shape);

gpuTest(
  "slidingWindow: blended overlapping tiles equal the untiled pass of position-wise and block-local maps",
  async () => {
    const x = volume([2, 2, 10, 12, 8]);
    const conv = new Conv3d(2, 3, 1);
    for (const mode of ["gaussian", "constant"] as const) {
      const tiled = await slidingWindow(x, (t) => conv.call(t), { roi: [4, 5, 4], overlap: 0.5, mode });
      const whole = noGrad(() => conv.call(x));
      assertEquals(tiled.shape, [2, 3, 10, 12, 8]);
      assertClose(await tiled.data(), await whole.data(), { atol: 1e-5, msg: `1×1×1 conv, ${mode}` });
      tiled.dispose();
      whole.dispose();
    }
    // 2× down (an encoder's scale) and 2× up (a decoder's): tiles start on the coarse grid.
    const down = await slidingWindow(x, (t) => avgPool3d(t, { kernelSize: 2 }), { roi: 4, overlap: 0.5, scale: 0.5 });
    assertEquals(down.shape, [2, 2, 5, 6, 4]);
    assertClose(await down.data(), await avgPool3d(x, { kernelSize: 2 }).data(), { atol: 1e-6, msg: "2× down" });
    const up = await slidingWindow(down, (t) => interpolate(t, { scaleFactor: 2, mode: "nearest" }), {
      roi: [2, 4, 3],
      overlap: 0.5,
      scale: 2,
    });
    assertClose(await up.data(), await interpolate(down, { scaleFactor: 2, mode: "nearest" }).data(), {
      atol: 1e-6,
      msg: "2× up",
    });
    for (const t of [x, down, up]) t.dispose();
    conv.dispose();
  },
);

gpuTest("slidingWindow: one tile over the whole volume is exactly the VAE's own encode and decode", async () => {
  const vae = new MaisiVAE({ numChannels: [4, 8], numResBlocks: 1, normNumGroups: 2 });
  vae.eval();
  const x = volume([1, 1, 8, 8, 12], 3);
  const mu = noGrad(() => vae.encode(x).mu);
  const tiledMu = await slidingWindow(x, (t) => vae.encode(t).mu, { roi: 16, scale: 0.5 });
  assertClose(await tiledMu.data(), await mu.data(), { atol: 1e-6, msg: "encode" });
  const rec = noGrad(() => vae.decode(mu));
  const tiledRec = await slidingWindow(mu, (t) => vae.decode(t), { roi: [4, 4, 6], scale: 2 });
  assertClose(await tiledRec.data(), await rec.data(), { atol: 1e-6, msg: "decode" });
  for (const t of [x, mu, tiledMu, rec, tiledRec]) t.dispose();
  vae.dispose();
});

gpuTest("slidingWindow: bad arguments are refused", async () => {
  const x = volume([1, 1, 6, 6, 6]);
  await assertRejects(() => slidingWindow(x, (t) => t, { roi: 4, overlap: 1 }), RangeError, "overlap");
  await assertRejects(() => slidingWindow(x, (t) => t, { roi: [4, 4] }), RangeError, "roi");
  await assertRejects(() => slidingWindow(x, (t) => t, { roi: 3, scale: 0.5 }), RangeError, "multiples of 2");
  await assertRejects(() => slidingWindow(x, (t) => t, { roi: 4, scale: 2 }), RangeError, "fn gave");
  x.dispose();
});
