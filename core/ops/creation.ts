/** Tensor creation: from data, constants, ranges, identity. */
import { writeBuffer } from "../device.ts";
import { checkDType, type DType, storageType } from "../dtype.ts";
import { checkShape, fmtShape, numel } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { empty, runMap } from "./map.ts";

/** Options shared by creation functions. */
export interface CreateOptions {
  /** Element type (default float32; `tensor()` infers int32 from an Int32Array). */
  dtype?: DType;
  /** Track gradients (float32 only). */
  requiresGrad?: boolean;
}

/** Nested arrays of numbers or booleans. */
export type NestedArray = number | boolean | readonly NestedArray[];

function finish(t: Tensor, opts: CreateOptions | undefined, op: string): Tensor {
  if (opts?.requiresGrad) {
    if (t.dtype !== "float32") {
      t.dispose();
      throw new TypeError(`${op}: only float32 tensors can require gradients, not ${t.dtype}`);
    }
    t.requiresGrad = true;
  }
  return t;
}

function inferNested(data: NestedArray, op: string): { shape: number[]; flat: (number | boolean)[] } {
  const shape: number[] = [];
  let probe: NestedArray = data;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0] as NestedArray;
    if (probe === undefined) break;
  }
  const flat: (number | boolean)[] = [];
  const walk = (v: NestedArray, depth: number, path: string) => {
    if (depth === shape.length) {
      if (Array.isArray(v)) throw new RangeError(`${op}: ragged nested array at ${path} (expected a number)`);
      if (typeof v !== "number" && typeof v !== "boolean") {
        throw new TypeError(`${op}: element at ${path} is ${typeof v}; expected a number or boolean`);
      }
      flat.push(v as number | boolean);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new RangeError(`${op}: ragged nested array at ${path}: expected length ${shape[depth]}`);
    }
    v.forEach((c, i) => walk(c, depth + 1, `${path}[${i}]`));
  };
  walk(data, 0, "data");
  return { shape, flat };
}

/** Uploads raw 32-bit words into a new tensor. */
export function fromWords(
  words: Uint32Array | Int32Array | Float32Array,
  shape: readonly number[],
  dtype: DType,
): Tensor {
  const out = empty(shape, dtype, "tensor");
  if (words.length) writeBuffer(out.storage.buffer, 0, words);
  return out;
}

/**
 * Creates a tensor from numbers, booleans, nested arrays or a typed array.
 * `shape` reshapes flat data; the dtype is inferred (Int32Array → int32, booleans → bool,
 * otherwise float32) unless given.
 *
 * @example
 * ```ts
 * const x = tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
 * ```
 */
export function tensor(
  data: NestedArray | Float32Array | Int32Array | Uint8Array | readonly number[],
  shape?: readonly number[],
  opts: CreateOptions = {},
): Tensor {
  let flat: ArrayLike<number | boolean>;
  let inferred: number[];
  let dtype: DType;
  if (ArrayBuffer.isView(data)) {
    flat = data as ArrayLike<number>;
    inferred = [data.length];
    dtype = data instanceof Int32Array ? "int32" : data instanceof Uint8Array ? "bool" : "float32";
  } else {
    const n = inferNested(data as NestedArray, "tensor");
    flat = n.flat;
    inferred = n.shape;
    dtype = n.flat.length > 0 && n.flat.every((v) => typeof v === "boolean") ? "bool" : "float32";
  }
  if (opts.dtype !== undefined) dtype = checkDType(opts.dtype, "tensor");
  const s = shape ? checkShape(shape, "tensor") : inferred;
  if (numel(s) !== flat.length) {
    throw new RangeError(`tensor: ${flat.length} values cannot fill shape ${fmtShape(s)} (${numel(s)} elements)`);
  }
  const words = dtype === "float32"
    ? Float32Array.from(flat as ArrayLike<number>, Number)
    : dtype === "int32"
    ? Int32Array.from(flat as ArrayLike<number>, (v) => Number(v) | 0)
    : Uint32Array.from(flat as ArrayLike<number>, (v) => (v ? 1 : 0));
  return finish(fromWords(words, s, dtype), opts, "tensor");
}

