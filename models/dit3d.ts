/**
 * DiT3D: the Diffusion Transformer on 3-D latent grids (DiT-3D, Mo et al. 2023; the 3-D MRI
 * generation seed), with DiT's parameter names (`pos_embed`, `x_embedder.proj`, `t_embedder`,
 * `y_embedder`, `blocks.{i}.attn.qkv`/`proj`, `blocks.{i}.mlp`, `blocks.{i}.adaLN_modulation.1`,
 * `final_layer`) and its blocks (models/dit.ts), on a (D, H, W) grid that need not be a cube,
 * cut into patches that need not be cubes either (e.g. 4×2×4):
 * - `x_embedder`: a stride = kernel = patch Conv3d to the token width, tokens in (d, h, w)
 *   row-major order, plus a fixed 3-D sin-cos position embedding: a third of the width per
 *   axis (d, then h, then w), each third the 1-D [sin, cos] embedding of that coordinate;
 * - **window attention** in the blocks listed in `windowBlocks`: the token grid is zero-padded at
 *   the end of each axis to a multiple of `windowSize`, cut into windows, and each window attends
 *   only within itself (padded tokens masked out as keys), then the windows are put back and the
 *   padding cropped. The public DiT-3D code partitions its tokens and reshapes them back to the
 *   whole grid before attending, so its "window attention" is global; here a window block is
 *   really local, and equals global attention only when one window covers the grid;
 * - `final_layer` to pd·ph·pw·outChannels per token, then unpatchify back to (B, C, D, H, W).
 * Classifier-free guidance (samplers/) mixes every output channel; the seed's `forward_with_cfg`
 * guided the first three of four. The MLPs' GELU is exact, as in DiT-3D and the MRI seed (DiT's
 * own is the tanh form); {@linkcode dit3dKeysFromSeed} reads their checkpoints' key names.
 */
import { tensor } from "../core/ops/creation.ts";
import type { Generator } from "../core/ops/random.ts";
import { permute, reshape, transpose } from "../core/ops/view.ts";
import { windowPartition3d, windowReverse3d } from "../core/ops/window.ts";
import { fmtShape } from "../core/shape.ts";
import { Tensor } from "../core/tensor.ts";
import { Conv3d } from "../core/nn/conv.ts";
import { uniform_ } from "../core/nn/init.ts";
import { Module } from "../core/nn/module.ts";
import { OptionError, positiveIntOption } from "../util/errors.ts";
import { DiTAttention, DiTBackbone, DiTBlock, FinalLayer } from "./dit.ts";

const OWNER = "DiT3D";

/** Three sizes, one per axis (d, h, w). */
export type Triple = readonly [number, number, number];

/** Options of {@linkcode DiT3D}. */
export interface DiT3DOptions {
  /** Latent grid (D, H, W), or one size for a cube (default 16). */
  inputSize?: number | Triple;
  /** Patch (pd, ph, pw), each dividing its axis, or one size (default 2). */
  patchSize?: number | Triple;
  /** Latent channels (default 4). */
  inChannels?: number;
  /** Token width; a multiple of 6 (three axes × [sin, cos]) and of numHeads (default 384, S). */
  hiddenSize?: number;
  /** Blocks (default 12). */
  depth?: number;
  /** Attention heads (default 6). */
  numHeads?: number;
  /** MLP width = ⌊hiddenSize · mlpRatio⌋ (default 4). */
  mlpRatio?: number;
  /** Classes; the label table has one more row, the null class of guidance (default 2). */
  numClasses?: number;
  /** Also predict the variance (outChannels = 2·inChannels; default false). */
  learnSigma?: boolean;
  /** Window (in tokens) of the window blocks, or one size (default 4). */
  windowSize?: number | Triple;
  /** Indices of the blocks that attend within windows (default none: all global). */
  windowBlocks?: readonly number[];
  /** The MLPs' GELU: "none" (exact, DiT-3D's and the MRI seed's; default) or "tanh" (DiT's). */
  gelu?: "none" | "tanh";
  /** Generator for the initial weights. */
  generator?: Generator;
}

/** The resolved configuration of a {@linkcode DiT3D}. */
export interface DiT3DConfig {
  inputSize: Triple;
  patchSize: Triple;
  /** Tokens per axis (inputSize / patchSize). */
  gridSize: Triple;
  numPatches: number;
  inChannels: number;
  outChannels: number;
  hiddenSize: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  mlpHidden: number;
  numClasses: number;
  learnSigma: boolean;
  windowSize: Triple;
  windowBlocks: readonly number[];
  gelu: "none" | "tanh";
}

const positiveInt = (name: string, v: unknown): number => positiveIntOption(OWNER, name, v);

