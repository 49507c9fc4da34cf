/**
 * Batch, group, instance and layer normalisation: one fused kernel forward (statistics,
 * normalise, affine, optional activation, running-stat update), one fused kernel for the input
 * gradient and one for the weight/bias gradients.
 */
import { noGrad, record } from "../autograd.ts";
import { checkLoopBudget, dispatch, gpu, grid1d, loopBudget, pipeline } from "../device.ts";
import {
  AFFINE_META_WORDS,
  affineGradBindings,
  type AffineGradKernel,
  affineGradSource,
  NORM_ACTIVATIONS,
  NORM_META_WORDS,
  NORM_WG,
  type NormActivation,
  normBindings,
  type NormKernel,
  type NormMode,
  normSource,
} from "../kernels/norm.ts";
import {
  SEGMENT_META_WORDS,
  SEGMENT_WG,
  segmentApplyBindings,
  segmentApplySource,
  segmentCombineSource,
  segmentDxBindings,
  segmentDxSource,
  segmentGradSumsBindings,
  segmentGradSumsSource,
  type SegmentKernel,
  segmentStatsSource,
} from "../kernels/norm_segments.ts";
import { envFlag } from "../env.ts";
import { fmtShape, numel } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { contiguous } from "./elementwise.ts";
import { empty, runMap } from "./map.ts";
import { expand, narrow, reshape } from "./view.ts";

export type { NormActivation } from "../kernels/norm.ts";

/** Rows at least this long, when there are few rows, get a whole workgroup each. */
const LONG_ROW = 64;

/**
 * From this many rows on, one thread per row beats one workgroup per row. On CPU adapters
 * (llvmpipe) workgroup barriers are serialised, so a thread per row wins as soon as there are
 * two workgroups' worth of rows (2× on the U-Net's group norms: 1,024 rows of 784), while GPUs
 * need many more rows to fill their cores.
 */
function manyRows(): number {
  return gpu().isSoftware ? 2 * NORM_WG : 4096;
}

/** How a norm maps onto rows and affine channels (see `core/kernels/norm.ts`). */
interface Layout {
  rows: number;
  L: number;
  sRi: number;
  Kin: number;
  sKo: number;
  rMod: number;
  rMul: number;
  kDiv: number;
  /** Affine channels and how each one's elements are enumerated. */
  C: number;
  J: number;
  sCount: number;
  rStride: number;
  cDiv: number;
  rOffMul: number;
  cMod: number;
  kMul: number;
  /**
   * The input as (N, C, S) segments with G statistics per sample (0: per channel, batch norm),
   * for the segment kernels (`core/kernels/norm_segments.ts`); absent for layer norm.
   */
  seg?: { N: number; C: number; S: number; G: number };
}

/** Layout of group norm over (N, C, S) with G groups (instance norm: G = C). */
function groupLayout(N: number, C: number, S: number, G: number): Layout {
  const Cg = C / G, L = Cg * S;
  return {
    rows: N * G,
    L,
    sRi: L,
    Kin: L,
    sKo: 0,
    rMod: G,
    rMul: Cg,
    kDiv: S,
    C,
    J: N * S,
    sCount: S,
    rStride: G,
    cDiv: Cg,
    rOffMul: 1,
    cMod: Cg,
    kMul: S,
    seg: { N, C, S, G },
  };
}

/** Layout of batch norm over (N, C, S): one row per channel. */
function batchLayout(N: number, C: number, S: number): Layout {
  const L = N * S;
  return {
    rows: C,
    L,
    sRi: S,
    Kin: S,
    sKo: C * S,
    rMod: C,
    rMul: 1,
    kDiv: L,
    C,
    J: L,
    sCount: L,
    rStride: 0,
    cDiv: 1,
    rOffMul: 1,
    cMod: 1,
    kMul: 0,
    seg: { N, C, S, G: 0 },
  };
}

/** Layout of layer norm: `rows` rows of L elements, affine over the row. */
function layerLayout(rows: number, L: number): Layout {
  return {
    rows,
    L,
    sRi: L,
    Kin: L,
    sKo: 0,
    rMod: 1,
    rMul: 0,
    kDiv: 1,
    C: L,
    J: rows,
    sCount: 1,
    rStride: 1,
    cDiv: 1,
    rOffMul: 0,
    cMod: L,
    kMul: 1,
  };
}

