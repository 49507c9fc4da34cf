/** Gradient clipping by total norm (torch.nn.utils.clip_grad_norm_), without a GPU→CPU sync. */
import { noGrad } from "../autograd.ts";
import { scope } from "../scope.ts";
import { Tensor } from "../tensor.ts";
import { tensor } from "../ops/creation.ts";
import { abs, pow, sqrt, square } from "../ops/elementwise.ts";
import { max, sum } from "../ops/reduce.ts";
import { stack } from "../ops/join.ts";
import { clipKernel } from "../kernels/optim.ts";
import { denseGrad, launchUpdate } from "./optimizer.ts";

const KERNEL = clipKernel();

/**
 * Clips the gradients of `params` in place so that their total `normType`-norm (over all
 * gradients together, as if concatenated) is at most `maxNorm`: every gradient is multiplied
 * by `min(1, maxNorm / (norm + 1e-6))`, computed on the GPU. Returns the total norm before
 * clipping as a 0-d tensor (no readback). `normType` may be `Infinity` (max |g|).
 * Parameters without a gradient are ignored.
 *
 * @example
 * ```ts
 * loss.backward();
 * const norm = clipGradNorm(model.parameters(), 1.0);
 * opt.step();
 * ```
 */
export function clipGradNorm(params: Iterable<Tensor> | Tensor, maxNorm: number, normType: number = 2): Tensor {
  if (typeof maxNorm !== "number" || Number.isNaN(maxNorm)) {
    throw new TypeError(`clipGradNorm: maxNorm must be a number, got ${maxNorm}`);
  }
  if (typeof normType !== "number" || !(normType > 0)) {
    throw new RangeError(`clipGradNorm: normType must be a positive number or Infinity, got ${normType}`);
  }
  const list = params instanceof Tensor ? [params] : [...params];
  return noGrad(() =>
    scope(() => {
      const grads: Tensor[] = [];
      list.forEach((p, i) => {
        if (!(p instanceof Tensor)) throw new TypeError(`clipGradNorm: parameter ${i} is not a Tensor`);
        const g = denseGrad(p);
        if (g && g.size > 0) grads.push(g);
      });
      if (grads.length === 0) return tensor(0);
      let total: Tensor;
      if (normType === Infinity) {
        total = max(stack(grads.map((g) => max(abs(g)))));
      } else {
        const powered = (g: Tensor) => normType === 2 ? square(g) : normType === 1 ? abs(g) : pow(abs(g), normType);
        const s = sum(stack(grads.map((g) => sum(powered(g)))));
        total = normType === 2 ? sqrt(s) : normType === 1 ? s : pow(s, 1 / normType);
      }
      for (const g of grads) launchUpdate("clip_grad_norm", KERNEL, [g, total], [maxNorm]);
      return total;
    })
  );
}
