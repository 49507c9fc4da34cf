/**
 * The convolution autotuner's benches run every candidate kernel on scratch buffers. Two
 * scratch areas of one pass may have the same size (im2col columns and per-image partials of
 * the weight gradient when the output has as many pixels as channels): they must not share a
 * buffer, or the GEMM reads and writes one binding (a WebGPU validation error).
 */
import { synchronize } from "../core/device.ts";
import { tensor } from "../mod.ts";
import type { ConvGeom, ConvPass } from "../core/backend/conv.ts";
import { convBench, convCandidates, defaultConvVariant, selectConvVariant } from "../core/backend/conv_select.ts";
import { columnChunks } from "../core/backend/conv.ts";
import { gpuTest } from "./_util.ts";
import { assert, assertEquals } from "./_asserts.ts";

gpuTest("conv autotune benches: scratch buffers of equal size do not alias (weight gradient, L = O)", async () => {
  // 8×8 output pixels = 64 = output channels: columns [Kg, L] and partials [O, Kg] are the same size.
  const g: ConvGeom = {
    N: 2,
    C: 64,
    O: 64,
    G: 1,
    inSize: [1, 8, 8],
    outSize: [1, 8, 8],
    kernel: [1, 3, 3],
    stride: [1, 1, 1],
    padding: [0, 1, 1],
    dilation: [1, 1, 1],
  };
  // A buffer kernel binds the GEMM's operands directly (the texture kernels pack them first,
  // which hides the aliasing): force one.
  const before = Deno.env.get("MEDDIFF_MATMUL");
  Deno.env.set("MEDDIFF_MATMUL", "rb8");
  try {
    await runAllCandidates(g);
  } finally {
    if (before === undefined) Deno.env.delete("MEDDIFF_MATMUL");
    else Deno.env.set("MEDDIFF_MATMUL", before);
  }
});

async function runAllCandidates(g: ConvGeom): Promise<void> {
  for (const pass of ["forward", "dataGrad", "weightGrad"] as ConvPass[]) {
    const candidates = convCandidates(pass, g);
    assert(candidates.includes("gemm"), `${pass}: gemm is a candidate`);
    for (const c of candidates) {
      const bench = convBench(pass, g);
      try {
        bench.run(c);
        await synchronize();
        await tensor([1]).data(); // a read-back throws a validation error of the batch as a GpuError
      } finally {
        bench.dispose();
      }
    }
  }
}

gpuTest(
  "conv columns: a volume whose im2col columns exceed the binding limit is split into spans, not sent to the direct kernel",
  () => {
    // 16 channels at 64³, 3×3×3: one image's columns are 16·27·64³ floats = 432 MiB.
    const same = (side: number, k: number): ConvGeom => ({
      N: 1,
      C: 16,
      O: 16,
      G: 1,
      inSize: [side, side, side],
      outSize: [side, side, side],
      kernel: [k, k, k],
      stride: [1, 1, 1],
      padding: [k >> 1, k >> 1, k >> 1],
      dilation: [1, 1, 1],
    });
    const big = same(64, 3);
    const limit = (128 << 20) / 4;
    assertEquals(columnChunks(big, limit), { nb: 1, lb: Math.floor(limit / (16 * 27)) }, "432 MiB: spans of 77,672");
    assertEquals(columnChunks({ ...same(8, 3), N: 8 }, limit), { nb: 8, lb: 512 }, "8³: whole images, all 8 at once");
    for (const pass of ["forward", "dataGrad", "weightGrad"] as const) {
      assert(selectConvVariant(pass, big) !== "direct", `${pass}: the default route is im2col + GEMM`);
    }
  },
);

gpuTest(
  "conv default variant: one input channel is not depthwise (Winograd), groups of one channel are (direct)",
  () => {
    const geom = (C: number, O: number, G: number, dims: 2 | 3): ConvGeom => ({
      N: dims === 2 ? 64 : 1,
      C,
      O,
      G,
      inSize: dims === 2 ? [1, 28, 28] : [64, 64, 64],
      outSize: dims === 2 ? [1, 28, 28] : [64, 64, 64],
      kernel: dims === 2 ? [1, 3, 3] : [3, 3, 3],
      stride: [1, 1, 1],
      padding: dims === 2 ? [0, 1, 1] : [1, 1, 1],
      dilation: [1, 1, 1],
    });
    for (const pass of ["forward", "dataGrad", "weightGrad"] as const) {
      assertEquals(defaultConvVariant(geom(1, 64, 1, 2), pass), "winograd4", `grayscale stem, ${pass}`);
      assertEquals(defaultConvVariant(geom(1, 16, 1, 3), pass), "winograd4", `3-D first layer, ${pass}`);
      assertEquals(defaultConvVariant(geom(64, 64, 64, 2), pass), "direct", `depthwise, ${pass}`);
    }
  },
);
