import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { assertClose, dispatchedOps, gpuTest, gradCheck, prod, randomArray, rng, stridesOf } from "./_util.ts";
import { cat, gather, indexSelect, oneHot, pad, repeat, stack, type Tensor, tensor, transpose } from "../mod.ts";

// ---- float64 references over row-major flat arrays ----

/** Multi-index of flat position `i` in `shape`. */
function coords(i: number, shape: readonly number[]): number[] {
  const st = stridesOf(shape);
  return shape.map((n, d) => Math.floor(i / st[d]) % n);
}

/** Flat position of `c` in `shape`. */
function flatAt(c: readonly number[], shape: readonly number[]): number {
  const st = stridesOf(shape);
  return c.reduce((a, v, d) => a + v * st[d], 0);
}

function catRef(xs: ArrayLike<number>[], shapes: number[][], dim: number): number[] {
  const out = [...shapes[0]];
  out[dim] = shapes.reduce((a, s) => a + s[dim], 0);
  const r = new Array<number>(prod(out));
  for (let i = 0; i < r.length; i++) {
    const c = coords(i, out);
    let k = 0, at = c[dim];
    while (at >= shapes[k][dim]) at -= shapes[k++][dim];
    const cc = [...c];
    cc[dim] = at;
    r[i] = xs[k][flatAt(cc, shapes[k])];
  }
  return r;
}

/** The windows of `x` (shape `shape`) that `cat(…, dim)` of pieces of `shapes` took from them. */
function splitRef(x: ArrayLike<number>, shape: number[], shapes: number[][], dim: number): number[][] {
  let at = 0;
  return shapes.map((sh) => {
    const out = new Array(prod(sh)).fill(0).map((_, i) => {
      const c = coords(i, sh);
      c[dim] += at;
      return x[flatAt(c, shape)];
    });
    at += sh[dim];
    return out;
  });
}

function padRef(x: ArrayLike<number>, shape: number[], p: number[], value: number): number[] {
  const R = shape.length;
  const before = new Array<number>(R).fill(0);
  const after = new Array<number>(R).fill(0);
  for (let i = 0; i < p.length / 2; i++) [before[R - 1 - i], after[R - 1 - i]] = [p[2 * i], p[2 * i + 1]];
  const out = shape.map((n, d) => n + before[d] + after[d]);
  return Array.from({ length: prod(out) }, (_, i) => {
    const c = coords(i, out).map((v, d) => v - before[d]);
    return c.every((v, d) => v >= 0 && v < shape[d]) ? x[flatAt(c, shape)] : value;
  });
}

function repeatRef(x: ArrayLike<number>, shape: number[], reps: number[]): number[] {
  const s = [...new Array(reps.length - shape.length).fill(1), ...shape];
  const out = reps.map((r, i) => r * s[i]);
  return Array.from({ length: prod(out) }, (_, i) => x[flatAt(coords(i, out).map((v, d) => v % s[d]), s)]);
}

function gatherRef(x: ArrayLike<number>, shape: number[], dim: number, idx: number[], ishape: number[]): number[] {
  return idx.map((_, i) => {
    const c = coords(i, ishape);
    c[dim] = idx[i];
    return c[dim] >= 0 && c[dim] < shape[dim] ? x[flatAt(c, shape)] : NaN;
  });
}

function indexSelectRef(x: ArrayLike<number>, shape: number[], dim: number, idx: number[]): number[] {
  const out = [...shape];
  out[dim] = idx.length;
  return Array.from({ length: prod(out) }, (_, i) => {
    const c = coords(i, out);
    c[dim] = idx[c[dim]];
    return x[flatAt(c, shape)];
  });
}

function randomInts(n: number, hi: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor(r() * hi));
}

const f32 = (shape: number[], seed = 1): { t: Tensor; v: number[] } => {
  const v = Array.from(Float32Array.from(randomArray(prod(shape), seed)));
  return { t: tensor(Float32Array.from(v), shape), v };
};
const i32 = (v: number[], shape = [v.length]): Tensor => tensor(Int32Array.from(v), shape);

