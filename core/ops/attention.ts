/**
 * Scaled dot-product attention with PyTorch's semantics, by two routes:
 * - "flash": fused kernels with an online softmax; the backward recomputes the scores from
 *   the saved per-row logsumexp, so memory stays O(tokens · dim) for any token count;
 * - "composite": matmul → fused scale/mask/softmax → matmul, which keeps the Lq×Lk
 *   probabilities; fewer serial steps per thread, so it wins on small problems, and it is the
 *   route for dropout and for masks that need gradients (e.g. a learned position bias).
 */
import { record } from "../autograd.ts";
import { dispatch, grid1d, loopBudget, pipeline } from "../device.ts";
import { ATTN_WG, type AttnKernel, attnMetaWords, attnSource, type MaskKind } from "../kernels/attention.ts";
import { broadcastShapes, broadcastStrides, fmtShape, numel, sameShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { dropout } from "./dropout.ts";
import { contiguous, mul } from "./elementwise.ts";
import { empty } from "./map.ts";
import { matmul } from "./matmul.ts";
import type { Generator } from "./random.ts";
import { sumToShape } from "./reduce.ts";
import { expand, transpose } from "./view.ts";

/** Which implementation `scaledDotProductAttention` uses ("auto" picks by size and options). */
export type AttentionImpl = "auto" | "flash" | "composite";

/** Options of `scaledDotProductAttention` (PyTorch's keyword arguments, camelCased). */
export interface AttentionOptions {
  /** Bool mask (true = attend) or float mask (added to the scores), broadcastable to (…, Lq, Lk). */
  mask?: Tensor | null;
  /** Causal mask, top-left aligned: query i sees keys 0..i. Not combinable with `mask`. */
  causal?: boolean;
  /** Score scale (default 1/√dim). */
  scale?: number;
  /** Dropout probability on the attention weights (applied whenever > 0, as in PyTorch). */
  dropoutP?: number;
  /** Generator for the dropout mask. */
  generator?: Generator;
  /** Implementation (default "auto"). */
  impl?: AttentionImpl;
}

/** Above this many score elements (batch · Lq · Lk; 8 MB per Lq×Lk buffer) "auto" takes the flash route. */
const COMPOSITE_MAX_SCORES = 1 << 21;
/** Largest feature size the flash kernels keep in registers. */
const FLASH_MAX_DIM = 256;

/** Shapes of one attention call. */
interface Geo {
  batch: number[];
  Lq: number;
  Lk: number;
  D: number;
  Dv: number;
  mask: MaskKind;
}

function checkTensor(x: unknown, arg: string): Tensor {
  if (!(x instanceof Tensor)) {
    throw new TypeError(`scaledDotProductAttention: ${arg} must be a Tensor, got ${typeof x}`);
  }
  x.assertLive("scaledDotProductAttention");
  return x;
}

function geometry(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null): Geo {
  const op = "scaledDotProductAttention";
  for (const [n, t] of [["query", q], ["key", k], ["value", v]] as const) {
    if (t.dtype !== "float32") throw new TypeError(`${op}: ${n} must be float32, got ${t.dtype}`);
    if (t.ndim < 2) {
      throw new RangeError(`${op}: ${n} needs at least 2 dims (…, tokens, dim), got ${fmtShape(t.shape)}`);
    }
  }
  const shapes = `query ${fmtShape(q.shape)}, key ${fmtShape(k.shape)}, value ${fmtShape(v.shape)}`;
  const D = q.shape[q.ndim - 1], Lq = q.shape[q.ndim - 2], Lk = k.shape[k.ndim - 2];
  if (k.shape[k.ndim - 1] !== D) throw new RangeError(`${op}: query and key feature sizes differ (${shapes})`);
  if (v.shape[v.ndim - 2] !== Lk) throw new RangeError(`${op}: key and value token counts differ (${shapes})`);
  const lead = [q, k, v].map((t) => t.shape.slice(0, -2));
  let kind: MaskKind = "none";
  if (mask) {
    if (mask.dtype === "int32") throw new TypeError(`${op}: mask must be bool or float32, got int32`);
    kind = mask.dtype === "bool" ? "bool" : "float";
    if (mask.ndim >= 2) lead.push(mask.shape.slice(0, -2));
    const ms = mask.shape;
    const rowOk = ms.length < 2 || ms[ms.length - 2] === 1 || ms[ms.length - 2] === Lq;
    const colOk = ms.length < 1 || ms[ms.length - 1] === 1 || ms[ms.length - 1] === Lk;
    if (!rowOk || !colOk) {
      throw new RangeError(`${op}: mask ${fmtShape(ms)} does not broadcast to (…, ${Lq}, ${Lk}) for ${shapes}`);
    }
  }
  const batch = broadcastShapes(op, ...lead);
  return { batch, Lq, Lk, D, Dv: v.shape[v.ndim - 1], mask: kind };
}

/** A strided input and the full shape it is read as. */
interface Stream {
  t: Tensor;
  target: number[];
}

/** Fills the uniform block and dispatches one attention kernel over `rows` threads. */
function launch(
  k: AttnKernel,
  rows: number,
  g: Geo,
  scale: number,
  strided: Stream[],
  dense: Tensor[],
  outs: Tensor[],
): void {
  if (rows === 0) return;
  // A flash pass loops over the other side's rows (keys, or queries for dK/dV), each costing
  // its feature loops (at most D + Dv + D iterations, plus one per loop for its exit test): in
  // spans that fit the adapter's loop budget (device.ts), one span on hardware.
  const other = k.pass === "backwardKV" ? g.Lq : k.pass === "forward" || k.pass === "backwardQ" ? g.Lk : 0;
  const perRow = 2 * g.D + g.Dv + 4, fixed = 2 * (g.D + g.Dv) + 64;
  const span = other === 0 ? 1 : Math.max(1, Math.floor((loopBudget() - fixed) / perRow));
  const call: AttnCall = { k, rows, g, scale, strided, dense, outs };
  for (let s0 = 0; s0 < Math.max(other, 1); s0 += span) {
    launchSpan(call, other === 0 ? [0, 0xffffffff] : [s0, s0 + span]);
  }
}

/** One attention kernel launch's arguments (see `launch`). */
interface AttnCall {
  k: AttnKernel;
  rows: number;
  g: Geo;
  scale: number;
  strided: Stream[];
  dense: Tensor[];
  outs: Tensor[];
}

/** Dispatches `c` over the other side's rows span[0] … span[1] − 1. */
function launchSpan(c: AttnCall, span: [number, number]): void {
  const { k, rows, g, scale, strided, dense, outs } = c;
  const meta = new Uint32Array(attnMetaWords(k));
  const f = new DataView(meta.buffer);
  meta[0] = rows;
  meta[1] = g.Lq;
  meta[2] = g.Lk;
  f.setFloat32(12, scale, true);
  const nb = k.batchDims;
  let w = 4;
  for (let d = 0; d < nb; d++) meta[w++] = g.batch[d];
  for (const s of strided) {
    const st = broadcastStrides(s.t.shape, s.t.strides, s.target);
    meta[w++] = s.t.offset;
    meta[w++] = st[nb];
    meta[w++] = st[nb + 1];
    for (let d = 0; d < nb; d++) meta[w++] = st[d];
  }
  for (const t of dense) meta[w++] = t.offset;
  meta[w++] = span[0];
  meta[w++] = Math.min(span[1], 0xffffffff);
  dispatch({
    op: `attention.${k.pass}`,
    pipeline: pipeline(`attention.${k.pass}`, attnSource(k)),
    bindings: [...strided.map((s) => s.t), ...dense, ...outs].map((t) => t.storage.buffer),
    uniforms: meta,
    workgroups: grid1d(Math.ceil(rows / ATTN_WG)),
  });
}

/** Sums a full-batch gradient down to an input's (broadcast) shape. */
function reduceTo(full: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(full.shape, shape)) return full;
  const r = sumToShape(full, shape);
  full.dispose();
  return r;
}

