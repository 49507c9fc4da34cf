import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { assertClose, gpuTest, gradCheck, prod, randomArray, rng, stridesOf } from "./_util.ts";
import {
  binaryCrossEntropyWithLogits,
  crossEntropy,
  logSoftmax,
  mseLoss,
  nllLoss,
  type Reduction,
  softmax,
  type Tensor,
  tensor,
  transpose,
} from "../mod.ts";

// ---- float64 references ----

/** Applies `f` to every line of `x` (row-major, `shape`) along `dim`. */
function alongDim(
  x: ArrayLike<number>,
  shape: readonly number[],
  dim: number,
  f: (row: number[]) => number[],
): number[] {
  const out = new Array<number>(x.length);
  const st = stridesOf(shape), L = shape[dim], step = st[dim];
  for (let i = 0; i < x.length; i++) {
    if (Math.floor(i / step) % L !== 0) continue; // i is the start of a line
    const row = Array.from({ length: L }, (_, k) => x[i + k * step]);
    f(row).forEach((v, k) => (out[i + k * step] = v));
  }
  return out;
}

function logSoftmaxRow(row: number[]): number[] {
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
  return row.map((v) => v - lse);
}
const softmaxRow = (row: number[]) => logSoftmaxRow(row).map(Math.exp);

function reduceRef(loss: number[], reduction: Reduction, den = loss.length): number[] {
  const s = loss.reduce((a, v) => a + v, 0);
  return reduction === "none" ? loss : reduction === "sum" ? [s] : [s / den];
}

interface CeOpts {
  weight?: number[];
  ls?: number;
  reduction?: Reduction;
  ignore?: number;
}

/** PyTorch's cross-entropy with class-index targets, written out longhand. */
function ceIndexRef(x: ArrayLike<number>, shape: number[], target: number[], o: CeOpts): number[] {
  const [N, C] = shape, inner = prod(shape.slice(2));
  const { ls = 0, reduction = "mean", ignore = -100 } = o;
  const w = (c: number) => (o.weight ? o.weight[c] : 1);
  const nll: number[] = [], smooth: number[] = [];
  let den = 0;
  for (let n = 0; n < N; n++) {
    for (let s = 0; s < inner; s++) {
      const row = Array.from({ length: C }, (_, c) => x[(n * C + c) * inner + s]);
      const lp = logSoftmaxRow(row);
      const t = target[n * inner + s];
      if (t === ignore) {
        nll.push(0);
        smooth.push(0);
        continue;
      }
      den += w(t);
      nll.push(-w(t) * lp[t]);
      smooth.push(-lp.reduce((a, v, c) => a + w(c) * v, 0));
    }
  }
  const a = reduceRef(nll, reduction, den), b = reduceRef(smooth, reduction, den);
  return a.map((v, i) => (1 - ls) * v + (ls / C) * b[i]);
}

/** PyTorch's cross-entropy with class-probability targets. */
function ceProbRef(x: ArrayLike<number>, shape: number[], p: ArrayLike<number>, o: CeOpts): number[] {
  const [N, C] = shape, inner = prod(shape.slice(2));
  const { ls = 0, reduction = "mean" } = o;
  const loss: number[] = [];
  for (let n = 0; n < N; n++) {
    for (let s = 0; s < inner; s++) {
      const at = (c: number) => (n * C + c) * inner + s;
      const lp = logSoftmaxRow(Array.from({ length: C }, (_, c) => x[at(c)]));
      loss.push(-lp.reduce((a, v, c) => a + (o.weight?.[c] ?? 1) * (p[at(c)] * (1 - ls) + ls / C) * v, 0));
    }
  }
  return reduceRef(loss, reduction);
}

function bceRef(
  x: ArrayLike<number>,
  t: ArrayLike<number>,
  w: (i: number) => number,
  pw: (i: number) => number | undefined,
  reduction: Reduction,
): number[] {
  const loss = Array.from(x, (xi, i) => {
    const p = pw(i);
    const lw = p === undefined ? 1 : (p - 1) * t[i] + 1;
    return w(i) * ((1 - t[i]) * xi + lw * (Math.log1p(Math.exp(-Math.abs(xi))) + Math.max(-xi, 0)));
  });
  return reduceRef(loss, reduction);
}

