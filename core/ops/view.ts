/** Zero-copy shape ops (views over the same storage) and their gradients. */
import { record, WindowGrad } from "../autograd.ts";
import { checkShape, contiguousStrides, fmtShape, normDim, normDims, numel } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { empty, runMap } from "./map.ts";
import { clone } from "./elementwise.ts";
import { sumToShape } from "./reduce.ts";
import { joinWindowGrads } from "./join.ts";

function live(x: Tensor, op: string): void {
  if (!(x instanceof Tensor)) throw new TypeError(`${op}: expected a Tensor, got ${typeof x}`);
  x.assertLive(op);
}

/** Resolves a single −1 and checks the element count. */
function inferShape(x: Tensor, shape: readonly number[], op: string): number[] {
  if (!Array.isArray(shape)) throw new TypeError(`${op}: shape must be an array, e.g. ${op}([2, -1])`);
  const out = [...shape];
  const neg = out.flatMap((d, i) => (d === -1 ? [i] : []));
  if (neg.length > 1) throw new RangeError(`${op}: only one dimension can be -1, got ${fmtShape(shape)}`);
  for (const d of out) {
    if (d !== -1 && (!Number.isInteger(d) || d < 0)) throw new RangeError(`${op}: invalid shape ${fmtShape(shape)}`);
  }
  if (neg.length === 1) {
    const known = numel(out.filter((d) => d !== -1));
    if (known === 0 || x.size % known !== 0) {
      throw new RangeError(`${op}: shape ${fmtShape(shape)} is invalid for input of size ${x.size}`);
    }
    out[neg[0]] = x.size / known;
  }
  if (numel(out) !== x.size) {
    throw new RangeError(
      `${op}: shape ${fmtShape(shape)} is invalid for input of shape ${fmtShape(x.shape)} (${x.size} elements)`,
    );
  }
  return out;
}

/**
 * Strides for viewing `x` as `shape` without a copy, or null when impossible
 * (PyTorch's `computeStride`: groups of merged dims must be contiguous among themselves).
 */
function viewStrides(x: Tensor, shape: readonly number[]): number[] | null {
  if (x.isContiguous) return contiguousStrides(shape);
  const oldShape = x.shape, oldStrides = x.strides;
  const newStrides = new Array<number>(shape.length).fill(0);
  let viewD = shape.length - 1;
  let chunkBase = oldStrides[oldStrides.length - 1] ?? 1;
  let tensorNumel = 1, viewNumel = 1;
  for (let d = oldShape.length - 1; d >= 0; d--) {
    tensorNumel *= oldShape[d];
    if (d === 0 || (oldShape[d - 1] !== 1 && oldStrides[d - 1] !== tensorNumel * chunkBase)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || shape[viewD] === 1)) {
        newStrides[viewD] = viewNumel * chunkBase;
        viewNumel *= shape[viewD];
        viewD--;
      }
      if (viewNumel !== tensorNumel) return null;
      if (d > 0) {
        chunkBase = oldStrides[d - 1];
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  return viewD === -1 ? newStrides : null;
}

/** View of `x` with `shape`; never copies (throws if the strides do not allow it). */
export function view(x: Tensor, shape: readonly number[]): Tensor {
  live(x, "view");
  const s = inferShape(x, shape, "view");
  const strides = viewStrides(x, s);
  if (!strides) {
    throw new RangeError(
      `view: cannot view a non-contiguous tensor of shape ${fmtShape(x.shape)} (strides ${fmtShape(x.strides)}) as ${
        fmtShape(s)
      }; use reshape() (which copies) or contiguous() first`,
    );
  }
  const inShape = x.shape;
  return record("view", x.viewAs(s, strides, x.offset), [x], (g) => [reshape(g, inShape)]);
}

/** Same elements with a new shape (one dim may be −1); copies only when it must. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  live(x, "reshape");
  const s = inferShape(x, shape, "reshape");
  const strides = viewStrides(x, s);
  const inShape = x.shape;
  if (strides) return record("reshape", x.viewAs(s, strides, x.offset), [x], (g) => [reshape(g, inShape)]);
  const dense = clone(x);
  const out = dense.viewAs(s, contiguousStrides(s), 0);
  dense.dispose();
  return record("reshape", out, [x], (g) => [reshape(g, inShape)]);
}

/** Flattens dims `startDim..endDim` into one. */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  live(x, "flatten");
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normDim(startDim, x.ndim, "flatten"), e = normDim(endDim, x.ndim, "flatten");
  if (s > e) throw new RangeError(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
  const shape = [...x.shape.slice(0, s), numel(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}

/** Removes size-1 dims (all of them, or those listed). */
export function squeeze(x: Tensor, dim?: number | readonly number[]): Tensor {
  live(x, "squeeze");
  const dims = dim === undefined ? x.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : normDims(dim, x.ndim, "squeeze");
  const keep = [...x.shape.keys()].filter((i) => !(dims.includes(i) && x.shape[i] === 1));
  const inShape = x.shape;
  const out = x.viewAs(keep.map((i) => x.shape[i]), keep.map((i) => x.strides[i]), x.offset);
  return record("squeeze", out, [x], (g) => [reshape(g, inShape)]);
}

/** Inserts a size-1 dim at `dim` (−1 appends). */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  live(x, "unsqueeze");
  const d = normDim(dim, x.ndim + 1, "unsqueeze");
  const shape = [...x.shape], strides = [...x.strides];
  shape.splice(d, 0, 1);
  strides.splice(d, 0, d < x.ndim ? x.strides[d] * x.shape[d] : 1);
  const inShape = x.shape;
  return record("unsqueeze", x.viewAs(shape, strides, x.offset), [x], (g) => [reshape(g, inShape)]);
}

/** Reorders dims: `permute([2, 0, 1])`. */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  live(x, "permute");
  if (!Array.isArray(dims) || dims.length !== x.ndim) {
    throw new RangeError(
      `permute: expected ${x.ndim} dims for a tensor of shape ${fmtShape(x.shape)}, got ${JSON.stringify(dims)}`,
    );
  }
  const p = dims.map((d) => normDim(d, x.ndim, "permute"));
  if (new Set(p).size !== p.length) throw new RangeError(`permute: dims ${JSON.stringify(dims)} repeat a dimension`);
  const inv = new Array<number>(p.length);
  p.forEach((d, i) => (inv[d] = i));
  const out = x.viewAs(p.map((d) => x.shape[d]), p.map((d) => x.strides[d]), x.offset);
  return record("permute", out, [x], (g) => [permute(g, inv)]);
}

/** Swaps `dim0` and `dim1`. */
export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  live(x, "transpose");
  if (x.ndim === 0) return permute(x, []);
  const a = normDim(dim0, x.ndim, "transpose"), b = normDim(dim1, x.ndim, "transpose");
  const p = [...x.shape.keys()];
  [p[a], p[b]] = [p[b], p[a]];
  return permute(x, p);
}

