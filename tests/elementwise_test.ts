import { assertEquals, assertThrows } from "./_asserts.ts";
import { assertClose, broadcastRef, dispatchedOps, gpuTest, gradCheck, prod, randomArray } from "./_util.ts";
import { BINARY, UNARY } from "../core/ops/elementwise_defs.ts";
import { addScalarInPlace, binary } from "../core/ops/elementwise.ts";
import { broadcastShapes } from "../core/shape.ts";
import * as md from "../mod.ts";
import { type Tensor, tensor } from "../mod.ts";

/** Input ranges where each unary op is smooth (finite differences need that). */
const DOMAIN: Record<string, [number, number]> = {
  log: [0.2, 3],
  sqrt: [0.2, 3],
  rsqrt: [0.2, 3],
  abs: [0.1, 1], // away from the kink
  relu: [0.05, 1],
  leakyRelu: [-1, -0.05],
  clamp: [-0.4, 0.4],
  powScalar: [0.3, 2],
};

const PARAMS: Record<string, number[]> = {
  leakyRelu: [0.2],
  softplus: [2, 1.5],
  clamp: [-0.5, 0.5],
  powScalar: [2.5],
};

function applyUnary(name: string, x: Tensor): Tensor {
  const p = PARAMS[name] ?? [];
  switch (name) {
    case "leakyRelu":
      return x.leakyRelu(p[0]);
    case "softplus":
      return x.softplus(p[0], p[1]);
    case "clamp":
      return x.clamp(p[0], p[1]);
    case "powScalar":
      return x.pow(p[0]);
    case "geluTanh":
      return x.gelu("tanh");
    default:
      return (x as unknown as Record<string, () => Tensor>)[name]();
  }
}

for (const [name, def] of Object.entries(UNARY)) {
  gpuTest(`unary ${name}: forward and gradient vs float64 reference`, async () => {
    const [lo, hi] = DOMAIN[name] ?? [-2, 2];
    const p = PARAMS[name] ?? [];
    for (const shape of [[1], [3, 17]]) {
      await gradCheck(
        name,
        [{ shape, lo, hi }],
        (x) => applyUnary(name, x),
        (x) => x.map((v) => def.ref(v, p[0], p[1])),
        { atol: 2e-6, rtol: 2e-5 },
      );
    }
  });
}

gpuTest("unary ops on 1000+ elements, non-contiguous views and empty tensors", async () => {
  const data = randomArray(37 * 41, 3, -3, 3);
  const x = tensor(Float32Array.from(data), [37, 41]);
  const xt = x.transpose(0, 1); // non-contiguous
  const ref: number[] = [];
  for (let j = 0; j < 41; j++) for (let i = 0; i < 37; i++) ref.push(Math.tanh(data[i * 41 + j]));
  assertClose(await xt.tanh().data(), ref, { atol: 1e-6 });
  assertClose(await x.exp().data(), data.map(Math.exp), { rtol: 1e-6 });
  const e = md.zeros([0, 3]);
  assertEquals([...e.sigmoid().shape], [0, 3]);
  assertEquals((await e.sigmoid().data()).length, 0);
});

const BIN_DOMAIN: Record<string, [number, number]> = { div: [0.5, 2], pow: [0.5, 2] };

for (const [name, def] of Object.entries(BINARY)) {
  if (!def.grad) continue;
  gpuTest(`binary ${name}: broadcasting forward and gradients`, async () => {
    const [lo, hi] = BIN_DOMAIN[name] ?? [-2, 2];
    const cases: [number[], number[]][] = [[[4, 5], [4, 5]], [[2, 3, 4], [4]], [[3, 1], [1, 5]], [[1], [17]]];
    for (const [sa, sb] of cases) {
      const out = broadcastShapes(name, sa, sb);
      await gradCheck(
        name,
        [{ shape: sa, lo, hi }, { shape: sb, lo, hi }],
        (a, b) => binary(name, a, b),
        (a, b) => {
          const ba = broadcastRef(a, sa, out), bb = broadcastRef(b, sb, out);
          return ba.map((v, i) => def.ref(v, bb[i]));
        },
      );
    }
  });
}

