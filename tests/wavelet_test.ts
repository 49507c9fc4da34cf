/**
 * The one-level Haar transform (core/ops/wavelet.ts) against a float64 loop written from the
 * definition, its gradients by finite differences, the exact inverse, and bad input.
 */
import { assertEquals, assertThrows } from "./_asserts.ts";
import { assertClose, gpuTest, gradCheck, randomArray } from "./_util.ts";
import { haarDwt2d, haarIdwt2d, scope, tensor } from "../mod.ts";

/** Float64 Haar of (B, C, H, W): bands first, per 2×2 block a b / c d. */
function haarRef(shape: number[]) {
  const [B, C, H, W] = shape, h = H / 2, w = W / 2;
  return (x: Float64Array): Float64Array => {
    const out = new Float64Array(x.length);
    const at = (b: number, c: number, i: number, j: number) => x[((b * C + c) * H + i) * W + j];
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        for (let i = 0; i < h; i++) {
          for (let j = 0; j < w; j++) {
            const a = at(b, c, 2 * i, 2 * j), bb = at(b, c, 2 * i, 2 * j + 1);
            const cc = at(b, c, 2 * i + 1, 2 * j), d = at(b, c, 2 * i + 1, 2 * j + 1);
            const bands = [(a + bb + cc + d) / 2, (a - bb + cc - d) / 2, (a + bb - cc - d) / 2, (a - bb - cc + d) / 2];
            bands.forEach((v, k) => out[((b * 4 * C + k * C + c) * h + i) * w + j] = v);
          }
        }
      }
    }
    return out;
  };
}

gpuTest("haarDwt2d: bands against a float64 loop, gradients by finite differences", async () => {
  for (const shape of [[1, 1, 2, 2], [2, 3, 4, 6]]) {
    await gradCheck(`haarDwt2d ${shape}`, [{ shape }], (x) => haarDwt2d(x), haarRef(shape));
  }
  // The inverse is the transpose: check it against the reference's transpose through its gradient.
  await gradCheck("haarIdwt2d [2, 8, 3, 2]", [{ shape: [2, 8, 3, 2] }], (y) => haarIdwt2d(y), (y) => {
    // Solve haarRef(x) = y: the mixing is orthogonal and symmetric, so x = haarRef⁻¹(y) = the same mix back.
    const [B, C, h, w] = [2, 2, 3, 2], x = new Float64Array(y.length);
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        for (let i = 0; i < h; i++) {
          for (let j = 0; j < w; j++) {
            const band = (k: number) => y[((b * 4 * C + k * C + c) * h + i) * w + j];
            const [ll, lh, hl, hh] = [0, 1, 2, 3].map(band);
            const px = [
              (ll + lh + hl + hh) / 2,
              (ll - lh + hl - hh) / 2,
              (ll + lh - hl - hh) / 2,
              (ll - lh - hl + hh) / 2,
            ];
            const W = 2 * w;
            px.forEach((v, k) => x[((b * C + c) * 2 * h + 2 * i + (k >> 1)) * W + 2 * j + (k & 1)] = v);
          }
        }
      }
    }
    return x;
  });
});

gpuTest("haarIdwt2d inverts haarDwt2d (float32 round-off only); the transform keeps the energy", async () => {
  await scope(async () => {
    const shape = [3, 2, 6, 4], values = randomArray(144, 5);
    const x = tensor(Float32Array.from(values), shape);
    const y = haarDwt2d(x), back = haarIdwt2d(y);
    assertEquals(y.shape, [3, 8, 3, 2]);
    assertEquals(back.shape, shape);
    assertClose(await back.toArray(), values, { atol: 1e-6, rtol: 0 });
    const energy = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v * v, 0);
    assertClose([energy(await y.toArray())], [energy(values)], { rtol: 1e-5 });
    // On dyadic values (8-bit pixels / 128 − 1, as images are) every sum is exact: bit-for-bit back.
    const pixels = Float32Array.from(values, (v) => Math.round((v + 1) * 127.5) / 128 - 1);
    const exact = haarIdwt2d(haarDwt2d(tensor(pixels, shape)));
    assertEquals(Array.from(await exact.toArray()), Array.from(pixels));
    // A constant image has only a low-pass band, twice the pixel value.
    const flat = haarDwt2d(tensor(new Float32Array(16).fill(0.25), [1, 1, 4, 4]));
    assertClose(await flat.toArray(), [...new Array(4).fill(0.5), ...new Array(12).fill(0)], { atol: 1e-7 });
  });
});

gpuTest("haar: bad shapes name the op and the shape", () => {
  scope(() => {
    assertThrows(
      () => haarDwt2d(tensor(new Float32Array(6), [1, 1, 2, 3])),
      RangeError,
      "haarDwt2d: height and width must be even",
    );
    assertThrows(() => haarDwt2d(tensor(new Float32Array(4), [1, 2, 2])), RangeError, "expected (B, C, H, W)");
    assertThrows(() => haarIdwt2d(tensor(new Float32Array(12), [1, 3, 2, 2])), RangeError, "multiple of 4");
  });
});