/** Tensors a row kernel reads and writes. */
interface RowArgs {
  x: Tensor;
  weight: Tensor | null;
  bias: Tensor | null;
  stats: Tensor;
  g?: Tensor;
  out: Tensor;
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  eps: number;
  momentum: number;
  act: NormActivation;
}

function f32Bits(v: number): number {
  return new Uint32Array(new Float32Array([v]).buffer)[0];
}

/**
 * Loop iterations a row kernel's thread runs (three passes over the row at most, `step`
 * elements apart, block by block) and its workgroup sums: kept within the adapter's loop budget.
 */
function rowLoops(lay: Layout, step: number): number {
  const blocks = Math.ceil(lay.L / lay.Kin);
  return 3 * (blocks * (Math.ceil(lay.Kin / step) + 1) + 1) + 4 * Math.log2(NORM_WG) + 16;
}

/** Throws when even a workgroup per row or channel would loop past the adapter's budget. */
function checkLoops(op: string, loops: number, what: string): void {
  checkLoopBudget(op, loops, what, "use a smaller batch or input, or more groups");
}

function runRows(op: string, mode: NormMode, lay: Layout, a: RowArgs): void {
  if (lay.rows === 0 || lay.L === 0) return;
  const running = mode === "train" && !!a.runningMean && !!a.runningVar;
  // A thread per row only while one thread may loop over a whole row (see `loopBudget`).
  const perThread = (lay.L < LONG_ROW || lay.rows >= manyRows()) && rowLoops(lay, 1) <= loopBudget();
  if (!perThread) checkLoops(op, rowLoops(lay, NORM_WG), `a normalised row of ${lay.L} elements`);
  const unroll4 = perThread && lay.Kin % 4 === 0 && lay.kDiv % 4 === 0 && lay.L % lay.Kin === 0;
  const vec4 = unroll4 && [lay.sRi, lay.sKo, a.x.offset, a.g?.offset ?? 0].every((v) => v % 4 === 0);
  const k: NormKernel = { mode, weight: !!a.weight, bias: !!a.bias, running, perThread, unroll4, vec4, act: a.act };
  const meta = new Uint32Array(NORM_META_WORDS);
  meta.set([lay.rows, lay.L, lay.sRi, lay.Kin, lay.sKo, lay.rMod, lay.rMul, lay.kDiv, f32Bits(a.eps)]);
  meta[9] = f32Bits(a.momentum);
  if (running) {
    meta.set([a.runningMean!.offset, a.runningMean!.strides[0], a.runningVar!.offset, a.runningVar!.strides[0]], 10);
  }
  meta.set([a.x.offset, a.weight?.offset ?? 0, a.bias?.offset ?? 0, a.g?.offset ?? 0], 14);
  const byName: Record<string, Tensor | null | undefined> = {
    x: a.x,
    w: a.weight,
    b: a.bias,
    stats: a.stats,
    g: a.g,
    out: a.out,
    rm: a.runningMean,
    rv: a.runningVar,
  };
  dispatch({
    op: `${op}.${mode}`,
    pipeline: pipeline(`${op}.${mode}`, normSource(k)),
    bindings: normBindings(k).map((n) => byName[n]!.storage.buffer),
    uniforms: meta,
    workgroups: grid1d(k.perThread ? Math.ceil(lay.rows / NORM_WG) : lay.rows),
  });
}

/**
 * Σ g·x̂ and Σ g per affine channel, as a dense (2, C) tensor (with an activation, g·act'(y) in
 * place of g; `w` and `b` recompute y).
 */
