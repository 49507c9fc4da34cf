/**
 * The building blocks of the DDPM U-Net (`models/unet.ts`), laid out and named as diffusers'
 * `UNet2DModel` blocks so that state dicts use the same keys: `ResnetBlock2D` (`norm1`,
 * `conv1`, `time_emb_proj`, `norm2`, `conv2`, `conv_shortcut`), `AttentionBlock2D` (`group_norm`,
 * `to_q`, `to_k`, `to_v`, `to_out.0`), `Downsample2D` / `Upsample2D` (`conv`), and the level
 * containers `DownBlock2D` / `UpBlock2D` (`attentions`, `resnets`, `downsamplers` /
 * `upsamplers`) and `UNetMidBlock2D`.
 */
import { scaledDotProductAttention } from "../core/ops/attention.ts";
import { add, contiguous } from "../core/ops/elementwise.ts";
import { interpolate } from "../core/ops/interpolate.ts";
import { cat } from "../core/ops/join.ts";
import type { Generator } from "../core/ops/random.ts";
import { narrow, permute, reshape, t, transpose } from "../core/ops/view.ts";
import { matmul } from "../core/ops/matmul.ts";
import { scope } from "../core/scope.ts";
import { fmtShape } from "../core/shape.ts";
import type { Tensor } from "../core/tensor.ts";
import { chain, type ChainStage, ModuleList } from "../core/nn/containers.ts";
import { Conv2d } from "../core/nn/conv.ts";
import { Dropout, Linear, SiLU } from "../core/nn/linear.ts";
import { Module } from "../core/nn/module.ts";
import { packParameters } from "../core/nn/packed.ts";
import { GroupNorm } from "../core/nn/norm.ts";
import { OptionError } from "../util/errors.ts";

/**
 * The group count a GroupNorm over `channels` channels uses: the largest divisor of
 * `channels` that is ≤ `maxGroups` (so 32 stays 32 for 64 channels, and 48 channels under a
 * cap of 32 get 24 groups). diffusers requires `channels % maxGroups == 0`; where that holds
 * the two agree.
 */
export function normGroups(channels: number, maxGroups: number): number {
  if (!Number.isInteger(channels) || channels < 1) {
    throw new RangeError(`normGroups: channels must be a positive integer, got ${channels}`);
  }
  if (!Number.isInteger(maxGroups) || maxGroups < 1) {
    throw new RangeError(`normGroups: maxGroups must be a positive integer, got ${maxGroups}`);
  }
  for (let g = Math.min(maxGroups, channels); g > 1; g--) if (channels % g === 0) return g;
  return 1;
}

/** Options shared by the U-Net blocks. */
export interface UNetBlockOptions {
  /** Largest GroupNorm group count (capped per layer by `normGroups`; default 32). */
  numGroups?: number;
  /** GroupNorm epsilon (default 1e-5). */
  eps?: number;
  /** Dropout probability inside the residual blocks (default 0). */
  dropout?: number;
  /** Generator for the initial weights and the dropout masks (default: the global one). */
  generator?: Generator;
}

/**
 * The time-embedding projections of several residual blocks in one product: their
 * `time_emb_proj` weights side by side (as the attention's q/k/v), each block reading its own
 * columns. One product instead of one per block, and in the backward pass one join of the
 * blocks' column gradients instead of a sum of one padded gradient per block.
 */
export class TimeShifts {
  readonly #columns = new Map<ResnetBlock2D, Tensor>();

  /** The projections of silu(temb) `tembAct` (B, tembChannels) for `blocks`. */
  constructor(readonly tembAct: Tensor, blocks: readonly ResnetBlock2D[]) {
    const projections = blocks.map((b) => b.time_emb_proj);
    const weight = cat(projections.map((p) => p.weight), 0, { share: true });
    const bias = cat(projections.map((p) => p.bias!), 0, { share: true });
    const all = add(matmul(tembAct, t(weight)), bias);
    let at = 0;
    for (const b of blocks) {
      this.#columns.set(b, narrow(all, 1, at, b.outChannels));
      at += b.outChannels;
    }
  }

  /** `block`'s projection (B, its out channels), or undefined when it was not among the blocks. */
  of(block: ResnetBlock2D): Tensor | undefined {
    return this.#columns.get(block);
  }
}

