/**
 * torchvision's ResNets (v1.5: the stride of a bottleneck stage sits on its 3×3 conv) with
 * torchvision's parameter names (`conv1`, `bn1`, `layer1.0.conv1`, `layer2.0.downsample.0`,
 * `fc`, …), so torchvision state dicts load unchanged. `smallInput` swaps the 7×7/2 stem and
 * max-pool for one 3×3/1 conv (28×28 or 64×64 images); `forwardFeatures` returns the four
 * stage outputs (DiffMIC's guidance network uses them).
 */
import { add, relu } from "../core/ops/elementwise.ts";
import type { Generator } from "../core/ops/random.ts";
import { flatten } from "../core/ops/view.ts";
import type { Tensor } from "../core/tensor.ts";
import { chain, Sequential } from "../core/nn/containers.ts";
import { Conv2d, Conv3d, ConvNd } from "../core/nn/conv.ts";
import { constant_, kaimingNormal_ } from "../core/nn/init.ts";
import { Linear, ReLU } from "../core/nn/linear.ts";
import { Module } from "../core/nn/module.ts";
import { BatchNorm2d, BatchNorm3d, type BatchNormBase } from "../core/nn/norm.ts";
import {
  AdaptiveAvgPool2d,
  AdaptiveAvgPool3d,
  type AdaptiveAvgPoolNd,
  MaxPool2d,
  MaxPool3d,
  type MaxPoolNd,
} from "../core/nn/pool.ts";

/** Spatial dimensions of a ResNet: 2 (images) or 3 (volumes: every layer its 3-D counterpart). */
export type SpatialDims = 2 | 3;

function conv(
  dims: SpatialDims,
  i: number,
  o: number,
  k: number,
  opts: { stride: number; padding?: number },
  g?: Generator,
) {
  const o2 = { ...opts, bias: false, generator: g };
  return dims === 3 ? new Conv3d(i, o, k, o2) : new Conv2d(i, o, k, o2);
}

const conv3x3 = (inPlanes: number, outPlanes: number, stride: number, g?: Generator, dims: SpatialDims = 2): ConvNd =>
  conv(dims, inPlanes, outPlanes, 3, { stride, padding: 1 }, g);

const conv1x1 = (inPlanes: number, outPlanes: number, stride: number, g?: Generator, dims: SpatialDims = 2): ConvNd =>
  conv(dims, inPlanes, outPlanes, 1, { stride }, g);

const batchNorm = (channels: number, dims: SpatialDims): BatchNormBase =>
  dims === 3 ? new BatchNorm3d(channels) : new BatchNorm2d(channels);

/** A residual block of a ResNet stage. */
export interface ResidualBlock extends Module {
  /** The residual branch's last batch norm (zeroed by `zeroInitResidual`). */
  readonly lastBn: BatchNormBase;
  /** x → relu(branch(x) + shortcut(x)). */
  forward(x: Tensor): Tensor;
}

/** Two 3×3 convs with a shortcut (ResNet-18/34); `expansion` 1. */
export class BasicBlock extends Module implements ResidualBlock {
  /** Output channels per `planes`. */
  static readonly expansion: number = 1;
  /** First 3×3 conv (carries the stride). */
  conv1: ConvNd;
  /** Its batch norm. */
  bn1: BatchNormBase;
  /** ReLU. */
  relu: ReLU = new ReLU();
  /** Second 3×3 conv. */
  conv2: ConvNd;
  /** Its batch norm. */
  bn2: BatchNormBase;
  /** 1×1 conv + batch norm on the shortcut when the shape changes, else null. */
  downsample: Sequential | null;

  /** A block from `inPlanes` to `planes` channels (`dims` 3: of volumes). */
  constructor(
    inPlanes: number,
    planes: number,
    stride = 1,
    downsample: Sequential | null = null,
    g?: Generator,
    dims: SpatialDims = 2,
  ) {
    super();
    this.conv1 = conv3x3(inPlanes, planes, stride, g, dims);
    this.bn1 = batchNorm(planes, dims);
    this.conv2 = conv3x3(planes, planes, 1, g, dims);
    this.bn2 = batchNorm(planes, dims);
    this.downsample = downsample;
  }

  /** The residual branch's last batch norm. */
  get lastBn(): BatchNormBase {
    return this.bn2;
  }

  /** x → relu(bn2(conv2(relu(bn1(conv1 x)))) + shortcut(x)). */
  override forward(x: Tensor): Tensor {
    const out = chain(x, this.conv1, this.bn1, this.relu, this.conv2, this.bn2);
    const identity = this.downsample ? this.downsample.call(x) : x;
    return relu(add(out, identity));
  }
}

