/** Ops that build new tensors from several inputs or indices: cat, stack, pad, repeat, gather, … */
import { noGrad, record, type WindowGrad } from "../autograd.ts";
import { dispatch, grid1d, pipeline } from "../device.ts";
import { type DType, promoteTypes, storageType } from "../dtype.ts";
import {
  CAT_MAX_PIECES,
  CAT_ROW_CHUNK,
  catMetaWords,
  catPieceWord,
  catRowsMetaWords,
  catRowsPieceWord,
  catRowsSource,
  catRunsSource,
  catSource,
} from "../kernels/cat.ts";
import type { Scalar } from "../kernels/map.ts";
import { gatherBackwardMetaWords, gatherBackwardSource, gatherMetaWords, gatherSource } from "../kernels/gather.ts";
import { WG } from "../kernels/wgsl.ts";
import { contiguousStrides, fmtShape, normDim, numel } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { empty, runMap } from "./map.ts";
import { sum } from "./reduce.ts";
import { add } from "./elementwise.ts";
import { reshape, unsqueeze, windowGradDense } from "./view.ts";

function live(x: unknown, op: string, arg = "input"): Tensor {
  if (!(x instanceof Tensor)) throw new TypeError(`${op}: ${arg} must be a Tensor, got ${typeof x}`);
  x.assertLive(op);
  return x;
}

/** A view of `t` covering `lens` elements from `starts` in each dim. */
function window(t: Tensor, starts: readonly number[], lens: readonly number[]): Tensor {
  let off = t.offset;
  starts.forEach((s, d) => (off += s * t.strides[d]));
  return t.viewAs(lens, t.strides, off);
}

/** Copies `src` into the view `dst` (same shape), converting to dst's dtype. */
function copyInto(op: string, src: Tensor, dst: Tensor): void {
  runMap({ op, expr: "x", inputs: [src], names: ["x"], load: [storageType[dst.dtype]], out: dst.dtype, into: dst });
}

/** Fills the view `dst` with `value`. */
function fillInto(op: string, dst: Tensor, value: number): void {
  const type = storageType[dst.dtype];
  const v = dst.dtype === "bool" ? Number(value !== 0) : dst.dtype === "int32" ? Math.trunc(value) : value;
  runMap({ op, expr: "v", inputs: [], names: [], params: [{ name: "v", value: v, type }], out: dst.dtype, into: dst });
}

/** Whether the dims of `t` after `d` form one contiguous block (size-1 dims aside). */
function innerDense(t: Tensor, d: number): boolean {
  let expected = 1;
  for (let j = t.ndim - 1; j > d; j--) {
    if (t.shape[j] !== 1 && t.strides[j] !== expected) return false;
    expected *= t.shape[j];
  }
  return true;
}

/**
 * One dispatch of the run-per-thread cat kernels over `win` (the big tensor's window) and
 * `group`: `runs` along the last dim (`catRunsSource`: each piece's run, unit strides there),
 * else blocks after the cat dim (`catRowsSource`: contiguous inner blocks).
 */
function catRunsOrRows(
  op: string,
  win: Tensor,
  group: readonly (Tensor | null)[],
  starts: readonly number[],
  d: number,
  runs: boolean,
  gather: boolean,
  type: Scalar,
  bindings: GPUBuffer[],
): void {
  const K = group.length;
  const I = runs ? 1 : numel(win.shape.slice(d + 1));
  const sizes = starts.map((s, p) => (p + 1 < K ? starts[p + 1] : win.shape[d]) - s);
  const nch = Math.ceil((runs ? Math.max(...sizes) : I) / CAT_ROW_CHUNK);
  const outerShape = win.shape.slice(0, d);
  const threads = numel(outerShape) * (runs ? K : win.shape[d]) * nch;
  const heads = (t: Tensor) => [t.offset, ...t.strides.slice(0, d), t.strides[d]];
  const present = group.filter((t): t is Tensor => t !== null);
  // Rows: every head (offset, outer and cat-dim strides) aligned; runs: offsets and outer strides, and the runs' ends.
  const aligned = (t: Tensor) => heads(t).slice(0, runs ? d + 1 : d + 2).every((v) => v % 4 === 0);
  const vec4 = (runs ? [...sizes, ...starts] : [I]).every((v) => v % 4 === 0) && [win, ...present].every(aligned);
  const meta = new Uint32Array(catRowsMetaWords(d, K));
  meta.set([threads, I, nch, win.shape[d], 0, 0, ...outerShape, ...heads(win), ...starts], 0);
  group.forEach((t, p) => {
    meta.set(t ? [...heads(t), 1] : new Array(d + 3).fill(0), catRowsPieceWord(d, K, p));
  });
  const src = (runs ? catRunsSource : catRowsSource)(d, K, type, gather, vec4);
  dispatch({ op, pipeline: pipeline(op, src), bindings, uniforms: meta, workgroups: grid1d(Math.ceil(threads / WG)) });
}

