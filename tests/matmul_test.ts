import { assertClose, gpuTest, gradCheck, prod, randomArray } from "./_util.ts";
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { gpu, matmul, type Tensor, tensor } from "../mod.ts";
import { autotuneReport, autotuneSettled, cachedResult, resetAutotuneMemory } from "../core/backend/autotune.ts";
import { registerShippedTuning } from "../core/backend/tuned_defaults.ts";
import { MATMUL_VARIANTS } from "../core/backend/matmul.ts";
import { tuneMatmul } from "../core/ops/matmul.ts";

// Keep the tests' tuning results out of the user's cache (restored by the last test).
const userCacheDir = Deno.env.get("MEDDIFF_CACHE_DIR");
const cacheDir = Deno.makeTempDirSync({ prefix: "meddiff-mm-test-" });
Deno.env.set("MEDDIFF_CACHE_DIR", cacheDir);

/** float64 reference with PyTorch's matmul rules (1-D promotion, batch broadcasting). */
function refMatmul(a: ArrayLike<number>, sa: number[], b: ArrayLike<number>, sb: number[]): [Float64Array, number[]] {
  const A = sa.length === 1 ? [1, sa[0]] : sa, B = sb.length === 1 ? [sb[0], 1] : sb;
  const [M, K] = A.slice(-2), N = B[B.length - 1];
  const ba = A.slice(0, -2), bb = B.slice(0, -2);
  const rank = Math.max(ba.length, bb.length);
  const pa = [...Array(rank - ba.length).fill(1), ...ba], pb = [...Array(rank - bb.length).fill(1), ...bb];
  const batch = pa.map((d, i) => Math.max(d, pb[i]));
  const nb = prod(batch);
  const out = new Float64Array(nb * M * N);
  for (let bi = 0; bi < nb; bi++) {
    let r = bi, oa = 0, ob = 0, sA = 1, sB = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const idx = r % batch[d];
      r = Math.floor(r / batch[d]);
      if (pa[d] !== 1) oa += idx * sA;
      if (pb[d] !== 1) ob += idx * sB;
      sA *= pa[d];
      sB *= pb[d];
    }
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[oa * M * K + i * K + k] * b[ob * K * N + k * N + j];
        out[bi * M * N + i * N + j] = s;
      }
    }
  }
  const shape = [...batch, ...(sa.length > 1 ? [M] : []), ...(sb.length > 1 ? [N] : [])];
  return [out, shape];
}

function rand(shape: number[], seed: number): Float32Array {
  return Float32Array.from(randomArray(prod(shape), seed));
}

async function check(sa: number[], sb: number[], seed: number, msg: string): Promise<void> {
  const a = rand(sa, seed), b = rand(sb, seed + 1);
  const out = matmul(tensor(a, sa), tensor(b, sb));
  const [ref, shape] = refMatmul(a, sa, b, sb);
  assertEquals([...out.shape], shape, `${msg}: shape`);
  const K = sa[sa.length - 1];
  assertClose(await out.data(), ref, { atol: 1e-5 * Math.sqrt(K + 1) * 4, rtol: 1e-4, msg });
}

function withVariant(v: string | undefined, fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    if (v) Deno.env.set("MEDDIFF_MATMUL", v);
    try {
      await fn();
    } finally {
      Deno.env.delete("MEDDIFF_MATMUL");
    }
  };
}

/** A strided view whose elements equal `data` in row-major order of `shape`: x.T of the transposed copy. */
function transposedView(data: Float32Array, shape: number[]): Tensor {
  const [r, c] = shape.slice(-2);
  const lead = shape.slice(0, -2), nb = prod(lead);
  const t = new Float32Array(data.length);
  for (let b = 0; b < nb; b++) {
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[b * r * c + j * r + i] = data[b * r * c + i * c + j];
  }
  return tensor(t, [...lead, c, r]).transpose(-1, -2);
}

