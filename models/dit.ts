/**
 * DiT, the Diffusion Transformer of Peebles & Xie ("Scalable Diffusion Models with
 * Transformers", 2023), laid out as facebookresearch/DiT's `models.py` with its parameter names
 * (`pos_embed`, `x_embedder.proj`, `t_embedder.mlp.0`, `t_embedder.mlp.2`,
 * `y_embedder.embedding_table`, `blocks.{i}.attn.qkv`, `blocks.{i}.attn.proj`,
 * `blocks.{i}.mlp.fc1`, `blocks.{i}.mlp.fc2`, `blocks.{i}.adaLN_modulation.1`,
 * `final_layer.linear`, `final_layer.adaLN_modulation.1`), so its weights move to and from
 * PyTorch through safetensors (`scripts/make_dit_fixture.py` is the PyTorch twin).
 *
 * The network, for an S×S×C input, patch p, width D and T = (S/p)² tokens:
 * - `x_embedder`: a p×p stride-p conv to D channels, flattened to (B, T, D) tokens, plus the
 *   fixed 2-D sin-cos position embedding `pos_embed` (1, T, D) (MAE's; a parameter that is not
 *   trained but is in the state dict, as in the reference);
 * - conditioning c = `t_embedder`(t) + `y_embedder`(y): the 256-wide [cos, sin] sinusoid of t
 *   through Linear → SiLU → Linear, plus a row of a (numClasses + 1, D) table whose last row is
 *   the null class of classifier-free guidance;
 * - `depth` adaLN-Zero blocks: from SiLU(c) a Linear gives shift, scale and gate for the
 *   attention and the MLP branch; x += gate·Attn(LN(x)·(1 + scale) + shift), likewise for the
 *   MLP (GELU, tanh approximation); LayerNorms without affine parameters, eps 1e-6;
 * - `final_layer`: adaLN-modulated LayerNorm and a Linear to p·p·outChannels per token, then
 *   unpatchify back to (B, outChannels, S, S).
 *
 * Initialisation as the reference: Linear layers Xavier-uniform with zero bias, the patch conv
 * Xavier-uniform as if it were a Linear, the label table and the timestep MLP's weights
 * N(0, 0.02²), and every adaLN modulation and the final Linear zero, so an untrained DiT
 * outputs zeros.
 *
 * Differences from the reference: the label table always has the null row (the reference adds
 * it only when its class dropout is > 0, which its default 0.1 is); label dropout is left to the
 * trainer (as for the U-Net), not done inside the model; `learnSigma` defaults to false (the
 * output is the prediction only, inChannels channels); the sinusoid's frequencies are computed
 * in float64 and rounded once to float32 (the reference: in float32, ≤ 1 ulp apart).
 */
import { add, mul } from "../core/ops/elementwise.ts";
import { scaledDotProductAttention } from "../core/ops/attention.ts";
import type { Generator } from "../core/ops/random.ts";
import { narrow, permute, reshape, squeeze, transpose, unsqueeze } from "../core/ops/view.ts";
import { tensor } from "../core/ops/creation.ts";
import { scope } from "../core/scope.ts";
import { fmtShape } from "../core/shape.ts";
import { Tensor } from "../core/tensor.ts";
import { chain, ModuleList, Sequential } from "../core/nn/containers.ts";
import { Conv2d } from "../core/nn/conv.ts";
import { normal_, uniform_, xavierUniform_, zeros_ } from "../core/nn/init.ts";
import { Embedding, GELU, Linear, SiLU } from "../core/nn/linear.ts";
import { Module, Parameter } from "../core/nn/module.ts";
import { LayerNorm } from "../core/nn/norm.ts";
import { OptionError, positiveIntOption } from "../util/errors.ts";
import { batchClassLabels, batchTimesteps, timestepEmbedding } from "./embeddings.ts";

const OWNER = "DiT";