gpuTest("binary ops with scalar operands, on both sides", async () => {
  const data = randomArray(17, 5, 0.5, 2);
  const x = tensor(data, [17]);
  assertClose(await x.add(2).data(), data.map((v) => v + 2));
  assertClose(await md.sub(3, x).data(), data.map((v) => 3 - v));
  assertClose(await md.div(1, x).data(), data.map((v) => 1 / v));
  assertClose(await md.pow(2, x).data(), data.map((v) => 2 ** v));
  assertClose(await x.pow(-1.5).data(), data.map((v) => v ** -1.5));
  assertClose(await x.pow(3).data(), data.map((v) => v ** 3));
  const neg = tensor([-2, -3, 0, 2]);
  assertClose(await neg.pow(2).data(), [4, 9, 0, 4]);
  assertClose(await neg.pow(3).data(), [-8, -27, 0, 8]);
  assertClose(await neg.pow(tensor([3, 2, 2, -1])).data(), [-8, 9, 0, 0.5]);
});

gpuTest("binary ops on non-contiguous views of 1000+ elements", async () => {
  const a = randomArray(50 * 40, 11), b = randomArray(40, 12);
  const ta = tensor(a, [50, 40]).transpose(0, 1); // [40, 50], strided
  const tb = tensor(b, [40, 1]);
  const ref: number[] = [];
  for (let i = 0; i < 40; i++) for (let j = 0; j < 50; j++) ref.push(a[j * 40 + i] * b[i]);
  assertClose(await ta.mul(tb).data(), ref);
});

gpuTest("integer and bool dtypes follow PyTorch promotion", async () => {
  const i = tensor(new Int32Array([1, 2, 3]));
  assertEquals(i.dtype, "int32");
  assertEquals(i.add(1).dtype, "int32");
  assertEquals(i.add(0.5).dtype, "float32");
  assertEquals(i.div(2).dtype, "float32");
  assertEquals(await i.mul(3).toArray(), [3, 6, 9]);
  assertEquals(await i.div(2).toArray(), [0.5, 1, 1.5]);
  const c = i.gt(1);
  assertEquals(c.dtype, "bool");
  assertEquals(await c.toArray(), [0, 1, 1]);
  assertEquals(await i.neg().toArray(), [-1, -2, -3]);
  assertEquals(await tensor([1.5, -2.7]).int().toArray(), [1, -2]);
  assertEquals(await tensor([0, 2]).to("bool").toArray(), [0, 1]);
  assertEquals(await i.clamp(2, 2).toArray(), [2, 2, 2]);
});

gpuTest("comparisons broadcast and have no gradient", async () => {
  const a = tensor([[1, 2, 3], [4, 5, 6]], undefined, { requiresGrad: true });
  const b = tensor([2, 5, 3]);
  assertEquals(await a.eq(b).toArray(), [0, 0, 1, 0, 1, 0]);
  assertEquals(await a.ne(b).toArray(), [1, 1, 0, 1, 0, 1]);
  assertEquals(await a.lt(b).toArray(), [1, 1, 0, 0, 0, 0]);
  assertEquals(await a.le(b).toArray(), [1, 1, 1, 0, 1, 0]);
  assertEquals(await a.gt(b).toArray(), [0, 0, 0, 1, 0, 1]);
  assertEquals(await a.ge(b).toArray(), [0, 0, 1, 1, 1, 1]);
  assertEquals(a.gt(b).requiresGrad, false);
});

gpuTest("where: broadcasting condition, gradients to both branches", async () => {
  const cond = [1, 0, 1];
  const c = tensor(cond.map(Boolean));
  await gradCheck(
    "where",
    [{ shape: [2, 3] }, { shape: [3] }],
    (a, b) => md.where(c, a, b),
    (a, b) => Array.from(a, (v, i) => (cond[i % 3] ? v : b[i % 3])),
  );
  const x = tensor([-1, 2, -3]);
  assertEquals(await md.where(x.gt(0), x, 0).toArray(), [0, 2, 0]);
});

gpuTest("maximum/minimum split the gradient at ties like PyTorch", async () => {
  const a = tensor([1, 2, 3], undefined, { requiresGrad: true });
  const b = tensor([1, 3, 2], undefined, { requiresGrad: true });
  md.maximum(a, b).sum().backward();
  assertEquals(await a.grad!.toArray(), [0.5, 0, 1]);
  assertEquals(await b.grad!.toArray(), [0.5, 1, 0]);
});

gpuTest("elementwise errors name the op and shapes", () => {
  const a = md.zeros([2, 3]), b = md.zeros([4]);
  assertThrows(() => a.add(b), RangeError, "add: shapes [2, 3] and [4] cannot be broadcast");
  assertThrows(() => md.tensor([1, 2]).requiresGrad_(true).int().requiresGrad_(true), TypeError, "float32");
  assertThrows(() => md.clamp(a), TypeError, "clamp");
  assertEquals(prod([2, 3]), 6);
});

