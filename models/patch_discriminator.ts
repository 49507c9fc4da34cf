/**
 * The PatchGAN discriminator of MONAI's `PatchDiscriminator` (Pix2PixHD's), 2-D or 3-D, as MAISI
 * trains its VAE against it: a strided first convolution with LeakyReLU(0.2), `numLayersD`
 * convolutions (stride 2, the last stride 1) each followed by a norm and LeakyReLU, doubling the
 * channels, and a final convolution to `outChannels` logits per patch. Parameter names follow
 * MONAI's (`initial_conv.conv.weight`, `0.conv.weight`, `0.adn.N.running_mean`, `final_conv.conv.bias`)
 * so converted weights load through safetensors; initialisation is MONAI's `normal_init`
 * (convolutions N(0, 0.02), norm weights N(1, 0.02), biases 0).
 * @module
 */
import { Module } from "../core/nn/module.ts";
import { Conv2d, Conv3d } from "../core/nn/conv.ts";
import { BatchNorm2d, BatchNorm3d, InstanceNorm2d, InstanceNorm3d } from "../core/nn/norm.ts";
import { LeakyReLU } from "../core/nn/linear.ts";
import { normal_, zeros_ } from "../core/nn/init.ts";
import type { Tensor } from "../core/tensor.ts";
import { OptionError, positiveIntOption } from "../util/errors.ts";

/** Options of {@linkcode PatchDiscriminator} (MONAI's arguments, camelCased). */
export interface PatchDiscriminatorOptions {
  /** 2 or 3. */
  spatialDims: 2 | 3;
  /** Channels of the first convolution (doubled by every later one). */
  channels: number;
  /** Image channels. */
  inChannels: number;
  /** Logits per patch (default 1). */
  outChannels?: number;
  /** Convolutions between the first and the last (default 3). */
  numLayersD?: number;
  /** Kernel side (default 4). */
  kernelSize?: number;
  /** Norm after each middle convolution: "batch" (MONAI's default) or "instance" (MAISI's; no parameters). */
  norm?: "batch" | "instance";
  /** Kernel side of the final convolution (default `kernelSize`). */
  lastConvKernelSize?: number;
}

/**
 * The side of the patch-logit map for an input of side `size` (MONAI's layout: padding
 * ⌊(k − 1)/2⌋, stride 2 but in the last middle layer); below 1 the input is too small.
 */
export function patchDiscriminatorOutputSide(
  size: number,
  numLayersD = 3,
  kernelSize = 4,
  lastConvKernelSize = kernelSize,
): number {
  const conv = (s: number, k: number, stride: number) => Math.floor((s + 2 * Math.floor((k - 1) / 2) - k) / stride) + 1;
  let s = conv(size, kernelSize, 2);
  for (let l = 0; l < numLayersD; l++) s = conv(s, kernelSize, l === numLayersD - 1 ? 1 : 2);
  return conv(s, lastConvKernelSize, 1);
}

/** MONAI's `ADN` block with norm "N" (optional) then activation "A" (dropout 0 has no state). */
class NormAct extends Module {
  N: Module | null;
  A: LeakyReLU;

  constructor(norm: Module | null) {
    super();
    this.N = norm;
    this.A = new LeakyReLU(0.2);
  }

  override forward(x: Tensor): Tensor {
    const n = this.N ? this.N.call(x) as Tensor : x;
    return this.A.call(n) as Tensor;
  }
}

/** MONAI's `Convolution` block: `conv`, then `adn` unless it is a bare convolution. */
class ConvBlock extends Module {
  conv: Conv2d | Conv3d;
  adn: NormAct | null;

  constructor(conv: Conv2d | Conv3d, adn: NormAct | null) {
    super();
    this.conv = conv;
    this.adn = adn;
  }

  override forward(x: Tensor): Tensor {
    const y = this.conv.call(x) as Tensor;
    return this.adn ? this.adn.call(y) as Tensor : y;
  }
}

/** MONAI's `PatchDiscriminator` (see the module doc): `forward(x)` gives the patch logits. */
export class PatchDiscriminator extends Module {
  /** The resolved options. */
  readonly config: Required<PatchDiscriminatorOptions>;
  readonly #order: ConvBlock[];

  /** A discriminator with MONAI's layout and initialisation. */
  constructor(opts: PatchDiscriminatorOptions) {
    super();
    const op = "PatchDiscriminator";
    if (opts.spatialDims !== 2 && opts.spatialDims !== 3) {
      throw new OptionError(op, "spatialDims", `spatialDims must be 2 or 3, got ${JSON.stringify(opts.spatialDims)}`);
    }
    const kernelSize = positiveIntOption(op, "kernelSize", opts.kernelSize ?? 4);
    this.config = {
      spatialDims: opts.spatialDims,
      channels: positiveIntOption(op, "channels", opts.channels),
      inChannels: positiveIntOption(op, "inChannels", opts.inChannels),
      outChannels: positiveIntOption(op, "outChannels", opts.outChannels ?? 1),
      numLayersD: positiveIntOption(op, "numLayersD", opts.numLayersD ?? 3),
      kernelSize,
      norm: opts.norm ?? "batch",
      lastConvKernelSize: positiveIntOption(op, "lastConvKernelSize", opts.lastConvKernelSize ?? kernelSize),
    };
    const c = this.config;
    if (c.norm !== "batch" && c.norm !== "instance") {
      throw new OptionError(op, "norm", `norm must be "batch" or "instance", got ${JSON.stringify(c.norm)}`);
    }
    const Conv = c.spatialDims === 3 ? Conv3d : Conv2d;
    const Norm = c.norm === "batch"
      ? (c.spatialDims === 3 ? BatchNorm3d : BatchNorm2d)
      : (c.spatialDims === 3 ? InstanceNorm3d : InstanceNorm2d);
    const pad = Math.floor((c.kernelSize - 1) / 2);
    const order: ConvBlock[] = [];
    order.push(this.registerModule(
      "initial_conv",
      new ConvBlock(new Conv(c.inChannels, c.channels, c.kernelSize, { stride: 2, padding: pad }), new NormAct(null)),
    ));
    let width = c.channels;
    for (let l = 0; l < c.numLayersD; l++) {
      const conv = new Conv(width, width * 2, c.kernelSize, {
        stride: l === c.numLayersD - 1 ? 1 : 2,
        padding: pad,
        bias: false,
      });
      order.push(this.registerModule(String(l), new ConvBlock(conv, new NormAct(new Norm(width * 2)))));
      width *= 2;
    }
    const last = c.lastConvKernelSize;
    order.push(this.registerModule(
      "final_conv",
      new ConvBlock(new Conv(width, c.outChannels, last, { padding: Math.floor((last - 1) / 2) }), null),
    ));
    this.#order = order;
    // MONAI's normal_init: convolutions N(0, 0.02), batch-norm weights N(1, 0.02), biases 0.
    for (const [name, p] of this.namedParameters()) {
      if (name.endsWith(".bias")) zeros_(p);
      else if (name.includes(".adn.N.")) normal_(p, 1, 0.02);
      else normal_(p, 0, 0.02);
    }
  }

  /** The patch logits of `x` ([B, outChannels, …], one per receptive-field patch). */
  override forward(x: Tensor): Tensor {
    let h = x;
    for (const block of this.#order) h = block.call(h) as Tensor;
    return h;
  }
}
