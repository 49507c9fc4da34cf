/**
 * Multi-class focal loss (Lin et al. 2017): `−α_t (1 − p_t)^γ log p_t` per sample, where p_t is
 * the softmax probability of the true class — it down-weights easy examples so training
 * concentrates on hard (often minority-class) ones. γ = 0 and no weights give cross-entropy.
 */
import { fmtShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { exp, mul, neg, pow, sub } from "./elementwise.ts";
import { gather, indexSelect } from "./join.ts";
import { mean, sum } from "./reduce.ts";
import { logSoftmax } from "./softmax.ts";
import { reshape, unsqueeze } from "./view.ts";

/** Options of {@linkcode focalLoss}. */
export interface FocalLossOptions {
  /** Focusing parameter γ ≥ 0 (default 2). */
  gamma?: number;
  /** Per-class weights α (C), e.g. inverse class frequencies; default none (all 1). */
  weight?: Tensor;
  /** `"mean"` over samples (default), `"sum"`, or `"none"` (one loss per sample). */
  reduction?: "mean" | "sum" | "none";
}

/** Focal loss of logits (N, C) against int32 class indices (N); see the module doc. */
export function focalLoss(logits: Tensor, target: Tensor, opts: FocalLossOptions = {}): Tensor {
  const op = "focalLoss";
  for (const [name, t] of [["logits", logits], ["target", target]] as const) {
    if (!(t instanceof Tensor)) throw new TypeError(`${op}: ${name} must be a Tensor, got ${typeof t}`);
    t.assertLive(op);
  }
  if (logits.dtype !== "float32" || logits.ndim !== 2) {
    throw new RangeError(`${op}: logits must be float32 (N, C), got ${logits.dtype} ${fmtShape(logits.shape)}`);
  }
  if (target.dtype !== "int32" || target.ndim !== 1 || target.shape[0] !== logits.shape[0]) {
    throw new RangeError(
      `${op}: target must be int32 (${logits.shape[0]}) class indices, got ${target.dtype} ${fmtShape(target.shape)}`,
    );
  }
  const gamma = opts.gamma ?? 2;
  if (typeof gamma !== "number" || !(gamma >= 0)) throw new RangeError(`${op}: gamma must be ≥ 0, got ${gamma}`);
  const reduction = opts.reduction ?? "mean";
  if (!["mean", "sum", "none"].includes(reduction)) {
    throw new RangeError(`${op}: reduction must be "mean", "sum" or "none", got ${JSON.stringify(reduction)}`);
  }
  const C = logits.shape[1];
  if (opts.weight && (opts.weight.ndim !== 1 || opts.weight.shape[0] !== C)) {
    throw new RangeError(`${op}: weight must have shape [${C}], got ${fmtShape(opts.weight.shape)}`);
  }
  const temps: Tensor[] = [];
  const keep = <T extends Tensor>(t: T): T => (temps.push(t), t);
  const logp = keep(logSoftmax(logits, 1));
  const idx = keep(unsqueeze(target, 1));
  const logpt = keep(reshape(keep(gather(logp, 1, idx)), [logits.shape[0]]));
  let loss = keep(neg(logpt));
  if (gamma > 0) {
    const pt = keep(exp(logpt));
    const focus = keep(pow(keep(sub(1, pt)), gamma));
    loss = keep(mul(focus, loss));
  }
  if (opts.weight) loss = keep(mul(keep(indexSelect(opts.weight, 0, target)), loss));
  if (reduction === "none") {
    temps.filter((t) => t !== loss).forEach((t) => t.dispose());
    return loss;
  }
  const out = reduction === "sum" ? sum(loss) : mean(loss);
  temps.forEach((t) => t.dispose());
  return out;
}