function triple(name: string, v: number | Triple): Triple {
  const t = typeof v === "number" ? [v, v, v] : v;
  if (!Array.isArray(t) || t.length !== 3) {
    throw new OptionError(OWNER, name, `${name} must be a positive integer or three of them, got ${JSON.stringify(v)}`);
  }
  t.forEach((x, i) => positiveInt(`${name}[${i}]`, x));
  return [t[0], t[1], t[2]];
}

/** Fills in the defaults of `opts` and checks them (an {@linkcode OptionError} naming the option). */
export function resolveDiT3DConfig(opts: DiT3DOptions = {}): DiT3DConfig {
  const inputSize = triple("inputSize", opts.inputSize ?? 16);
  const patchSize = triple("patchSize", opts.patchSize ?? 2);
  inputSize.forEach((s, i) => {
    if (s % patchSize[i] !== 0) {
      throw new OptionError(
        OWNER,
        "patchSize",
        `patchSize [${patchSize}] must divide inputSize [${inputSize}] per axis`,
      );
    }
  });
  const gridSize: Triple = [0, 1, 2].map((i) => inputSize[i] / patchSize[i]) as unknown as Triple;
  const inChannels = positiveInt("inChannels", opts.inChannels ?? 4);
  const hiddenSize = positiveInt("hiddenSize", opts.hiddenSize ?? 384);
  const depth = positiveInt("depth", opts.depth ?? 12);
  const numHeads = positiveInt("numHeads", opts.numHeads ?? 6);
  if (hiddenSize % 6 !== 0) {
    throw new OptionError(OWNER, "hiddenSize", `hiddenSize must be a multiple of 6 (3-D sin-cos), got ${hiddenSize}`);
  }
  if (hiddenSize % numHeads !== 0) {
    throw new OptionError(OWNER, "numHeads", `numHeads ${numHeads} must divide hiddenSize ${hiddenSize}`);
  }
  const mlpRatio = opts.mlpRatio ?? 4;
  const mlpHidden = Math.floor(hiddenSize * mlpRatio);
  if (!(mlpHidden >= 1)) throw new OptionError(OWNER, "mlpRatio", `mlpRatio ${mlpRatio} leaves no hidden unit`);
  const numClasses = positiveInt("numClasses", opts.numClasses ?? 2);
  const learnSigma = opts.learnSigma ?? false;
  const windowSize = triple("windowSize", opts.windowSize ?? 4);
  const windowBlocks = [...(opts.windowBlocks ?? [])];
  for (const b of windowBlocks) {
    if (!Number.isInteger(b) || b < 0 || b >= depth) {
      throw new OptionError(OWNER, "windowBlocks", `windowBlocks: ${b} is not a block index in [0, ${depth})`);
    }
  }
  const gelu = opts.gelu ?? "none";
  if (gelu !== "none" && gelu !== "tanh") {
    throw new OptionError(OWNER, "gelu", `gelu must be "none" or "tanh", got ${JSON.stringify(gelu)}`);
  }
  return {
    gelu,
    inputSize,
    patchSize,
    gridSize,
    numPatches: gridSize[0] * gridSize[1] * gridSize[2],
    inChannels,
    outChannels: learnSigma ? 2 * inChannels : inChannels,
    hiddenSize,
    depth,
    numHeads,
    mlpRatio,
    mlpHidden,
    numClasses,
    learnSigma,
    windowSize,
    windowBlocks,
  };
}

/**
 * The fixed 3-D sin-cos position embedding, float64, (gd·gh·gw, embedDim) row-major: token
 * (d, h, w) gets, per third of the width (d, then h, then w), the 1-D embedding of that
 * coordinate: [sin(x·ω_k), cos(x·ω_k)] over ω_k = 10000^(−k/(embedDim/6)), k < embedDim/6.
 */
export function sincosPosEmbed3d(embedDim: number, grid: Triple): Float64Array {
  if (!Number.isInteger(embedDim) || embedDim < 6 || embedDim % 6 !== 0) {
    throw new RangeError(`sincosPosEmbed3d: embedDim must be a positive multiple of 6, got ${embedDim}`);
  }
  const [gd, gh, gw] = grid, sixth = embedDim / 6;
  const omega = Float64Array.from({ length: sixth }, (_, k) => 1 / 10000 ** (k / sixth));
  const out = new Float64Array(gd * gh * gw * embedDim);
  for (let d = 0; d < gd; d++) {
    for (let h = 0; h < gh; h++) {
      for (let w = 0; w < gw; w++) {
        const base = ((d * gh + h) * gw + w) * embedDim;
        [d, h, w].forEach((pos, axis) => {
          const at = base + axis * 2 * sixth;
          for (let k = 0; k < sixth; k++) {
            out[at + k] = Math.sin(pos * omega[k]);
            out[at + sixth + k] = Math.cos(pos * omega[k]);
          }
        });
      }
    }
  }
  return out;
}

