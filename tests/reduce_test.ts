import { assertEquals, assertThrows } from "./_asserts.ts";
import { assertClose, gpuTest, gradCheck, prod, randomArray, stridesOf } from "./_util.ts";
import { tensor } from "../mod.ts";
import { coalesceDims } from "../core/shape.ts";

/** Float64 reduction reference over `dims` of a row-major array. */
function reduceRef(
  x: ArrayLike<number>,
  shape: number[],
  dims: number[],
  f: (vals: number[]) => number,
): number[] {
  const kept = shape.map((_, i) => i).filter((i) => !dims.includes(i));
  const keptShape = kept.map((i) => shape[i]);
  const st = stridesOf(shape);
  const out: number[] = [];
  const redShape = dims.map((i) => shape[i]);
  for (let o = 0; o < prod(keptShape); o++) {
    let base = 0, rem = o;
    for (let k = kept.length - 1; k >= 0; k--) {
      base += (rem % keptShape[k]) * st[kept[k]];
      rem = Math.floor(rem / keptShape[k]);
    }
    const vals: number[] = [];
    for (let r = 0; r < prod(redShape); r++) {
      let off = base, q = r;
      for (let k = dims.length - 1; k >= 0; k--) {
        off += (q % redShape[k]) * st[dims[k]];
        q = Math.floor(q / redShape[k]);
      }
      vals.push(x[off]);
    }
    out.push(f(vals));
  }
  return out;
}

const sumF = (v: number[]) => v.reduce((a, b) => a + b, 0);
const meanF = (v: number[]) => sumF(v) / v.length;
const varF = (c: number) => (v: number[]) => {
  const m = meanF(v);
  return v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - c);
};
const lseF = (v: number[]) => {
  const m = Math.max(...v);
  return m + Math.log(v.reduce((a, b) => a + Math.exp(b - m), 0));
};

const CASES: { shape: number[]; dims: number[] }[] = [
  { shape: [17], dims: [0] },
  { shape: [3, 5], dims: [1] },
  { shape: [3, 5], dims: [0] },
  { shape: [2, 3, 4], dims: [0, 2] },
  { shape: [2, 3, 4], dims: [0, 1, 2] },
];

for (
  const [name, f, call] of [
    ["sum", sumF, (x, d, k) => x.sum(d, k)],
    ["mean", meanF, (x, d, k) => x.mean(d, k)],
    ["var", varF(1), (x, d, k) => x.var(d, k)],
    ["var(correction=0)", varF(0), (x, d, k) => x.var(d, k, 0)],
    ["std", (v: number[]) => Math.sqrt(varF(1)(v)), (x, d, k) => x.std(d, k)],
    ["logsumexp", lseF, (x, d, k) => x.logsumexp(d, k)],
    ["max", (v: number[]) => Math.max(...v), (x, d, k) => x.max(d, k)],
    ["min", (v: number[]) => Math.min(...v), (x, d, k) => x.min(d, k)],
  ] as [
    string,
    (v: number[]) => number,
    (x: ReturnType<typeof tensor>, d: number[], k: boolean) => ReturnType<
      typeof tensor
    >,
  ][]
) {
  gpuTest(`reduction ${name}: dims, keepdim, gradient`, async () => {
    for (const { shape, dims } of CASES) {
      for (const keepdim of [false, true]) {
        await gradCheck(
          `${name} ${JSON.stringify(shape)} over ${dims}`,
          [{ shape }],
          (x) => {
            const y = call(x, dims, keepdim);
            const expectShape = shape.flatMap((s, i) => (dims.includes(i) ? (keepdim ? [1] : []) : [s]));
            assertEquals([...y.shape], expectShape);
            return y;
          },
          (x) => reduceRef(x, shape, dims, f),
          { gradAtol: 2e-3 },
        );
      }
    }
  });
}

gpuTest("reductions: large inputs use the chunked path and stay accurate", async () => {
  const n = 300_001;
  const data = randomArray(n, 21, 0, 1);
  const x = tensor(Float32Array.from(data));
  const s = data.reduce((a, b) => a + b, 0);
  assertClose([await x.sum().item()], [s], { rtol: 1e-5 });
  assertClose([await x.mean().item()], [s / n], { rtol: 1e-5 });
  assertClose([await x.max().item()], [data.reduce((a, b) => Math.max(a, Math.fround(b)), -Infinity)]);
  const m = tensor(Float32Array.from(data.slice(0, 4 * 5000)), [4, 5000]);
  const rows = [0, 1, 2, 3].map((r) => data.slice(r * 5000, (r + 1) * 5000).reduce((a, b) => a + b, 0));
  assertClose(await m.sum(1).data(), rows, { rtol: 1e-5 });
  assertClose(await m.transpose(0, 1).sum(0).data(), rows, { rtol: 1e-5 });
});

gpuTest("reductions over several dims in chunks that start mid-dim, from a strided view", async () => {
  // R = 6·40·33 = 7,920 per channel: 124 chunks of 64, whose first indices fall inside the
  // dims, so each thread decodes its start and then steps the indices (the kernel's odometer).
  const shape = [6, 5, 40, 33];
  const data = randomArray(prod(shape), 22);
  const x = tensor(data, shape);
  assertClose(await x.sum([0, 2, 3]).data(), reduceRef(data, shape, [0, 2, 3], sumF), { atol: 1e-3 });
  const maxF = (v: number[]) => Math.max(...v.map(Math.fround));
  assertClose(await x.max([0, 3]).data(), reduceRef(data, shape, [0, 3], maxF));
  // The same sum through a permuted (non-contiguous) view of the data.
  const t = x.permute([2, 1, 3, 0]);
  assertClose(await t.sum([0, 2, 3]).data(), reduceRef(data, shape, [0, 2, 3], sumF), { atol: 1e-3 });
});

