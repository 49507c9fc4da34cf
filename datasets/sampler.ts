/**
 * Samplers decide which dataset indices an epoch visits, and in what order. Every sampler is
 * deterministic in `(seed, epoch)`: `setEpoch(e)` then `indices()` gives the same order on
 * every run, whatever happened before.
 *
 * - {@linkcode SequentialSampler}: `0..n-1`.
 * - {@linkcode RandomSampler}: a new permutation per epoch (`Rng.derive(seed, epoch)`).
 * - {@linkcode WeightedRandomSampler}: draws indices with probability ∝ weight; with
 *   {@linkcode classBalancedWeights} every class is drawn equally often.
 * - {@linkcode ShardedSampler}: one rank's share of another sampler's epoch, for data-parallel
 *   training (PyTorch's `DistributedSampler`).
 * @module
 */
import { Rng } from "../util/rng.ts";

/** Yields the dataset indices of one epoch. */
export interface Sampler {
  /** Number of indices per epoch. */
  readonly length: number;
  /** Selects the epoch whose order {@linkcode Sampler.indices} returns. */
  setEpoch(epoch: number): void;
  /** The indices of the current epoch, in visiting order. */
  indices(): Int32Array;
}

function checkCount(n: unknown, op: string, what: string): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0) {
    throw new RangeError(`${op}: ${what} must be a non-negative integer, got ${n}`);
  }
  return n;
}

function checkEpoch(e: unknown, op: string): number {
  if (typeof e !== "number" || !Number.isInteger(e) || e < 0) {
    throw new RangeError(`${op}.setEpoch: epoch must be a non-negative integer, got ${e}`);
  }
  return e;
}

/** Visits `0..n-1` in order, every epoch. */
export class SequentialSampler implements Sampler {
  /** Number of indices per epoch. */
  readonly length: number;

  /** A sampler over `n` samples. */
  constructor(n: number) {
    this.length = checkCount(n, "SequentialSampler", "n");
  }

  /** No effect (the order never changes); validates `epoch`. */
  setEpoch(epoch: number): void {
    checkEpoch(epoch, "SequentialSampler");
  }

  /** `0..n-1`. */
  indices(): Int32Array {
    const out = new Int32Array(this.length);
    for (let i = 0; i < out.length; i++) out[i] = i;
    return out;
  }
}

/** Options of {@linkcode RandomSampler}. */
export interface RandomSamplerOptions {
  /** Seed; the order of epoch `e` comes from `Rng.derive(seed, e)` (default 0). */
  seed?: number;
  /** Draw `numSamples` indices independently with replacement instead of permuting (default false). */
  replacement?: boolean;
  /** Indices per epoch (default `n`); without replacement, at most `n` (a prefix of the permutation). */
  numSamples?: number;
}

/** A seeded random order of `0..n-1`, different every epoch. */
export class RandomSampler implements Sampler {
  /** Number of indices per epoch. */
  readonly length: number;
  readonly #n: number;
  readonly #seed: number;
  readonly #replacement: boolean;
  #epoch = 0;