// ---- cat / stack ----

gpuTest("cat: any dim, odd sizes, non-contiguous inputs, legacy empty tensors", async () => {
  for (
    const [shapes, dim] of [[[[3, 5], [1, 5], [17, 5]], 0], [[[2, 1, 4], [2, 3, 4]], 1], [[[4, 1000], [4, 3]], -1], [[
      [2, 8],
      [2, 4],
      [2, 12],
    ], 1], [[[3, 1500], [3, 4]], 1]] as [
      number[][],
      number,
    ][]
  ) {
    const xs = shapes.map((s, i) => f32(s, i + 1));
    const d = dim < 0 ? dim + shapes[0].length : dim;
    const out = cat(xs.map((x) => x.t), dim);
    assertEquals(out.shape, [
      ...shapes[0].slice(0, d),
      shapes.reduce((a, s) => a + s[d], 0),
      ...shapes[0].slice(d + 1),
    ]);
    assertClose(await out.data(), catRef(xs.map((x) => x.v), shapes, d), { msg: `cat ${JSON.stringify(shapes)}` });
  }
  // Transposed (non-contiguous) inputs.
  const a = f32([4, 3], 5), b = f32([2, 3], 6);
  const at = transpose(a.t, 0, 1), bt = transpose(b.t, 0, 1);
  const tRef = (v: number[], r: number, c: number) =>
    Array.from({ length: r * c }, (_, i) => v[(i % c) * r + Math.floor(i / c)]);
  assertClose(await cat([at, bt], 1).data(), catRef([tRef(a.v, 3, 4), tRef(b.v, 3, 2)], [[3, 4], [3, 2]], 1), {
    msg: "cat transposed",
  });
  // 1-D [0] tensors are skipped, other empty dims concatenate.
  const e = tensor([], [0]);
  assertEquals(cat([e, a.t, e], 0).shape, [4, 3]);
  assertEquals(cat([tensor([], [0, 3]), a.t], 0).shape, [4, 3]);
  assertEquals(cat([e, e]).shape, [0]);
});

gpuTest("cat: dtype promotion and errors naming shapes", async () => {
  const r = cat([i32([1, 2]), tensor([0.5])]);
  assertEquals(r.dtype, "float32");
  assertEquals(await r.toArray(), [1, 2, 0.5]);
  assertEquals(cat([i32([1]), tensor([true, false])]).dtype, "int32");
  assertThrows(
    () => cat([tensor([[1, 2]]), tensor([[1, 2, 3]])], 0),
    RangeError,
    "cat: sizes must match except in dim 0",
  );
  assertThrows(() => cat([tensor([[1, 2]]), tensor([[1, 2, 3]])], 0), RangeError, "[1, 2], [1, 3]");
  assertThrows(() => cat([], 0), RangeError, "cat");
  assertThrows(() => cat([tensor([[1]])], 2), RangeError, "cat: dim 2 is out of range");
});

gpuTest("cat/stack: gradients", async () => {
  await gradCheck(
    "cat",
    [{ shape: [2, 3] }, { shape: [2, 1] }, { shape: [2, 4] }],
    (a, b, c) => cat([a, b, c], 1),
    (a, b, c) => catRef([a, b, c], [[2, 3], [2, 1], [2, 4]], 1),
  );
  await gradCheck(
    "stack",
    [{ shape: [3, 2] }, { shape: [3, 2] }],
    (a, b) => stack([a, b], 1),
    (a, b) => catRef([a, b], [[3, 1, 2], [3, 1, 2]], 1),
  );
});