/**
 * Copies between `big` and the `pieces` that lie side by side in it along `d` (`starts`: each
 * piece's first index there), at most `CAT_MAX_PIECES` a dispatch: `gather` fills `big` from the
 * pieces (cat); otherwise each non-null piece (dense) is filled from its window of `big`.
 */
function catCopy(
  op: string,
  big: Tensor,
  pieces: readonly (Tensor | null)[],
  starts: readonly number[],
  sizes: readonly number[],
  d: number,
  gather: boolean,
): void {
  const R = big.ndim;
  const dummy = gather ? null : empty([4], big.dtype, `${op}.unused`);
  for (let i0 = 0; i0 < pieces.length; i0 += CAT_MAX_PIECES) {
    const group = pieces.slice(i0, i0 + CAT_MAX_PIECES);
    if (group.every((t) => t === null)) continue;
    const K = group.length, last = i0 + K - 1;
    const lens = [...big.shape];
    lens[d] = starts[last] + sizes[last] - starts[i0];
    const from = big.shape.map((_, j) => (j === d ? starts[i0] : 0));
    const win = window(big, from, lens);
    const rel = group.map((_, p) => starts[i0 + p] - starts[i0]);
    const type = storageType[big.dtype];
    const bindings = [big.storage.buffer, ...group.map((t) => (t ?? dummy!).storage.buffer)];
    const present = group.filter((t): t is Tensor => t !== null);
    if (numel(lens) > 0) {
      const last = d === R - 1 && [win, ...present].every((t) => t.strides[d] === 1);
      if (last || [win, ...present].every((t) => innerDense(t, d))) {
        catRunsOrRows(op, win, group, rel, d, last, gather, type, bindings);
      } else {
        const meta = new Uint32Array(catMetaWords(R, K));
        meta.set([numel(lens), ...lens, win.offset, ...win.strides], 0);
        meta.set(rel, 2 + 2 * R);
        group.forEach((t, p) => {
          meta.set(t ? [t.offset, ...t.strides, 1] : [0, ...lens.map(() => 0), 0], catPieceWord(R, K, p));
        });
        const src = catSource(R, d, K, type, gather);
        const workgroups = grid1d(Math.ceil(numel(lens) / WG));
        dispatch({ op, pipeline: pipeline(op, src), bindings, uniforms: meta, workgroups });
      }
    }
    win.dispose();
  }
  dummy?.dispose();
}

/** PyTorch's legacy empty tensor, `[0]`, which `cat` skips whatever the other shapes. */
const legacyEmpty = (t: Tensor) => t.ndim === 1 && t.shape[0] === 0;

/** Options of {@linkcode cat}. */
export interface CatOptions {
  /**
   * The result may be a view of the inputs' storage (no copy) when they lie side by side in one
   * storage, in order, so that together they are dense: for inputs that stay unchanged while the
   * result is in use, such as parameters packed by `packParameters` within a forward pass.
   */
  share?: boolean;
}

/**
 * Concatenates along `dim`. Shapes must match except at `dim`; 1-D empty tensors (`[0]`)
 * are skipped as in PyTorch; dtypes are promoted (bool < int32 < float32).
 */
