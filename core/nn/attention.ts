/**
 * `MultiheadAttention` with PyTorch's arguments, state-dict keys (`in_proj_weight`,
 * `in_proj_bias`, `q_proj_weight`/`k_proj_weight`/`v_proj_weight` when kdim/vdim differ,
 * `out_proj.weight`, `out_proj.bias`), initialisation and mask conventions.
 */
import { scope } from "../scope.ts";
import { fmtShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { tensor, zeros } from "../ops/creation.ts";
import { add, mul } from "../ops/elementwise.ts";
import { dropout as dropoutOp } from "../ops/dropout.ts";
import { runMap } from "../ops/map.ts";
import { matmul } from "../ops/matmul.ts";
import type { Generator } from "../ops/random.ts";
import { mean } from "../ops/reduce.ts";
import { softmax } from "../ops/softmax.ts";
import { scaledDotProductAttention } from "../ops/attention.ts";
import { narrow, permute, reshape, squeeze, t, transpose, unsqueeze } from "../ops/view.ts";
import { constant_, xavierUniform_ } from "./init.ts";
import { chain } from "./containers.ts";
import { Linear } from "./linear.ts";
import { Module, Parameter } from "./module.ts";

/** Options of `MultiheadAttention` (PyTorch's keyword arguments, camelCased). */
export interface MultiheadAttentionOptions {
  /** Dropout probability on the attention weights in training (default 0). */
  dropout?: number;
  /** Learn the input and output projection biases (default true). */
  bias?: boolean;
  /** Inputs and outputs are (N, L, E) instead of (L, N, E) (default false, as PyTorch). */
  batchFirst?: boolean;
  /** Feature size of `key` (default embedDim). */
  kdim?: number;
  /** Feature size of `value` (default embedDim). */
  vdim?: number;
  /** Generator for the initial weights and the dropout masks. */
  generator?: Generator;
}

/** Options of `MultiheadAttention.forward` (PyTorch's keyword arguments, camelCased). */
export interface MultiheadAttentionForwardOptions {
  /** (N, S) or unbatched (S): bool true = ignore that key, or float added to the scores. */
  keyPaddingMask?: Tensor | null;
  /** Also return the attention weights (default true, as PyTorch). */
  needWeights?: boolean;
  /** (L, S) or (N·numHeads, L, S): bool true = not allowed to attend, or float added to the scores. */
  attnMask?: Tensor | null;
  /** Average the returned weights over heads (default true). */
  averageAttnWeights?: boolean;
  /** Without `attnMask`, apply a causal mask (query i sees keys 0..i). */
  isCausal?: boolean;
}

/** WGSL for −∞ (no literal exists). */
const NEG_INF = "bitcast<f32>(0xff800000u)";

/** A bool mask as an additive float mask: −∞ where `m` is `blocked` (true or false), else 0; floats pass. */
function additive(m: Tensor, blocked: boolean): Tensor {
  if (m.dtype === "float32") return m.alias();
  return runMap({
    op: "MultiheadAttention.mask",
    expr: `select(0.0, ${NEG_INF}, (m != 0u) == ${blocked})`,
    inputs: [m],
    names: ["m"],
    load: ["u32"],
    out: "float32",
  });
}

/**
 * Multi-head attention, as `torch.nn.MultiheadAttention`: `call(query, key, value, opts)`
 * returns `[output, weights]` (weights null unless `needWeights`). With `needWeights` false
 * the work goes through the fused `scaledDotProductAttention`; a query whose keys are all
 * masked then gives zeros (PyTorch gives NaN).
 *
 * @example
 * ```ts
 * const mha = new MultiheadAttention(64, 4, { batchFirst: true });
 * const [y] = mha.call(x, x, x, { needWeights: false }); // x: (N, L, 64)
 * ```
 */
export class MultiheadAttention extends Module {
  /** Model width E. */
  readonly embedDim: number;
  /** Feature size of keys. */
  readonly kdim: number;
  /** Feature size of values. */
  readonly vdim: number;
  /** Number of heads. */
  readonly numHeads: number;
  /** E / numHeads. */
  readonly headDim: number;
  /** Dropout probability on the attention weights. */
  readonly dropout: number;
  /** Whether inputs are (N, L, E). */
  readonly batchFirst: boolean;
  #generator?: Generator;

  /** Attention over `embedDim` features split into `numHeads` heads, initialised as PyTorch does. */
  constructor(embedDim: number, numHeads: number, opts: MultiheadAttentionOptions = {}) {
    super();
    const op = "MultiheadAttention";
    for (
      const [n, v] of [["embedDim", embedDim], ["numHeads", numHeads], ["kdim", opts.kdim ?? 1], [
        "vdim",
        opts.vdim ?? 1,
      ]] as const
    ) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${op}: ${n} must be a positive integer, got ${v}`);
    }
    if (embedDim % numHeads !== 0) {
      throw new RangeError(`${op}: embedDim (${embedDim}) must be divisible by numHeads (${numHeads})`);
    }
    const p = opts.dropout ?? 0;
    if (!(p >= 0 && p <= 1)) throw new RangeError(`${op}: dropout must be in [0, 1], got ${p}`);
    this.embedDim = embedDim;
    this.kdim = opts.kdim ?? embedDim;
    this.vdim = opts.vdim ?? embedDim;
    this.numHeads = numHeads;
    this.headDim = embedDim / numHeads;
    this.dropout = p;
    this.batchFirst = opts.batchFirst ?? false;
    this.#generator = opts.generator;
    const E = embedDim, g = opts.generator;
    if (this.kdim === E && this.vdim === E) {
      this.registerParameter("in_proj_weight", new Parameter(zeros([3 * E, E])));
    } else {
      this.registerParameter("q_proj_weight", new Parameter(zeros([E, E])));
      this.registerParameter("k_proj_weight", new Parameter(zeros([E, this.kdim])));
      this.registerParameter("v_proj_weight", new Parameter(zeros([E, this.vdim])));
    }
    this.registerParameter("in_proj_bias", opts.bias === false ? null : new Parameter(zeros([3 * E])));
    this.registerModule("out_proj", new Linear(E, E, { bias: opts.bias !== false, generator: g }));
    for (const w of [this.inProjWeight, this.qProjWeight, this.kProjWeight, this.vProjWeight]) {
      if (w) xavierUniform_(w, 1, { generator: g });
    }
    if (this.inProjBias) constant_(this.inProjBias, 0);
    if (this.outProj.bias) constant_(this.outProj.bias, 0);
  }

  #field<T>(name: string): T | null {
    return ((this as unknown as Record<string, T | null | undefined>)[name]) ?? null;
  }

  /** Packed q/k/v projection (3E, E) (key `in_proj_weight`), or null when kdim/vdim differ from E. */
  get inProjWeight(): Parameter | null {
    return this.#field<Parameter>("in_proj_weight");
  }
  /** Query projection (E, E) (key `q_proj_weight`) when kdim/vdim differ from E, else null. */
  get qProjWeight(): Parameter | null {
    return this.#field<Parameter>("q_proj_weight");
  }
  /** Key projection (E, kdim) (key `k_proj_weight`) when kdim/vdim differ from E, else null. */
  get kProjWeight(): Parameter | null {
    return this.#field<Parameter>("k_proj_weight");
  }
  /** Value projection (E, vdim) (key `v_proj_weight`) when kdim/vdim differ from E, else null. */
  get vProjWeight(): Parameter | null {
    return this.#field<Parameter>("v_proj_weight");
  }
  /** Packed q/k/v bias (3E) (key `in_proj_bias`), or null without bias. */
  get inProjBias(): Parameter | null {
    return this.#field<Parameter>("in_proj_bias");
  }
  /** Output projection (keys `out_proj.weight`, `out_proj.bias`). */
  get outProj(): Linear {
    return this.#field<Linear>("out_proj")!;
  }

  /** x (N, L, in) · W[rows i·E…]ᵀ + b[i·E…], split into heads → (N, H, L, D). */
  #project(x: Tensor, i: number): Tensor {
    const E = this.embedDim, [N, L] = x.shape;
    const packed = this.inProjWeight;
    const w = packed ? narrow(packed, 0, i * E, E) : [this.qProjWeight, this.kProjWeight, this.vProjWeight][i]!;
    const bias = this.inProjBias;
    const product = (x: Tensor) => matmul(x, t(w));
    // Chained, so the product without bias is freed as soon as the bias is added.
    const y = bias ? chain(x, product, (y) => add(y, narrow(bias, 0, i * E, E))) : product(x);
    return permute(reshape(y, [N, L, this.numHeads, this.headDim]), [0, 2, 1, 3]);
  }

  /** The combined mask for (N, H, L, S) scores: bool (true = attend) when every mask is bool, else additive float. */
  #mask(N: number, L: number, S: number, unbatched: boolean, opts: MultiheadAttentionForwardOptions): Tensor | null {
    const op = "MultiheadAttention";
    const parts: Tensor[] = [];
    let attn = opts.attnMask ?? null;
    if (!attn && opts.isCausal) {
      const causal = new Uint8Array(L * S);
      for (let i = 0; i < L; i++) for (let j = i + 1; j < S; j++) causal[i * S + j] = 1;
      attn = tensor(causal, [L, S]);
      parts.push(attn);
    } else if (attn) {
      if (attn.ndim === 2 && attn.shape[0] === L && attn.shape[1] === S) {
        parts.push(attn.alias());
      } else if (attn.ndim === 3 && attn.shape[0] === N * this.numHeads && attn.shape[1] === L && attn.shape[2] === S) {
        parts.push(reshape(attn, [N, this.numHeads, L, S]));
      } else {
        throw new RangeError(
          `${op}: attnMask must have shape [${L}, ${S}] or [${N * this.numHeads}, ${L}, ${S}], got ${
            fmtShape(attn.shape)
          }`,
        );
      }
    }
    const kpm = opts.keyPaddingMask ?? null;
    if (kpm) {
      const want = unbatched ? [S] : [N, S];
      if (kpm.ndim !== want.length || kpm.shape.some((d, i) => d !== want[i])) {
        throw new RangeError(`${op}: keyPaddingMask must have shape ${fmtShape(want)}, got ${fmtShape(kpm.shape)}`);
      }
      parts.push(reshape(kpm, [N, 1, 1, S]));
    }
    if (parts.length === 0) return null;
    if (parts.every((m) => m.dtype === "bool")) {
      const names = parts.map((_, i) => `m${i}`);
      return runMap({
        op: `${op}.attendMask`,
        expr: `select(1u, 0u, ${names.map((n) => `${n} != 0u`).join(" || ")})`,
        inputs: parts,
        names,
        out: "bool",
      });
    }
    return parts.map((m) => additive(m, true)).reduce((sum, f) => add(sum, f));
  }

  /** Scores → weights explicitly (for `needWeights`): softmax(q·kᵀ·scale + mask), with dropout. */
  #weights(q: Tensor, k: Tensor, mask: Tensor | null): Tensor {
    // A chain: each (N, H, L, S) score tensor is freed as soon as the next step has read it.
    const stages: ((s: Tensor) => Tensor)[] = [
      (q) => matmul(q, transpose(k, -2, -1)),
      (s) => mul(s, 1 / Math.sqrt(this.headDim)),
    ];
    if (mask) stages.push((s) => add(s, additive(mask, false))); // bool masks here mean attend
    stages.push((s) => softmax(s, -1));
    if (this.training && this.dropout > 0) {
      stages.push((p) => dropoutOp(p, this.dropout, true, { generator: this.#generator }));
    }
    return chain(q, ...stages);
  }

  /**
   * query (L, N, E), key (S, N, kdim), value (S, N, vdim) — (N, L, E)… with `batchFirst`, or
   * unbatched (L, E)… — → `[output, weights]`: output like query; weights (N, L, S) averaged
   * over heads, or (N, H, L, S), or null when `needWeights` is false.
   */
  override forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    opts: MultiheadAttentionForwardOptions = {},
  ): [Tensor, Tensor | null] {
    const op = "MultiheadAttention";
    for (const [n, x] of [["query", query], ["key", key], ["value", value]] as const) {
      if (!(x instanceof Tensor)) throw new TypeError(`${op}: ${n} must be a Tensor, got ${typeof x}`);
    }
    const unbatched = query.ndim === 2;
    const rank = unbatched ? 2 : 3;
    const dimsOk = [query, key, value].every((x) => x.ndim === rank);
    const feat = [this.embedDim, this.kdim, this.vdim];
    if (!dimsOk || [query, key, value].some((x, i) => x.shape[rank - 1] !== feat[i])) {
      throw new RangeError(
        `${op}: expected query/key/value of ${unbatched ? "(L, E)" : this.batchFirst ? "(N, L, E)" : "(L, N, E)"} ` +
          `with feature sizes ${feat.join("/")}, got ${fmtShape(query.shape)}, ${fmtShape(key.shape)}, ${
            fmtShape(value.shape)
          }`,
      );
    }
    // Everything batch first from here on.
    const toBatch = (x: Tensor) => unbatched ? unsqueeze(x, 0) : this.batchFirst ? x : transpose(x, 0, 1);
    const [qb, kb, vb] = [toBatch(query), toBatch(key), toBatch(value)];
    if (kb.shape[0] !== qb.shape[0] || vb.shape[0] !== qb.shape[0] || kb.shape[1] !== vb.shape[1]) {
      throw new RangeError(
        `${op}: batch sizes and key/value lengths must agree, got ${fmtShape(query.shape)}, ${fmtShape(key.shape)}, ${
          fmtShape(value.shape)
        }`,
      );
    }
    const [N, L] = qb.shape, S = kb.shape[1];
    // Its own scope: q, k, v and the mask are freed before the output projection runs.
    const [heads, weights] = scope((): [Tensor, Tensor | null] => {
      const q = this.#project(qb, 0), k = this.#project(kb, 1), v = this.#project(vb, 2);
      const mask = this.#mask(N, L, S, unbatched, opts);
      if (!(opts.needWeights ?? true)) {
        const dropoutP = this.training ? this.dropout : 0;
        return [scaledDotProductAttention(q, k, v, { mask, dropoutP, generator: this.#generator }), null];
      }
      const p = this.#weights(q, k, mask);
      const w = opts.averageAttnWeights ?? true ? mean(p, 1) : p;
      return [matmul(p, v), unbatched ? squeeze(w, 0) : w];
    });
    const y = this.outProj.call(reshape(permute(heads, [0, 2, 1, 3]), [N, L, this.embedDim]));
    return [unbatched ? squeeze(y, 0) : this.batchFirst ? y : transpose(y, 0, 1), weights];
  }

  /** The hyper-parameters. */
  override extraRepr(): string {
    return `embed_dim=${this.embedDim}, num_heads=${this.numHeads}, dropout=${this.dropout}, batch_first=${
      this.batchFirst ? "True" : "False"
    }`;
  }
}
