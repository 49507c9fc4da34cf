/** Loss functions (PyTorch semantics, reduction "mean" by default). */
import type { Tensor } from "../tensor.ts";

/** How a loss reduces over the batch. */
export type Reduction = "mean" | "sum" | "none";

/** Mean squared error. */
export function mseLoss(_input: Tensor, _target: Tensor, _opts: { reduction?: Reduction } = {}): Tensor {
  throw new Error("mseLoss: not implemented yet");
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
/** Cross-entropy of logits (N, C, …) against int class indices (N, …) or class probabilities. */
export function crossEntropy(_logits: Tensor, _target: Tensor, _opts: CrossEntropyOptions = {}): Tensor {
  throw new Error("crossEntropy: not implemented yet");
}
/** Negative log-likelihood of log-probabilities (N, C, …) at int targets (N, …). */
export function nllLoss(
  _logProbs: Tensor,
  _target: Tensor,
  _opts: { weight?: Tensor; reduction?: Reduction; ignoreIndex?: number } = {},
): Tensor {
  throw new Error("nllLoss: not implemented yet");
}
/** Binary cross-entropy on logits (numerically stable), with optional `weight` and `posWeight`. */
export function binaryCrossEntropyWithLogits(
  _logits: Tensor,
  _target: Tensor,
  _opts: { weight?: Tensor; posWeight?: Tensor; reduction?: Reduction } = {},
): Tensor {
  throw new Error("binaryCrossEntropyWithLogits: not implemented yet");
}