function affineGrads(
  op: string,
  lay: Layout,
  a: { x: Tensor; stats: Tensor; g: Tensor; w: Tensor | null; b: Tensor | null; act: NormActivation },
): Tensor {
  const out = empty([2, lay.C], "float32", `${op}.affineGrad`);
  if (lay.C === 0) return out;
  const loops = (step: number) => Math.ceil(lay.J / step) + 4 * Math.log2(NORM_WG) + 16;
  const perThread = (lay.J < LONG_ROW || lay.C >= manyRows()) && loops(1) <= loopBudget();
  if (!perThread) checkLoops(op, loops(NORM_WG), `a channel of ${lay.J} elements`);
  const on = a.act !== "none";
  const k: AffineGradKernel = { perThread, act: a.act, weight: on && !!a.w, bias: on && !!a.b };
  const meta = new Uint32Array(AFFINE_META_WORDS);
  meta.set([lay.C, lay.J, lay.sCount, lay.rStride, lay.cDiv, lay.rOffMul, lay.cMod, lay.kMul]);
  meta.set([lay.rows, lay.sRi, lay.Kin, lay.sKo, a.x.offset, a.g.offset, a.w?.offset ?? 0, a.b?.offset ?? 0], 8);
  const byName: Record<string, Tensor | null> = { x: a.x, stats: a.stats, g: a.g, w: a.w, b: a.b, out };
  dispatch({
    op: `${op}.affineGrad`,
    pipeline: pipeline(`${op}.affineGrad`, affineGradSource(k)),
    bindings: affineGradBindings(k).map((n) => byName[n]!.storage.buffer),
    uniforms: meta,
    workgroups: grid1d(perThread ? Math.ceil(lay.C / NORM_WG) : lay.C),
  });
  return out;
}

/**
 * The segment kernels' plan for `lay` on this adapter, or null for the row kernels: CPU adapters
 * only (on GPUs a workgroup per channel reads coalesced memory, a thread per segment does not),
 * within the loop budget; four elements per load when S and every offset allow.
 * `MEDDIFF_NORM_SEGMENTS=0` keeps the row kernels (tests compare the two).
 */
function segmentPlan(lay: Layout, offsets: number[]): { vec4: boolean } | null {
  const seg = lay.seg;
  if (!seg || !segmentsOn() || seg.N * seg.C === 0 || seg.S === 0) return null;
  if (!segmentsFit(seg.N, seg.C, seg.S, seg.G)) return null;
  return { vec4: seg.S % 4 === 0 && offsets.every((o) => o % 4 === 0) };
}

const segmentsOn = () => gpu().isSoftware && envFlag("MEDDIFF_NORM_SEGMENTS") !== "0";

/** Whether a thread per segment stays within the loop budget (G = 0: batch norm). */
const segmentsFit = (N: number, C: number, S: number, G: number) =>
  2 * N + 2 * S + (G > 0 ? C / G : 0) + 16 <= loopBudget();

/**
 * Group statistics over (sample, channel) segments too long for a thread's loop (a 3-D volume's
 * 64³ voxels) on CPU adapters: the factor k that views (N, C, S) as (N, C·k, S/k) — the same
 * groups, so the same statistics, with each channel's weight and bias repeated k times — so
 * that the segment kernels apply (the row kernels give a whole group to one thread); 1 where
 * no split is needed or none fits.
 */
function segmentSplit(N: number, C: number, S: number, G: number): number {
  if (!segmentsOn() || N * C === 0 || segmentsFit(N, C, S, G)) return 1;
  for (let k = 2; k <= S && (C * k) / G <= loopBudget(); k *= 2) {
    if (S % k === 0 && segmentsFit(N, C * k, S / k, G)) return k;
  }
  return 1;
}

/** `t` [C] with each element repeated k times: [C·k] (autograd sums the copies' gradients). */
function repeatEach(t: Tensor | null, k: number): Tensor | null {
  if (!t) return null;
  const C = t.shape[0], column = reshape(t, [C, 1]), wide = expand(column, [C, k]);
  const out = reshape(wide, [C * k]);
  column.dispose();
  wide.dispose();
  return out;
}

/** A group or instance norm of (N, C, S) with G groups, run as (N, C·k, S/k) where `segmentSplit` says. */
function groupNormOp(
  op: string,
  x: Tensor,
  w: Tensor | null,
  b: Tensor | null,
  G: number,
  eps: number,
  act: NormActivation,
): Tensor {
  const [N, C] = x.shape, S = numel(x.shape.slice(2));
  const k = segmentSplit(N, C, S, G);
  if (k === 1) return normOp(op, x, w, b, groupLayout(N, C, S, G), eps, act);
  const xs = reshape(x, [N, C * k, S / k]), ws = repeatEach(w, k), bs = repeatEach(b, k);
  const y = normOp(op, xs, ws, bs, groupLayout(N, C * k, S / k, G), eps, act);
  for (const t of [xs, ws, bs]) if (t && t !== x) t.dispose();
  const out = reshape(y, x.shape);
  y.dispose();
  return out;
}

