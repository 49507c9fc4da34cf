/** Runs generated map kernels on tensors (broadcasting, strided views, scalar params). */
import { dispatch, grid1d, pipeline } from "../device.ts";
import { type DType, storageType } from "../dtype.ts";
import { type MapKernel, mapMetaWords, mapSource, type Scalar } from "../kernels/map.ts";
import { WG } from "../kernels/wgsl.ts";
import { broadcastShapes, broadcastStrides, coalesceDims, numel, sameShape } from "../shape.ts";
import { Storage } from "../storage.ts";
import { Tensor } from "../tensor.ts";

/** A scalar parameter of a map kernel. */
export interface MapParam {
  /** Name used in the expression. */
  name: string;
  /** Value. */
  value: number;
  /** WGSL type the value is passed as. */
  type: Scalar;
}

/** Everything `runMap` needs. */
export interface MapCall {
  /** Op name (errors, labels). */
  op: string;
  /** WGSL expression over `names` and params; `T` is the compute type. */
  expr: string;
  /** Tensor inputs. */
  inputs: readonly Tensor[];
  /** Variable name of each input. */
  names: readonly string[];
  /** Type each input is converted to on load (default: its storage type). */
  load?: readonly Scalar[];
  /** Scalar parameters. */
  params?: readonly MapParam[];
  /** Output dtype. */
  out: DType;
  /** Compute type alias `T` (default: the output's storage type). */
  compute?: Scalar;
  /** Output shape (default: broadcast of input shapes). */
  shape?: readonly number[];
  /** Extra WGSL functions used by `expr`. */
  preamble?: string;
  /** Write into this existing view (its shape must equal the output shape) instead of a new tensor. */
  into?: Tensor;
}

/** Allocates an uninitialised contiguous tensor. */
export function empty(shape: readonly number[], dtype: DType, label = "tensor"): Tensor {
  return new Tensor(new Storage(numel(shape) * 4, label), shape, dtype);
}

function paramBits(p: MapParam): number {
  const buf = new DataView(new ArrayBuffer(4));
  if (p.type === "f32") buf.setFloat32(0, p.value, true);
  else if (p.type === "i32") buf.setInt32(0, p.value, true);
  else buf.setUint32(0, p.value >>> 0, true);
  return buf.getUint32(0, true);
}

/**
 * How each input reads four neighbours of the innermost walked dim, when all can ("vec": stride
 * 1, aligned; "splat": stride 0), else undefined. See `MapKernel.rowVec4`.
 */
function rowLanes(
  walk: { shape: number[]; strides: number[][] },
  inputs: readonly Tensor[],
  stridedOut: Tensor | null,
): ("vec" | "splat")[] | undefined {
  const last = walk.shape.length - 1;
  if (last < 0 || walk.shape[last] % 4 !== 0) return undefined;
  const vec = (t: Tensor, st: number[]) =>
    st[last] === 1 && t.offset % 4 === 0 && st.every((s, d) => d === last || s % 4 === 0);
  if (stridedOut && !vec(stridedOut, walk.strides[inputs.length])) return undefined;
  const lanes: ("vec" | "splat")[] = [];
  for (const [i, t] of inputs.entries()) {
    const st = walk.strides[i];
    if (st[last] === 0) lanes.push("splat");
    else if (vec(t, st)) lanes.push("vec");
    else return undefined;
  }
  return lanes;
}

/** Evaluates `expr` elementwise into a new contiguous tensor. */
export function runMap(c: MapCall): Tensor {
  c.inputs.forEach((t) => t.assertLive(c.op));
  const shape = c.into
    ? [...c.into.shape]
    : c.shape
    ? [...c.shape]
    : broadcastShapes(c.op, ...c.inputs.map((t) => t.shape));
  const out = c.into ? c.into : empty(shape, c.out, c.op);
  const n = numel(shape);
  if (n === 0) return out;
  const stridedOut = c.into !== undefined && !(c.into.isContiguous && c.into.offset === 0);
  const contiguous = !stridedOut && c.inputs.every((t) => t.isContiguous && sameShape(t.shape, shape));
  const vec4 = contiguous && n % 4 === 0 && c.inputs.every((t) => t.offset % 4 === 0);
  const params = c.params ?? [];
  // The strided path walks the dims every stream agrees on as one (fewer divides per element).
  const walk = contiguous ? null : coalesceDims(shape, [
    ...c.inputs.map((t) => broadcastStrides(t.shape, t.strides, shape)),
    ...(stridedOut ? [out.strides] : []),
  ]);
  const rowVec4 = walk ? rowLanes(walk, c.inputs, stridedOut ? out : null) : undefined;
  const k: MapKernel = {
    expr: c.expr,
    names: [...c.names],
    storage: c.inputs.map((t) => storageType[t.dtype]),
    load: c.load ? [...c.load] : c.inputs.map((t) => storageType[t.dtype]),
    params: params.map((p) => ({ name: p.name, type: p.type })),
    out: storageType[c.out],
    compute: c.compute ?? storageType[c.out],
    rank: walk ? walk.shape.length : 0,
    contiguous,
    vec4,
    rowVec4,
    stridedOut,
    preamble: c.preamble,
  };
  const meta = new Uint32Array(mapMetaWords(k));
  const lanes = vec4 || rowVec4 ? 4 : 1; // the vec4 paths count threads (and contiguous offsets) in vec4s
  meta[0] = n / lanes;
  params.forEach((p, j) => (meta[1 + j] = paramBits(p)));
  let w = 1 + params.length;
  if (contiguous) {
    for (const t of c.inputs) meta[w++] = t.offset / lanes;
  } else {
    for (const d of walk!.shape) meta[w++] = d;
    [...c.inputs, ...(stridedOut ? [out] : [])].forEach((t, i) => {
      meta[w++] = t.offset;
      for (const s of walk!.strides[i]) meta[w++] = s;
    });
  }
  dispatch({
    op: c.op,
    pipeline: pipeline(c.op, mapSource(k)),
    bindings: [...c.inputs.map((t) => t.storage.buffer), out.storage.buffer],
    uniforms: meta,
    workgroups: grid1d(Math.ceil(n / lanes / WG)),
  });
  return out;
}
