/**
 * Internal separable filtering shared by `gaussianBlur` and `benGraham`: a 1D Gaussian kernel
 * and a separable convolution with mirror (reflect-101) borders that returns float planes.
 * @module
 */
import type { Img } from "./_image.ts";

/** Normalised 1D Gaussian of `size` taps (odd) centred on the middle tap. */
export function gaussianKernel(size: number, sigma: number): Float32Array {
  const k = new Float64Array(size);
  const half = (size - 1) / 2;
  let total = 0;
  for (let i = 0; i < size; i++) {
    const x = (i - half) / sigma;
    k[i] = Math.exp(-0.5 * x * x);
    total += k[i];
  }
  return Float32Array.from(k, (v) => v / total);
}

/** Mirror index without repeating the edge (…, 2, 1 | 0, 1, 2, … | n−2, …), any distance out. */
export function reflect101(i: number, n: number): number {
  if (i >= 0 && i < n) return i;
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}

/**
 * Convolves every channel with the symmetric kernels `kx` along rows then `ky` along columns
 * (odd lengths, centred, `k[r − j] = k[r + j]`), mirroring at the borders (reflect-101, as
 * OpenCV's default and torchvision's `reflect`). Returns one float32 H×W plane per channel,
 * unrounded. Symmetric taps are paired, halving the multiplications.
 */
export function separableFilter(img: Img, kx: Float32Array, ky: Float32Array): Float32Array[] {
  const { data, width: W, height: H, channels: C, cs, ys, xs } = img;
  const rx = (kx.length - 1) / 2, ry = (ky.length - 1) / 2;
  const row = new Float32Array(W + 2 * rx);
  const srcIdx = new Int32Array(W + 2 * rx);
  for (let i = 0; i < srcIdx.length; i++) srcIdx[i] = reflect101(i - rx, W) * xs;
  const rowOf = new Int32Array(H + 2 * ry);
  for (let i = 0; i < rowOf.length; i++) rowOf[i] = reflect101(i - ry, H) * W;
  const planes: Float32Array[] = [];
  const tmp = new Float32Array(W * H);
  const k0x = kx[rx], k0y = ky[ry];
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) {
      const base = c * cs + y * ys;
      for (let i = 0; i < row.length; i++) row[i] = data[base + srcIdx[i]];
      const t = y * W;
      for (let x = 0; x < W; x++) {
        const m = x + rx;
        let s = k0x * row[m];
        for (let j = 1; j <= rx; j++) s += kx[rx + j] * (row[m - j] + row[m + j]);
        tmp[t + x] = s;
      }
    }
    const out = new Float32Array(W * H);
    for (let y = 0; y < H; y++) {
      const o = y * W, m = y + ry;
      const r0 = rowOf[m];
      for (let x = 0; x < W; x++) out[o + x] = k0y * tmp[r0 + x];
      for (let j = 1; j <= ry; j++) {
        const w = ky[ry + j], a = rowOf[m - j], b = rowOf[m + j];
        for (let x = 0; x < W; x++) out[o + x] += w * (tmp[a + x] + tmp[b + x]);
      }
    }
    planes.push(out);
  }
  return planes;
}
