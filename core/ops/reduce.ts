/** Reductions over any set of dims: sum, mean, var, std, max, min, argmax, argmin, logsumexp. */
import { record } from "../autograd.ts";
import { dispatch, grid1d, loopBudget, pipeline } from "../device.ts";
import { type DType, storageType } from "../dtype.ts";
import { type ReduceKernel, type ReduceKind, reduceMetaWords, reduceSource } from "../kernels/reduce.ts";
import { WG } from "../kernels/wgsl.ts";
import { coalesceDims, fmtShape, normDim, normDims, numel } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { noGrad } from "../autograd.ts";
import * as ew from "./elementwise.ts";
import { empty } from "./map.ts";
import { expand, reshape } from "./view.ts";

/** Dims argument: one, several, or all (undefined). */
export type DimArg = number | readonly number[] | undefined;

/** Threads worth launching before splitting the reduced axis into chunks. */
const MIN_THREADS = 8192;
const MIN_CHUNK = 64;

function outShape(shape: readonly number[], dims: number[], keepdim: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!dims.includes(i)) out.push(d);
    else if (keepdim) out.push(1);
  });
  return out;
}

/**
 * Raw reduction kernel launch(es); no autograd. With `split`, a reduction with few outputs splits
 * its reduced axis into chunks (a partial pass, then one more over the partials). The pass over
 * the partials does not split again (unless the loop budget forces it): at most
 * `MIN_THREADS` partials per output are cheaper summed in one pass than with one more dispatch.
 */
function reduceRaw(x: Tensor, dims: number[], kind: ReduceKind, outDtype: DType, op: string, split = true): Tensor {
  x.assertLive(op);
  const kept = [...x.shape.keys()].filter((i) => !dims.includes(i));
  const M = numel(kept.map((i) => x.shape[i]));
  const R = numel(dims.map((i) => x.shape[i]));
  const shapeNoKeep = kept.map((i) => x.shape[i]);
  const out = empty(shapeNoKeep, outDtype, op);
  if (M === 0) return out;
  if (R === 0 && (kind !== "sum")) {
    out.dispose();
    throw new RangeError(`${op}: cannot reduce over an empty dimension of a tensor of shape ${fmtShape(x.shape)}`);
  }
  const arg = kind === "argmax" || kind === "argmin";
  let C = 1;
  if (split && !arg && M < MIN_THREADS && R >= 2 * MIN_CHUNK) {
    C = Math.min(Math.ceil(MIN_THREADS / M), Math.ceil(R / MIN_CHUNK));
  }
  // A thread loops over its chunk: keep that within the adapter's loop budget (device.ts).
  const budget = loopBudget() - 64;
  if (R > budget) {
    if (arg) {
      out.dispose();
      throw new RangeError(
        `${op}: this adapter's shaders stop loops after ${budget} iterations, and ${op} reduces ` +
          `${R} elements per output in one pass: reduce over fewer elements (or take max first)`,
      );
    }
    C = Math.max(C, Math.ceil(R / budget));
  }
  // Kept and reduced dims each walked as few dims as their strides allow (fewer divides per
  // element); the flat orders, and so argmax's index, are unchanged.
  const redWalk = coalesceDims(dims.map((i) => x.shape[i]), [dims.map((i) => x.strides[i])]);
  const keptWalk = coalesceDims(kept.map((i) => x.shape[i]), [kept.map((i) => x.strides[i])]);
  // Four per load when the innermost reduced run is contiguous and everything else 4-aligned
  // (CPU adapters load a vec4 per SIMD lane where four scalars are four gathers).
  const J = redWalk.shape.length;
  const vec4 = ["sum", "max", "min"].includes(kind) && x.dtype === "float32" && outDtype === "float32" && J > 0 &&
    redWalk.strides[0][J - 1] === 1 && redWalk.shape[J - 1] % 4 === 0 && x.offset % 4 === 0 &&
    [...keptWalk.strides[0], ...redWalk.strides[0].slice(0, J - 1)].every((st) => st % 4 === 0);
  let chunk = Math.ceil(Math.max(R, 1) / C);
  if (vec4 && chunk % 4 !== 0) {
    chunk += 4 - (chunk % 4);
    C = Math.max(1, Math.ceil(R / chunk));
  }
  if (redWalk.shape.length === 0) redWalk.shape.push(1), redWalk.strides[0].push(0);
  const k: ReduceKernel = {
    kind,
    input: storageType[x.dtype],
    out: arg ? "i32" : storageType[outDtype],
    kept: keptWalk.shape.length,
    reduced: redWalk.shape.length,
    vec4,
  };
  const meta = new Uint32Array(reduceMetaWords(k));
  meta.set([M, R, C, chunk, x.offset]);
  meta.set([...keptWalk.shape, ...keptWalk.strides[0], ...redWalk.shape, ...redWalk.strides[0]], 5);
  const target = C === 1 ? out : empty([M, C], outDtype, `${op}.partial`);
  dispatch({
    op,
    pipeline: pipeline(op, reduceSource(k)),
    bindings: [x.storage.buffer, target.storage.buffer],
    uniforms: meta,
    workgroups: grid1d(Math.ceil((M * C) / WG)),
  });
  if (C === 1) return target;
  const second = reduceRaw(target, [1], kind, outDtype, op, false);
  target.dispose();
  out.dispose();
  const result = reshape(second, shapeNoKeep);
  second.dispose(); // the view keeps the storage alive
  return result;
}

