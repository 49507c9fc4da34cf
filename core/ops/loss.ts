/**
 * Loss functions (PyTorch semantics, reduction "mean" by default). Most are composed from
 * differentiable ops (the fused log-softmax does the heavy lifting); binary cross-entropy
 * on logits is one fused elementwise kernel so that its stable form keeps exact gradients.
 */
import { noGrad, record } from "../autograd.ts";
import type { Scalar } from "../kernels/map.ts";
import { broadcastShapes, fmtShape, sameShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { add, cast, div, mul, ne, neg, square, sub, where } from "./elementwise.ts";
import { gather, indexSelect } from "./join.ts";
import { runMap } from "./map.ts";
import { mean, sum } from "./reduce.ts";
import { logSoftmax } from "./softmax.ts";
import { flatten, reshape, unsqueeze } from "./view.ts";

/** How a loss reduces over the batch. */
export type Reduction = "mean" | "sum" | "none";

function live(x: unknown, op: string, arg: string): Tensor {
  if (!(x instanceof Tensor)) throw new TypeError(`${op}: ${arg} must be a Tensor, got ${typeof x}`);
  x.assertLive(op);
  return x;
}

function checkFloat(x: Tensor, op: string, arg: string): void {
  if (x.dtype !== "float32") {
    throw new TypeError(`${op}: ${arg} must be float32, got ${x.dtype} of shape ${fmtShape(x.shape)}`);
  }
}

function checkReduction(r: unknown, op: string): Reduction {
  if (r === "mean" || r === "sum" || r === "none") return r;
  throw new TypeError(`${op}: reduction must be "mean", "sum" or "none", got ${JSON.stringify(r)}`);
}

/** Disposes temporaries, skipping the tensor being returned. */
function free(keep: Tensor, ...ts: (Tensor | undefined)[]): void {
  for (const t of ts) if (t && t !== keep) t.dispose();
}

/** sum or mean of `loss` (disposing it), or `loss` itself for "none". */
function reduce(loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === "none") return loss;
  const r = reduction === "sum" ? sum(loss) : mean(loss);
  loss.dispose();
  return r;
}

/** Mean squared error; `input` and `target` must have the same shape. */
export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  live(input, "mseLoss", "input");
  live(target, "mseLoss", "target");
  const reduction = checkReduction(opts.reduction ?? "mean", "mseLoss");
  checkFloat(input, "mseLoss", "input");
  checkFloat(target, "mseLoss", "target");
  if (!sameShape(input.shape, target.shape)) {
    throw new RangeError(
      `mseLoss: input ${fmtShape(input.shape)} and target ${fmtShape(target.shape)} must have the same shape`,
    );
  }
  const d = sub(input, target);
  const sq = square(d);
  d.dispose();
  return reduce(sq, reduction);
}

/** Options of `crossEntropy`. */
export interface CrossEntropyOptions {
  /** Per-class weights (1-D float tensor of size C). */
  weight?: Tensor;
  /** Label smoothing in [0, 1]. */
  labelSmoothing?: number;
  /** Reduction. */
  reduction?: Reduction;
  /** Target value that is ignored (default −100). */
  ignoreIndex?: number;
}

/** Validates (N, C, d…) inputs against int (N, d…) targets; (C) inputs take a 0-d target. */
function checkClassTarget(op: string, input: Tensor, target: Tensor, weight: Tensor | undefined): void {
  if (input.ndim === 0) throw new RangeError(`${op}: input must have a class dim, got shape []`);
  const want = input.ndim === 1 ? [] : [input.shape[0], ...input.shape.slice(2)];
  if (!sameShape(target.shape, want)) {
    throw new RangeError(
      `${op}: target of shape ${fmtShape(target.shape)} does not fit input of shape ${fmtShape(input.shape)} ` +
        `(expected ${fmtShape(want)})`,
    );
  }
  checkWeight(op, input, weight);
}