/** A stride = kernel = patch Conv3d `proj`, flattened to (B, T, D) tokens in (d, h, w) order. */
export class PatchEmbed3d extends Module {
  proj: Conv3d;

  constructor(patchSize: Triple, inChannels: number, hiddenSize: number, g?: Generator) {
    super();
    this.proj = new Conv3d(inChannels, hiddenSize, [...patchSize], { stride: [...patchSize], generator: g });
    // Xavier-uniform as if a Linear (hiddenSize, inChannels·pd·ph·pw), as DiT initialises its patch conv.
    const fanIn = inChannels * patchSize[0] * patchSize[1] * patchSize[2];
    uniform_(this.proj.weight, -Math.sqrt(6 / (fanIn + hiddenSize)), Math.sqrt(6 / (fanIn + hiddenSize)), {
      generator: g,
    });
  }

  /** (B, C, D, H, W) → (B, T, hiddenSize). */
  override forward(x: Tensor): Tensor {
    const y = this.proj.call(x);
    return transpose(reshape(y, [y.shape[0], y.shape[1], -1]), 1, 2);
  }
}

/** (1, nW, 1, 1, L) bool: which slots of each window hold real tokens; null when the windows tile the grid. */
function windowKeyMask(grid: Triple, windowSize: Triple): Tensor | null {
  const [gd, gh, gw] = grid, [wd, wh, ww] = windowSize;
  const [nd, nh, nw] = [gd / wd, gh / wh, gw / ww].map(Math.ceil);
  if (nd * wd === gd && nh * wh === gh && nw * ww === gw) return null;
  const real: boolean[] = [];
  for (let i = 0; i < nd; i++) {
    for (let j = 0; j < nh; j++) {
      for (let k = 0; k < nw; k++) {
        for (let a = 0; a < wd; a++) {
          for (let b = 0; b < wh; b++) {
            for (let c = 0; c < ww; c++) real.push(i * wd + a < gd && j * wh + b < gh && k * ww + c < gw);
          }
        }
      }
    }
  }
  return tensor(real, [1, nd * nh * nw, 1, 1, wd * wh * ww]);
}

/**
 * Attention within 3-D windows of the token grid, with DiT's attention parameters (`qkv`,
 * `proj`): (B, T, D) tokens of a (gd, gh, gw) grid → windows of `windowSize` (the grid
 * zero-padded at the end of each axis; padded tokens are never attended to) → attention in each
 * window → the grid again, padding cropped.
 */
export class WindowAttention3d extends DiTAttention {
  readonly grid: Triple;
  readonly windowSize: Triple;
  /** (1, nW, 1, 1, L) bool, which window slots hold real tokens (null when nothing is padded); not saved. */
  declare key_mask: Tensor | null;

  constructor(dim: number, numHeads: number, grid: Triple, windowSize: Triple, g?: Generator) {
    super(dim, numHeads, g);
    this.grid = grid;
    this.windowSize = windowSize;
    this.registerBuffer("key_mask", windowKeyMask(grid, windowSize), { persistent: false });
  }

  /** (B, T, D) → (B, T, D). */
  override forward(x: Tensor): Tensor {
    const [B, T, D] = x.shape, [gd, gh, gw] = this.grid, ws = this.windowSize;
    if (T !== gd * gh * gw) {
      throw new RangeError(`WindowAttention3d: ${T} tokens, but the grid [${this.grid}] has ${gd * gh * gw}`);
    }
    const windows = windowPartition3d(reshape(x, [B, gd, gh, gw, D]), ws);
    const nW = windows.shape[0] / B, L = ws[0] * ws[1] * ws[2];
    const o = this.attend(reshape(windows, [B, nW, L, D]), this.key_mask);
    return reshape(windowReverse3d(reshape(o, [B * nW, ws[0], ws[1], ws[2], D]), ws, gd, gh, gw), [B, T, D]);
  }

  override extraRepr(): string {
    return `grid=[${this.grid}], window=[${this.windowSize}], heads=${this.numHeads}`;
  }
}

/**
 * The 3-D Diffusion Transformer (see the module notes). `call(x, t, classLabels?)`: x (B,
 * inChannels, D, H, W), t (B) timesteps (or one number), classLabels (B) int32 in [0,
 * numClasses] (numClasses = the null class; omitted → all null) → (B, outChannels, D, H, W).
 */
export class DiT3D extends DiTBackbone {
  readonly config: Readonly<DiT3DConfig>;
  /** Patch embedding (3-D). */
  declare x_embedder: PatchEmbed3d;