gpuTest("cat: several pieces in one dispatch each way, nine pieces in two, gradients of strided windows", async () => {
  // Nine [2, k, 3] pieces along dim 1 (windows that are not dense in the output or its
  // gradient), one of them a transposed view and one without a gradient.
  const shapes = Array.from({ length: 9 }, (_, i) => [2, 1 + (i % 3), 3]);
  const xs = shapes.map((sh, i) => f32(sh, 40 + i));
  const pieces = xs.map((x, i) => tensor(x.v, shapes[i], { requiresGrad: i !== 6 }));
  // Piece 4 as a permuted view ([3, 2, k] laid out, read as [2, k, 3]).
  const k4 = shapes[4][1];
  pieces[4] = tensor(xs[4].v, [3, 2, k4]).permute([1, 2, 0]).requiresGrad_();
  const values = await Promise.all(pieces.map(async (p) => Array.from(await p.contiguous().data())));
  let out!: Tensor;
  assertEquals(dispatchedOps(() => out = cat(pieces, 1)).length, 2, "nine pieces: two dispatches (seven, then two)");
  assertClose(await out.data(), catRef(values, shapes, 1), { msg: "nine pieces" });
  const probe = f32([...out.shape], 99);
  const backwardDispatches = (y: Tensor) => dispatchedOps(() => y.mul(probe.t).sum().backward()).length;
  const plain = backwardDispatches(tensor(await out.data(), [...out.shape], { requiresGrad: true }));
  assertEquals(backwardDispatches(out) - plain, 2, "the windows come out in one dispatch per group");
  let at = 0;
  for (let i = 0; i < 9; i++) {
    const k = shapes[i][1];
    const want: number[] = [];
    for (let n = 0; n < 2; n++) {
      for (let j = 0; j < k; j++) for (let c = 0; c < 3; c++) want.push(probe.v[(n * out.shape[1] + at + j) * 3 + c]);
    }
    at += k;
    if (i === 6) assert(!pieces[i].grad, "a piece without a gradient gets none");
    else assertClose(await pieces[i].grad!.data(), want, { msg: `piece ${i} gradient` });
  }
});

gpuTest(
  "cat of image maps along channels (a run per thread, vec4, blocks over 1,024 in chunks): values and gradients",
  async () => {
    for (const [hw, offset] of [[[4, 4], 0], [[40, 40], 0], [[3, 5], 0], [[4, 4], 2]] as [number[], number][]) {
      const shapes = [[2, 3, ...hw], [2, 1, ...hw], [2, 2, ...hw]];
      const xs = shapes.map((sh, i) => f32(sh, 60 + i));
      // The first piece as a view at `offset` (misaligned for vec4 when 2).
      const base = tensor([...new Array(offset).fill(0), ...xs[0].v], [offset + xs[0].v.length]);
      const pieces = [
        base.slice(0, offset).reshape(shapes[0]).requiresGrad_(),
        tensor(xs[1].v, shapes[1], { requiresGrad: true }),
        tensor(xs[2].v, shapes[2], { requiresGrad: true }),
      ];
      const out = cat(pieces, 1);
      const name = `${hw} offset ${offset}`;
      assertClose(await out.data(), catRef(xs.map((x) => x.v), shapes, 1), { msg: name });
      const probe = f32([...out.shape], 70);
      out.mul(probe.t).sum().backward();
      const grads = splitRef(probe.v, [...out.shape], shapes, 1);
      for (let i = 0; i < 3; i++) assertClose(await pieces[i].grad!.data(), grads[i], { msg: `${name}: grad ${i}` });
    }
  },
);

gpuTest("stack: new dim anywhere, shape errors", async () => {
  const a = f32([3, 17], 1), b = f32([3, 17], 2);
  for (const dim of [0, 1, 2, -1]) {
    const d = dim < 0 ? dim + 3 : dim;
    const s = [3, 17];
    s.splice(d, 0, 1);
    const out = stack([a.t, b.t], dim);
    const want = [...s];
    want[d] = 2;
    assertEquals(out.shape, want);
    assertClose(await out.data(), catRef([a.v, b.v], [s, s], d));
  }
  assertThrows(() => stack([a.t, tensor([1, 2])]), RangeError, "stack: expects each tensor to be equal size");
  assertThrows(() => stack([a.t, tensor([1, 2])]), RangeError, "[3, 17], [2]");
});

// ---- pad ----