/**
 * Whether group norm's forward goes by segments: with few statistics rows (a 3-D volume's
 * groups), where the row kernels' workgroup per row leaves threads idle. Measured on llvmpipe,
 * GN + SiLU forward: [1, 16, 64³] with 8 groups 18 against 97 ms, [1, 32, 32³] 8 against 25; with
 * many rows the row kernels are as fast or faster ([64, 64, 28²]: 14 / 16 ms, [64, 128, 14²]: 13 / 9).
 */
const groupForwardBySegments = (lay: Layout) => lay.rows < 64;

/** Launches a segment kernel over every (n, c) segment (or every channel: `perChannel`). */
function runSegments(
  op: string,
  src: string,
  lay: Layout,
  k: { vec4: boolean },
  buffers: Tensor[],
  a: {
    eps?: number;
    momentum?: number;
    x?: Tensor;
    g?: Tensor;
    w?: Tensor | null;
    b?: Tensor | null;
    acc?: Tensor | null;
  },
  extra: { rm?: Tensor | null; rv?: Tensor | null; perChannel?: boolean } = {},
): void {
  const { N, C, S, G } = lay.seg!;
  const q = k.vec4 ? 4 : 1;
  const meta = new Uint32Array(SEGMENT_META_WORDS);
  meta.set([N, C, S, G, f32Bits(a.eps ?? 0), f32Bits(a.momentum ?? 0)]);
  meta.set([(a.x?.offset ?? 0) / q, (a.g?.offset ?? 0) / q, a.w?.offset ?? 0, a.b?.offset ?? 0], 6);
  if (extra.rm && extra.rv) meta.set([extra.rm.offset, extra.rm.strides[0], extra.rv.offset, extra.rv.strides[0]], 10);
  meta[14] = (a.acc?.offset ?? 0) / q;
  dispatch({
    op,
    pipeline: pipeline(op, src),
    bindings: buffers.map((t) => t.storage.buffer),
    uniforms: meta,
    workgroups: grid1d(Math.ceil((extra.perChannel ? C : N * C) / SEGMENT_WG)),
  });
}

/** Binds tensors by binding name. */
const byNames = (names: [string, boolean][], t: Record<string, Tensor | null | undefined>): Tensor[] =>
  names.map(([n]) => t[n]!);

/**
 * Batch or group norm's forward with the segment kernels (`batchStats`: training; else `stats`
 * holds eval statistics).
 */
function segmentForward(op: string, lay: Layout, plan: { vec4: boolean }, a: RowArgs, batchStats: boolean): void {
  const k: SegmentKernel = { vec4: plan.vec4, act: a.act, weight: !!a.weight, bias: !!a.bias };
  const { N, C } = lay.seg!;
  const part = batchStats ? empty([2 * N * C], "float32", `${op}.segments`) : null;
  if (part) runSegments(`${op}.segmentStats`, segmentStatsSource(k), lay, k, [a.x, part], { x: a.x });
  const running = batchStats && !!a.runningMean && !!a.runningVar;
  const names = segmentApplyBindings(k, batchStats, running);
  const t = { x: a.x, part, stats: a.stats, w: a.weight, b: a.bias, out: a.out, rm: a.runningMean, rv: a.runningVar };
  const offsets = { x: a.x, w: a.weight, b: a.bias, eps: a.eps, momentum: a.momentum };
  const src = segmentApplySource(k, batchStats, running, lay.seg!.G > 0);
  runSegments(`${op}.segmentApply`, src, lay, k, byNames(names, t), offsets, {
    rm: a.runningMean,
    rv: a.runningVar,
  });
  part?.dispose();
}

/**
 * Σ g'·x̂ and Σ g' per channel with the segment kernels, as the dense (2, C) tensor `affineGrads`
 * gives; with `dx` (batch norm, batch statistics) also the input gradient, in the same pass.
 */