export function cat(tensors: readonly Tensor[], dim = 0, opts: CatOptions = {}): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) {
    throw new RangeError("cat: expected a non-empty list of tensors");
  }
  tensors.forEach((t, i) => live(t, "cat", `tensor ${i}`));
  const dtype: DType = tensors.map((t) => t.dtype).reduce(promoteTypes);
  const used = tensors.filter((t) => !legacyEmpty(t));
  if (used.length === 0) return empty([0], dtype, "cat");
  const ref = used[0];
  if (ref.ndim === 0) throw new RangeError("cat: zero-dimensional tensors cannot be concatenated");
  const d = normDim(dim, ref.ndim, "cat");
  const shapes = () => tensors.map((t) => fmtShape(t.shape)).join(", ");
  for (const t of used) {
    if (t.ndim !== ref.ndim || t.shape.some((n: number, i: number) => i !== d && n !== ref.shape[i])) {
      throw new RangeError(`cat: sizes must match except in dim ${d}, got shapes ${shapes()}`);
    }
  }
  const outShape = [...ref.shape];
  outShape[d] = used.reduce((a, t) => a + t.shape[d], 0);
  const starts: number[] = [];
  let at = 0;
  for (const t of tensors) {
    starts.push(at);
    if (!legacyEmpty(t)) at += t.shape[d];
  }
  const out = (opts.share ? sideBySide(used, outShape, d) : null) ?? copyPieces(tensors, outShape, d, dtype, starts);
  if (dtype !== "float32") return out;
  return record("cat", out, tensors, (g) => {
    // A window that is dense in the gradient (a dim-0 slice of a dense gradient) is passed on as
    // it is: its elements are its own, so optimizers may update it in place like any gradient
    // (autograd's accumulateLeaf copies it when it is a view of the caller's own gradient
    // tensor). The other windows are copied out, all in one dispatch.
    const copies: (Tensor | null)[] = tensors.map(() => null);
    const grads = tensors.map((t, i): Tensor | null => {
      if (!t.requiresGrad) return null;
      if (legacyEmpty(t)) return empty([0], "float32", "cat.backward");
      const s = outShape.map((_, j) => (j === d ? starts[i] : 0));
      const w = window(g, s, t.shape);
      if (w.isContiguous) return w;
      w.dispose();
      return copies[i] = empty(t.shape, "float32", "cat.backward");
    });
    const sizes = tensors.map((t) => (legacyEmpty(t) ? 0 : t.shape[d]));
    catCopy("cat.backward", g, copies, starts, sizes, d, false);
    return grads;
  });
}

/** The concatenation as a view, when the pieces are dense and follow one another in one storage; else null. */
function sideBySide(pieces: readonly Tensor[], outShape: number[], d: number): Tensor | null {
  const first = pieces[0];
  let next = first.offset;
  for (const t of pieces) {
    if (t.storage !== first.storage || t.dtype !== first.dtype || !t.isContiguous || t.offset !== next) return null;
    next += t.size;
  }
  // Dense along `dim` only when every dim before it has one element.
  if (outShape.slice(0, d).some((n) => n !== 1)) return null;
  return first.viewAs(outShape, contiguousStrides(outShape), first.offset);
}

/** A new tensor of `outShape` holding the pieces (converted to `dtype`; empty ones left out) at `starts`. */
function copyPieces(
  tensors: readonly Tensor[],
  outShape: number[],
  d: number,
  dtype: DType,
  starts: readonly number[],
): Tensor {
  const out = empty(outShape, dtype, "cat");
  const filled = tensors.map((t, i) => ({ t, i })).filter(({ t }) => !legacyEmpty(t) && t.shape[d] > 0);
  const converted = filled.map(({ t }) =>
    t.dtype === dtype
      ? t
      : runMap({ op: "cat", expr: "x", inputs: [t], names: ["x"], load: [storageType[dtype]], out: dtype })
  );
  catCopy("cat", out, converted, filled.map(({ i }) => starts[i]), converted.map((t) => t.shape[d]), d, true);
  converted.forEach((c, j) => c !== filled[j].t && c.dispose());
  return out;
}

/**
 * The dense gradient of an input from its slices' window gradients (`WindowGrad.join`):
 * windows that tile the input along one dim, one after another, are concatenated in one pass;
 * others are each padded with zeros and summed.
 */