/** What a residual block is conditioned on: silu(temb), or the projections computed for it. */
export type TimeConditioning = Tensor | TimeShifts;

/**
 * The DDPM residual block (diffusers' `ResnetBlock2D` with `time_embedding_norm="default"`):
 * h = conv1(silu(norm1 x)) + time_emb_proj(silu temb)[:, :, None, None];
 * h = conv2(dropout(silu(norm2 h))); out = conv_shortcut(x) + h (1×1 shortcut only when the
 * channel count changes). `forward` takes the already activated embedding silu(temb), which
 * the U-Net computes once for all blocks. Each SiLU runs fused into the GroupNorm before it
 * (`GroupNorm.call(x, "silu")`).
 */
export class ResnetBlock2D extends Module {
  /** Input channels. */
  readonly inChannels: number;
  /** Output channels. */
  readonly outChannels: number;
  /** GroupNorm over the input. */
  norm1: GroupNorm;
  /** 3×3 conv, in → out. */
  conv1: Conv2d;
  /** Linear projection of the time embedding to one shift per output channel. */
  time_emb_proj: Linear;
  /** GroupNorm over the first conv's output. */
  norm2: GroupNorm;
  /** Dropout before the second conv. */
  dropout: Dropout;
  /** 3×3 conv, out → out. */
  conv2: Conv2d;
  /**
   * SiLU, kept in the module tree as in diffusers (it holds no state); `forward` fuses it into
   * `norm1`/`norm2`.
   */
  nonlinearity: SiLU = new SiLU();
  /** 1×1 conv on the shortcut when in ≠ out, else null. */
  conv_shortcut: Conv2d | null;

  /** A block from `inChannels` to `outChannels` conditioned on a `tembChannels` embedding. */
  constructor(inChannels: number, outChannels: number, tembChannels: number, opts: UNetBlockOptions = {}) {
    super();
    const g = opts.generator, groups = opts.numGroups ?? 32, eps = opts.eps ?? 1e-5;
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.norm1 = new GroupNorm(normGroups(inChannels, groups), inChannels, { eps });
    this.conv1 = new Conv2d(inChannels, outChannels, 3, { padding: 1, generator: g });
    this.time_emb_proj = new Linear(tembChannels, outChannels, { generator: g });
    this.norm2 = new GroupNorm(normGroups(outChannels, groups), outChannels, { eps });
    this.dropout = new Dropout(opts.dropout ?? 0, { generator: g });
    this.conv2 = new Conv2d(outChannels, outChannels, 3, { padding: 1, generator: g });
    this.conv_shortcut = inChannels !== outChannels ? new Conv2d(inChannels, outChannels, 1, { generator: g }) : null;
  }

  /** x (B, in, H, W), silu(temb) (B, tembChannels) or its projections → (B, out, H, W). */
  override forward(x: Tensor, temb: TimeConditioning): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.inChannels) {
      throw new RangeError(
        `ResnetBlock2D: expected (B, ${this.inChannels}, H, W) input, got shape ${fmtShape(x.shape)}`,
      );
    }
    const tembAct = temb instanceof TimeShifts ? temb.tembAct : temb;
    const projected = (temb instanceof TimeShifts ? temb.of(this) : undefined) ?? this.time_emb_proj.call(tembAct);
    const shift = reshape(projected, [tembAct.shape[0], this.outChannels, 1, 1]);
    const h = chain(
      x,
      (h) => this.norm1.call(h, "silu"),
      this.conv1,
      (h) => add(h, shift),
      (h) => this.norm2.call(h, "silu"),
      this.dropout,
      this.conv2,
    );
    const shortcut = this.conv_shortcut ? this.conv_shortcut.call(x) : x;
    return add(shortcut, h);
  }
}

/** Options of `AttentionBlock2D`: exactly one of `numHeads` and `headDim`, else one head. */
export interface AttentionHeadOptions {
  /** Number of heads (must divide the channels). */
  numHeads?: number;
  /** Channels per head (must divide the channels); heads = channels / headDim. */
  headDim?: number;
}

