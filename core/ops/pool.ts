/**
 * Max, average and adaptive pooling over 1, 2 or 3 spatial dims (NCL, NCHW, NCDHW, or the
 * same without the batch dim), forward and backward, with PyTorch's output-size rules.
 */
import { record } from "../autograd.ts";
import { dispatch, grid1d, pipeline } from "../device.ts";
import { POOL_META_WORDS, type PoolKernel, poolSource } from "../kernels/pool.ts";
import { WG } from "../kernels/wgsl.ts";
import { fmtShape, numel } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { noGrad } from "../autograd.ts";
import { contiguous } from "./elementwise.ts";
import { empty } from "./map.ts";

/** A size per spatial dim, or one size for all of them. */
export type PoolSize = number | readonly number[];

/** Options of `maxPool1d/2d/3d`. */
export interface MaxPoolOptions {
  /** Window size. */
  kernelSize: PoolSize;
  /** Step between windows (default: `kernelSize`). */
  stride?: PoolSize | null;
  /** Implicit −∞ padding on both sides (default 0; at most half the kernel). */
  padding?: PoolSize;
  /** Spacing between window taps (default 1). */
  dilation?: PoolSize;
  /** Round the output size up instead of down (default false). */
  ceilMode?: boolean;
  /** Also return the argmax indices (flat within each input plane, int32). */
  returnIndices?: boolean;
}

/** Options of `avgPool1d/2d/3d`. */
export interface AvgPoolOptions {
  /** Window size. */
  kernelSize: PoolSize;
  /** Step between windows (default: `kernelSize`). */
  stride?: PoolSize | null;
  /** Implicit zero padding on both sides (default 0; at most half the kernel). */
  padding?: PoolSize;
  /** Round the output size up instead of down (default false). */
  ceilMode?: boolean;
  /** Count padded zeros in the divisor (default true). */
  countIncludePad?: boolean;
  /** Divide by this instead of the window size. */
  divisorOverride?: number | null;
}

/** Everything one pooling launch needs, per spatial dim padded to 3. */
interface PoolSpec {
  kernel: PoolKernel;
  I: number[];
  O: number[];
  k: number[];
  s: number[];
  p: number[];
  d: number[];
  divisorOverride: number;
  countIncludePad: boolean;
}

function tuple(op: string, name: string, v: PoolSize | null | undefined, n: number, min: number): number[] {
  const arr = typeof v === "number" ? new Array<number>(n).fill(v) : [...(v ?? [])];
  if (arr.length === 1 && n > 1) arr.length = n, arr.fill(arr[0]);
  if (arr.length !== n || arr.some((e) => !Number.isInteger(e) || e < min)) {
    throw new RangeError(`${op}: ${name} must be an integer ≥ ${min} or ${n} of them, got ${JSON.stringify(v)}`);
  }
  return arr;
}

/** Adds a batch dim to unbatched input; returns the batched view and whether it was added. */
function batched(op: string, x: Tensor, dims: number): Tensor {
  if (!(x instanceof Tensor)) throw new TypeError(`${op}: input must be a Tensor, got ${typeof x}`);
  x.assertLive(op);
  if (x.dtype !== "float32") throw new TypeError(`${op}: input must be float32, got ${x.dtype}`);
  if (x.ndim !== dims + 1 && x.ndim !== dims + 2) {
    throw new RangeError(
      `${op}: expected a ${dims + 1}-D or ${dims + 2}-D input (N, C, ${
        ["L", "H, W", "D, H, W"][dims - 1]
      }), got shape ${fmtShape(x.shape)}`,
    );
  }
  return x;
}