export function joinWindowGrads(windows: readonly WindowGrad[]): Tensor {
  const ws = [...windows].sort((a, b) => a.start - b.start);
  const { dim: d, shape } = ws[0];
  let end = 0;
  const tiles = ws.every((w) => {
    const ok = w.dim === d && w.step === 1 && w.start === end;
    end += w.grad.shape[d];
    return ok;
  }) && end === shape[d];
  if (tiles) {
    const out = empty(shape, "float32", "slice.backward");
    catCopy(
      "slice.backward",
      out,
      ws.map((w) => w.grad),
      ws.map((w) => w.start),
      ws.map((w) => w.grad.shape[d]),
      d,
      true,
    );
    return out;
  }
  let sum = windowGradDense(ws[0]);
  for (const w of ws.slice(1)) {
    const part = windowGradDense(w);
    const next = add(sum, part);
    sum.dispose();
    part.dispose();
    sum = next;
  }
  return sum;
}

/** Stacks equally shaped tensors along a new dim `dim`. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) {
    throw new RangeError("stack: expected a non-empty list of tensors");
  }
  tensors.forEach((t, i) => live(t, "stack", `tensor ${i}`));
  const ref = tensors[0];
  if (tensors.some((t) => t.ndim !== ref.ndim || t.shape.some((n: number, i: number) => n !== ref.shape[i]))) {
    throw new RangeError(
      `stack: expects each tensor to be equal size, got shapes ${tensors.map((t) => fmtShape(t.shape)).join(", ")}`,
    );
  }
  const d = normDim(dim, ref.ndim + 1, "stack");
  const parts = tensors.map((t) => unsqueeze(t, d));
  try {
    return cat(parts, d);
  } finally {
    for (const p of parts) p.dispose();
  }
}

/**
 * Pads with a constant, `pad` listing (before, after) pairs from the last dim backwards as
 * in `torch.nn.functional.pad`; negative amounts crop.
 */
export function pad(x: Tensor, pad: readonly number[], value = 0): Tensor {
  live(x, "pad");
  if (!Array.isArray(pad) || pad.length % 2 !== 0 || pad.length / 2 > x.ndim || !pad.every(Number.isInteger)) {
    throw new RangeError(
      `pad: expected an even number of integer amounts, at most 2 per dim, for input of shape ${
        fmtShape(x.shape)
      }; got ${JSON.stringify(pad)}`,
    );
  }
  const R = x.ndim;
  const before = new Array<number>(R).fill(0), after = new Array<number>(R).fill(0);
  for (let i = 0; i < pad.length / 2; i++) {
    before[R - 1 - i] = pad[2 * i];
    after[R - 1 - i] = pad[2 * i + 1];
  }
  const outShape = x.shape.map((n, d) => n + before[d] + after[d]);
  if (outShape.some((n) => n < 0)) {
    throw new RangeError(
      `pad: padding ${JSON.stringify(pad)} gives a negative size ${fmtShape(outShape)} for input of shape ${
        fmtShape(x.shape)
      }`,
    );
  }
  // The part of x that survives cropping, and where it lands in the output.
  const srcStart = before.map((b) => Math.max(-b, 0));
  const dstStart = before.map((b) => Math.max(b, 0));
  const lens = x.shape.map((n, d) => Math.max(n - srcStart[d] - Math.max(-after[d], 0), 0));
  const out = empty(outShape, x.dtype, "pad");
  const padded = outShape.some((n, d) => lens[d] !== n);
  if (padded) fillInto("pad.fill", out, value);
  if (numel(lens) > 0) {
    const src = window(x, srcStart, lens), dst = window(out, dstStart, lens);
    copyInto("pad", src, dst);
    src.dispose();
    dst.dispose();
  }
  if (x.dtype !== "float32") return out;
  const inShape = x.shape;
  return record("pad", out, [x], (g) => {
    const gx = empty(inShape, "float32", "pad.backward");
    if (inShape.some((n, d) => lens[d] !== n)) fillInto("pad.backward.fill", gx, 0);
    if (numel(lens) > 0) {
      const src = window(g, dstStart, lens), dst = window(gx, srcStart, lens);
      copyInto("pad.backward", src, dst);
      src.dispose();
      dst.dispose();
    }
    return [gx];
  });
}