gpuTest("pad: constant, negative crops, non-contiguous input, ints", async () => {
  const cases: [number[], number[], number][] = [
    [[3, 5], [1, 2], 0],
    [[3, 5], [1, 2, 0, 3], -1.5],
    [[2, 3, 17], [-2, 1, 1, -1], 7],
    [[1, 1003], [5, -1000], 0],
    [[4, 4], [-2, -2], 0],
  ];
  for (const [shape, p, value] of cases) {
    const x = f32(shape, 3);
    assertClose(await pad(x.t, p, value).data(), padRef(x.v, shape, p, value), { msg: JSON.stringify(p) });
  }
  const x = f32([3, 4], 4);
  const xt = transpose(x.t, 0, 1);
  const xtv = Array.from({ length: 12 }, (_, i) => x.v[(i % 3) * 4 + Math.floor(i / 3)]);
  assertClose(await pad(xt, [1, 1, 2, 0], 3).data(), padRef(xtv, [4, 3], [1, 1, 2, 0], 3));
  const pi = pad(i32([1, 2, 3]), [1, 1], 9);
  assertEquals(pi.dtype, "int32");
  assertEquals(await pi.toArray(), [9, 1, 2, 3, 9]);
  assertEquals(pad(tensor([], [0, 3]), [1, 1]).shape, [0, 5]);
  assertEquals(await pad(tensor([], [0]), [2, 1], 4).toArray(), [4, 4, 4]);
});

gpuTest("pad: gradients and errors", async () => {
  await gradCheck(
    "pad",
    [{ shape: [2, 3, 4] }],
    (x) => pad(x, [1, -2, -1, 2], 0.5),
    (x) => padRef(x, [2, 3, 4], [1, -2, -1, 2], 0.5),
  );
  const x = tensor([[1, 2]]);
  assertThrows(() => pad(x, [1]), RangeError, "pad: expected an even number");
  assertThrows(() => pad(x, [0, 0, 0, 0, 0, 0]), RangeError, "[1, 2]");
  assertThrows(() => pad(x, [-2, -1]), RangeError, "pad: padding [-2,-1] gives a negative size");
});

// ---- repeat ----

gpuTest("repeat: tiles, extra dims, zero repeats, gradients", async () => {
  for (const [shape, reps] of [[[2, 3], [2, 1]], [[3], [2, 1, 4]], [[17, 1], [3, 5]], [[1000], [2]]]) {
    const x = f32(shape, 9);
    const out = repeat(x.t, reps);
    const s = [...new Array(reps.length - shape.length).fill(1), ...shape];
    assertEquals(out.shape, reps.map((r, i) => r * s[i]));
    assertClose(await out.data(), repeatRef(x.v, shape, reps), { msg: `${shape} x ${reps}` });
  }
  const x = f32([3, 2], 2);
  const xt = transpose(x.t, 0, 1);
  const xtv = [x.v[0], x.v[2], x.v[4], x.v[1], x.v[3], x.v[5]];
  assertClose(await repeat(xt, [2, 2]).data(), repeatRef(xtv, [2, 3], [2, 2]));
  assertEquals(repeat(x.t, [0, 2]).shape, [0, 4]);
  assertEquals(await repeat(i32([1, 2]), [2]).toArray(), [1, 2, 1, 2]);
  await gradCheck("repeat", [{ shape: [2, 3] }], (a) => repeat(a, [2, 1, 3]), (a) => repeatRef(a, [2, 3], [2, 1, 3]));
  assertThrows(() => repeat(x.t, [2]), RangeError, "repeat: number of repeats (1) cannot be smaller");
  assertThrows(() => repeat(x.t, [2, -1]), RangeError, "repeat: repeats must be non-negative");
});

// ---- gather / indexSelect ----