gpuTest("map kernels four elements per thread: contiguous and row-wise vec4 paths and their fallbacks", async () => {
  // Shapes whose innermost size is a multiple of 4 take the vec4 paths (a thread per 4 outputs);
  // the odd ones, the unaligned offset and the permuted input the scalar path: all must agree
  // with the float64 reference, in f32, int32 and bool.
  const cases: [number[], number[]][] = [
    [[3, 5, 8], [3, 5, 8]], // contiguous vec4
    [[6, 4, 12], [6, 4, 1]], // row vec4: a splat (broadcast) stream beside a vec stream
    [[6, 4, 12], [1, 4, 12]], // row vec4: a vec stream with a broadcast outer dim
    [[5, 7], [5, 1]], // innermost 7: scalar
  ];
  for (const [sa, sb] of cases) {
    const da = randomArray(prod(sa), 31), db = randomArray(prod(sb), 32);
    const shape = broadcastShapes("test", sa, sb);
    const ra = broadcastRef(da, sa, shape), rb = broadcastRef(db, sb, shape);
    const a = tensor(da, sa), b = tensor(db, sb);
    assertClose(await md.add(a, b).data(), ra.map((v, i) => Math.fround(v) + Math.fround(rb[i])), {
      msg: `add ${sa} ${sb}`,
    });
    const ints = await md.mul(a.mul(10).to("int32"), b.mul(10).to("int32")).data();
    assertEquals(
      [...ints],
      [...ra].map((v, i) => (Math.trunc(Math.fround(v) * 10) * Math.trunc(Math.fround(rb[i]) * 10)) | 0),
    );
    const gt = await md.gt(a, b).to("int32").data();
    assertEquals([...gt], [...ra].map((v, i) => (Math.fround(v) > Math.fround(rb[i]) ? 1 : 0)));
  }
  // An unaligned view (offset 1) and a permuted one fall back to the scalar path.
  const base = tensor(randomArray(4 * 33, 33), [4 * 33]);
  const unaligned = base.narrow(0, 1, 128).reshape([4, 32]);
  const want = [...await unaligned.contiguous().data()].map((v) => 2 * v);
  assertClose(await md.add(unaligned, unaligned).data(), want);
  const p = tensor(randomArray(8 * 12, 34), [8, 12]).transpose(0, 1);
  assertClose(await md.add(p, 1).data(), [...await p.contiguous().data()].map((v) => Math.fround(v + 1)));
  // Concatenation writes each input into a strided view of the output (row vec4 with a strided
  // output where the rows are multiples of 4, scalar where not).
  for (const w of [8, 7]) {
    const x1 = randomArray(2 * 3 * 4 * w, 35), x2 = randomArray(2 * 5 * 4 * w, 36);
    const got = await md.cat([tensor(x1, [2, 3, 4, w]), tensor(x2, [2, 5, 4, w])], 1).data();
    const want: number[] = [];
    for (let n = 0; n < 2; n++) {
      want.push(...x1.slice(n * 12 * w, (n + 1) * 12 * w), ...x2.slice(n * 20 * w, (n + 1) * 20 * w));
    }
    assertClose(got, want.map(Math.fround), { atol: 0, rtol: 0, msg: `cat, rows of ${w}` });
  }
  // Expressions indexed by the element (arange) see each element's own index.
  assertEquals([...await md.arange(0, 16).data()], [...Array(16).keys()]);
  assertEquals([...await md.arange(0, 10, 1, { dtype: "int32" }).data()], [...Array(10).keys()]);
});

gpuTest("addScalarInPlace: int32 and float32, a view inside its storage, one dispatch; bad input refused", async () => {
  const count = md.zeros([], { dtype: "int32" });
  for (let i = 0; i < 3; i++) assertEquals(dispatchedOps(() => addScalarInPlace(count, 1)), ["addScalarInPlace"]);
  assertEquals([...await count.data()], [3]);
  const base = tensor(randomArray(10, 1), [10]), before = await base.data();
  addScalarInPlace(base.narrow(0, 3, 5), -0.5);
  assertClose(await base.data(), before.map((v, i) => (i >= 3 && i < 8 ? v - 0.5 : v)));
  assertThrows(() => addScalarInPlace(count, 0.5), RangeError, "integer");
  assertThrows(() => addScalarInPlace(md.ones([2, 3]).T, 1), TypeError, "dense");
});
