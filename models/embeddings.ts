/**
 * Timestep embeddings shared by the diffusion models: the sinusoidal embedding of
 * `diffusers.models.embeddings.get_timestep_embedding` (`timestepEmbedding`), its parameter-free
 * module `Timesteps`, and the `TimestepEmbedding` MLP (`linear_1` → SiLU → `linear_2`), with
 * diffusers' parameter names; and the argument handling the denoisers share (`batchTimesteps`,
 * `batchClassLabels`).
 */
import { cat, pad } from "../core/ops/join.ts";
import { full, tensor } from "../core/ops/creation.ts";
import { cast, cos, mul, sin } from "../core/ops/elementwise.ts";
import type { Generator } from "../core/ops/random.ts";
import { expand, reshape } from "../core/ops/view.ts";
import { scope } from "../core/scope.ts";
import { fmtShape } from "../core/shape.ts";
import { Tensor } from "../core/tensor.ts";
import { chain } from "../core/nn/containers.ts";
import { Linear, SiLU } from "../core/nn/linear.ts";
import { Module } from "../core/nn/module.ts";

/** Options of `timestepEmbedding` and `Timesteps` (diffusers' keyword arguments, camelCased). */
export interface TimestepEmbeddingOptions {
  /** Put the cosines first: [cos, sin] (default true, diffusers' `UNet2DModel` and DiT). */
  flipSinToCos?: boolean;
  /** Frequencies are max_period^(−i / (half − shift)) (default 0, `UNet2DModel`'s `freq_shift`). */
  downscaleFreqShift?: number;
  /** Multiplies the arguments (default 1). */
  scale?: number;
  /** The slowest period (default 10000). */
  maxPeriod?: number;
}

/**
 * The frequencies of the sinusoidal embedding, freq_i = maxPeriod^(−i / (half − shift)) for
 * i < half = ⌊dim/2⌋, computed in float64 and rounded once to float32.
 */
export function timestepFrequencies(dim: number, opts: TimestepEmbeddingOptions = {}): Float32Array {
  const half = Math.floor(dim / 2);
  const shift = opts.downscaleFreqShift ?? 0, maxPeriod = opts.maxPeriod ?? 10000;
  if (half - shift === 0) throw new RangeError(`timestepEmbedding: dim ${dim} with shift ${shift} divides by zero`);
  return Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(maxPeriod) * i) / (half - shift)));
}

/**
 * Sinusoidal embedding of timesteps t (shape (B), int32 or float32) → (B, dim):
 * args = scale·t·freq (float32), emb = [sin(args), cos(args)], or [cos, sin] with
 * `flipSinToCos`; an odd `dim` gets a trailing zero column. With the defaults this is
 * diffusers' `Timesteps(dim, flip_sin_to_cos=True, downscale_freq_shift=0)` (UNet2DModel's
 * defaults) and DiT's `TimestepEmbedder.timestep_embedding`.
 *
 * @example
 * ```ts
 * const emb = timestepEmbedding(tensor(new Int32Array([0, 500, 999])), 64); // (3, 64)
 * ```
 */
export function timestepEmbedding(t: Tensor, dim: number, opts: TimestepEmbeddingOptions = {}): Tensor {
  const op = "timestepEmbedding";
  if (!(t instanceof Tensor)) throw new TypeError(`${op}: timesteps must be a Tensor, got ${typeof t}`);
  if (t.ndim !== 1) throw new RangeError(`${op}: timesteps must be 1-D (B), got shape ${fmtShape(t.shape)}`);
  if (t.dtype === "bool") throw new TypeError(`${op}: timesteps must be int32 or float32, got bool`);
  if (!Number.isInteger(dim) || dim < 2) throw new RangeError(`${op}: dim must be an integer ≥ 2, got ${dim}`);
  const freqs = timestepFrequencies(dim, opts);
  const scale = opts.scale ?? 1;
  const half = freqs.length;
  // A scope of its own: a plain function, also called outside any module's `call`.
  return scope(() => {
    const tf = t.dtype === "float32" ? t : cast(t, "float32");
    const f = tensor(scale === 1 ? freqs : freqs.map((v) => v * scale), [1, half]);
    const args = mul(reshape(tf, [-1, 1]), f);
    const s = sin(args), c = cos(args);
    const emb = cat(opts.flipSinToCos ?? true ? [c, s] : [s, c], 1);
    return dim % 2 === 0 ? emb : pad(emb, [0, 1]);
  });
}