function checkWeight(op: string, input: Tensor, weight: Tensor | undefined): void {
  if (!weight) return;
  live(weight, op, "weight");
  checkFloat(weight, op, "weight");
  const C = input.shape[input.ndim === 1 ? 0 : 1];
  if (weight.ndim !== 1 || weight.shape[0] !== C) {
    throw new RangeError(
      `${op}: weight of shape ${fmtShape(weight.shape)} must have shape [${C}] for input of shape ${
        fmtShape(input.shape)
      }`,
    );
  }
}

/** Per-element NLL of batched log-probs (N, C, d…) and the weight each kept element counts with. */
interface NllParts {
  /** −w[t]·logp[t], 0 where ignored; shape of the target. */
  loss: Tensor;
  /** w[t] (or 1), 0 where ignored: the mean's denominator terms. */
  wm: Tensor;
  /** target ≠ ignoreIndex (bool). */
  keep: Tensor;
}

function nllParts(logp: Tensor, t: Tensor, weight: Tensor | undefined, ignoreIndex: number): NllParts {
  const keep = ne(t, ignoreIndex);
  // Ignored targets read class 0 (any valid class) and are masked out afterwards.
  const safe = where(keep, t, 0);
  const idx = unsqueeze(safe, 1);
  const g = gather(logp, 1, idx);
  const picked = reshape(g, t.shape);
  const wSel = weight
    ? noGrad(() => {
      const flat = flatten(safe);
      const sel = indexSelect(weight, 0, flat);
      const r = reshape(sel, t.shape);
      flat.dispose();
      sel.dispose();
      return r;
    })
    : undefined;
  const prod = wSel ? mul(picked, wSel) : picked;
  const nprod = neg(prod);
  const loss = where(keep, nprod, 0);
  const wm = noGrad(() => (wSel ? where(keep, wSel, 0) : cast(keep, "float32")));
  free(loss, safe, idx, g, picked, wSel, prod, nprod);
  return { loss, wm, keep };
}

/** Reduces per-element losses with the weighted-mean denominator Σ w[t] over kept elements. */
function reduceWeighted(loss: Tensor, wm: Tensor, reduction: Reduction): Tensor {
  if (reduction !== "mean") return reduce(loss, reduction);
  const s = sum(loss), den = sum(wm);
  const r = div(s, den);
  free(r, loss, s, den);
  return r;
}

function checkIgnore(ignoreIndex: unknown, op: string): number {
  if (!Number.isInteger(ignoreIndex)) throw new TypeError(`${op}: ignoreIndex must be an integer, got ${ignoreIndex}`);
  return ignoreIndex as number;
}

/**
 * Cross-entropy of logits (N, C, d…) — or unbatched (C) — against int32 class indices
 * (N, d…) or float32 class probabilities of the logits' shape. Matches PyTorch, including
 * `labelSmoothing` mixed with `weight` and the weighted mean Σ w[t]·loss / Σ w[t] for
 * index targets (probability targets average over N·d…).
 */