function qkvStreams(q: Tensor, k: Tensor, v: Tensor, m: Tensor | null, g: Geo): Stream[] {
  const s: Stream[] = [
    { t: q, target: [...g.batch, g.Lq, g.D] },
    { t: k, target: [...g.batch, g.Lk, g.D] },
    { t: v, target: [...g.batch, g.Lk, g.Dv] },
  ];
  if (m) s.push({ t: m, target: [...g.batch, g.Lq, g.Lk] });
  return s;
}

/** The memory-efficient route: one forward kernel, three backward kernels, no Lq×Lk buffers. */
function flash(q: Tensor, k: Tensor, v: Tensor, m: Tensor | null, causal: boolean, scale: number, g: Geo): Tensor {
  const base = { batchDims: g.batch.length, dim: g.D, valueDim: g.Dv, mask: g.mask, causal };
  const B = numel(g.batch);
  const o = empty([...g.batch, g.Lq, g.Dv], "float32", "attention");
  const lse = empty([...g.batch, g.Lq], "float32", "attention.lse");
  launch({ ...base, pass: "forward" }, B * g.Lq, g, scale, qkvStreams(q, k, v, m, g), [], [o, lse]);
  const save = [q, k, v, o, lse, ...(m ? [m] : [])];
  const out = record("scaledDotProductAttention", o, [q, k, v], (grad, [sq, sk, sv, so, sl, sm]) => {
    const dO = contiguous(grad);
    const stats = empty([B * g.Lq * 2], "float32", "attention.stats");
    launch({ ...base, batchDims: 0, pass: "delta" }, B * g.Lq, g, scale, [], [dO, so, sl], [stats]);
    const streams = qkvStreams(sq, sk, sv, sm ?? null, g);
    let dq: Tensor | null = null, dk: Tensor | null = null, dv: Tensor | null = null;
    if (q.requiresGrad) {
      const full = empty([...g.batch, g.Lq, g.D], "float32", "attention.dq");
      launch({ ...base, pass: "backwardQ" }, B * g.Lq, g, scale, streams, [dO, stats], [full]);
      dq = reduceTo(full, q.shape);
    }
    if (k.requiresGrad || v.requiresGrad) {
      const fk = empty([...g.batch, g.Lk, g.D], "float32", "attention.dk");
      const fv = empty([...g.batch, g.Lk, g.Dv], "float32", "attention.dv");
      launch({ ...base, pass: "backwardKV" }, B * g.Lk, g, scale, streams, [dO, stats], [fk, fv]);
      dk = reduceTo(fk, k.shape);
      dv = reduceTo(fv, v.shape);
    }
    dO.dispose();
    stats.dispose();
    return [dq, dk, dv];
  }, save);
  lse.dispose();
  return out;
}