gpuTest("gather: every dim, smaller index, non-contiguous input, out of range", async () => {
  const shape = [3, 5, 4];
  const x = f32(shape, 11);
  for (
    const [dim, ishape] of [[0, [2, 5, 4]], [1, [3, 7, 2]], [2, [1, 4, 9]], [-1, [3, 5, 1]]] as [number, number[]][]
  ) {
    const d = dim < 0 ? dim + 3 : dim;
    const idx = randomInts(prod(ishape), shape[d], 5 + d);
    const out = gather(x.t, dim, i32(idx, ishape));
    assertEquals(out.shape, ishape);
    assertClose(await out.data(), gatherRef(x.v, shape, d, idx, ishape));
  }
  // Non-contiguous input: x^T.
  const y = f32([4, 3], 12);
  const yt = transpose(y.t, 0, 1);
  const ytv = Array.from({ length: 12 }, (_, i) => y.v[(i % 4) * 3 + Math.floor(i / 4)]);
  const idx = randomInts(6, 4, 3);
  assertClose(await gather(yt, 1, i32(idx, [3, 2])).data(), gatherRef(ytv, [3, 4], 1, idx, [3, 2]));
  // Large: 1 index per row of a (2000, 37) tensor.
  const big = f32([2000, 37], 13);
  const bi = randomInts(2000, 37, 14);
  assertClose(await gather(big.t, 1, i32(bi, [2000, 1])).data(), gatherRef(big.v, [2000, 37], 1, bi, [2000, 1]));
  // Out-of-range indices read NaN (no readback, no clamping).
  const oob = await gather(tensor([[1, 2, 3]]), 1, i32([0, 3, -1, 2], [1, 4])).toArray();
  assertEquals(oob[0], 1);
  assert(Number.isNaN(oob[1]) && Number.isNaN(oob[2]));
  assertEquals(oob[3], 3);
  assertEquals(await gather(i32([5, 6, 7]), 0, i32([2, 2])).toArray(), [7, 7]);
  assertEquals(gather(x.t, 1, i32([], [3, 0, 4])).shape, [3, 0, 4]);
});

gpuTest("gather: gradient is a deterministic scatter-add (repeated indices)", async () => {
  const idx = i32([0, 0, 2, 1, 1, 1, 3, 0, 2], [3, 3]);
  await gradCheck(
    "gather dim 1",
    [{ shape: [4, 4] }],
    (a) => gather(a, 1, idx),
    (a) => gatherRef(a, [4, 4], 1, [0, 0, 2, 1, 1, 1, 3, 0, 2], [3, 3]),
  );
  const idx0 = [1, 1, 0, 2, 2, 2];
  await gradCheck(
    "gather dim 0",
    [{ shape: [3, 4] }],
    (a) => gather(a, 0, i32(idx0, [2, 3])),
    (a) => gatherRef(a, [3, 4], 0, idx0, [2, 3]),
  );
});

gpuTest("gather: errors name the op and shapes", () => {
  const x = tensor([[1, 2], [3, 4]]);
  assertThrows(() => gather(x, 1, tensor([[0, 1]])), TypeError, "gather: index must be an int32 tensor, got float32");
  assertThrows(() => gather(x, 1, i32([0, 1])), RangeError, "gather: index of shape [2] must have the rank");
  assertThrows(() => gather(x, 1, i32([0, 0, 0], [3, 1])), RangeError, "[2, 2]");
  assertThrows(() => gather(x, 2, i32([0], [1, 1])), RangeError, "gather: dim 2 is out of range");
});