const randInts = (n: number, hi: number, seed: number) => {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor(r() * hi));
};
const f32 = (shape: number[], seed: number, lo = -3, hi = 3): { t: Tensor; v: number[] } => {
  const v = Array.from(Float32Array.from(randomArray(prod(shape), seed, lo, hi)));
  return { t: tensor(Float32Array.from(v), shape), v };
};
const i32 = (v: number[], shape = [v.length]) => tensor(Int32Array.from(v), shape);

// ---- softmax / logSoftmax ----

gpuTest("softmax/logSoftmax: any dim, both kernel layouts, odd and large sizes", async () => {
  const cases: [number[], number][] = [
    [[3, 5], -1], // thread per row
    [[2, 3, 4], 1],
    [[4, 1000], 1], // workgroup per row
    [[2, 100, 3], 1], // workgroup per row, strided lines
    [[5000, 3], 1], // many rows
    [[17], 0],
    [[1, 1], 0],
  ];
  for (const [shape, dim] of cases) {
    const x = f32(shape, prod(shape));
    const d = dim < 0 ? dim + shape.length : dim;
    const msg = `${JSON.stringify(shape)} dim ${dim}`;
    assertClose(await softmax(x.t, dim).data(), alongDim(x.v, shape, d, softmaxRow), { msg, atol: 1e-6 });
    assertClose(await logSoftmax(x.t, dim).data(), alongDim(x.v, shape, d, logSoftmaxRow), { msg });
  }
  // Non-contiguous input.
  const x = f32([6, 70], 3);
  const xt = transpose(x.t, 0, 1); // (70, 6), softmax over the 70
  const xtv = Array.from({ length: 420 }, (_, i) => x.v[(i % 6) * 70 + Math.floor(i / 6)]);
  assertClose(await logSoftmax(xt, 0).data(), alongDim(xtv, [70, 6], 0, logSoftmaxRow));
  assertClose(
    await softmax(x.t.slice(1, 1, 60, 3), 1).data(),
    (() => {
      const v = Array.from({ length: 6 * 20 }, (_, i) => x.v[Math.floor(i / 20) * 70 + 1 + 3 * (i % 20)]);
      return alongDim(v, [6, 20], 1, softmaxRow);
    })(),
  );
  assertEquals(await softmax(tensor(2), 0).item(), 1);
  assertEquals(softmax(tensor([], [0, 3]), 1).shape, [0, 3]);
});

gpuTest("softmax/logSoftmax: numerically stable, -inf entries", async () => {
  assertClose(await softmax(tensor([1000, 1001, 1002])).data(), softmaxRow([0, 1, 2]));
  assertClose(await logSoftmax(tensor([[-1000, 0], [3e4, -3e4]])).data(), [-1000, 0, 0, -6e4]);
  assertEquals(await softmax(tensor([-Infinity, 0, -Infinity])).toArray(), [0, 1, 0]);
  // Large offsets keep full precision: (x − max) is exact, unlike x − (max + log Σ).
  const off = randomArray(50, 6, -3, 3).map((v) => Math.fround(1000 + v));
  assertClose(await logSoftmax(tensor(off, [5, 10]), 1).data(), alongDim(off, [5, 10], 1, logSoftmaxRow), {
    atol: 2e-6,
    rtol: 0,
  });
  const big = Array.from({ length: 300 }, (_, i) => 80 + i * 0.01);
  assertClose(await logSoftmax(tensor(big)).data(), logSoftmaxRow(big), { atol: 1e-4 });
});

gpuTest("softmax/logSoftmax: gradients (both layouts)", async () => {
  for (const [shape, dim] of [[[2, 3, 4], 1], [[3, 70], 1], [[70, 2], 0]] as [number[], number][]) {
    await gradCheck(
      `softmax ${shape}`,
      [{ shape, lo: -2, hi: 2 }],
      (x) => softmax(x, dim),
      (x) => alongDim(x, shape, dim, softmaxRow),
    );
    await gradCheck(
      `logSoftmax ${shape}`,
      [{ shape, lo: -2, hi: 2 }],
      (x) => logSoftmax(x, dim),
      (x) => alongDim(x, shape, dim, logSoftmaxRow),
    );
  }
});

