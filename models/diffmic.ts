/**
 * DiffMIC-v2's conditional denoiser (the official code's `ConditionalModel`): it predicts the
 * noise of a label map (B, C, K, K) — K·K cells, each holding a whole label vector with its own
 * timestep — from the image, the guidance network's K crops and the guided prior map. Parameter
 * names follow the official code (`lin1.lin`, `lin1.embed`, `unetnorm1`, `cond_weight`, …); the
 * image encoders are torchvision-named ResNets (`encoder_x.backbone.layer1.0.conv1`, …) where
 * the official code uses EfficientSAM (global) and a ResNet (crops).
 * @module
 */
import { Parameter } from "../core/nn/module.ts";
import { Module } from "../core/nn/module.ts";
import { Conv2d } from "../core/nn/conv.ts";
import { uniform_ } from "../core/nn/init.ts";
import { Embedding, Linear } from "../core/nn/linear.ts";
import { BatchNorm1d, BatchNorm2d } from "../core/nn/norm.ts";
import { randn } from "../core/ops/random.ts";
import type { Generator } from "../core/ops/random.ts";
import { cat } from "../core/ops/join.ts";
import { mul, softplus } from "../core/ops/elementwise.ts";
import { sum } from "../core/ops/reduce.ts";
import { softmax } from "../core/ops/softmax.ts";
import { permute, reshape, unsqueeze } from "../core/ops/view.ts";
import type { Tensor } from "../core/tensor.ts";
import { BasicBlock, Bottleneck, ResNet } from "./resnet.ts";

/** The ResNet trunks a DiffMIC-v2 network can use (blocks of torchvision's builders). */
export const RESNET_TRUNKS = {
  resnet18: { block: BasicBlock, layers: [2, 2, 2, 2] },
  resnet34: { block: BasicBlock, layers: [3, 4, 6, 3] },
  resnet50: { block: Bottleneck, layers: [3, 4, 6, 3] },
} as const;

/** A ResNet trunk: architecture, stem and width. */
export interface TrunkOptions {
  /** Block type and default depth (default "resnet18"). */
  arch?: keyof typeof RESNET_TRUNKS;
  /** 3×3 stride-1 stem without max-pool, for small images (default true). */
  smallInput?: boolean;
  /** Channels of the first stage (default 64). */
  baseWidth?: number;
  /** Blocks per stage, overriding the architecture's (e.g. [1, 1, 1, 1] for tests). */
  layers?: readonly [number, number, number, number];
}

/** A headless ResNet (no `fc`) for `inChannels`-channel input. */
export function resnetTrunk(inChannels: number, o: TrunkOptions = {}, generator?: Generator): ResNet {
  const arch = o.arch ?? "resnet18";
  const spec = RESNET_TRUNKS[arch];
  if (!spec) throw new RangeError(`trunk arch must be one of ${Object.keys(RESNET_TRUNKS).join(", ")}, got ${arch}`);
  const layers = o.layers ?? spec.layers;
  return new ResNet(spec.block, [...layers] as [number, number, number, number], {
    numClasses: 0,
    inChannels,
    smallInput: o.smallInput ?? true,
    baseWidth: o.baseWidth,
    generator,
  });
}

/**
 * An image to a feature vector: a headless ResNet, global average pooling, then `g` (Linear).
 * Without a trunk (`trunk: null`) it is `g` alone, on features computed elsewhere.
 */
export class ImageEncoder extends Module {
  /** The ResNet trunk (torchvision names, no `fc`), or null. */
  backbone: ResNet | null;
  /** Projection to the feature dimension. */
  g: Linear;

  /**
   * An encoder of `inChannels`-channel images to `featureDim` features, or (`trunk` null) a
   * projection of `inChannels`-wide feature vectors.
   */
  constructor(inChannels: number, featureDim: number, trunk: TrunkOptions | null = {}, generator?: Generator) {
    super();
    this.backbone = trunk ? resnetTrunk(inChannels, trunk, generator) : null;
    this.g = new Linear(this.backbone ? this.backbone.featureChannels : inChannels, featureDim, { generator });
  }

  /** (N, C, H, W) → (N, featureDim); without a trunk (N, inChannels) → (N, featureDim). */
  override forward(x: Tensor): Tensor {
    return this.g.call(this.backbone ? this.backbone.call(x) : x);
  }
}

/**
 * What the denoiser sees of an image besides the label: the DCG's crops, and its pooled trunk
 * features (used instead of the denoiser's own trunks when it has none). A `DcgOutput` is one.
 */
