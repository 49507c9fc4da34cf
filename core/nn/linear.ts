/**
 * Simple layers with PyTorch's defaults: `Linear`, `Embedding`, `Identity`, `Dropout` and the
 * activation modules (`ReLU`, `GELU`, `SiLU`, `Tanh`, `Sigmoid`, `LeakyReLU`, `Softplus`,
 * `Softmax`).
 */
import { isGradEnabled } from "../autograd.ts";
import { fmtShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { zeros } from "../ops/creation.ts";
import { dropout, stochasticDepth } from "../ops/dropout.ts";
import { add, gelu, identity, leakyRelu, ne, relu, sigmoid, silu, softplus, tanh, where } from "../ops/elementwise.ts";
import { indexSelect } from "../ops/join.ts";
import { matmul } from "../ops/matmul.ts";
import type { Generator } from "../ops/random.ts";
import { softmax } from "../ops/softmax.ts";
import { reshape, t, unsqueeze } from "../ops/view.ts";
import { constant_, linearLayerInit_, normal_ } from "./init.ts";
import { Module, Parameter } from "./module.ts";

function checkSize(op: string, name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`${op}: ${name} must be a non-negative integer, got ${v}`);
  return v;
}

/** Options of `Linear`. */
export interface LinearOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
  /** Generator for the initial weights (default: the global one). */
  generator?: Generator;
}

/**
 * y = x·Wᵀ + b over the last dim. Weight (outFeatures, inFeatures) ~ kaiming_uniform(a = √5),
 * i.e. U(−1/√in, 1/√in); bias ~ U(−1/√in, 1/√in), as PyTorch initialises them.
 */
export class Linear extends Module {
  /** Input size. */
  readonly inFeatures: number;
  /** Output size. */
  readonly outFeatures: number;
  /** Weight, shape (outFeatures, inFeatures). */
  weight: Parameter;
  /** Bias, shape (outFeatures), or null. */
  bias: Parameter | null;

  /** A layer mapping `inFeatures` to `outFeatures`, initialised as PyTorch does. */
  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super();
    this.inFeatures = checkSize("Linear", "inFeatures", inFeatures);
    this.outFeatures = checkSize("Linear", "outFeatures", outFeatures);
    this.weight = new Parameter(zeros([outFeatures, inFeatures]));
    this.bias = opts.bias === false ? null : new Parameter(zeros([outFeatures]));
    this.resetParameters(opts.generator);
  }

  /** Re-draws the weights with PyTorch's default initialisation. */
  resetParameters(generator?: Generator): void {
    linearLayerInit_(this.weight, this.bias, generator);
  }

  /** x: (…, inFeatures) → (…, outFeatures). */
  override forward(x: Tensor): Tensor {
    if (x.shape[x.ndim - 1] !== this.inFeatures) {
      throw new RangeError(
        `Linear: expected input with last dim ${this.inFeatures}, got shape ${fmtShape(x.shape)}`,
      );
    }
    const y = matmul(x, t(this.weight));
    return this.bias ? add(y, this.bias) : y;
  }

  /** The hyper-parameters, as PyTorch prints them. */
  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

/** Options of `Embedding`. */
export interface EmbeddingOptions {
  /** Index whose row starts at zero and receives no gradient (negative counts from the end). */
  paddingIdx?: number;
  /** Generator for the initial weights. */
  generator?: Generator;
}

/** A lookup table: int32 indices (any shape) → rows of `weight` ~ N(0, 1), shape (…, embeddingDim). */
export class Embedding extends Module {
  /** Number of rows. */
  readonly numEmbeddings: number;
  /** Row size. */
  readonly embeddingDim: number;
  /** The padding row (normalised to be non-negative), or null. */
  readonly paddingIdx: number | null;
  /** Weight, shape (numEmbeddings, embeddingDim). */
  weight: Parameter;

