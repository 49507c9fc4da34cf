/** Pooling, interpolation and dropout against plain float64 references, with gradient checks. */
import { Generator, ones, permute, tensor, zeros } from "../mod.ts";
import {
  adaptiveAvgPool1d,
  adaptiveAvgPool2d,
  adaptiveAvgPool3d,
  adaptiveMaxPool2d,
  avgPool1d,
  avgPool2d,
  avgPool3d,
  maxPool1d,
  maxPool2d,
  maxPool3d,
} from "../core/ops/pool.ts";
import { interpolate, type InterpolateMode } from "../core/ops/interpolate.ts";
import { dropout, dropout2d } from "../core/ops/dropout.ts";
import { assertClose, gpuTest, gradCheck, prod, randomArray } from "./_util.ts";
import { assert, assertEquals, assertThrows } from "./_asserts.ts";

/** One spatial dim of a reference pool: the input taps of output o. */
type Taps = (o: number) => number[];

/** Reference pool over (N·C planes, spatial dims), each dim described by its size and taps. */
function poolRef(
  x: ArrayLike<number>,
  planes: number,
  I: number[],
  O: number[],
  taps: Taps[],
  reduce: (vals: number[], window: number[][]) => number,
): { out: Float64Array; idx: number[] } {
  const out = new Float64Array(planes * prod(O)), idx: number[] = [];
  const pad = (v: number[]) => [...new Array(3 - v.length).fill(1), ...v];
  const I3 = pad(I), O3 = pad(O);
  const T3: Taps[] = [...new Array(3 - taps.length).fill(() => [0]), ...taps];
  let w = 0;
  for (let p = 0; p < planes; p++) {
    for (let a = 0; a < O3[0]; a++) {
      for (let b = 0; b < O3[1]; b++) {
        for (let c = 0; c < O3[2]; c++) {
          const win = [T3[0](a), T3[1](b), T3[2](c)];
          const vals: number[] = [], flat: number[] = [];
          for (const i of win[0]) {
            for (const j of win[1]) {
              for (const k of win[2]) {
                if (i < 0 || j < 0 || k < 0 || i >= I3[0] || j >= I3[1] || k >= I3[2]) continue;
                vals.push(x[p * prod(I3) + (i * I3[1] + j) * I3[2] + k]);
                flat.push((i * I3[1] + j) * I3[2] + k);
              }
            }
          }
          out[w++] = reduce(vals, win);
          let best = 0;
          vals.forEach((v, q) => (best = v > vals[best] ? q : best));
          idx.push(flat[best]);
        }
      }
    }
  }
  return { out, idx };
}

const range = (a: number, n: number, step = 1) => Array.from({ length: n }, (_, i) => a + i * step);