function withKeepdim(t: Tensor, shape: readonly number[], dims: number[], keepdim: boolean): Tensor {
  if (!keepdim) return t;
  const r = reshape(t, outShape(shape, dims, true));
  t.dispose();
  return r;
}

/** Sum over `dim` (all when omitted). Int and bool inputs give int32. */
export function sum(x: Tensor, dim?: DimArg, keepdim = false): Tensor {
  x.assertLive("sum");
  const dims = normDims(dim, x.ndim, "sum");
  const outDtype: DType = x.dtype === "float32" ? "float32" : "int32";
  const y = withKeepdim(reduceRaw(x, dims, "sum", outDtype, "sum"), x.shape, dims, keepdim);
  const inShape = x.shape;
  return record("sum", y, [x], (g) => [broadcastBack(g, inShape, dims, keepdim)]);
}

/** Expands a reduced gradient back to the input shape, densely. */
function broadcastBack(g: Tensor, inShape: readonly number[], dims: number[], keepdim: boolean): Tensor {
  const gk = keepdim ? g.alias() : reshape(g, outShape(inShape, dims, true));
  const e = expand(gk, inShape);
  const dense = ew.clone(e);
  gk.dispose();
  e.dispose();
  return dense;
}

/** Mean over `dim`. */
export function mean(x: Tensor, dim?: DimArg, keepdim = false): Tensor {
  x.assertLive("mean");
  const dims = normDims(dim, x.ndim, "mean");
  const n = numel(dims.map((i) => x.shape[i]));
  const xf = x.dtype === "float32" ? x : ew.cast(x, "float32");
  const s = sum(xf, dims, keepdim);
  const y = ew.div(s, n);
  s.dispose();
  if (xf !== x) xf.dispose();
  return y;
}

/** Variance over `dim` with Bessel-style `correction` (1 = unbiased). */
export function variance(x: Tensor, dim?: DimArg, keepdim = false, correction = 1): Tensor {
  x.assertLive("var");
  const dims = normDims(dim, x.ndim, "var");
  const n = numel(dims.map((i) => x.shape[i]));
  const m = mean(x, dims, true);
  const d = ew.sub(x, m);
  const d2 = ew.square(d);
  const s = sum(d2, dims, keepdim);
  const y = ew.div(s, Math.max(n - correction, 0));
  for (const t of [m, d, d2, s]) t.dispose();
  return y;
}

/** Standard deviation over `dim`. */
export function std(x: Tensor, dim?: DimArg, keepdim = false, correction = 1): Tensor {
  const v = variance(x, dim, keepdim, correction);
  const y = ew.sqrt(v);
  v.dispose();
  return y;
}