/** The parameter-free sinusoidal projection of timesteps (diffusers' `Timesteps`). */
export class Timesteps extends Module {
  /** Embedding size. */
  readonly numChannels: number;
  /** The embedding's options. */
  readonly options: Readonly<TimestepEmbeddingOptions>;

  /** A projection to `numChannels` features. */
  constructor(numChannels: number, opts: TimestepEmbeddingOptions = {}) {
    super();
    if (!Number.isInteger(numChannels) || numChannels < 2) {
      throw new RangeError(`Timesteps: numChannels must be an integer ≥ 2, got ${numChannels}`);
    }
    timestepFrequencies(numChannels, opts); // validates the shift
    this.numChannels = numChannels;
    this.options = { ...opts };
  }

  /** t (B) → (B, numChannels). */
  override forward(t: Tensor): Tensor {
    return timestepEmbedding(t, this.numChannels, this.options);
  }

  /** The hyper-parameters, as diffusers prints them. */
  override extraRepr(): string {
    const o = this.options;
    return `${this.numChannels}, flip_sin_to_cos=${o.flipSinToCos ?? true}, downscale_freq_shift=${
      o.downscaleFreqShift ?? 0
    }`;
  }
}

/** Linear → SiLU → Linear on the sinusoidal embedding (diffusers' `TimestepEmbedding`). */
export class TimestepEmbedding extends Module {
  /** inChannels → timeEmbedDim. */
  linear_1: Linear;
  /** SiLU. */
  act: SiLU = new SiLU();
  /** timeEmbedDim → timeEmbedDim. */
  linear_2: Linear;

  /** An MLP from `inChannels` to `timeEmbedDim` features (PyTorch's default Linear initialisation). */
  constructor(inChannels: number, timeEmbedDim: number, generator?: Generator) {
    super();
    this.linear_1 = new Linear(inChannels, timeEmbedDim, { generator });
    this.linear_2 = new Linear(timeEmbedDim, timeEmbedDim, { generator });
  }

  /** (B, inChannels) → (B, timeEmbedDim). */
  override forward(x: Tensor): Tensor {
    return chain(x, this.linear_1, this.act, this.linear_2);
  }
}

/**
 * The timesteps of a denoiser's `forward(x, t, …)` as a float32 (B) tensor: one number for the
 * whole batch, a one-element tensor (broadcast), or a (B) int32 or float32 tensor. Errors start
 * with `owner` (the model's name). The result is a new handle the caller owns.
 */
export function batchTimesteps(owner: string, t: Tensor | number, batch: number): Tensor {
  if (typeof t === "number") {
    if (!Number.isFinite(t)) throw new RangeError(`${owner}: the timestep must be finite, got ${t}`);
    return full([batch], t);
  }
  if (!(t instanceof Tensor)) throw new TypeError(`${owner}: t must be a Tensor or a number, got ${typeof t}`);
  if (t.dtype === "bool") throw new TypeError(`${owner}: t must be int32 or float32, got bool`);
  if (t.size === 1 && batch !== 1) return cast(expand(reshape(t, [1]), [batch]), "float32");
  if (t.ndim !== 1 || t.shape[0] !== batch) {
    throw new RangeError(`${owner}: t must have shape (${batch}) (or one element), got ${fmtShape(t.shape)}`);
  }
  return t.dtype === "float32" ? t.alias() : cast(t, "float32");
}

/**
 * The class labels of a denoiser's `forward(x, t, classLabels?)` as an int32 (B) tensor: the
 * given labels (checked for dtype and shape, not for range: values are in [0, nullClass]), or,
 * when omitted or null, every label `nullClass` (classifier-free guidance's unconditional row).
 * Errors start with `owner`. The result is a new handle the caller owns.
 */
export function batchClassLabels(
  owner: string,
  classLabels: Tensor | null | undefined,
  batch: number,
  nullClass: number,
): Tensor {
  if (classLabels === undefined || classLabels === null) return full([batch], nullClass, { dtype: "int32" });
  if (!(classLabels instanceof Tensor) || classLabels.dtype !== "int32") {
    throw new TypeError(
      `${owner}: classLabels must be an int32 tensor, got ${
        classLabels instanceof Tensor ? classLabels.dtype : typeof classLabels
      }`,
    );
  }
  if (classLabels.ndim !== 1 || classLabels.shape[0] !== batch) {
    throw new RangeError(`${owner}: classLabels must have shape (${batch}), got ${fmtShape(classLabels.shape)}`);
  }
  return classLabels.alias();
}