for (const v of MATMUL_VARIANTS) {
  gpuTest(
    `matmul[${v}]: odd sizes, a 1000+ dim, batches with broadcast`,
    withVariant(v, async () => {
      await check([1, 1], [1, 1], 1, `${v} 1x1x1`);
      await check([3, 3], [3, 3], 2, `${v} 3`);
      await check([17, 17], [17, 17], 3, `${v} 17`);
      await check([33, 65], [65, 129], 4, `${v} 33x65x129`);
      await check([5, 1031], [1031, 7], 5, `${v} K=1031`);
      await check([1030, 3], [3, 9], 6, `${v} M=1030`);
      await check([2, 1, 5, 7], [3, 7, 6], 7, `${v} batch broadcast`);
      await check([4, 9, 8], [8, 12], 8, `${v} batch @ 2-D`);
    }),
  );

  gpuTest(
    `matmul[${v}]: transposed and non-contiguous operands`,
    withVariant(v, async () => {
      const sa = [2, 13, 21], sb = [2, 21, 10];
      const a = rand(sa, 11), b = rand(sb, 12);
      const [ref] = refMatmul(a, sa, b, sb);
      const ta = transposedView(a, sa), tb = transposedView(b, sb);
      assert(!ta.isContiguous && !tb.isContiguous, "views should be strided");
      const opts = { atol: 1e-4, msg: `${v} transposed` };
      assertClose(await matmul(ta, tb).data(), ref, opts);
      assertClose(await matmul(tensor(a, sa), tb).data(), ref, opts);
      assertClose(await matmul(ta, tensor(b, sb)).data(), ref, opts);
      // 2-D .T and a sliced (offset, row-strided) operand
      const x = rand([9, 6], 13), y = rand([9, 7], 14);
      const xt = new Float32Array(54);
      for (let i = 0; i < 9; i++) for (let j = 0; j < 6; j++) xt[j * 9 + i] = x[i * 6 + j];
      assertClose(
        await matmul(tensor(x, [9, 6]).T, tensor(y, [9, 7])).data(),
        refMatmul(xt, [6, 9], y, [9, 7])[0],
        opts,
      );
      const big = rand([10, 11], 15);
      const sub = tensor(big, [10, 11]).slice(0, 1, 8).slice(1, 3, 10); // [7, 7] at offset 14
      const subData = Float32Array.from(await sub.data());
      assertClose(await matmul(sub, tensor(y.slice(0, 49), [7, 7])).data(), refMatmul(subData, [7, 7], y, [7, 7])[0], {
        atol: 1e-4,
        msg: `${v} sliced`,
      });
      // Aligned row-major operands, packed four values a load on texture variants: a batched
      // slice at an offset, and both orientations of the right operand.
      const av = tensor(rand([2, 6, 12], 17), [2, 6, 12]).slice(1, 1, 5).slice(2, 4, 12); // [2, 4, 8] at offset 16
      const avData = Float32Array.from(await av.data());
      const bd = rand([8, 12], 18);
      const bt = new Float32Array(96);
      for (let i = 0; i < 8; i++) for (let j = 0; j < 12; j++) bt[j * 8 + i] = bd[i * 12 + j];
      const refAligned = refMatmul(avData, [2, 4, 8], bd, [8, 12])[0];
      assertClose(await matmul(av, tensor(bd, [8, 12])).data(), refAligned, { atol: 1e-4, msg: `${v} aligned` });
      assertClose(await matmul(av, tensor(bt, [12, 8]).T).data(), refAligned, { atol: 1e-4, msg: `${v} aligned .T` });
      // an expanded (stride-0) batch operand
      const w = rand([5, 4], 16);
      const wb = tensor(w, [1, 5, 4]).expand([3, 5, 4]);
      const z = rand([3, 4, 6], 17);
      assertClose(await matmul(wb, tensor(z, [3, 4, 6])).data(), refMatmul(w, [1, 5, 4], z, [3, 4, 6])[0], opts);
    }),
  );
}

