/**
 * A small seeded CPU random generator for data work (shuffling, sampling, augmentation):
 * xoshiro128** seeded through SplitMix32. `Rng.derive(seed, ...keys)` gives an independent
 * stream per (seed, epoch, index), so a sample's augmentation does not depend on which worker
 * or in which order it was decoded.
 * @module
 */

function splitMix32(state: { s: number }): number {
  let z = (state.s = (state.s + 0x9e3779b9) | 0);
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Seeded xoshiro128** generator. */
export class Rng {
  #s: Uint32Array;

  /** A generator from a 32-bit integer seed (any number; it is truncated to 32 bits). */
  constructor(seed: number) {
    const st = { s: seed | 0 };
    this.#s = new Uint32Array([splitMix32(st), splitMix32(st), splitMix32(st), splitMix32(st)]);
    if (this.#s.every((v) => v === 0)) this.#s[0] = 1;
  }

  /** An independent generator for the key path `(seed, ...keys)`, e.g. `(seed, epoch, index)`. */
  static derive(seed: number, ...keys: number[]): Rng {
    let h = seed | 0;
    for (const k of keys) {
      const st = { s: (h ^ Math.imul(k | 0, 0x27d4eb2d)) | 0 };
      h = splitMix32(st) ^ rotl(h, 7);
    }
    return new Rng(h);
  }

  /** Next raw 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 random bits. */
  random(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform float in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.random();
  }

  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!(n >= 1) || !Number.isInteger(n) || n > 4294967296) {
      throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    const limit = 4294967296 - (4294967296 % n);
    let x = this.nextU32();
    while (x >= limit) x = this.nextU32();
    return x % n;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.random());
  }

  /** `true` with probability `p`. */
  bernoulli(p: number): boolean {
    return this.random() < p;
  }

  /** A random permutation of `0..n-1` (Fisher–Yates). */
  permutation(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    this.shuffle(out);
    return out;
  }

  /** Shuffles an array in place (Fisher–Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** The generator's state, to save in a checkpoint. */
  state(): number[] {
    return [...this.#s];
  }

  /** Restores a state from {@linkcode Rng.state}. */
  setState(state: readonly number[]): void {
    if (state.length !== 4) throw new RangeError(`Rng.setState: expected 4 words, got ${state.length}`);
    this.#s.set(state);
  }
}
