/** Matrix multiplication (batched, broadcasting, 1-D cases as in PyTorch) and its gradient. */
import { noGrad, record } from "../autograd.ts";
import { autocastEnabled, withAutocastState } from "../amp.ts";
import { MAX_BATCH_DIMS } from "../kernels/matmul.ts";
import { launchMatmul, type MatmulOperand, type MatmulProblem } from "../backend/matmul.ts";
import { fmtShape, numel } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { contiguous } from "./elementwise.ts";
import { empty, runMap } from "./map.ts";
import { sumToShape } from "./reduce.ts";
import { expand, reshape, squeeze, transpose, unsqueeze } from "./view.ts";
import { selectMatmulVariant } from "../backend/matmul_select.ts";

function checkInputs(a: Tensor, b: Tensor): void {
  for (const [name, t] of [["first", a], ["second", b]] as const) {
    if (!(t instanceof Tensor)) throw new TypeError(`matmul: the ${name} argument must be a Tensor, got ${typeof t}`);
    t.assertLive("matmul");
  }
  if (a.dtype !== "float32" || b.dtype !== "float32") {
    throw new TypeError(
      `matmul: expected float32 tensors, got ${a.dtype} ${fmtShape(a.shape)} and ${b.dtype} ${
        fmtShape(b.shape)
      } (convert with .float())`,
    );
  }
  if (a.ndim === 0 || b.ndim === 0) {
    throw new RangeError(
      `matmul: both arguments need at least 1 dimension, got shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
    );
  }
}

/** a @ b with PyTorch's rules: 1-D operands gain (then lose) a dim; batch dims broadcast. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  checkInputs(a, b);
  if (a.ndim >= 2 && b.ndim >= 2) return matmulFolded(a, b);
  // 1-D cases go through view ops, whose own gradients undo the reshaping.
  const a2 = a.ndim === 1 ? unsqueeze(a, 0) : a;
  const b2 = b.ndim === 1 ? unsqueeze(b, 1) : b;
  const c = matmulFolded(a2, b2, a.shape, b.shape);
  const drop = [...(a.ndim === 1 ? [c.ndim - 2] : []), ...(b.ndim === 1 ? [c.ndim - 1] : [])];
  const out = squeeze(c, drop);
  for (const t of [a2, b2, c]) if (t !== a && t !== b) t.dispose();
  return out;
}

/**
 * A batch of matrices times one matrix (a Linear on [B, T, C]) folds the batch into the rows, as
 * PyTorch does: one (B·T)×K product instead of B small ones, and a weight gradient that is one
 * product too rather than B K×N products summed afterwards.
 */
function matmulFolded(a: Tensor, b: Tensor, shapeA = a.shape, shapeB = b.shape): Tensor {
  if (a.ndim <= 2 || b.ndim !== 2 || a.shape[a.ndim - 1] !== b.shape[0]) return matmulNd(a, b, shapeA, shapeB);
  const a2 = reshape(a, [numel(a.shape.slice(0, -1)), a.shape[a.ndim - 1]]);
  const c = matmulNd(a2, b, shapeA, shapeB);
  const out = reshape(c, [...a.shape.slice(0, -1), b.shape[1]]);
  a2.dispose();
  c.dispose();
  return out;
}

/** Product of two ≥2-D tensors with autograd; the original shapes are only for error messages. */
function matmulNd(a: Tensor, b: Tensor, shapeA = a.shape, shapeB = b.shape): Tensor {
  const out = matmulRaw(a, b, shapeA, shapeB);
  const half = autocastEnabled(); // the backward runs in the forward's precision
  return record("matmul", out, [a, b], (g, [sa, sb]) =>
    withAutocastState(half, () => {
      let ga: Tensor | null = null, gb: Tensor | null = null;
      if (a.requiresGrad) {
        const bt = transpose(sb, -1, -2); // a strided view: the kernel reads it without a copy
        const full = matmulRaw(g, bt, g.shape, bt.shape);
        ga = sumToShape(full, sa.shape);
        bt.dispose();
        full.dispose();
      }
      if (b.requiresGrad && sa.ndim === 2 && transposedMatrix(sb)) {
        // b is a transposed view (a Linear's t(weight)): compute gᵀ·a, so that the gradient
        // reaching the weight through the transpose is contiguous, as the optimizers want it.
        const gt = transpose(g, -1, -2);
        const gbt = matmulRaw(gt, sa, gt.shape, sa.shape);
        gb = transpose(gbt, -1, -2);
        gt.dispose();
        gbt.dispose();
      } else if (b.requiresGrad) {
        const at = transpose(sa, -1, -2);
        const full = matmulRaw(at, g, at.shape, g.shape);
        gb = sumToShape(full, sb.shape);
        at.dispose();
        full.dispose();
      }
      return [ga, gb];
    }), [a, b]);
}

/** A 2-D tensor laid out as the transpose of a contiguous matrix (strides [1, rows]). */
function transposedMatrix(t: Tensor): boolean {
  return t.ndim === 2 && t.shape[0] > 1 && t.shape[1] > 1 && t.strides[0] === 1 && t.strides[1] === t.shape[0];
}

/** Broadcast batch shape of two operands; throws naming both full shapes. */
function batchShape(a: Tensor, b: Tensor, shapeA: readonly number[], shapeB: readonly number[]): number[] {
  const ba = a.shape.slice(0, -2), bb = b.shape.slice(0, -2);
  const rank = Math.max(ba.length, bb.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = ba[i - rank + ba.length] ?? 1, y = bb[i - rank + bb.length] ?? 1;
    if (x !== y && x !== 1 && y !== 1) {
      throw new RangeError(
        `matmul: batch dimensions of ${fmtShape(shapeA)} and ${fmtShape(shapeB)} cannot be broadcast (${x} vs ${y})`,
      );
    }
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Strides of `t`'s batch dims read as broadcast to `batch` (0 where broadcast). */
function batchStrides(t: Tensor, batch: readonly number[]): number[] {
  const lead = batch.length - (t.ndim - 2);
  return batch.map((_, i) => (i < lead || t.shape[i - lead] === 1 ? 0 : t.strides[i - lead]));
}

/**
 * Merges batch dims that both operands step through as one (and drops size-1 dims), so most
 * layouts fit the kernels' 4 batch dims. Returns null when more than 4 remain.
 */
function collapseBatch(batch: number[], sa: number[], sb: number[]): [number[], number[], number[]] | null {
  const dims: number[] = [], as: number[] = [], bs: number[] = [];
  batch.forEach((d, i) => {
    if (d === 1) return;
    const last = dims.length - 1;
    if (last >= 0 && as[last] === sa[i] * d && bs[last] === sb[i] * d) {
      dims[last] *= d;
      as[last] = sa[i];
      bs[last] = sb[i];
    } else {
      dims.push(d);
      as.push(sa[i]);
      bs.push(sb[i]);
    }
  });
  if (dims.length > MAX_BATCH_DIMS) return null;
  const pad = MAX_BATCH_DIMS - dims.length;
  const ones = new Array<number>(pad).fill(1), zeros = new Array<number>(pad).fill(0);
  return [[...ones, ...dims], [...zeros, ...as], [...zeros, ...bs]];
}

/** The kernel launch behind matmul (no autograd): [..., M, K] @ [..., K, N] → dense [batch..., M, N]. */
function matmulRaw(a: Tensor, b: Tensor, shapeA: readonly number[], shapeB: readonly number[]): Tensor {
  const M = a.shape[a.ndim - 2], K = a.shape[a.ndim - 1];
  const K2 = b.shape[b.ndim - 2], N = b.shape[b.ndim - 1];
  if (K !== K2) {
    throw new RangeError(
      `matmul: shapes ${fmtShape(shapeA)} and ${
        fmtShape(shapeB)
      } cannot be multiplied (inner dims ${K} and ${K2} differ)`,
    );
  }
  const batch = batchShape(a, b, shapeA, shapeB);
  const outShape = [...batch, M, N];
  if (numel(outShape) === 0) return empty(outShape, "float32", "matmul");
  if (K === 0) {
    return runMap({ op: "matmul.zeros", expr: "0.0", inputs: [], names: [], out: "float32", shape: outShape });
  }
  let geo = collapseBatch(batch, batchStrides(a, batch), batchStrides(b, batch));
  let ac = a, bc = b;
  if (!geo) {
    // More than 4 independent batch dims: materialise both operands at the full batch shape.
    [ac, bc] = noGrad(() =>
      [[a, M, K], [b, K, N]].map(([t, r, c]) => {
        const e = expand(t as Tensor, [...batch, r as number, c as number]);
        const d = contiguous(e);
        e.dispose();
        return d;
      })
    );
    geo = collapseBatch(batch, batchStrides(ac, batch), batchStrides(bc, batch))!;
  }
  const [dims, sa, sb] = geo;
  const out = empty(outShape, "float32", "matmul");
  const operand = (t: Tensor, strides: number[]): MatmulOperand => ({
    buffer: t.storage.buffer,
    offset: t.offset,
    rowStride: t.strides[t.ndim - 2],
    colStride: t.strides[t.ndim - 1],
    batchStrides: strides,
  });
  const p: MatmulProblem = { M, N, K, batch: dims, a: operand(ac, sa), b: operand(bc, sb), out: out.storage.buffer };
  launchMatmul(selectMatmulVariant(p), p);
  if (ac !== a) ac.dispose();
  if (bc !== b) bc.dispose();
  return out;
}

export { tuneMatmul } from "../backend/matmul_select.ts";
