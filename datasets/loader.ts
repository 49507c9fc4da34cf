/**
 * {@linkcode DataLoader}: batches a {@linkcode Dataset} into GPU tensors, in an order a
 * {@linkcode Sampler} chooses, decoding several samples at once and preparing the next batches
 * while the consumer (a training step) works on the current one.
 *
 * Determinism. Sample `index` in epoch `e` is transformed with `Rng.derive(seed, e, index)`
 * (a repeat of the same index within an epoch, as weighted sampling with replacement makes,
 * uses `Rng.derive(seed, e, index, k)` for its k-th repeat), so batches depend only on
 * `(seed, epoch)` — never on `concurrency`, `prefetch` or which decode finished first.
 *
 * Epochs. Each `for await (const batch of loader)` runs one epoch and advances the loader's
 * epoch counter (0 first); `setEpoch(e)` chooses the next one (e.g. when a run resumes), and
 * `iterate(e)` runs a given epoch without touching the counter.
 *
 * Memory. A batch's tensors are made when the batch is handed over, so they belong to the
 * consumer's current `scope()`; outside a scope call `batch.dispose()` when done with it.
 *
 * @example
 * ```ts
 * const loader = new DataLoader(new ProceduralDataset({ length: 512 }), { batchSize: 32, shuffle: true, seed: 1 });
 * for await (const { images, labels } of loader) {
 *   await scope(async () => { ... });
 * }
 * console.log(loader.stats());
 * ```
 * @module
 */
import { tensor } from "../core/ops/creation.ts";
import type { Tensor } from "../core/tensor.ts";
import { Rng } from "../util/rng.ts";
import { rasterToArray } from "./transforms/normalize.ts";
import { RandomSampler, type Sampler, SequentialSampler, type Shard, ShardedSampler } from "./sampler.ts";
import { type ArrayImage, type Dataset, DatasetError, type Raster, type Sample, type Transform } from "./types.ts";

/** A batch on the CPU: samples collated into contiguous arrays, before the upload to the GPU. */
export interface CollatedBatch {
  /** The images stacked: shape `[N, ...sampleShape]` (NCHW from CHW samples, NCDHW from CDHW). */
  images: ArrayImage;
  /** Class index per sample. */
  labels: Int32Array;
  /** Multi-label targets `[N, L]` as float32 0/1, when the samples have `labels`. */
  labelsMulti?: ArrayImage;
  /** Sample ids, in batch order. */
  ids: string[];
  /** Dataset indices, in batch order. */
  indices: Int32Array;
  /** The epoch the batch belongs to. */
  epoch: number;
  /** Position of the batch within its epoch. */
  index: number;
}

/** A batch as GPU tensors. */
export interface Batch {
  /** float32 images `[N, C, H, W]` (or `[N, C, D, H, W]`). */
  images: Tensor;
  /** int32 class indices `[N]`. */
  labels: Tensor;
  /** float32 multi-label targets `[N, L]`, when the samples have `labels`. */
  labelsMulti?: Tensor;
  /** Sample ids, in batch order. */
  ids: string[];
  /** Dataset indices, in batch order. */
  indices: Int32Array;
  /** The epoch the batch belongs to. */
  epoch: number;
  /** Position of the batch within its epoch. */
  index: number;
  /** Frees the batch's tensors. */
  dispose(): void;
}

/** Options of {@linkcode DataLoader.iterate} and {@linkcode DataLoader.cpuBatches}. */
export interface IterateOptions {
  /** First batch to yield (default 0); earlier ones are skipped without being loaded. */
  from?: number;
}