gpuTest("matmul: 1-D cases follow PyTorch", async () => {
  await check([7], [7], 21, "dot");
  await check([7], [7, 5], 22, "1-D @ 2-D");
  await check([5, 7], [7], 23, "2-D @ 1-D");
  await check([7], [3, 7, 5], 24, "1-D @ batched");
  await check([3, 5, 7], [7], 25, "batched @ 1-D");
  await check([1200], [1200], 26, "long dot");
  const d = matmul(tensor([1, 2, 3]), tensor([4, 5, 6]));
  assertEquals([...d.shape], []);
  assertEquals(await d.item(), 32);
});

gpuTest("matmul: empty dims", async () => {
  const z = matmul(tensor(new Float32Array(0), [2, 0]), tensor(new Float32Array(0), [0, 3]));
  assertEquals([...z.shape], [2, 3]);
  assertEquals(await z.toArray(), [0, 0, 0, 0, 0, 0]);
  const e = matmul(tensor(new Float32Array(0), [0, 4]), tensor(rand([4, 5], 1), [4, 5]));
  assertEquals([...e.shape], [0, 5]);
  const eb = matmul(tensor(new Float32Array(0), [0, 2, 4]), tensor(rand([4, 5], 1), [4, 5]));
  assertEquals([...eb.shape], [0, 2, 5]);
  assertEquals([...matmul(tensor(new Float32Array(0), [0]), tensor(new Float32Array(0), [0])).shape], []);
  assertEquals(await matmul(tensor(new Float32Array(0), [0]), tensor(new Float32Array(0), [0])).item(), 0);
});

gpuTest("matmul: gradients (2-D, batched broadcast, 1-D)", async () => {
  const ref = (sa: number[], sb: number[]) => (a: Float64Array, b: Float64Array) => refMatmul(a, sa, b, sb)[0];
  const cases: [number[], number[]][] = [
    [[3, 4], [4, 5]],
    [[2, 1, 3, 4], [3, 4, 2]],
    [[4], [4]],
    [[4], [4, 3]],
    [[3, 4], [4]],
    [[4], [2, 4, 3]],
    [[2, 3, 4], [4]],
    [[2, 3, 4], [4, 5]], // a Linear on [B, T, C]: the weight gradient folds the batch into rows
    [[2, 2, 3, 4], [4, 5]],
  ];
  for (const [sa, sb] of cases) {
    await gradCheck(
      `matmul ${JSON.stringify(sa)}@${JSON.stringify(sb)}`,
      [{ shape: sa }, { shape: sb }],
      matmul,
      ref(sa, sb),
    );
  }
  // gradient through transposed inputs (the kernel reads the strided views)
  await gradCheck(
    "matmul(x.T, y)",
    [{ shape: [4, 3] }, { shape: [4, 5] }],
    (x, y) => matmul(x.T, y),
    (x, y) => {
      const xt = new Float64Array(12);
      for (let i = 0; i < 4; i++) for (let j = 0; j < 3; j++) xt[j * 4 + i] = x[i * 3 + j];
      return refMatmul(xt, [3, 4], y, [4, 5])[0];
    },
  );
  // a strided batched input against a shared matrix (the folded weight gradient copies it)
  await gradCheck(
    "matmul(x.transpose(1, 2), y)",
    [{ shape: [2, 4, 3] }, { shape: [4, 5] }],
    (x, y) => matmul(x.transpose(1, 2), y),
    (x, y) => {
      const xt = new Float64Array(24);
      for (let b = 0; b < 2; b++) {
        for (let i = 0; i < 4; i++) for (let j = 0; j < 3; j++) xt[b * 12 + j * 4 + i] = x[b * 12 + i * 3 + j];
      }
      return refMatmul(xt, [2, 3, 4], y, [4, 5])[0];
    },
  );
});

