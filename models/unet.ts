/**
 * The DDPM U-Net (Ho et al. 2020) as diffusers' `UNet2DModel` lays it out, with its parameter
 * names (`conv_in`, `time_embedding.linear_1`, `class_embedding`,
 * `down_blocks.1.attentions.0.to_q`, `down_blocks.0.resnets.1.time_emb_proj`,
 * `down_blocks.0.downsamplers.0.conv`, `mid_block.resnets.0`, `up_blocks.0.resnets.2.conv_shortcut`,
 * `up_blocks.0.upsamplers.0.conv`, `conv_norm_out`, `conv_out`), so state dicts move to and from
 * PyTorch through safetensors (`scripts/make_unet_fixture.py` is the PyTorch twin).
 *
 * Shape of the network, for L = channelMults.length levels with channels c_i = base·mult_i:
 * - `conv_in` 3×3 → c_0;
 * - down level i: `numResBlocks` residual blocks (→ c_i), each followed by self-attention when
 *   the level's feature-map size is in `attentionResolutions`, then a 3×3 stride-2 conv except
 *   on the last level (as DDPM: only between levels). Sizes go s_0 = imageSize,
 *   s_{i+1} = ⌈s_i/2⌉, so 28 → 14 → 7 with three levels; an odd size such as 7 → 4 works
 *   too, and the way back resamples to the skip connection's exact size (4 → 7);
 * - mid: residual block → self-attention → residual block at c_{L−1};
 * - up level j (mirror of down level L−1−j): `numResBlocks + 1` residual blocks, each on the
 *   concatenation of the running features with the next skip connection (the skips are the
 *   `conv_in` output, every down residual/attention output and every downsampler output, used
 *   last-in first-out), attention as on the way down, then nearest upsampling + 3×3 conv except
 *   on the last level;
 * - `conv_norm_out` (GroupNorm) → SiLU → `conv_out` 3×3 → outChannels.
 *
 * Conditioning: the sinusoidal embedding of t (base channels, [cos, sin], frequencies
 * 10000^(−i/half): diffusers' `flip_sin_to_cos=True`, `freq_shift=0`) → Linear → SiLU → Linear
 * to timeEmbedDim = 4·base; with `numClasses` > 0 an `nn.Embedding(numClasses + 1, timeEmbedDim)`
 * row is added, row `numClasses` being the null class of classifier-free guidance. Each
 * residual block adds Linear(SiLU(embedding)) per channel after its first conv.
 *
 * Differences from diffusers: GroupNorm group counts are capped per layer to divide the
 * channels (`normGroups`), where diffusers would refuse; the class table has the extra null
 * row; upsampling targets the skip's size (diffusers' `UNet2DModel` always doubles).
 */
import { silu } from "../core/ops/elementwise.ts";
import type { Generator } from "../core/ops/random.ts";
import { scope } from "../core/scope.ts";
import { fmtShape } from "../core/shape.ts";
import { Tensor } from "../core/tensor.ts";
import { chain, ModuleList } from "../core/nn/containers.ts";
import { Conv2d } from "../core/nn/conv.ts";
import { Embedding, SiLU } from "../core/nn/linear.ts";
import { Module } from "../core/nn/module.ts";
import { packParameters } from "../core/nn/packed.ts";
import { GroupNorm } from "../core/nn/norm.ts";
import { OptionError, positiveIntOption } from "../util/errors.ts";
import { batchClassLabels, batchTimesteps, TimestepEmbedding, Timesteps } from "./embeddings.ts";
import {
  type AttentionHeadOptions,
  attentionHeads,
  DownBlock2D,
  normGroups,
  ResnetBlock2D,
  TimeShifts,
  UNetMidBlock2D,
  UpBlock2D,
  type UpsampleSize,
} from "./unet_blocks.ts";

/** Options of `UNet`. */
export interface UNetOptions {
  /** Image channels in (default 3). */
  inChannels?: number;
  /** Channels out (default inChannels: the predicted noise, v or x₀). */
  outChannels?: number;
  /** Channels of the first level, c_0 (default 64). */
  baseChannels?: number;
  /** Channels of level i = baseChannels·channelMults[i] (default [1, 2, 4]). */
  channelMults?: readonly number[];
  /** Residual blocks per down level; up levels have one more (default 2). */
  numResBlocks?: number;
  /** Feature-map sizes that get self-attention, e.g. [7] at 28×28 or [16] at 64×64 (default []). */
  attentionResolutions?: readonly number[];
  /** Attention heads (default 1, as DDPM); exclusive with `headDim`. */
  numHeads?: number;
  /** Channels per attention head (heads = channels / headDim); exclusive with `numHeads`. */
  headDim?: number;
  /** Self-attention in the mid block (default true). */
  midAttention?: boolean;
  /** Dropout inside the residual blocks (default 0; DDPM used 0.1 on CIFAR-10). */
  dropout?: number;
  /** Classes for class conditioning; 0 = unconditional (default 0). */
  numClasses?: number;
  /** Square input size the attention levels are chosen for (default 28). */
  imageSize?: number;
  /** Largest GroupNorm group count, capped per layer to divide its channels (default 32). */
  numGroups?: number;
  /** GroupNorm epsilon (default 1e-5). */
  normEps?: number;
  /** Generator for the initial weights and the dropout masks (default: the global one). */
  generator?: Generator;
}