function extremum(kind: "max" | "min", x: Tensor, dim: DimArg, keepdim: boolean): Tensor {
  x.assertLive(kind);
  const dims = normDims(dim, x.ndim, kind);
  const y = withKeepdim(reduceRaw(x, dims, kind, x.dtype === "bool" ? "int32" : x.dtype, kind), x.shape, dims, keepdim);
  if (x.dtype !== "float32") return y;
  return record(kind, y, [x], (g, [xs, ys]) => {
    // Gradient shared evenly among the elements equal to the extremum (PyTorch's amax rule).
    const yk = keepdim ? ys.alias() : reshape(ys, outShape(xs.shape, dims, true));
    const gk = keepdim ? g.alias() : reshape(g, outShape(xs.shape, dims, true));
    const hit = ew.eq(xs, yk);
    const mask = ew.cast(hit, "float32");
    hit.dispose();
    const count = reduceRaw(mask, dims, "sum", "float32", "count");
    const countK = reshape(count, outShape(xs.shape, dims, true));
    const share = ew.div(gk, countK);
    const gx = ew.mul(mask, share);
    for (const t of [yk, gk, mask, count, countK, share]) t.dispose();
    return [gx];
  }, [x, y]);
}

/** Maximum over `dim` (values; gradient split among ties). */
export function max(x: Tensor, dim?: DimArg, keepdim = false): Tensor {
  return extremum("max", x, dim, keepdim);
}

/** Minimum over `dim`. */
export function min(x: Tensor, dim?: DimArg, keepdim = false): Tensor {
  return extremum("min", x, dim, keepdim);
}

function argExtremum(kind: "argmax" | "argmin", x: Tensor, dim: number | undefined, keepdim: boolean): Tensor {
  x.assertLive(kind);
  if (dim === undefined) {
    const flat = reshape(x, [x.size]);
    const r = reduceRaw(flat, [0], kind, "int32", kind);
    flat.dispose();
    if (!keepdim) return r;
    const k = reshape(r, x.shape.map(() => 1));
    r.dispose();
    return k;
  }
  const d = normDim(dim, x.ndim, kind);
  return withKeepdim(reduceRaw(x, [d], kind, "int32", kind), x.shape, [d], keepdim);
}

/** Index of the first maximum along `dim` (flattened when omitted), int32. */
export function argmax(x: Tensor, dim?: number, keepdim = false): Tensor {
  return argExtremum("argmax", x, dim, keepdim);
}

/** Index of the first minimum along `dim`, int32. */
export function argmin(x: Tensor, dim?: number, keepdim = false): Tensor {
  return argExtremum("argmin", x, dim, keepdim);
}

/** log Σ exp(x) over `dim`, shifted by the maximum for stability. */
export function logsumexp(x: Tensor, dim?: DimArg, keepdim = false): Tensor {
  x.assertLive("logsumexp");
  const dims = normDims(dim, x.ndim, "logsumexp");
  const m = noGrad(() => {
    const raw = reduceRaw(x, dims, "max", "float32", "logsumexp.max");
    const k = reshape(raw, outShape(x.shape, dims, true));
    raw.dispose();
    // An all −∞ slice would give NaN; shift by 0 there instead.
    const a = ew.abs(k);
    const inf = ew.eq(a, Infinity);
    const finite = ew.where(inf, 0, k);
    for (const t of [k, a, inf]) t.dispose();
    return finite;
  });
  const shifted = ew.sub(x, m);
  const e = ew.exp(shifted);
  const s = sum(e, dims, true);
  const l = ew.log(s);
  const yk = ew.add(l, m);
  for (const t of [shifted, e, s, l]) t.dispose();
  const y = keepdim ? yk : reshape(yk, outShape(x.shape, dims, false));
  if (y !== yk) yk.dispose();
  m.dispose();
  return y;
}

/** Sums a broadcast gradient back down to `shape` (the inverse of broadcasting). */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  const lead = g.ndim - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) dims.push(i);
  }
  if (dims.length === 0) return reshape(g, shape);
  const r = reduceRaw(g, dims, "sum", g.dtype, "sumToShape");
  const out = reshape(r, shape);
  r.dispose();
  return out;
}
