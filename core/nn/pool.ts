/**
 * Pooling and reshaping layers: `MaxPool1d/2d/3d`, `AvgPool1d/2d/3d`,
 * `AdaptiveAvgPool1d/2d/3d`, `Upsample`, `Flatten`, `Unflatten` (PyTorch's arguments, camelCased).
 */
import { fmtShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { interpolate, type InterpolateMode } from "../ops/interpolate.ts";
import {
  adaptiveAvgPool1d,
  adaptiveAvgPool2d,
  adaptiveAvgPool3d,
  avgPool1d,
  avgPool2d,
  avgPool3d,
  maxPool1d,
  maxPool2d,
  maxPool3d,
  type PoolSize,
} from "../ops/pool.ts";
import { flatten, reshape } from "../ops/view.ts";
import { Module } from "./module.ts";

/** Options of `MaxPool1d/2d/3d` (the window size is the constructor's first argument). */
export interface MaxPoolModuleOptions {
  /** Step between windows (default: the kernel size). */
  stride?: PoolSize | null;
  /** Implicit −∞ padding on both sides (default 0). */
  padding?: PoolSize;
  /** Spacing between window taps (default 1). */
  dilation?: PoolSize;
  /** Round the output size up instead of down (default false). */
  ceilMode?: boolean;
}

type MaxOpts = { kernelSize: PoolSize } & MaxPoolModuleOptions;
const MAX_POOL = [maxPool1d, maxPool2d, maxPool3d];

/**
 * Shared body of the max-pooling layers. `forward` returns the pooled values; PyTorch's
 * `return_indices=True` is `forwardWithIndices`, which also returns the argmax indices.
 */
export abstract class MaxPoolNd extends Module {
  /** Window size. */
  readonly kernelSize: PoolSize;
  /** Step between windows (null: the kernel size). */
  readonly stride: PoolSize | null;
  /** Padding. */
  readonly padding: PoolSize;
  /** Dilation. */
  readonly dilation: PoolSize;
  /** Whether the output size is rounded up. */
  readonly ceilMode: boolean;

  readonly #dims: number;

  /** Stores the window settings of a `dims`-D pool (checked by the op on first use). */
  protected constructor(dims: number, kernelSize: PoolSize, opts: MaxPoolModuleOptions = {}) {
    super();
    this.#dims = dims;
    this.kernelSize = kernelSize;
    this.stride = opts.stride ?? null;
    this.padding = opts.padding ?? 0;
    this.dilation = opts.dilation ?? 1;
    this.ceilMode = opts.ceilMode ?? false;
  }

  #opts(): MaxOpts {
    const { kernelSize, stride, padding, dilation, ceilMode } = this;
    return { kernelSize, stride, padding, dilation, ceilMode };
  }

  /** Max over each window. */
  override forward(x: Tensor): Tensor {
    return MAX_POOL[this.#dims - 1](x, this.#opts());
  }

  /** Max over each window and its flat index within the input plane (int32). */
  forwardWithIndices(x: Tensor): [Tensor, Tensor] {
    return MAX_POOL[this.#dims - 1](x, { ...this.#opts(), returnIndices: true });
  }

  /** The hyper-parameters, as PyTorch prints them. */
  override extraRepr(): string {
    const s = (v: PoolSize | null) => (v === null ? "None" : typeof v === "number" ? `${v}` : `(${v.join(", ")})`);
    return `kernel_size=${s(this.kernelSize)}, stride=${s(this.stride ?? this.kernelSize)}, padding=${
      s(this.padding)
    }, dilation=${s(this.dilation)}, ceil_mode=${this.ceilMode ? "True" : "False"}`;
  }
}

/** Max pooling over (N, C, L), as `torch.nn.MaxPool1d`. */
export class MaxPool1d extends MaxPoolNd {
  /** Max pooling with window `kernelSize`. */
  constructor(kernelSize: PoolSize, opts: MaxPoolModuleOptions = {}) {
    super(1, kernelSize, opts);
  }
}

/** Max pooling over (N, C, H, W), as `torch.nn.MaxPool2d`. */
export class MaxPool2d extends MaxPoolNd {
  /** Max pooling with window `kernelSize`. */
  constructor(kernelSize: PoolSize, opts: MaxPoolModuleOptions = {}) {
    super(2, kernelSize, opts);
  }
}

/** Max pooling over (N, C, D, H, W), as `torch.nn.MaxPool3d`. */
export class MaxPool3d extends MaxPoolNd {
  /** Max pooling with window `kernelSize`. */
  constructor(kernelSize: PoolSize, opts: MaxPoolModuleOptions = {}) {
    super(3, kernelSize, opts);
  }
}

/** Options of `AvgPool1d/2d/3d` (the window size is the constructor's first argument). */
export interface AvgPoolModuleOptions {
  /** Step between windows (default: the kernel size). */
  stride?: PoolSize | null;
  /** Implicit zero padding on both sides (default 0). */
  padding?: PoolSize;
  /** Round the output size up instead of down (default false). */
  ceilMode?: boolean;
  /** Count padded zeros in the divisor (default true). */
  countIncludePad?: boolean;
  /** Divide by this instead of the window size (2-D and 3-D, as PyTorch). */
  divisorOverride?: number | null;
}

const AVG_POOL = [avgPool1d, avgPool2d, avgPool3d];
const ADAPTIVE_AVG_POOL = [adaptiveAvgPool1d, adaptiveAvgPool2d, adaptiveAvgPool3d];

/** Shared body of the average-pooling layers. */
export abstract class AvgPoolNd extends Module {
  /** Window size. */
  readonly kernelSize: PoolSize;
  /** Step between windows (null: the kernel size). */
  readonly stride: PoolSize | null;
  /** Padding. */
  readonly padding: PoolSize;
  /** Whether the output size is rounded up. */
  readonly ceilMode: boolean;
  /** Whether padded zeros count in the divisor. */
  readonly countIncludePad: boolean;
  /** Fixed divisor, or null. */
  readonly divisorOverride: number | null;
  readonly #dims: number;

  /** Stores the window settings of a `dims`-D pool (checked by the op on first use). */
  protected constructor(dims: number, kernelSize: PoolSize, opts: AvgPoolModuleOptions = {}) {
    super();
    this.#dims = dims;
    this.kernelSize = kernelSize;
    this.stride = opts.stride ?? null;
    this.padding = opts.padding ?? 0;
    this.ceilMode = opts.ceilMode ?? false;
    this.countIncludePad = opts.countIncludePad ?? true;
    this.divisorOverride = opts.divisorOverride ?? null;
  }

  /** Mean over each window. */
  override forward(x: Tensor): Tensor {
    const { kernelSize, stride, padding, ceilMode, countIncludePad, divisorOverride } = this;
    return AVG_POOL[this.#dims - 1](x, { kernelSize, stride, padding, ceilMode, countIncludePad, divisorOverride });
  }

  /** The hyper-parameters, as PyTorch prints them. */
  override extraRepr(): string {
    const s = (v: PoolSize) => (typeof v === "number" ? `${v}` : `(${v.join(", ")})`);
    return `kernel_size=${s(this.kernelSize)}, stride=${s(this.stride ?? this.kernelSize)}, padding=${s(this.padding)}`;
  }
}

/** Average pooling over (N, C, L), as `torch.nn.AvgPool1d`. */
export class AvgPool1d extends AvgPoolNd {
  /** Average pooling with window `kernelSize`. */
  constructor(kernelSize: PoolSize, opts: AvgPoolModuleOptions = {}) {
    super(1, kernelSize, opts);
  }
}

/** Average pooling over (N, C, H, W), as `torch.nn.AvgPool2d`. */
export class AvgPool2d extends AvgPoolNd {
  /** Average pooling with window `kernelSize`. */
  constructor(kernelSize: PoolSize, opts: AvgPoolModuleOptions = {}) {
    super(2, kernelSize, opts);
  }
}

/** Average pooling over (N, C, D, H, W), as `torch.nn.AvgPool3d`. */
export class AvgPool3d extends AvgPoolNd {
  /** Average pooling with window `kernelSize`. */
  constructor(kernelSize: PoolSize, opts: AvgPoolModuleOptions = {}) {
    super(3, kernelSize, opts);
  }
}

/** Averages over adaptive windows to a fixed `(N, C, 1, 1)`-style output size. */
export abstract class AdaptiveAvgPoolNd extends Module {
  /** Output spatial size (one int for every dim, or one per dim). */
  readonly outputSize: PoolSize;
  readonly #dims: number;
  /** A `dims`-D pool to `outputSize`. */
  protected constructor(dims: number, outputSize: PoolSize) {
    super();
    this.#dims = dims;
    this.outputSize = outputSize;
  }
  /** Pools every plane to `outputSize`. */
  override forward(x: Tensor): Tensor {
    return ADAPTIVE_AVG_POOL[this.#dims - 1](x, this.outputSize);
  }
  /** The hyper-parameters, as PyTorch prints them. */
  override extraRepr(): string {
    const s = this.outputSize;
    return `output_size=${typeof s === "number" ? s : `(${s.join(", ")})`}`;
  }
}

/** Adaptive average pooling over (N, C, L), as `torch.nn.AdaptiveAvgPool1d`. */
export class AdaptiveAvgPool1d extends AdaptiveAvgPoolNd {
  /** Pools to length `outputSize`. */
  constructor(outputSize: PoolSize) {
    super(1, outputSize);
  }
}

/** Adaptive average pooling over (N, C, H, W), as `torch.nn.AdaptiveAvgPool2d`. */
export class AdaptiveAvgPool2d extends AdaptiveAvgPoolNd {
  /** Pools to `outputSize` (an int for a square, or [h, w]). */
  constructor(outputSize: PoolSize) {
    super(2, outputSize);
  }
}

/** Adaptive average pooling over (N, C, D, H, W), as `torch.nn.AdaptiveAvgPool3d`. */
export class AdaptiveAvgPool3d extends AdaptiveAvgPoolNd {
  /** Pools to `outputSize` (an int for a cube, or [d, h, w]). */
  constructor(outputSize: PoolSize) {
    super(3, outputSize);
  }
}

/** Options of `Upsample` (exactly one of `size` and `scaleFactor`). */
export interface UpsampleOptions {
  /** Output spatial size. */
  size?: number | readonly number[];
  /** Multiplier of the spatial size. */
  scaleFactor?: number | readonly number[];
  /** Interpolation (default "nearest"). */
  mode?: InterpolateMode;
  /** Align the corner pixels (linear modes only; default false). */
  alignCorners?: boolean;
}

/** Resamples the spatial dims, as `torch.nn.Upsample` (a module around `interpolate`). */
export class Upsample extends Module {
  /** Output spatial size, or null. */
  readonly size: number | readonly number[] | null;
  /** Scale factor, or null. */
  readonly scaleFactor: number | readonly number[] | null;
  /** Interpolation mode. */
  readonly mode: InterpolateMode;
  /** Whether corners are aligned (null: not given). */
  readonly alignCorners: boolean | null;

  /** An upsampling layer. */
  constructor(opts: UpsampleOptions) {
    super();
    if ((opts.size === undefined) === (opts.scaleFactor === undefined)) {
      throw new RangeError("Upsample: give exactly one of size and scaleFactor");
    }
    this.size = opts.size ?? null;
    this.scaleFactor = opts.scaleFactor ?? null;
    this.mode = opts.mode ?? "nearest";
    this.alignCorners = opts.alignCorners ?? null;
  }

  /** Resamples (N, C, …). */
  override forward(x: Tensor): Tensor {
    return interpolate(x, {
      size: this.size ?? undefined,
      scaleFactor: this.scaleFactor ?? undefined,
      mode: this.mode,
      alignCorners: this.alignCorners ?? undefined,
    });
  }

  /** The hyper-parameters, as PyTorch prints them. */
  override extraRepr(): string {
    const v = (x: number | readonly number[]) => (typeof x === "number" ? `${x}` : `(${x.join(", ")})`);
    return this.scaleFactor !== null
      ? `scale_factor=${v(this.scaleFactor)}, mode='${this.mode}'`
      : `size=${v(this.size!)}, mode='${this.mode}'`;
  }
}

/** Flattens dims `startDim..endDim` (default 1..−1), as `torch.nn.Flatten`. */
export class Flatten extends Module {
  /** First flattened dim. */
  readonly startDim: number;
  /** Last flattened dim. */
  readonly endDim: number;
  /** Flattens `startDim..endDim`. */
  constructor(startDim = 1, endDim = -1) {
    super();
    this.startDim = startDim;
    this.endDim = endDim;
  }
  /** (N, C, H, W) → (N, C·H·W) with the defaults. */
  override forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
  /** The hyper-parameters, as PyTorch prints them. */
  override extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`;
  }
}

/** Splits dim `dim` into `unflattenedSize` (one entry may be −1), as `torch.nn.Unflatten`. */
export class Unflatten extends Module {
  /** The dim that is split. */
  readonly dim: number;
  /** The sizes it becomes. */
  readonly unflattenedSize: readonly number[];
  /** Splits `dim` into `unflattenedSize`. */
  constructor(dim: number, unflattenedSize: readonly number[]) {
    super();
    if (!Number.isInteger(dim)) throw new RangeError(`Unflatten: dim must be an integer, got ${dim}`);
    if (!Array.isArray(unflattenedSize) || unflattenedSize.length === 0) {
      throw new RangeError(
        `Unflatten: unflattenedSize must be a non-empty list, got ${JSON.stringify(unflattenedSize)}`,
      );
    }
    this.dim = dim;
    this.unflattenedSize = [...unflattenedSize];
  }
  /** Replaces dim `dim` of `x` by `unflattenedSize`. */
  override forward(x: Tensor): Tensor {
    const d = this.dim < 0 ? this.dim + x.ndim : this.dim;
    if (d < 0 || d >= x.ndim) {
      throw new RangeError(`Unflatten: dim ${this.dim} is out of range for input ${fmtShape(x.shape)}`);
    }
    return reshape(x, [...x.shape.slice(0, d), ...this.unflattenedSize, ...x.shape.slice(d + 1)]);
  }
  /** The hyper-parameters, as PyTorch prints them. */
  override extraRepr(): string {
    return `dim=${this.dim}, unflattened_size=(${this.unflattenedSize.join(", ")})`;
  }
}