/** PyTorch's pooling output size. */
function outSize(I: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  let o = Math.floor((I + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (o - 1) * s >= I + p) o--;
  return o;
}

interface Fixed {
  k: number[];
  s: number[];
  p: number[];
  d: number[];
  ceil: boolean;
}

function fixedGeom(I: number[], f: Fixed) {
  const O = I.map((n, j) => outSize(n, f.k[j], f.s[j], f.p[j], f.d[j], f.ceil));
  const taps = I.map((_, j) => (o: number) => range(o * f.s[j] - f.p[j], f.k[j], f.d[j]));
  return { O, taps };
}

const maxRef = (shape: number[], f: Fixed) => (x: Float64Array) => {
  const I = shape.slice(2);
  const { O, taps } = fixedGeom(I, f);
  return poolRef(x, shape[0] * shape[1], I, O, taps, (v) => Math.max(...v));
};

const avgRef = (shape: number[], f: Fixed, includePad = true, divisor?: number) => (x: Float64Array) => {
  const I = shape.slice(2);
  const { O, taps } = fixedGeom(I, f);
  return poolRef(x, shape[0] * shape[1], I, O, taps, (v, win) => {
    const sum = v.reduce((a, e) => a + e, 0);
    if (divisor) return sum / divisor;
    if (!includePad) return sum / v.length;
    // Window clipped to the padded input.
    const size = win.slice(3 - I.length).reduce((acc, t, j) => acc * t.filter((i) => i < I[j] + f.p[j]).length, 1);
    return sum / size;
  }).out;
};

const adaptiveTaps = (I: number, O: number): Taps => (o) => {
  const a = Math.floor((o * I) / O), b = Math.ceil(((o + 1) * I) / O);
  return range(a, b - a);
};

const adaptiveRef = (shape: number[], O: number[], kind: "avg" | "max") => (x: Float64Array) => {
  const I = shape.slice(2);
  return poolRef(
    x,
    shape[0] * shape[1],
    I,
    O,
    I.map((n, j) => adaptiveTaps(n, O[j])),
    kind === "max" ? (v) => Math.max(...v) : (v) => v.reduce((a, e) => a + e, 0) / v.length,
  );
};

const fixed = (dims: number, k: number, s: number, p = 0, d = 1, ceil = false): Fixed => ({
  k: new Array(dims).fill(k),
  s: new Array(dims).fill(s),
  p: new Array(dims).fill(p),
  d: new Array(dims).fill(d),
  ceil,
});

gpuTest("maxPool1d/2d/3d: values, indices and gradients (stride, padding, dilation, ceilMode)", async () => {
  const cases: [number[], Fixed][] = [
    [[2, 2, 7, 6], fixed(2, 2, 2)],
    [[1, 2, 7, 5], fixed(2, 3, 2, 1)],
    [[1, 1, 8, 7], fixed(2, 3, 1, 1, 2)],
    [[2, 1, 7, 7], fixed(2, 2, 2, 0, 1, true)],
    [[1, 2, 6, 5], { k: [3, 2], s: [2, 1], p: [1, 0], d: [1, 2], ceil: true }],
  ];
  for (const [shape, f] of cases) {
    await gradCheck(
      `maxPool2d ${shape} ${JSON.stringify(f)}`,
      [{ shape }],
      (x) => maxPool2d(x, { kernelSize: f.k, stride: f.s, padding: f.p, dilation: f.d, ceilMode: f.ceil }),
      (x) => maxRef(shape, f)(x).out,
    );
  }
  const shape = [1, 2, 6, 5], f = cases[4][1];
  const data = randomArray(prod(shape), 5);
  const [, idx] = maxPool2d(tensor(data, shape), {
    kernelSize: f.k,
    stride: f.s,
    padding: f.p,
    dilation: f.d,
    ceilMode: true,
    returnIndices: true,
  });
  assertEquals(Array.from(await idx.data()), maxRef(shape, f)(Float64Array.from(data)).idx);

  await gradCheck(
    "maxPool1d",
    [{ shape: [2, 3, 9] }],
    (x) => maxPool1d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true }),
    (x) => maxRef([2, 3, 9], fixed(1, 3, 2, 1, 1, true))(x).out,
  );
  await gradCheck(
    "maxPool3d",
    [{ shape: [1, 2, 4, 5, 3] }],
    (x) => maxPool3d(x, { kernelSize: 2, stride: [2, 2, 1], padding: [1, 0, 1] }),
    (x) => maxRef([1, 2, 4, 5, 3], { k: [2, 2, 2], s: [2, 2, 1], p: [1, 0, 1], d: [1, 1, 1], ceil: false })(x).out,
  );
});