/** The resolved configuration of a `UNet` (every option filled in). */
export interface UNetConfig {
  /** Image channels in. */
  inChannels: number;
  /** Channels out. */
  outChannels: number;
  /** c_0. */
  baseChannels: number;
  /** Per-level channel multipliers. */
  channelMults: number[];
  /** Residual blocks per down level. */
  numResBlocks: number;
  /** Feature-map sizes with self-attention. */
  attentionResolutions: number[];
  /** Heads per attention block as configured (`numHeads`), or null when `headDim` is used. */
  numHeads: number | null;
  /** Channels per head, or null when `numHeads` is used. */
  headDim: number | null;
  /** Whether the mid block has attention. */
  midAttention: boolean;
  /** Dropout probability in the residual blocks. */
  dropout: number;
  /** Number of classes (0 = unconditional). */
  numClasses: number;
  /** Input size the attention levels were chosen for. */
  imageSize: number;
  /** Largest GroupNorm group count. */
  numGroups: number;
  /** GroupNorm epsilon. */
  normEps: number;
  /** Width of the time (and class) embedding: 4·baseChannels. */
  timeEmbedDim: number;
  /** Feature-map size of each level at `imageSize` (s_0 = imageSize, s_{i+1} = ⌈s_i/2⌉). */
  levelSizes: number[];
}

const positiveInt = (name: string, v: unknown): number => positiveIntOption("UNet", name, v);

/**
 * Fills in the defaults of `opts` and checks every value without building anything (the
 * constructor's own validation): an {@linkcode OptionError} naming the option for a value the
 * network cannot use, such as an attention resolution no level reaches at `imageSize`, or
 * heads that do not divide an attention block's channels.
 */
export function resolveUNetConfig(opts: UNetOptions = {}): UNetConfig {
  const inChannels = positiveInt("inChannels", opts.inChannels ?? 3);
  const outChannels = positiveInt("outChannels", opts.outChannels ?? inChannels);
  const baseChannels = positiveInt("baseChannels", opts.baseChannels ?? 64);
  const mults = [...(opts.channelMults ?? [1, 2, 4])];
  if (mults.length === 0) throw new OptionError("UNet", "channelMults", "channelMults must not be empty");
  mults.forEach((m, i) => positiveInt(`channelMults[${i}]`, m));
  const numResBlocks = positiveInt("numResBlocks", opts.numResBlocks ?? 2);
  const imageSize = positiveInt("imageSize", opts.imageSize ?? 28);
  const numGroups = positiveInt("numGroups", opts.numGroups ?? 32);
  const numClasses = opts.numClasses ?? 0;
  if (!Number.isInteger(numClasses) || numClasses < 0) {
    throw new OptionError("UNet", "numClasses", `numClasses must be a non-negative integer, got ${numClasses}`);
  }
  const dropout = opts.dropout ?? 0;
  if (!(dropout >= 0 && dropout <= 1)) {
    throw new OptionError("UNet", "dropout", `dropout must be in [0, 1], got ${dropout}`);
  }
  const normEps = opts.normEps ?? 1e-5;
  if (!(normEps > 0)) throw new OptionError("UNet", "normEps", `normEps must be positive, got ${normEps}`);
  const levelSizes = [imageSize];
  for (let i = 1; i < mults.length; i++) levelSizes.push(Math.ceil(levelSizes[i - 1] / 2));
  const attentionResolutions = [...(opts.attentionResolutions ?? [])];
  for (const r of attentionResolutions) {
    if (!levelSizes.includes(r)) {
      throw new OptionError(
        "UNet",
        "attentionResolutions",
        `attention resolution ${r} is not a level size; at imageSize ${imageSize} the levels are ${
          JSON.stringify(levelSizes)
        } (one per channelMults entry, each half the one before, rounded up)`,
      );
    }
  }
  if (opts.numHeads !== undefined && opts.headDim !== undefined) {
    throw new OptionError("UNet", "numHeads", "give numHeads or headDim, not both");
  }
  const cfg: UNetConfig = {
    inChannels,
    outChannels,
    baseChannels,
    channelMults: mults,
    numResBlocks,
    attentionResolutions,
    numHeads: opts.headDim !== undefined ? null : opts.numHeads ?? 1,
    headDim: opts.headDim ?? null,
    midAttention: opts.midAttention ?? true,
    dropout,
    numClasses,
    imageSize,
    numGroups,
    normEps,
    timeEmbedDim: 4 * baseChannels,
    levelSizes,
  };
  // Every attention block's channel count must split into the heads.
  const heads = headOptions(cfg);
  mults.forEach((m, i) => {
    if (attentionResolutions.includes(levelSizes[i])) attentionHeads(baseChannels * m, heads);
  });
  if (cfg.midAttention) attentionHeads(baseChannels * mults[mults.length - 1], heads);
  return cfg;
}

