/**
 * torchvision's Swin Transformer (v1: `swin_t`, `swin_b`): a 4×4 patch embedding, stages of
 * pre-norm blocks with window attention (regular and shifted windows alternating, a learned
 * relative position bias per head), patch merging between stages, a final LayerNorm, global
 * average pooling and a linear head, with torchvision's parameter names (`features.0.0.weight`,
 * `features.1.0.attn.relative_position_bias_table`, `features.1.0.attn.relative_position_index`,
 * `features.2.reduction.weight`, `norm.weight`, `head.weight`, …), so torchvision state dicts
 * load unchanged and strictly.
 *
 * Sizes that are not multiples of the window are handled as torchvision 0.14 does: inside
 * every attention the (B, H, W, C) map is zero-padded at its end up to multiples of the window
 * (the padded tokens take part in the attention, unmasked), a dim whose padded size is not
 * larger than the window is not shifted, and the padding is cropped off afterwards; patch
 * merging pads odd sizes by one. So any input of at least `patchSize` pixels works, e.g.
 * 28×28 MedMNIST images (7×7, 4×4, 2×2 and 1×1 tokens at the four stages).
 */
import { scaledDotProductAttention } from "../core/ops/attention.ts";
import { tensor, zeros } from "../core/ops/creation.ts";
import { dropout } from "../core/ops/dropout.ts";
import { add, contiguous } from "../core/ops/elementwise.ts";
import { cat, indexSelect, pad } from "../core/ops/join.ts";
import type { Generator } from "../core/ops/random.ts";
import { mean } from "../core/ops/reduce.ts";
import { permute, reshape, slice, squeeze } from "../core/ops/view.ts";
import { roll, shiftedWindowMask2d, windowPartition2d, windowReverse2d } from "../core/ops/window.ts";
import { Tensor } from "../core/tensor.ts";
import { scope } from "../core/scope.ts";
import { fmtShape } from "../core/shape.ts";
import { chain, Sequential } from "../core/nn/containers.ts";
import { Conv2d } from "../core/nn/conv.ts";
import { truncNormal_, zeros_ } from "../core/nn/init.ts";
import { Dropout, GELU, Linear, StochasticDepth } from "../core/nn/linear.ts";
import { Module, Parameter } from "../core/nn/module.ts";
import { LayerNorm } from "../core/nn/norm.ts";
import { OptionError, positiveIntOption } from "../util/errors.ts";

/** A size given once for both spatial dims, or as (height, width). */
export type SizePair = number | readonly [number, number];

const OWNER = "SwinTransformer";

const pair = (v: SizePair): [number, number] => (typeof v === "number" ? [v, v] : [v[0], v[1]]);

/** torchvision's initialisation of every Linear in a Swin: weight ~ trunc N(0, 0.02²), bias 0. */
function linear(inF: number, outF: number, g?: Generator, bias = true): Linear {
  const l = new Linear(inF, outF, { bias, generator: g });
  truncNormal_(l.weight, 0, 0.02, -2, 2, { generator: g });
  if (l.bias) zeros_(l.bias);
  return l;
}

/**
 * The relative position index of a wh×ww window (torchvision's `relative_position_index`,
 * flattened): entry a·N + b (N = wh·ww, tokens row-major) is the row of the bias table for the
 * offset of token a from token b, (Δh + wh − 1)·(2ww − 1) + (Δw + ww − 1).
 */
export function relativePositionIndex(windowSize: SizePair): Int32Array {
  const [wh, ww] = pair(windowSize);
  const N = wh * ww, out = new Int32Array(N * N);
  for (let a = 0; a < N; a++) {
    for (let b = 0; b < N; b++) {
      const dh = Math.floor(a / ww) - Math.floor(b / ww) + wh - 1, dw = (a % ww) - (b % ww) + ww - 1;
      out[a * N + b] = dh * (2 * ww - 1) + dw;
    }
  }
  return out;
}

/**
 * The shift a Swin attention uses on a padded hp×wp map (torchvision 0.14): none in a dim whose
 * padded size is not larger than the window.
 */
export function effectiveShift(
  paddedH: number,
  paddedW: number,
  windowSize: SizePair,
  shiftSize: SizePair,
): [number, number] {
  const [wh, ww] = pair(windowSize), [sh, sw] = pair(shiftSize);
  return [wh >= paddedH ? 0 : sh, ww >= paddedW ? 0 : sw];
}

