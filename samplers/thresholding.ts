/**
 * Imagen's dynamic thresholding of a predicted x₀ (diffusers' `_threshold_sample`), which
 * `thresholding: true` schedulers apply instead of `clipSample`.
 * @module
 */
import { abs, clamp, div, maximum, minimum, neg, quantile, reshape, scope, type Tensor } from "../core/mod.ts";
import { checkTensorArg } from "./tensor_helpers.ts";

/**
 * Imagen's dynamic thresholding of a batch of predicted x₀ (diffusers' `_threshold_sample`):
 * per sample s = clamp(quantile(|x₀|, ratio), 1, maxValue), then clamp(x₀, −s, s)/s.
 */
export function dynamicThreshold(x0: Tensor, ratio: number, maxValue: number): Tensor {
  checkTensorArg(x0, "dynamicThreshold", "x0");
  if (x0.ndim < 2) {
    throw new RangeError(`dynamicThreshold: x0 needs a batch dim and sample dims, got shape [${x0.shape}]`);
  }
  return scope(() => {
    const rows = reshape(abs(x0), [x0.shape[0], -1]);
    const s = clamp(quantile(rows, ratio, 1), 1, maxValue);
    const b = reshape(s, [x0.shape[0], ...x0.shape.slice(1).map(() => 1)]);
    return div(minimum(maximum(x0, neg(b)), b), b);
  });
}