/** Tiles `repeats[i]` times along each dim (`Tensor.repeat`); extra leading repeats add dims. */
export function repeat(x: Tensor, repeats: readonly number[]): Tensor {
  live(x, "repeat");
  if (!Array.isArray(repeats) || !repeats.every((r) => Number.isInteger(r) && r >= 0)) {
    throw new RangeError(`repeat: repeats must be non-negative integers, got ${JSON.stringify(repeats)}`);
  }
  if (repeats.length < x.ndim) {
    throw new RangeError(
      `repeat: number of repeats (${repeats.length}) cannot be smaller than the number of dims of the tensor ${
        fmtShape(x.shape)
      }`,
    );
  }
  const lead = repeats.length - x.ndim;
  const shape = [...new Array<number>(lead).fill(1), ...x.shape];
  const strides = [...new Array<number>(lead).fill(0), ...x.strides];
  // Output viewed as [r0, s0, r1, s1, …]: x broadcasts along every r axis.
  const inter = repeats.flatMap((r, i) => [r, shape[i]]);
  const src = x.viewAs(repeats.flatMap((_, i) => [1, shape[i]]), repeats.flatMap((_, i) => [0, strides[i]]), x.offset);
  const dense = runMap({ op: "repeat", expr: "x", inputs: [src], names: ["x"], out: x.dtype, shape: inter });
  src.dispose();
  const outShape = repeats.map((r, i) => r * shape[i]);
  const out = dense.viewAs(outShape, contiguousStrides(outShape), 0);
  dense.dispose();
  if (x.dtype !== "float32") return out;
  const inShape = x.shape;
  return record("repeat", out, [x], (g) =>
    noGrad(() => {
      const gi = reshape(g, inter);
      const s = sum(gi, repeats.map((_, i) => 2 * i));
      const gx = reshape(s, inShape);
      gi.dispose();
      s.dispose();
      return [gx];
    }));
}

function checkIndex(index: unknown, op: string): Tensor {
  const t = live(index, op, "index");
  if (t.dtype !== "int32") {
    throw new TypeError(`${op}: index must be an int32 tensor, got ${t.dtype} of shape ${fmtShape(t.shape)}`);
  }
  return t;
}

/** Gather kernel launch; `index` gives the output shape (index values outside [0, size) read as NaN/0). */
function gatherRaw(x: Tensor, d: number, index: Tensor, op: string): Tensor {
  const R = index.ndim;
  const out = empty(index.shape, x.dtype, op);
  if (out.size === 0) return out;
  const meta = new Uint32Array(gatherMetaWords(R));
  meta.set([out.size, x.offset, index.offset, x.strides[d], x.shape[d]]);
  meta.set(index.shape, 5);
  meta.set(index.strides, 5 + R);
  meta.set(x.strides.map((s, i) => (i === d ? 0 : s)), 5 + 2 * R);
  dispatch({
    op,
    pipeline: pipeline(op, gatherSource(R, storageType[x.dtype])),
    bindings: [x.storage.buffer, index.storage.buffer, out.storage.buffer],
    uniforms: meta,
    workgroups: grid1d(Math.ceil(out.size / WG)),
  });
  return out;
}

/** Adjoint of `gatherRaw`: sums g into a dense tensor of `xShape` (deterministic, no atomics). */
function gatherBackwardRaw(g: Tensor, xShape: readonly number[], d: number, index: Tensor, op: string): Tensor {
  const R = xShape.length;
  const out = empty(xShape, "float32", op);
  if (out.size === 0) return out;
  const meta = new Uint32Array(gatherBackwardMetaWords(R));
  meta.set([out.size, index.shape[d], index.offset, g.offset, index.strides[d], g.strides[d]]);
  meta.set(xShape, 6);
  meta.set(index.shape, 6 + R);
  meta.set(index.strides, 6 + 2 * R);
  meta.set(g.strides, 6 + 3 * R);
  dispatch({
    op,
    pipeline: pipeline(op, gatherBackwardSource(R, d)),
    bindings: [g.storage.buffer, index.storage.buffer, out.storage.buffer],
    uniforms: meta,
    workgroups: grid1d(Math.ceil(out.size / WG)),
  });
  return out;
}

/** Records a gather of `x` at the (same-rank) `index` view; shared by gather and indexSelect. */
function gatherOp(x: Tensor, d: number, index: Tensor, op: string): Tensor {
  const out = gatherRaw(x, d, index, op);
  if (x.dtype !== "float32") return out;
  const xShape = x.shape;
  return record(op, out, [x], (g, [idx]) => [gatherBackwardRaw(g, xShape, d, idx, `${op}.backward`)], [index]);
}