/** Options of {@linkcode DataLoader}. */
export interface DataLoaderOptions<S extends Sample = Sample> {
  /** Samples per batch (default 1). */
  batchSize?: number;
  /** Visit samples in a new random order each epoch (a {@linkcode RandomSampler} with `seed`); default false. */
  shuffle?: boolean;
  /** Custom order (e.g. a {@linkcode WeightedRandomSampler}); excludes `shuffle`. Its epoch is set by the loader. */
  sampler?: Sampler;
  /** Leave out a last, smaller batch (default false). */
  dropLast?: boolean;
  /** Seed of the shuffle and of every sample's transform generator (default 0). */
  seed?: number;
  /** Per-sample transform (augmentation, `toTensor`, normalisation), run with the sample's own generator. */
  transform?: Transform<S, Sample>;
  /** Batches prepared ahead while the consumer works on the current one (default 2; 0: none). */
  prefetch?: number;
  /** Samples loaded and transformed at once (default 4). */
  concurrency?: number;
  /**
   * Keep every sample as the dataset returned it (before `transform`) in memory after its first
   * load — for small datasets whose decoding dominates. Transforms must not modify their input
   * sample's arrays in place (they receive the cached data). Default false.
   */
  cache?: boolean;
  /**
   * Turn a {@linkcode Raster} sample (HWC) into a CHW array instead of throwing: uint8 values
   * are divided by 255, float values kept. Default false (a raster is an error that asks for a
   * `toTensor` step in the transform).
   */
  autoToTensor?: boolean;
}

/** Timing and counts of a {@linkcode DataLoader} since it was made (or since `resetStats`). */
export interface LoaderStats {
  /** Batches handed to the consumer. */
  batches: number;
  /** Samples loaded and transformed (cache hits included). */
  samples: number;
  /** Samples served from the cache. */
  cacheHits: number;
  /** Total time the consumer waited for a batch to be ready, in ms. */
  waitMs: number;
  /** The longest single wait, in ms. */
  maxWaitMs: number;
  /** The wait for the first batch of the latest epoch (nothing can be prefetched before it), in ms. */
  firstWaitMs: number;
  /** Total time spent copying batches to the GPU, in ms. */
  uploadMs: number;
  /** Sum over samples of the time to load and transform each (they overlap; compare with `waitMs`), in ms. */
  sampleMs: number;
}

function isRaster(image: unknown): image is Raster {
  return typeof image === "object" && image !== null && "width" in image && "height" in image && "channels" in image;
}

/** A FIFO counting semaphore: at most `limit` tasks run at once, started in the order they asked. */
class Limiter {
  #active = 0;
  readonly #queue: (() => void)[] = [];
  constructor(readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#active >= this.limit) await new Promise<void>((resolve) => this.#queue.push(resolve));
    else this.#active++;
    try {
      return await fn();
    } finally {
      const next = this.#queue.shift();
      if (next) next(); // the slot passes straight to the next task
      else this.#active--;
    }
  }
}

class Cancelled extends Error {}

function checkCount(v: unknown, name: string, min: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new RangeError(`DataLoader: ${name} must be an integer ≥ ${min}, got ${v}`);
  }
  return v;
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function listIds(ids: string[]): string {
  return ids.length <= 4 ? ids.join(", ") : `${ids.slice(0, 4).join(", ")}, … (${ids.length} samples)`;
}

/**
 * Batches a dataset into tensors: seeded order (sequential, shuffled, or any sampler),
 * per-sample transforms with their own generators, parallel loading and prefetching.
 * `length` is the number of batches per epoch.
 */
export class DataLoader<S extends Sample = Sample> {
  /** The dataset read. */
  readonly dataset: Dataset<S>;
  /** Samples per batch. */
  readonly batchSize: number;
  /** Whether a last, smaller batch is left out. */
  readonly dropLast: boolean;
  /** Seed of shuffling and transforms. */
  readonly seed: number;
  /** Batches prepared ahead. */
  readonly prefetch: number;
  /** Samples loaded at once. */
  readonly concurrency: number;
  /** The order of each epoch. */
  readonly sampler: Sampler;
  readonly #transform?: Transform<S, Sample>;
  readonly #autoToTensor: boolean;
  readonly #cache?: Map<number, Promise<S>>;
  readonly #options: DataLoaderOptions<S>;
  #epoch = 0;
  #stats: LoaderStats = DataLoader.#emptyStats();