gpuTest("avgPool1d/2d/3d: countIncludePad, ceilMode, divisorOverride and gradients", async () => {
  const shape = [2, 2, 7, 6];
  for (
    const [f, incl, div] of [
      [fixed(2, 3, 2, 1), true, undefined],
      [fixed(2, 3, 2, 1, 1, true), false, undefined],
      [fixed(2, 3, 2, 1, 1, true), true, undefined],
      [fixed(2, 2, 1), true, 3],
    ] as [Fixed, boolean, number | undefined][]
  ) {
    await gradCheck(
      `avgPool2d ${JSON.stringify(f)} incl=${incl} div=${div}`,
      [{ shape }],
      (x) =>
        avgPool2d(x, {
          kernelSize: f.k,
          stride: f.s,
          padding: f.p,
          ceilMode: f.ceil,
          countIncludePad: incl,
          divisorOverride: div,
        }),
      avgRef(shape, f, incl, div),
    );
  }
  await gradCheck(
    "avgPool1d",
    [{ shape: [2, 2, 8] }],
    (x) => avgPool1d(x, { kernelSize: 4, stride: 3, padding: 2, ceilMode: true }),
    avgRef([2, 2, 8], fixed(1, 4, 3, 2, 1, true)),
  );
  await gradCheck(
    "avgPool3d",
    [{ shape: [1, 2, 3, 4, 5] }],
    (x) => avgPool3d(x, { kernelSize: [2, 3, 2], stride: [1, 2, 2], padding: [1, 1, 0], countIncludePad: false }),
    avgRef([1, 2, 3, 4, 5], { k: [2, 3, 2], s: [1, 2, 2], p: [1, 1, 0], d: [1, 1, 1], ceil: false }, false),
  );
});

gpuTest("adaptive pools: non-divisible sizes, values and gradients", async () => {
  await gradCheck(
    "adaptiveAvgPool1d",
    [{ shape: [2, 2, 7] }],
    (x) => adaptiveAvgPool1d(x, 3),
    (x) => adaptiveRef([2, 2, 7], [3], "avg")(x).out,
  );
  await gradCheck(
    "adaptiveAvgPool2d",
    [{ shape: [1, 2, 5, 7] }],
    (x) => adaptiveAvgPool2d(x, [3, 4]),
    (x) => adaptiveRef([1, 2, 5, 7], [3, 4], "avg")(x).out,
  );
  await gradCheck(
    "adaptiveAvgPool2d up",
    [{ shape: [1, 1, 3, 2] }],
    (x) => adaptiveAvgPool2d(x, [5, 3]),
    (x) => adaptiveRef([1, 1, 3, 2], [5, 3], "avg")(x).out,
  );
  await gradCheck(
    "adaptiveAvgPool3d",
    [{ shape: [1, 1, 3, 5, 4] }],
    (x) => adaptiveAvgPool3d(x, [2, 3, 3]),
    (x) => adaptiveRef([1, 1, 3, 5, 4], [2, 3, 3], "avg")(x).out,
  );
  await gradCheck(
    "adaptiveMaxPool2d",
    [{ shape: [2, 1, 7, 5] }],
    (x) => adaptiveMaxPool2d(x, [3, 2]),
    (x) => adaptiveRef([2, 1, 7, 5], [3, 2], "max")(x).out,
  );
  await gradCheck(
    "adaptiveAvgPool2d global",
    [{ shape: [2, 3, 4, 5] }],
    (x) => adaptiveAvgPool2d(x, 1),
    (x) => adaptiveRef([2, 3, 4, 5], [1, 1], "avg")(x).out,
  );
});

gpuTest("pools read non-contiguous and unbatched inputs", async () => {
  const data = randomArray(2 * 3 * 5 * 4, 9);
  // Stored as (N, H, W, C), viewed as NCHW.
  const x = permute(tensor(data, [2, 5, 4, 3]), [0, 3, 1, 2]);
  const dense = x.contiguous();
  const d64 = Float64Array.from(await dense.data());
  assertClose(
    await maxPool2d(x, { kernelSize: 2, stride: 1, padding: 1 }).data(),
    maxRef([2, 3, 5, 4], fixed(2, 2, 1, 1))(d64).out,
  );
  assertClose(
    await avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }).data(),
    avgRef([2, 3, 5, 4], fixed(2, 3, 2, 1))(d64),
  );
  const unbatched = dense.slice(0, 0, 1).squeeze(0);
  const y = adaptiveAvgPool2d(unbatched, [2, 3]);
  assertEquals(y.shape, [3, 2, 3]);
  assertClose(await y.data(), adaptiveRef([1, 3, 5, 4], [2, 3], "avg")(d64.slice(0, 60)).out);
});

