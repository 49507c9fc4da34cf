/**
 * Launches matmul kernels on raw buffers (no Tensor objects, so the autotuner can run them
 * outside any scope). Each variant says whether it applies to a problem and records its dispatches.
 */
import { type Binding, dispatch, flush, gpu, loopBudget, pipeline } from "../device.ts";
import { nonPowerOfTwo } from "./texture_extent.ts";
import {
  type BlockedOptions,
  blockedSource,
  MATMUL_META_WORDS,
  MAX_BATCH_DIMS,
  naiveSource,
  type TiledOptions,
  tiledSource,
} from "../kernels/matmul.ts";
import { PACK_META_WORDS, packSource, type TextureOptions, textureSource } from "../kernels/matmul_texture.ts";
import { HALF_PACK_META_WORDS, halfBlockedSource, halfPackSource } from "../kernels/matmul_half.ts";

/** One operand as the kernels see it: a matrix per batch index, read through strides. */
export interface MatmulOperand {
  /** Storage buffer holding the data. */
  buffer: GPUBuffer;
  /** Element offset of [0, …, 0]. */
  offset: number;
  /** Element stride between rows (along M for A, along K for B). */
  rowStride: number;
  /** Element stride between columns (along K for A, along N for B). */
  colStride: number;
  /** Element stride of each of the 4 batch dims (0 where broadcast). */
  batchStrides: readonly number[];
}

/** A batched product C[b] = A[b] · B[b] into a dense [batch…, M, N] buffer. */
export interface MatmulProblem {
  /** Rows of A and C. */
  M: number;
  /** Columns of B and C. */
  N: number;
  /** Inner dimension (≥ 1). */
  K: number;
  /** The 4 batch dims of the output, outermost first (1-padded). */
  batch: readonly number[];
  /** Left operand (M×K per batch). */
  a: MatmulOperand;
  /** Right operand (K×N per batch). */
  b: MatmulOperand;
  /** Output buffer, written densely from element 0. */
  out: GPUBuffer;
}

/** Names of the kernel variants. */
export type MatmulVariant = "naive" | "rb4" | "rb8" | "rb16" | "tex16" | "texdot16" | "texdot32" | "tiled" | "half";

/** Every f32 variant, in the order the autotuner tries them (`half` runs only under autocast). */
export const MATMUL_VARIANTS: readonly MatmulVariant[] = [
  "rb4",
  "rb8",
  "rb16",
  "tex16",
  "texdot16",
  "texdot32",
  "tiled",
  "naive",
];

type Spec =
  | { kind: "naive"; wg: [number, number] }
  | { kind: "blocked"; tm: number; tn: number; wg: [number, number] }
  | { kind: "texture"; tm: number; tn: number; wg: [number, number]; dot: boolean }
  | { kind: "tiled"; tile: number; bk: number; per: number }
  | { kind: "half"; tm: number; tn: number; wg: [number, number] };

const SPECS: Record<MatmulVariant, Spec> = {
  naive: { kind: "naive", wg: [8, 8] },
  rb4: { kind: "blocked", tm: 4, tn: 4, wg: [8, 8] },
  rb8: { kind: "blocked", tm: 8, tn: 8, wg: [8, 8] },
  rb16: { kind: "blocked", tm: 16, tn: 16, wg: [8, 8] },
  tex16: { kind: "texture", tm: 16, tn: 16, wg: [8, 8], dot: false },
  texdot16: { kind: "texture", tm: 16, tn: 16, wg: [8, 8], dot: true },
  texdot32: { kind: "texture", tm: 32, tn: 32, wg: [8, 8], dot: true },
  tiled: { kind: "tiled", tile: 64, bk: 16, per: 4 },
  half: { kind: "half", tm: 8, tn: 8, wg: [8, 8] },
};

/** True when `name` is a variant. */
export function isMatmulVariant(name: string): name is MatmulVariant {
  return Object.hasOwn(SPECS, name);
}

const MAX_GROUPS = 65535;

/** Output elements per workgroup along (rows, cols). */
function groupTile(s: Spec): [number, number] {
  if (s.kind === "naive") return [s.wg[1], s.wg[0]];
  if (s.kind === "tiled") return [s.tile, s.tile];
  return [s.tm * s.wg[1], s.tn * s.wg[0]];
}

/** Number of batch matrices of an operand that differ (non-broadcast). */
function ownDims(p: MatmulProblem, o: MatmulOperand): number[] {
  return p.batch.map((d, i) => (o.batchStrides[i] === 0 ? 1 : d));
}