export function crossEntropy(logits: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const op = "crossEntropy";
  live(logits, op, "logits");
  live(target, op, "target");
  checkFloat(logits, op, "logits");
  const reduction = checkReduction(opts.reduction ?? "mean", op);
  const ignoreIndex = checkIgnore(opts.ignoreIndex ?? -100, op);
  const ls = opts.labelSmoothing ?? 0;
  if (typeof ls !== "number" || !(ls >= 0 && ls <= 1)) {
    throw new RangeError(`${op}: labelSmoothing must be in [0, 1], got ${ls}`);
  }
  const weight = opts.weight;
  if (logits.ndim === 0) throw new RangeError(`${op}: logits must have a class dim, got shape []`);
  if (target.dtype === "float32") {
    if (!sameShape(target.shape, logits.shape)) {
      throw new RangeError(
        `${op}: probability target of shape ${fmtShape(target.shape)} must match logits of shape ${
          fmtShape(logits.shape)
        }`,
      );
    }
    checkWeight(op, logits, weight);
  } else if (target.dtype === "int32") checkClassTarget(op, logits, target, weight);
  else {
    throw new TypeError(
      `${op}: target must be int32 class indices or float32 probabilities, got ${target.dtype} of shape ${
        fmtShape(target.shape)
      }`,
    );
  }
  const unbatched = logits.ndim === 1;
  const C = logits.shape[unbatched ? 0 : 1];
  // Not alias(): that would cut the graph.
  const x = unbatched ? unsqueeze(logits, 0) : logits;
  const weightView = (): Tensor | undefined =>
    weight ? reshape(weight, x.shape.map((n, i) => (i === 1 ? n : 1))) : undefined;
  let out: Tensor;
  if (target.dtype === "float32") out = probTarget(x, target, unbatched, C, ls, weightView, reduction);
  else {
    const t = unbatched ? reshape(target, [1]) : target;
    const logp = logSoftmax(x, 1);
    const { loss, wm, keep } = nllParts(logp, t, weight, ignoreIndex);
    if (ls === 0) out = reduceWeighted(loss, wm, reduction);
    else {
      // PyTorch: (1 − ε)·nll + ε/C · smooth, smooth = −Σ_c w_c·logp_c (0 where ignored).
      const wv = weightView();
      const wl = wv ? mul(logp, wv) : logp;
      const s = sum(wl, 1);
      const ns = neg(s);
      const smooth = where(keep, ns, 0);
      const a = reduceWeighted(loss, wm, reduction);
      const b = reduceWeighted(smooth, wm, reduction);
      const a2 = mul(a, 1 - ls), b2 = mul(b, ls / C);
      out = add(a2, b2);
      free(out, wv, wl, s, ns, a, b, a2, b2);
    }
    free(out, t === target ? undefined : t, logp, wm, keep);
  }
  if (x !== logits) x.dispose();
  if (unbatched && reduction === "none") {
    const r = reshape(out, []);
    out.dispose();
    return r;
  }
  return out;
}

/** Cross-entropy against class probabilities (PyTorch's `cross_entropy_loss_prob_target`). */
function probTarget(
  x: Tensor,
  target: Tensor,
  unbatched: boolean,
  C: number,
  ls: number,
  weightView: () => Tensor | undefined,
  reduction: Reduction,
): Tensor {
  const t = unbatched ? unsqueeze(target, 0) : target;
  const scaled = ls > 0 ? mul(t, 1 - ls) : undefined;
  const p = scaled ? add(scaled, ls / C) : t;
  const logp = logSoftmax(x, 1);
  const lp = mul(logp, p);
  const wv = weightView();
  const prod = wv ? mul(lp, wv) : lp;
  let out: Tensor;
  if (reduction === "none") {
    const s = sum(prod, 1);
    out = neg(s);
    s.dispose();
  } else {
    const s = sum(prod);
    const ns = neg(s);
    out = reduction === "sum" ? ns : div(ns, x.size / C);
    free(out, s, ns);
  }
  free(out, t === target ? undefined : t, scaled, p === t ? undefined : p, logp, lp, wv, prod);
  return out;
}

/** Negative log-likelihood of log-probabilities (N, C, d…) — or (C) — at int32 targets (N, d…). */
export function nllLoss(
  logProbs: Tensor,
  target: Tensor,
  opts: { weight?: Tensor; reduction?: Reduction; ignoreIndex?: number } = {},
): Tensor {
  const op = "nllLoss";
  live(logProbs, op, "logProbs");
  live(target, op, "target");
  checkFloat(logProbs, op, "logProbs");
  if (target.dtype !== "int32") {
    throw new TypeError(
      `${op}: target must be int32 class indices, got ${target.dtype} of shape ${fmtShape(target.shape)}`,
    );
  }
  const reduction = checkReduction(opts.reduction ?? "mean", op);
  const ignoreIndex = checkIgnore(opts.ignoreIndex ?? -100, op);
  checkClassTarget(op, logProbs, target, opts.weight);
  const unbatched = logProbs.ndim === 1;
  const x = unbatched ? unsqueeze(logProbs, 0) : logProbs;
  const t = unbatched ? reshape(target, [1]) : target;
  const { loss, wm, keep } = nllParts(x, t, opts.weight, ignoreIndex);
  let out = reduceWeighted(loss, wm, reduction);
  free(out, x === logProbs ? undefined : x, t === target ? undefined : t, wm, keep);
  if (unbatched && reduction === "none") {
    const r = reshape(out, []);
    out.dispose();
    out = r;
  }
  return out;
}