/** Options of `DiT` (the reference's keyword arguments, camelCased). */
export interface DiTOptions {
  /** Square input size S (default 32, the reference's: 256² images as 32² latents). */
  inputSize?: number;
  /** Patch edge p; must divide inputSize (default 2). */
  patchSize?: number;
  /** Input channels C (default 4). */
  inChannels?: number;
  /** Token width D; a multiple of 4 (the 2-D sin-cos embedding) and of numHeads (default 384, DiT-S). */
  hiddenSize?: number;
  /** Number of DiT blocks (default 12). */
  depth?: number;
  /** Attention heads (default 6, DiT-S). */
  numHeads?: number;
  /** MLP width = ⌊hiddenSize · mlpRatio⌋ (default 4). */
  mlpRatio?: number;
  /** Classes; the label table has numClasses + 1 rows, row numClasses being the null class (default 1000). */
  numClasses?: number;
  /** Also predict the variance: outChannels = 2·inChannels (default false: outChannels = inChannels). */
  learnSigma?: boolean;
  /** Generator for the initial weights (default: the global one). */
  generator?: Generator;
}

/** The resolved configuration of a `DiT` (every option filled in, and what follows from them). */
export interface DiTConfig {
  /** Square input size. */
  inputSize: number;
  /** Patch edge. */
  patchSize: number;
  /** Input channels. */
  inChannels: number;
  /** Output channels (2·inChannels with learnSigma). */
  outChannels: number;
  /** Token width. */
  hiddenSize: number;
  /** Number of blocks. */
  depth: number;
  /** Attention heads. */
  numHeads: number;
  /** MLP width ratio. */
  mlpRatio: number;
  /** MLP hidden width, ⌊hiddenSize · mlpRatio⌋. */
  mlpHidden: number;
  /** Classes (the table has one more row, the null class). */
  numClasses: number;
  /** Whether the variance is predicted too. */
  learnSigma: boolean;
  /** Patches per side, inputSize / patchSize. */
  gridSize: number;
  /** Tokens, gridSize². */
  numPatches: number;
}

/** Width of the sinusoidal timestep features fed to `t_embedder.mlp` (the reference's 256). */
export const DIT_FREQUENCY_EMBEDDING_SIZE = 256;

const positiveInt = (name: string, v: unknown): number => positiveIntOption(OWNER, name, v);

/**
 * Fills in the defaults of `opts` and checks every value without building anything (the
 * constructor's own validation): an {@linkcode OptionError} naming the option for a size that is
 * not a positive integer, a `patchSize` that does not divide `inputSize`, a `numHeads` that does
 * not divide `hiddenSize`, a `hiddenSize` that is not a multiple of 4, or an MLP ratio that
 * leaves no hidden unit.
 */
export function resolveDiTConfig(opts: DiTOptions = {}): DiTConfig {
  const inputSize = positiveInt("inputSize", opts.inputSize ?? 32);
  const patchSize = positiveInt("patchSize", opts.patchSize ?? 2);
  const inChannels = positiveInt("inChannels", opts.inChannels ?? 4);
  const hiddenSize = positiveInt("hiddenSize", opts.hiddenSize ?? 384);
  const depth = positiveInt("depth", opts.depth ?? 12);
  const numHeads = positiveInt("numHeads", opts.numHeads ?? 6);
  const numClasses = opts.numClasses ?? 1000;
  if (typeof numClasses !== "number" || !Number.isInteger(numClasses) || numClasses < 0) {
    throw new OptionError(OWNER, "numClasses", `numClasses must be a non-negative integer, got ${numClasses}`);
  }
  const mlpRatio = opts.mlpRatio ?? 4;
  if (typeof mlpRatio !== "number" || !Number.isFinite(mlpRatio) || !(mlpRatio > 0)) {
    throw new OptionError(OWNER, "mlpRatio", `mlpRatio must be a positive finite number, got ${mlpRatio}`);
  }
  const mlpHidden = Math.floor(hiddenSize * mlpRatio);
  if (mlpHidden < 1) {
    throw new OptionError(OWNER, "mlpRatio", `mlpRatio ${mlpRatio} leaves no MLP unit at hiddenSize ${hiddenSize}`);
  }
  const learnSigma = opts.learnSigma ?? false;
  if (typeof learnSigma !== "boolean") {
    throw new OptionError(OWNER, "learnSigma", `learnSigma must be a boolean, got ${JSON.stringify(learnSigma)}`);
  }
  if (inputSize % patchSize !== 0) {
    throw new OptionError(OWNER, "patchSize", `inputSize ${inputSize} is not divisible by patchSize ${patchSize}`);
  }
  if (hiddenSize % numHeads !== 0) {
    throw new OptionError(OWNER, "numHeads", `hiddenSize ${hiddenSize} is not divisible by numHeads ${numHeads}`);
  }
  if (hiddenSize % 4 !== 0) {
    throw new OptionError(
      OWNER,
      "hiddenSize",
      `hiddenSize ${hiddenSize} must be a multiple of 4 (the 2-D sin-cos position embedding)`,
    );
  }
  const gridSize = inputSize / patchSize;
  return {
    inputSize,
    patchSize,
    inChannels,
    outChannels: learnSigma ? 2 * inChannels : inChannels,
    hiddenSize,
    depth,
    numHeads,
    mlpRatio,
    mlpHidden,
    numClasses,
    learnSigma,
    gridSize,
    numPatches: gridSize * gridSize,
  };
}

