/**
 * Normalisation layers with PyTorch's arguments, state-dict names and train/eval behaviour:
 * `BatchNorm1d/2d/3d`, `GroupNorm`, `LayerNorm`, `InstanceNorm1d/2d/3d`.
 */
import { fmtShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { ones, zeros } from "../ops/creation.ts";
import { runMap } from "../ops/map.ts";
import { addScalarInPlace } from "../ops/elementwise.ts";
import { batchNorm, groupNorm, instanceNorm, layerNorm, type NormActivation } from "../ops/norm.ts";
import { NORM_ACTIVATIONS } from "../kernels/norm.ts";
import { ones_, zeros_ } from "./init.ts";
import { Module, Parameter } from "./module.ts";

/** A fused activation other than "none". */
const isNormActivation = (a: string) => a !== "none" && (NORM_ACTIVATIONS as readonly string[]).includes(a);

function positive(op: string, name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${op}: ${name} must be a positive integer, got ${v}`);
  return v;
}

/**
 * Writes `expr` over `inputs` (named a, b, c) into a new tensor, then copies it into `dst`
 * (called from `forward`, whose scope frees the temporary).
 */
function updateInPlace(op: string, dst: Tensor, expr: string, inputs: Tensor[]): void {
  // A dispatch cannot read and write one buffer, so the result goes through a temporary.
  const tmp = runMap({
    op,
    expr,
    inputs,
    names: ["a", "b", "c"].slice(0, inputs.length),
    load: inputs.map(() => "f32" as const),
    out: dst.dtype,
    compute: "f32",
    shape: dst.shape,
  });
  runMap({ op: `${op}.copy`, expr: "x", inputs: [tmp], names: ["x"], out: dst.dtype, into: dst });
}

/** Options of `BatchNorm1d/2d/3d` (PyTorch's keyword arguments, camelCased). */
export interface BatchNormModuleOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Weight of each new batch in the running statistics (default 0.1); null = cumulative average. */
  momentum?: number | null;
  /** Learn a per-channel scale `weight` and shift `bias` (default true). */
  affine?: boolean;
  /** Keep running statistics for eval mode (default true); without them eval uses batch statistics. */
  trackRunningStats?: boolean;
}

/**
 * Shared body of the batch-norm layers (PyTorch's `_BatchNorm`). State-dict keys are
 * PyTorch's: `weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked` (int32
 * here; PyTorch's int64 loads into it). In training it normalises with batch statistics,
 * updates the running ones and counts batches; in eval it uses the running statistics.
 */
export abstract class BatchNormBase extends Module {
  /** Channels (C of the (N, C, …) input). */
  readonly numFeatures: number;
  /** Added to the variance. */
  readonly eps: number;
  /** Weight of each new batch in the running statistics; null = cumulative average. */
  momentum: number | null;
  /** Whether `weight`/`bias` exist. */
  readonly affine: boolean;
  /** Whether running statistics are kept. */
  readonly trackRunningStats: boolean;
  /** Per-channel scale (ones at start), or null. */
  weight: Parameter | null;
  /** Per-channel shift (zeros at start), or null. */
  bias: Parameter | null;

  /** Allocates the parameters and buffers; `op` names the layer in errors. */
  protected constructor(op: string, numFeatures: number, opts: BatchNormModuleOptions = {}) {
    super();
    this.numFeatures = positive(op, "numFeatures", numFeatures);
    this.eps = opts.eps ?? 1e-5;
    if (!(this.eps >= 0)) throw new RangeError(`${op}: eps must be ≥ 0, got ${opts.eps}`);
    const momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    if (momentum !== null && !(momentum >= 0 && momentum <= 1)) {
      throw new RangeError(`${op}: momentum must be in [0, 1] or null, got ${momentum}`);
    }
    this.momentum = momentum;
    this.affine = opts.affine ?? true;
    this.trackRunningStats = opts.trackRunningStats ?? true;
    this.weight = this.affine ? new Parameter(ones([numFeatures])) : null;
    this.bias = this.affine ? new Parameter(zeros([numFeatures])) : null;
    if (this.trackRunningStats) {
      this.registerBuffer("running_mean", zeros([numFeatures]));
      this.registerBuffer("running_var", ones([numFeatures]));
      this.registerBuffer("num_batches_tracked", zeros([], { dtype: "int32" }));
    }
  }

  #buffer(name: string): Tensor | null {
    return ((this as unknown as Record<string, Tensor | null | undefined>)[name]) ?? null;
  }

  /** Running mean (state-dict key `running_mean`), or null without `trackRunningStats`. */
  get runningMean(): Tensor | null {
    return this.#buffer("running_mean");
  }

  /** Running (unbiased) variance (state-dict key `running_var`), or null without `trackRunningStats`. */
  get runningVar(): Tensor | null {
    return this.#buffer("running_var");
  }

  /** Number of training batches seen, an int32 scalar (key `num_batches_tracked`), or null. */
  get numBatchesTracked(): Tensor | null {
    return this.#buffer("num_batches_tracked");
  }

  /** Resets the running statistics to mean 0, variance 1 and the batch count to 0. */
  resetRunningStats(): void {
    const [m, v, n] = [this.runningMean, this.runningVar, this.numBatchesTracked];
    if (m) zeros_(m);
    if (v) ones_(v);
    if (n) runMap({ op: "BatchNorm.resetCount", expr: "0", inputs: [], names: [], out: "int32", into: n });
  }

  /** Resets the running statistics and the affine parameters (weight 1, bias 0). */
  resetParameters(): void {
    this.resetRunningStats();
    if (this.weight) ones_(this.weight);
    if (this.bias) zeros_(this.bias);
  }

  /** Throws unless `x` has a rank this layer accepts. */
  protected abstract checkInput(x: Tensor): void;

  /**
   * Normalises (N, C, …) with batch statistics in training (or without running ones), else running
   * ones, then applies `activation` (default "none") in the same kernels (`call(x, "relu")` =
   * `relu(bn.call(x))`, fused).
   */
  override forward(x: Tensor, activation: NormActivation = "none"): Tensor {
    this.checkInput(x);
    if (x.shape[1] !== this.numFeatures) {
      throw new RangeError(
        `${this.constructor.name}: expected ${this.numFeatures} channels (dim 1), got input ${fmtShape(x.shape)}`,
      );
    }
    const rm = this.runningMean, rv = this.runningVar, count = this.numBatchesTracked;
    const useBatch = this.training || rm === null;
    if (!this.training || !this.trackRunningStats || rm === null || rv === null) {
      // Eval with running statistics, or batch statistics without updating anything.
      return batchNorm(x, useBatch ? null : rm, useBatch ? null : rv, this.weight, this.bias, {
        training: useBatch,
        eps: this.eps,
        activation,
      });
    }
    if (count) addScalarInPlace(count, 1);
    if (this.momentum !== null) {
      const opts = { training: true, momentum: this.momentum, eps: this.eps, activation };
      return batchNorm(x, rm, rv, this.weight, this.bias, opts);
    }
    if (!count) throw new Error(`${this.constructor.name}: momentum null needs the num_batches_tracked buffer`);
    // Cumulative average: the batch statistics land in scratch buffers (momentum 1), then
    // running += (batch − running) / num_batches_tracked.
    const bm = zeros([this.numFeatures]), bv = zeros([this.numFeatures]);
    const y = batchNorm(x, bm, bv, this.weight, this.bias, { training: true, momentum: 1, eps: this.eps, activation });
    updateInPlace("BatchNorm.cumulativeMean", rm, "a + (b - a) / c", [rm, bm, count]);
    updateInPlace("BatchNorm.cumulativeVar", rv, "a + (b - a) / c", [rv, bv, count]);
    return y;
  }

  /** ReLU and SiLU run inside the norm's kernels (`forward(x, activation)`). */
  override acceptsActivation(activation: string): boolean {
    return isNormActivation(activation);
  }

  /** The hyper-parameters, as PyTorch prints them. */
  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum ?? "None"}, affine=${
      this.affine ? "True" : "False"
    }, track_running_stats=${this.trackRunningStats ? "True" : "False"}`;
  }
}

