/**
 * DiffMIC-v2's dual-granularity conditional guidance network (DCG), the prior of the label
 * diffusion. A global CNN trunk maps the image to one saliency map per class (a bias-free 1×1
 * conv); their mean (or the mean of a top fraction of cells) is `yGlobal`. The saliency maps
 * pick K regions (min–max normalised per class, summed, the best window taken K times with each
 * pick masked); K square crops of the full-resolution image go through a local ResNet, and
 * gated attention (Ilse et al. 2018) over the K crop features gives `yLocal`.
 * `yFusion = (yGlobal + yLocal) / 2`.
 *
 * Parameter names follow the official code where it has them (`ds_net`, `left_postprocess_net.
 * gn_conv_last`, `dn_resnet`, `mil_attn_U/V/w`, `classifier_linear`); the trunks use
 * torchvision's names below those prefixes.
 * @module
 */
import { Conv2d } from "../core/nn/conv.ts";
import { Linear } from "../core/nn/linear.ts";
import { Module, type Parameter } from "../core/nn/module.ts";
import { mul, sigmoid, tanh } from "../core/ops/elementwise.ts";
import type { Generator } from "../core/ops/random.ts";
import { mean, sum } from "../core/ops/reduce.ts";
import { cropPatches, roiSelect, topFractionMean } from "../core/ops/roi.ts";
import { softmax } from "../core/ops/softmax.ts";
import { reshape, unsqueeze } from "../core/ops/view.ts";
import type { Tensor } from "../core/tensor.ts";
import { EfficientNet, efficientnetB0 } from "./efficientnet.ts";
import { resnetTrunk, type TrunkOptions } from "./diffmic.ts";
import type { ResNet } from "./resnet.ts";

/** Global trunks the DCG accepts: a ResNet (see {@linkcode TrunkOptions}) or EfficientNet-B0. */
export type GlobalTrunk = TrunkOptions | { arch: "efficientnetB0" };

/** Options of {@linkcode Dcg}. */
export interface DcgOptions {
  /** Classes. */
  numClasses: number;
  /** Image channels. */
  inChannels: number;
  /** Crops per image K (default 6). */
  numK?: number;
  /** Side of a crop in image pixels (default 32, as on the paper's 224 px images). */
  cropSize?: number;
  /** Crop every image channel ("all", default) or channel 0 only ("first", the official code). */
  cropChannels?: "all" | "first";
  /** Mean of this fraction of the largest saliency cells as `yGlobal` (default 1: all cells). */
  topFraction?: number;
  /** The global trunk (default ResNet-18). */
  globalTrunk?: GlobalTrunk;
  /** The local trunk (default ResNet-18). */
  localTrunk?: TrunkOptions;
  /** Width of the gated attention (default 128). */
  attentionDim?: number;
  /** Generator of the initial weights. */
  generator?: Generator;
}

/** Everything the DCG computes for a batch (tensors owned by the caller). */
export interface DcgOutput {
  /** (yGlobal + yLocal) / 2, (B, C). */
  yFusion: Tensor;
  /** Saliency-map logits, (B, C). */
  yGlobal: Tensor;
  /** Gated-attention crop logits, (B, C). */
  yLocal: Tensor;
  /** Saliency maps (B, C, h, w). */
  saliency: Tensor;
  /** Upper-left saliency cell of each crop, int32 (B, K, 2) as (row, col). */
  cells: Tensor;
  /** The crops (B·K, channels, s, s). */
  crops: Tensor;
  /** Attention weights over the crops, (B, K) (rows sum to 1). */
  attention: Tensor;
  /** The global trunk's last feature map averaged over its cells, (B, global channels). */
  globalFeature: Tensor;
  /** The local trunk's pooled feature of each crop, (B·K, local channels). */
  cropFeatures: Tensor;
}

/** The DCG (see the module doc). */
export class Dcg extends Module {
  /** Resolved options (without the generator). */
  readonly options: {
    numClasses: number;
    inChannels: number;
    numK: number;
    cropSize: number;
    cropChannels: "all" | "first";
    topFraction: number;
    globalTrunk: GlobalTrunk;
    localTrunk: TrunkOptions;
    attentionDim: number;
  };
  /** Global trunk (no pooling, no classifier used). */
  ds_net: ResNet | EfficientNet;
  /** The 1×1 conv to one saliency map per class. */
  left_postprocess_net: SaliencyHead;
  /** Local trunk over the crops (pooled features). */
  dn_resnet: ResNet;
  /** Gated attention: tanh branch. */
  mil_attn_V: Linear;
  /** Gated attention: sigmoid gate. */
  mil_attn_U: Linear;
  /** Gated attention: score. */
  mil_attn_w: Linear;
  /** Crop-feature classifier. */
  classifier_linear: Linear;
  /** Channels of `globalFeature` (the global trunk's last stage). */
  readonly globalChannels: number;