/**
 * The number of parameters of a DiT with these options, counted from the configuration alone
 * (nothing is built); it includes `pos_embed`, as PyTorch's `model.parameters()` does.
 */
export function ditParameterCount(opts: DiTOptions = {}): number {
  const c = resolveDiTConfig(opts);
  const D = c.hiddenSize, M = c.mlpHidden, p2 = c.patchSize * c.patchSize, F = DIT_FREQUENCY_EMBEDDING_SIZE;
  const linear = (i: number, o: number) => i * o + o;
  const patch = c.inChannels * p2 * D + D;
  const pos = c.numPatches * D;
  const time = linear(F, D) + linear(D, D);
  const labels = (c.numClasses + 1) * D;
  const block = linear(D, 3 * D) + linear(D, D) + linear(D, M) + linear(M, D) + linear(D, 6 * D);
  const final = linear(D, p2 * c.outChannels) + linear(D, 2 * D);
  return patch + pos + time + labels + c.depth * block + final;
}

/**
 * MAE's 2-D sin-cos position embedding (the reference's `get_2d_sincos_pos_embed`), in float64:
 * a (gridSize², embedDim) row-major table; token i = row·gridSize + col gets, in its first half,
 * the 1-D embedding of its column and, in its second half, that of its row, where the 1-D
 * embedding of position x is [sin(x·ω_k), cos(x·ω_k)] over ω_k = 10000^(−k/(embedDim/4)),
 * k < embedDim/4. `embedDim` must be a multiple of 4.
 */
export function sincosPosEmbed2d(embedDim: number, gridSize: number): Float64Array {
  if (!Number.isInteger(embedDim) || embedDim < 4 || embedDim % 4 !== 0) {
    throw new RangeError(`sincosPosEmbed2d: embedDim must be a positive multiple of 4, got ${embedDim}`);
  }
  if (!Number.isInteger(gridSize) || gridSize < 1) {
    throw new RangeError(`sincosPosEmbed2d: gridSize must be a positive integer, got ${gridSize}`);
  }
  const quarter = embedDim / 4;
  const omega = Float64Array.from({ length: quarter }, (_, k) => 1 / 10000 ** (k / quarter));
  const out = new Float64Array(gridSize * gridSize * embedDim);
  for (let r = 0; r < gridSize; r++) {
    for (let col = 0; col < gridSize; col++) {
      const base = (r * gridSize + col) * embedDim;
      // The reference meshes (w, h) and encodes grid[0] (the column) first.
      for (const [half, pos] of [[0, col], [1, r]]) {
        for (let k = 0; k < quarter; k++) {
          out[base + half * 2 * quarter + k] = Math.sin(pos * omega[k]);
          out[base + half * 2 * quarter + quarter + k] = Math.cos(pos * omega[k]);
        }
      }
    }
  }
  return out;
}

/** x · (1 + scale) + shift, with (B, D) shift and scale broadcast over the (B, T, D) tokens. */
function modulate(x: Tensor, shift: Tensor, scale: Tensor): Tensor {
  return add(mul(x, add(unsqueeze(scale, 1), 1)), unsqueeze(shift, 1));
}