gpuTest("softmax: errors name the op", () => {
  assertThrows(() => softmax(i32([1, 2])), TypeError, "softmax: expected a float32 tensor, got int32 of shape [2]");
  assertThrows(() => logSoftmax(tensor([[1]]), 2), RangeError, "logSoftmax: dim 2 is out of range");
});

// ---- mseLoss ----

gpuTest("mseLoss: reductions, non-contiguous inputs, gradients for both inputs", async () => {
  const a = f32([17, 3], 1), b = f32([3, 17], 2);
  const bt = transpose(b.t, 0, 1);
  const btv = Array.from({ length: 51 }, (_, i) => b.v[(i % 3) * 17 + Math.floor(i / 3)]);
  const sq = a.v.map((v, i) => (v - btv[i]) ** 2);
  for (const reduction of ["mean", "sum", "none"] as const) {
    assertClose(await mseLoss(a.t, bt, { reduction }).data(), reduceRef(sq, reduction), { msg: reduction });
  }
  assertEquals(mseLoss(a.t, bt, { reduction: "none" }).shape, [17, 3]);
  const big = f32([1003], 3), big2 = f32([1003], 4);
  assertClose(await mseLoss(big.t, big2.t).data(), reduceRef(big.v.map((v, i) => (v - big2.v[i]) ** 2), "mean"));
  assert(Number.isNaN(await mseLoss(tensor([]), tensor([])).item()));
  await gradCheck(
    "mseLoss",
    [{ shape: [2, 3] }, { shape: [2, 3] }],
    (x, y) => mseLoss(x, y),
    (x, y) => reduceRef(Array.from(x, (v, i) => (v - y[i]) ** 2), "mean"),
  );
  assertThrows(() => mseLoss(a.t, b.t), RangeError, "mseLoss: input [17, 3] and target [3, 17]");
  assertThrows(() => mseLoss(a.t, i32([1])), TypeError, "mseLoss: target must be float32, got int32");
  assertThrows(() => mseLoss(a.t, a.t, { reduction: "avg" as Reduction }), TypeError, "mseLoss: reduction");
});

// ---- nllLoss / crossEntropy ----

gpuTest("crossEntropy (index targets): weight + labelSmoothing + ignoreIndex vs PyTorch's formula", async () => {
  const shapes = [[7, 5], [3, 4, 2, 3], [1000, 10]];
  for (const shape of shapes) {
    const [N, C] = shape, inner = prod(shape.slice(2));
    const x = f32(shape, N + C);
    const target = randInts(N * inner, C, 9).map((t, i) => (i % 4 === 1 ? -1 : t));
    const tt = i32(target, [N, ...shape.slice(2)]);
    const weight = randomArray(C, 5, 0.2, 2).map((v) => Math.fround(v));
    const wt = tensor(Float32Array.from(weight));
    for (const reduction of ["mean", "sum", "none"] as const) {
      for (const ls of [0, 0.1]) {
        for (const w of [undefined, weight]) {
          const msg = `${JSON.stringify(shape)} ${reduction} ls=${ls} weight=${!!w}`;
          const got = crossEntropy(x.t, tt, { weight: w && wt, labelSmoothing: ls, reduction, ignoreIndex: -1 });
          assertEquals(got.shape, reduction === "none" ? [N, ...shape.slice(2)] : [], msg);
          const want = ceIndexRef(x.v, shape, target, { weight: w, ls, reduction, ignore: -1 });
          assertClose(await got.data(), want, { msg, atol: 1e-5, rtol: 3e-4 });
        }
      }
    }
  }
  // Non-contiguous logits: (C, N) transposed.
  const xc = f32([4, 9], 2);
  const xcv = Array.from({ length: 36 }, (_, i) => xc.v[(i % 4) * 9 + Math.floor(i / 4)]);
  const tc = randInts(9, 4, 3);
  assertClose(
    await crossEntropy(transpose(xc.t, 0, 1), i32(tc), { labelSmoothing: 0.2 }).data(),
    ceIndexRef(xcv, [9, 4], tc, { ls: 0.2 }),
  );
  // Default ignoreIndex is -100; unbatched (C) logits take a 0-d target.
  const x = f32([2, 3], 1);
  assertClose(await crossEntropy(x.t, i32([-100, 2])).data(), ceIndexRef(x.v, [2, 3], [-100, 2], {}));
  const u = crossEntropy(tensor(x.v.slice(0, 3)), i32([1], []), { reduction: "none" });
  assertEquals(u.shape, []);
  assertClose([await u.item()], ceIndexRef(x.v.slice(0, 3), [1, 3], [1], {}));
  // Every target ignored or an empty batch: mean is 0/0 = NaN, as in PyTorch.
  assert(Number.isNaN(await crossEntropy(x.t, i32([-100, -100])).item()));
  assert(Number.isNaN(await crossEntropy(tensor([], [0, 3]), i32([])).item()));
});