/** The number of heads for `channels` channels under `opts` (one head by default). */
export function attentionHeads(channels: number, opts: AttentionHeadOptions): number {
  if (opts.numHeads !== undefined && opts.headDim !== undefined) {
    throw new OptionError("AttentionBlock2D", "numHeads", "give numHeads or headDim, not both");
  }
  if (opts.headDim !== undefined) {
    if (!Number.isInteger(opts.headDim) || opts.headDim < 1 || channels % opts.headDim !== 0) {
      throw new OptionError(
        "AttentionBlock2D",
        "headDim",
        `headDim ${opts.headDim} must be a positive divisor of ${channels} (the block's channels)`,
      );
    }
    return channels / opts.headDim;
  }
  const heads = opts.numHeads ?? 1;
  if (!Number.isInteger(heads) || heads < 1 || channels % heads !== 0) {
    throw new OptionError(
      "AttentionBlock2D",
      "numHeads",
      `numHeads ${heads} must be a positive divisor of ${channels} (the block's channels)`,
    );
  }
  return heads;
}

/**
 * Spatial self-attention with a residual connection (diffusers' `Attention` as `UNet2DModel`
 * builds it): GroupNorm → tokens (B, H·W, C) → `to_q`/`to_k`/`to_v` (Linear) → multi-head
 * `scaledDotProductAttention` (scale 1/√headDim) → `to_out.0` (Linear) → `to_out.1` (Dropout,
 * p = 0 as in diffusers) → back to (B, C, H, W), plus the input.
 */
export class AttentionBlock2D extends Module {
  /** Channels C. */
  readonly channels: number;
  /** Number of heads. */
  readonly numHeads: number;
  /** GroupNorm before the projections. */
  group_norm: GroupNorm;
  /** Query projection C → C. */
  to_q: Linear;
  /** Key projection C → C. */
  to_k: Linear;
  /** Value projection C → C. */
  to_v: Linear;
  /** `0`: output projection C → C; `1`: Dropout(0). */
  to_out: ModuleList;

  /** Self-attention over the H·W positions of a `channels`-channel map. */
  constructor(channels: number, heads: AttentionHeadOptions = {}, opts: UNetBlockOptions = {}) {
    super();
    const g = opts.generator;
    this.channels = channels;
    this.numHeads = attentionHeads(channels, heads);
    this.group_norm = new GroupNorm(normGroups(channels, opts.numGroups ?? 32), channels, { eps: opts.eps ?? 1e-5 });
    this.to_q = new Linear(channels, channels, { generator: g });
    this.to_k = new Linear(channels, channels, { generator: g });
    this.to_v = new Linear(channels, channels, { generator: g });
    this.to_out = new ModuleList([new Linear(channels, channels, { generator: g }), new Dropout(0)]);
    // q, k and v side by side: the forward pass's (C, 3C) product reads them without a copy.
    for (const name of ["weight", "bias"]) packParameters([this.to_q, this.to_k, this.to_v], name);
  }

  /** (B, C, H, W) → (B, C, H, W). */
  override forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.channels) {
      throw new RangeError(
        `AttentionBlock2D: expected (B, ${this.channels}, H, W) input, got shape ${fmtShape(x.shape)}`,
      );
    }
    const [B, C, H, W] = x.shape;
    const L = H * W, nh = this.numHeads, hd = C / nh;
    // Its own scope: the normalised map, tokens and q/k/v are freed before the output projection.
    const o = scope(() => {
      // Tokens as one dense (B·L, C) matrix, so the projections are 2-D products.
      const tokens = reshape(contiguous(transpose(reshape(this.group_norm.call(x), [B, C, L]), 1, 2)), [B * L, C]);
      // q, k and v in one (B·L, C) × (C, 3C) product: the three Linears' weights side by side
      // (their gradients come back as dense slices of the product's, without copies).
      const projections = [this.to_q, this.to_k, this.to_v];
      const weight = cat(projections.map((p) => p.weight), 0, { share: true });
      const bias = cat(projections.map((p) => p.bias!), 0, { share: true });
      const qkv = add(matmul(tokens, t(weight)), bias);
      // (B, nh, L, hd) strided views of the q, k and v columns.
      const heads = (i: number) => permute(reshape(narrow(qkv, 1, i * C, C), [B, L, nh, hd]), [0, 2, 1, 3]);
      return scaledDotProductAttention(heads(0), heads(1), heads(2));
    });
    const y = chain(reshape(permute(o, [0, 2, 1, 3]), [B * L, C]), this.to_out.at(0), this.to_out.at(1));
    return add(permute(reshape(y, [B, H, W, C]), [0, 3, 1, 2]), x); // back to (B, C, H, W) as a strided view
  }
}