/** The `n` equal slices of `x` along dim 1 (PyTorch's `chunk(n, dim=1)` for divisible sizes), as views. */
function chunk(x: Tensor, n: number): Tensor[] {
  const size = x.shape[1] / n;
  return Array.from({ length: n }, (_, i) => narrow(x, 1, i * size, size));
}

/** Linear layer initialised as the reference's `_basic_init`: Xavier-uniform weight, zero bias. */
export function basicLinear(inFeatures: number, outFeatures: number, g?: Generator): Linear {
  const l = new Linear(inFeatures, outFeatures, { generator: g });
  xavierUniform_(l.weight, 1, { generator: g });
  zeros_(l.bias!);
  return l;
}

/** Linear layer with zero weight and bias (the adaLN-Zero and output layers). */
function zeroLinear(inFeatures: number, outFeatures: number, g?: Generator): Linear {
  const l = new Linear(inFeatures, outFeatures, { generator: g });
  zeros_(l.weight);
  zeros_(l.bias!);
  return l;
}

/** timm's `PatchEmbed` without norm: a stride-p conv `proj`, flattened to (B, T, D) tokens. */
export class PatchEmbed extends Module {
  /** Conv with kernel = stride = patchSize, inChannels → hiddenSize. */
  proj: Conv2d;

  /** Patches of `patchSize` pixels of `inChannels`-channel images, embedded to `hiddenSize`. */
  constructor(patchSize: number, inChannels: number, hiddenSize: number, g?: Generator) {
    super();
    this.proj = new Conv2d(inChannels, hiddenSize, patchSize, { stride: patchSize, generator: g });
    // As a Linear (hiddenSize, inChannels·p²) would be: fan_in C·p², fan_out D; the bias keeps the conv default.
    const bound = Math.sqrt(6 / (inChannels * patchSize * patchSize + hiddenSize));
    uniform_(this.proj.weight, -bound, bound, { generator: g });
  }

  /** (B, C, S, S) → (B, (S/p)², D). */
  override forward(x: Tensor): Tensor {
    const y = this.proj.call(x);
    return transpose(reshape(y, [y.shape[0], y.shape[1], -1]), 1, 2);
  }
}

/** The reference's `TimestepEmbedder`: 256-wide [cos, sin] sinusoid of t → `mlp` (Linear, SiLU, Linear). */
export class TimestepEmbedder extends Module {
  /** Width of the sinusoid. */
  readonly frequencyEmbeddingSize: number;
  /** `0`: Linear(256, D), `1`: SiLU, `2`: Linear(D, D). */
  mlp: Sequential;

  /** An embedder to `hiddenSize` features; weights N(0, 0.02²), biases zero. */
  constructor(hiddenSize: number, g?: Generator, frequencyEmbeddingSize = DIT_FREQUENCY_EMBEDDING_SIZE) {
    super();
    this.frequencyEmbeddingSize = frequencyEmbeddingSize;
    const l0 = basicLinear(frequencyEmbeddingSize, hiddenSize, g), l2 = basicLinear(hiddenSize, hiddenSize, g);
    normal_(l0.weight, 0, 0.02, { generator: g });
    normal_(l2.weight, 0, 0.02, { generator: g });
    this.mlp = new Sequential(l0, new SiLU(), l2);
  }

  /** float32 timesteps (B) → (B, D). */
  override forward(t: Tensor): Tensor {
    return this.mlp.call(timestepEmbedding(t, this.frequencyEmbeddingSize, { flipSinToCos: true }));
  }
}

/** The reference's `LabelEmbedder` without its label dropout: `embedding_table` (numClasses + 1, D). */
export class LabelEmbedder extends Module {
  /** Classes; row numClasses is the null class. */
  readonly numClasses: number;
  /** The table, N(0, 0.02²) at start. */
  embedding_table: Embedding;

  /** A table for `numClasses` classes plus the null class. */
  constructor(numClasses: number, hiddenSize: number, g?: Generator) {
    super();
    this.numClasses = numClasses;
    this.embedding_table = new Embedding(numClasses + 1, hiddenSize, { generator: g });
    normal_(this.embedding_table.weight, 0, 0.02, { generator: g });
  }

  /** int32 labels (B) in [0, numClasses] → (B, D). */
  override forward(labels: Tensor): Tensor {
    return this.embedding_table.call(labels);
  }
}