/** torchvision's `Permute`: reorders dims (no parameters). */
export class Permute extends Module {
  /** The new order of the dims. */
  readonly dims: readonly number[];

  /** Permutes by `dims`. */
  constructor(dims: readonly number[]) {
    super();
    this.dims = [...dims];
  }

  /** x → x.permute(dims). */
  override forward(x: Tensor): Tensor {
    return permute(x, this.dims);
  }
}

/** Options of `ShiftedWindowAttention`. */
export interface ShiftedWindowAttentionOptions {
  /** Dropout on the attention weights, in training (default 0). */
  attentionDropout?: number;
  /** Dropout after the output projection, in training (default 0). */
  dropout?: number;
  /** Generator for the initial weights and the dropout masks. */
  generator?: Generator;
}

/**
 * Window multi-head self-attention with a relative position bias (torchvision's
 * `ShiftedWindowAttention`): `qkv`, `proj`, `relative_position_bias_table`
 * ((2wh − 1)(2ww − 1), heads) and the `relative_position_index` buffer (int32 here, int64 in
 * PyTorch; safetensors' I64 reads as int32). Shifted windows get Swin's −100 mask between
 * regions that the cyclic shift brought together.
 */
export class ShiftedWindowAttention extends Module {
  /** Window (height, width). */
  readonly windowSize: [number, number];
  /** Shift (height, width) before padding rules; (0, 0) for a regular block. */
  readonly shiftSize: [number, number];
  /** Heads. */
  readonly numHeads: number;
  /** Attention-weight dropout probability. */
  readonly attentionDropout: number;
  /** Output dropout probability. */
  readonly dropout: number;
  /** Learned bias per relative offset and head. */
  relative_position_bias_table: Parameter;
  /** Flattened (N·N) int32 index into the table. */
  declare relative_position_index: Tensor;
  /** Linear(dim, 3·dim): queries, keys, values. */
  qkv: Linear;
  /** Linear(dim, dim): output projection. */
  proj: Linear;
  #generator?: Generator;

  /** Attention over `dim`-wide tokens in windows of `windowSize`, shifted by `shiftSize`. */
  constructor(
    dim: number,
    windowSize: SizePair,
    shiftSize: SizePair,
    numHeads: number,
    opts: ShiftedWindowAttentionOptions = {},
  ) {
    super();
    const ws = pair(windowSize), ss = pair(shiftSize), g = opts.generator;
    if (!ws.every((w) => Number.isInteger(w) && w > 0)) {
      throw new RangeError(`ShiftedWindowAttention: windowSize must be positive integers, got ${ws}`);
    }
    if (!ss.every((s, i) => Number.isInteger(s) && s >= 0 && s < ws[i])) {
      throw new RangeError(`ShiftedWindowAttention: shiftSize must be in [0, window), got ${ss}`);
    }
    if (!Number.isInteger(numHeads) || numHeads < 1 || dim % numHeads !== 0) {
      throw new RangeError(`ShiftedWindowAttention: numHeads ${numHeads} must divide dim ${dim}`);
    }
    this.windowSize = ws;
    this.shiftSize = ss;
    this.numHeads = numHeads;
    this.attentionDropout = opts.attentionDropout ?? 0;
    this.dropout = opts.dropout ?? 0;
    this.#generator = g;
    this.relative_position_bias_table = new Parameter(
      truncNormal_(zeros([(2 * ws[0] - 1) * (2 * ws[1] - 1), numHeads]), 0, 0.02, -2, 2, { generator: g }),
    );
    this.registerBuffer("relative_position_index", tensor(relativePositionIndex(ws)));
    this.qkv = linear(dim, 3 * dim, g);
    this.proj = linear(dim, dim, g);
  }

  /** The bias (heads, N, N) gathered from the table. */
  relativePositionBias(): Tensor {
    const N = this.windowSize[0] * this.windowSize[1];
    const rows = indexSelect(this.relative_position_bias_table, 0, this.relative_position_index);
    return permute(reshape(rows, [N, N, this.numHeads]), [2, 0, 1]);
  }

