/** Shape arithmetic shared by tensors and ops (no GPU work here). */

/** A tensor shape: one non-negative integer per dimension. */
export type Shape = readonly number[];

/** Number of elements of a shape (1 for a scalar). */
export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major (C-contiguous) strides of a shape. */
export function contiguousStrides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Formats a shape for error messages: `[2, 3]`. */
export function fmtShape(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

/** Validates a user-supplied shape, naming the op on failure. */
export function checkShape(shape: unknown, op: string): number[] {
  if (!Array.isArray(shape)) throw new TypeError(`${op}: shape must be an array of integers, got ${String(shape)}`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(`${op}: shape ${JSON.stringify(shape)} must contain non-negative integers`);
    }
  }
  return [...shape];
}

/** NumPy broadcasting of two shapes; throws naming the op and both shapes. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i];
      if (out[o] === 1) out[o] = d;
      else if (d !== 1 && d !== out[o]) {
        throw new RangeError(
          `${op}: shapes ${shapes.map(fmtShape).join(" and ")} cannot be broadcast together (dim ${o - rank}: ${
            out[o]
          } vs ${d})`,
        );
      }
    }
  }
  return out;
}

/** Strides that read a tensor of `shape`/`strides` as if broadcast to `target`. */
export function broadcastStrides(shape: Shape, strides: readonly number[], target: Shape): number[] {
  const out = new Array<number>(target.length).fill(0);
  const lead = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) out[lead + i] = shape[i] === 1 ? 0 : strides[i];
  return out;
}

/** Normalises a possibly negative dim for a tensor of rank `ndim`. */
export function normDim(dim: number, ndim: number, op: string): number {
  if (!Number.isInteger(dim)) throw new TypeError(`${op}: dim must be an integer, got ${dim}`);
  const r = Math.max(ndim, 1);
  if (dim < -r || dim >= r) {
    throw new RangeError(`${op}: dim ${dim} is out of range for a tensor of rank ${ndim} (expected ${-r}..${r - 1})`);
  }
  return dim < 0 ? dim + r : dim;
}

/** Normalises `dim` (number, array or undefined = all) into a sorted unique list. */
export function normDims(dim: number | readonly number[] | undefined | null, ndim: number, op: string): number[] {
  if (dim === undefined || dim === null) return [...Array(ndim).keys()];
  const list = typeof dim === "number" ? [dim] : dim;
  const out = [...new Set(list.map((d) => normDim(d, ndim, op)))].sort((a, b) => a - b);
  if (out.length !== list.length) throw new RangeError(`${op}: dim ${JSON.stringify(dim)} repeats a dimension`);
  return out;
}

/** True when strides describe a dense row-major layout of `shape`. */
export function isContiguous(shape: Shape, strides: readonly number[]): boolean {
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== acc) return false;
    acc *= shape[i];
  }
  return true;
}

/** Shapes equal element by element. */
export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Merges dims that every stream walks as one: size-1 dims go, and dims d, d+1 fuse when each
 * stream's `strides[d] = strides[d+1]·shape[d+1]`. The row-major order of the elements is
 * unchanged, so a flat index means the same element before and after; kernels then do one
 * integer divide per remaining dim instead of one per original dim (integer division is slow
 * on CPU adapters).
 */
export function coalesceDims(
  shape: Shape,
  strides: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((st, i) => outStrides[i][last] === st[d] * shape[d])) {
      outShape[last] *= shape[d];
      strides.forEach((st, i) => (outStrides[i][last] = st[d]));
    } else {
      outShape.push(shape[d]);
      strides.forEach((st, i) => outStrides[i].push(st[d]));
    }
  }
  return { shape: outShape, strides: outStrides };
}