/** timm's `Attention` as DiT uses it: packed `qkv` projection (with bias), softmax attention, `proj`. */
export class DiTAttention extends Module {
  /** Heads. */
  readonly numHeads: number;
  /** Linear(D, 3D): q, k, v in that order, each split into heads. */
  qkv: Linear;
  /** Linear(D, D). */
  proj: Linear;

  /** Self-attention over `dim` features in `numHeads` heads. */
  constructor(dim: number, numHeads: number, g?: Generator) {
    super();
    this.numHeads = numHeads;
    this.qkv = basicLinear(dim, 3 * dim, g);
    this.proj = basicLinear(dim, dim, g);
  }

  /**
   * Attention within each group of tokens: x (…, L, D) → (…, L, D), the leading dims being
   * independent groups (the batch, or the batch and its windows). `mask` (broadcast to
   * (…, heads, L, L)) is added to the scores or, if bool, says which keys each query sees.
   */
  attend(x: Tensor, mask?: Tensor | null): Tensor {
    const lead = x.shape.slice(0, -2), [L, D] = x.shape.slice(-2), H = this.numHeads, n = lead.length;
    // (…, L, 3, H, hd) → (3, …, H, L, hd), as the reference permutes it.
    const qkv = permute(
      reshape(this.qkv.call(x), [...lead, L, 3, H, D / H]),
      [n + 1, ...lead.map((_, i) => i), n + 2, n, n + 3],
    );
    const [q, k, v] = [0, 1, 2].map((i) => squeeze(narrow(qkv, 0, i, 1), 0));
    const o = scaledDotProductAttention(q, k, v, { mask: mask ?? null });
    return this.proj.call(reshape(transpose(o, n, n + 1), [...lead, L, D]));
  }

  /** (B, T, D) → (B, T, D): every token attends to every token. */
  override forward(x: Tensor): Tensor {
    return this.attend(x);
  }
}

/** timm's `Mlp`: `fc1` → GELU (DiT: the tanh approximation; DiT-3D: exact) → `fc2`. */
export class DiTMlp extends Module {
  /** Linear(D, hidden). */
  fc1: Linear;
  /** GELU. */
  act: GELU;
  /** Linear(hidden, D). */
  fc2: Linear;

  /** An MLP `dim` → `hidden` → `dim`. */
  constructor(dim: number, hidden: number, g?: Generator, gelu: "none" | "tanh" = "tanh") {
    super();
    this.fc1 = basicLinear(dim, hidden, g);
    this.act = new GELU({ approximate: gelu });
    this.fc2 = basicLinear(hidden, dim, g);
  }

  /** (…, D) → (…, D). */
  override forward(x: Tensor): Tensor {
    return chain(x, this.fc1, this.act, this.fc2);
  }
}

/** What a {@linkcode DiTBlock} may swap: its attention (e.g. windowed) and its MLP's GELU. */
export interface DiTBlockOptions {
  /** Replaces the global self-attention (same parameters: `qkv`, `proj`). */
  attn?: DiTAttention;
  /** The MLP's GELU (default "tanh", DiT's; DiT-3D uses "none", the exact one). */
  gelu?: "none" | "tanh";
}

/** A DiT block with adaLN-Zero conditioning (the reference's `DiTBlock`). */
export class DiTBlock extends Module {
  /** LayerNorm without affine parameters, eps 1e-6. */
  norm1: LayerNorm;
  /** Self-attention (global, or windowed in DiT3D's window blocks). */
  attn: DiTAttention;
  /** LayerNorm without affine parameters, eps 1e-6. */
  norm2: LayerNorm;
  /** The MLP. */
  mlp: DiTMlp;
  /** `0`: SiLU, `1`: Linear(D, 6D) giving shift/scale/gate of both branches; zero at start. */
  adaLN_modulation: Sequential;

