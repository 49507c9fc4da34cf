/**
 * Reconstruction quality of volumes (and images): PSNR, and SSIM (Wang et al. 2004) as MONAI's
 * `SSIMMetric` computes it — a Gaussian window (11 voxels, σ 1.5, normalised) over the valid
 * region, C1 = (0.01·range)², C2 = (0.03·range)², the SSIM map averaged. The window shrinks to the
 * largest odd size that fits an axis shorter than 11. Float64 on the CPU.
 * @module
 */

function check(fn: string, a: ArrayLike<number>, b: ArrayLike<number>, shape: readonly number[]): void {
  const n = shape.reduce((x, y) => x * y, 1);
  if (a.length !== n || b.length !== n) {
    throw new RangeError(`${fn}: both inputs need ${n} values for shape [${shape}], got ${a.length} and ${b.length}`);
  }
}

/** Peak signal-to-noise ratio in dB: 10·log10(range² / MSE) (Infinity for identical inputs). */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>, dataRange = 1): number {
  if (a.length !== b.length || a.length === 0) {
    throw new RangeError(`psnr: inputs must have the same, non-zero length, got ${a.length} and ${b.length}`);
  }
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((dataRange * dataRange) / mse);
}

function gaussian(size: number, sigma: number): Float64Array {
  const c = (size - 1) / 2,
    g = Float64Array.from({ length: size }, (_, i) => Math.exp(-((i - c) ** 2) / (2 * sigma * sigma)));
  const s = g.reduce((x, y) => x + y, 0);
  return g.map((v) => v / s);
}

/** Valid-mode separable filtering of `x` (row-major over `shape`) by `w[axis]` along every axis. */
function filterValid(x: Float64Array, shape: number[], w: Float64Array[]): { data: Float64Array; shape: number[] } {
  let data = x, cur = [...shape];
  for (let axis = 0; axis < cur.length; axis++) {
    const k = w[axis].length, out = [...cur];
    out[axis] = cur[axis] - k + 1;
    const inner = cur.slice(axis + 1).reduce((p, q) => p * q, 1);
    const outer = cur.slice(0, axis).reduce((p, q) => p * q, 1);
    const next = new Float64Array(outer * out[axis] * inner);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < out[axis]; i++) {
        for (let j = 0; j < inner; j++) {
          let s = 0;
          for (let t = 0; t < k; t++) s += w[axis][t] * data[(o * cur[axis] + i + t) * inner + j];
          next[(o * out[axis] + i) * inner + j] = s;
        }
      }
    }
    data = next;
    cur = out;
  }
  return { data, shape: cur };
}

/** Options of {@linkcode ssim}. */
export interface SsimOptions {
  /** Value range of the data (default 1). */
  dataRange?: number;
  /** Window size (odd; default 11, MONAI's). */
  kernelSize?: number;
  /** Window σ (default 1.5). */
  sigma?: number;
}

/** Mean SSIM of `a` against `b`, both row-major over `shape` (any number of spatial axes). */
export function ssim(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  shape: readonly number[],
  opts: SsimOptions = {},
): number {
  check("ssim", a, b, shape);
  const range = opts.dataRange ?? 1, sigma = opts.sigma ?? 1.5, size = opts.kernelSize ?? 11;
  if (!Number.isInteger(size) || size < 1 || size % 2 === 0) {
    throw new RangeError(`ssim: kernelSize must be odd, got ${size}`);
  }
  const w = shape.map((s) => gaussian(Math.min(size, s % 2 === 1 ? s : s - 1), sigma));
  const x = Float64Array.from(a), y = Float64Array.from(b);
  const sh = [...shape];
  const mx = filterValid(x, sh, w).data, my = filterValid(y, sh, w).data;
  const xx = filterValid(x.map((v) => v * v), sh, w).data, yy = filterValid(y.map((v) => v * v), sh, w).data;
  const xy = filterValid(x.map((v, i) => v * y[i]), sh, w).data;
  const c1 = (0.01 * range) ** 2, c2 = (0.03 * range) ** 2;
  let sum = 0;
  for (let i = 0; i < mx.length; i++) {
    const vx = xx[i] - mx[i] * mx[i], vy = yy[i] - my[i] * my[i], cov = xy[i] - mx[i] * my[i];
    sum += ((2 * mx[i] * my[i] + c1) * (2 * cov + c2)) / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2));
  }
  return sum / mx.length;
}