/** PyTorch's pooling output size (with the ceil-mode rule that the last window must start inside). */
function outSize(I: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  let o = Math.floor((I + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (o - 1) * s >= I + p) o--;
  return o;
}

function pad3(v: number[], fill: number): number[] {
  return [...new Array<number>(3 - v.length).fill(fill), ...v];
}

/** Runs the forward kernel on a batched or unbatched input; returns output (+ indices for max). */
function poolForward(op: string, x: Tensor, dims: number, spec: PoolSpec): [Tensor, Tensor | null] {
  const lead = x.shape.slice(0, x.ndim - dims);
  const C = lead[lead.length - 1];
  const st = lead.length === 2 ? [x.strides[0], x.strides[1]] : [0, x.strides[0]];
  const sp = pad3(x.strides.slice(x.ndim - dims) as number[], 0);
  const outShape = [...lead, ...spec.O.slice(3 - dims)];
  const out = empty(outShape, "float32", op);
  const max = spec.kernel.kind === "max";
  const idx = max ? empty(outShape, "int32", `${op}.indices`) : null;
  const total = numel(outShape);
  if (total === 0) return [out, idx];
  const meta = new Uint32Array(POOL_META_WORDS);
  meta.set([total, C, ...spec.I, ...spec.O, ...spec.k, ...spec.s, ...spec.p, ...spec.d]);
  meta.set([spec.divisorOverride, spec.countIncludePad ? 1 : 0, x.offset, st[0], st[1], ...sp], 20);
  dispatch({
    op,
    pipeline: pipeline(op, poolSource(spec.kernel)),
    bindings: [x.storage.buffer, out.storage.buffer, ...(idx ? [idx.storage.buffer] : [])],
    uniforms: meta,
    workgroups: grid1d(Math.ceil(total / WG)),
  });
  return [out, idx];
}

/** Gradient of a pool with respect to its input (shape `inShape`), gathered per input element. */
function poolBackward(op: string, inShape: readonly number[], spec: PoolSpec, g: Tensor, idx: Tensor | null): Tensor {
  const dx = empty(inShape, "float32", `${op}.backward`);
  const total = numel(inShape);
  if (total === 0) return dx;
  const gc = noGrad(() => contiguous(g));
  const kernel = { ...spec.kernel, backward: true };
  const meta = new Uint32Array(POOL_META_WORDS);
  meta.set([total, 1, ...spec.I, ...spec.O, ...spec.k, ...spec.s, ...spec.p, ...spec.d]);
  meta.set([spec.divisorOverride, spec.countIncludePad ? 1 : 0], 20);
  meta.set([gc.offset, idx?.offset ?? 0], 28);
  dispatch({
    op: `${op}.backward`,
    pipeline: pipeline(`${op}.backward`, poolSource(kernel)),
    bindings: [gc.storage.buffer, ...(idx ? [idx.storage.buffer] : []), dx.storage.buffer],
    uniforms: meta,
    workgroups: grid1d(Math.ceil(total / WG)),
  });
  gc.dispose();
  return dx;
}

/** Forward + autograd node of any pool. */
function runPool(op: string, x: Tensor, dims: number, spec: PoolSpec): [Tensor, Tensor | null] {
  const [out, idx] = poolForward(op, x, dims, spec);
  const inShape = x.shape;
  const y = record(
    op,
    out,
    [x],
    (g, saved) => [poolBackward(op, inShape, spec, g, saved[0] ?? null)],
    idx ? [idx] : [],
  );
  return [y, idx];
}

function fixedSpec(
  op: string,
  x: Tensor,
  dims: number,
  kind: "max" | "avg",
  o: MaxPoolOptions & AvgPoolOptions,
): PoolSpec {
  const k = tuple(op, "kernelSize", o.kernelSize, dims, 1);
  const s = o.stride === undefined || o.stride === null ? k : tuple(op, "stride", o.stride, dims, 1);
  const p = tuple(op, "padding", o.padding ?? 0, dims, 0);
  const d = tuple(op, "dilation", o.dilation ?? 1, dims, 1);
  const I = x.shape.slice(x.ndim - dims);
  const O = I.map((n, j) => outSize(n, k[j], s[j], p[j], d[j], !!o.ceilMode));
  p.forEach((pj, j) => {
    if (pj > Math.floor(k[j] / 2)) {
      throw new RangeError(`${op}: padding ${fmtShape(p)} must be at most half of kernelSize ${fmtShape(k)}`);
    }
  });
  if (O.some((n) => n < 1)) {
    throw new RangeError(
      `${op}: input of shape ${fmtShape(x.shape)} is too small for kernelSize ${fmtShape(k)}, dilation ${
        fmtShape(d)
      } and padding ${fmtShape(p)} (output size would be ${fmtShape(O)})`,
    );
  }
  const div = o.divisorOverride ?? 0;
  if (div !== 0 && (!Number.isInteger(div) || div < 1)) {
    throw new RangeError(`${op}: divisorOverride must be a positive integer, got ${div}`);
  }
  return {
    kernel: { kind, adaptive: false, backward: false },
    I: pad3(I, 1),
    O: pad3(O, 1),
    k: pad3(k, 1),
    s: pad3(s, 1),
    p: pad3(p, 0),
    d: pad3(d, 1),
    divisorOverride: div,
    countIncludePad: o.countIncludePad ?? true,
  };
}

function maxPoolN(op: string, x: Tensor, dims: number, opts: MaxPoolOptions): Tensor | [Tensor, Tensor] {
  batched(op, x, dims);
  const [y, idx] = runPool(op, x, dims, fixedSpec(op, x, dims, "max", opts));
  if (opts.returnIndices) return [y, idx!];
  idx!.dispose();
  return y;
}

function avgPoolN(op: string, x: Tensor, dims: number, opts: AvgPoolOptions): Tensor {
  batched(op, x, dims);
  return runPool(op, x, dims, fixedSpec(op, x, dims, "avg", opts))[0];
}

function adaptiveSpec(op: string, x: Tensor, dims: number, kind: "max" | "avg", outputSize: PoolSize): PoolSpec {
  batched(op, x, dims);
  const I = x.shape.slice(x.ndim - dims);
  const O = tuple(op, "outputSize", outputSize, dims, 1);
  if (I.some((n) => n === 0)) {
    throw new RangeError(`${op}: input of shape ${fmtShape(x.shape)} has an empty spatial dim`);
  }
  const ones = [1, 1, 1];
  return {
    kernel: { kind, adaptive: true, backward: false },
    I: pad3(I, 1),
    O: pad3(O, 1),
    k: ones,
    s: ones,
    p: [0, 0, 0],
    d: ones,
    divisorOverride: 0,
    countIncludePad: true,
  };
}

/** 1-D max pooling of (N, C, L) or (C, L). */
export function maxPool1d(x: Tensor, opts: MaxPoolOptions & { returnIndices: true }): [Tensor, Tensor];
/** 1-D max pooling of (N, C, L) or (C, L). */
export function maxPool1d(x: Tensor, opts: MaxPoolOptions): Tensor;
/** 1-D max pooling of (N, C, L) or (C, L). */
export function maxPool1d(x: Tensor, opts: MaxPoolOptions): Tensor | [Tensor, Tensor] {
  return maxPoolN("maxPool1d", x, 1, opts);
}

/** 2-D max pooling of (N, C, H, W) or (C, H, W). */
export function maxPool2d(x: Tensor, opts: MaxPoolOptions & { returnIndices: true }): [Tensor, Tensor];
/** 2-D max pooling of (N, C, H, W) or (C, H, W). */
export function maxPool2d(x: Tensor, opts: MaxPoolOptions): Tensor;
/** 2-D max pooling of (N, C, H, W) or (C, H, W). */
export function maxPool2d(x: Tensor, opts: MaxPoolOptions): Tensor | [Tensor, Tensor] {
  return maxPoolN("maxPool2d", x, 2, opts);
}

/** 3-D max pooling of (N, C, D, H, W) or (C, D, H, W). */
export function maxPool3d(x: Tensor, opts: MaxPoolOptions & { returnIndices: true }): [Tensor, Tensor];
/** 3-D max pooling of (N, C, D, H, W) or (C, D, H, W). */
export function maxPool3d(x: Tensor, opts: MaxPoolOptions): Tensor;
/** 3-D max pooling of (N, C, D, H, W) or (C, D, H, W). */
export function maxPool3d(x: Tensor, opts: MaxPoolOptions): Tensor | [Tensor, Tensor] {
  return maxPoolN("maxPool3d", x, 3, opts);
}

/** 1-D average pooling of (N, C, L) or (C, L). */
export function avgPool1d(x: Tensor, opts: AvgPoolOptions): Tensor {
  return avgPoolN("avgPool1d", x, 1, opts);
}

/** 2-D average pooling of (N, C, H, W) or (C, H, W). */
export function avgPool2d(x: Tensor, opts: AvgPoolOptions): Tensor {
  return avgPoolN("avgPool2d", x, 2, opts);
}

/** 3-D average pooling of (N, C, D, H, W) or (C, D, H, W). */
export function avgPool3d(x: Tensor, opts: AvgPoolOptions): Tensor {
  return avgPoolN("avgPool3d", x, 3, opts);
}

/** Adaptive 1-D average pooling to `outputSize` (windows ⌊o·I/O⌋ … ⌈(o+1)·I/O⌉). */
export function adaptiveAvgPool1d(x: Tensor, outputSize: PoolSize): Tensor {
  return runPool("adaptiveAvgPool1d", x, 1, adaptiveSpec("adaptiveAvgPool1d", x, 1, "avg", outputSize))[0];
}

/** Adaptive 2-D average pooling to `outputSize` (one size or [H, W]). */
export function adaptiveAvgPool2d(x: Tensor, outputSize: PoolSize): Tensor {
  return runPool("adaptiveAvgPool2d", x, 2, adaptiveSpec("adaptiveAvgPool2d", x, 2, "avg", outputSize))[0];
}

/** Adaptive 3-D average pooling to `outputSize` (one size or [D, H, W]). */
export function adaptiveAvgPool3d(x: Tensor, outputSize: PoolSize): Tensor {
  return runPool("adaptiveAvgPool3d", x, 3, adaptiveSpec("adaptiveAvgPool3d", x, 3, "avg", outputSize))[0];
}

function adaptiveMaxN(
  op: string,
  x: Tensor,
  dims: number,
  outputSize: PoolSize,
  withIdx: boolean,
): Tensor | [Tensor, Tensor] {
  const [y, idx] = runPool(op, x, dims, adaptiveSpec(op, x, dims, "max", outputSize));
  if (withIdx) return [y, idx!];
  idx!.dispose();
  return y;
}

/** Options of adaptive max pooling. */
export interface AdaptiveMaxPoolOptions {
  /** Also return the argmax indices (flat within each input plane, int32). */
  returnIndices?: boolean;
}

/** Adaptive 1-D max pooling to `outputSize`. */
export function adaptiveMaxPool1d(x: Tensor, outputSize: PoolSize, opts: { returnIndices: true }): [Tensor, Tensor];
/** Adaptive 1-D max pooling to `outputSize`. */
export function adaptiveMaxPool1d(x: Tensor, outputSize: PoolSize, opts?: AdaptiveMaxPoolOptions): Tensor;
/** Adaptive 1-D max pooling to `outputSize`. */
export function adaptiveMaxPool1d(
  x: Tensor,
  outputSize: PoolSize,
  opts: AdaptiveMaxPoolOptions = {},
): Tensor | [Tensor, Tensor] {
  return adaptiveMaxN("adaptiveMaxPool1d", x, 1, outputSize, !!opts.returnIndices);
}

/** Adaptive 2-D max pooling to `outputSize`. */
export function adaptiveMaxPool2d(x: Tensor, outputSize: PoolSize, opts: { returnIndices: true }): [Tensor, Tensor];
/** Adaptive 2-D max pooling to `outputSize`. */
export function adaptiveMaxPool2d(x: Tensor, outputSize: PoolSize, opts?: AdaptiveMaxPoolOptions): Tensor;
/** Adaptive 2-D max pooling to `outputSize`. */
export function adaptiveMaxPool2d(
  x: Tensor,
  outputSize: PoolSize,
  opts: AdaptiveMaxPoolOptions = {},
): Tensor | [Tensor, Tensor] {
  return adaptiveMaxN("adaptiveMaxPool2d", x, 2, outputSize, !!opts.returnIndices);
}

/** Adaptive 3-D max pooling to `outputSize`. */
export function adaptiveMaxPool3d(x: Tensor, outputSize: PoolSize, opts: { returnIndices: true }): [Tensor, Tensor];
/** Adaptive 3-D max pooling to `outputSize`. */
export function adaptiveMaxPool3d(x: Tensor, outputSize: PoolSize, opts?: AdaptiveMaxPoolOptions): Tensor;
/** Adaptive 3-D max pooling to `outputSize`. */
export function adaptiveMaxPool3d(
  x: Tensor,
  outputSize: PoolSize,
  opts: AdaptiveMaxPoolOptions = {},
): Tensor | [Tensor, Tensor] {
  return adaptiveMaxN("adaptiveMaxPool3d", x, 3, outputSize, !!opts.returnIndices);
}