/** Checks that an optional per-element tensor broadcasts into `shape` without growing it. */
function checkBroadcastInto(op: string, arg: string, t: Tensor | undefined, shape: readonly number[]): void {
  if (!t) return;
  live(t, op, arg);
  checkFloat(t, op, arg);
  if (!sameShape(broadcastShapes(op, shape, t.shape), shape)) {
    throw new RangeError(`${op}: ${arg} of shape ${fmtShape(t.shape)} must broadcast to ${fmtShape(shape)}`);
  }
}

/**
 * Binary cross-entropy on logits, in PyTorch's stable form
 * (1 − t)·x + lw·(max(−x, 0) + log1p(e^(−|x|))) with lw = (posWeight − 1)·t + 1, times
 * `weight`. Gradients flow to logits and target (not to weight/posWeight, as in PyTorch).
 */
export function binaryCrossEntropyWithLogits(
  logits: Tensor,
  target: Tensor,
  opts: { weight?: Tensor; posWeight?: Tensor; reduction?: Reduction } = {},
): Tensor {
  const op = "binaryCrossEntropyWithLogits";
  live(logits, op, "logits");
  live(target, op, "target");
  checkFloat(logits, op, "logits");
  checkFloat(target, op, "target");
  const reduction = checkReduction(opts.reduction ?? "mean", op);
  if (!sameShape(logits.shape, target.shape)) {
    throw new RangeError(
      `${op}: target size ${fmtShape(target.shape)} must be the same as input size ${fmtShape(logits.shape)}`,
    );
  }
  const { weight, posWeight } = opts;
  checkBroadcastInto(op, "weight", weight, logits.shape);
  checkBroadcastInto(op, "posWeight", posWeight, logits.shape);
  const inputs = [logits, target, ...(posWeight ? [posWeight] : []), ...(weight ? [weight] : [])];
  const names = ["x", "t", ...(posWeight ? ["pw"] : []), ...(weight ? ["w"] : [])];
  const load = inputs.map(() => "f32" as Scalar);
  const lw = posWeight ? "((pw - 1.0) * t + 1.0)" : "1.0";
  const w = weight ? " * w" : "";
  const sp = "(log1p_(exp(-abs(x))) + max(-x, 0.0))"; // softplus(−x), stable
  // Without posWeight keep PyTorch's order: x + max(−x, 0) cancels exactly for large −x.
  const fwd = posWeight
    ? `((1.0 - t) * x + ${lw} * ${sp})${w}`
    : `((1.0 - t) * x + max(-x, 0.0) + log1p_(exp(-abs(x))))${w}`;
  const shape = logits.shape;
  const loss = runMap({ op, expr: fwd, inputs, names, load, out: "float32", shape });
  const rec = record(op, loss, [logits, target], (g, saved) => {
    const gIn = [g, ...saved], gNames = ["g", ...names];
    const gLoad = gIn.map(() => "f32" as Scalar);
    const run = (expr: string, suffix: string) =>
      runMap({ op: `${op}.${suffix}`, expr, inputs: gIn, names: gNames, load: gLoad, out: "float32", shape });
    return [
      logits.requiresGrad ? run(`g${w} * ((1.0 - t) - ${lw} / (1.0 + exp(x)))`, "backward.x") : null,
      target.requiresGrad ? run(`g${w} * (-x${posWeight ? ` + (pw - 1.0) * ${sp}` : ""})`, "backward.t") : null,
    ];
  }, inputs);
  return reduce(rec, reduction);
}
