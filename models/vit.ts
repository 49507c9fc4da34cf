/**
 * torchvision's Vision Transformer (`VisionTransformer`: patch embedding by a strided conv,
 * class token, learned position embedding, pre-norm encoder blocks of multi-head attention and
 * a GELU MLP, final LayerNorm, linear head on the class token) with torchvision's parameter
 * names (`conv_proj`, `class_token`, `encoder.pos_embedding`,
 * `encoder.layers.encoder_layer_0.self_attention.in_proj_weight`, `heads.head`, …).
 * `vitS16` is the ViT-S/16 baseline (384 wide, 12 layers, 6 heads, MLP 1536).
 */
import { add } from "../core/ops/elementwise.ts";
import { cat } from "../core/ops/join.ts";
import { zeros } from "../core/ops/creation.ts";
import type { Generator } from "../core/ops/random.ts";
import { expand, flatten, narrow, reshape, transpose } from "../core/ops/view.ts";
import type { Tensor } from "../core/tensor.ts";
import { scope } from "../core/scope.ts";
import { fmtShape } from "../core/shape.ts";
import { MultiheadAttention } from "../core/nn/attention.ts";
import { chain, Sequential } from "../core/nn/containers.ts";
import { Conv2d } from "../core/nn/conv.ts";
import { normal_, truncNormal_, xavierUniform_, zeros_ } from "../core/nn/init.ts";
import { Dropout, GELU, Linear } from "../core/nn/linear.ts";
import { Module, Parameter } from "../core/nn/module.ts";
import { LayerNorm } from "../core/nn/norm.ts";
import { OptionError } from "../util/errors.ts";

/** Linear → GELU → Dropout → Linear → Dropout (torchvision's `MLPBlock`, keys `0` and `3`). */
function mlpBlock(dim: number, hidden: number, dropout: number, g?: Generator): Sequential {
  const l1 = new Linear(dim, hidden, { generator: g }), l2 = new Linear(hidden, dim, { generator: g });
  for (const l of [l1, l2]) {
    xavierUniform_(l.weight, 1, { generator: g });
    normal_(l.bias!, 0, 1e-6, { generator: g });
  }
  return new Sequential(l1, new GELU(), new Dropout(dropout, { generator: g }), l2, new Dropout(dropout));
}

/** Pre-norm transformer block: x + attn(ln_1 x), then + mlp(ln_2 ·). */
export class EncoderBlock extends Module {
  /** Norm before attention. */
  ln_1: LayerNorm;
  /** Multi-head self-attention (batch first). */
  self_attention: MultiheadAttention;
  /** Dropout after attention. */
  dropout: Dropout;
  /** Norm before the MLP. */
  ln_2: LayerNorm;
  /** The MLP. */
  mlp: Sequential;

  /** A block of width `dim` with `heads` heads and an MLP of `mlpDim`. */
  constructor(heads: number, dim: number, mlpDim: number, dropout: number, attentionDropout: number, g?: Generator) {
    super();
    this.ln_1 = new LayerNorm(dim, { eps: 1e-6 });
    this.self_attention = new MultiheadAttention(dim, heads, {
      dropout: attentionDropout,
      batchFirst: true,
      generator: g,
    });
    this.dropout = new Dropout(dropout, { generator: g });
    this.ln_2 = new LayerNorm(dim, { eps: 1e-6 });
    this.mlp = mlpBlock(dim, mlpDim, dropout, g);
  }

  /** (N, L, dim) → (N, L, dim). */
  override forward(x: Tensor): Tensor {
    const h = this.ln_1.call(x);
    const [a] = this.self_attention.call(h, h, h, { needWeights: false });
    const x1 = add(this.dropout.call(a), x);
    return add(x1, chain(x1, this.ln_2, this.mlp));
  }
}

/** Position embedding, dropout, the blocks (`layers.encoder_layer_i`) and the final norm `ln`. */
export class Encoder extends Module {
  /** Learned position embedding (1, seqLength, dim), N(0, 0.02²) at start. */
  pos_embedding: Parameter;
  /** Dropout after adding positions. */
  dropout: Dropout;
  /** The encoder blocks. */
  layers: Sequential;
  /** Final LayerNorm. */
  ln: LayerNorm;

