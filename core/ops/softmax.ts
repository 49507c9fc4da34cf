/** Softmax and log-softmax along a dim: one fused kernel forward, one backward. */
import { record } from "../autograd.ts";
import { dispatch, grid1d, pipeline } from "../device.ts";
import { ROW_WG, type RowKernel, rowMetaWords, type RowMode, rowSource } from "../kernels/softmax.ts";
import { contiguousStrides, normDim } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { empty } from "./map.ts";

/** Rows at least this long, when there are few rows, get a whole workgroup each. */
const LONG_ROW = 64;
const MANY_ROWS = 4096;

/** Runs a row kernel over `inputs` (all of `shape`), writing a new dense tensor. */
function runRows(mode: RowMode, inputs: readonly Tensor[], shape: readonly number[], dim: number): Tensor {
  const out = empty(shape, "float32", mode);
  if (out.size === 0) return out;
  const outStrides = contiguousStrides(shape);
  const views = [
    ...inputs.map((t) => ({ off: t.offset, strides: t.strides })),
    { off: 0, strides: outStrides },
  ];
  const rank = shape.length;
  const kept = [...Array(rank).keys()].filter((d) => d !== dim);
  const L = rank === 0 ? 1 : shape[dim];
  const rows = out.size / L;
  const k: RowKernel = { mode, kept: kept.length, perThread: L < LONG_ROW || rows >= MANY_ROWS };
  const meta = new Uint32Array(rowMetaWords(k));
  meta[0] = rows;
  meta[1] = L;
  let w = 2;
  for (const v of views) {
    meta[w++] = v.off;
    meta[w++] = rank === 0 ? 0 : v.strides[dim];
  }
  for (const d of kept) meta[w++] = shape[d];
  for (const v of views) for (const d of kept) meta[w++] = v.strides[d];
  dispatch({
    op: mode,
    pipeline: pipeline(mode, rowSource(k)),
    bindings: [...inputs.map((t) => t.storage.buffer), out.storage.buffer],
    uniforms: meta,
    workgroups: grid1d(k.perThread ? Math.ceil(rows / ROW_WG) : rows),
  });
  return out;
}

function check(x: Tensor, op: string): void {
  if (!(x instanceof Tensor)) throw new TypeError(`${op}: expected a Tensor, got ${typeof x}`);
  x.assertLive(op);
  if (x.dtype !== "float32") {
    throw new TypeError(`${op}: expected a float32 tensor, got ${x.dtype} of shape [${x.shape.join(", ")}]`);
  }
}

function rowOp(x: Tensor, dim: number, mode: "softmax" | "logSoftmax"): Tensor {
  check(x, mode);
  const d = normDim(dim, x.ndim, mode);
  const y = runRows(mode, [x], x.shape, d);
  const back: RowMode = mode === "softmax" ? "softmaxBackward" : "logSoftmaxBackward";
  return record(mode, y, [x], (g, [ys]) => [runRows(back, [ys, g], ys.shape, d)], [y]);
}

/** Softmax along `dim`: exp(x − max) / Σ exp(x − max), computed in one pass over each row. */
export function softmax(x: Tensor, dim = -1): Tensor {
  return rowOp(x, dim, "softmax");
}

/** Log-softmax along `dim`: x − max − log Σ exp(x − max) (stable for any logits). */
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  return rowOp(x, dim, "logSoftmax");
}