const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** Whether `v` can run `p` on this device. */
export function variantApplies(v: MatmulVariant, p: MatmulProblem): boolean {
  const s = SPECS[v];
  const [tr, tc] = groupTile(s);
  if (Math.ceil(p.M / tr) > MAX_GROUPS || Math.ceil(p.N / tc) > MAX_GROUPS) return false;
  if (s.kind === "half") return gpu().features.has("shader-f16") && halfFits(p);
  return s.kind !== "texture" || texturesFit(p, s.dot);
}

/** A 16-byte aligned, unit-column-stride operand can be read as vec4 rows. */
function vec4able(o: MatmulOperand): boolean {
  return o.colStride === 1 && o.offset % 4 === 0 && o.rowStride % 4 === 0 && o.batchStrides.every((s) => s % 4 === 0);
}

function meta(p: MatmulProblem, a: MatmulOperand, b: MatmulOperand): Uint32Array {
  const m = new Uint32Array(MATMUL_META_WORDS);
  m.set([p.M, p.N, p.K, 0], 0);
  m.set(p.batch, 4);
  m.set([a.offset, a.rowStride, a.colStride, 0], 8);
  m.set(a.batchStrides, 12);
  m.set([b.offset, b.rowStride, b.colStride, 0], 16);
  m.set(b.batchStrides, 20);
  return m;
}

/** Dispatches over the batch in chunks of at most 65535 (the z-grid limit). */
function launchBatches(
  op: string,
  pipe: GPUComputePipeline,
  bindings: Binding[],
  m: Uint32Array,
  groups: [number, number],
  nb: number,
): void {
  for (let b0 = 0; b0 < nb; b0 += MAX_GROUPS) {
    const u = m.slice();
    u[3] = b0;
    dispatch({
      op,
      pipeline: pipe,
      bindings,
      uniforms: u,
      workgroups: [groups[0], groups[1], Math.min(MAX_GROUPS, nb - b0)],
    });
  }
}

/** Records the dispatches computing `p` with variant `v`. */
export function launchMatmul(v: MatmulVariant, p: MatmulProblem): void {
  if (p.batch.length !== MAX_BATCH_DIMS) throw new Error(`internal: matmul problem needs ${MAX_BATCH_DIMS} batch dims`);
  const s = SPECS[v];
  const [tr, tc] = groupTile(s);
  const groups: [number, number] = [Math.ceil(p.N / tc), Math.ceil(p.M / tr)];
  const nb = prod(p.batch);
  const op = `matmul.${v}`;
  if (s.kind === "texture") return launchTexture(op, s, p, groups, nb);
  if (s.kind === "half") return launchHalf(op, s, p, groups, nb);
  const kMax = s.kind === "tiled" ? Infinity : maxSliceK(s.kind);
  for (let k0 = 0; k0 < p.K; k0 += kMax) {
    // A slice of K per launch where the loop budget demands it; the later slices add to C.
    const sub = k0 === 0 && p.K <= kMax ? p : sliceK(p, k0, Math.min(kMax, p.K - k0));
    const accumulate = k0 > 0;
    let src: string;
    if (s.kind === "naive") src = naiveSource(s.wg, accumulate);
    else if (s.kind === "tiled") src = tiledSource(s as TiledOptions);
    else {
      const aVec = vec4able(sub.a), bVec = vec4able(sub.b) && sub.N % 4 === 0;
      src = blockedSource({ tm: s.tm, tn: s.tn, wg: s.wg, aVec, bVec, accumulate } satisfies BlockedOptions);
    }
    launchBatches(op, pipeline(op, src), [sub.a.buffer, sub.b.buffer, sub.out], meta(sub, sub.a, sub.b), groups, nb);
  }
}

/**
 * The longest K one launch of a buffer kernel may take within the loop budget (`loopBudget`):
 * the naive kernel loops once per k, the blocked ones once per 4 (plus up to 3 for the rest).
 * The tiled kernel runs on hardware only, the texture ones are bounded by the texture size.
 */
function maxSliceK(kind: "naive" | "blocked"): number {
  const budget = loopBudget();
  return kind === "naive" ? budget : 4 * (budget - 3);
}

/** The product over k0 … k0 + k − 1 of `p`'s inner dimension (a view of both operands). */
function sliceK(p: MatmulProblem, k0: number, k: number): MatmulProblem {
  return {
    ...p,
    K: k,
    a: { ...p.a, offset: p.a.offset + k0 * p.a.colStride },
    b: { ...p.b, offset: p.b.offset + k0 * p.b.rowStride },
  };
}

// ---- texture variants ----------------------------------------------------------------

interface Scratch {
  texture: GPUTexture;
  view: GPUTextureView;
}