  /** A block of width `hiddenSize` with `numHeads` heads and an MLP of `mlpHidden` units. */
  constructor(hiddenSize: number, numHeads: number, mlpHidden: number, g?: Generator, opts: DiTBlockOptions = {}) {
    super();
    this.norm1 = new LayerNorm(hiddenSize, { elementwiseAffine: false, eps: 1e-6 });
    this.attn = opts.attn ?? new DiTAttention(hiddenSize, numHeads, g);
    this.norm2 = new LayerNorm(hiddenSize, { elementwiseAffine: false, eps: 1e-6 });
    this.mlp = new DiTMlp(hiddenSize, mlpHidden, g, opts.gelu);
    this.adaLN_modulation = new Sequential(new SiLU(), zeroLinear(hiddenSize, 6 * hiddenSize, g));
  }

  /** Tokens x (B, T, D), conditioning c (B, D) → (B, T, D). */
  override forward(x: Tensor, c: Tensor): Tensor {
    const [shiftMsa, scaleMsa, gateMsa, shiftMlp, scaleMlp, gateMlp] = chunk(this.adaLN_modulation.call(c), 6);
    const attn = chain(x, this.norm1, (h) => modulate(h, shiftMsa, scaleMsa), this.attn);
    const x1 = add(x, mul(unsqueeze(gateMsa, 1), attn));
    const mlp = chain(x1, this.norm2, (h) => modulate(h, shiftMlp, scaleMlp), this.mlp);
    return add(x1, mul(unsqueeze(gateMlp, 1), mlp));
  }
}

/** The reference's `FinalLayer`: adaLN-modulated `norm_final`, then `linear` to p²·outChannels. */
export class FinalLayer extends Module {
  /** LayerNorm without affine parameters, eps 1e-6. */
  norm_final: LayerNorm;
  /** Linear(D, patch elements·outChannels); zero at start. */
  linear: Linear;
  /** `0`: SiLU, `1`: Linear(D, 2D) giving shift and scale; zero at start. */
  adaLN_modulation: Sequential;

  /** The output layer for patches of `patchElements` pixels or voxels (p², or pd·ph·pw) with `outChannels` channels. */
  constructor(hiddenSize: number, patchElements: number, outChannels: number, g?: Generator) {
    super();
    this.norm_final = new LayerNorm(hiddenSize, { elementwiseAffine: false, eps: 1e-6 });
    this.linear = zeroLinear(hiddenSize, patchElements * outChannels, g);
    this.adaLN_modulation = new Sequential(new SiLU(), zeroLinear(hiddenSize, 2 * hiddenSize, g));
  }

  /** Tokens (B, T, D), conditioning (B, D) → (B, T, p²·outChannels). */
  override forward(x: Tensor, c: Tensor): Tensor {
    const [shift, scale] = chunk(this.adaLN_modulation.call(c), 2);
    return chain(x, this.norm_final, (h) => modulate(h, shift, scale), this.linear);
  }
}

/**
 * What DiT and DiT3D share: the conditioning c = t_embedder(t) + y_embedder(labels) and the
 * denoising pass (patch embedding + position embedding → the adaLN-Zero blocks → the final layer
 * → unpatchify). Subclasses assign the parts, in this order (the state dict's), and say how tokens
 * become the output again.
 */
export abstract class DiTBackbone extends Module {
  /** Fixed sin-cos position embedding (1, T, D); not trained (`requiresGrad` false) but in the state dict. */
  declare pos_embed: Parameter;
  /** Patch embedding: (B, C, …) → (B, T, D). */
  declare x_embedder: Module;
  /** Timestep embedding. */
  declare t_embedder: TimestepEmbedder;
  /** Class embedding (with the null class). */
  declare y_embedder: LabelEmbedder;
  /** The adaLN-Zero blocks. */
  declare blocks: ModuleList;
  /** Output layer. */
  declare final_layer: FinalLayer;

  /** Classes (the label table's last row, index numClasses, is the null class). */
  abstract get numClasses(): number;

  /**
   * Builds the parts in the reference's order (that of the state dict and of the generator's
   * draws): the fixed embedding `posEmbed` (T × D), the patch embedding, the embedders, the
   * blocks, the final layer.
   */
  protected assemble(
    c: { hiddenSize: number; numPatches: number; numClasses: number },
    posEmbed: Float64Array,
    parts: { xEmbedder: () => Module; blocks: () => DiTBlock[]; finalLayer: () => FinalLayer },
    g?: Generator,
  ): void {
    this.pos_embed = new Parameter(tensor(Float32Array.from(posEmbed), [1, c.numPatches, c.hiddenSize]), false);
    this.x_embedder = parts.xEmbedder();
    this.t_embedder = new TimestepEmbedder(c.hiddenSize, g);
    this.y_embedder = new LabelEmbedder(c.numClasses, c.hiddenSize, g);
    this.blocks = new ModuleList(parts.blocks());
    this.final_layer = parts.finalLayer();
  }