/** A tensor of `shape` filled with `value`. */
export function full(shape: readonly number[], value: number, opts: CreateOptions = {}): Tensor {
  const s = checkShape(shape, "full");
  const dtype = checkDType(opts.dtype ?? "float32", "full");
  const type = storageType[dtype];
  const out = runMap({
    op: "full",
    expr: "v",
    inputs: [],
    names: [],
    params: [{ name: "v", value: dtype === "bool" ? Number(value !== 0) : value, type }],
    out: dtype,
    shape: s,
  });
  return finish(out, opts, "full");
}

/** Zeros of `shape`. */
export function zeros(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return full(shape, 0, opts);
}

/** Ones of `shape`. */
export function ones(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return full(shape, 1, opts);
}

/** Zeros with the shape (and dtype) of `x`. */
export function zerosLike(x: Tensor, opts: CreateOptions = {}): Tensor {
  return full(x.shape, 0, { dtype: x.dtype, ...opts });
}

/** Ones with the shape (and dtype) of `x`. */
export function onesLike(x: Tensor, opts: CreateOptions = {}): Tensor {
  return full(x.shape, 1, { dtype: x.dtype, ...opts });
}

/** `value` with the shape (and dtype) of `x`. */
export function fullLike(x: Tensor, value: number, opts: CreateOptions = {}): Tensor {
  return full(x.shape, value, { dtype: x.dtype, ...opts });
}

/**
 * Values `start, start+step, …` below `end`. `arange(5)` = 0..4. All-integer arguments
 * give int32, as PyTorch gives an integer tensor.
 */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0 || !Number.isFinite(step)) throw new RangeError(`arange: step must be a non-zero number, got ${step}`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  const ints = [start, end, step].every(Number.isInteger);
  const dtype = opts.dtype ?? (ints ? "int32" : "float32");
  const type = storageType[dtype];
  const out = runMap({
    op: "arange",
    expr: dtype === "float32" ? "f32(f64s + f32(gi) * st)" : `T(i32(f64s) + i32(gi) * i32(st))`,
    inputs: [],
    names: [],
    params: [{ name: "f64s", value: start, type: "f32" }, { name: "st", value: step, type: "f32" }],
    out: dtype,
    compute: type,
    shape: [n],
  });
  return finish(out, opts, "arange");
}

/** `steps` evenly spaced values from `start` to `end` inclusive. */
export function linspace(start: number, end: number, steps: number, opts: CreateOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`linspace: steps must be a non-negative integer`);
  if (steps === 1) return full([1], start, opts);
  const step = steps > 1 ? (end - start) / (steps - 1) : 0;
  // Like PyTorch: the second half counts back from `end` so the last value is exact.
  const out = runMap({
    op: "linspace",
    expr: "select(e - st * f32(n - 1u - gi), s + st * f32(gi), gi < n / 2u)",
    inputs: [],
    names: [],
    params: [
      { name: "s", value: start, type: "f32" },
      { name: "e", value: end, type: "f32" },
      { name: "st", value: step, type: "f32" },
      { name: "n", value: steps, type: "u32" },
    ],
    out: "float32",
    shape: [steps],
  });
  return finish(out, opts, "linspace");
}

/** Identity matrix `n × m` (m defaults to n). */
export function eye(n: number, m: number = n, opts: CreateOptions = {}): Tensor {
  checkShape([n, m], "eye");
  const dtype = opts.dtype ?? "float32";
  const out = runMap({
    op: "eye",
    expr: "select(T(0), T(1), gi / cols == gi % cols)",
    inputs: [],
    names: [],
    params: [{ name: "cols", value: m, type: "u32" }],
    out: dtype,
    shape: [n, m],
  });
  return finish(out, opts, "eye");
}