gpuTest("crossEntropy (index targets): gradients through the fused log-softmax", async () => {
  const target = [2, -1, 0, 1, 2, 2];
  const weight = [0.5, 2, 1.5];
  const tt = i32(target, [2, 3]);
  const wt = tensor(weight);
  await gradCheck(
    "crossEntropy (N, C, d)",
    [{ shape: [2, 3, 3], lo: -2, hi: 2 }],
    (x) => crossEntropy(x, tt, { weight: wt, labelSmoothing: 0.2, ignoreIndex: -1 }),
    (x) => ceIndexRef(x, [2, 3, 3], target, { weight, ls: 0.2, ignore: -1 }),
  );
  await gradCheck(
    "crossEntropy none",
    [{ shape: [4, 5], lo: -2, hi: 2 }],
    (x) => crossEntropy(x, i32([4, 0, 3, 3]), { reduction: "none" }),
    (x) => ceIndexRef(x, [4, 5], [4, 0, 3, 3], { reduction: "none" }),
  );
});

gpuTest("crossEntropy (probability targets): labelSmoothing, weight, gradients for both inputs", async () => {
  for (const shape of [[6, 4], [2, 5, 3]]) {
    const C = shape[1];
    const x = f32(shape, 3);
    const p = f32(shape, 4, 0, 1);
    const weight = randomArray(C, 8, 0.5, 1.5).map((v) => Math.fround(v));
    for (const reduction of ["mean", "sum", "none"] as const) {
      for (const ls of [0, 0.3]) {
        for (const w of [undefined, weight]) {
          const msg = `${JSON.stringify(shape)} ${reduction} ls=${ls} weight=${!!w}`;
          const got = crossEntropy(x.t, p.t, { weight: w && tensor(w), labelSmoothing: ls, reduction });
          assertClose(await got.data(), ceProbRef(x.v, shape, p.v, { weight: w, ls, reduction }), { msg, rtol: 3e-4 });
        }
      }
    }
  }
  await gradCheck(
    "crossEntropy probs",
    [{ shape: [3, 4], lo: -2, hi: 2 }, { shape: [3, 4], lo: 0, hi: 1 }],
    (x, p) => crossEntropy(x, p, { labelSmoothing: 0.1, weight: tensor([1, 2, 0.5, 1]) }),
    (x, p) => ceProbRef(x, [3, 4], p, { ls: 0.1, weight: [1, 2, 0.5, 1] }),
  );
});

gpuTest("nllLoss: weight, ignoreIndex, reductions, gradients", async () => {
  const shape = [5, 4];
  const lp = alongDim(randomArray(20, 3, -2, 2), shape, 1, logSoftmaxRow).map(Math.fround);
  const target = [3, 0, -100, 1, 3];
  const weight = [1, 0.5, 2, 3];
  const ref = (x: ArrayLike<number>, reduction: Reduction, w?: number[]) => {
    const loss = target.map((t, n) => (t === -100 ? 0 : -(w?.[t] ?? 1) * x[n * 4 + t]));
    const den = target.reduce((a, t) => a + (t === -100 ? 0 : w?.[t] ?? 1), 0);
    return reduceRef(loss, reduction, den);
  };
  const x = tensor(Float32Array.from(lp), shape);
  for (const reduction of ["mean", "sum", "none"] as const) {
    for (const w of [undefined, weight]) {
      const got = nllLoss(x, i32(target), { weight: w && tensor(w), reduction });
      assertClose(await got.data(), ref(lp, reduction, w), { msg: `${reduction} ${!!w}` });
    }
  }
  await gradCheck(
    "nllLoss",
    [{ shape, data: lp }],
    (a) => nllLoss(a, i32(target), { weight: tensor(weight) }),
    (a) => ref(a, "mean", weight),
  );
  assertThrows(() => nllLoss(x, tensor([1, 2, 3, 0, 1])), TypeError, "nllLoss: target must be int32");
  assertThrows(
    () => nllLoss(x, i32([1, 2])),
    RangeError,
    "nllLoss: target of shape [2] does not fit input of shape [5, 4]",
  );
  assertThrows(() => nllLoss(x, i32(target), { weight: tensor([1, 2]) }), RangeError, "nllLoss: weight of shape [2]");
});