  /** (B, H, W, C) → (B, H, W, C). */
  override forward(x: Tensor): Tensor {
    if (x.ndim !== 4) {
      throw new RangeError(`ShiftedWindowAttention: expected (B, H, W, C), got ${fmtShape(x.shape)}`);
    }
    const [B, H, W, C] = x.shape, [wh, ww] = this.windowSize, heads = this.numHeads;
    const padB = (wh - (H % wh)) % wh, padR = (ww - (W % ww)) % ww;
    let h = padB || padR ? pad(x, [0, 0, 0, padR, 0, padB]) : x;
    const Hp = H + padB, Wp = W + padR;
    const shift = effectiveShift(Hp, Wp, this.windowSize, this.shiftSize);
    const shifted = shift[0] > 0 || shift[1] > 0;
    if (shifted) h = roll(h, [-shift[0], -shift[1]], [1, 2]);
    const nW = (Hp / wh) * (Wp / ww), N = wh * ww, d = C / heads;
    const windows = windowPartition2d(h, this.windowSize); // (B·nW, wh, ww, C)
    const qkv = this.qkv.call(reshape(windows, [B * nW, N, C]));
    // (B, nW, N, 3, heads, d) → (3, B, nW, heads, N, d)
    const parts = permute(reshape(qkv, [B, nW, N, 3, heads, d]), [3, 0, 1, 4, 2, 5]);
    const [q, k, v] = [0, 1, 2].map((i) => squeeze(slice(parts, 0, i, i + 1), 0));
    let mask = reshape(this.relativePositionBias(), [1, 1, heads, N, N]);
    if (shifted) {
      const regions = shiftedWindowMask2d(Hp, Wp, this.windowSize, shift);
      mask = add(mask, reshape(regions, [1, nW, 1, N, N]));
    }
    const attnP = this.training ? this.attentionDropout : 0;
    const o = scaledDotProductAttention(q, k, v, { mask, dropoutP: attnP, generator: this.#generator });
    // (B, nW, heads, N, d) → (B·nW, N, C)
    const merged = reshape(permute(o, [0, 1, 3, 2, 4]), [B * nW, N, C]);
    const out = dropout(this.proj.call(merged), this.dropout, this.training, { generator: this.#generator });
    let y = windowReverse2d(reshape(out, [B * nW, wh, ww, C]), this.windowSize, Hp, Wp);
    if (shifted) y = roll(y, shift, [1, 2]);
    if (padB || padR) y = contiguous(slice(slice(y, 1, 0, H), 2, 0, W));
    return y;
  }

  /** The hyper-parameters. */
  override extraRepr(): string {
    return `window_size=${this.windowSize}, shift_size=${this.shiftSize}, num_heads=${this.numHeads}`;
  }
}

/** Options of `SwinTransformerBlock`. */
export interface SwinTransformerBlockOptions extends ShiftedWindowAttentionOptions {
  /** MLP hidden width over `dim` (default 4). */
  mlpRatio?: number;
  /** Drop-path probability of both residual branches, in training (default 0). */
  stochasticDepthProb?: number;
}

/** Pre-norm block: x + drop_path(attn(norm1 x)), then + drop_path(mlp(norm2 ·)). */
export class SwinTransformerBlock extends Module {
  /** Norm before attention. */
  norm1: LayerNorm;
  /** Window attention. */
  attn: ShiftedWindowAttention;
  /** Stochastic depth of both branches (identity in eval mode). */
  stochastic_depth: StochasticDepth;
  /** Norm before the MLP. */
  norm2: LayerNorm;
  /** Linear → GELU → Dropout → Linear → Dropout (keys `mlp.0`, `mlp.3`). */
  mlp: Sequential;

  /** A block over `dim`-wide tokens. */
  constructor(
    dim: number,
    numHeads: number,
    windowSize: SizePair,
    shiftSize: SizePair,
    opts: SwinTransformerBlockOptions = {},
  ) {
    super();
    const g = opts.generator, p = opts.dropout ?? 0;
    this.norm1 = new LayerNorm(dim, { eps: 1e-5 });
    this.attn = new ShiftedWindowAttention(dim, windowSize, shiftSize, numHeads, opts);
    this.stochastic_depth = new StochasticDepth(opts.stochasticDepthProb ?? 0, "row", { generator: g });
    this.norm2 = new LayerNorm(dim, { eps: 1e-5 });
    const hidden = Math.trunc(dim * (opts.mlpRatio ?? 4));
    this.mlp = new Sequential(
      linear(dim, hidden, g),
      new GELU(),
      new Dropout(p, { generator: g }),
      linear(hidden, dim, g),
      new Dropout(p, { generator: g }),
    );
  }

  /** (B, H, W, C) → (B, H, W, C). */
  override forward(x: Tensor): Tensor {
    const x1 = add(x, chain(x, this.norm1, this.attn, this.stochastic_depth));
    return add(x1, chain(x1, this.norm2, this.mlp, this.stochastic_depth));
  }
}

/** Patch merging: 2×2 neighbours concatenated (odd sizes padded), `norm`(4C), `reduction` to 2C. */
export class PatchMerging extends Module {
  /** Input width C. */
  readonly dim: number;
  /** Linear(4C, 2C), no bias. */
  reduction: Linear;
  /** LayerNorm(4C). */
  norm: LayerNorm;

  /** Merges `dim`-wide tokens. */
  constructor(dim: number, g?: Generator) {
    super();
    this.dim = dim;
    this.reduction = linear(4 * dim, 2 * dim, g, false);
    this.norm = new LayerNorm(4 * dim, { eps: 1e-5 });
  }

  /** (B, H, W, C) → (B, ⌈H/2⌉, ⌈W/2⌉, 2C). */
  override forward(x: Tensor): Tensor {
    const [, H, W] = x.shape;
    const h = H % 2 || W % 2 ? pad(x, [0, 0, 0, W % 2, 0, H % 2]) : x;
    const at = (i: number, j: number) => slice(slice(h, 1, i, undefined, 2), 2, j, undefined, 2);
    return chain(cat([at(0, 0), at(1, 0), at(0, 1), at(1, 1)], -1), this.norm, this.reduction);
  }
}

/** Options of `SwinTransformer`, `swinT` and `swinB`. */
export interface SwinTransformerOptions {
  /** Square input size the model is built for (default 224); any input of at least `patchSize` pixels runs. */
  imageSize?: number;
  /** Patch edge in pixels (default 4). */
  patchSize?: SizePair;
  /** Width of the first stage (default 96, Swin-T); stage i is embedDim·2ⁱ wide. */
  embedDim?: number;
  /** Blocks per stage (default [2, 2, 6, 2]). */
  depths?: readonly number[];
  /** Heads per stage (default [3, 6, 12, 24]). */
  numHeads?: readonly number[];
  /** Attention window (default 7). */
  windowSize?: SizePair;
  /** MLP hidden width over the block width (default 4). */
  mlpRatio?: number;
  /** Dropout in the blocks, in training (default 0). */
  dropout?: number;
  /** Dropout on attention weights, in training (default 0). */
  attentionDropout?: number;
  /** Stochastic depth of the last block, rising linearly from 0 at the first (default 0.1; swinT 0.2, swinB 0.5). */
  stochasticDepthProb?: number;
  /** Classes of the head (default 1000). */
  numClasses?: number;
  /** Input channels (default 3). */
  inChannels?: number;
  /** Generator for the initial weights and the dropout masks (default: the global one). */
  generator?: Generator;
}

/** The sizes of a `SwinTransformer`, every default filled in. */
export interface SwinTransformerConfig {
  /** Input size. */
  imageSize: number;
  /** Patch (height, width). */
  patchSize: [number, number];
  /** First stage width. */
  embedDim: number;
  /** Blocks per stage. */
  depths: number[];
  /** Heads per stage. */
  numHeads: number[];
  /** Window (height, width). */
  windowSize: [number, number];
  /** MLP ratio. */
  mlpRatio: number;
  /** Block dropout. */
  dropout: number;
  /** Attention dropout. */
  attentionDropout: number;
  /** Stochastic depth of the last block. */
  stochasticDepthProb: number;
  /** Classes. */
  numClasses: number;
  /** Input channels. */
  inChannels: number;
}

const positiveInt = (name: string, v: unknown): number => positiveIntOption(OWNER, name, v);

function sizePair(name: string, v: unknown): [number, number] {
  if (typeof v === "number") return [positiveInt(name, v), v];
  if (!Array.isArray(v) || v.length !== 2) {
    throw new OptionError(OWNER, name, `${name} must be a positive integer or two of them, got ${JSON.stringify(v)}`);
  }
  return [positiveInt(`${name}[0]`, v[0]), positiveInt(`${name}[1]`, v[1])];
}

function probability(name: string, v: number): number {
  if (!(typeof v === "number" && v >= 0 && v < 1)) {
    throw new OptionError(OWNER, name, `${name} must be in [0, 1), got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * Fills in the defaults of `opts` (Swin-T's sizes) and checks them without building anything
 * (the constructor's own validation): an {@linkcode OptionError} naming the option for a size
 * that is not a positive integer, `depths` and `numHeads` of different lengths, a stage width
 * embedDim·2ⁱ that `numHeads[i]` does not divide, a probability outside [0, 1), or an
 * `imageSize` smaller than the patch.
 */
export function resolveSwinConfig(opts: SwinTransformerOptions = {}): SwinTransformerConfig {
  const list = (name: string, v: readonly number[] | undefined, dflt: number[]): number[] => {
    const a = v ?? dflt;
    if (!Array.isArray(a) || a.length === 0) {
      throw new OptionError(
        OWNER,
        name,
        `${name} must be a non-empty list of positive integers, got ${JSON.stringify(a)}`,
      );
    }
    return a.map((x, i) => positiveInt(`${name}[${i}]`, x));
  };
  const c: SwinTransformerConfig = {
    imageSize: positiveInt("imageSize", opts.imageSize ?? 224),
    patchSize: sizePair("patchSize", opts.patchSize ?? 4),
    embedDim: positiveInt("embedDim", opts.embedDim ?? 96),
    depths: list("depths", opts.depths, [2, 2, 6, 2]),
    numHeads: list("numHeads", opts.numHeads, [3, 6, 12, 24]),
    windowSize: sizePair("windowSize", opts.windowSize ?? 7),
    mlpRatio: opts.mlpRatio ?? 4,
    dropout: probability("dropout", opts.dropout ?? 0),
    attentionDropout: probability("attentionDropout", opts.attentionDropout ?? 0),
    stochasticDepthProb: probability("stochasticDepthProb", opts.stochasticDepthProb ?? 0.1),
    numClasses: positiveInt("numClasses", opts.numClasses ?? 1000),
    inChannels: positiveInt("inChannels", opts.inChannels ?? 3),
  };
  if (!(typeof c.mlpRatio === "number" && Number.isFinite(c.mlpRatio) && Math.trunc(c.embedDim * c.mlpRatio) >= 1)) {
    throw new OptionError(OWNER, "mlpRatio", `mlpRatio must be a positive number, got ${JSON.stringify(c.mlpRatio)}`);
  }
  if (c.numHeads.length !== c.depths.length) {
    throw new OptionError(
      OWNER,
      "numHeads",
      `numHeads has ${c.numHeads.length} entries but depths has ${c.depths.length} (one per stage)`,
    );
  }
  c.numHeads.forEach((h, i) => {
    const dim = c.embedDim * 2 ** i;
    if (dim % h !== 0) {
      throw new OptionError(
        OWNER,
        `numHeads[${i}]`,
        `stage ${i} is ${dim} wide, not divisible by numHeads[${i}] = ${h}`,
      );
    }
  });
  const [ph, pw] = c.patchSize;
  if (c.imageSize < Math.max(ph, pw)) {
    throw new OptionError(
      OWNER,
      "patchSize",
      `imageSize ${c.imageSize} is smaller than patchSize ${ph === pw ? ph : `${ph}×${pw}`}`,
    );
  }
  return c;
}

/**
 * torchvision's `SwinTransformer` (v1). `features.0` embeds 4×4 patches (conv, permute to
 * channels-last, LayerNorm); `features.1, 3, 5, 7` are the stages (block i of a stage shifts its
 * windows by ⌊window/2⌋ when i is odd), `features.2, 4, 6` the patch mergings; then `norm`, a
 * global average pool and `head`. Initialised as torchvision (Linear weights and the bias tables
 * ~ trunc N(0, 0.02²), Linear biases 0; the patch conv with PyTorch's default).
 *
 * @example
 * ```ts
 * const swin = swinT({ numClasses: 5 });
 * const logits = swin.call(images); // (N, 3, 224, 224) → (N, 5); 28×28 inputs work too
 * ```
 */
export class SwinTransformer extends Module {
  /** The resolved sizes. */
  readonly config: SwinTransformerConfig;
  /** Patch embedding, then stages and patch mergings. */
  features: Sequential;
  /** Final LayerNorm over embedDim·2^(stages−1). */
  norm: LayerNorm;
  /** Linear head. */
  head: Linear;

  /** A Swin; every size option has Swin-T's default. */
  constructor(opts: SwinTransformerOptions = {}) {
    super();
    const c = resolveSwinConfig(opts), g = opts.generator;
    this.config = c;
    const layers: Module[] = [
      new Sequential(
        new Conv2d(c.inChannels, c.embedDim, c.patchSize, { stride: c.patchSize, generator: g }),
        new Permute([0, 2, 3, 1]),
        new LayerNorm(c.embedDim, { eps: 1e-5 }),
      ),
    ];
    const total = c.depths.reduce((a, b) => a + b, 0);
    let id = 0;
    c.depths.forEach((depth, stage) => {
      const dim = c.embedDim * 2 ** stage, blocks: Module[] = [];
      for (let i = 0; i < depth; i++, id++) {
        const shift = i % 2 === 0 ? [0, 0] as const : [c.windowSize[0] >> 1, c.windowSize[1] >> 1] as const;
        blocks.push(
          new SwinTransformerBlock(dim, c.numHeads[stage], c.windowSize, shift, {
            mlpRatio: c.mlpRatio,
            dropout: c.dropout,
            attentionDropout: c.attentionDropout,
            // torchvision divides by (total − 1); a single block gets none.
            stochasticDepthProb: total > 1 ? (c.stochasticDepthProb * id) / (total - 1) : 0,
            generator: g,
          }),
        );
      }
      layers.push(new Sequential(...blocks));
      if (stage < c.depths.length - 1) layers.push(new PatchMerging(dim, g));
    });
    this.features = new Sequential(...layers);
    const width = c.embedDim * 2 ** (c.depths.length - 1);
    this.norm = new LayerNorm(width, { eps: 1e-5 });
    this.head = linear(width, c.numClasses, g);
  }

  /** The final normalised feature map (N, H', W', width), channels last. */
  forwardFeatures(x: Tensor): Tensor {
    // A scope of its own: this method is also called directly, not only through `call`.
    return scope(() => {
      const { inChannels, patchSize: [ph, pw] } = this.config;
      if (!(x instanceof Tensor) || x.ndim !== 4 || x.shape[1] !== inChannels || x.shape[2] < ph || x.shape[3] < pw) {
        throw new RangeError(
          `SwinTransformer: expected (N, ${inChannels}, H, W) images with H ≥ ${ph} and W ≥ ${pw}, got ${
            x instanceof Tensor ? fmtShape(x.shape) : typeof x
          }`,
        );
      }
      return chain(x, this.features, this.norm);
    });
  }

  /** (N, C, H, W) → logits (N, numClasses). */
  override forward(x: Tensor): Tensor {
    return this.head.call(this.embed(x));
  }

  /** (N, C, H, W) → the pooled features the head reads (N, embedDim·8): the penultimate layer. */
  embed(x: Tensor): Tensor {
    return mean(this.forwardFeatures(x), [1, 2]);
  }
}

/** Swin-T's sizes: embed 96, depths [2, 2, 6, 2], heads [3, 6, 12, 24], window 7, stochastic depth 0.2. */
export const SWIN_T: Readonly<SwinTransformerOptions> = {
  patchSize: 4,
  embedDim: 96,
  depths: [2, 2, 6, 2],
  numHeads: [3, 6, 12, 24],
  windowSize: 7,
  stochasticDepthProb: 0.2,
};

/** Swin-B's sizes: embed 128, depths [2, 2, 18, 2], heads [4, 8, 16, 32], window 7, stochastic depth 0.5. */
export const SWIN_B: Readonly<SwinTransformerOptions> = {
  patchSize: 4,
  embedDim: 128,
  depths: [2, 2, 18, 2],
  numHeads: [4, 8, 16, 32],
  windowSize: 7,
  stochasticDepthProb: 0.5,
};

/** Swin-T (torchvision's `swin_t`, 28.29 M parameters at 1000 classes). */
export function swinT(opts: SwinTransformerOptions = {}): SwinTransformer {
  return new SwinTransformer({ ...SWIN_T, ...opts });
}

/** Swin-B (torchvision's `swin_b`, 87.77 M parameters at 1000 classes). */
export function swinB(opts: SwinTransformerOptions = {}): SwinTransformer {
  return new SwinTransformer({ ...SWIN_B, ...opts });
}