  /** A loader over `dataset`; nothing is read until iteration starts. */
  constructor(dataset: Dataset<S>, options: DataLoaderOptions<S> = {}) {
    if (!dataset || typeof dataset.get !== "function" || !Number.isInteger(dataset.length)) {
      throw new TypeError("DataLoader: dataset must have an integer length and a get(index) method");
    }
    this.dataset = dataset;
    this.#options = options;
    this.batchSize = checkCount(options.batchSize ?? 1, "batchSize", 1);
    this.dropLast = options.dropLast ?? false;
    this.seed = options.seed ?? 0;
    if (!Number.isInteger(this.seed)) throw new TypeError(`DataLoader: seed must be an integer, got ${options.seed}`);
    this.prefetch = checkCount(options.prefetch ?? 2, "prefetch", 0);
    this.concurrency = checkCount(options.concurrency ?? 4, "concurrency", 1);
    if (options.sampler && options.shuffle) {
      throw new TypeError("DataLoader: give either shuffle or sampler, not both (the sampler decides the order)");
    }
    this.sampler = options.sampler ??
      (options.shuffle
        ? new RandomSampler(dataset.length, { seed: this.seed })
        : new SequentialSampler(dataset.length));
    if (options.transform !== undefined && typeof options.transform !== "function") {
      throw new TypeError("DataLoader: transform must be a function (sample, rng) => sample");
    }
    this.#transform = options.transform;
    this.#autoToTensor = options.autoToTensor ?? false;
    if (options.cache) this.#cache = new Map();
  }

  /**
   * This loader for one rank of a data-parallel run: the same dataset, batch size and
   * transforms, visiting the rank's share of every epoch's order ({@linkcode ShardedSampler};
   * one shared seed, so the ranks' shares are disjoint). Batch k of all ranks together is
   * batch k of this loader with `worldSize` times the batch size.
   */
  sharded(shard: Shard): DataLoader<S> {
    const { shuffle: _, ...rest } = this.#options;
    return new DataLoader(this.dataset, { ...rest, sampler: new ShardedSampler(this.sampler, shard) });
  }

