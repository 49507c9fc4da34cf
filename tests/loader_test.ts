import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import sharp from "sharp";
import { gpuTest } from "./_util.ts";
import { ImageFolder } from "../datasets/image_folder.ts";
import { toTensor } from "../datasets/transforms/normalize.ts";
import { type CollatedBatch, DataLoader } from "../datasets/loader.ts";
import { ProceduralDataset } from "../datasets/procedural.ts";
import { Rng } from "../util/rng.ts";
import { WeightedRandomSampler } from "../datasets/sampler.ts";
import { type ArrayImage, type Dataset, DatasetError, type Raster, type Sample } from "../datasets/types.ts";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Sample i: a [1, 2, 2] image filled with i, label i % 3. Optionally sleeps in get() (a fixed
 * delay, or one that varies with the index so loads finish out of order) and counts calls.
 */
class ToyDataset implements Dataset<Sample> {
  calls = 0;
  active = 0;
  maxActive = 0;
  constructor(readonly length: number, readonly delay: (i: number) => number = () => 0) {}
  async get(i: number): Promise<Sample> {
    this.calls++;
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    const ms = this.delay(i);
    if (ms > 0) await sleep(ms);
    this.active--;
    return { image: { data: new Float32Array(4).fill(i), shape: [1, 2, 2] }, label: i % 3, id: `toy${i}`, meta: {} };
  }
}

/** Adds rng.random() to every pixel and records the draw in meta. */
function jitter(s: Sample, rng: Rng): Sample {
  const r = rng.random();
  const img = s.image as ArrayImage;
  return { ...s, image: { data: img.data.map((v) => v + r), shape: img.shape }, meta: { ...s.meta, r } };
}

