import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { assertClose, gpuTest } from "./_util.ts";
import * as md from "../mod.ts";
import { philoxRef } from "../core/kernels/philox.ts";

gpuTest("tensor() infers shape and dtype; rejects ragged data", async () => {
  const a = md.tensor([[1, 2, 3], [4, 5, 6]]);
  assertEquals([...a.shape], [2, 3]);
  assertEquals(a.dtype, "float32");
  assertEquals(md.tensor(new Int32Array([1])).dtype, "int32");
  assertEquals(md.tensor([true, false]).dtype, "bool");
  assertEquals(md.tensor(5).ndim, 0);
  assertEquals(await md.tensor(5).item(), 5);
  assertEquals(await md.tensor([1, 2, 3, 4], [2, 2]).tolist(), [[1, 2], [3, 4]]);
  assertThrows(() => md.tensor([[1, 2], [3]]), RangeError, "ragged");
  assertThrows(() => md.tensor([1, 2, 3], [2, 2]), RangeError, "cannot fill shape [2, 2]");
  assertThrows(() => md.tensor([1], undefined, { dtype: "float64" as md.DType }), TypeError, "unsupported dtype");
  await md.tensor([1, 2]).data().then((d) => assert(d instanceof Float32Array));
});

gpuTest("zeros/ones/full/arange/linspace/eye and the *Like helpers", async () => {
  assertEquals(await md.zeros([2, 2]).toArray(), [0, 0, 0, 0]);
  assertEquals(await md.ones([3]).toArray(), [1, 1, 1]);
  assertEquals(await md.full([2], 7, { dtype: "int32" }).toArray(), [7, 7]);
  assertEquals(await md.arange(5).toArray(), [0, 1, 2, 3, 4]);
  assertEquals(md.arange(5).dtype, "int32");
  assertEquals(await md.arange(1, 10, 3).toArray(), [1, 4, 7]);
  assertEquals(await md.arange(5, 0, -2).toArray(), [5, 3, 1]);
  assertClose(await md.arange(0, 1, 0.25).data(), [0, 0.25, 0.5, 0.75]);
  assertClose(await md.linspace(-1, 1, 5).data(), [-1, -0.5, 0, 0.5, 1]);
  assertEquals(await md.linspace(0, 1, 1).toArray(), [0]);
  assertEquals(await md.eye(2, 3).toArray(), [1, 0, 0, 0, 1, 0]);
  const x = md.tensor([1, 2]);
  assertEquals(await md.onesLike(x).toArray(), [1, 1]);
  assertEquals(await md.fullLike(x, 3).toArray(), [3, 3]);
  assertEquals(md.zeros([2], { requiresGrad: true }).requiresGrad, true);
  assertThrows(() => md.zeros([2], { dtype: "int32", requiresGrad: true }), TypeError, "float32");
  assertThrows(() => md.zeros([2, -1]), RangeError, "non-negative");
});

gpuTest("Philox matches the Random123 known-answer vector and the GPU kernel", async () => {
  assertEquals(philoxRef([0, 0, 0, 0], [0, 0]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
  assertEquals(
    philoxRef([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]),
    [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  );
  md.manualSeed(0);
  const gpu = await md.rand([8]).data();
  const words = [...philoxRef([0, 0, 0, 0], [0, 0]), ...philoxRef([1, 0, 0, 0], [0, 0])];
  assertEquals(Array.from(gpu), words.map((u) => (u >>> 8) * 2 ** -24));
});

gpuTest("manualSeed makes random ops reproducible; generators are independent", async () => {
  md.manualSeed(42);
  const a = [await md.rand([5]).toArray(), await md.randn([5]).toArray(), await md.randint(0, 9, [5]).toArray()];
  md.manualSeed(42);
  const b = [await md.rand([5]).toArray(), await md.randn([5]).toArray(), await md.randint(0, 9, [5]).toArray()];
  assertEquals(a, b);
  const g = new md.Generator(7);
  const s = g.getState();
  const c1 = await md.randn([4], { generator: g }).toArray();
  g.setState(s);
  assertEquals(await md.randn([4], { generator: g }).toArray(), c1);
  assert(JSON.stringify(await md.rand([5]).toArray()) !== JSON.stringify(a[0]), "consecutive draws differ");
});

gpuTest("randn moments, rand range, randint bounds", async () => {
  md.manualSeed(1);
  const n = 200_000;
  const x = md.randn([n]);
  const mean = await x.mean().item(), std = await x.std().item();
  assert(Math.abs(mean) < 0.01, `randn mean ${mean}`);
  assert(Math.abs(std - 1) < 0.01, `randn std ${std}`);
  const k = await x.pow(4).mean().item(); // kurtosis of a standard normal is 3
  assert(Math.abs(k - 3) < 0.1, `randn 4th moment ${k}`);
  const u = md.rand([n]);
  assert((await u.min().item()) >= 0 && (await u.max().item()) < 1, "rand in [0, 1)");
  assert(Math.abs((await u.mean().item()) - 0.5) < 0.005, "rand mean");
  const ri = await md.randint(-3, 4, [10_000]).toArray();
  assert(Math.min(...ri) === -3 && Math.max(...ri) === 3, "randint covers [-3, 4)");
  assertThrows(() => md.randint(3, 3, [1]), RangeError, "low < high");
});

gpuTest(
  "random rows: a slice drawn with rows equals those rows of the whole draw, and the generator moves on alike",
  async () => {
    const cases: [number[], number, number][] = [[[2, 3, 3], 1, 5], [[1, 7], 3, 4], [[3, 2], 0, 3]];
    for (const [shape, start, total] of cases) {
      for (const draw of [md.randn, md.rand] as const) {
        const whole = new md.Generator(11), part = new md.Generator(11);
        const all = await draw([total, ...shape.slice(1)], { generator: whole }).toArray();
        const rows = await draw(shape, { generator: part, rows: { start, total } }).toArray();
        const row = shape.slice(1).reduce((a, b) => a * b, 1);
        assertEquals(
          rows,
          all.slice(start * row, (start + shape[0]) * row),
          `${draw.name} [${shape}] at ${start}/${total}`,
        );
        assertEquals(part.getState(), whole.getState(), "the generator advanced as after the whole draw");
      }
    }
    assertThrows(() => md.randn([3, 2], { rows: { start: 2, total: 4 } }), RangeError, "do not lie within 4 rows");
  },
);