/** One packed operand: `layers` matrices of `rows` texel rows each, `width` texels wide. */
interface Packing {
  key: string;
  width: number;
  rows: number;
  layers: number;
}

const MAX_SCRATCH = 8;
const scratch = new Map<string, Scratch>();

/**
 * Reusable packing textures. Reuse within one batch is safe: every use is a dispatch in the
 * same ordered command stream (pack, then read), never a CPU-side write.
 */
function scratchTextures(needs: Packing[]): Scratch[] {
  const missing = needs.filter((n) => !scratch.has(n.key));
  if (missing.length > 0 && scratch.size + missing.length > MAX_SCRATCH) {
    flush(); // textures used by recorded commands must be submitted before destroy()
    for (const [key, old] of scratch) {
      if (needs.some((n) => n.key === key)) continue;
      old.texture.destroy();
      scratch.delete(key);
    }
  }
  return needs.map(({ key, width, rows, layers }) => {
    let s = scratch.get(key);
    if (s) return s;
    const dim = gpu().limits.maxTextureDimension2D;
    const texture = gpu().device.createTexture({
      label: `matmul-pack-${key}`,
      size: [nonPowerOfTwo(width, dim), nonPowerOfTwo(rows * layers, dim)],
      format: "rgba32float",
      usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING,
    });
    s = { texture, view: texture.createView() };
    scratch.set(key, s);
    return s;
  });
}

/** Texture extent for packing the `cols`-wide matrices of `o` into `rows` texel rows each. */
function packing(slot: string, p: MatmulProblem, o: MatmulOperand, cols: number, rows: number): Packing {
  const layers = prod(ownDims(p, o));
  const width = Math.ceil(cols / 4);
  return { key: `${slot}:${width}x${rows}x${layers}`, width, rows, layers };
}

/** Whether both packed operands fit the device's 2-D texture limit. */
function texturesFit(p: MatmulProblem, dot: boolean): boolean {
  const dim = gpu().limits.maxTextureDimension2D;
  const k4 = 4 * Math.ceil(p.K / 4);
  const b = dot ? packing("b", p, transposed(p.b), p.K, p.N) : packing("b", p, p.b, p.N, k4);
  return [packing("a", p, p.a, p.K, p.M), b].every((t) => t.width <= dim && t.rows * t.layers <= dim);
}

/** The same operand read with rows and columns swapped. */
function transposed(o: MatmulOperand): MatmulOperand {
  return { ...o, rowStride: o.colStride, colStride: o.rowStride };
}

/** One operand to pack: `o`'s `rows`×`cols` matrices into `tex` (zero outside them). */
interface PackJob {
  o: MatmulOperand;
  rows: number;
  cols: number;
  pk: Packing;
  tex: Scratch;
}

/** Whether `o` can be read four values at a time along its rows (`packSource`). */
function rowVec4(o: MatmulOperand, cols: number): boolean {
  return o.colStride === 1 && cols % 4 === 0 && [o.offset, o.rowStride, ...o.batchStrides].every((v) => v % 4 === 0);
}

/** Records the packs of `jobs`: in one dispatch when their textures have the same width. */
function packOperands(p: MatmulProblem, jobs: PackJob[]): void {
  if (jobs.length === 2 && jobs[0].pk.width !== jobs[1].pk.width) {
    for (const j of jobs) packOperands(p, [j]);
    return;
  }
  const m = new Uint32Array(PACK_META_WORDS);
  let rows = 0;
  jobs.forEach(({ o, rows: r, cols, pk }, i) => {
    m.set([r, cols, o.offset, pk.rows, ...ownDims(p, o), ...o.batchStrides], 16 * i);
    m.set([o.rowStride, o.colStride, pk.rows * pk.layers, pk.width], 16 * i + 12);
    rows += pk.rows * pk.layers;
  });
  const vec4 = jobs.map((j) => rowVec4(j.o, j.cols));
  const op = "matmul.pack";
  dispatch({
    op,
    pipeline: pipeline(op, packSource(vec4)),
    bindings: [...jobs.map((j) => j.o.buffer), ...jobs.map((j) => j.tex.view)],
    uniforms: m,
    workgroups: [Math.ceil(jobs[0].pk.width / 8), Math.ceil(rows / 8), 1],
  });
}

/** Operand whose offset is 0 and whose batch strides count texel rows of its packed texture. */
function rowOperand(p: MatmulProblem, o: MatmulOperand, rowsPerLayer: number): MatmulOperand {
  const own = ownDims(p, o);
  const strides = new Array<number>(own.length);
  let acc = rowsPerLayer;
  for (let i = own.length - 1; i >= 0; i--) {
    strides[i] = o.batchStrides[i] === 0 ? 0 : acc;
    acc *= own[i];
  }
  return { ...o, offset: 0, rowStride: 0, colStride: 0, batchStrides: strides };
}