/** The spatial size (H, W) an `Upsample2D` resamples to. */
export type UpsampleSize = readonly [number, number];

/** Strided 3×3 conv (stride 2, padding 1): H → ⌈H/2⌉ (diffusers' `Downsample2D`, `use_conv`). */
export class Downsample2D extends Module {
  /** The strided conv. */
  conv: Conv2d;

  /** A downsampler keeping `channels` channels. */
  constructor(channels: number, generator?: Generator) {
    super();
    this.conv = new Conv2d(channels, channels, 3, { stride: 2, padding: 1, generator });
  }

  /** (B, C, H, W) → (B, C, ⌈H/2⌉, ⌈W/2⌉). */
  override forward(x: Tensor): Tensor {
    return this.conv.call(x);
  }
}

/**
 * Nearest-neighbour upsampling and a 3×3 conv (diffusers' `Upsample2D`, `use_conv`). The
 * target size defaults to 2×; the U-Net passes the size of the skip connection it meets next,
 * which is 2× for even sizes and undoes a ⌈H/2⌉ downsampling of odd ones (7 → 4 → 7).
 */
export class Upsample2D extends Module {
  /** The 3×3 conv after the resampling. */
  conv: Conv2d;

  /** An upsampler keeping `channels` channels. */
  constructor(channels: number, generator?: Generator) {
    super();
    this.conv = new Conv2d(channels, channels, 3, { padding: 1, generator });
  }

  /** (B, C, H, W) → (B, C, size) (default (2H, 2W)). */
  override forward(x: Tensor, size?: UpsampleSize): Tensor {
    return this.conv.call(interpolate(x, size ? { size, mode: "nearest" } : { scaleFactor: 2, mode: "nearest" }));
  }
}

/**
 * One level of the contracting path: `numLayers` residual blocks (each followed by attention
 * when the level has it) and an optional strided-conv downsampler (diffusers' `DownBlock2D` /
 * `AttnDownBlock2D`). `forward` returns the output and every intermediate the expanding path
 * takes as a skip connection (one per block, plus the downsampled output).
 */
export class DownBlock2D extends Module {
  /** Self-attention after each residual block, or null. */
  attentions: ModuleList | null;
  /** The residual blocks. */
  resnets: ModuleList;
  /** `0`: the downsampler, or null on the last level. */
  downsamplers: ModuleList | null;

  /** A level from `inChannels` to `outChannels`. */
  constructor(
    inChannels: number,
    outChannels: number,
    tembChannels: number,
    numLayers: number,
    cfg: { attention: boolean; downsample: boolean; heads: AttentionHeadOptions },
    opts: UNetBlockOptions = {},
  ) {
    super();
    const resnets: Module[] = [], attentions: Module[] = [];
    for (let i = 0; i < numLayers; i++) {
      resnets.push(new ResnetBlock2D(i === 0 ? inChannels : outChannels, outChannels, tembChannels, opts));
      if (cfg.attention) attentions.push(new AttentionBlock2D(outChannels, cfg.heads, opts));
    }
    this.attentions = cfg.attention ? new ModuleList(attentions) : null;
    this.resnets = new ModuleList(resnets);
    this.downsamplers = cfg.downsample ? new ModuleList([new Downsample2D(outChannels, opts.generator)]) : null;
  }

  /** x, silu(temb) → [output, skips]; the skips are new tensors the caller owns (the output is the last one). */
  override forward(x: Tensor, tembAct: TimeConditioning): [Tensor, Tensor[]] {
    const skips: Tensor[] = [];
    let h = x;
    for (let i = 0; i < this.resnets.length; i++) {
      // The previous output stays alive: it is a skip connection.
      h = this.resnets.at<ResnetBlock2D>(i).call(h, tembAct);
      if (this.attentions) h = this.attentions.at<AttentionBlock2D>(i).call(h);
      skips.push(h);
    }
    if (this.downsamplers) {
      h = this.downsamplers.at<Downsample2D>(0).call(h);
      skips.push(h);
    }
    return [h, skips];
  }
}