/** 1×1 → 3×3 (stride) → 1×1 convs with a shortcut (ResNet-50 and up); `expansion` 4. */
export class Bottleneck extends Module implements ResidualBlock {
  /** Output channels per `planes`. */
  static readonly expansion: number = 4;
  /** 1×1 reduction. */
  conv1: ConvNd;
  /** Its batch norm. */
  bn1: BatchNormBase;
  /** 3×3 conv (carries the stride, v1.5). */
  conv2: ConvNd;
  /** Its batch norm. */
  bn2: BatchNormBase;
  /** 1×1 expansion to planes·4. */
  conv3: ConvNd;
  /** Its batch norm. */
  bn3: BatchNormBase;
  /** ReLU. */
  relu: ReLU = new ReLU();
  /** 1×1 conv + batch norm on the shortcut when the shape changes, else null. */
  downsample: Sequential | null;

  /** A block from `inPlanes` to `planes`·4 channels (`dims` 3: of volumes). */
  constructor(
    inPlanes: number,
    planes: number,
    stride = 1,
    downsample: Sequential | null = null,
    g?: Generator,
    dims: SpatialDims = 2,
  ) {
    super();
    this.conv1 = conv1x1(inPlanes, planes, 1, g, dims);
    this.bn1 = batchNorm(planes, dims);
    this.conv2 = conv3x3(planes, planes, stride, g, dims);
    this.bn2 = batchNorm(planes, dims);
    this.conv3 = conv1x1(planes, planes * Bottleneck.expansion, 1, g, dims);
    this.bn3 = batchNorm(planes * Bottleneck.expansion, dims);
    this.downsample = downsample;
  }

  /** The residual branch's last batch norm. */
  get lastBn(): BatchNormBase {
    return this.bn3;
  }

  /** x → relu(bn3(conv3(…conv1 x)) + shortcut(x)). */
  override forward(x: Tensor): Tensor {
    const out = chain(x, this.conv1, this.bn1, this.relu, this.conv2, this.bn2, this.relu, this.conv3, this.bn3);
    const identity = this.downsample ? this.downsample.call(x) : x;
    return relu(add(out, identity));
  }
}

/** A block class: `BasicBlock` or `Bottleneck`. */
export type BlockType = typeof BasicBlock | typeof Bottleneck;

/** Options of `ResNet` and the `resnet18/34/50` builders. */
export interface ResNetOptions {
  /** Classes of the final `fc` layer (default 1000); 0 = no `fc`: `forward` returns the pooled features (timm's `num_classes=0`). */
  numClasses?: number;
  /** Input channels (default 3). */
  inChannels?: number;
  /** 3×3 stride-1 first conv and no max-pool, for 28×28–64×64 images (default false). */
  smallInput?: boolean;
  /** Start each residual branch's last batch norm at weight 0 (default false). */
  zeroInitResidual?: boolean;
  /** Channels of the stem and the first stage; stages 2–4 double it (default 64, as torchvision). */
  baseWidth?: number;
  /** 2 (default): images [N, C, H, W]; 3: volumes [N, C, D, H, W], every conv, norm and pool 3-D (MONAI's ResNet with spatial_dims 3, torchvision's names). */
  spatialDims?: SpatialDims;
  /** Generator for the initial weights (default: the global one). */
  generator?: Generator;
}

/**
 * torchvision's `ResNet`: stem (`conv1`, `bn1`, `relu`, `maxpool`), four stages `layer1..4`
 * of residual blocks, `avgpool` and `fc`. Convs start from kaiming_normal(fan_out, relu),
 * batch norms at weight 1 / bias 0, `fc` from PyTorch's Linear default, as torchvision.
 *
 * @example
 * ```ts
 * const net = resnet18({ numClasses: 7, smallInput: true });
 * const logits = net.call(images); // (N, 3, 28, 28) → (N, 7)
 * ```
 */
export class ResNet extends Module {
  /** Whether the stem is the small-input one. */
  readonly smallInput: boolean;
  /** 2: images; 3: volumes. */
  readonly spatialDims: SpatialDims;
  /** Stem conv: 7×7 stride 2 (3×3 stride 1 with `smallInput`). */
  conv1: ConvNd;
  /** Stem batch norm. */
  bn1: BatchNormBase;
  /** ReLU. */
  relu: ReLU = new ReLU();
  /** 3×3 stride-2 max-pool, or null with `smallInput`. */
  maxpool: MaxPoolNd | null;
  /** Stage 1 (64·expansion channels, stride 1). */
  layer1: Sequential;
  /** Stage 2 (128·expansion channels, stride 2). */
  layer2: Sequential;
  /** Stage 3 (256·expansion channels, stride 2). */
  layer3: Sequential;
  /** Stage 4 (512·expansion channels, stride 2). */
  layer4: Sequential;
  /** Global average pool. */
  avgpool: AdaptiveAvgPoolNd;
  /** Classifier (null when built with `numClasses: 0`). */
  fc: Linear | null;
  /** Channels of `layer4`'s output (512 for ResNet-18/34 at the default width, 2048 for ResNet-50). */
  readonly featureChannels: number;

