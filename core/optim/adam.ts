/** Adam and AdamW (torch.optim.Adam / AdamW, amsgrad optional), fused kernels over several parameters per dispatch. */
import type { Tensor } from "../tensor.ts";
import { zerosLike } from "../ops/creation.ts";
import { adamKernel } from "../kernels/optim.ts";
import {
  checkNonNegative,
  Optimizer,
  type ParamGroup,
  type ParamsInput,
  type ParamState,
  type UpdateBatch,
} from "./optimizer.ts";

/** Hyper-parameters of Adam and AdamW. */
export interface AdamHyper {
  /** Learning rate (default 1e-3). */
  lr: number;
  /** Learning rate a scheduler started from. */
  initialLr?: number;
  /** Coefficients of the running averages of the gradient and its square (default [0.9, 0.999]). */
  betas: [number, number];
  /** Term added to the denominator (default 1e-8). */
  eps: number;
  /** Weight decay: an L2 penalty for Adam (default 0), decoupled for AdamW (default 1e-2). */
  weightDecay: number;
  /** Use the AMSGrad variant (keeps the maximum of the second moment). */
  amsgrad: boolean;
  /** Maximize the objective instead of minimizing it. */
  maximize: boolean;
}

/** Options of `Adam` and `AdamW` (all optional). */
export type AdamOptions = Partial<AdamHyper>;

const KERNELS = [adamKernel(false), adamKernel(true)];

/**
 * Adam exactly as torch.optim.Adam: `g ← ±grad + wd·p; m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
 * v̂ ← max(v̂, v) (amsgrad); p ← p − lr/(1−β₁ᵗ) · m / (√v̂ / √(1−β₂ᵗ) + ε)`. The bias corrections
 * are computed in float64 on the CPU each step.
 *
 * @example
 * ```ts
 * const opt = new Adam([w, b], { lr: 1e-3 });
 * ```
 */
export class Adam extends Optimizer<AdamHyper> {
  /** True for AdamW's decoupled weight decay. */
  protected readonly decoupled: boolean;

  /** Adam over `params` (tensors or parameter groups); `decoupled` selects AdamW's weight decay. */
  constructor(params: ParamsInput<AdamHyper>, opts: AdamOptions = {}, decoupled = false) {
    const name = decoupled ? "AdamW" : "Adam";
    super(name, params, {
      lr: opts.lr ?? 1e-3,
      betas: opts.betas ? [opts.betas[0], opts.betas[1]] : [0.9, 0.999],
      eps: opts.eps ?? 1e-8,
      weightDecay: opts.weightDecay ?? (decoupled ? 1e-2 : 0),
      amsgrad: opts.amsgrad ?? false,
      maximize: opts.maximize ?? false,
    });
    this.decoupled = decoupled;
  }

  /** Validates a group's hyper-parameters. */
  protected checkHyper(h: AdamHyper): void {
    const name = this.name;
    checkNonNegative(name, "learning rate (lr)", h.lr);
    checkNonNegative(name, "epsilon (eps)", h.eps);
    checkNonNegative(name, "weightDecay", h.weightDecay);
    if (!Array.isArray(h.betas) || h.betas.length !== 2) {
      throw new RangeError(`${name}: betas must be a pair [beta1, beta2], got ${JSON.stringify(h.betas)}`);
    }
    h.betas.forEach((b, i) => {
      if (typeof b !== "number" || !(b >= 0 && b < 1)) {
        throw new RangeError(`${name}: invalid beta parameter at index ${i}: ${b}; expected 0 <= beta < 1`);
      }
    });
  }

  /** The moments (and AMSGrad's maximum) are packed, one storage each for all parameters. */
  protected override packedStateKeys(g: ParamGroup<AdamHyper>): readonly string[] {
    return g.amsgrad ? ["expAvg", "expAvgSq", "maxExpAvgSq"] : ["expAvg", "expAvgSq"];
  }

  /** One fused Adam launch for `p` (bias corrections computed here in float64). */
  protected updateParam(
    p: Tensor,
    grad: Tensor,
    g: ParamGroup<AdamHyper>,
    st: ParamState,
    updates: UpdateBatch,
  ): void {
    const step = ((st.step as number | undefined) ?? 0) + 1;
    st.step = step;
    const [beta1, beta2] = g.betas;
    const expAvg = this.stateTensor(st, "expAvg", p, zerosLike);
    const expAvgSq = this.stateTensor(st, "expAvgSq", p, zerosLike);
    const bc1 = 1 - beta1 ** step;
    const bc2 = 1 - beta2 ** step;
    const scalars = [
      this.decoupled ? 0 : g.weightDecay,
      this.decoupled ? 1 - g.lr * g.weightDecay : 1,
      beta1,
      1 - beta1,
      beta2,
      1 - beta2,
      g.lr / bc1,
      Math.sqrt(bc2),
      g.eps,
    ];
    const tensors = [p, grad, expAvg, expAvgSq];
    if (g.amsgrad) tensors.push(this.stateTensor(st, "maxExpAvgSq", p, zerosLike));
    updates.add(g.amsgrad ? "adam_amsgrad" : "adam", KERNELS[g.amsgrad ? 1 : 0], tensors, scalars, [g.maximize]);
  }
}

/**
 * AdamW (torch.optim.AdamW): Adam with decoupled weight decay `p ← p·(1 − lr·wd)` applied
 * before the Adam update; `weightDecay` defaults to 1e-2.
 */
export class AdamW extends Adam {
  /** AdamW over `params`; `weightDecay` defaults to 1e-2. */
  constructor(params: ParamsInput<AdamHyper>, opts: AdamOptions = {}) {
    super(params, opts, true);
  }
}
