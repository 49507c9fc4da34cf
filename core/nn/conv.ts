/**
 * Convolution layers with PyTorch's constructor arguments, parameter shapes and default
 * initialisation: `Conv1d/2d/3d` and `ConvTranspose1d/2d/3d`.
 */
import { fmtShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { zeros } from "../ops/creation.ts";
import {
  conv1d,
  conv2d,
  conv3d,
  type ConvOptions,
  convTranspose1d,
  convTranspose2d,
  convTranspose3d,
  type ConvTransposeOptions,
  type IntOrTuple,
  intTuple,
} from "../ops/conv.ts";
import type { Generator } from "../ops/random.ts";
import { linearLayerInit_ } from "./init.ts";
import { Module, Parameter } from "./module.ts";

/** How a convolution pads its input; only `"zeros"` is implemented. */
export type PaddingMode = "zeros" | "reflect" | "replicate" | "circular";

/** Options of `Conv1d/2d/3d` (PyTorch's keyword arguments, camelCased). */
export interface ConvModuleOptions {
  /** Step of the kernel (default 1). */
  stride?: IntOrTuple;
  /** Implicit padding on both sides, or `"same"` / `"valid"` (default 0). */
  padding?: IntOrTuple | "same" | "valid";
  /** Spacing between kernel taps (default 1). */
  dilation?: IntOrTuple;
  /** Blocked connections from input to output channels (default 1). */
  groups?: number;
  /** Learn an additive bias (default true). */
  bias?: boolean;
  /** Padding values; only `"zeros"` (the default) is supported. */
  paddingMode?: PaddingMode;
  /** Generator for the initial weights (default: the global one). */
  generator?: Generator;
}

/** Options of `ConvTranspose1d/2d/3d` (PyTorch's keyword arguments, camelCased). */
export interface ConvTransposeModuleOptions {
  /** Step of the kernel (default 1). */
  stride?: IntOrTuple;
  /** `dilation·(kernel − 1) − padding` zeros are added to both sides of the input (default 0). */
  padding?: IntOrTuple;
  /** Extra size added to one side of the output (default 0). */
  outputPadding?: IntOrTuple;
  /** Blocked connections from input to output channels (default 1). */
  groups?: number;
  /** Learn an additive bias (default true). */
  bias?: boolean;
  /** Spacing between kernel taps (default 1). */
  dilation?: IntOrTuple;
  /** Padding values; only `"zeros"` (the default) is supported. */
  paddingMode?: PaddingMode;
  /** Generator for the initial weights (default: the global one). */
  generator?: Generator;
}

function positive(op: string, name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${op}: ${name} must be a positive integer, got ${v}`);
  return v;
}

/**
 * Shared state of the convolution layers (PyTorch's `_ConvNd`): hyper-parameters, `weight`
 * and `bias`, and the default initialisation — weight ~ kaiming_uniform(a = √5) and bias ~
 * U(±1/√fan_in), with fan_in taken from the weight's shape.
 */
export abstract class ConvNd extends Module {
  /** Input channels. */
  readonly inChannels: number;
  /** Output channels. */
  readonly outChannels: number;
  /** Kernel size per spatial dim. */
  readonly kernelSize: readonly number[];
  /** Stride per spatial dim. */
  readonly stride: readonly number[];
  /** Padding per spatial dim, or `"same"` / `"valid"`. */
  readonly padding: readonly number[] | "same" | "valid";
  /** Dilation per spatial dim. */
  readonly dilation: readonly number[];
  /** Whether this is a transposed convolution. */
  readonly transposed: boolean;
  /** Output padding per spatial dim (transposed convolutions; zeros otherwise). */
  readonly outputPadding: readonly number[];
  /** Channel groups. */
  readonly groups: number;
  /** Padding values (always `"zeros"`). */
  readonly paddingMode: "zeros";
  /** Weight: (out, in/groups, k…), or (in, out/groups, k…) when transposed. */
  weight: Parameter;
  /** Bias of shape (outChannels), or null. */
  bias: Parameter | null;

  /** Checks the arguments, allocates the parameters and initialises them as PyTorch does. */
  protected constructor(
    op: string,
    dims: number,
    inChannels: number,
    outChannels: number,
    kernelSize: IntOrTuple,
    transposed: boolean,
    opts: ConvModuleOptions | ConvTransposeModuleOptions,
  ) {
    super();
    this.inChannels = positive(op, "inChannels", inChannels);
    this.outChannels = positive(op, "outChannels", outChannels);
    this.groups = positive(op, "groups", opts.groups ?? 1);
    if (inChannels % this.groups !== 0) {
      throw new RangeError(`${op}: inChannels (${inChannels}) must be divisible by groups (${this.groups})`);
    }
    if (outChannels % this.groups !== 0) {
      throw new RangeError(`${op}: outChannels (${outChannels}) must be divisible by groups (${this.groups})`);
    }
    this.kernelSize = intTuple(op, "kernelSize", kernelSize, dims, 1);
    this.stride = intTuple(op, "stride", opts.stride ?? 1, dims, 1);
    this.dilation = intTuple(op, "dilation", opts.dilation ?? 1, dims, 1);
    const p = opts.padding ?? 0;
    if (p === "same" || p === "valid") {
      if (transposed) throw new RangeError(`${op}: padding must be an int or a tuple, got "${p}"`);
      if (p === "same" && this.stride.some((s) => s !== 1)) {
        throw new RangeError(`${op}: padding="same" is not supported for strided convolutions`);
      }
      this.padding = p;
    } else {
      this.padding = intTuple(op, "padding", p, dims, 0);
    }
    this.transposed = transposed;
    const outPad = "outputPadding" in opts ? opts.outputPadding : undefined;
    this.outputPadding = intTuple(op, "outputPadding", outPad ?? 0, dims, 0);
    if (transposed) {
      this.outputPadding.forEach((extra, i) => {
        if (extra >= Math.max(this.stride[i], this.dilation[i])) {
          throw new RangeError(
            `${op}: outputPadding must be smaller than either stride or dilation, got outputPadding ${
              JSON.stringify(outPad)
            }, stride ${JSON.stringify(this.stride)}, dilation ${JSON.stringify(this.dilation)}`,
          );
        }
      });
    }
    const mode = opts.paddingMode ?? "zeros";
    if (mode !== "zeros") {
      throw new RangeError(`${op}: paddingMode ${JSON.stringify(mode)} is not supported; only "zeros" is`);
    }
    this.paddingMode = mode;
    const shape = transposed
      ? [inChannels, outChannels / this.groups, ...this.kernelSize]
      : [outChannels, inChannels / this.groups, ...this.kernelSize];
    this.weight = new Parameter(zeros(shape));
    this.bias = opts.bias === false ? null : new Parameter(zeros([outChannels]));
    this.resetParameters(opts.generator);
  }

  /** Re-draws the weights with PyTorch's default initialisation. */
  resetParameters(generator?: Generator): void {
    linearLayerInit_(this.weight, this.bias, generator);
  }

  /** Forward options of the plain convolutions. */
  protected convOptions(): ConvOptions {
    return { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups };
  }

  /** Forward options of the transposed ones; `outputSize` (spatial, or with N and C) sets the output padding. */
  protected convTransposeOptions(x: Tensor, outputSize?: readonly number[]): ConvTransposeOptions {
    const pad = this.padding as readonly number[];
    let outputPadding: readonly number[] = this.outputPadding;
    if (outputSize) {
      const dims = this.kernelSize.length;
      const op = this.constructor.name;
      if (outputSize.length !== dims && outputSize.length !== dims + 2) {
        throw new RangeError(`${op}: outputSize must have ${dims} or ${dims + 2} entries, got ${fmtShape(outputSize)}`);
      }
      const size = outputSize.slice(outputSize.length - dims);
      const spatial = x.shape.slice(x.ndim - dims);
      outputPadding = size.map((s, i) => {
        const min = (spatial[i] - 1) * this.stride[i] - 2 * pad[i] + this.dilation[i] * (this.kernelSize[i] - 1) + 1;
        const room = Math.max(this.stride[i], this.dilation[i]);
        if (!(s - min >= 0 && s - min < room)) {
          throw new RangeError(
            `${op}: requested an output size of ${fmtShape(size)}, but valid sizes in dim ${i} range from ${min} to ${
              min + room - 1
            } (input ${fmtShape(x.shape)})`,
          );
        }
        return s - min;
      });
    }
    return { stride: this.stride, padding: pad, outputPadding, groups: this.groups, dilation: this.dilation };
  }

  /** The hyper-parameters, as PyTorch prints them. */
  override extraRepr(): string {
    const tup = (v: readonly number[]) => `(${v.join(", ")}${v.length === 1 ? "," : ""})`;
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=${tup(this.kernelSize)}, stride=${tup(this.stride)}`;
    if (typeof this.padding === "string") s += `, padding=${this.padding}`;
    else if (this.padding.some((p) => p !== 0)) s += `, padding=${tup(this.padding)}`;
    if (this.dilation.some((d) => d !== 1)) s += `, dilation=${tup(this.dilation)}`;
    if (this.outputPadding.some((p) => p !== 0)) s += `, output_padding=${tup(this.outputPadding)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (!this.bias) s += ", bias=False";
    return s;
  }
}

/**
 * 1-D convolution over (N, C, L) (or unbatched), as `torch.nn.Conv1d`.
 */
export class Conv1d extends ConvNd {
  /** A `Conv1d` layer initialised as PyTorch does. */
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, opts: ConvModuleOptions = {}) {
    super("Conv1d", 1, inChannels, outChannels, kernelSize, false, opts);
  }

  /** x: (N, C_in, …) or (C_in, …) → (N, C_out, …) or (C_out, …). */
  override forward(x: Tensor): Tensor {
    return conv1d(x, this.weight, this.bias, this.convOptions());
  }
}

/**
 * 2-D convolution over (N, C, H, W) (or unbatched), as `torch.nn.Conv2d`.
 *
 * @example
 * ```ts
 * const conv = new Conv2d(3, 16, 3, { padding: 1 });
 * Object.keys(conv.stateDict()); // ["weight", "bias"]
 * ```
 */
export class Conv2d extends ConvNd {
  /** A `Conv2d` layer initialised as PyTorch does. */
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, opts: ConvModuleOptions = {}) {
    super("Conv2d", 2, inChannels, outChannels, kernelSize, false, opts);
  }

  /** x: (N, C_in, …) or (C_in, …) → (N, C_out, …) or (C_out, …). */
  override forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.convOptions());
  }
}

/**
 * 3-D convolution over (N, C, D, H, W) (or unbatched), as `torch.nn.Conv3d`.
 */
export class Conv3d extends ConvNd {
  /** A `Conv3d` layer initialised as PyTorch does. */
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, opts: ConvModuleOptions = {}) {
    super("Conv3d", 3, inChannels, outChannels, kernelSize, false, opts);
  }

  /** x: (N, C_in, …) or (C_in, …) → (N, C_out, …) or (C_out, …). */
  override forward(x: Tensor): Tensor {
    return conv3d(x, this.weight, this.bias, this.convOptions());
  }
}

/** 1-D transposed convolution, as `torch.nn.ConvTranspose1d`; weight (C_in, C_out/groups, k…). */
export class ConvTranspose1d extends ConvNd {
  /** A `ConvTranspose1d` layer initialised as PyTorch does. */
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: IntOrTuple,
    opts: ConvTransposeModuleOptions = {},
  ) {
    super("ConvTranspose1d", 1, inChannels, outChannels, kernelSize, true, opts);
  }

  /** x: (N, C_in, …) or (C_in, …) → (N, C_out, …); `outputSize` picks among the possible output sizes. */
  override forward(x: Tensor, outputSize?: readonly number[]): Tensor {
    return convTranspose1d(x, this.weight, this.bias, this.convTransposeOptions(x, outputSize));
  }
}

/** 2-D transposed convolution, as `torch.nn.ConvTranspose2d`; weight (C_in, C_out/groups, k…). */
export class ConvTranspose2d extends ConvNd {
  /** A `ConvTranspose2d` layer initialised as PyTorch does. */
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: IntOrTuple,
    opts: ConvTransposeModuleOptions = {},
  ) {
    super("ConvTranspose2d", 2, inChannels, outChannels, kernelSize, true, opts);
  }

  /** x: (N, C_in, …) or (C_in, …) → (N, C_out, …); `outputSize` picks among the possible output sizes. */
  override forward(x: Tensor, outputSize?: readonly number[]): Tensor {
    return convTranspose2d(x, this.weight, this.bias, this.convTransposeOptions(x, outputSize));
  }
}

/** 3-D transposed convolution, as `torch.nn.ConvTranspose3d`; weight (C_in, C_out/groups, k…). */
export class ConvTranspose3d extends ConvNd {
  /** A `ConvTranspose3d` layer initialised as PyTorch does. */
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: IntOrTuple,
    opts: ConvTransposeModuleOptions = {},
  ) {
    super("ConvTranspose3d", 3, inChannels, outChannels, kernelSize, true, opts);
  }

  /** x: (N, C_in, …) or (C_in, …) → (N, C_out, …); `outputSize` picks among the possible output sizes. */
  override forward(x: Tensor, outputSize?: readonly number[]): Tensor {
    return convTranspose3d(x, this.weight, this.bias, this.convTransposeOptions(x, outputSize));
  }
}