async function collect(it: AsyncIterable<CollatedBatch>): Promise<CollatedBatch[]> {
  const out: CollatedBatch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

Deno.test("DataLoader: sequential batches, last partial batch, dropLast, length", async () => {
  const ds = new ToyDataset(10);
  const loader = new DataLoader(ds, { batchSize: 4 });
  assertEquals(loader.length, 3);
  const batches = await collect(loader.cpuBatches());
  assertEquals(batches.map((b) => b.ids.length), [4, 4, 2]);
  assertEquals(batches[1].images.shape, [4, 1, 2, 2]);
  assertEquals(Array.from(batches[1].images.data), [4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7]);
  assertEquals(batches[2].labels, new Int32Array([8 % 3, 9 % 3]));
  assertEquals(batches[2].ids, ["toy8", "toy9"]);
  assertEquals(batches.map((b) => [b.epoch, b.index]), [[0, 0], [0, 1], [0, 2]]);
  const dropped = new DataLoader(ds, { batchSize: 4, dropLast: true });
  assertEquals(dropped.length, 2);
  assertEquals((await collect(dropped.cpuBatches())).length, 2);
  assertEquals(loader.stats().batches, 3);
  assertEquals(loader.stats().samples, 10);
  assertThrows(() => new DataLoader(ds, { batchSize: 0 }), RangeError, "batchSize");
  assertThrows(
    () => new DataLoader(ds, { shuffle: true, sampler: loader.sampler }),
    TypeError,
    "either shuffle or sampler",
  );
});

Deno.test("DataLoader: same seed → identical batches whatever the concurrency, prefetch and load order", async () => {
  // Loads finish out of order: later indices sleep less.
  const make = (concurrency: number, prefetch: number, seed = 5) =>
    new DataLoader(new ToyDataset(23, (i) => (i * 7) % 5), {
      batchSize: 4,
      shuffle: true,
      seed,
      transform: jitter,
      concurrency,
      prefetch,
    });
  const a = await collect(make(1, 0).cpuBatches(0));
  const b = await collect(make(8, 3).cpuBatches(0));
  assertEquals(a.length, 6);
  for (let k = 0; k < a.length; k++) {
    assertEquals(b[k].ids, a[k].ids);
    assertEquals(b[k].images.data, a[k].images.data, `batch ${k}`);
  }
  // Each sample's transform generator is Rng.derive(seed, epoch, index).
  const first = a[0];
  const idx = first.indices[0];
  assertEquals(first.images.data[0], Float32Array.of(idx + Rng.derive(5, 0, idx).random())[0]);
  // A shuffled order: not 0..22.
  assert(a.flatMap((x) => [...x.indices]).join() !== Array.from({ length: 23 }, (_, i) => i).join());
  // Another epoch: another order and other augmentations; another seed: another order.
  const e1 = await collect(make(4, 2).cpuBatches(1));
  assert(e1.map((x) => x.ids.join()).join() !== a.map((x) => x.ids.join()).join(), "epoch 1 has epoch 0's order");
  const byId = (bs: CollatedBatch[]) => {
    const m = new Map<string, number>();
    for (const x of bs) x.ids.forEach((id, j) => m.set(id, x.images.data[4 * j]));
    return m;
  };
  const v0 = byId(a), v1 = byId(e1);
  assert([...v0].every(([id, v]) => v !== v1.get(id)), "a sample got the same augmentation in epochs 0 and 1");
  const other = await collect(make(4, 2, 6).cpuBatches(0));
  assert(other.map((x) => x.ids.join()).join() !== a.map((x) => x.ids.join()).join());
});

Deno.test("DataLoader: the epoch counter advances per iteration; setEpoch resumes", async () => {
  const loader = new DataLoader(new ToyDataset(6), { batchSize: 6, shuffle: true, seed: 1 });
  const e0 = (await collect(loader.cpuBatches()))[0].ids;
  assertEquals(loader.epoch, 1);
  const e1 = (await collect(loader.cpuBatches()))[0].ids;
  assert(e0.join() !== e1.join());
  loader.setEpoch(1);
  assertEquals((await collect(loader.cpuBatches()))[0].ids, e1);
  assertEquals((await collect(loader.cpuBatches(0)))[0].ids, e0, "an explicit epoch");
  assertEquals(loader.epoch, 2, "an explicit epoch leaves the counter alone");
});

Deno.test("DataLoader: at most `concurrency` samples load at once", async () => {
  const ds = new ToyDataset(40, () => 3);
  await collect(new DataLoader(ds, { batchSize: 8, concurrency: 3, prefetch: 2 }).cpuBatches());
  assertEquals(ds.maxActive, 3);
  const ds1 = new ToyDataset(10, () => 1);
  await collect(new DataLoader(ds1, { batchSize: 5, concurrency: 1, prefetch: 4 }).cpuBatches());
  assertEquals(ds1.maxActive, 1);
});

Deno.test("DataLoader: prefetch overlap — the consumer barely waits when batches are prepared ahead", async () => {
  // 12 batches of 4; each get() sleeps 20 ms, 4 in parallel → ~20 ms per batch; the consumer works 30 ms per batch.
  const run = async (prefetch: number) => {
    const loader = new DataLoader(new ToyDataset(48, () => 20), { batchSize: 4, concurrency: 4, prefetch });
    let consumerMs = 0;
    for await (const _ of loader.cpuBatches()) {
      const t0 = performance.now();
      await sleep(30);
      consumerMs += performance.now() - t0;
    }
    return { ...loader.stats(), consumerMs };
  };
  const ahead = await run(2), none = await run(0);
  const fmt = (s: { waitMs: number; firstWaitMs: number; consumerMs: number }) =>
    `wait ${s.waitMs.toFixed(0)} ms (first batch ${s.firstWaitMs.toFixed(0)} ms) over ${
      s.consumerMs.toFixed(0)
    } ms of consumer work = ${(100 * s.waitMs / s.consumerMs).toFixed(1)}%`;
  console.log(`  prefetch 2: ${fmt(ahead)}\n  prefetch 0: ${fmt(none)}`);
  const steady = ahead.waitMs - ahead.firstWaitMs;
  assert(steady < 0.1 * ahead.consumerMs, `prefetch 2: waited ${steady.toFixed(1)} ms after the first batch`);
  assert(ahead.waitMs < 0.2 * ahead.consumerMs, `prefetch 2: ${fmt(ahead)}`);
  assert(none.waitMs > 0.4 * none.consumerMs, `prefetch 0 should wait for every batch: ${fmt(none)}`);
});

Deno.test("DataLoader: rasters need toTensor (or autoToTensor: HWC uint8 → CHW / 255)", async () => {
  const raster: Raster = { data: Uint8Array.from([0, 51, 255, 102, 153, 204]), width: 2, height: 1, channels: 3 };
  const ds: Dataset<Sample> = {
    length: 1,
    get: () => Promise.resolve({ image: raster, label: 0, id: "r0", meta: {} }),
  };
  await assertRejects(
    () => collect(new DataLoader(ds).cpuBatches()),
    TypeError,
    `sample "r0" (index 0) is a Raster (1×2×3, HWC uint8); end the transform with toTensor()`,
  );
  const [b] = await collect(new DataLoader(ds, { autoToTensor: true }).cpuBatches());
  assertEquals(b.images.shape, [1, 3, 1, 2]);
  assertEquals(Array.from(b.images.data), [0, 102 / 255, 51 / 255, 153 / 255, 1, 204 / 255].map((v) => Math.fround(v)));
});

Deno.test("DataLoader over an ImageFolder with toTensor(): decoded PNGs batch to NCHW in [0, 1]", async () => {
  const root = await Deno.makeTempDir({ prefix: "meddiff_loader_" });
  try {
    for (const [cls, v] of [["a", 51], ["b", 204]] as const) {
      await Deno.mkdir(`${root}/${cls}`);
      for (let k = 0; k < 3; k++) {
        await sharp(new Uint8Array(5 * 4 * 3).fill(v + k), { raw: { width: 5, height: 4, channels: 3 } }).png()
          .toFile(`${root}/${cls}/${k}.png`);
      }
    }
    const ds = await ImageFolder.open(root);
    const loader = new DataLoader(ds, { batchSize: 4, transform: toTensor() });
    const batches = await collect(loader.cpuBatches());
    assertEquals(batches.map((b) => b.images.shape), [[4, 3, 4, 5], [2, 3, 4, 5]]);
    assertEquals(Array.from(batches[0].labels), [0, 0, 0, 1]);
    assertEquals(batches[1].ids, ["b/1.png", "b/2.png"]);
    assertEquals(batches[1].images.data[0], Math.fround(205 / 255));
    assertEquals(batches[1].images.data[2 * 60 - 1], Math.fround(206 / 255));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("DataLoader: mismatched shapes name the samples; errors surface at their batch", async () => {
  const shapes: Dataset<Sample> = {
    length: 4,
    get: (i) =>
      Promise.resolve({
        image: i === 2
          ? { data: new Float32Array(6), shape: [1, 2, 3] }
          : { data: new Float32Array(4), shape: [1, 2, 2] },
        label: 0,
        id: `img${i}`,
        meta: {},
      }),
  };
  await assertRejects(
    () => collect(new DataLoader(shapes, { batchSize: 4 }).cpuBatches()),
    RangeError,
    "batch 0 of epoch 0 mixes image shapes [1, 2, 2] (ids img0, img1, img3) and [1, 2, 3] (ids img2)",
  );
  // A bad file in batch 2: batches 0 and 1 arrive, then the DatasetError (unchanged, naming the file).
  const failing = new ToyDataset(12);
  const get = failing.get.bind(failing);
  failing.get = (
    i,
  ) => (i === 9 ? Promise.reject(new DatasetError("/data/bad.png", "cannot decode the image")) : get(i));
  const seen: number[] = [];
  const err = await assertRejects(
    async () => {
      for await (const b of new DataLoader(failing, { batchSize: 4, prefetch: 2 }).cpuBatches()) seen.push(b.index);
    },
    DatasetError,
    "/data/bad.png",
  );
  assertEquals(seen, [0, 1]);
  assert(err instanceof DatasetError);
  // Breaking early while a prefetched batch fails leaves no unhandled rejection behind.
  for await (const b of new DataLoader(failing, { batchSize: 4, prefetch: 2 }).cpuBatches()) {
    if (b.index === 0) break;
  }
  await sleep(20);
  // A transform error names the sample.
  const boom = () => {
    throw new Error("boom");
  };
  await assertRejects(
    () => collect(new DataLoader(new ToyDataset(2), { transform: boom }).cpuBatches()),
    Error,
    `transform failed on sample "toy0" (index 0): boom`,
  );
});

Deno.test("DataLoader: cache loads each sample once; augmentation still changes per epoch", async () => {
  const ds = new ToyDataset(8);
  const loader = new DataLoader(ds, { batchSize: 4, shuffle: true, cache: true, transform: jitter });
  const e0 = await collect(loader.cpuBatches());
  const e1 = await collect(loader.cpuBatches());
  assertEquals(ds.calls, 8);
  assertEquals(loader.stats().cacheHits, 8);
  assert(e0[0].images.data.join() !== e1[0].images.data.join());
  // The cached samples are untouched by the transform.
  const plain = await collect(new DataLoader(ds, { batchSize: 8 }).cpuBatches());
  assertEquals(Array.from(plain[0].images.data.subarray(0, 4)), [0, 0, 0, 0]);
});

Deno.test("DataLoader: weighted sampling with replacement gives repeats their own augmentation", async () => {
  const ds = new ToyDataset(4);
  const sampler = new WeightedRandomSampler([1, 0, 0, 0], 6, { seed: 2 });
  const [b] = await collect(new DataLoader(ds, { batchSize: 6, sampler, transform: jitter, seed: 9 }).cpuBatches());
  assertEquals([...b.indices], [0, 0, 0, 0, 0, 0]);
  const firstPixels = Array.from({ length: 6 }, (_, j) => b.images.data[4 * j]);
  assertEquals(new Set(firstPixels).size, 6);
  assertEquals(firstPixels[0], Math.fround(Rng.derive(9, 0, 0).random()));
  assertEquals(firstPixels[1], Math.fround(Rng.derive(9, 0, 0, 1).random()));
});

gpuTest("DataLoader: tensor batches (NCHW float32, int32 labels, multi-label float32)", async () => {
  const ds: Dataset<Sample> = {
    length: 5,
    get: (i) =>
      Promise.resolve({
        image: { data: Float32Array.from({ length: 12 }, (_, k) => i + k / 100), shape: [3, 2, 2] },
        label: 4 - i,
        labels: [i % 2, 1 - (i % 2)],
        id: `s${i}`,
        meta: {},
      }),
  };
  const loader = new DataLoader(ds, { batchSize: 2 });
  const seen: number[][] = [];
  for await (const b of loader) {
    assertEquals(b.images.shape, [b.ids.length, 3, 2, 2]);
    assertEquals([b.images.dtype, b.labels.dtype, b.labelsMulti!.dtype], ["float32", "int32", "float32"]);
    assertEquals(b.labelsMulti!.shape, [b.ids.length, 2]);
    const img = await b.images.data();
    seen.push(Array.from(await b.labels.data()));
    assertEquals(Array.from(await b.labelsMulti!.data()).slice(0, 2), [b.indices[0] % 2, 1 - (b.indices[0] % 2)]);
    const expected = Float32Array.from(
      { length: 12 * b.ids.length },
      (_, k) => b.indices[Math.floor(k / 12)] + (k % 12) / 100,
    );
    assertEquals(Array.from(img), Array.from(expected));
    b.dispose();
    assert(b.images.isDisposed && b.labels.isDisposed);
  }
  assertEquals(seen, [[4, 3], [2, 1], [0]]);
  assert(loader.stats().uploadMs >= 0);
});

gpuTest("DataLoader: volumes batch to NCDHW; ProceduralDataset end to end", async () => {
  const vol: Dataset<Sample> = {
    length: 3,
    get: (i) =>
      Promise.resolve({
        image: { data: new Float32Array(2 * 4 * 4 * 4).fill(i), shape: [2, 4, 4, 4] },
        label: i,
        id: `v${i}`,
        meta: {},
      }),
  };
  for await (const b of new DataLoader(vol, { batchSize: 3 })) assertEquals(b.images.shape, [3, 2, 4, 4, 4]);
  const proc = new ProceduralDataset({ length: 64, seed: 1 });
  const loader = new DataLoader(proc, { batchSize: 16, shuffle: true, seed: 2 });
  let n = 0;
  for await (const b of loader) {
    assertEquals(b.images.shape, [16, 3, 28, 28]);
    const labels = await b.labels.data();
    b.indices.forEach((idx, j) => assertEquals(labels[j], proc.labelOf(idx)));
    n += b.ids.length;
  }
  assertEquals(n, 64);
});
