/**
 * The MAISI 3-D autoencoder (MONAI's `AutoencoderKlMaisi`), with MONAI's module tree and
 * parameter names, so MAISI weights converted to safetensors load by name
 * ({@linkcode maisiKeysFromCheckpoint} also reads the released checkpoint's shorter names):
 * - encoder `blocks`: conv_in (`blocks.0.conv.conv`), per level `numResBlocks` residual blocks
 *   (GroupNorm → SiLU → Conv3d k3, twice, plus a 1×1×1 `nin_shortcut` when the channels change),
 *   a downsample after every level but the last (zero pad one voxel at the end of each axis,
 *   Conv3d k3 stride 2), then GroupNorm and conv_out to `latentChannels` (no activation between);
 * - `quant_conv_mu`, `quant_conv_log_sigma` (1×1×1): the latent's mean and log-variance (clamped
 *   to [−30, 20]); z = μ + σ·ε with σ = exp(log σ² / 2);
 * - `post_quant_conv` (1×1×1), then the decoder: conv_in, levels in reverse with their residual
 *   blocks and an upsample (×2 trilinear, as MAISI, or nearest, then Conv3d k3) after every level
 *   but the last, GroupNorm and conv_out.
 * MAISI's defaults: channels 64/128/256, 2 blocks per level, 32 groups, ε 1e-6, 4 latent channels
 * (4× compression per axis). MAISI's attention blocks and its memory-saving convolution splits
 * are not implemented (MAISI's own configs turn attention off; tile large volumes with
 * tasks' sliding windows instead).
 */
import { add, clamp, exp, mul, silu } from "../core/ops/elementwise.ts";
import { interpolate } from "../core/ops/interpolate.ts";
import { pad } from "../core/ops/join.ts";
import { randn } from "../core/ops/random.ts";
import type { Generator } from "../core/ops/random.ts";
import { Tensor } from "../core/tensor.ts";
import { fmtShape } from "../core/shape.ts";
import { ModuleList } from "../core/nn/containers.ts";
import { Conv3d } from "../core/nn/conv.ts";
import { Module } from "../core/nn/module.ts";
import { GroupNorm } from "../core/nn/norm.ts";
import { OptionError, positiveIntOption } from "../util/errors.ts";

const OWNER = "MaisiVAE";

/** MONAI's `Convolution` with `conv_only`: a Conv3d held as `conv` (keys `conv.weight`, `conv.bias`). */
export class MonaiConv extends Module {
  conv: Conv3d;

  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: number,
    opts: { stride?: number; padding?: number } = {},
    g?: Generator,
  ) {
    super();
    this.conv = new Conv3d(inChannels, outChannels, kernelSize, { ...opts, generator: g });
  }

  override forward(x: Tensor): Tensor {
    return this.conv.call(x);
  }
}

/** MAISI's `MaisiConvolution`: a {@linkcode MonaiConv} held as `conv` (keys `conv.conv.weight`). */
export class MaisiConv extends Module {
  conv: MonaiConv;

  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: number,
    opts: { stride?: number; padding?: number } = {},
    g?: Generator,
  ) {
    super();
    this.conv = new MonaiConv(inChannels, outChannels, kernelSize, opts, g);
  }

  override forward(x: Tensor): Tensor {
    return this.conv.call(x);
  }
}

/** `MaisiResBlock`: x + conv2(SiLU(norm2(conv1(SiLU(norm1 x))))), with a 1×1×1 shortcut when the width changes. */
export class MaisiResBlock extends Module {
  norm1: GroupNorm;
  conv1: MaisiConv;
  norm2: GroupNorm;
  conv2: MaisiConv;
  nin_shortcut: MaisiConv | null;