/** Transpose of a tensor with at most 2 dims (PyTorch's `.T` / `t()`). */
export function t(x: Tensor): Tensor {
  live(x, "t");
  if (x.ndim > 2) throw new RangeError(`t: expects a tensor with <= 2 dims, got shape ${fmtShape(x.shape)}`);
  return x.ndim < 2 ? permute(x, [...x.shape.keys()]) : transpose(x, 0, 1);
}

/** Broadcasts to `shape` without copying; −1 keeps a dim; new dims go in front. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  live(x, "expand");
  checkShape(shape.map((d) => (d === -1 ? 0 : d)), "expand");
  if (shape.length < x.ndim) {
    throw new RangeError(`expand: target ${fmtShape(shape)} has fewer dims than the tensor's ${fmtShape(x.shape)}`);
  }
  const lead = shape.length - x.ndim;
  const outShape: number[] = [], strides: number[] = [];
  shape.forEach((d, i) => {
    if (i < lead) {
      if (d === -1) throw new RangeError(`expand: -1 is not allowed for the new leading dim ${i}`);
      outShape.push(d);
      strides.push(0);
      return;
    }
    const src = x.shape[i - lead];
    const want = d === -1 ? src : d;
    if (src !== want && src !== 1) {
      throw new RangeError(
        `expand: the size of dim ${i} (${src}) must match ${want} or be 1 (tensor ${fmtShape(x.shape)} → ${
          fmtShape(shape)
        })`,
      );
    }
    outShape.push(want);
    strides.push(src === want ? x.strides[i - lead] : 0);
  });
  const inShape = x.shape;
  return record("expand", x.viewAs(outShape, strides, x.offset), [x], (g) => [sumToShape(g, inShape)]);
}

/** Elements `start..end` (exclusive) with `step` along `dim`; negatives count from the end. */
export function slice(x: Tensor, dim: number, start: number, end?: number, step = 1): Tensor {
  live(x, "slice");
  const d = normDim(dim, x.ndim, "slice");
  if (!Number.isInteger(step) || step < 1) throw new RangeError(`slice: step must be a positive integer, got ${step}`);
  const n = x.shape[d];
  const clampIdx = (i: number) => Math.min(Math.max(i < 0 ? i + n : i, 0), n);
  const s = clampIdx(start), e = Math.max(clampIdx(end ?? n), s);
  const len = Math.ceil((e - s) / step);
  const shape = [...x.shape], strides = [...x.strides];
  shape[d] = len;
  strides[d] = x.strides[d] * step;
  const out = x.viewAs(shape, strides, x.offset + s * x.strides[d]);
  const inShape = x.shape;
  // The gradient stays a window until the engine needs it dense (`windowGradDense`, or joined
  // with the input's other windows by `joinWindowGrads`).
  return record("slice", out, [x], (g) => [new WindowGrad(g.alias(), inShape, d, s, step, joinWindowGrads)]);
}

/** A slice's gradient as a dense tensor: zeros with the window's gradient written into it. */
export function windowGradDense(w: WindowGrad): Tensor {
  const { grad: g, shape: inShape, dim: d, start: s, step } = w;
  const gx = empty(inShape, "float32", "slice.backward");
  runMap({ op: "slice.backward.zero", expr: "0.0", inputs: [], names: [], out: "float32", into: gx });
  const strides = contiguousStrides(inShape);
  const winStrides = [...strides];
  winStrides[d] *= step;
  const win = gx.viewAs(g.shape, winStrides, s * strides[d]);
  runMap({ op: "slice.backward", expr: "g", inputs: [g], names: ["g"], out: "float32", into: win });
  win.dispose();
  return gx;
}

/** `length` elements from `start` along `dim`. */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  live(x, "narrow");
  const d = normDim(dim, x.ndim, "narrow");
  const n = x.shape[d];
  const s = start < 0 ? start + n : start;
  if (s < 0 || length < 0 || s + length > n) {
    throw new RangeError(`narrow: start ${start} + length ${length} exceeds dim ${dim} of size ${n}`);
  }
  return slice(x, d, s, s + length);
}
