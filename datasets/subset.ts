/**
 * Views over a dataset: {@linkcode Subset} (some of its indices, e.g. one part of a split) and
 * {@linkcode MappedDataset} (every sample passed through a fixed transform, e.g. decode →
 * resize → toTensor before the loader's random augmentation).
 * @module
 */
import { Rng } from "../util/rng.ts";
import type { Dataset, Sample, Transform } from "./types.ts";

function checkIndex(index: number, length: number, op: string): void {
  if (!Number.isInteger(index) || index < 0 || index >= length) {
    throw new RangeError(`${op}.get: index must be an integer in [0, ${length}), got ${index}`);
  }
}

/** The samples of `dataset` at `indices` (in that order; repeats allowed). */
export class Subset<S extends Sample = Sample> implements Dataset<S> {
  /** The dataset viewed. */
  readonly dataset: Dataset<S>;
  /** Indices into `dataset`. */
  readonly indices: Int32Array;
  /** Class names of the underlying dataset. */
  readonly classes?: readonly string[];
  /** Class indices of the subset's samples; present when the underlying dataset has `labels()`. */
  readonly labels?: () => Promise<Int32Array>;

  /** A view of `dataset` restricted to `indices` (each in `[0, dataset.length)`). */
  constructor(dataset: Dataset<S>, indices: ArrayLike<number>) {
    this.dataset = dataset;
    this.indices = Int32Array.from(indices);
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k];
      if (!Number.isInteger(i) || i < 0 || i >= dataset.length) {
        throw new RangeError(`Subset: indices[${k}] = ${i} is out of range for a dataset of ${dataset.length} samples`);
      }
    }
    if (dataset.classes) this.classes = dataset.classes;
    const base = dataset.labels?.bind(dataset);
    if (base) {
      this.labels = async () => {
        const all = await base();
        return this.indices.map((i) => all[i]);
      };
    }
  }

  /** Number of samples in the subset. */
  get length(): number {
    return this.indices.length;
  }

  /** The sample at position `index` of the subset. */
  get(index: number): Promise<S> {
    checkIndex(index, this.length, "Subset");
    return this.dataset.get(this.indices[index]);
  }
}

/** Options of {@linkcode MappedDataset}. */
export interface MappedDatasetOptions {
  /** Seed of the transform's generator: sample `i` gets `Rng.derive(seed, i)` (default 0). */
  seed?: number;
}

/**
 * `dataset` with `transform` applied to every sample. The transform's generator depends only
 * on `(seed, index)`, so the result is the same on every call: use it for fixed preprocessing,
 * and the loader's `transform` for augmentation that changes every epoch. Labels and classes
 * are those of the underlying dataset (the transform must not change them).
 */
export class MappedDataset<A extends Sample = Sample, B extends Sample = Sample> implements Dataset<B> {
  /** The dataset mapped. */
  readonly dataset: Dataset<A>;
  /** The transform applied by `get`. */
  readonly transform: Transform<A, B>;
  /** Class names of the underlying dataset. */
  readonly classes?: readonly string[];
  /** Class indices from the underlying dataset, without decoding; present when it has `labels()`. */
  readonly labels?: () => Promise<Int32Array> | Int32Array;
  readonly #seed: number;

  /** `dataset` seen through `transform`. */
  constructor(dataset: Dataset<A>, transform: Transform<A, B>, options: MappedDatasetOptions = {}) {
    if (typeof transform !== "function") throw new TypeError("MappedDataset: transform must be a function");
    this.dataset = dataset;
    this.transform = transform;
    this.#seed = options.seed ?? 0;
    if (dataset.classes) this.classes = dataset.classes;
    const base = dataset.labels?.bind(dataset);
    if (base) this.labels = base;
  }

  /** Number of samples. */
  get length(): number {
    return this.dataset.length;
  }

  /** The transformed sample at `index`. */
  async get(index: number): Promise<B> {
    checkIndex(index, this.length, "MappedDataset");
    return await this.transform(await this.dataset.get(index), Rng.derive(this.#seed, index));
  }
}