  constructor(opts: DiT3DOptions = {}) {
    super();
    const c = resolveDiT3DConfig(opts), g = opts.generator;
    this.config = c;
    const windowed = new Set(c.windowBlocks);
    const [pd, ph, pw] = c.patchSize;
    this.assemble(c, sincosPosEmbed3d(c.hiddenSize, c.gridSize), {
      xEmbedder: () => new PatchEmbed3d(c.patchSize, c.inChannels, c.hiddenSize, g),
      blocks: () =>
        Array.from({ length: c.depth }, (_, i) => {
          const attn = windowed.has(i)
            ? new WindowAttention3d(c.hiddenSize, c.numHeads, c.gridSize, c.windowSize, g)
            : undefined;
          return new DiTBlock(c.hiddenSize, c.numHeads, c.mlpHidden, g, { attn, gelu: c.gelu });
        }),
      finalLayer: () => new FinalLayer(c.hiddenSize, pd * ph * pw, c.outChannels, g),
    }, g);
  }

  get numClasses(): number {
    return this.config.numClasses;
  }

  /** (B, T, pd·ph·pw·c) tokens → (B, c, D, H, W). */
  unpatchify(x: Tensor): Tensor {
    const { gridSize: [gd, gh, gw], patchSize: [pd, ph, pw], outChannels: c } = this.config;
    const B = x.shape[0];
    // (B, gd, gh, gw, pd, ph, pw, c) → (B, c, gd, pd, gh, ph, gw, pw)
    const y = permute(reshape(x, [B, gd, gh, gw, pd, ph, pw, c]), [0, 7, 1, 4, 2, 5, 3, 6]);
    return reshape(y, [B, c, gd * pd, gh * ph, gw * pw]);
  }

  /** x (B, inChannels, D, H, W), t, classLabels → (B, outChannels, D, H, W). */
  override forward(x: Tensor, t: Tensor | number, classLabels?: Tensor | null): Tensor {
    const { inChannels: C, inputSize: [D, H, W] } = this.config;
    if (
      !(x instanceof Tensor) || x.ndim !== 5 || x.shape[1] !== C || x.shape[2] !== D || x.shape[3] !== H ||
      x.shape[4] !== W
    ) {
      throw new RangeError(
        `DiT3D: expected x of shape (B, ${C}, ${D}, ${H}, ${W}), got ${
          x instanceof Tensor ? fmtShape(x.shape) : typeof x
        }`,
      );
    }
    return this.denoise(x, t, classLabels);
  }

  override extraRepr(): string {
    const c = this.config;
    return `input=[${c.inputSize}], patch=[${c.patchSize}], in=${c.inChannels}, out=${c.outChannels}, ` +
      `hidden=${c.hiddenSize}, depth=${c.depth}, heads=${c.numHeads}, classes=${c.numClasses}, ` +
      `window=[${c.windowSize}] in blocks [${c.windowBlocks}]`;
  }
}

/**
 * Renames a DiT-3D or 3-D MRI seed checkpoint's keys to DiT3D's: the trainers' `model.` and
 * DataParallel's `module.` prefixes dropped, the MRI seed's `patch_embed.` read as `x_embedder.`.
 * (Relative position tables, `rel_pos_*`, which both keep off by default, have no counterpart and
 * stay as they are, so a strict load names them.)
 */
export function dit3dKeysFromSeed<T>(dict: Readonly<Record<string, T>>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [key, value] of Object.entries(dict)) {
    let k = key;
    while (/^(model|module)\./.test(k)) k = k.slice(k.indexOf(".") + 1);
    if (k.startsWith("patch_embed.")) k = "x_embedder." + k.slice("patch_embed.".length);
    if (k in out) throw new Error(`dit3dKeysFromSeed: two keys map to ${k}`);
    out[k] = value;
  }
  return out;
}

/** DiT3D sizes (the DiT paper's): depth, width, heads. */
export const DIT3D_SIZES: Readonly<
  Record<"S" | "B" | "L" | "XL", { depth: number; hiddenSize: number; numHeads: number }>
> = {
  S: { depth: 12, hiddenSize: 384, numHeads: 6 },
  B: { depth: 12, hiddenSize: 768, numHeads: 12 },
  L: { depth: 24, hiddenSize: 1152, numHeads: 16 },
  XL: { depth: 28, hiddenSize: 1152, numHeads: 16 },
};

/** A DiT3D of size `size` with `opts` on top (grid, patch, channels, classes, windows). */
export function dit3d(size: keyof typeof DIT3D_SIZES, opts: DiT3DOptions = {}): DiT3D {
  const s = DIT3D_SIZES[size];
  if (!s) throw new OptionError(OWNER, "size", `unknown DiT3D size ${JSON.stringify(size)}; one of S, B, L, XL`);
  return new DiT3D({ ...s, ...opts });
}