  constructor(inChannels: number, outChannels: number, groups: number, eps: number, g?: Generator) {
    super();
    this.norm1 = new GroupNorm(groups, inChannels, { eps });
    this.conv1 = new MaisiConv(inChannels, outChannels, 3, { padding: 1 }, g);
    this.norm2 = new GroupNorm(groups, outChannels, { eps });
    this.conv2 = new MaisiConv(outChannels, outChannels, 3, { padding: 1 }, g);
    this.nin_shortcut = inChannels === outChannels ? null : new MaisiConv(inChannels, outChannels, 1, {}, g);
  }

  override forward(x: Tensor): Tensor {
    const h = this.conv2.call(silu(this.norm2.call(this.conv1.call(silu(this.norm1.call(x))))));
    return add(this.nin_shortcut ? this.nin_shortcut.call(x) : x, h);
  }
}

/** `MaisiDownsample`: zero-pad one voxel at the end of each axis, then Conv3d k3 stride 2. */
export class MaisiDownsample extends Module {
  conv: MaisiConv;

  constructor(channels: number, g?: Generator) {
    super();
    this.conv = new MaisiConv(channels, channels, 3, { stride: 2 }, g);
  }

  override forward(x: Tensor): Tensor {
    return this.conv.call(pad(x, [0, 1, 0, 1, 0, 1]));
  }
}

/** `MaisiUpsample`: ×2 interpolation (trilinear as MAISI, or nearest), then Conv3d k3. */
export class MaisiUpsample extends Module {
  conv: MaisiConv;

  constructor(channels: number, readonly mode: "trilinear" | "nearest", g?: Generator) {
    super();
    this.conv = new MaisiConv(channels, channels, 3, { padding: 1 }, g);
  }

  override forward(x: Tensor): Tensor {
    const up = this.mode === "nearest"
      ? interpolate(x, { scaleFactor: 2, mode: "nearest" })
      : interpolate(x, { scaleFactor: 2, mode: "trilinear", alignCorners: false });
    return this.conv.call(up);
  }
}

/** Options of {@linkcode MaisiVAE} (MONAI's argument names, camelCased). */
export interface MaisiVAEOptions {
  /** Image channels in (default 1). */
  inChannels?: number;
  /** Image channels out (default 1). */
  outChannels?: number;
  /** Latent channels (default 4). */
  latentChannels?: number;
  /** Width per level (default [64, 128, 256]: 4× compression per axis). */
  numChannels?: readonly number[];
  /** Residual blocks per level (default 2 each). */
  numResBlocks?: number | readonly number[];
  /** GroupNorm groups (default 32); must divide every width. */
  normNumGroups?: number;
  /** GroupNorm ε (default 1e-6). */
  normEps?: number;
  /** The decoder's upsampling before its conv (default "trilinear", MAISI's). */
  upsample?: "trilinear" | "nearest";
  generator?: Generator;
}

/** The resolved options of a {@linkcode MaisiVAE}. */
export interface MaisiVAEConfig {
  inChannels: number;
  outChannels: number;
  latentChannels: number;
  numChannels: number[];
  numResBlocks: number[];
  normNumGroups: number;
  normEps: number;
  upsample: "trilinear" | "nearest";
  /** Spatial size ÷ latent size, per axis (2^(levels − 1)). */
  downsampleFactor: number;
}

const positiveInt = (name: string, v: unknown): number => positiveIntOption(OWNER, name, v);