function checkRank(op: string, x: Tensor, ranks: number[], what: string): void {
  if (!ranks.includes(x.ndim)) throw new RangeError(`${op}: expected ${what} input, got shape ${fmtShape(x.shape)}`);
}

/** Batch normalisation over (N, C) or (N, C, L), as `torch.nn.BatchNorm1d`. */
export class BatchNorm1d extends BatchNormBase {
  /** Batch norm over `numFeatures` channels. */
  constructor(numFeatures: number, opts: BatchNormModuleOptions = {}) {
    super("BatchNorm1d", numFeatures, opts);
  }
  /** Accepts 2-D or 3-D input. */
  protected checkInput(x: Tensor): void {
    checkRank("BatchNorm1d", x, [2, 3], "a 2-D (N, C) or 3-D (N, C, L)");
  }
}

/**
 * Batch normalisation over (N, C, H, W), as `torch.nn.BatchNorm2d`.
 *
 * @example
 * ```ts
 * const bn = new BatchNorm2d(16);
 * Object.keys(bn.stateDict()); // ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
 * ```
 */
export class BatchNorm2d extends BatchNormBase {
  /** Batch norm over `numFeatures` channels. */
  constructor(numFeatures: number, opts: BatchNormModuleOptions = {}) {
    super("BatchNorm2d", numFeatures, opts);
  }
  /** Accepts 4-D input. */
  protected checkInput(x: Tensor): void {
    checkRank("BatchNorm2d", x, [4], "a 4-D (N, C, H, W)");
  }
}

