/** Ops that build new tensors from several inputs or indices: cat, stack, pad, repeat, gather, … */
import type { Tensor } from "../tensor.ts";

const todo = (op: string): never => {
  throw new Error(`${op}: not implemented yet`);
};

/** Concatenates along `dim`. */
export function cat(_tensors: readonly Tensor[], _dim = 0): Tensor {
  return todo("cat");
}
/** Stacks along a new `dim`. */
export function stack(_tensors: readonly Tensor[], _dim = 0): Tensor {
  return todo("stack");
}
/** Tiles `repeats[i]` times along each dim. */
export function repeat(_x: Tensor, _repeats: readonly number[]): Tensor {
  return todo("repeat");
}
/** Gathers along `dim` at `index`. */
export function gather(_x: Tensor, _dim: number, _index: Tensor): Tensor {
  return todo("gather");
}
/** Selects slices along `dim` at 1-D `index`. */
export function indexSelect(_x: Tensor, _dim: number, _index: Tensor): Tensor {
  return todo("indexSelect");
}
/** Pads the last dims with a constant: `pad` lists (before, after) pairs from the last dim backwards. */
export function pad(_x: Tensor, _pad: readonly number[], _value = 0): Tensor {
  return todo("pad");
}
/** One-hot encodes int indices into a new last dim of size `numClasses` (float32). */
export function oneHot(_index: Tensor, _numClasses = -1): Tensor {
  return todo("oneHot");
}