  static #emptyStats(): LoaderStats {
    return {
      batches: 0,
      samples: 0,
      cacheHits: 0,
      waitMs: 0,
      maxWaitMs: 0,
      firstWaitMs: 0,
      uploadMs: 0,
      sampleMs: 0,
    };
  }

  /** Number of batches per epoch. */
  get length(): number {
    const n = this.sampler.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The epoch the next `for await` (or `iterate()` / `cpuBatches()` without an epoch) runs. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Chooses the epoch the next iteration runs (e.g. the first epoch of a resumed run). */
  setEpoch(epoch: number): void {
    this.#epoch = checkCount(epoch, "epoch", 0);
  }

  /** Timing and counts so far (a copy). */
  stats(): LoaderStats {
    return { ...this.#stats };
  }

  /** Zeroes the statistics. */
  resetStats(): void {
    this.#stats = DataLoader.#emptyStats();
  }

  /** Runs one epoch (the counter's, advancing it), yielding tensor batches. */
  [Symbol.asyncIterator](): AsyncGenerator<Batch> {
    return this.iterate();
  }

  /**
   * Yields the batches of `epoch` as tensors (default: the counter's epoch, which then advances),
   * from batch `from` on (default 0: a resumed run skips what it has seen without loading it).
   */
  async *iterate(epoch?: number, opts: IterateOptions = {}): AsyncGenerator<Batch> {
    for await (const b of this.cpuBatches(epoch, opts)) {
      const t0 = performance.now();
      const images = tensor(b.images.data, [...b.images.shape]);
      const labels = tensor(b.labels, [b.labels.length]);
      const labelsMulti = b.labelsMulti ? tensor(b.labelsMulti.data, [...b.labelsMulti.shape]) : undefined;
      this.#stats.uploadMs += performance.now() - t0;
      const batch: Batch = {
        images,
        labels,
        ids: b.ids,
        indices: b.indices,
        epoch: b.epoch,
        index: b.index,
        dispose() {
          images.dispose();
          labels.dispose();
          labelsMulti?.dispose();
        },
      };
      if (labelsMulti) batch.labelsMulti = labelsMulti;
      yield batch;
    }
  }

  /**
   * Yields the batches of `epoch` collated on the CPU, without touching the GPU (default: the
   * counter's epoch, which then advances). Batches `k+1 … k+prefetch` are prepared while the
   * consumer holds batch `k`.
   */
  async *cpuBatches(epoch?: number, opts: IterateOptions = {}): AsyncGenerator<CollatedBatch> {
    const e = epoch === undefined ? this.#epoch++ : checkCount(epoch, "epoch", 0);
    const from = checkCount(opts.from ?? 0, "from", 0);
    this.sampler.setEpoch(e);
    const order = this.sampler.indices();
    const n = this.dataset.length;
    // k-th repeat of an index within the epoch, so repeats get their own augmentation.
    const repeat = new Int32Array(order.length);
    const seen = new Map<number, number>();
    for (let p = 0; p < order.length; p++) {
      const i = order[p];
      if (!Number.isInteger(i) || i < 0 || i >= n) {
        throw new RangeError(`DataLoader: the sampler gave index ${i}, outside the dataset's [0, ${n})`);
      }
      const r = seen.get(i) ?? 0;
      repeat[p] = r;
      seen.set(i, r + 1);
    }
    const numBatches = this.length;
    const limiter = new Limiter(this.concurrency);
    const state = { cancelled: false };
    const pending: Promise<CollatedBatch>[] = [];
    pending.length = from; // batches before `from` are never prepared
    const launch = (k: number): void => {
      const start = k * this.batchSize, end = Math.min(start + this.batchSize, order.length);
      const p = this.#prepare(order.subarray(start, end), repeat.subarray(start, end), e, k, limiter, state);
      p.catch(() => {}); // a failure is reported when the consumer reaches this batch
      pending.push(p);
    };
    try {
      for (let k = from; k < numBatches; k++) {
        while (pending.length < Math.min(k + 1 + this.prefetch, numBatches)) launch(pending.length);
        const t0 = performance.now();
        const batch = await pending[k];
        const waited = performance.now() - t0;
        const s = this.#stats;
        s.waitMs += waited;
        s.maxWaitMs = Math.max(s.maxWaitMs, waited);
        if (k === 0) s.firstWaitMs = waited;
        s.batches++;
        delete pending[k]; // let the batch be collected once the consumer drops it
        yield batch;
      }
    } finally {
      state.cancelled = true;
    }
  }

  async #prepare(
    indices: Int32Array,
    repeats: Int32Array,
    epoch: number,
    k: number,
    limiter: Limiter,
    state: { cancelled: boolean },
  ): Promise<CollatedBatch> {
    const samples = await Promise.all(
      Array.from(
        indices,
        (index, j) =>
          limiter.run(() =>
            state.cancelled ? Promise.reject(new Cancelled("loader closed")) : this.#load(index, epoch, repeats[j])
          ),
      ),
    );
    return this.#collate(samples, indices, epoch, k);
  }

  async #load(index: number, epoch: number, repeat: number): Promise<Sample> {
    const t0 = performance.now();
    let sample: S;
    try {
      if (this.#cache) {
        let p = this.#cache.get(index);
        if (p) this.#stats.cacheHits++;
        else {
          p = this.dataset.get(index);
          this.#cache.set(index, p);
          p.catch(() => this.#cache!.delete(index)); // a failed load is retried next time
        }
        sample = await p;
      } else {
        sample = await this.dataset.get(index);
      }
    } catch (err) {
      if (err instanceof DatasetError) throw err;
      throw new Error(`DataLoader: loading sample ${index} failed: ${err instanceof Error ? err.message : err}`, {
        cause: err,
      });
    }
    let out: Sample = sample;
    if (this.#transform) {
      const rng = repeat === 0 ? Rng.derive(this.seed, epoch, index) : Rng.derive(this.seed, epoch, index, repeat);
      try {
        out = await this.#transform(this.#cache ? { ...sample, meta: { ...sample.meta } } : sample, rng);
      } catch (err) {
        if (err instanceof DatasetError) throw err;
        throw new Error(
          `DataLoader: the transform failed on sample "${sample.id}" (index ${index}): ${
            err instanceof Error ? err.message : err
          }`,
          { cause: err },
        );
      }
    }
    this.#stats.samples++;
    this.#stats.sampleMs += performance.now() - t0;
    return out;
  }

  #toArray(sample: Sample, index: number): ArrayImage {
    const img = sample?.image as unknown;
    if (isRaster(img)) {
      if (!this.#autoToTensor) {
        const { width: w, height: h, channels: c, data } = img;
        throw new TypeError(
          `DataLoader: sample "${sample.id}" (index ${index}) is a Raster (${h}×${w}×${c}, HWC ${
            data instanceof Uint8Array ? "uint8" : "float32"
          }); end the transform with toTensor() from datasets/transforms (HWC → CHW float32), ` +
            "or pass autoToTensor: true to divide uint8 by 255 and move channels first",
        );
      }
      return rasterToArray(img);
    }
    const arr = img as ArrayImage | undefined;
    if (!arr || !(arr.data instanceof Float32Array) || !Array.isArray(arr.shape)) {
      throw new TypeError(
        `DataLoader: sample "${sample?.id}" (index ${index}) has no image array: expected { data: Float32Array, shape } ` +
          "(an ArrayImage) or a Raster",
      );
    }
    const numel = arr.shape.reduce((a, b) => a * b, 1);
    if (numel !== arr.data.length) {
      throw new RangeError(
        `DataLoader: sample "${sample.id}" (index ${index}): image shape ${
          fmtShape(arr.shape)
        } needs ${numel} values, ` +
          `data has ${arr.data.length}`,
      );
    }
    return arr;
  }

  #collate(samples: Sample[], indices: Int32Array, epoch: number, k: number): CollatedBatch {
    const arrays = samples.map((s, j) => this.#toArray(s, indices[j]));
    const ids = samples.map((s, j) => (typeof s.id === "string" ? s.id : String(indices[j])));
    const shape = arrays[0].shape;
    const key = (a: ArrayImage) => fmtShape(a.shape);
    if (arrays.some((a) => key(a) !== key(arrays[0]))) {
      const groups = new Map<string, string[]>();
      arrays.forEach((a, j) => {
        const g = groups.get(key(a)) ?? [];
        g.push(ids[j]);
        groups.set(key(a), g);
      });
      const parts = [...groups].map(([s, g]) => `${s} (ids ${listIds(g)})`);
      throw new RangeError(
        `DataLoader: batch ${k} of epoch ${epoch} mixes image shapes ${parts.join(" and ")}; ` +
          "make every sample the same size (e.g. resize in the transform)",
      );
    }
    const size = arrays[0].data.length;
    const images = new Float32Array(size * arrays.length);
    arrays.forEach((a, j) => images.set(a.data, j * size));
    const labels = new Int32Array(samples.length);
    samples.forEach((s, j) => {
      if (!Number.isInteger(s.label)) {
        throw new TypeError(`DataLoader: sample "${ids[j]}" has label ${s.label}, expected an integer class index`);
      }
      labels[j] = s.label;
    });
    const out: CollatedBatch = {
      images: { data: images, shape: [arrays.length, ...shape] },
      labels,
      ids,
      indices: indices.slice(),
      epoch,
      index: k,
    };
    const multi = samples.map((s) => s.labels);
    if (multi.some((l) => l !== undefined)) {
      const L = multi.find((l) => l !== undefined)!.length;
      const bad = multi.findIndex((l) => l === undefined || l.length !== L);
      if (bad >= 0) {
        throw new RangeError(
          `DataLoader: batch ${k} of epoch ${epoch}: sample "${ids[bad]}" has ${
            multi[bad] === undefined ? "no multi-label targets" : `${multi[bad]!.length} label values`
          } while "${ids[multi.findIndex((l) => l !== undefined)]}" has ${L}`,
        );
      }
      const data = new Float32Array(samples.length * L);
      multi.forEach((l, j) => data.set(l!, j * L));
      out.labelsMulti = { data, shape: [samples.length, L] };
    }
    return out;
  }
}