/** Batch normalisation over (N, C, D, H, W), as `torch.nn.BatchNorm3d`. */
export class BatchNorm3d extends BatchNormBase {
  /** Batch norm over `numFeatures` channels. */
  constructor(numFeatures: number, opts: BatchNormModuleOptions = {}) {
    super("BatchNorm3d", numFeatures, opts);
  }
  /** Accepts 5-D input. */
  protected checkInput(x: Tensor): void {
    checkRank("BatchNorm3d", x, [5], "a 5-D (N, C, D, H, W)");
  }
}

/** Options of `GroupNorm`. */
export interface GroupNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learn per-channel `weight` (ones) and `bias` (zeros) (default true). */
  affine?: boolean;
}

/**
 * Group normalisation of (N, C, …) over groups of C / numGroups channels, as `torch.nn.GroupNorm`.
 * `call(x, "silu")` gives `silu(GroupNorm(x))` from the norm's own kernels (one forward
 * dispatch instead of two; see `groupNorm`'s `activation`).
 *
 * @example
 * ```ts
 * const norm = new GroupNorm(8, 64);
 * const h = norm.call(x, "silu"); // = silu(norm.call(x)), fused
 * ```
 */
export class GroupNorm extends Module {
  /** Number of channel groups. */
  readonly numGroups: number;
  /** Channels. */
  readonly numChannels: number;
  /** Added to the variance. */
  readonly eps: number;
  /** Whether `weight`/`bias` exist. */
  readonly affine: boolean;
  /** Per-channel scale, or null. */
  weight: Parameter | null;
  /** Per-channel shift, or null. */
  bias: Parameter | null;

  /** Group norm of `numChannels` channels in `numGroups` groups. */
  constructor(numGroups: number, numChannels: number, opts: GroupNormOptions = {}) {
    super();
    this.numGroups = positive("GroupNorm", "numGroups", numGroups);
    this.numChannels = positive("GroupNorm", "numChannels", numChannels);
    if (numChannels % numGroups !== 0) {
      throw new RangeError(`GroupNorm: numChannels (${numChannels}) must be divisible by numGroups (${numGroups})`);
    }
    this.eps = opts.eps ?? 1e-5;
    this.affine = opts.affine ?? true;
    this.weight = this.affine ? new Parameter(ones([numChannels])) : null;
    this.bias = this.affine ? new Parameter(zeros([numChannels])) : null;
  }

  /** Normalises (N, C, …), then applies `activation` (default "none") in the same kernel. */
  override forward(x: Tensor, activation: NormActivation = "none"): Tensor {
    return groupNorm(x, this.numGroups, this.weight, this.bias, { eps: this.eps, activation });
  }

  /** ReLU and SiLU run inside the norm's kernels (`forward(x, activation)`). */
  override acceptsActivation(activation: string): boolean {
    return isNormActivation(activation);
  }