gpuTest("matmul: errors name the op, shapes and dtype", () => {
  const a = tensor(rand([2, 3], 1), [2, 3]), b = tensor(rand([4, 5], 2), [4, 5]);
  const e = assertThrows(() => matmul(a, b), RangeError, "matmul");
  assert(e.message.includes("[2, 3]") && e.message.includes("[4, 5]"), e.message);
  const i = tensor([1, 2, 3, 4, 5, 6], [3, 2], { dtype: "int32" });
  const e2 = assertThrows(() => matmul(a, i), TypeError, "int32");
  assert(e2.message.includes("matmul") && e2.message.includes("[3, 2]"), e2.message);
  assertThrows(
    () => matmul(tensor(rand([2, 2, 3], 1), [2, 2, 3]), tensor(rand([3, 3, 4], 1), [3, 3, 4])),
    RangeError,
    "[2, 2, 3]",
  );
  assertThrows(() => matmul(tensor(3), a), RangeError, "at least 1 dimension");
  Deno.env.set("MEDDIFF_MATMUL", "bogus");
  try {
    assertThrows(() => matmul(a, tensor(rand([3, 2], 1), [3, 2])), RangeError, "MEDDIFF_MATMUL");
  } finally {
    Deno.env.delete("MEDDIFF_MATMUL");
  }
});

gpuTest("autotune: cache round-trip through the file, corrupt file ignored", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "meddiff-tune-" });
  Deno.env.set("MEDDIFF_CACHE_DIR", dir);
  const autotune = Deno.env.get("MEDDIFF_AUTOTUNE"); // `deno task test` turns background tuning off
  Deno.env.set("MEDDIFF_AUTOTUNE", "1");
  Deno.env.set("MEDDIFF_AUTOTUNE_SHIPPED", "0"); // measuring, not the choices shipped for this adapter
  try {
    resetAutotuneMemory();
    const r = await tuneMatmul(96, 96, 96);
    assert(MATMUL_VARIANTS.includes(r.choice as never), `unknown choice ${r.choice}`);
    const file = JSON.parse(Deno.readTextFileSync(`${dir}/autotune.json`));
    const entries = file.adapters[gpu().adapterKey];
    const key = Object.keys(entries).find((k) => k.startsWith("matmul|"))!;
    assertEquals(entries[key].choice, r.choice);
    resetAutotuneMemory();
    const [op, shapeKey] = key.split("|");
    assertEquals(cachedResult(op, shapeKey)?.choice, r.choice);

    Deno.writeTextFileSync(`${dir}/autotune.json`, "{ not json");
    resetAutotuneMemory();
    assertEquals(cachedResult(op, shapeKey), undefined);
    // An untuned shape: runs the default now, tunes in the background, rewrites a valid file.
    await check([80, 72], [72, 88], 31, "after corrupt cache");
    await autotuneSettled();
    const again = JSON.parse(Deno.readTextFileSync(`${dir}/autotune.json`));
    assert(Object.keys(again.adapters[gpu().adapterKey]).length >= 1, "cache was not rewritten");
    await check([80, 72], [72, 88], 32, "tuned choice");

    // An unusable cache directory falls back to memory silently.
    Deno.env.set("MEDDIFF_CACHE_DIR", "/proc/meddiff-no-such-dir");
    resetAutotuneMemory();
    const r2 = await tuneMatmul(72, 72, 72);
    assert(typeof r2.choice === "string");
  } finally {
    if (autotune === undefined) Deno.env.delete("MEDDIFF_AUTOTUNE");
    else Deno.env.set("MEDDIFF_AUTOTUNE", autotune);
    Deno.env.delete("MEDDIFF_AUTOTUNE_SHIPPED");
    Deno.env.set("MEDDIFF_CACHE_DIR", cacheDir);
    resetAutotuneMemory();
    Deno.removeSync(dir, { recursive: true });
  }
});