  /** (B, T, patch·c) tokens → the output grid. */
  abstract unpatchify(x: Tensor): Tensor;

  /**
   * The conditioning vector c = t_embedder(t) + y_embedder(labels): (B, hiddenSize). Called on
   * its own (not through `call`), its intermediates belong to the caller's scope.
   */
  embed(t: Tensor | number, batch: number, classLabels?: Tensor | null): Tensor {
    const owner = this.constructor.name;
    const temb = this.t_embedder.call(batchTimesteps(owner, t, batch));
    return add(temb, this.y_embedder.call(batchClassLabels(owner, classLabels, batch, this.numClasses)));
  }

  /** The denoising pass of a checked input x. */
  protected denoise(x: Tensor, t: Tensor | number, classLabels?: Tensor | null): Tensor {
    // Its own scope: the embedding's intermediates are freed before the blocks run.
    const c = scope(() => this.embed(t, x.shape[0], classLabels));
    return chain(
      x,
      this.x_embedder,
      (h) => add(h, this.pos_embed),
      ...[...this.blocks].map((b) => (h: Tensor) => (b as DiTBlock).call(h, c)),
      (h) => this.final_layer.call(h, c),
      (h) => this.unpatchify(h),
    );
  }
}

/**
 * The Diffusion Transformer (see the module notes). `call(x, t, classLabels?)`: x (B,
 * inChannels, S, S) float32, t (B) int32 or float32 timesteps (or one number, or a 1-element
 * tensor, for the whole batch), classLabels (B) int32 in [0, numClasses] where numClasses is
 * the null class (omitted → all null) → (B, outChannels, S, S): the same signature as `UNet`,
 * so the DDPM trainer and `DiffusionPipeline` take either.
 *
 * @example
 * ```ts
 * const dit = ditS4({ inputSize: 32, inChannels: 3, numClasses: 5 });
 * const v = dit.call(noisy, timesteps, labels); // (B, 3, 32, 32)
 * ```
 */
export class DiT extends DiTBackbone {
  /** The resolved configuration. */
  readonly config: Readonly<DiTConfig>;
  /** Patch embedding (2-D). */
  declare x_embedder: PatchEmbed;

  /** A DiT; every option has a default (DiT-S/2 on 32×32×4 with 1000 classes, learnSigma false). */
  constructor(opts: DiTOptions = {}) {
    super();
    const c = resolveDiTConfig(opts), g = opts.generator;
    this.config = c;
    this.assemble(c, sincosPosEmbed2d(c.hiddenSize, c.gridSize), {
      xEmbedder: () => new PatchEmbed(c.patchSize, c.inChannels, c.hiddenSize, g),
      blocks: () => Array.from({ length: c.depth }, () => new DiTBlock(c.hiddenSize, c.numHeads, c.mlpHidden, g)),
      finalLayer: () => new FinalLayer(c.hiddenSize, c.patchSize * c.patchSize, c.outChannels, g),
    }, g);
  }

  /** Classes. */
  get numClasses(): number {
    return this.config.numClasses;
  }

  /** (B, T, p²·c) tokens → (B, c, S, S) images (the reference's `unpatchify`). */
  unpatchify(x: Tensor): Tensor {
    const { gridSize: h, patchSize: p, outChannels: c } = this.config;
    const B = x.shape[0];
    const y = permute(reshape(x, [B, h, h, p, p, c]), [0, 5, 1, 3, 2, 4]); // nhwpqc → nchpwq
    return reshape(y, [B, c, h * p, h * p]);
  }