function headOptions(cfg: UNetConfig): AttentionHeadOptions {
  return cfg.headDim !== null ? { headDim: cfg.headDim } : { numHeads: cfg.numHeads ?? 1 };
}

/**
 * The DDPM / diffusers `UNet2DModel` noise-prediction network (see the module notes for the
 * layout). `call(x, t, classLabels?)`: x (B, inChannels, H, W) float32, t (B) int32 or float32
 * timesteps (or one number, or a 1-element tensor, for the whole batch), classLabels (B) int32
 * in [0, numClasses] where numClasses is the null class (omitted → all null) → (B, outChannels,
 * H, W).
 *
 * @example
 * ```ts
 * const unet = new UNet({ baseChannels: 32, channelMults: [1, 2, 4], attentionResolutions: [7], numClasses: 5 });
 * const eps = unet.call(noisy, timesteps, labels); // (B, 3, 28, 28)
 * ```
 */
export class UNet extends Module {
  /** The resolved configuration. */
  readonly config: Readonly<UNetConfig>;
  /** 3×3 conv, inChannels → c_0. */
  conv_in: Conv2d;
  /** Sinusoidal projection of t to c_0 features (no parameters). */
  time_proj: Timesteps;
  /** Linear → SiLU → Linear, c_0 → timeEmbedDim. */
  time_embedding: TimestepEmbedding;
  /** (numClasses + 1, timeEmbedDim) table; row numClasses is the null class. Null when unconditional. */
  class_embedding: Embedding | null;
  /** The contracting path, one `DownBlock2D` per level. */
  down_blocks: ModuleList;
  /** The bottleneck. */
  mid_block: UNetMidBlock2D;
  /** The expanding path, one `UpBlock2D` per level (deepest first). */
  up_blocks: ModuleList;
  /** Final GroupNorm over c_0. */
  conv_norm_out: GroupNorm;
  /** SiLU, kept in the module tree as in diffusers (it holds no state); `forward` fuses it into `conv_norm_out`. */
  conv_act: SiLU = new SiLU();
  /** 3×3 conv, c_0 → outChannels. */
  conv_out: Conv2d;

  /** A U-Net; every option has a default (a 28×28 RGB, unconditional, base-64 network). */
  constructor(opts: UNetOptions = {}) {
    super();
    const cfg = resolveUNetConfig(opts);
    this.config = cfg;
    const g = opts.generator;
    const blockOpts = { numGroups: cfg.numGroups, eps: cfg.normEps, dropout: cfg.dropout, generator: g };
    const heads = headOptions(cfg);
    const ch = cfg.channelMults.map((m) => m * cfg.baseChannels);
    const L = ch.length, temb = cfg.timeEmbedDim;
    this.conv_in = new Conv2d(cfg.inChannels, ch[0], 3, { padding: 1, generator: g });
    this.time_proj = new Timesteps(ch[0], { flipSinToCos: true, downscaleFreqShift: 0 });
    this.time_embedding = new TimestepEmbedding(ch[0], temb, g);
    this.class_embedding = cfg.numClasses > 0 ? new Embedding(cfg.numClasses + 1, temb, { generator: g }) : null;
    // Channels of each skip connection, in the order they are pushed.
    const skipCh = [ch[0]];
    const down: Module[] = [];
    for (let i = 0; i < L; i++) {
      const last = i === L - 1;
      const attention = cfg.attentionResolutions.includes(cfg.levelSizes[i]);
      down.push(
        new DownBlock2D(i === 0 ? ch[0] : ch[i - 1], ch[i], temb, cfg.numResBlocks, {
          attention,
          downsample: !last,
          heads,
        }, blockOpts),
      );
      for (let j = 0; j < cfg.numResBlocks; j++) skipCh.push(ch[i]);
      if (!last) skipCh.push(ch[i]);
    }
    this.down_blocks = new ModuleList(down);
    this.mid_block = new UNetMidBlock2D(ch[L - 1], temb, { attention: cfg.midAttention, heads }, blockOpts);
    const up: Module[] = [];
    let prev = ch[L - 1];
    for (let j = 0; j < L; j++) {
      const level = L - 1 - j;
      const skips: number[] = [];
      for (let k = 0; k <= cfg.numResBlocks; k++) skips.push(skipCh.pop()!);
      const attention = cfg.attentionResolutions.includes(cfg.levelSizes[level]);
      up.push(new UpBlock2D(prev, ch[level], skips, temb, { attention, upsample: level > 0, heads }, blockOpts));
      prev = ch[level];
    }
    this.up_blocks = new ModuleList(up);
    this.conv_norm_out = new GroupNorm(normGroups(ch[0], cfg.numGroups), ch[0], { eps: cfg.normEps });
    this.conv_out = new Conv2d(ch[0], cfg.outChannels, 3, { padding: 1, generator: g });
    // The residual blocks' time projections side by side, in the order the forward pass's one
    // product (TimeShifts) reads them: no copy of them per step.
    const projections = this.modules().filter((m) => m instanceof ResnetBlock2D).map((b) => b.time_emb_proj);
    for (const name of ["weight", "bias"]) packParameters(projections, name);
  }