  /** The hyper-parameters, as PyTorch prints them. */
  override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${this.eps}, affine=${this.affine ? "True" : "False"}`;
  }
}

/** Options of `LayerNorm`. */
export interface LayerNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learn elementwise `weight` (ones) and `bias` (zeros) (default true). */
  elementwiseAffine?: boolean;
  /** With `elementwiseAffine`, whether `bias` exists (default true). */
  bias?: boolean;
}

/** Layer normalisation over the trailing dims `normalizedShape`, as `torch.nn.LayerNorm`. */
export class LayerNorm extends Module {
  /** The normalised trailing shape. */
  readonly normalizedShape: readonly number[];
  /** Added to the variance. */
  readonly eps: number;
  /** Whether `weight` (and `bias`) exist. */
  readonly elementwiseAffine: boolean;
  /** Elementwise scale of shape `normalizedShape`, or null. */
  weight: Parameter | null;
  /** Elementwise shift of shape `normalizedShape`, or null. */
  bias: Parameter | null;

  /** Layer norm over the trailing `normalizedShape` (an int for one dim). */
  constructor(normalizedShape: number | readonly number[], opts: LayerNormOptions = {}) {
    super();
    const shape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
    shape.forEach((d) => positive("LayerNorm", "normalizedShape entries", d));
    this.normalizedShape = shape;
    this.eps = opts.eps ?? 1e-5;
    this.elementwiseAffine = opts.elementwiseAffine ?? true;
    this.weight = this.elementwiseAffine ? new Parameter(ones(shape)) : null;
    this.bias = this.elementwiseAffine && opts.bias !== false ? new Parameter(zeros(shape)) : null;
  }

  /** Normalises over the trailing dims. */
  override forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, { eps: this.eps });
  }

  /** The hyper-parameters, as PyTorch prints them. */
  override extraRepr(): string {
    return `(${this.normalizedShape.join(", ")}${this.normalizedShape.length === 1 ? "," : ""}), eps=${this.eps}, ` +
      `elementwise_affine=${this.elementwiseAffine ? "True" : "False"}`;
  }
}

/** Options of `InstanceNorm1d/2d/3d`. */
export interface InstanceNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learn per-channel `weight` (ones) and `bias` (zeros) (default false, as PyTorch). */
  affine?: boolean;
  /** Running statistics are not implemented: only false (the default) is accepted. */
  trackRunningStats?: boolean;
}

/** Shared body of the instance-norm layers: each (sample, channel) plane on its own statistics. */
export abstract class InstanceNormBase extends Module {
  /** Channels. */
  readonly numFeatures: number;
  /** Added to the variance. */
  readonly eps: number;
  /** Whether `weight`/`bias` exist. */
  readonly affine: boolean;
  /** Per-channel scale, or null. */
  weight: Parameter | null;
  /** Per-channel shift, or null. */
  bias: Parameter | null;
  readonly #dims: number;

  /** Checks the options and allocates the affine parameters. */
  protected constructor(op: string, dims: number, numFeatures: number, opts: InstanceNormOptions = {}) {
    super();
    this.numFeatures = positive(op, "numFeatures", numFeatures);
    if (opts.trackRunningStats) {
      throw new RangeError(
        `${op}: trackRunningStats=true is not supported (instance norm always uses its own statistics)`,
      );
    }
    this.eps = opts.eps ?? 1e-5;
    this.affine = opts.affine ?? false;
    this.#dims = dims;
    this.weight = this.affine ? new Parameter(ones([numFeatures])) : null;
    this.bias = this.affine ? new Parameter(zeros([numFeatures])) : null;
  }

  /** Normalises (N, C, …) or unbatched (C, …) per plane. */
  override forward(x: Tensor): Tensor {
    const op = this.constructor.name, d = this.#dims;
    if (x.ndim !== d + 1 && x.ndim !== d + 2) {
      throw new RangeError(`${op}: expected a ${d + 1}-D (unbatched) or ${d + 2}-D input, got ${fmtShape(x.shape)}`);
    }
    if (x.ndim === d + 1) return this.forward(x.unsqueeze(0)).squeeze(0);
    if (x.shape[1] !== this.numFeatures && this.affine) {
      throw new RangeError(`${op}: expected ${this.numFeatures} channels (dim 1), got input ${fmtShape(x.shape)}`);
    }
    return instanceNorm(x, this.weight, this.bias, { eps: this.eps });
  }

  /** The hyper-parameters, as PyTorch prints them. */
  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=0.1, affine=${
      this.affine ? "True" : "False"
    }, track_running_stats=False`;
  }
}

/** Instance normalisation over (N, C, L), as `torch.nn.InstanceNorm1d`. */
export class InstanceNorm1d extends InstanceNormBase {
  /** Instance norm of `numFeatures` channels. */
  constructor(numFeatures: number, opts: InstanceNormOptions = {}) {
    super("InstanceNorm1d", 1, numFeatures, opts);
  }
}

/** Instance normalisation over (N, C, H, W), as `torch.nn.InstanceNorm2d`. */
export class InstanceNorm2d extends InstanceNormBase {
  /** Instance norm of `numFeatures` channels. */
  constructor(numFeatures: number, opts: InstanceNormOptions = {}) {
    super("InstanceNorm2d", 2, numFeatures, opts);
  }
}

/** Instance normalisation over (N, C, D, H, W), as `torch.nn.InstanceNorm3d`. */
export class InstanceNorm3d extends InstanceNormBase {
  /** Instance norm of `numFeatures` channels. */
  constructor(numFeatures: number, opts: InstanceNormOptions = {}) {
    super("InstanceNorm3d", 3, numFeatures, opts);
  }
}