  /** A sampler over `n` samples. */
  constructor(n: number, options: RandomSamplerOptions = {}) {
    this.#n = checkCount(n, "RandomSampler", "n");
    this.#seed = options.seed ?? 0;
    if (!Number.isInteger(this.#seed)) {
      throw new TypeError(`RandomSampler: seed must be an integer, got ${options.seed}`);
    }
    this.#replacement = options.replacement ?? false;
    this.length = checkCount(options.numSamples ?? n, "RandomSampler", "numSamples");
    if (!this.#replacement && this.length > n) {
      throw new RangeError(
        `RandomSampler: numSamples (${this.length}) cannot exceed n (${n}) without replacement`,
      );
    }
    if (this.#replacement && this.length > 0 && n === 0) {
      throw new RangeError("RandomSampler: cannot draw samples from an empty dataset");
    }
  }

  /** Selects the epoch whose permutation {@linkcode RandomSampler.indices} returns. */
  setEpoch(epoch: number): void {
    this.#epoch = checkEpoch(epoch, "RandomSampler");
  }

  /** The current epoch. */
  get epoch(): number {
    return this.#epoch;
  }

  /** This epoch's order. */
  indices(): Int32Array {
    const rng = Rng.derive(this.#seed, this.#epoch);
    if (this.#replacement) {
      const out = new Int32Array(this.length);
      for (let i = 0; i < out.length; i++) out[i] = rng.int(this.#n);
      return out;
    }
    const perm = rng.permutation(this.#n);
    return this.length === this.#n ? perm : perm.slice(0, this.length);
  }
}

/** Options of {@linkcode WeightedRandomSampler}. */
export interface WeightedRandomSamplerOptions {
  /** Draw with replacement (default true); without, each index appears at most once per epoch. */
  replacement?: boolean;
  /** Seed; epoch `e` draws from `Rng.derive(seed, e)` (default 0). */
  seed?: number;
}

/**
 * Draws `numSamples` indices per epoch, index `i` with probability `weights[i] / Σ weights`
 * (with replacement: independent draws by binary search in the cumulative weights; without:
 * weighted sampling without replacement by Efraimidis–Spirakis keys `u^(1/w)`).
 */
export class WeightedRandomSampler implements Sampler {
  /** Number of indices per epoch. */
  readonly length: number;
  readonly #weights: Float64Array;
  readonly #cumulative: Float64Array;
  readonly #replacement: boolean;
  readonly #seed: number;
  #epoch = 0;

  /** A sampler over `weights.length` samples (weights finite and ≥ 0, not all 0). */
  constructor(weights: ArrayLike<number>, numSamples: number, options: WeightedRandomSamplerOptions = {}) {
    const op = "WeightedRandomSampler";
    this.length = checkCount(numSamples, op, "numSamples");
    this.#weights = Float64Array.from(weights);
    this.#cumulative = new Float64Array(this.#weights.length);
    let total = 0, positive = 0;
    for (let i = 0; i < this.#weights.length; i++) {
      const w = this.#weights[i];
      if (!(w >= 0 && Number.isFinite(w))) {
        throw new RangeError(`${op}: weights[${i}] must be finite and ≥ 0, got ${w}`);
      }
      if (w > 0) positive++;
      total += w;
      this.#cumulative[i] = total;
    }
    if (numSamples > 0 && !(total > 0)) throw new RangeError(`${op}: weights must contain a positive value`);
    this.#replacement = options.replacement ?? true;
    if (!this.#replacement && numSamples > positive) {
      throw new RangeError(
        `${op}: numSamples (${numSamples}) exceeds the ${positive} indices with positive weight (replacement: false)`,
      );
    }
    this.#seed = options.seed ?? 0;
    if (!Number.isInteger(this.#seed)) throw new TypeError(`${op}: seed must be an integer, got ${options.seed}`);
  }

  /** Selects the epoch whose draws {@linkcode WeightedRandomSampler.indices} returns. */
  setEpoch(epoch: number): void {
    this.#epoch = checkEpoch(epoch, "WeightedRandomSampler");
  }

  /** This epoch's draws. */
  indices(): Int32Array {
    const rng = Rng.derive(this.#seed, this.#epoch);
    const out = new Int32Array(this.length);
    const cum = this.#cumulative;
    if (this.#replacement) {
      const total = cum[cum.length - 1];
      for (let k = 0; k < out.length; k++) {
        const u = rng.random() * total;
        // First index whose cumulative weight exceeds u (zero-weight indices are never chosen).
        let lo = 0, hi = cum.length - 1;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (cum[mid] > u) hi = mid;
          else lo = mid + 1;
        }
        out[k] = lo;
      }
      return out;
    }
    const keys: { i: number; key: number }[] = [];
    for (let i = 0; i < this.#weights.length; i++) {
      const w = this.#weights[i];
      const u = rng.random();
      if (w > 0) keys.push({ i, key: Math.log(1 - u) / w }); // log(u^(1/w)), u ∈ (0, 1]
    }
    keys.sort((a, b) => b.key - a.key || a.i - b.i);
    for (let k = 0; k < out.length; k++) out[k] = keys[k].i;
    return out;
  }
}

/**
 * Per-sample weights `1 / count(class of sample)` (inverse class frequency), so that a
 * {@linkcode WeightedRandomSampler} draws every class equally often. Labels must be integers ≥ 0.
 */
export function classBalancedWeights(labels: ArrayLike<number>): Float64Array {
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!Number.isInteger(l) || l < 0) {
      throw new RangeError(`classBalancedWeights: labels[${i}] must be an integer ≥ 0, got ${l}`);
    }
    counts.set(l, (counts.get(l) ?? 0) + 1);
  }
  const out = new Float64Array(labels.length);
  for (let i = 0; i < out.length; i++) out[i] = 1 / counts.get(labels[i])!;
  return out;
}

/** Which of `worldSize` data-parallel processes this is. */
export interface Shard {
  /** This process's rank (0-based). */
  rank: number;
  /** Number of processes. */
  worldSize: number;
}

/**
 * Rank `rank`'s share of an epoch's `order`, as PyTorch's `DistributedSampler` takes it: the
 * order is padded by repeating its first indices until it divides by `worldSize` (or, with
 * `dropLast`, cut to the largest multiple), and rank r takes positions r, r + worldSize, ….
 * Every index is visited once per epoch over all ranks (plus the few padding repeats), and
 * batch k of every rank together is batch k of one process with `worldSize` times the batch.
 */
export function shardIndices(order: Int32Array, shard: Shard, dropLast = false): Int32Array {
  const { rank, worldSize } = checkShard(shard, "shardIndices");
  const per = dropLast ? Math.floor(order.length / worldSize) : Math.ceil(order.length / worldSize);
  if (per > 0 && order.length === 0) throw new RangeError("shardIndices: cannot pad an empty order");
  const out = new Int32Array(per);
  for (let k = 0; k < per; k++) out[k] = order[(k * worldSize + rank) % order.length];
  return out;
}

function checkShard(shard: Shard, op: string): Shard {
  const { rank, worldSize } = shard;
  if (!Number.isInteger(worldSize) || worldSize < 1 || !Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
    throw new RangeError(`${op}: rank must be an integer in [0, worldSize), got rank ${rank} of ${worldSize}`);
  }
  return shard;
}

/** One rank's share ({@linkcode shardIndices}) of `inner`'s epochs. */
export class ShardedSampler implements Sampler {
  /** Number of indices per epoch on this rank. */
  readonly length: number;
  /** The sampler whose epochs are shared out. */
  readonly inner: Sampler;
  /** Which share this is. */
  readonly shard: Shard;
  /** Whether the last partial round is cut instead of padded. */
  readonly dropLast: boolean;

  /** Shares `inner`'s epochs out over `shard.worldSize` ranks. */
  constructor(inner: Sampler, shard: Shard, dropLast = false) {
    this.inner = inner;
    this.shard = checkShard(shard, "ShardedSampler");
    this.dropLast = dropLast;
    const n = inner.length, w = shard.worldSize;
    this.length = dropLast ? Math.floor(n / w) : Math.ceil(n / w);
  }

  /** Selects the inner sampler's epoch (the same on every rank: one shared seed). */
  setEpoch(epoch: number): void {
    this.inner.setEpoch(epoch);
  }

  /** This rank's share of the epoch's order. */
  indices(): Int32Array {
    return shardIndices(this.inner.indices(), this.shard, this.dropLast);
  }
}