export interface DenoiserCondition {
  /** The K crops of each image (B·K, cropChannels, s, s). */
  crops: Tensor;
  /** The DCG's pooled global feature (B, global channels); needed without own trunks. */
  globalFeature?: Tensor;
  /** The DCG's pooled feature of each crop (B·K, local channels); needed without own trunks. */
  cropFeatures?: Tensor;
}

/**
 * A 1×1 convolution scaled, per output channel and per cell, by an embedding of that cell's
 * timestep: `γ = embed(t)` with t one integer per cell (B·H·W, row-major cells), so every cell
 * of the label map is denoised at its own noise level. The embedding starts at U[0, 1), as the
 * official code.
 */
export class ConditionalConv2d extends Module {
  /** The 1×1 convolution. */
  lin: Conv2d;
  /** Timestep embedding, (timesteps + 1, out). */
  embed: Embedding;
  /** Output channels. */
  readonly outChannels: number;

  /** `inChannels` → `outChannels`, with `numSteps` timestep rows. */
  constructor(inChannels: number, outChannels: number, numSteps: number, generator?: Generator) {
    super();
    this.outChannels = outChannels;
    this.lin = new Conv2d(inChannels, outChannels, 1, { generator });
    this.embed = new Embedding(numSteps, outChannels, { generator });
    uniform_(this.embed.weight, 0, 1, { generator });
  }

  /** x (B, in, H, W), t int32 (B·H·W) → (B, out, H, W). */
  override forward(x: Tensor, t: Tensor): Tensor {
    const out = this.lin.call(x);
    const [B, D, H, W] = out.shape;
    if (t.size !== B * H * W) {
      throw new RangeError(`ConditionalConv2d: t must hold one timestep per cell (${B * H * W}), got ${t.size}`);
    }
    const gamma = reshape(permute(reshape(this.embed.call(t), [B, H * W, D]), [0, 2, 1]).contiguous(), [B, D, H, W]);
    return mul(gamma, out);
  }
}

/** Options of {@linkcode DiffMicDenoiser}. */
export interface DiffMicDenoiserOptions {
  /** Classes C (channels of the label map). */
  numClasses: number;
  /** Crops per image K; the label map is K×K. */
  numK: number;
  /** Hidden width of the label path and of both image features. */
  featureDim: number;
  /** Diffusion steps T (the timestep embeddings have T + 1 rows, as the official code). */
  timesteps: number;
  /** Image channels. */
  inChannels: number;
  /** Channels of each crop (the image's, or 1 for channel-0 crops). */
  cropChannels: number;
  /** The trunk of both image encoders. */
  encoder?: TrunkOptions;
  /**
   * No trunks of its own: the encoders project the frozen DCG's pooled features, of these widths
   * (`Dcg.globalChannels`, the local trunk's `featureChannels`). `encoder` is then unused.
   */
  dcgFeatures?: { global: number; local: number } | null;
  /** Condition on the guided prior map (the input has 2C channels: prior, y_t); default true. */
  guidance?: boolean;
  /** Generator for the initial weights. */
  generator?: Generator;
}

/**
 * The denoiser: `lin1` on [prior, y_t] → BatchNorm → softplus → × the fused image feature →
 * (`lin2` → BatchNorm → softplus) ×2 → `lin4` (1×1 conv to C) = the predicted noise map. The
 * image feature fuses the global encoder's vector and the K crop encoders' vectors with learned
 * softmax weights per feature channel (`cond_weight`, (1, f, K + 1)).
 */
export class DiffMicDenoiser extends Module {
  /** Resolved options. */
  readonly options: Readonly<Required<Omit<DiffMicDenoiserOptions, "generator" | "encoder" | "dcgFeatures">>> & {
    encoder: TrunkOptions;
    dcgFeatures: { global: number; local: number } | null;
  };
  /** Encoder of the whole image. */
  encoder_x: ImageEncoder;
  /** BatchNorm of the global feature. */
  norm: BatchNorm1d;
  /** Encoder of the crops. */
  encoder_x_l: ImageEncoder;
  /** BatchNorm of the crop features. */
  norm_l: BatchNorm1d;
  /** First conditional layer ([prior, y_t] → f). */
  lin1: ConditionalConv2d;
  /** Its BatchNorm. */
  unetnorm1: BatchNorm2d;
  /** Second conditional layer. */
  lin2: ConditionalConv2d;
  /** Its BatchNorm. */
  unetnorm2: BatchNorm2d;
  /** Third conditional layer. */
  lin3: ConditionalConv2d;
  /** Its BatchNorm. */
  unetnorm3: BatchNorm2d;
  /** Output 1×1 conv to the classes. */
  lin4: Conv2d;
  /** Fusion logits of the global and K local features, (1, f, K + 1). */
  cond_weight: Parameter;

