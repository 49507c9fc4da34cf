/**
 * The Tensor: a view (shape, strides, offset, dtype) over refcounted GPU storage, with
 * autograd metadata. Methods are thin wrappers over the functional ops in `core/ops/`.
 */
import { readBuffer } from "./device.ts";
import { envFlag } from "./env.ts";
import type { DType, TensorData } from "./dtype.ts";
import { contiguousStrides, fmtShape, isContiguous, numel, type Shape } from "./shape.ts";
import { trackTensor } from "./scope.ts";
import type { Storage } from "./storage.ts";
import { backward as runBackward, type BackwardOptions, type Node } from "./autograd.ts";
import * as ew from "./ops/elementwise.ts";
import * as red from "./ops/reduce.ts";
import * as view from "./ops/view.ts";
import * as join from "./ops/join.ts";
import { matmul } from "./ops/matmul.ts";
import { logSoftmax, softmax } from "./ops/softmax.ts";
import { onesLike } from "./ops/creation.ts";

/** Right-hand operand of binary ops: a tensor or a JS number. */
export type TensorLike = Tensor | number;

/** Dimension argument of reductions: one dim, several, or all (undefined). */
export type Dims = number | readonly number[] | undefined;

let nextId = 1;

// Tensors garbage-collected without dispose() leak their GPU storage until exit: count them
// and, with MEDDIFF_WARN_LEAKS=1, say so once. (Freeing from a finalizer would hide bugs.)
let leaked = 0;
let warned = false;
const warnLeaks = envFlag("MEDDIFF_WARN_LEAKS") === "1";
const leakRegistry = new FinalizationRegistry<string>((what) => {
  leaked++;
  if (warnLeaks && !warned) {
    warned = true;
    console.warn(`meddiff: ${what} was garbage-collected without dispose(); use scope() or dispose()`);
  }
});

/** Number of tensors garbage-collected without `dispose()` so far. */
export function leakedTensors(): number {
  return leaked;
}

/** A multi-dimensional array on the GPU. */
export class Tensor {
  /** Unique id (debugging). */
  readonly id: number = nextId++;
  /** Size of each dimension. */
  readonly shape: readonly number[];
  /** Element stride of each dimension. */
  readonly strides: readonly number[];
  /** Offset of element [0, …, 0] in the storage, in elements. */
  readonly offset: number;
  /** Element type. */
  readonly dtype: DType;
  /** Whether gradients are computed for this tensor. */
  requiresGrad = false;
  /** Accumulated gradient (leaves only), never owned by a scope. */
  grad: Tensor | null = null;
  /** The op that produced this tensor, when it is part of a graph. */
  gradFn: Node | null = null;
  #storage: Storage;
  #disposed = false;

  /** Internal: use the creation functions (`tensor`, `zeros`, …) instead. */
  constructor(storage: Storage, shape: Shape, dtype: DType, strides?: readonly number[], offset = 0) {
    this.#storage = storage;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze(strides ? [...strides] : contiguousStrides(shape));
    this.offset = offset;
    this.dtype = dtype;
    trackTensor(this);
    leakRegistry.register(this, `tensor of shape ${fmtShape(this.shape)}`, this);
  }