gpuTest("indexSelect: repeats, any dim, non-contiguous, gradient (index-add)", async () => {
  const x = f32([4, 17, 3], 21);
  for (const dim of [0, 1, 2]) {
    const idx = randomInts(9, [4, 17, 3][dim], 30 + dim);
    const out = indexSelect(x.t, dim, i32(idx));
    assertClose(await out.data(), indexSelectRef(x.v, [4, 17, 3], dim, idx));
  }
  // Embedding-style lookup: (1000, 8) table, 1500 rows picked with repeats.
  const table = f32([1000, 8], 22);
  const rows = randomInts(1500, 1000, 23);
  assertClose(await indexSelect(table.t, 0, i32(rows)).data(), indexSelectRef(table.v, [1000, 8], 0, rows));
  // Non-contiguous x and a strided index.
  const y = f32([3, 5], 24);
  const yt = transpose(y.t, 0, 1); // (5, 3)
  const ytv = Array.from({ length: 15 }, (_, i) => y.v[(i % 3) * 5 + Math.floor(i / 3)]);
  const idxT = i32([4, 9, 0, 9, 4, 9]).slice(0, 0, undefined, 2); // [4, 0, 4]
  assertClose(await indexSelect(yt, 0, idxT).data(), indexSelectRef(ytv, [5, 3], 0, [4, 0, 4]));
  await gradCheck(
    "indexSelect",
    [{ shape: [5, 3] }],
    (a) => indexSelect(a, 0, i32([4, 0, 4, 2, 4])),
    (a) => indexSelectRef(a, [5, 3], 0, [4, 0, 4, 2, 4]),
  );
  await gradCheck(
    "indexSelect dim 1",
    [{ shape: [2, 4] }],
    (a) => indexSelect(a, 1, i32([3, 3, 1])),
    (a) => indexSelectRef(a, [2, 4], 1, [3, 3, 1]),
  );
  assertEquals(indexSelect(x.t, 1, i32([])).shape, [4, 0, 3]);
  assertThrows(() => indexSelect(x.t, 0, i32([0, 1], [1, 2])), RangeError, "indexSelect: index must be 1-D");
  assertThrows(() => indexSelect(x.t, 0, tensor([0])), TypeError, "indexSelect: index must be an int32 tensor");
});

// ---- oneHot ----

gpuTest("oneHot: float32 rows, out-of-range gives zeros, numClasses required", async () => {
  const idx = randomInts(1003, 7, 40);
  const out = oneHot(i32(idx), 7);
  assertEquals(out.shape, [1003, 7]);
  assertEquals(out.dtype, "float32");
  assertEquals(
    Array.from(await out.data()),
    idx.flatMap((c) => Array.from({ length: 7 }, (_, k) => (k === c ? 1 : 0))),
  );
  assertEquals(await oneHot(i32([1, 5, -1, 0], [2, 2]), 2).tolist(), [[[0, 1], [0, 0]], [[0, 0], [1, 0]]]);
  assertThrows(() => oneHot(i32([1])), RangeError, "oneHot: numClasses = -1");
  assertThrows(() => oneHot(tensor([1]), 3), TypeError, "oneHot: index must be an int32 tensor");
});

gpuTest("cat with share: a view of pieces that follow one another in one storage, a copy otherwise", async () => {
  const base = tensor(randomArray(24, 11), [6, 4]).requiresGrad_();
  const rows = (a: number, n: number) => base.narrow(0, a, n);
  const want = await base.data();
  // Rows 0–1, 2–4, 5 of one storage, in order: the same elements, no dispatch, a view of base.
  let joined!: Tensor;
  const ops = dispatchedOps(() => joined = cat([rows(0, 2), rows(2, 3), rows(5, 1)], 0, { share: true }));
  assertEquals(ops, []);
  assert(joined.storage === base.storage);
  assertEquals(await joined.data(), want);
  // Gradients reach each piece as before (the pieces' rows of the upstream gradient).
  const g = randomArray(24, 12);
  joined.mul(tensor(g, [6, 4])).sum().backward();
  assertClose(await base.grad!.data(), g);
  // Out of order, with a gap, or along a dim with rows before it: copies, like cat without share.
  for (
    const [pieces, dim] of [
      [[rows(2, 3), rows(0, 2)], 0],
      [[rows(0, 2), rows(3, 2)], 0],
      [[base.narrow(1, 0, 2), base.narrow(1, 2, 2)], 1],
    ] as [Tensor[], number][]
  ) {
    const shared = cat(pieces, dim, { share: true }), copied = cat(pieces, dim);
    assert(shared.storage !== base.storage, `pieces ${pieces.map((p) => p.offset)} along ${dim} are copied`);
    assertEquals(await shared.data(), await copied.data());
  }
});
