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
