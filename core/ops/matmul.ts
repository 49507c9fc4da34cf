/** Matrix multiplication (batched, broadcasting, 1-D cases as in PyTorch). */
import type { Tensor } from "../tensor.ts";

/** a @ b. */
export function matmul(_a: Tensor, _b: Tensor): Tensor {
  throw new Error("matmul: not implemented yet");
}