/** Fills in the defaults and checks them (an {@linkcode OptionError} naming the option). */
export function resolveMaisiVAEConfig(opts: MaisiVAEOptions = {}): MaisiVAEConfig {
  const numChannels = [...(opts.numChannels ?? [64, 128, 256])];
  if (numChannels.length === 0) throw new OptionError(OWNER, "numChannels", "numChannels needs at least one level");
  numChannels.forEach((c, i) => positiveInt(`numChannels[${i}]`, c));
  const blocks = opts.numResBlocks ?? 2;
  const numResBlocks = typeof blocks === "number" ? numChannels.map(() => blocks) : [...blocks];
  if (numResBlocks.length !== numChannels.length) {
    throw new OptionError(OWNER, "numResBlocks", `numResBlocks needs one count per level (${numChannels.length})`);
  }
  numResBlocks.forEach((b, i) => positiveInt(`numResBlocks[${i}]`, b));
  const normNumGroups = positiveInt("normNumGroups", opts.normNumGroups ?? 32);
  for (const c of numChannels) {
    if (c % normNumGroups !== 0) {
      throw new OptionError(OWNER, "normNumGroups", `normNumGroups ${normNumGroups} must divide every width (${c})`);
    }
  }
  const normEps = opts.normEps ?? 1e-6;
  if (!(normEps > 0)) throw new OptionError(OWNER, "normEps", `normEps must be > 0, got ${normEps}`);
  const upsample = opts.upsample ?? "trilinear";
  if (upsample !== "trilinear" && upsample !== "nearest") {
    throw new OptionError(
      OWNER,
      "upsample",
      `upsample must be "trilinear" or "nearest", got ${JSON.stringify(upsample)}`,
    );
  }
  return {
    inChannels: positiveInt("inChannels", opts.inChannels ?? 1),
    outChannels: positiveInt("outChannels", opts.outChannels ?? 1),
    latentChannels: positiveInt("latentChannels", opts.latentChannels ?? 4),
    numChannels,
    numResBlocks,
    normNumGroups,
    normEps,
    upsample,
    downsampleFactor: 2 ** (numChannels.length - 1),
  };
}

/**
 * The layout MAISI's encoder and decoder share, as `blocks`: conv_in (`inCh` → widths[0]); per
 * level its residual blocks (the first changes the width) and, but after the last level, a
 * resampling block (`resample`); GroupNorm; conv_out (→ `outCh`).
 */
function coderBlocks(
  c: MaisiVAEConfig,
  inCh: number,
  outCh: number,
  widths: readonly number[],
  counts: readonly number[],
  resample: (width: number) => Module,
  g?: Generator,
): ModuleList {
  const { normNumGroups: groups, normEps: eps } = c;
  const blocks: Module[] = [new MaisiConv(inCh, widths[0], 3, { padding: 1 }, g)];
  let width = widths[0];
  widths.forEach((out, level) => {
    for (let b = 0; b < counts[level]; b++) {
      blocks.push(new MaisiResBlock(width, out, groups, eps, g));
      width = out;
    }
    if (level < widths.length - 1) blocks.push(resample(width));
  });
  blocks.push(new GroupNorm(groups, width, { eps }));
  blocks.push(new MaisiConv(width, outCh, 3, { padding: 1 }, g));
  return new ModuleList(blocks);
}

/** A sequence of MAISI blocks run in order. */
abstract class MaisiStack extends Module {
  declare blocks: ModuleList;

  override forward(x: Tensor): Tensor {
    let h = x;
    for (const block of this.blocks) h = block.call(h) as Tensor;
    return h;
  }
}

/** MAISI's encoder: `blocks` = conv_in, residual blocks and downsamples, GroupNorm, conv_out. */
export class MaisiEncoder extends MaisiStack {
  constructor(c: MaisiVAEConfig, g?: Generator) {
    super();
    this.blocks = coderBlocks(
      c,
      c.inChannels,
      c.latentChannels,
      c.numChannels,
      c.numResBlocks,
      (w) => new MaisiDownsample(w, g),
      g,
    );
  }
}

/** MAISI's decoder: `blocks` = conv_in, residual blocks and upsamples (levels reversed), GroupNorm, conv_out. */
export class MaisiDecoder extends MaisiStack {
  constructor(c: MaisiVAEConfig, g?: Generator) {
    super();
    this.blocks = coderBlocks(
      c,
      c.latentChannels,
      c.outChannels,
      [...c.numChannels].reverse(),
      [...c.numResBlocks].reverse(),
      (w) => new MaisiUpsample(w, c.upsample, g),
      g,
    );
  }
}

/** The latent distribution of a batch: mean and log-variance, (B, latentChannels, D/f, H/f, W/f). */
export interface LatentDistribution {
  mu: Tensor;
  logVar: Tensor;
}