/** softmax(scale·s + mask) over the last dim of dense scores `s`, with its gradient (and the mask's). */
function maskedSoftmax(s: Tensor, m: Tensor | null, causal: boolean, scale: number, g: Geo): Tensor {
  const base = { dim: g.D, valueDim: g.Dv, mask: g.mask, causal };
  const rows = numel(g.batch) * g.Lq;
  const pShape = [...g.batch, g.Lq, g.Lk];
  const p = empty(pShape, "float32", "attention.p");
  const streams = m ? [{ t: m, target: pShape }] : [];
  launch({ ...base, batchDims: g.batch.length, pass: "softmax" }, rows, g, scale, streams, [s], [p]);
  const inputs = m && m.dtype === "float32" ? [s, m] : [s];
  return record("attention.softmax", p, inputs, (grad, [sp]) => {
    const gd = contiguous(grad);
    const ds = empty(pShape, "float32", "attention.ds");
    launch({ ...base, batchDims: 0, mask: "none", pass: "softmaxBackward" }, rows, g, scale, [], [sp, gd], [ds]);
    gd.dispose();
    let dm: Tensor | null = null;
    if (inputs.length === 2 && m!.requiresGrad) {
      // ∂/∂mask is ∂/∂(scale·s) = ds / scale, summed over the dims the mask was broadcast along.
      const unscaled = mul(ds, 1 / scale);
      dm = reduceTo(unscaled, m!.shape);
    }
    return [ds, dm];
  }, [p]);
}