gpuTest("pools: clear errors", () => {
  const x = zeros([1, 1, 4, 4]);
  assertThrows(() => maxPool2d(x, { kernelSize: 2, padding: 2 }), RangeError, "at most half");
  assertThrows(() => maxPool2d(x, { kernelSize: 5 }), RangeError, "too small");
  assertThrows(() => maxPool2d(zeros([4, 4]), { kernelSize: 2 }), RangeError, "maxPool2d: expected a 3-D or 4-D input");
  assertThrows(() => avgPool1d(zeros([1, 2, 4]), { kernelSize: [2, 2] }), RangeError, "kernelSize");
  assertThrows(() => adaptiveAvgPool2d(x, [0, 2]), RangeError, "outputSize");
});

/** Reference resampling: per-dim source taps (index, weight) of each output, float32 index maths as PyTorch. */
function interpRef(
  x: ArrayLike<number>,
  shape: number[],
  O: number[],
  mode: InterpolateMode,
  alignCorners: boolean,
  scales?: number[],
): Float64Array {
  const f = Math.fround;
  const I = shape.slice(2);
  const taps = I.map((n, j) => (o: number): [number, number][] => {
    const sf = scales?.[j];
    if (mode === "nearest") {
      const scale = sf ? f(1 / sf) : f(n / O[j]);
      return [[Math.min(Math.floor(f(o * scale)), n - 1), 1]];
    }
    const scale = alignCorners ? (O[j] > 1 ? f((n - 1) / (O[j] - 1)) : 0) : sf ? f(1 / sf) : f(n / O[j]);
    const src = alignCorners ? f(scale * o) : Math.max(f(f(scale * (o + 0.5)) - 0.5), 0);
    const i0 = Math.floor(src), l = f(src - i0);
    return [[i0, 1 - l], [Math.min(i0 + 1, n - 1), l]];
  });
  const out = new Float64Array(shape[0] * shape[1] * prod(O));
  const Sin = prod(I);
  let w = 0;
  for (let p = 0; p < shape[0] * shape[1]; p++) {
    const walk = (j: number, o: number[]) => {
      if (j === I.length) {
        // Cartesian product of the taps.
        let acc = 0;
        const rec = (d: number, off: number, wt: number) => {
          if (d === I.length) return void (acc += wt * x[p * Sin + off]);
          for (const [i, wi] of taps[d](o[d])) rec(d + 1, off * I[d] + i, wt * wi);
        };
        rec(0, 0, 1);
        out[w++] = acc;
        return;
      }
      for (let q = 0; q < O[j]; q++) walk(j + 1, [...o, q]);
    };
    walk(0, []);
  }
  return out;
}

gpuTest("interpolate: every mode ± alignCorners, up and down, size and scaleFactor, with gradients", async () => {
  const cases: [number[], InterpolateMode, number[], boolean][] = [
    [[2, 2, 5], "nearest", [8], false],
    [[1, 2, 7], "nearest", [3], false],
    [[1, 2, 5, 3], "nearest", [3, 7], false],
    [[1, 1, 2, 3, 2], "nearest", [3, 5, 4], false],
    [[2, 1, 5], "linear", [8], false],
    [[2, 1, 5], "linear", [3], true],
    [[1, 2, 4, 3], "bilinear", [7, 5], false],
    [[1, 2, 4, 3], "bilinear", [2, 6], true],
    [[1, 1, 3, 2, 3], "trilinear", [4, 3, 5], false],
    [[1, 1, 3, 2, 3], "trilinear", [2, 4, 1], true],
  ];
  for (const [shape, mode, size, ac] of cases) {
    await gradCheck(
      `interpolate ${mode} ${shape} → ${size} alignCorners=${ac}`,
      [{ shape }],
      (x) => interpolate(x, { size, mode, alignCorners: ac || undefined }),
      (x) => interpRef(x, shape, size, mode, ac),
    );
  }
  // scaleFactor: the kernel maps coordinates with 1/scale (PyTorch's default), not in/out.
  await gradCheck(
    "interpolate bilinear ×1.7",
    [{ shape: [1, 1, 3, 4] }],
    (x) => interpolate(x, { scaleFactor: 1.7, mode: "bilinear" }),
    (x) => interpRef(x, [1, 1, 3, 4], [5, 6], "bilinear", false, [1.7, 1.7]),
  );
  await gradCheck(
    "interpolate nearest ×[0.6, 2.5]",
    [{ shape: [1, 2, 5, 3] }],
    (x) => interpolate(x, { scaleFactor: [0.6, 2.5] }),
    (x) => interpRef(x, [1, 2, 5, 3], [3, 7], "nearest", false, [0.6, 2.5]),
  );
  await gradCheck(
    "interpolate recomputeScaleFactor",
    [{ shape: [1, 1, 3, 4] }],
    (x) => interpolate(x, { scaleFactor: 1.7, mode: "bilinear", recomputeScaleFactor: true }),
    (x) => interpRef(x, [1, 1, 3, 4], [5, 6], "bilinear", false),
  );
});