/**
 * One level of the expanding path (diffusers' `UpBlock2D` / `AttnUpBlock2D`): `numLayers`
 * residual blocks, each fed the running features concatenated (along channels) with the next
 * skip connection from the stack, each followed by attention when the level has it, and an
 * optional upsampler.
 */
export class UpBlock2D extends Module {
  /** Self-attention after each residual block, or null. */
  attentions: ModuleList | null;
  /** The residual blocks. */
  resnets: ModuleList;
  /** `0`: the upsampler, or null on the last level. */
  upsamplers: ModuleList | null;

  /**
   * A level producing `outChannels`: block i takes (i = 0 ? prevOutputChannels : outChannels)
   * plus the skip's channels (`skipChannels[i]`).
   */
  constructor(
    prevOutputChannels: number,
    outChannels: number,
    skipChannels: readonly number[],
    tembChannels: number,
    cfg: { attention: boolean; upsample: boolean; heads: AttentionHeadOptions },
    opts: UNetBlockOptions = {},
  ) {
    super();
    const resnets: Module[] = [], attentions: Module[] = [];
    skipChannels.forEach((skip, i) => {
      const inCh = (i === 0 ? prevOutputChannels : outChannels) + skip;
      resnets.push(new ResnetBlock2D(inCh, outChannels, tembChannels, opts));
      if (cfg.attention) attentions.push(new AttentionBlock2D(outChannels, cfg.heads, opts));
    });
    this.attentions = cfg.attention ? new ModuleList(attentions) : null;
    this.resnets = new ModuleList(resnets);
    this.upsamplers = cfg.upsample ? new ModuleList([new Upsample2D(outChannels, opts.generator)]) : null;
  }

  /**
   * x, the skip stack (consumed from the end; the used skips are disposed), silu(temb) and the
   * upsampler's target size → the level's output.
   */
  override forward(x: Tensor, skips: Tensor[], tembAct: TimeConditioning, upsampleSize?: UpsampleSize): Tensor {
    const withSkip = (h: Tensor): Tensor => {
      const skip = skips.pop();
      if (!skip) throw new RangeError("UpBlock2D: the skip-connection stack ran out");
      const joined = cat([h, skip], 1);
      // The stack hands each skip over: freed once read, or the up path would hold all of them to the end.
      skip.dispose();
      return joined;
    };
    // One chain, so each concatenation and block output is freed as soon as the next stage has read it.
    const stages: ChainStage[] = [];
    for (let i = 0; i < this.resnets.length; i++) {
      stages.push(withSkip, (h) => this.resnets.at<ResnetBlock2D>(i).call(h, tembAct));
      if (this.attentions) stages.push(this.attentions.at(i));
    }
    if (this.upsamplers) stages.push((h) => this.upsamplers!.at<Upsample2D>(0).call(h, upsampleSize));
    return chain(x, ...stages);
  }
}

/** The bottleneck: residual block → self-attention → residual block (diffusers' `UNetMidBlock2D`). */
export class UNetMidBlock2D extends Module {
  /** `0`: the self-attention, or null without it. */
  attentions: ModuleList | null;
  /** `0`, `1`: the residual blocks. */
  resnets: ModuleList;

  /** A mid block over `channels` channels. */
  constructor(
    channels: number,
    tembChannels: number,
    cfg: { attention: boolean; heads: AttentionHeadOptions },
    opts: UNetBlockOptions = {},
  ) {
    super();
    this.attentions = cfg.attention ? new ModuleList([new AttentionBlock2D(channels, cfg.heads, opts)]) : null;
    this.resnets = new ModuleList([
      new ResnetBlock2D(channels, channels, tembChannels, opts),
      new ResnetBlock2D(channels, channels, tembChannels, opts),
    ]);
  }

  /** x, silu(temb) → same shape. */
  override forward(x: Tensor, tembAct: TimeConditioning): Tensor {
    let h = this.resnets.at<ResnetBlock2D>(0).call(x, tembAct);
    if (this.attentions) h = this.attentions.at<AttentionBlock2D>(0).call(h);
    return this.resnets.at<ResnetBlock2D>(1).call(h, tembAct);
  }
}
