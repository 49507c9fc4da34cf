/**
 * Seeded random tensors from a counter-based generator (Philox-4x32-10 on the GPU): a
 * seed and a counter offset fully determine every value, on any adapter.
 */
import { checkShape } from "../shape.ts";
import { PHILOX_WGSL } from "../kernels/philox.ts";
import type { DType } from "../dtype.ts";
import type { Tensor } from "../tensor.ts";
import { runMap } from "./map.ts";
import type { CreateOptions } from "./creation.ts";

/** Serializable generator state: a 64-bit seed and a 64-bit counter (as two safe numbers). */
export interface RngState {
  /** Seed (integer, 0 ≤ seed < 2^53). */
  seed: number;
  /** Number of Philox blocks already consumed. */
  offset: number;
}

/** A random number generator; each op consumes a fresh range of counters. */
export class Generator {
  #seed = 0;
  #offset = 0;

  constructor(seed = 0) {
    this.manualSeed(seed);
  }

  /** Resets to `seed` (counter 0). */
  manualSeed(seed: number): this {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new RangeError(`manualSeed: seed must be a non-negative safe integer, got ${seed}`);
    }
    this.#seed = seed;
    this.#offset = 0;
    return this;
  }

  /** The current seed. */
  initialSeed(): number {
    return this.#seed;
  }

  /** Current state, for checkpoints. */
  getState(): RngState {
    return { seed: this.#seed, offset: this.#offset };
  }

  /** Restores a state from `getState()`. */
  setState(s: RngState): this {
    this.manualSeed(s.seed);
    if (!Number.isSafeInteger(s.offset) || s.offset < 0) throw new RangeError(`setState: bad offset ${s.offset}`);
    this.#offset = s.offset;
    return this;
  }

  /** Reserves `blocks` counters; returns the first. */
  take(blocks: number): number {
    const first = this.#offset;
    this.#offset += blocks;
    return first;
  }

  /** Key words for the kernel. */
  key(): [number, number] {
    return [this.#seed % 2 ** 32, Math.floor(this.#seed / 2 ** 32)];
  }
}

/** The process-wide default generator. */
export const defaultGenerator: Generator = new Generator(0);

/** Seeds the default generator: every later random op is reproducible. */
export function manualSeed(seed: number): void {
  defaultGenerator.manualSeed(seed);
}

/** Options of random creation functions. */
export interface RandomOptions extends CreateOptions {
  /** Generator to draw from (default: the global one). */
  generator?: Generator;
  /**
   * Draw this tensor as rows `[start, start + shape[0])` of one with `total` rows: the values
   * are those rows of the full draw, and the generator moves on as after the full draw — so a
   * batch split over processes gets exactly the noise one process would draw for all of it.
   */
  rows?: { start: number; total: number };
}

function randomMap(
  op: string,
  shape: readonly number[],
  perBlock: number,
  body: string,
  dtype: DType,
  opts: RandomOptions,
  extra: { name: string; value: number; type: "f32" | "i32" | "u32" }[] = [],
): Tensor {
  const s = checkShape(shape, op);
  const gen = opts.generator ?? defaultGenerator;
  const n = s.reduce((a, b) => a * b, 1);
  let full = n, shift = 0;
  if (opts.rows) {
    const { start, total } = opts.rows;
    if (!Number.isInteger(start) || !Number.isInteger(total) || start < 0 || s.length === 0 || start + s[0] > total) {
      throw new RangeError(`${op}: rows [${start}, ${start}+${s[0]}) do not lie within ${total} rows`);
    }
    const row = s[0] === 0 ? 0 : n / s[0];
    full = total * row;
    shift = start * row;
  }
  if (full >= 2 ** 32) throw new RangeError(`${op}: at most 2^32 − 1 values per draw, asked for ${full}`);
  const first = gen.take(Math.ceil(full / perBlock));
  const [k0, k1] = gen.key();
  const out = runMap({
    op,
    expr: op === "randint"
      ? `lo + i32(mulhilo_(randbits_(gi + sh, vec2<u32>(k0, k1), o0, o1), span).x)`
      : `${op}_(gi + sh, vec2<u32>(k0, k1), o0, o1)`,
    inputs: [],
    names: [],
    params: [
      { name: "k0", value: k0, type: "u32" },
      { name: "k1", value: k1, type: "u32" },
      { name: "o0", value: first % 2 ** 32, type: "u32" },
      { name: "o1", value: Math.floor(first / 2 ** 32), type: "u32" },
      { name: "sh", value: shift, type: "u32" },
      ...extra,
    ],
    out: dtype,
    shape: s,
    preamble: PHILOX_WGSL + body,
  });
  if (opts.requiresGrad) {
    if (dtype !== "float32") throw new TypeError(`${op}: only float32 tensors can require gradients`);
    out.requiresGrad = true;
  }
  return out;
}

const CTR = `
fn ctr_(blk: u32, o0: u32, o1: u32) -> vec4<u32> {
  let lo = o0 + blk;
  return vec4<u32>(lo, o1 + select(0u, 1u, lo < o0), 0u, 0u);
}`;

/** Uniform samples in [0, 1). */
export function rand(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  const body = `${CTR}
fn rand_(i: u32, key: vec2<u32>, o0: u32, o1: u32) -> f32 {
  return u01_(philox(ctr_(i >> 2u, o0, o1), key)[i & 3u]);
}`;
  return randomMap("rand", shape, 4, body, "float32", opts);
}

/** Standard normal samples (Box–Muller). */
export function randn(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  const body = `${CTR}
fn randn_(i: u32, key: vec2<u32>, o0: u32, o1: u32) -> f32 {
  let r = philox(ctr_(i >> 1u, o0, o1), key);
  let pair = select(r.xy, r.zw, (i & 1u) == 1u);
  let radius = sqrt(-2.0 * log(u01c_(pair.x)));
  return radius * cos(6.283185307179586 * u01_(pair.y));
}`;
  return randomMap("randn", shape, 2, body, "float32", opts);
}

/** Integers uniform in [low, high), int32. */
export function randint(low: number, high: number, shape: readonly number[], opts: RandomOptions = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new RangeError(`randint: need integers low < high, got low=${low} high=${high}`);
  }
  const body = `${CTR}
// the high word of u·span maps u onto [0, span)
fn randbits_(i: u32, key: vec2<u32>, o0: u32, o1: u32) -> u32 {
  return philox(ctr_(i >> 2u, o0, o1), key)[i & 3u];
}`;
  return randomMap("randint", shape, 4, body, opts.dtype ?? "int32", opts, [
    { name: "lo", value: low, type: "i32" },
    { name: "span", value: high - low, type: "u32" },
  ]);
}

/** Uniform [0, 1) samples shaped like `x`. */
export function randLike(x: Tensor, opts: RandomOptions = {}): Tensor {
  return rand(x.shape, opts);
}

/** Normal samples shaped like `x`. */
export function randnLike(x: Tensor, opts: RandomOptions = {}): Tensor {
  return randn(x.shape, opts);
}