function segmentGrads(
  op: string,
  lay: Layout,
  plan: { vec4: boolean },
  a: { x: Tensor; stats: Tensor; g: Tensor; w: Tensor | null; b: Tensor | null; act: NormActivation },
  dx: Tensor | null,
  acc: Tensor | null = null,
): Tensor {
  const k: SegmentKernel = { vec4: plan.vec4, act: a.act, weight: !!a.w, bias: !!a.b, accumulate: !!acc };
  const { N, C } = lay.seg!;
  const part = empty([2 * N * C], "float32", `${op}.segments`);
  const wb = empty([2, C], "float32", `${op}.affineGrad`);
  const t = { x: a.x, stats: a.stats, g: a.g, w: a.w, b: a.b, part, acc, out: dx, wb };
  runSegments(`${op}.segmentGradSums`, segmentGradSumsSource(k), lay, k, byNames(segmentGradSumsBindings(k), t), a);
  if (dx) {
    const src = segmentDxSource(k, lay.seg!.G > 0);
    runSegments(`${op}.segmentDx`, src, lay, k, byNames(segmentDxBindings(k), t), { ...a, acc });
  } else runSegments(`${op}.segmentCombine`, segmentCombineSource(), lay, k, [part, wb], {}, { perChannel: true });
  part.dispose();
  return wb;
}

/** A dense handle on `t` that records no graph (the op records its own node). */
function dense(t: Tensor): Tensor {
  return noGrad(() => contiguous(t));
}

function checkFloat(op: string, arg: string, t: unknown): Tensor {
  if (!(t instanceof Tensor)) throw new TypeError(`${op}: ${arg} must be a Tensor, got ${typeof t}`);
  t.assertLive(op);
  if (t.dtype !== "float32") throw new TypeError(`${op}: ${arg} must be float32, got ${t.dtype}`);
  return t;
}

function checkParam(op: string, arg: string, t: Tensor | null | undefined, shape: readonly number[]): Tensor | null {
  if (t === null || t === undefined) return null;
  checkFloat(op, arg, t);
  if (numel(t.shape) !== numel(shape) || (t.ndim !== shape.length && t.ndim !== 1)) {
    throw new RangeError(`${op}: ${arg} of shape ${fmtShape(t.shape)} does not match the expected ${fmtShape(shape)}`);
  }
  return t;
}

/** Throws unless `act` names a fused activation; returns it (default "none"). */
function checkActivation(op: string, act: unknown): NormActivation {
  if (act === undefined) return "none";
  if (!NORM_ACTIVATIONS.includes(act as NormActivation)) {
    throw new RangeError(`${op}: activation must be one of ${NORM_ACTIVATIONS.join(", ")}, got ${JSON.stringify(act)}`);
  }
  return act as NormActivation;
}

/**
 * Shared forward + backward of every norm: `x` is normalised along `lay`, then `act` applied;
 * `constStats` gives constant statistics (eval-mode batch norm) instead of batch statistics.
 */