  /** `numLayers` blocks over sequences of `seqLength` tokens. */
  constructor(
    seqLength: number,
    numLayers: number,
    heads: number,
    dim: number,
    mlpDim: number,
    dropout: number,
    attentionDropout: number,
    g?: Generator,
  ) {
    super();
    this.pos_embedding = new Parameter(normal_(zeros([1, seqLength, dim]), 0, 0.02, { generator: g }));
    this.dropout = new Dropout(dropout, { generator: g });
    const blocks: Record<string, Module> = {};
    for (let i = 0; i < numLayers; i++) {
      blocks[`encoder_layer_${i}`] = new EncoderBlock(heads, dim, mlpDim, dropout, attentionDropout, g);
    }
    this.layers = new Sequential(blocks);
    this.ln = new LayerNorm(dim, { eps: 1e-6 });
  }

  /** (N, seqLength, dim) → (N, seqLength, dim). */
  override forward(x: Tensor): Tensor {
    if (x.ndim !== 3 || x.shape[1] !== this.pos_embedding.shape[1]) {
      throw new RangeError(
        `Encoder: expected (N, ${this.pos_embedding.shape[1]}, ${this.pos_embedding.shape[2]}) tokens, got ${
          fmtShape(x.shape)
        }`,
      );
    }
    return chain(x, (h) => add(h, this.pos_embedding), this.dropout, this.layers, this.ln);
  }
}

/** Options of `VisionTransformer` and `vitS16` / `vitB16`. */
export interface VisionTransformerOptions {
  /** Square input size in pixels (default 224). */
  imageSize?: number;
  /** Patch edge in pixels (must divide imageSize). */
  patchSize?: number;
  /** Encoder blocks. */
  numLayers?: number;
  /** Attention heads. */
  numHeads?: number;
  /** Token width. */
  hiddenDim?: number;
  /** MLP hidden width. */
  mlpDim?: number;
  /** Dropout in blocks (default 0). */
  dropout?: number;
  /** Dropout on attention weights (default 0). */
  attentionDropout?: number;
  /** Classes of the head (default 1000). */
  numClasses?: number;
  /** Input channels (default 3). */
  inChannels?: number;
  /** Generator for the initial weights and the dropout masks (default: the global one). */
  generator?: Generator;
}

/** The sizes of a `VisionTransformer`, every default filled in. */
export type VisionTransformerConfig = Required<Omit<VisionTransformerOptions, "generator">>;

const OWNER = "VisionTransformer";

/**
 * Fills in the defaults of `opts` (ViT-B/16's sizes) and checks them without building anything
 * (the constructor's own validation): an {@linkcode OptionError} naming the option for a size
 * that is not a positive integer, a `patchSize` that does not divide `imageSize`, or a
 * `numHeads` that does not divide `hiddenDim`.
 */
export function resolveViTConfig(opts: VisionTransformerOptions = {}): VisionTransformerConfig {
  const c: VisionTransformerConfig = {
    imageSize: opts.imageSize ?? 224,
    patchSize: opts.patchSize ?? 16,
    numLayers: opts.numLayers ?? 12,
    numHeads: opts.numHeads ?? 12,
    hiddenDim: opts.hiddenDim ?? 768,
    mlpDim: opts.mlpDim ?? 3072,
    dropout: opts.dropout ?? 0,
    attentionDropout: opts.attentionDropout ?? 0,
    numClasses: opts.numClasses ?? 1000,
    inChannels: opts.inChannels ?? 3,
  };
  const { dropout: _d, attentionDropout: _a, ...ints } = c;
  for (const [n, v] of Object.entries(ints)) {
    if (!Number.isInteger(v) || v < 1) throw new OptionError(OWNER, n, `${n} must be a positive integer, got ${v}`);
  }
  if (c.imageSize % c.patchSize !== 0) {
    throw new OptionError(OWNER, "patchSize", `imageSize ${c.imageSize} is not divisible by patchSize ${c.patchSize}`);
  }
  if (c.hiddenDim % c.numHeads !== 0) {
    throw new OptionError(OWNER, "numHeads", `hiddenDim ${c.hiddenDim} is not divisible by numHeads ${c.numHeads}`);
  }
  return c;
}

/**
 * torchvision's `VisionTransformer` (no representation layer, no conv stem): patchify by
 * `conv_proj`, prepend `class_token`, `encoder`, head on the class token. Initialised as
 * torchvision: conv_proj truncated-normal with std √(1/fan_in), head zeros.
 *
 * @example
 * ```ts
 * const vit = vitS16({ imageSize: 224, numClasses: 5 });
 * const logits = vit.call(images); // (N, 3, 224, 224) → (N, 5)
 * ```
 */