  /** A table of `numEmbeddings` rows of size `embeddingDim`, drawn from N(0, 1). */
  constructor(numEmbeddings: number, embeddingDim: number, opts: EmbeddingOptions = {}) {
    super();
    this.numEmbeddings = checkSize("Embedding", "numEmbeddings", numEmbeddings);
    this.embeddingDim = checkSize("Embedding", "embeddingDim", embeddingDim);
    let pad = opts.paddingIdx ?? null;
    if (pad !== null) {
      if (!Number.isInteger(pad) || pad >= numEmbeddings || pad < -numEmbeddings) {
        throw new RangeError(`Embedding: paddingIdx ${pad} must be an integer within numEmbeddings (${numEmbeddings})`);
      }
      if (pad < 0) pad += numEmbeddings;
    }
    this.paddingIdx = pad;
    this.weight = new Parameter(zeros([numEmbeddings, embeddingDim]));
    this.resetParameters(opts.generator);
  }

  /** Re-draws the weights from N(0, 1) and zeroes the padding row. */
  resetParameters(generator?: Generator): void {
    normal_(this.weight, 0, 1, { generator });
    if (this.paddingIdx !== null) {
      const row = this.weight.narrow(0, this.paddingIdx, 1);
      constant_(row, 0);
      row.dispose();
    }
  }

  /** indices: int32 of any shape → float32 (…indices.shape, embeddingDim). */
  override forward(indices: Tensor): Tensor {
    if (!(indices instanceof Tensor) || indices.dtype !== "int32") {
      throw new TypeError(
        `Embedding: indices must be an int32 tensor, got ${indices instanceof Tensor ? indices.dtype : typeof indices}`,
      );
    }
    const flat = reshape(indices, [-1]);
    let rows = indexSelect(this.weight, 0, flat);
    if (this.paddingIdx !== null && this.weight.requiresGrad && isGradEnabled()) {
      // Same values, but the padding positions read a detached copy, so its row gets no gradient.
      const frozen = indexSelect(this.weight.detach(), 0, flat);
      rows = where(unsqueeze(ne(flat, this.paddingIdx), 1), rows, frozen);
    }
    return reshape(rows, [...indices.shape, this.embeddingDim]);
  }

  /** The hyper-parameters, as PyTorch prints them. */
  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${
      this.paddingIdx !== null ? `, padding_idx=${this.paddingIdx}` : ""
    }`;
  }
}

/** Returns its input (as a new handle). */
export class Identity extends Module {
  /** x → x. */
  override forward(x: Tensor): Tensor {
    return identity(x);
  }
}

/** Options of `Dropout`. */
export interface DropoutModuleOptions {
  /** Generator for the masks (default: the global one). */
  generator?: Generator;
}

/** In training mode zeroes each element with probability `p` and scales the rest by 1/(1 − p); identity in eval mode. */
export class Dropout extends Module {
  /** Drop probability. */
  readonly p: number;
  #generator?: Generator;

  /** Dropout with drop probability `p`. */
  constructor(p = 0.5, opts: DropoutModuleOptions = {}) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1], got ${p}`);
    this.p = p;
    this.#generator = opts.generator;
  }

  /** Applies the mask in training mode. */
  override forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training, { generator: this.#generator });
  }

  /** The hyper-parameters, as PyTorch prints them. */
  override extraRepr(): string {
    return `p=${this.p}`;
  }
}

/** Stochastic depth on a residual branch (torchvision's `StochasticDepth`): drops it per sample with probability `p` in training. */
export class StochasticDepth extends Module {
  /** Drop probability. */
  readonly p: number;
  /** `"row"` (per sample) or `"batch"`. */
  readonly mode: "row" | "batch";
  #generator?: Generator;