function normOp(
  name: string,
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  lay: Layout,
  eps: number,
  act: NormActivation,
  constStats?: (stats: Tensor) => void,
  running?: { mean: Tensor | null; var: Tensor | null; momentum: number },
): Tensor {
  const op = act === "none" ? name : `${name}+${act}`;
  const xc = dense(x), wc = weight && dense(weight), bc = bias && dense(bias);
  const stats = empty([2, lay.rows], "float32", `${op}.stats`);
  const out = empty(x.shape, "float32", op);
  if (constStats) constStats(stats);
  const fwd: RowArgs = {
    x: xc,
    weight: wc,
    bias: bc,
    stats,
    out,
    runningMean: running?.mean,
    runningVar: running?.var,
    eps,
    momentum: running?.momentum ?? 0,
    act,
  };
  // Batch norm's strided channels go by segments where they can; the other norms' rows are
  // contiguous, and group norm's go by segments where they are few (a 3-D volume's few groups).
  const fwdPlan = lay.seg && (lay.seg.G === 0 || groupForwardBySegments(lay)) ? segmentPlan(lay, [xc.offset]) : null;
  if (fwdPlan) segmentForward(op, lay, fwdPlan, fwd, !constStats);
  else runRows(op, constStats ? "apply" : "train", lay, fwd);
  // With an activation the gradient kernels recompute y = x̂·w + b, so they need the bias too.
  const keepBias = act !== "none" && !!bc;
  if (!keepBias) bc?.dispose();
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  const save = [xc, stats, ...(wc ? [wc] : []), ...(keepBias ? [bc!] : [])];
  const y = record(op, out, inputs, (g, [xs, st, ...params], pending) => {
    const ws = wc ? params[0] : null, bs = keepBias ? params[wc ? 1 : 0] : null;
    const gc = dense(g);
    const rowsBackward = (): Tensor => {
      const dx = empty(x.shape, "float32", `${op}.backward`);
      runRows(op, constStats ? "backwardConst" : "backward", lay, {
        x: xs,
        weight: ws,
        bias: bs,
        stats: st,
        g: gc,
        out: dx,
        eps,
        momentum: 0,
        act,
      });
      return dx;
    };
    const plan = segmentPlan(lay, [xs.offset, gc.offset]);
    const sums = { x: xs, stats: st, g: gc, w: ws, b: bs, act };
    const grads: (Tensor | null)[] = [];
    let wb: Tensor | null = null;
    if (plan && !constStats && x.requiresGrad) {
      // Batch or group norm with batch statistics: dx and the affine gradients from one pair of kernels.
      // x's gradient from its other consumers (a residual's) is added in the dx kernel.
      const prev = pending.get(0);
      const acc = prev && prev.isContiguous && (!plan.vec4 || prev.offset % 4 === 0) ? prev : null;
      const dx = empty(x.shape, "float32", `${op}.backward`);
      wb = segmentGrads(op, lay, plan, sums, dx, acc);
      if (acc) pending.claim(0);
      grads.push(dx);
    } else grads.push(x.requiresGrad ? rowsBackward() : null);
    if (weight?.requiresGrad || bias?.requiresGrad) {
      const all = wb ??= plan ? segmentGrads(op, lay, plan, sums, null) : affineGrads(op, lay, sums);
      const part = (i: number, like: Tensor) => {
        const row = narrow(all, 0, i, 1);
        const r = reshape(row, like.shape);
        row.dispose();
        return r;
      };
      if (weight) grads.push(weight.requiresGrad ? part(0, weight) : null);
      if (bias) grads.push(bias.requiresGrad ? part(1, bias) : null);
    }
    wb?.dispose();
    gc.dispose();
    return grads;
  }, save);
  xc.dispose();
  stats.dispose();
  wc?.dispose();
  if (keepBias) bc!.dispose();
  return y;
}

/** Options of `batchNorm`. */
export interface BatchNormOptions {
  /** Use batch statistics and update the running ones (default false, as `F.batch_norm`). */
  training?: boolean;
  /** Weight of the new batch statistics in the running estimate (default 0.1). */
  momentum?: number;
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Activation fused after the affine, in the same kernels (default "none"). */
  activation?: NormActivation;
}

/**
 * Batch normalisation over (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W). In training it
 * normalises with the biased batch variance and updates `runningMean`/`runningVar` in place
 * (with the unbiased variance, as PyTorch); otherwise it uses the running statistics.
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  opts: BatchNormOptions = {},
): Tensor {
  const op = "batchNorm";
  const { training = false, momentum = 0.1, eps = 1e-5 } = opts;
  const act = checkActivation(op, opts.activation);
  checkFloat(op, "input", x);
  if (x.ndim < 2 || x.ndim > 5) {
    throw new RangeError(`${op}: expected a 2-D to 5-D input (N, C, …), got shape ${fmtShape(x.shape)}`);
  }
  const [N, C] = x.shape;
  const S = numel(x.shape.slice(2));
  const rm = checkParam(op, "runningMean", runningMean, [C]);
  const rv = checkParam(op, "runningVar", runningVar, [C]);
  const w = checkParam(op, "weight", weight, [C]);
  const b = checkParam(op, "bias", bias, [C]);
  const lay = batchLayout(N, C, S);
  if (!training) {
    if (!rm || !rv) throw new Error(`${op}: runningMean and runningVar are required when not training`);
    const setStats = (stats: Tensor) => {
      const m = narrow(stats, 0, 0, 1), r = narrow(stats, 0, 1, 1);
      runMap({ op: `${op}.evalStats`, expr: "m", inputs: [rm], names: ["m"], out: "float32", into: m });
      runMap({
        op: `${op}.evalRstd`,
        expr: "inverseSqrt(v + e)",
        inputs: [rv],
        names: ["v"],
        params: [{ name: "e", value: eps, type: "f32" }],
        out: "float32",
        into: r,
      });
      m.dispose();
      r.dispose();
    };
    return normOp(op, x, w, b, lay, eps, act, setStats);
  }
  if (lay.L <= 1) {
    throw new RangeError(`${op}: expected more than 1 value per channel when training, got input ${fmtShape(x.shape)}`);
  }
  for (const [name, t] of [["runningMean", rm], ["runningVar", rv]] as const) {
    if (t && t.ndim !== 1) throw new RangeError(`${op}: ${name} must be 1-D of length ${C}, got ${fmtShape(t.shape)}`);
  }
  if (rm && rv && rm.storage === rv.storage) {
    // One dispatch cannot bind the same buffer twice for writing.
    throw new RangeError(`${op}: runningMean and runningVar must not share storage`);
  }
  return normOp(op, x, w, b, lay, eps, act, undefined, { mean: rm, var: rv, momentum });
}

/** Options of `groupNorm`, `layerNorm` and `instanceNorm`. */
export interface NormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /**
   * Activation fused after the affine (default "none"): "silu" (or "relu") gives `silu(norm(x))`
   * from the same single forward kernel and the same backward kernels, without storing the norm's
   * output.
   */
  activation?: NormActivation;
}