  /** A ResNet of `block`s with `layers[i]` blocks in stage i. */
  constructor(block: BlockType, layers: readonly [number, number, number, number], opts: ResNetOptions = {}) {
    super();
    const numClasses = opts.numClasses ?? 1000, inChannels = opts.inChannels ?? 3, g = opts.generator;
    const w = opts.baseWidth ?? 64;
    if (!Number.isInteger(numClasses) || numClasses < 0) {
      throw new RangeError(`ResNet: numClasses must be a non-negative integer (0 = no fc), got ${numClasses}`);
    }
    for (const [n, v] of [["inChannels", inChannels], ["baseWidth", w]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`ResNet: ${n} must be a positive integer, got ${v}`);
    }
    if (layers.length !== 4 || layers.some((n) => !Number.isInteger(n) || n < 1)) {
      throw new RangeError(`ResNet: layers must be 4 positive block counts, got ${JSON.stringify(layers)}`);
    }
    const dims = opts.spatialDims ?? 2;
    if (dims !== 2 && dims !== 3) throw new RangeError(`ResNet: spatialDims must be 2 or 3, got ${dims}`);
    this.spatialDims = dims;
    this.smallInput = opts.smallInput ?? false;
    this.conv1 = this.smallInput
      ? conv(dims, inChannels, w, 3, { stride: 1, padding: 1 }, g)
      : conv(dims, inChannels, w, 7, { stride: 2, padding: 3 }, g);
    this.bn1 = batchNorm(w, dims);
    const pool = { stride: 2, padding: 1 };
    this.maxpool = this.smallInput ? null : dims === 3 ? new MaxPool3d(3, pool) : new MaxPool2d(3, pool);
    let inPlanes = w;
    const stage = (planes: number, blocks: number, stride: number): Sequential => {
      const out = planes * block.expansion;
      const downsample = stride !== 1 || inPlanes !== out
        ? new Sequential(conv1x1(inPlanes, out, stride, g, dims), batchNorm(out, dims))
        : null;
      const mods: Module[] = [new block(inPlanes, planes, stride, downsample, g, dims)];
      inPlanes = out;
      for (let i = 1; i < blocks; i++) mods.push(new block(inPlanes, planes, 1, null, g, dims));
      return new Sequential(...mods);
    };
    this.layer1 = stage(w, layers[0], 1);
    this.layer2 = stage(2 * w, layers[1], 2);
    this.layer3 = stage(4 * w, layers[2], 2);
    this.layer4 = stage(8 * w, layers[3], 2);
    this.featureChannels = 8 * w * block.expansion;
    this.avgpool = dims === 3 ? new AdaptiveAvgPool3d(1) : new AdaptiveAvgPool2d(1);
    this.fc = numClasses > 0 ? new Linear(this.featureChannels, numClasses, { generator: g }) : null;
    for (const m of this.modules()) {
      if (m instanceof ConvNd) kaimingNormal_(m.weight, { mode: "fan_out", nonlinearity: "relu", generator: g });
    }
    if (opts.zeroInitResidual) {
      for (const m of this.modules()) {
        if (m instanceof BasicBlock || m instanceof Bottleneck) constant_(m.lastBn.weight!, 0);
      }
    }
  }

  /** The stem: conv1 → bn1 → relu (→ maxpool). */
  #stem(): Module[] {
    return this.maxpool ? [this.conv1, this.bn1, this.relu, this.maxpool] : [this.conv1, this.bn1, this.relu];
  }

  /** The outputs of `layer1`..`layer4` for (N, C, H, W) input (strides 1/2/4/8 of the stem's output). */
  forwardFeatures(x: Tensor): [Tensor, Tensor, Tensor, Tensor] {
    const f1 = chain(x, ...this.#stem(), this.layer1);
    const f2 = this.layer2.call(f1);
    const f3 = this.layer3.call(f2);
    const f4 = this.layer4.call(f3);
    return [f1, f2, f3, f4];
  }

  /** (N, C, H, W) → logits (N, numClasses), or the pooled features (N, featureChannels) without `fc`. */
  override forward(x: Tensor): Tensor {
    const pooled = this.embed(x);
    return this.fc ? this.fc.call(pooled) : pooled;
  }

  /** (N, C, H, W) → the pooled features `fc` reads (N, featureChannels): the penultimate layer. */
  embed(x: Tensor): Tensor {
    return flatten(chain(x, ...this.#stem(), this.layer1, this.layer2, this.layer3, this.layer4, this.avgpool), 1);
  }
}

/** ResNet-18 (BasicBlock, [2, 2, 2, 2]); 11,689,512 parameters at 1000 classes. */
export function resnet18(opts: ResNetOptions = {}): ResNet {
  return new ResNet(BasicBlock, [2, 2, 2, 2], opts);
}

/** ResNet-34 (BasicBlock, [3, 4, 6, 3]); 21,797,672 parameters at 1000 classes. */
export function resnet34(opts: ResNetOptions = {}): ResNet {
  return new ResNet(BasicBlock, [3, 4, 6, 3], opts);
}

/** ResNet-50 (Bottleneck, [3, 4, 6, 3]); 25,557,032 parameters at 1000 classes. */
export function resnet50(opts: ResNetOptions = {}): ResNet {
  return new ResNet(Bottleneck, [3, 4, 6, 3], opts);
}