gpuTest("crossEntropy: errors name the op and shapes", () => {
  const x = tensor([[1, 2, 3]]);
  assertThrows(() => crossEntropy(x, i32([0, 1])), RangeError, "crossEntropy: target of shape [2] does not fit input");
  assertThrows(() => crossEntropy(x, tensor([[1, 0]])), RangeError, "crossEntropy: probability target of shape [1, 2]");
  assertThrows(() => crossEntropy(x, tensor([true])), TypeError, "crossEntropy: target must be int32");
  assertThrows(() => crossEntropy(x, i32([0]), { labelSmoothing: 1.5 }), RangeError, "labelSmoothing");
  assertThrows(() => crossEntropy(i32([1, 2]), i32([0])), TypeError, "crossEntropy: logits must be float32");
});

// ---- binaryCrossEntropyWithLogits ----

gpuTest("binaryCrossEntropyWithLogits: weight, posWeight, stability, gradients", async () => {
  const shape = [17, 3];
  const x = f32(shape, 1, -6, 6), t = f32(shape, 2, 0, 1);
  const w = f32([17, 1], 3, 0.5, 2), pw = f32([3], 4, 0.5, 3);
  for (const reduction of ["mean", "sum", "none"] as const) {
    for (const withW of [false, true]) {
      for (const withPw of [false, true]) {
        const got = binaryCrossEntropyWithLogits(x.t, t.t, {
          weight: withW ? w.t : undefined,
          posWeight: withPw ? pw.t : undefined,
          reduction,
        });
        const want = bceRef(
          x.v,
          t.v,
          (i) => (withW ? w.v[Math.floor(i / 3)] : 1),
          (i) => (withPw ? pw.v[i % 3] : undefined),
          reduction,
        );
        assertClose(await got.data(), want, { msg: `${reduction} w=${withW} pw=${withPw}` });
      }
    }
  }
  // Huge logits: no overflow, exact zeros where the answer is 0.
  const big = binaryCrossEntropyWithLogits(tensor([100, -100, 100, -100]), tensor([1, 0, 0, 1]), { reduction: "none" });
  assertClose(await big.data(), [0, 0, 100, 100]);
  await gradCheck(
    "bce logits+target",
    [{ shape: [4, 3], lo: -3, hi: 3 }, { shape: [4, 3], lo: 0, hi: 1 }],
    (a, b) =>
      binaryCrossEntropyWithLogits(a, b, { posWeight: tensor([2, 0.5, 1]), weight: tensor([[1], [2], [0.5], [1]]) }),
    (a, b) => bceRef(a, b, (i) => [1, 2, 0.5, 1][Math.floor(i / 3)], (i) => [2, 0.5, 1][i % 3], "mean"),
  );
  await gradCheck(
    "bce at x = 0",
    [{ shape: [3], data: [0, 0, 1] }],
    (a) => binaryCrossEntropyWithLogits(a, tensor([0, 1, 0.3]), { reduction: "sum" }),
    (a) => bceRef(a, [0, 1, 0.3], () => 1, () => undefined, "sum"),
  );
  assertThrows(
    () => binaryCrossEntropyWithLogits(x.t, tensor([1])),
    RangeError,
    "binaryCrossEntropyWithLogits: target size [1] must be the same as input size [17, 3]",
  );
  assertThrows(
    () => binaryCrossEntropyWithLogits(x.t, t.t, { weight: tensor([1, 2]) }),
    RangeError,
    "binaryCrossEntropyWithLogits",
  );
  assertThrows(
    () => binaryCrossEntropyWithLogits(x.t, t.t, { posWeight: tensor([[[1, 2, 3]]]) }),
    RangeError,
    "binaryCrossEntropyWithLogits: posWeight of shape [1, 1, 3] must broadcast to [17, 3]",
  );
});