gpuTest("interpolate: non-contiguous input and errors", async () => {
  const data = randomArray(2 * 3 * 4, 4);
  const x = permute(tensor(data, [2, 4, 3]), [0, 2, 1]); // (N, C, L) from (N, L, C)
  const d64 = Float64Array.from(await x.contiguous().data());
  assertClose(
    await interpolate(x, { size: 7, mode: "linear" }).data(),
    interpRef(d64, [2, 3, 4], [7], "linear", false),
  );
  assertThrows(() => interpolate(zeros([1, 1, 4]), { size: 3, mode: "bilinear" }), RangeError, "needs a 4-D input");
  assertThrows(() => interpolate(zeros([1, 1, 4]), { size: 3, alignCorners: true }), RangeError, "alignCorners");
  assertThrows(() => interpolate(zeros([1, 1, 4]), { size: 3, scaleFactor: 2 }), RangeError, "exactly one");
  assertThrows(() => interpolate(zeros([4]), { size: 3 }), RangeError, "3-D, 4-D or 5-D");
});

gpuTest("dropout: seeded mask, scaling, identity modes and gradient", async () => {
  const n = 4000, p = 0.3;
  const x = ones([n], { requiresGrad: true });
  const y = dropout(x, p, true, { generator: new Generator(5) });
  const v = await y.data();
  const kept = v.filter((e) => e !== 0);
  assert(kept.every((e) => Math.abs(e - 1 / 0.7) < 1e-6), "kept values are scaled by 1/(1 − p)");
  assert(Math.abs(kept.length / n - 0.7) < 0.04, `keep rate ${kept.length / n}`);
  const again = await dropout(ones([n]), p, true, { generator: new Generator(5) }).data();
  assertEquals(Array.from(again), Array.from(v));
  y.mul(tensor(randomArray(n, 2), [n])).sum().backward();
  const g = await x.grad!.data(), w = randomArray(n, 2);
  assertClose(g, Array.from(v, (e, i) => e * Math.fround(w[i])));

  const z = tensor([1, 2, 3]);
  assertEquals(Array.from(await dropout(z, 0.5, false).data()), [1, 2, 3]);
  assertEquals(Array.from(await dropout(z, 0).data()), [1, 2, 3]);
  assertEquals(Array.from(await dropout(z, 1).data()), [0, 0, 0]);
  assertThrows(() => dropout(z, 1.5), RangeError, "p must be in [0, 1]");
});

gpuTest("dropout2d zeroes whole channels", async () => {
  const x = ones([4, 8, 3, 3]);
  const v = await dropout2d(x, 0.5, true, { generator: new Generator(1) }).data();
  let zeroed = 0;
  for (let c = 0; c < 32; c++) {
    const ch = v.slice(c * 9, c * 9 + 9);
    assert(ch.every((e) => e === ch[0]), "a channel is all kept or all dropped");
    assert(ch[0] === 0 || ch[0] === 2);
    if (ch[0] === 0) zeroed++;
  }
  assert(zeroed > 4 && zeroed < 28, `zeroed ${zeroed} of 32 channels`);
  assertThrows(() => dropout2d(zeros([2, 3]), 0.5), RangeError, "dropout2d: expected a 3-D or 4-D input");
});
