/** Softmax and log-softmax along a dim. */
import type { Tensor } from "../tensor.ts";

/** Softmax along `dim`. */
export function softmax(_x: Tensor, _dim = -1): Tensor {
  throw new Error("softmax: not implemented yet");
}
/** Log-softmax along `dim`. */
export function logSoftmax(_x: Tensor, _dim = -1): Tensor {
  throw new Error("logSoftmax: not implemented yet");
}