gpuTest(
  "autotune: a spent budget defers a shape to a later run; a shipped choice is used without measuring",
  async () => {
    const dir = Deno.makeTempDirSync({ prefix: "meddiff-tune-budget-" });
    const saved = ["MEDDIFF_AUTOTUNE", "MEDDIFF_AUTOTUNE_BUDGET", "MEDDIFF_AUTOTUNE_SHIPPED"].map((k) =>
      [k, Deno.env.get(k)] as const
    );
    Deno.env.set("MEDDIFF_CACHE_DIR", dir);
    Deno.env.set("MEDDIFF_AUTOTUNE", "1");
    Deno.env.set("MEDDIFF_AUTOTUNE_SHIPPED", "0"); // the budget rules first, without the shipped table
    // [80, 72] · [72, 88]: buckets 128 × 128 × 128, both operands row-major and vec4-aligned.
    const key = "128x128x128b1:nn";
    let unregister = () => {};
    try {
      Deno.env.set("MEDDIFF_AUTOTUNE_BUDGET", "0");
      resetAutotuneMemory();
      const r0 = autotuneReport();
      await check([80, 72], [72, 88], 51, "budget spent: the default kernel");
      await autotuneSettled();
      const r1 = autotuneReport();
      assertEquals(r1.deferred, r0.deferred + 1, "deferred");
      assertEquals(r1.measured, r0.measured, "nothing measured");
      assertEquals(cachedResult("matmul", key), undefined);
      // A budget that runs out during the measurement: dropped, not half-recorded.
      Deno.env.set("MEDDIFF_AUTOTUNE_BUDGET", "0.000001");
      resetAutotuneMemory();
      await check([80, 72], [72, 88], 54, "budget runs out while measuring");
      await autotuneSettled();
      assertEquals([autotuneReport().deferred, autotuneReport().measured], [1, 0], "deferred mid-way");
      assertEquals(cachedResult("matmul", key)?.partial, true, "kept as partial, for the next run to go on from");

      Deno.env.delete("MEDDIFF_AUTOTUNE_BUDGET"); // the next run has its budget again
      resetAutotuneMemory();
      await check([80, 72], [72, 88], 52, "next run");
      await autotuneSettled();
      assertEquals(autotuneReport().measured, 1, "the deferred shape is measured by the next run");
      assertEquals(cachedResult("matmul", key)?.partial, undefined, "and cached, complete");

      // A shipped table for this adapter: used for a shape with no cache entry, nothing measured.
      Deno.env.delete("MEDDIFF_AUTOTUNE_SHIPPED");
      Deno.removeSync(`${dir}/autotune.json`);
      resetAutotuneMemory();
      unregister = registerShippedTuning({ adapter: /./, source: "test", choices: { [`matmul|${key}`]: "rb8" } });
      const r2 = autotuneReport();
      await check([80, 72], [72, 88], 53, "shipped choice");
      await autotuneSettled();
      const r3 = autotuneReport();
      assertEquals([r3.shipped, r3.measured], [r2.shipped + 1, r2.measured], "shipped, not measured");
      assertEquals(cachedResult("matmul", key), undefined, "a shipped choice is not written to the user's cache");
    } finally {
      unregister();
      for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
      Deno.env.set("MEDDIFF_CACHE_DIR", cacheDir);
      resetAutotuneMemory();
      Deno.removeSync(dir, { recursive: true });
    }
  },
);

gpuTest("matmul: MEDDIFF_AUTOTUNE=0 uses the adapter default", async () => {
  const autotune = Deno.env.get("MEDDIFF_AUTOTUNE"); // restored after: later tests rely on fixed kernels
  Deno.env.set("MEDDIFF_AUTOTUNE", "0");
  try {
    await check([70, 66], [66, 130], 41, "no autotune");
  } finally {
    if (autotune === undefined) Deno.env.delete("MEDDIFF_AUTOTUNE");
    else Deno.env.set("MEDDIFF_AUTOTUNE", autotune);
  }
  await autotuneSettled();
  if (userCacheDir === undefined) Deno.env.delete("MEDDIFF_CACHE_DIR");
  else Deno.env.set("MEDDIFF_CACHE_DIR", userCacheDir);
  resetAutotuneMemory();
  Deno.removeSync(cacheDir, { recursive: true });
});