export class VisionTransformer extends Module {
  /** Input size. */
  readonly imageSize: number;
  /** Patch size. */
  readonly patchSize: number;
  /** Token width. */
  readonly hiddenDim: number;
  /** Patch embedding: conv with kernel = stride = patchSize. */
  conv_proj: Conv2d;
  /** Class token (1, 1, hiddenDim), zeros at start. */
  class_token: Parameter;
  /** The transformer encoder. */
  encoder: Encoder;
  /** `head`: Linear(hiddenDim, numClasses). */
  heads: Sequential;

  /** A ViT; every size option has ViT-B/16's default. */
  constructor(opts: VisionTransformerOptions = {}) {
    super();
    const c = resolveViTConfig(opts), g = opts.generator;
    const { imageSize, patchSize: patch, hiddenDim: dim, inChannels } = c;
    this.imageSize = imageSize;
    this.patchSize = patch;
    this.hiddenDim = dim;
    this.conv_proj = new Conv2d(inChannels, dim, patch, { stride: patch, generator: g });
    truncNormal_(this.conv_proj.weight, 0, Math.sqrt(1 / (inChannels * patch * patch)), -2, 2, { generator: g });
    zeros_(this.conv_proj.bias!);
    this.class_token = new Parameter(zeros([1, 1, dim]));
    const seq = (imageSize / patch) ** 2 + 1;
    this.encoder = new Encoder(seq, c.numLayers, c.numHeads, dim, c.mlpDim, c.dropout, c.attentionDropout, g);
    const head = new Linear(dim, c.numClasses, { generator: g });
    zeros_(head.weight);
    zeros_(head.bias!);
    this.heads = new Sequential({ head });
  }

  /** (N, C, H, W) → patch tokens (N, H/p · W/p, hiddenDim). */
  #patchify(x: Tensor): Tensor {
    const [n, , h, w] = x.shape;
    if (x.ndim !== 4 || h !== this.imageSize || w !== this.imageSize) {
      throw new RangeError(
        `VisionTransformer: expected (N, C, ${this.imageSize}, ${this.imageSize}) images, got ${fmtShape(x.shape)}`,
      );
    }
    return transpose(reshape(this.conv_proj.call(x), [n, this.hiddenDim, -1]), 1, 2);
  }

  /** The encoder's output tokens (N, 1 + patches, hiddenDim); token 0 is the class token. */
  forwardFeatures(x: Tensor): Tensor {
    // A scope of its own: this method is also called directly, not only through `call`.
    return scope(() => {
      const cls = expand(this.class_token, [x.shape[0], 1, this.hiddenDim]);
      return this.encoder.call(cat([cls, this.#patchify(x)], 1));
    });
  }

  /** (N, C, H, W) → logits (N, numClasses). */
  override forward(x: Tensor): Tensor {
    return this.heads.call(this.embed(x));
  }

  /** (N, C, H, W) → the class token after the final norm (N, hiddenDim): what the head reads. */
  embed(x: Tensor): Tensor {
    return flatten(narrow(this.forwardFeatures(x), 1, 0, 1), 1);
  }
}

/** ViT-S/16's sizes: 384 wide, 12 layers, 6 heads, MLP 1536, 16-pixel patches. */
export const VIT_S16: Readonly<VisionTransformerOptions> = {
  patchSize: 16,
  numLayers: 12,
  numHeads: 6,
  hiddenDim: 384,
  mlpDim: 1536,
};

/** ViT-S/16: 384 wide, 12 layers, 6 heads, MLP 1536 (22.05 M parameters at 224², 1000 classes). */
export function vitS16(opts: VisionTransformerOptions = {}): VisionTransformer {
  return new VisionTransformer({ ...VIT_S16, ...opts });
}

/** ViT-B/16 (torchvision's `vit_b_16`): 768 wide, 12 layers, 12 heads, MLP 3072 (86.57 M parameters). */
export function vitB16(opts: VisionTransformerOptions = {}): VisionTransformer {
  return new VisionTransformer({ patchSize: 16, numLayers: 12, numHeads: 12, hiddenDim: 768, mlpDim: 3072, ...opts });
}