  /** Drop path with probability `p`. */
  constructor(p: number, mode: "row" | "batch" = "row", opts: DropoutModuleOptions = {}) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`StochasticDepth: p must be in [0, 1], got ${p}`);
    this.p = p;
    this.mode = mode;
    this.#generator = opts.generator;
  }

  /** Applies the per-sample mask in training mode. */
  override forward(x: Tensor): Tensor {
    return stochasticDepth(x, this.p, this.training, { mode: this.mode, generator: this.#generator });
  }

  /** The hyper-parameters, as PyTorch prints them. */
  override extraRepr(): string {
    return `p=${this.p}, mode=${this.mode}`;
  }
}

/** max(x, 0). */
export class ReLU extends Module {
  /** Applies the activation. */
  override forward(x: Tensor): Tensor {
    return relu(x);
  }

  /** A norm before it applies it in its own kernels (see `chain`). */
  override get fusibleActivation(): string {
    return "relu";
  }
}

/** Gaussian error linear unit (`approximate`: `"none"` = exact erf form, or `"tanh"`). */
export class GELU extends Module {
  /** Which formula. */
  readonly approximate: "none" | "tanh";
  /** GELU, exact (default) or with the tanh approximation. */
  constructor(opts: { approximate?: "none" | "tanh" } = {}) {
    super();
    this.approximate = opts.approximate ?? "none";
  }
  /** Applies the activation. */
  override forward(x: Tensor): Tensor {
    return gelu(x, this.approximate);
  }
  /** The hyper-parameters, as PyTorch prints them. */
  override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}

/** x·σ(x) (swish). */
export class SiLU extends Module {
  /** Applies the activation. */
  override forward(x: Tensor): Tensor {
    return silu(x);
  }

  /** A norm before it applies it in its own kernels (see `chain`). */
  override get fusibleActivation(): string {
    return "silu";
  }
}

/** tanh x. */
export class Tanh extends Module {
  /** Applies the activation. */
  override forward(x: Tensor): Tensor {
    return tanh(x);
  }
}

/** 1/(1 + e⁻ˣ). */
export class Sigmoid extends Module {
  /** Applies the activation. */
  override forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

/** x for x > 0, negativeSlope·x otherwise (default slope 0.01). */
export class LeakyReLU extends Module {
  /** Slope for negative inputs. */
  readonly negativeSlope: number;
  /** Leaky ReLU with slope `negativeSlope` below zero. */
  constructor(negativeSlope = 0.01) {
    super();
    this.negativeSlope = negativeSlope;
  }
  /** Applies the activation. */
  override forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope);
  }
  /** The hyper-parameters, as PyTorch prints them. */
  override extraRepr(): string {
    return `negative_slope=${this.negativeSlope}`;
  }
}

/** log(1 + e^(βx))/β, linear where βx > threshold. */
export class Softplus extends Module {
  /** β. */
  readonly beta: number;
  /** Linear above this βx. */
  readonly threshold: number;
  /** Softplus with β (default 1) and threshold (default 20). */
  constructor(opts: { beta?: number; threshold?: number } = {}) {
    super();
    this.beta = opts.beta ?? 1;
    this.threshold = opts.threshold ?? 20;
  }
  /** Applies the activation. */
  override forward(x: Tensor): Tensor {
    return softplus(x, this.beta, this.threshold);
  }
  /** The hyper-parameters, as PyTorch prints them. */
  override extraRepr(): string {
    return `beta=${this.beta}, threshold=${this.threshold}`;
  }
}

/** Softmax along `dim` (default −1; PyTorch's implicit-dim guess is not reproduced). */
export class Softmax extends Module {
  /** The normalised dim. */
  readonly dim: number;
  /** Softmax over `dim`. */
  constructor(dim = -1) {
    super();
    if (!Number.isInteger(dim)) throw new RangeError(`Softmax: dim must be an integer, got ${dim}`);
    this.dim = dim;
  }
  /** Applies the activation. */
  override forward(x: Tensor): Tensor {
    return softmax(x, this.dim);
  }
  /** The hyper-parameters, as PyTorch prints them. */
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}