/**
 * The MAISI variational autoencoder (see the module notes). `encode(x)` gives the latent's mean
 * and log-variance, `sample` draws z, `decode(z)` reconstructs; `call(x)` returns the
 * reconstruction of a sampled z and the distribution (for the KL term).
 */
export class MaisiVAE extends Module {
  readonly config: Readonly<MaisiVAEConfig>;
  encoder: MaisiEncoder;
  decoder: MaisiDecoder;
  quant_conv_mu: MonaiConv;
  quant_conv_log_sigma: MonaiConv;
  post_quant_conv: MonaiConv;

  constructor(opts: MaisiVAEOptions = {}) {
    super();
    const c = resolveMaisiVAEConfig(opts), g = opts.generator, L = c.latentChannels;
    this.config = c;
    this.encoder = new MaisiEncoder(c, g);
    this.decoder = new MaisiDecoder(c, g);
    this.quant_conv_mu = new MonaiConv(L, L, 1, {}, g);
    this.quant_conv_log_sigma = new MonaiConv(L, L, 1, {}, g);
    this.post_quant_conv = new MonaiConv(L, L, 1, {}, g);
  }

  #check(x: Tensor, channels: number, what: string): void {
    const f = what === "encode" ? this.config.downsampleFactor : 1;
    if (
      !(x instanceof Tensor) || x.ndim !== 5 || x.shape[1] !== channels || x.shape.slice(2).some((s) => s % f !== 0)
    ) {
      throw new RangeError(
        `MaisiVAE.${what}: expected (B, ${channels}, D, H, W)${f > 1 ? ` with D, H, W multiples of ${f}` : ""}, got ${
          x instanceof Tensor ? fmtShape(x.shape) : typeof x
        }`,
      );
    }
  }

  /** x (B, inChannels, D, H, W) → the latent's mean and log-variance (clamped to [−30, 20]). */
  encode(x: Tensor): LatentDistribution {
    this.#check(x, this.config.inChannels, "encode");
    const h = this.encoder.call(x);
    return { mu: this.quant_conv_mu.call(h), logVar: clamp(this.quant_conv_log_sigma.call(h), -30, 20) };
  }

  /** z = μ + exp(log σ² / 2)·ε. */
  sample(d: LatentDistribution, generator?: Generator): Tensor {
    return add(d.mu, mul(exp(mul(d.logVar, 0.5)), randn(d.mu.shape, { generator })));
  }

  /** z (B, latentChannels, …) → (B, outChannels, …·f). */
  decode(z: Tensor): Tensor {
    this.#check(z, this.config.latentChannels, "decode");
    return this.decoder.call(this.post_quant_conv.call(z));
  }

  /** The reconstruction of a sampled latent, and the latent distribution. */
  override forward(x: Tensor, generator?: Generator): { reconstruction: Tensor; mu: Tensor; logVar: Tensor } {
    const d = this.encode(x);
    return { reconstruction: this.decode(this.sample(d, generator)), ...d };
  }
}

/**
 * The released MAISI checkpoint's names to this model's: inside `encoder`/`decoder` its convs
 * have one `conv` level fewer (MAISI's own loader adds it), e.g. `encoder.blocks.0.conv.weight`
 * → `encoder.blocks.0.conv.conv.weight`; names already in the long form pass unchanged.
 */
export function maisiKeysFromCheckpoint<T>(dict: Readonly<Record<string, T>>, model: MaisiVAE): Record<string, T> {
  const own = new Set(Object.keys(model.stateDict()));
  const out: Record<string, T> = {};
  for (const [key, value] of Object.entries(dict)) {
    let k = key.replace(/^(module\.)+/, "");
    if (!own.has(k) && /^(encoder|decoder)\./.test(k)) {
      const longer = k.replace(/conv\.(weight|bias)$/, "conv.conv.$1");
      if (own.has(longer)) k = longer;
    }
    out[k] = value;
  }
  return out;
}