function composite(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  m: Tensor | null,
  causal: boolean,
  scale: number,
  g: Geo,
  dropoutP: number,
  generator: Generator | undefined,
): Tensor {
  const kt = transpose(k, -1, -2); // a strided view: matmul reads it without a copy
  let s = matmul(q, kt);
  kt.dispose();
  const full = [...g.batch, g.Lq, g.Lk];
  if (!sameShape(s.shape, full)) {
    // Only the mask has these batch dims: materialise the scores at the full batch shape.
    const e = expand(s, full);
    s.dispose();
    s = contiguous(e);
    e.dispose();
  }
  const p = maskedSoftmax(s, m, causal, scale, g);
  s.dispose();
  const pd = dropoutP > 0 ? dropout(p, dropoutP, true, { generator }) : p;
  if (pd !== p) p.dispose();
  const out = matmul(pd, v);
  pd.dispose();
  return out;
}

/**
 * Attention over (batch…, tokens, dim) tensors, as `torch.nn.functional.scaled_dot_product_attention`:
 * softmax(q·kᵀ·scale + mask)·v, with broadcast batch dims, Lq ≠ Lk and a value dim of its own.
 * Rows whose every key is masked give zeros. Gradients flow to q, k, v, and to a float mask
 * that requires them (composite route).
 *
 * @example
 * ```ts
 * const out = scaledDotProductAttention(q, k, v, { causal: true }); // (B, H, L, Dv)
 * ```
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const op = "scaledDotProductAttention";
  checkTensor(q, "query");
  checkTensor(k, "key");
  checkTensor(v, "value");
  const mask = opts.mask ? checkTensor(opts.mask, "mask") : null;
  const causal = opts.causal ?? false;
  if (causal && mask) throw new RangeError(`${op}: pass either mask or causal, not both (as PyTorch)`);
  const g = geometry(q, k, v, mask);
  const scale = opts.scale ?? 1 / Math.sqrt(g.D);
  if (!Number.isFinite(scale)) throw new RangeError(`${op}: scale must be finite, got ${scale}`);
  const dropoutP = opts.dropoutP ?? 0;
  if (!(dropoutP >= 0 && dropoutP <= 1)) throw new RangeError(`${op}: dropoutP must be in [0, 1], got ${dropoutP}`);
  const impl = opts.impl ?? "auto";
  if (impl !== "auto" && impl !== "flash" && impl !== "composite") {
    throw new RangeError(`${op}: impl must be "auto", "flash" or "composite", got ${JSON.stringify(impl)}`);
  }
  const needsComposite = dropoutP > 0 || (mask?.requiresGrad ?? false) || Math.max(g.D, g.Dv) > FLASH_MAX_DIM;
  if (impl === "flash" && needsComposite) {
    throw new RangeError(
      `${op}: the flash route supports neither dropout, mask gradients nor dims above ${FLASH_MAX_DIM}; use impl "auto"`,
    );
  }
  const useFlash = impl === "flash" ||
    (impl === "auto" && !needsComposite && numel(g.batch) * g.Lq * g.Lk > COMPOSITE_MAX_SCORES);
  if (useFlash) return flash(q, k, v, mask, causal, scale, g);
  return composite(q, k, v, mask, causal, scale, g, dropoutP, opts.generator);
}
