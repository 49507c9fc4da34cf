/**
 * {@linkcode ConcatDataset}: several datasets read as one, in order (e.g. real training images
 * followed by synthetic ones).
 * @module
 */
import type { Dataset, Sample } from "./types.ts";

/** The samples of `parts[0]`, then of `parts[1]`, …; class names from the first part. */
export class ConcatDataset<S extends Sample = Sample> implements Dataset<S> {
  /** The datasets, in order. */
  readonly parts: readonly Dataset<S>[];
  /** Class names of the first part. */
  readonly classes?: readonly string[];
  /** Class indices of every sample; present when every part has `labels()`. */
  readonly labels?: () => Promise<Int32Array>;
  readonly #starts: number[];

  constructor(parts: readonly Dataset<S>[]) {
    if (parts.length === 0) throw new RangeError("ConcatDataset: needs at least one dataset");
    this.parts = [...parts];
    this.#starts = [];
    let at = 0;
    for (const p of parts) {
      this.#starts.push(at);
      at += p.length;
    }
    if (parts[0].classes) this.classes = parts[0].classes;
    if (parts.every((p) => p.labels)) {
      this.labels = async () => {
        const all = await Promise.all(parts.map((p) => p.labels!()));
        const out = new Int32Array(this.length);
        all.forEach((l, i) => out.set(l, this.#starts[i]));
        return out;
      };
    }
  }

  /** Total number of samples. */
  get length(): number {
    const last = this.parts.length - 1;
    return this.#starts[last] + this.parts[last].length;
  }

  /** The sample at `index` of the concatenation. */
  get(index: number): Promise<S> {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`ConcatDataset.get: index must be an integer in [0, ${this.length}), got ${index}`);
    }
    let part = this.parts.length - 1;
    while (this.#starts[part] > index) part--;
    return this.parts[part].get(index - this.#starts[part]);
  }
}