/**
 * Group normalisation of (N, C, *) over groups of C / numGroups channels, per-channel affine,
 * optionally followed by a fused activation (`opts.activation`).
 *
 * @example
 * ```ts
 * const h = groupNorm(x, 32, weight, bias, { activation: "silu" }); // = silu(groupNorm(x, 32, weight, bias))
 * ```
 */
export function groupNorm(
  x: Tensor,
  numGroups: number,
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  opts: NormOptions = {},
): Tensor {
  const op = "groupNorm";
  const act = checkActivation(op, opts.activation);
  checkFloat(op, "input", x);
  if (x.ndim < 2) throw new RangeError(`${op}: expected an input of shape (N, C, *), got ${fmtShape(x.shape)}`);
  const C = x.shape[1];
  if (!Number.isInteger(numGroups) || numGroups <= 0 || C % numGroups !== 0) {
    throw new RangeError(
      `${op}: the ${C} channels of input ${fmtShape(x.shape)} are not divisible by numGroups=${numGroups}`,
    );
  }
  const w = checkParam(op, "weight", weight, [C]), b = checkParam(op, "bias", bias, [C]);
  return groupNormOp(op, x, w, b, numGroups, opts.eps ?? 1e-5, act);
}

/** Instance normalisation of (N, C, *): each (sample, channel) plane on its own statistics. */
export function instanceNorm(
  x: Tensor,
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  opts: NormOptions = {},
): Tensor {
  const op = "instanceNorm";
  const act = checkActivation(op, opts.activation);
  checkFloat(op, "input", x);
  if (x.ndim < 3) throw new RangeError(`${op}: expected an input of shape (N, C, *spatial), got ${fmtShape(x.shape)}`);
  const C = x.shape[1];
  const w = checkParam(op, "weight", weight, [C]), b = checkParam(op, "bias", bias, [C]);
  return groupNormOp(op, x, w, b, C, opts.eps ?? 1e-5, act);
}

/** Layer normalisation over the trailing dims `normalizedShape`, with elementwise affine. */
export function layerNorm(
  x: Tensor,
  normalizedShape: number | readonly number[],
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  opts: NormOptions = {},
): Tensor {
  const op = "layerNorm";
  const act = checkActivation(op, opts.activation);
  checkFloat(op, "input", x);
  const ns = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
  const tail = x.shape.slice(x.ndim - ns.length);
  if (ns.length === 0 || ns.length > x.ndim || tail.some((d, i) => d !== ns[i])) {
    throw new RangeError(
      `${op}: normalizedShape ${fmtShape(ns)} does not match the end of input shape ${fmtShape(x.shape)}`,
    );
  }
  const w = checkParam(op, "weight", weight, ns), b = checkParam(op, "bias", bias, ns);
  const L = numel(ns);
  return normOp(op, x, w, b, layerLayout(numel(x.shape) / Math.max(L, 1), L), opts.eps ?? 1e-5, act);
}
