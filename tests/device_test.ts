import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { gpuTest } from "./_util.ts";
import {
  dispatch,
  dispatchCounters,
  type DispatchSpec,
  gpu,
  GpuError,
  observeDispatches,
  pipeline,
  readBuffer,
  startKernelProfile,
  stopKernelProfile,
  synchronize,
} from "../core/device.ts";
import { bucketSize, BufferPool } from "../core/buffer_pool.ts";
import { memoryStats, ones, scope, tensor } from "../mod.ts";

gpuTest("adapter info is read and limits come from the adapter", () => {
  const g = gpu();
  assert(g.adapterKey.length > 0, "adapter key");
  assert(g.limits.maxStorageBufferBindingSize >= 128 * 1024 * 1024, "storage binding limit requested");
});

gpuTest("dispatches are batched: many ops, few submits", async () => {
  await synchronize();
  const before = dispatchCounters();
  scope(() => {
    let x = ones([64]);
    for (let i = 0; i < 100; i++) x = x.add(1);
  });
  await synchronize();
  const after = dispatchCounters();
  assert(after.dispatches - before.dispatches >= 100, "recorded the dispatches");
  assert(after.submits - before.submits <= 2, `submitted ${after.submits - before.submits} times for 100 ops`);
});

gpuTest("buffer pool: buckets, reuse after submit, live/peak bytes", async () => {
  assertEquals(bucketSize(1), 256);
  assertEquals(bucketSize(1000), 1024);
  assertEquals(bucketSize(1025), 1280); // eighths of the next power of two
  await synchronize();
  const live0 = memoryStats().liveBytes;
  const t = tensor(new Float32Array(1000));
  assertEquals(memoryStats().liveBytes - live0, 4096);
  assert(memoryStats().peakBytes >= memoryStats().liveBytes, "peak ≥ live");
  t.dispose();
  assertEquals(memoryStats().liveBytes, live0);
});

gpuTest("MEDDIFF_POISON_BUFFERS=1: buffers are handed out full of NaN, fresh or reused", async () => {
  const before = Deno.env.get("MEDDIFF_POISON_BUFFERS");
  Deno.env.set("MEDDIFF_POISON_BUFFERS", "1");
  const pool = new BufferPool(gpu().device);
  if (before === undefined) Deno.env.delete("MEDDIFF_POISON_BUFFERS");
  else Deno.env.set("MEDDIFF_POISON_BUFFERS", before);
  assert(pool.poison && !gpu().pool.poison, "read when a pool is made");
  const read = async (b: GPUBuffer) => new Float32Array(await readBuffer(b, 0, b.size));
  const a = pool.acquire(1000, "poison-test");
  assert((await read(a)).every(Number.isNaN), "a fresh buffer is all NaN, padding included");
  gpu().device.queue.writeBuffer(a, 0, new Float32Array(256).fill(1));
  pool.release(a);
  pool.onSubmitted();
  const b = pool.acquire(1000, "poison-test");
  assertEquals(b, a); // the same buffer, reused
  assert((await read(b)).every(Number.isNaN), "a reused buffer is poisoned again");
  pool.release(b);
  pool.onSubmitted();
  pool.trim();
});

gpuTest("a WebGPU validation error surfaces as a GpuError naming the op", async () => {
  const p = pipeline(
    "test-bad-binding",
    `@group(0) @binding(1) var<storage, read_write> out: array<f32>;
     @compute @workgroup_size(1) fn main() { out[0] = 1.0; }`,
  );
  const { device } = gpu();
  const buf = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
  buf.destroy(); // using a destroyed buffer is a validation error at submit
  dispatch({ op: "test-bad-binding", pipeline: p, bindings: [buf], workgroups: [1] });
  const err = await assertRejects(() => synchronize(), GpuError, "test-bad-binding");
  assert((err as GpuError).ops.includes("test-bad-binding"), "ops list");
  // the device keeps working afterwards
  assertEquals(await ones([2]).toArray(), [1, 1]);
});

gpuTest("a binding over the adapter's storage binding limit is refused at dispatch, naming the op", async () => {
  const p = pipeline(
    "test-big-binding",
    `@group(0) @binding(1) var<storage, read_write> out: array<f32>;
     @compute @workgroup_size(1) fn main() { out[0] = 1.0; }`,
  );
  const { device, limits } = gpu();
  const buf = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
  const before = dispatchCounters().dispatches;
  const err = assertThrows(
    () =>
      dispatch({
        op: "test-big-binding",
        pipeline: p,
        bindings: [{ buffer: buf, size: limits.maxStorageBufferBindingSize + 4 }],
        workgroups: [1],
      }),
    RangeError,
    "test-big-binding: binding 1",
  );
  assert(err.message.includes("storage binding limit"), err.message);
  assertEquals(dispatchCounters().dispatches, before, "nothing was recorded");
  buf.destroy();
  await synchronize();
});

gpuTest("the kernel profiler times every dispatch by op name and leaves results unchanged", async () => {
  if (!gpu().features.has("timestamp-query")) return; // nothing to time with; the error path is below
  await synchronize();
  startKernelProfile();
  // 600 dispatches: more than one query set (512 timestamps = 256 passes) and one batch.
  const x = scope(() => {
    let x = ones([1000]);
    for (let i = 0; i < 600; i++) x = x.add(1);
    return x;
  });
  const rows = await stopKernelProfile();
  assertEquals(rows.find((r) => r.op === "add")?.count, 600, JSON.stringify(rows));
  assertEquals(rows.reduce((s, r) => s + r.count, 0), 601, "600 adds and the fill of `ones`");
  assert(rows.every((r) => Number.isFinite(r.ms) && r.ms >= 0), "finite times");
  assert(rows.reduce((s, r) => s + r.ms, 0) > 0, "some time was measured");
  for (let i = 1; i < rows.length; i++) assert(rows[i - 1].ms >= rows[i].ms, "sorted by time");
  assertEquals((await x.toArray())[999], 601);
  x.dispose();
  await assertRejects(() => stopKernelProfile(), Error, "no profile is running");
  const before = dispatchCounters();
  scope(() => {
    let y = ones([8]);
    for (let i = 0; i < 100; i++) y = y.add(1);
  });
  await synchronize();
  assert(dispatchCounters().submits - before.submits <= 2, "batching is back after the profile");
});

gpuTest("observeDispatches hands over copies of each dispatch, and replaying one repeats its work", async () => {
  const seen: DispatchSpec[] = [];
  const x = ones([1000]);
  observeDispatches((spec) => seen.push(spec));
  const y = x.add(2);
  observeDispatches();
  const z = x.add(5); // not observed
  assertEquals(seen.map((s) => s.op), ["add"]);
  assertEquals((await y.toArray())[999], 3);
  gpu().device.queue.writeBuffer(y.storage.buffer, 0, new Float32Array(1000));
  assertEquals((await y.toArray())[999], 0, "y overwritten");
  dispatch(seen[0]);
  assertEquals((await y.toArray())[999], 3, "the replay wrote x + 2 again");
  assertEquals((await z.toArray())[0], 6);
  for (const t of [x, y, z]) t.dispose();
});
