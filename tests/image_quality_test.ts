/**
 * PSNR and SSIM (metrics/image_quality.ts) against NumPy/SciPy (scripts/make_image_quality_fixture.py:
 * the full, non-separable Gaussian window via scipy.ndimage), in 3-D (with an axis shorter than the
 * window) and 2-D; SSIM of a volume with itself is 1.
 */
import { psnr, ssim } from "../metrics/image_quality.ts";
import { assertAlmostEquals, assertEquals, assertThrows } from "./_asserts.ts";

const fixture = JSON.parse(Deno.readTextFileSync(new URL("./fixtures/image_quality.json", import.meta.url))) as {
  cases: { shape: number[]; ssim: number; ssim_self: number; psnr: number }[];
};

function inputs(shape: number[]) {
  const n = shape.reduce((a, b) => a * b, 1);
  const a = Float32Array.from({ length: n }, (_, i) => 0.5 + 0.4 * Math.sin(0.37 * i));
  const b = Float32Array.from(a, (v, i) => Math.min(1, Math.max(0, v + 0.15 * Math.sin(1.9 * i + 0.3))));
  return { a, b };
}

Deno.test("ssim and psnr: NumPy/SciPy's values in 3-D and 2-D", () => {
  for (const c of fixture.cases) {
    const { a, b } = inputs(c.shape);
    assertAlmostEquals(ssim(a, b, c.shape), c.ssim, 1e-6, `ssim [${c.shape}]`);
    assertAlmostEquals(ssim(a, a, c.shape), 1, 1e-12, `ssim of itself [${c.shape}]`);
    assertAlmostEquals(psnr(a, b), c.psnr, 1e-4, `psnr [${c.shape}]`);
  }
  assertEquals(psnr([1, 2], [1, 2]), Infinity);
  assertThrows(() => ssim([1, 2, 3], [1, 2, 3], [2, 2]), RangeError, "4 values");
  assertThrows(() => ssim([1], [1], [1], { kernelSize: 4 }), RangeError, "odd");
});