  /** A denoiser as `opts` says. */
  constructor(opts: DiffMicDenoiserOptions) {
    super();
    for (const k of ["numClasses", "numK", "featureDim", "timesteps", "inChannels", "cropChannels"] as const) {
      const v = opts[k];
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(`DiffMicDenoiser: ${k} must be a positive integer, got ${v}`);
      }
    }
    const g = opts.generator;
    const o = {
      numClasses: opts.numClasses,
      numK: opts.numK,
      featureDim: opts.featureDim,
      timesteps: opts.timesteps,
      inChannels: opts.inChannels,
      cropChannels: opts.cropChannels,
      guidance: opts.guidance ?? true,
      encoder: opts.encoder ?? {},
      dcgFeatures: opts.dcgFeatures ?? null,
    };
    this.options = o;
    const f = o.featureDim, C = o.numClasses, steps = o.timesteps + 1;
    const shared = o.dcgFeatures;
    this.encoder_x = new ImageEncoder(shared ? shared.global : o.inChannels, f, shared ? null : o.encoder, g);
    this.norm = new BatchNorm1d(f);
    this.encoder_x_l = new ImageEncoder(shared ? shared.local : o.cropChannels, f, shared ? null : o.encoder, g);
    this.norm_l = new BatchNorm1d(f);
    this.lin1 = new ConditionalConv2d(o.guidance ? 2 * C : C, f, steps, g);
    this.unetnorm1 = new BatchNorm2d(f);
    this.lin2 = new ConditionalConv2d(f, f, steps, g);
    this.unetnorm2 = new BatchNorm2d(f);
    this.lin3 = new ConditionalConv2d(f, f, steps, g);
    this.unetnorm3 = new BatchNorm2d(f);
    this.lin4 = new Conv2d(f, C, 1, { generator: g });
    this.cond_weight = new Parameter(randn([1, f, o.numK + 1], { generator: g }));
  }

  /**
   * The fused image feature (B, f): global and crop features (of the own trunks, or projected
   * from the DCG's), weighted per channel by softmax(`cond_weight`) over the K + 1 sources.
   * Independent of the timestep, so a sampler computes it once per image
   * ({@linkcode DiffMicDenoiser.denoise}).
   */
  imageFeature(images: Tensor, cond: DenoiserCondition): Tensor {
    const B = images.shape[0], K = this.options.numK, f = this.options.featureDim;
    const shared = this.options.dcgFeatures !== null;
    if (shared && !(cond.globalFeature && cond.cropFeatures)) {
      throw new RangeError("DiffMicDenoiser: without own trunks it needs the DCG's globalFeature and cropFeatures");
    }
    const crops = shared ? cond.cropFeatures! : cond.crops;
    if (crops.shape[0] !== B * K) {
      throw new RangeError(`DiffMicDenoiser: crops must hold ${K} crops per image (${B * K}), got ${crops.shape[0]}`);
    }
    const local = permute(reshape(this.norm_l.call(this.encoder_x_l.call(crops)), [B, K, f]), [0, 2, 1]);
    const global = unsqueeze(this.norm.call(this.encoder_x.call(shared ? cond.globalFeature! : images)), 2);
    const w = softmax(this.cond_weight, 2);
    return sum(mul(cat([global, local], 2), w), 2);
  }

  /** The label path: yIn (B, 2C or C, K, K), t int32 (B·K·K) and the fused feature (B, f) → ε̂ (B, C, K, K). */
  denoise(yIn: Tensor, t: Tensor, feature: Tensor): Tensor {
    const [B, Cin, H, W] = yIn.shape;
    const C = this.options.numClasses, K = this.options.numK;
    const want = this.options.guidance ? 2 * C : C;
    if (yIn.ndim !== 4 || Cin !== want || H !== K || W !== K) {
      throw new RangeError(
        `DiffMicDenoiser: the label input must be (B, ${want}, ${K}, ${K}), got (${yIn.shape.join(", ")})`,
      );
    }
    let y = softplus(this.unetnorm1.call(this.lin1.call(yIn, t)));
    y = mul(reshape(feature, [B, this.options.featureDim, 1, 1]), y);
    y = softplus(this.unetnorm2.call(this.lin2.call(y, t)));
    y = softplus(this.unetnorm3.call(this.lin3.call(y, t)));
    return this.lin4.call(y);
  }

  /** images (B, inCh, H, W), yIn (B, 2C or C, K, K), t int32 (B·K·K), the DCG's outputs → ε̂ (B, C, K, K). */
  override forward(images: Tensor, yIn: Tensor, t: Tensor, cond: DenoiserCondition): Tensor {
    return this.denoise(yIn, t, this.imageFeature(images, cond));
  }
}
