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
import { fmtShape } from "../core/shape.ts";
import { MultiheadAttention } from "../core/nn/attention.ts";
import { Sequential } from "../core/nn/containers.ts";
import { Conv2d } from "../core/nn/conv.ts";
import { normal_, truncNormal_, xavierUniform_, zeros_ } from "../core/nn/init.ts";
import { Dropout, GELU, Linear } from "../core/nn/linear.ts";
import { Module, Parameter } from "../core/nn/module.ts";
import { LayerNorm } from "../core/nn/norm.ts";

/** Runs `m` on `x` and frees `x`. */
function step(m: Module, x: Tensor): Tensor {
  const y = (m.forward as (x: Tensor) => Tensor)(x);
  x.dispose();
  return y;
}

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
    h.dispose();
    const d = step(this.dropout, a);
    const x1 = add(d, x);
    d.dispose();
    const y = step(this.mlp, this.ln_2.call(x1));
    const out = add(x1, y);
    x1.dispose();
    y.dispose();
    return out;
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
    let h = add(x, this.pos_embedding);
    h = step(this.dropout, h);
    h = step(this.layers, h);
    return step(this.ln, h);
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
    const imageSize = opts.imageSize ?? 224, patch = opts.patchSize ?? 16;
    const numLayers = opts.numLayers ?? 12, heads = opts.numHeads ?? 12, dim = opts.hiddenDim ?? 768;
    const mlpDim = opts.mlpDim ?? 3072, numClasses = opts.numClasses ?? 1000, inChannels = opts.inChannels ?? 3;
    const g = opts.generator;
    const ints = { imageSize, patchSize: patch, numLayers, numHeads: heads, hiddenDim: dim, mlpDim, numClasses };
    for (const [n, v] of Object.entries({ ...ints, inChannels })) {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(`VisionTransformer: ${n} must be a positive integer, got ${v}`);
      }
    }
    if (imageSize % patch !== 0) {
      throw new RangeError(`VisionTransformer: imageSize ${imageSize} is not divisible by patchSize ${patch}`);
    }
    if (dim % heads !== 0) {
      throw new RangeError(`VisionTransformer: hiddenDim ${dim} is not divisible by numHeads ${heads}`);
    }
    this.imageSize = imageSize;
    this.patchSize = patch;
    this.hiddenDim = dim;
    this.conv_proj = new Conv2d(inChannels, dim, patch, { stride: patch, generator: g });
    truncNormal_(this.conv_proj.weight, 0, Math.sqrt(1 / (inChannels * patch * patch)), -2, 2, { generator: g });
    zeros_(this.conv_proj.bias!);
    this.class_token = new Parameter(zeros([1, 1, dim]));
    const seq = (imageSize / patch) ** 2 + 1;
    this.encoder = new Encoder(seq, numLayers, heads, dim, mlpDim, opts.dropout ?? 0, opts.attentionDropout ?? 0, g);
    const head = new Linear(dim, numClasses, { generator: g });
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
    const p = this.conv_proj.call(x);
    const flat = reshape(p, [n, this.hiddenDim, -1]);
    p.dispose();
    const t = transpose(flat, 1, 2);
    flat.dispose();
    return t;
  }

  /** The encoder's output tokens (N, 1 + patches, hiddenDim); token 0 is the class token. */
  forwardFeatures(x: Tensor): Tensor {
    const tokens = this.#patchify(x);
    const cls = expand(this.class_token, [x.shape[0], 1, this.hiddenDim]);
    const seq = cat([cls, tokens], 1);
    cls.dispose();
    tokens.dispose();
    return step(this.encoder, seq);
  }

  /** (N, C, H, W) → logits (N, numClasses). */
  override forward(x: Tensor): Tensor {
    const h = this.forwardFeatures(x);
    const first = narrow(h, 1, 0, 1);
    h.dispose();
    const cls = flatten(first, 1);
    first.dispose();
    return step(this.heads, cls);
  }
}

/** ViT-S/16: 384 wide, 12 layers, 6 heads, MLP 1536 (22.05 M parameters at 224², 1000 classes). */
export function vitS16(opts: VisionTransformerOptions = {}): VisionTransformer {
  return new VisionTransformer({ patchSize: 16, numLayers: 12, numHeads: 6, hiddenDim: 384, mlpDim: 1536, ...opts });
}

/** ViT-B/16 (torchvision's `vit_b_16`): 768 wide, 12 layers, 12 heads, MLP 3072 (86.57 M parameters). */
export function vitB16(opts: VisionTransformerOptions = {}): VisionTransformer {
  return new VisionTransformer({ patchSize: 16, numLayers: 12, numHeads: 12, hiddenDim: 768, mlpDim: 3072, ...opts });
}