/**
 * `out[i][j][k] = x[i][index[i][j][k]][k]` for dim 1 (and likewise for other dims).
 * `index` is int32 of the same rank with `index.shape[d] <= x.shape[d]` for d ≠ dim.
 * Out-of-range indices are not checked on the GPU: they read NaN (0 for int tensors).
 * The backward (scatter-add) is deterministic: O(x.size · index.shape[dim]) work.
 */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  live(x, "gather");
  checkIndex(index, "gather");
  if (x.ndim === 0 || index.ndim === 0) {
    if (x.ndim > 1 || index.ndim > 1) {
      throw new RangeError(
        `gather: index ${fmtShape(index.shape)} and input ${fmtShape(x.shape)} must have the same rank`,
      );
    }
    normDim(dim, 1, "gather");
    const x1 = reshape(x, [x.size]), i1 = reshape(index, [index.size]);
    const r1 = gather(x1, 0, i1);
    const r = reshape(r1, index.shape);
    for (const t of [x1, i1, r1]) t.dispose();
    return r;
  }
  const d = normDim(dim, x.ndim, "gather");
  if (index.ndim !== x.ndim || index.shape.some((n, i) => i !== d && n > x.shape[i])) {
    throw new RangeError(
      `gather: index of shape ${fmtShape(index.shape)} must have the rank of the input ${
        fmtShape(x.shape)
      } and no larger sizes outside dim ${d}`,
    );
  }
  return gatherOp(x, d, index, "gather");
}

/**
 * Selects slices along `dim` at the 1-D int32 `index` (repeats allowed). Out-of-range
 * indices read NaN (0 for int tensors). The backward (index-add) is deterministic:
 * O(x.size · index.length) work.
 */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  live(x, "indexSelect");
  checkIndex(index, "indexSelect");
  if (index.ndim > 1) {
    throw new RangeError(`indexSelect: index must be 1-D (or 0-d), got shape ${fmtShape(index.shape)}`);
  }
  if (x.ndim === 0) {
    normDim(dim, 1, "indexSelect");
    const x1 = reshape(x, [1]);
    const r1 = indexSelect(x1, 0, index);
    const r = reshape(r1, index.shape);
    x1.dispose();
    r1.dispose();
    return r;
  }
  const d = normDim(dim, x.ndim, "indexSelect");
  const K = index.size;
  const outShape = [...x.shape];
  outShape[d] = K;
  // The 1-D index broadcast (stride 0) over every other dim is a gather index.
  const stridesB = outShape.map((_, i) => (i === d ? (index.ndim === 1 ? index.strides[0] : 0) : 0));
  const idx = index.viewAs(outShape, stridesB, index.offset);
  const out = gatherOp(x, d, idx, "indexSelect");
  idx.dispose();
  return out;
}

/**
 * One-hot encodes int32 indices into a new last dim of size `numClasses` as **float32**
 * (PyTorch returns int64; float32 is what losses consume). Indices outside
 * [0, numClasses) give an all-zero row. `numClasses = -1` (infer max + 1) needs a GPU
 * readback that a synchronous op cannot do, so it is rejected with a hint.
 */
export function oneHot(index: Tensor, numClasses = -1): Tensor {
  checkIndex(index, "oneHot");
  if (numClasses === -1) {
    throw new RangeError(
      "oneHot: numClasses = -1 (max + 1) needs a GPU readback, which a synchronous op cannot do; pass it " +
        "explicitly, e.g. oneHot(index, (await index.max().item()) + 1)",
    );
  }
  if (!Number.isInteger(numClasses) || numClasses < 0) {
    throw new RangeError(`oneHot: numClasses must be a non-negative integer, got ${numClasses}`);
  }
  const shape = [...index.shape, numClasses];
  const src = index.viewAs(shape, [...index.strides, 0], index.offset);
  const out = runMap({
    op: "oneHot",
    expr: "select(0.0, 1.0, bitcast<u32>(i) == gi % c)",
    inputs: [src],
    names: ["i"],
    params: [{ name: "c", value: numClasses, type: "u32" }],
    out: "float32",
    shape,
  });
  src.dispose();
  return out;
}
