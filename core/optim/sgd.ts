/** Stochastic gradient descent with momentum (torch.optim.SGD), fused kernels over several parameters per dispatch. */
import type { Tensor } from "../tensor.ts";
import { empty } from "../ops/map.ts";
import { sgdKernel } from "../kernels/optim.ts";
import {
  checkNonNegative,
  Optimizer,
  type ParamGroup,
  type ParamsInput,
  type ParamState,
  type UpdateBatch,
} from "./optimizer.ts";

/** Hyper-parameters of SGD (PyTorch's names in camelCase). */
export interface SGDHyper {
  /** Learning rate. */
  lr: number;
  /** Learning rate a scheduler started from. */
  initialLr?: number;
  /** Momentum factor (default 0). */
  momentum: number;
  /** Dampening of the momentum (default 0). */
  dampening: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). */
  nesterov: boolean;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Maximize the objective instead of minimizing it. */
  maximize: boolean;
}

/** Options of `SGD` (all but `lr` optional). */
export type SGDOptions = Partial<SGDHyper>;

const KERNELS = [sgdKernel(false), sgdKernel(true)];

/**
 * SGD exactly as torch.optim.SGD:
 * `g ← ±grad + wd·p; buf ← g (first step) or μ·buf + (1−τ)·g; g ← g + μ·buf (Nesterov) or buf; p ← p − lr·g`.
 *
 * @example
 * ```ts
 * const opt = new SGD([w, b], { lr: 0.1, momentum: 0.9 });
 * loss.backward();
 * opt.step();
 * opt.zeroGrad();
 * ```
 */
export class SGD extends Optimizer<SGDHyper> {
  /** SGD over `params` (tensors or parameter groups); defaults: lr 1e-3, no momentum. */
  constructor(params: ParamsInput<SGDHyper>, opts: SGDOptions = {}) {
    super("SGD", params, {
      lr: opts.lr ?? 1e-3,
      momentum: opts.momentum ?? 0,
      dampening: opts.dampening ?? 0,
      nesterov: opts.nesterov ?? false,
      weightDecay: opts.weightDecay ?? 0,
      maximize: opts.maximize ?? false,
    });
  }

  /** Validates a group's hyper-parameters. */
  protected checkHyper(h: SGDHyper): void {
    checkNonNegative("SGD", "learning rate (lr)", h.lr);
    checkNonNegative("SGD", "momentum", h.momentum);
    checkNonNegative("SGD", "dampening", h.dampening);
    checkNonNegative("SGD", "weightDecay", h.weightDecay);
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)) {
      throw new RangeError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening");
    }
  }

  /** One fused SGD launch for `p`. */
  protected updateParam(
    p: Tensor,
    grad: Tensor,
    g: ParamGroup<SGDHyper>,
    st: ParamState,
    updates: UpdateBatch,
  ): void {
    const scalars = [g.lr, g.weightDecay, g.momentum, 1 - g.dampening];
    if (g.momentum === 0) {
      updates.add("sgd", KERNELS[0], [p, grad], scalars, [g.maximize, g.nesterov, false]);
      return;
    }
    const first = !(st.momentumBuffer !== undefined && !(st.momentumBuffer as Tensor).isDisposed);
    const buf = this.stateTensor(st, "momentumBuffer", p, (q) => empty(q.shape, "float32", "momentum_buffer"));
    updates.add("sgd_momentum", KERNELS[1], [p, grad, buf], scalars, [g.maximize, g.nesterov, first]);
  }
}