  /** A DCG as `opts` says. */
  constructor(opts: DcgOptions) {
    super();
    const o = {
      numClasses: opts.numClasses,
      inChannels: opts.inChannels,
      numK: opts.numK ?? 6,
      cropSize: opts.cropSize ?? 32,
      cropChannels: opts.cropChannels ?? "all",
      topFraction: opts.topFraction ?? 1,
      globalTrunk: opts.globalTrunk ?? {},
      localTrunk: opts.localTrunk ?? {},
      attentionDim: opts.attentionDim ?? 128,
    };
    for (const k of ["numClasses", "inChannels", "numK", "cropSize", "attentionDim"] as const) {
      if (!Number.isInteger(o[k]) || o[k] < 1) {
        throw new RangeError(`Dcg: ${k} must be a positive integer, got ${o[k]}`);
      }
    }
    if (o.cropChannels !== "all" && o.cropChannels !== "first") {
      throw new RangeError(`Dcg: cropChannels must be "all" or "first", got ${JSON.stringify(o.cropChannels)}`);
    }
    if (!(o.topFraction > 0 && o.topFraction <= 1)) {
      throw new RangeError(`Dcg: topFraction must be in (0, 1], got ${o.topFraction}`);
    }
    this.options = o;
    const g = opts.generator, C = o.numClasses;
    const gt = o.globalTrunk;
    let globalChannels: number;
    if (gt.arch === "efficientnetB0") {
      const net = efficientnetB0({ numClasses: 1, inChannels: o.inChannels, generator: g });
      globalChannels = net.numFeatures;
      this.ds_net = net;
    } else {
      const net = resnetTrunk(o.inChannels, gt as TrunkOptions, g);
      globalChannels = net.featureChannels;
      this.ds_net = net;
    }
    this.globalChannels = globalChannels;
    this.left_postprocess_net = new SaliencyHead(globalChannels, C, g);
    this.dn_resnet = resnetTrunk(o.cropChannels === "first" ? 1 : o.inChannels, o.localTrunk, g);
    const d = this.dn_resnet.featureChannels, a = o.attentionDim;
    this.mil_attn_V = new Linear(d, a, { bias: false, generator: g });
    this.mil_attn_U = new Linear(d, a, { bias: false, generator: g });
    this.mil_attn_w = new Linear(a, 1, { bias: false, generator: g });
    this.classifier_linear = new Linear(d, C, { bias: false, generator: g });
  }

  /** The parameters that train (the EfficientNet trunk's unused classifier left out). */
  trainableParameters(): Parameter[] {
    const skip = this.ds_net instanceof EfficientNet ? new Set(this.ds_net.classifier.parameters()) : new Set();
    return this.parameters().filter((p) => !skip.has(p));
  }

  /** The global trunk's last feature map (B, channels, h, w). */
  #globalFeatures(x: Tensor): Tensor {
    return this.ds_net instanceof EfficientNet ? this.ds_net.forwardFeatures(x) : this.ds_net.forwardFeatures(x)[3];
  }

  /**
   * Window of the region search in saliency cells: the crop's share of the image times the
   * grid, rounded (the official code's `crop_shape_adjusted`), at least one cell.
   */
  searchWindow(imageSize: number, grid: number): number {
    return Math.min(grid, Math.max(1, Math.round(this.options.cropSize * grid / imageSize)));
  }

  /** Gated attention over crop features (B, K, d) → weights (B, K) and the weighted feature (B, d). */
  attend(h: Tensor): { attention: Tensor; pooled: Tensor } {
    const [B, K, d] = h.shape;
    const flat = reshape(h, [B * K, d]);
    const gated = mul(sigmoid(this.mil_attn_U.call(flat)), tanh(this.mil_attn_V.call(flat)));
    const attention = softmax(reshape(this.mil_attn_w.call(gated), [B, K]), 1);
    return { attention, pooled: sum(mul(unsqueeze(attention, 2), h), 1) };
  }

  /** images (B, C, H, W) → every output of {@linkcode DcgOutput}. */
  override forward(x: Tensor): DcgOutput {
    const [B, , H, W] = x.shape, o = this.options;
    const featureMap = this.#globalFeatures(x);
    const saliency = this.left_postprocess_net.call(featureMap);
    const [, , h, w] = saliency.shape;
    const yGlobal = topFractionMean(saliency, o.topFraction);
    const window = Math.min(this.searchWindow(H, h), this.searchWindow(W, w));
    const cells = roiSelect(saliency.detach(), o.numK, window);
    const crops = cropPatches(x.detach(), cells, { cropSize: o.cropSize, grid: [h, w], channels: o.cropChannels });
    const cropFeatures = this.dn_resnet.call(crops);
    const feats = reshape(cropFeatures, [B, o.numK, this.dn_resnet.featureChannels]);
    const { attention, pooled } = this.attend(feats);
    const yLocal = this.classifier_linear.call(pooled);
    const yFusion = mul(0.5, yGlobal.add(yLocal));
    const globalFeature = mean(featureMap, [2, 3]);
    return { yFusion, yGlobal, yLocal, saliency, cells, crops, attention, globalFeature, cropFeatures };
  }
}

/** The official `PostProcessingStandard`: a bias-free 1×1 conv to one map per class (`gn_conv_last`). */
export class SaliencyHead extends Module {
  /** The 1×1 conv. */
  gn_conv_last: Conv2d;

  /** `channels` → `numClasses` maps. */
  constructor(channels: number, numClasses: number, generator?: Generator) {
    super();
    this.gn_conv_last = new Conv2d(channels, numClasses, 1, { bias: false, generator });
  }

  /** (B, channels, h, w) → (B, numClasses, h, w). */
  override forward(x: Tensor): Tensor {
    return this.gn_conv_last.call(x);
  }
}