gpuTest("reductions over non-contiguous views and negative dims", async () => {
  const shape = [4, 6];
  const data = randomArray(24, 4);
  const x = tensor(data, shape).transpose(0, 1); // [6, 4]
  const ref = reduceRef(data, shape, [1], sumF); // summing the original's dim 1 = view's dim 0
  assertClose(await x.sum(0).data(), ref);
  assertClose(await x.sum(-2).data(), ref);
});

gpuTest("argmax/argmin: first occurrence, dims, keepdim, flattened", async () => {
  const x = tensor([[1, 5, 5], [7, 0, 7]]);
  assertEquals(await x.argmax(1).toArray(), [1, 0]);
  assertEquals(await x.argmin(1).toArray(), [0, 1]);
  assertEquals(await x.argmax(0).toArray(), [1, 0, 1]);
  assertEquals(await x.argmax().item(), 3);
  assertEquals([...x.argmax(1, true).shape], [2, 1]);
  assertEquals(x.argmax(1).dtype, "int32");
  const data = randomArray(1003, 9);
  const big = tensor(data);
  assertEquals(await big.argmax().item(), data.indexOf(Math.max(...data)));
});

gpuTest("max gradient is shared among ties", async () => {
  const x = tensor([1, 3, 3, 2], undefined, { requiresGrad: true });
  x.max().backward();
  assertEquals(await x.grad!.toArray(), [0, 0.5, 0.5, 0]);
});

gpuTest("integer sums stay integer; empty reductions", async () => {
  const i = tensor(new Int32Array([1, 2, 3, 4]), [2, 2]);
  assertEquals(i.sum().dtype, "int32");
  assertEquals(await i.sum(0).toArray(), [4, 6]);
  assertEquals(await tensor([true, false, true]).sum().item(), 2);
  const e = tensor([], [0, 3]);
  assertEquals(await e.sum(0).toArray(), [0, 0, 0]);
  assertThrows(() => e.max(0), RangeError, "empty");
  assertThrows(() => i.sum(2), RangeError, "dim 2 is out of range");
});

Deno.test("coalesceDims: drops size-1 dims and fuses dims every stream walks as one", () => {
  // A contiguous [2, 3, 4] tensor and a [1, 3, 1] bias broadcast to it.
  assertEquals(coalesceDims([2, 3, 4], [[12, 4, 1]]), { shape: [24], strides: [[1]] });
  assertEquals(coalesceDims([2, 3, 4], [[12, 4, 1], [0, 1, 0]]), {
    shape: [2, 3, 4],
    strides: [[12, 4, 1], [0, 1, 0]],
  });
  assertEquals(coalesceDims([2, 3, 4, 5], [[60, 20, 5, 1], [0, 1, 0, 0]]), {
    shape: [2, 3, 20],
    strides: [[60, 20, 1], [0, 1, 0]],
  });
  // A transposed view does not fuse; size-1 dims vanish whatever their stride.
  assertEquals(coalesceDims([3, 1, 2], [[1, 7, 3]]), { shape: [3, 2], strides: [[1, 3]] });
  assertEquals(coalesceDims([1, 1], [[5, 9]]), { shape: [], strides: [[]] });
});

gpuTest("sum / max / min read four per load where the innermost reduced run allows: values equal float64", async () => {
  const maxF = (v: number[]) => Math.max(...v), minF = (v: number[]) => Math.min(...v);
  const cases: [number[], number[]][] = [
    [[5, 3, 4, 6], [0, 2, 3]], // a conv bias gradient: innermost run of 24, outer stride 72
    [[7, 16], [1]],
    [[3, 1000], [1]], // few outputs, a long run: chunked, chunks rounded to multiples of 4
    [[2, 4, 12], [0, 2]],
    [[6, 10], [1]], // a run of 10: one per load
  ];
  for (const [shape, dims] of cases) {
    const v = randomArray(prod(shape), prod(shape), -2, 2).map(Math.fround);
    const x = tensor(Float32Array.from(v), shape);
    for (
      const [name, f, ref] of [["sum", x.sum(dims), sumF], ["max", x.max(dims), maxF], [
        "min",
        x.min(dims),
        minF,
      ]] as const
    ) {
      assertClose(await f.data(), reduceRef(v, shape, dims, ref), {
        atol: 1e-4,
        rtol: 1e-5,
        msg: `${name} ${shape} ${dims}`,
      });
      f.dispose();
    }
    // The same data one element into a larger buffer: misaligned, one per load, same values.
    const big = tensor(Float32Array.from([0, ...v]), [prod(shape) + 1]);
    const view = big.narrow(0, 1, prod(shape)).reshape(shape);
    const s = view.sum(dims);
    assertClose(await s.data(), reduceRef(v, shape, dims, sumF), {
      atol: 1e-4,
      rtol: 1e-5,
      msg: `misaligned ${shape}`,
    });
    for (const t of [x, big, view, s]) t.dispose();
  }
});