function launchTexture(op: string, s: TextureOptions, p: MatmulProblem, groups: [number, number], nb: number): void {
  const k4 = 4 * Math.ceil(p.K / 4); // B's zero rows pad K to a multiple of 4
  const bOp = s.dot ? transposed(p.b) : p.b;
  const pa = packing("a", p, p.a, p.K, p.M);
  const pb = s.dot ? packing("bt", p, bOp, p.K, p.N) : packing("b", p, bOp, p.N, k4);
  const [ta, tb] = scratchTextures([pa, pb]);
  packOperands(p, [
    { o: p.a, rows: p.M, cols: p.K, pk: pa, tex: ta },
    s.dot ? { o: bOp, rows: p.N, cols: p.K, pk: pb, tex: tb } : { o: bOp, rows: p.K, cols: p.N, pk: pb, tex: tb },
  ]);
  const src = textureSource(s);
  const u = meta(p, rowOperand(p, p.a, pa.rows), rowOperand(p, p.b, pb.rows));
  launchBatches(op, pipeline(op, src), [ta.view, tb.view, p.out], u, groups, nb);
}

// ---- f16 variant (autocast) ------------------------------------------------------------

/** Packed f16 sizes in bytes of A ([layers][M][K/4] vec4) and B ([layers][K4·4][N/4] vec4). */
function halfBytes(p: MatmulProblem): [number, number] {
  const k4 = Math.ceil(p.K / 4), n4 = Math.ceil(p.N / 4);
  return [8 * prod(ownDims(p, p.a)) * p.M * k4, 8 * prod(ownDims(p, p.b)) * 4 * k4 * n4];
}

/** Whether both packed operands fit one storage binding. */
function halfFits(p: MatmulProblem): boolean {
  const limit = gpu().limits.maxStorageBufferBindingSize;
  // Its K loop steps by 4 and is not split: longer products run in f32 (`loopBudget`).
  return halfBytes(p).every((b) => b <= limit) && Math.ceil(p.K / 4) + 3 <= loopBudget();
}

/** Records the pack of `o`'s `rows`×`cols` matrices into `rowsPad` rows of vec4<f16> per layer. */
function packHalf(p: MatmulProblem, o: MatmulOperand, rows: number, cols: number, rowsPad: number, out: GPUBuffer) {
  const own = ownDims(p, o);
  const layers = prod(own);
  const cols4 = Math.ceil(cols / 4);
  for (let l0 = 0; l0 < layers; l0 += MAX_GROUPS) {
    const m = new Uint32Array(HALF_PACK_META_WORDS);
    m.set([rows, cols, o.offset, rowsPad, cols4, o.rowStride, o.colStride, l0], 0);
    m.set(own, 8);
    m.set(o.batchStrides, 12);
    dispatch({
      op: "matmul.packHalf",
      pipeline: pipeline("matmul.packHalf", halfPackSource()),
      bindings: [o.buffer, { buffer: out, size: 8 * layers * rowsPad * cols4 }],
      uniforms: m,
      workgroups: [Math.ceil(cols4 / 16), Math.ceil(rowsPad / 16), Math.min(MAX_GROUPS, layers - l0)],
    });
  }
}

function launchHalf(
  op: string,
  s: { tm: number; tn: number; wg: [number, number] },
  p: MatmulProblem,
  groups: [number, number],
  nb: number,
): void {
  const { pool } = gpu();
  const k4 = Math.ceil(p.K / 4), n4 = Math.ceil(p.N / 4);
  const [bytesA, bytesB] = halfBytes(p);
  const a = pool.acquire(Math.max(16, bytesA), "matmul.half.a");
  const b = pool.acquire(Math.max(16, bytesB), "matmul.half.b");
  packHalf(p, p.a, p.M, p.K, p.M, a);
  packHalf(p, p.b, p.K, p.N, 4 * k4, b);
  const ua = rowOperand(p, p.a, p.M * k4), ub = rowOperand(p, p.b, 4 * k4 * n4);
  const u = meta(p, { ...ua, rowStride: k4 }, { ...ub, rowStride: n4 });
  u[2] = k4;
  const bindings = [{ buffer: a, size: Math.max(16, bytesA) }, { buffer: b, size: Math.max(16, bytesB) }, p.out];
  launchBatches(op, pipeline(op, halfBlockedSource(s)), bindings, u, groups, nb);
  // Reusable only after the next submit, when the recorded dispatches above have run.
  pool.release(a);
  pool.release(b);
}