  /**
   * The conditioning vector emb = MLP(sinusoid(t)) (+ class row), before the blocks' SiLU: (B, timeEmbedDim).
   * Called on its own (not through `call`), its intermediates belong to the caller's scope.
   */
  embed(t: Tensor | number, batch: number, classLabels?: Tensor | null): Tensor {
    const emb = this.time_embedding.call(this.time_proj.call(batchTimesteps("UNet", t, batch)));
    if (!this.class_embedding) {
      if (classLabels) throw new RangeError("UNet: classLabels given, but the network is unconditional (numClasses 0)");
      return emb;
    }
    const labels = batchClassLabels("UNet", classLabels, batch, this.config.numClasses);
    return emb.add(this.class_embedding.call(labels));
  }

  /** x (B, inChannels, H, W), t, classLabels → (B, outChannels, H, W). */
  override forward(x: Tensor, t: Tensor | number, classLabels?: Tensor | null): Tensor {
    if (!(x instanceof Tensor) || x.ndim !== 4 || x.shape[1] !== this.config.inChannels) {
      throw new RangeError(
        `UNet: expected x of shape (B, ${this.config.inChannels}, H, W), got ${
          x instanceof Tensor ? fmtShape(x.shape) : typeof x
        }`,
      );
    }
    // Its own scope: the embedding's intermediates are freed before the blocks run.
    const tembAct = scope(() => silu(this.embed(t, x.shape[0], classLabels)));
    // Every residual block's time projection in one product.
    const resnets = this.modules().filter((m): m is ResnetBlock2D => m instanceof ResnetBlock2D);
    const temb = resnets.length > 0 ? new TimeShifts(tembAct, resnets) : tembAct;
    // The skip stack: every down-path output; the up blocks pop (and free) them in reverse order.
    const skips: Tensor[] = [this.conv_in.call(x)];
    for (const block of this.down_blocks) skips.push(...(block as DownBlock2D).call(skips.at(-1)!, temb)[1]);
    const upStage = (up: UpBlock2D) => (h: Tensor): Tensor => {
      // The upsampler meets the skip below this level's own skips: resample to its size.
      const next = skips[skips.length - 1 - up.resnets.length];
      const size: UpsampleSize | undefined = up.upsamplers && next ? [next.shape[2], next.shape[3]] : undefined;
      return up.call(h, skips, temb, size);
    };
    // One chain from the bottleneck up, so each level's output is freed once the next has read it.
    const y = chain(
      skips.at(-1)!,
      (h) => this.mid_block.call(h, temb),
      ...[...this.up_blocks].map((b) => upStage(b as UpBlock2D)),
      (h) => this.conv_norm_out.call(h, "silu"),
      this.conv_out,
    );
    if (skips.length) throw new Error(`UNet: ${skips.length} skip connections were left unused`);
    return y;
  }

  /** The configuration, as PyTorch-style text. */
  override extraRepr(): string {
    const c = this.config;
    return `in=${c.inChannels}, out=${c.outChannels}, base=${c.baseChannels}, mults=${
      JSON.stringify(c.channelMults)
    }, res_blocks=${c.numResBlocks}, attention=${JSON.stringify(c.attentionResolutions)}, classes=${c.numClasses}`;
  }
}
