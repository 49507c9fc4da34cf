/** Gradient clipping by total norm (torch.nn.utils.clip_grad_norm_), without a GPU→CPU sync. */
import { noGrad } from "../autograd.ts";
import { dispatch, pipeline } from "../device.ts";
import { scope } from "../scope.ts";
import { Tensor } from "../tensor.ts";
import { tensor } from "../ops/creation.ts";
import { empty } from "../ops/map.ts";
import { clipKernel, gradNormPartsSource, gradNormTotalSource, NORM_PARTS } from "../kernels/optim.ts";
import { WG } from "../kernels/wgsl.ts";
import { denseGrad, UpdateBatch } from "./optimizer.ts";

const KERNEL = clipKernel();
/** Elements a thread reduces before a gradient's reduction spreads over more workgroups. */
const PER_THREAD = 16;

/**
 * Clips the gradients of `params` in place so that their total `normType`-norm (over all
 * gradients together, as if concatenated) is at most `maxNorm`: every gradient is multiplied
 * by `min(1, maxNorm / (norm + 1e-6))`, computed on the GPU. Returns the total norm before
 * clipping as a 0-d tensor (no readback). `normType` may be `Infinity` (max |g|).
 * Parameters without a gradient are ignored. Each gradient reduces into its own slots of one
 * buffer (a dispatch each), one kernel takes the total's root, and the gradients are scaled
 * several per dispatch.
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
      const total = totalNorm(grads, normType);
      const updates = new UpdateBatch();
      for (const g of grads) updates.add("clip_grad_norm", KERNEL, [g, total], [maxNorm]);
      updates.flush();
      return total;
    })
  );
}

/** The `p`-norm of dense float32 `grads` taken together, as a 0-d tensor. */
function totalNorm(grads: readonly Tensor[], p: number): Tensor {
  const uniforms = (a: number, b: number, c: number) => {
    const u = new Uint32Array(4);
    u.set([a, b, c]);
    new Float32Array(u.buffer)[3] = p;
    return u;
  };
  const parts = empty([grads.length * NORM_PARTS], "float32", "grad-norm parts");
  const partsKernel = pipeline("grad_norm_parts", gradNormPartsSource(p));
  grads.forEach((g, i) => {
    if (g.dtype !== "float32") throw new TypeError(`clipGradNorm: gradient ${i} has dtype ${g.dtype}, not float32`);
    const groups = Math.min(NORM_PARTS, Math.ceil(g.size / (WG * PER_THREAD)));
    dispatch({
      op: "grad_norm_parts",
      pipeline: partsKernel,
      bindings: [g.storage.buffer, parts.storage.buffer],
      uniforms: uniforms(g.size, g.offset, i * NORM_PARTS),
      workgroups: [groups],
    });
  });
  const total = empty([], "float32", "grad norm");
  dispatch({
    op: "grad_norm_total",
    pipeline: pipeline("grad_norm_total", gradNormTotalSource(p)),
    bindings: [parts.storage.buffer, total.storage.buffer],
    uniforms: uniforms(parts.size, 0, 0),
    workgroups: [1],
  });
  return total;
}