  /** The backing storage (throws if disposed). */
  get storage(): Storage {
    this.assertLive("storage");
    return this.#storage;
  }

  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }

  /** Number of elements. */
  get size(): number {
    return numel(this.shape);
  }

  /** True when the view is dense and row-major. */
  get isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }

  /** True after `dispose()`. */
  get isDisposed(): boolean {
    return this.#disposed;
  }

  /** Throws a clear error when the tensor was disposed. */
  assertLive(op: string): void {
    if (this.#disposed) {
      throw new Error(`${op}: tensor #${this.id} of shape ${fmtShape(this.shape)} was used after dispose()`);
    }
  }

  /** A new handle on the same view and storage (refcount + 1), without graph history. */
  alias(): Tensor {
    this.assertLive("alias");
    return new Tensor(this.#storage.retain(), this.shape, this.dtype, this.strides, this.offset);
  }

  /** Internal: a view over the same storage with new geometry. */
  viewAs(shape: Shape, strides: readonly number[], offset: number): Tensor {
    this.assertLive("view");
    return new Tensor(this.#storage.retain(), shape, this.dtype, strides, offset);
  }

  /** Frees this handle; storage goes back to the pool when no view uses it. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    leakRegistry.unregister(this);
    this.#storage.release();
  }

  /** `using t = …` support. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Copies the elements to the CPU (row-major). */
  async data(): Promise<TensorData> {
    this.assertLive("data");
    const src = this.isContiguous ? this : ew.contiguous(this);
    try {
      const bytes = await readBuffer(src.storage.buffer, src.offset * 4, src.size * 4);
      if (this.dtype === "float32") return new Float32Array(bytes);
      if (this.dtype === "int32") return new Int32Array(bytes);
      return Uint8Array.from(new Uint32Array(bytes));
    } finally {
      if (src !== this) src.dispose();
    }
  }

  /** The elements as a plain number array. */
  async toArray(): Promise<number[]> {
    return Array.from(await this.data());
  }

  /** Nested arrays in the tensor's shape (a number for 0-d tensors). */
  async tolist(): Promise<unknown> {
    const flat = await this.toArray();
    const build = (dim: number, off: number): unknown => {
      if (dim === this.ndim) return flat[off];
      const step = numel(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, off + i * step));
    };
    return build(0, 0);
  }

  /** The single element of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) {
      throw new RangeError(`item(): only one-element tensors can be converted, got shape ${fmtShape(this.shape)}`);
    }
    return (await this.data())[0];
  }

  /** Short description (does not read the data). */
  toString(): string {
    return `Tensor(shape=${fmtShape(this.shape)}, dtype=${this.dtype}${this.requiresGrad ? ", requiresGrad" : ""})`;
  }

  // ---- autograd ----

  /** Back-propagates; a non-scalar tensor needs `grad` of its own shape. */
  backward(grad?: Tensor, opts: BackwardOptions = {}): void {
    runBackward(this, grad, opts, onesLike, ew.add);
  }

  /** Marks this (leaf) tensor as needing gradients; returns `this`. */
  requiresGrad_(flag = true): this {
    if (flag && this.dtype !== "float32") {
      throw new TypeError(`requiresGrad_: only float32 tensors can require gradients, this one is ${this.dtype}`);
    }
    this.requiresGrad = flag;
    return this;
  }

  /** A view sharing storage, cut from the graph. */
  detach(): Tensor {
    return this.alias();
  }

  // ---- conversion ----

  /** A dense copy (or a new handle when already dense). */
  contiguous(): Tensor {
    return ew.contiguous(this);
  }
  /** A copy in its own storage. */
  clone(): Tensor {
    return ew.clone(this);
  }
  /** Converts to another dtype (a new handle when already that dtype). */
  to(dtype: DType): Tensor {
    return ew.cast(this, dtype);
  }
  /** `to("float32")`. */
  float(): Tensor {
    return ew.cast(this, "float32");
  }
  /** `to("int32")`. */
  int(): Tensor {
    return ew.cast(this, "int32");
  }

  // ---- elementwise ----

  /** this + other (broadcasting). */
  add(other: TensorLike): Tensor {
    return ew.add(this, other);
  }
  /** this − other. */
  sub(other: TensorLike): Tensor {
    return ew.sub(this, other);
  }
  /** this × other. */
  mul(other: TensorLike): Tensor {
    return ew.mul(this, other);
  }
  /** this ÷ other (true division). */
  div(other: TensorLike): Tensor {
    return ew.div(this, other);
  }
  /** this ** exponent. */
  pow(exponent: TensorLike): Tensor {
    return ew.pow(this, exponent);
  }
  /** Elementwise minimum. */
  minimum(other: TensorLike): Tensor {
    return ew.minimum(this, other);
  }
  /** Elementwise maximum. */
  maximum(other: TensorLike): Tensor {
    return ew.maximum(this, other);
  }
  /** −this. */
  neg(): Tensor {
    return ew.neg(this);
  }
  /** |this|. */
  abs(): Tensor {
    return ew.abs(this);
  }
  /** eˣ. */
  exp(): Tensor {
    return ew.exp(this);
  }
  /** Natural logarithm. */
  log(): Tensor {
    return ew.log(this);
  }
  /** √x. */
  sqrt(): Tensor {
    return ew.sqrt(this);
  }
  /** 1/√x. */
  rsqrt(): Tensor {
    return ew.rsqrt(this);
  }
  /** sin x. */
  sin(): Tensor {
    return ew.sin(this);
  }
  /** cos x. */
  cos(): Tensor {
    return ew.cos(this);
  }
  /** tanh x. */
  tanh(): Tensor {
    return ew.tanh(this);
  }
  /** 1/(1+e⁻ˣ). */
  sigmoid(): Tensor {
    return ew.sigmoid(this);
  }
  /** max(x, 0). */
  relu(): Tensor {
    return ew.relu(this);
  }
  /** x for x > 0, slope·x otherwise. */
  leakyRelu(negativeSlope = 0.01): Tensor {
    return ew.leakyRelu(this, negativeSlope);
  }
  /** x·σ(x). */
  silu(): Tensor {
    return ew.silu(this);
  }
  /** Gaussian error linear unit (`"none"` = exact erf form, or `"tanh"`). */
  gelu(approximate: "none" | "tanh" = "none"): Tensor {
    return ew.gelu(this, approximate);
  }
  /** log(1 + e^(βx))/β, linear above `threshold`. */
  softplus(beta = 1, threshold = 20): Tensor {
    return ew.softplus(this, beta, threshold);
  }
  /** Clamps into [min, max] (either may be omitted with `undefined`). */
  clamp(min?: number, max?: number): Tensor {
    return ew.clamp(this, min, max);
  }
  /** x²  (same as `pow(2)`, cheaper). */
  square(): Tensor {
    return ew.square(this);
  }
  /** Elementwise `==` (bool). */
  eq(other: TensorLike): Tensor {
    return ew.eq(this, other);
  }
  /** Elementwise `!=` (bool). */
  ne(other: TensorLike): Tensor {
    return ew.ne(this, other);
  }
  /** Elementwise `<` (bool). */
  lt(other: TensorLike): Tensor {
    return ew.lt(this, other);
  }
  /** Elementwise `<=` (bool). */
  le(other: TensorLike): Tensor {
    return ew.le(this, other);
  }
  /** Elementwise `>` (bool). */
  gt(other: TensorLike): Tensor {
    return ew.gt(this, other);
  }
  /** Elementwise `>=` (bool). */
  ge(other: TensorLike): Tensor {
    return ew.ge(this, other);
  }

  // ---- reductions ----

  /** Sum over `dim` (all dims when omitted). */
  sum(dim?: Dims, keepdim = false): Tensor {
    return red.sum(this, dim, keepdim);
  }
  /** Mean over `dim`. */
  mean(dim?: Dims, keepdim = false): Tensor {
    return red.mean(this, dim, keepdim);
  }
  /** Variance over `dim` (`correction` 1 = unbiased, as PyTorch's default). */
  var(dim?: Dims, keepdim = false, correction = 1): Tensor {
    return red.variance(this, dim, keepdim, correction);
  }
  /** Standard deviation over `dim`. */
  std(dim?: Dims, keepdim = false, correction = 1): Tensor {
    return red.std(this, dim, keepdim, correction);
  }
  /** Maximum values over `dim` (use `argmax` for indices). */
  max(dim?: Dims, keepdim = false): Tensor {
    return red.max(this, dim, keepdim);
  }
  /** Minimum values over `dim`. */
  min(dim?: Dims, keepdim = false): Tensor {
    return red.min(this, dim, keepdim);
  }
  /** Index of the maximum along `dim` (over the flattened tensor when omitted). */
  argmax(dim?: number, keepdim = false): Tensor {
    return red.argmax(this, dim, keepdim);
  }
  /** Index of the minimum along `dim`. */
  argmin(dim?: number, keepdim = false): Tensor {
    return red.argmin(this, dim, keepdim);
  }
  /** log Σ exp over `dim`, computed stably. */
  logsumexp(dim?: Dims, keepdim = false): Tensor {
    return red.logsumexp(this, dim, keepdim);
  }

  // ---- linear algebra ----

  /** Matrix product with PyTorch's 1-D and batch-broadcasting rules. */
  matmul(other: Tensor): Tensor {
    return matmul(this, other);
  }

  // ---- shape ----

  /** Same data, new shape (one dim may be −1); copies only when the view is not dense. */
  reshape(shape: readonly number[]): Tensor {
    return view.reshape(this, shape);
  }
  /** Like `reshape` but never copies; throws when the strides do not allow it. */
  view(shape: readonly number[]): Tensor {
    return view.view(this, shape);
  }
  /** Flattens dims `startDim..endDim` into one. */
  flatten(startDim = 0, endDim = -1): Tensor {
    return view.flatten(this, startDim, endDim);
  }
  /** Removes size-1 dims (all, or the given ones). */
  squeeze(dim?: Dims): Tensor {
    return view.squeeze(this, dim);
  }
  /** Inserts a size-1 dim at `dim`. */
  unsqueeze(dim: number): Tensor {
    return view.unsqueeze(this, dim);
  }
  /** Reorders dims. */
  permute(dims: readonly number[]): Tensor {
    return view.permute(this, dims);
  }
  /** Swaps two dims. */
  transpose(dim0: number, dim1: number): Tensor {
    return view.transpose(this, dim0, dim1);
  }
  /** Transpose of a ≤2-D tensor. */
  get T(): Tensor {
    return view.t(this);
  }
  /** Broadcasts to `shape` without copying (−1 keeps a dim). */
  expand(shape: readonly number[]): Tensor {
    return view.expand(this, shape);
  }
  /** Elements `start..end` (exclusive; negatives count from the end) along `dim`. */
  slice(dim: number, start: number, end?: number, step = 1): Tensor {
    return view.slice(this, dim, start, end, step);
  }
  /** `length` elements from `start` along `dim`. */
  narrow(dim: number, start: number, length: number): Tensor {
    return view.narrow(this, dim, start, length);
  }
  /** Tiles the tensor `repeats[i]` times along each dim. */
  repeat(repeats: readonly number[]): Tensor {
    return join.repeat(this, repeats);
  }
  /** Gathers values along `dim` at `index` (same rank). */
  gather(dim: number, index: Tensor): Tensor {
    return join.gather(this, dim, index);
  }
  /** Selects whole slices along `dim` at the 1-D `index`. */
  indexSelect(dim: number, index: Tensor): Tensor {
    return join.indexSelect(this, dim, index);
  }

  // ---- activations over a dim ----

  /** Softmax along `dim`. */
  softmax(dim = -1): Tensor {
    return softmax(this, dim);
  }
  /** Log-softmax along `dim`. */
  logSoftmax(dim = -1): Tensor {
    return logSoftmax(this, dim);
  }
}