  /** x (B, inChannels, S, S), t, classLabels → (B, outChannels, S, S). */
  override forward(x: Tensor, t: Tensor | number, classLabels?: Tensor | null): Tensor {
    const { inChannels: C, inputSize: S } = this.config;
    if (!(x instanceof Tensor) || x.ndim !== 4 || x.shape[1] !== C || x.shape[2] !== S || x.shape[3] !== S) {
      throw new RangeError(
        `DiT: expected x of shape (B, ${C}, ${S}, ${S}), got ${x instanceof Tensor ? fmtShape(x.shape) : typeof x}`,
      );
    }
    return this.denoise(x, t, classLabels);
  }

  /** The configuration, as PyTorch-style text. */
  override extraRepr(): string {
    const c = this.config;
    return `input=${c.inputSize}, patch=${c.patchSize}, in=${c.inChannels}, out=${c.outChannels}, hidden=${c.hiddenSize}, ` +
      `depth=${c.depth}, heads=${c.numHeads}, mlp_ratio=${c.mlpRatio}, classes=${c.numClasses}`;
  }
}

/** A DiT preset's name: size S or B, patch 2, 4 or 8. */
export type DiTPresetName = "DiT-S/2" | "DiT-S/4" | "DiT-S/8" | "DiT-B/2" | "DiT-B/4" | "DiT-B/8";

/** A DiT model size: depth, width and heads (the patch size is chosen apart). */
export interface DiTSize {
  /** Blocks. */
  readonly depth: number;
  /** Token width. */
  readonly hiddenSize: number;
  /** Attention heads. */
  readonly numHeads: number;
}

/** The reference's DiT-S and DiT-B sizes (12 blocks; S: 384 wide, 6 heads; B: 768 wide, 12 heads). */
export const DIT_SIZES: Readonly<Record<"S" | "B", DiTSize>> = {
  S: { depth: 12, hiddenSize: 384, numHeads: 6 },
  B: { depth: 12, hiddenSize: 768, numHeads: 12 },
};
const { S, B } = DIT_SIZES;

/** The reference's DiT-S and DiT-B configurations (12 blocks; S: 384 wide, 6 heads; B: 768 wide, 12 heads). */
export const DIT_PRESETS: Readonly<Record<DiTPresetName, Readonly<DiTOptions>>> = {
  "DiT-S/2": { ...S, patchSize: 2 },
  "DiT-S/4": { ...S, patchSize: 4 },
  "DiT-S/8": { ...S, patchSize: 8 },
  "DiT-B/2": { ...B, patchSize: 2 },
  "DiT-B/4": { ...B, patchSize: 4 },
  "DiT-B/8": { ...B, patchSize: 8 },
};

/** The preset `name` with `opts` on top (e.g. inputSize, inChannels, numClasses). */
export function dit(name: DiTPresetName, opts: DiTOptions = {}): DiT {
  const preset = DIT_PRESETS[name];
  if (!preset) {
    throw new OptionError(
      OWNER,
      "name",
      `unknown DiT preset ${JSON.stringify(name)}; one of ${Object.keys(DIT_PRESETS).join(", ")}`,
    );
  }
  return new DiT({ ...preset, ...opts });
}

/** DiT-S/2: 12 blocks, 384 wide, 6 heads, 2-pixel patches. */
export function ditS2(opts: DiTOptions = {}): DiT {
  return dit("DiT-S/2", opts);
}

/** DiT-S/4: 12 blocks, 384 wide, 6 heads, 4-pixel patches. */
export function ditS4(opts: DiTOptions = {}): DiT {
  return dit("DiT-S/4", opts);
}

/** DiT-S/8: 12 blocks, 384 wide, 6 heads, 8-pixel patches. */
export function ditS8(opts: DiTOptions = {}): DiT {
  return dit("DiT-S/8", opts);
}

/** DiT-B/2: 12 blocks, 768 wide, 12 heads, 2-pixel patches. */
export function ditB2(opts: DiTOptions = {}): DiT {
  return dit("DiT-B/2", opts);
}

/** DiT-B/4: 12 blocks, 768 wide, 12 heads, 4-pixel patches. */
export function ditB4(opts: DiTOptions = {}): DiT {
  return dit("DiT-B/4", opts);
}

/** DiT-B/8: 12 blocks, 768 wide, 12 heads, 8-pixel patches. */
export function ditB8(opts: DiTOptions = {}): DiT {
  return dit("DiT-B/8", opts);
}
