/**
 * Launches the three convolution passes (forward, data gradient, weight gradient) on raw
 * buffers, so the autotuner can time them outside any scope. Variants: `gemm` (im2col /
 * col2im around the matmul kernels, the column matrix split by images, or for large volumes
 * by spans of output positions, to stay within the binding limit), `direct` (one
 * output per thread; the right choice for depthwise convolutions) and `winograd4` /
 * `winograd2` (Winograd F(4×4, 3×3) / F(2×2, 3×3), `conv_winograd.ts`, for 3×3 stride-1
 * convolutions without dilation or groups — 2-D, and 3-D 3×3×3 ones as three 2-D ones over
 * depth slices, one per depth tap of the kernel; elsewhere they run `gemm`).
 */
import { copyBuffer, dispatch, gpu, grid1d, loopBudget, pipeline } from "../device.ts";
import { envFlag } from "../env.ts";
import { WG } from "../kernels/wgsl.ts";
import {
  batchSumSource,
  biasSource,
  col2imSource,
  CONV_META_WORDS,
  directDataGradSource,
  directForwardSource,
  directWeightGradSource,
  im2colSource,
  placeColumnsSource,
  swapOuterSource,
} from "../kernels/conv.ts";
import { launchMatmul, type MatmulOperand, type MatmulProblem } from "./matmul.ts";
import { selectMatmulVariant } from "./matmul_select.ts";
import {
  type SharedInput,
  winogradBiasFusable,
  winogradConv,
  type WinogradGeom,
  type WinogradInput,
  type WinogradLayout,
  winogradSharedInput,
  winogradSizes,
  type WinogradTile,
  winogradWeightGrad,
} from "./conv_winograd.ts";

/** A convolution seen as 3-D: x [N, C, D, H, W] * w [O, C/G, KD, KH, KW] → y [N, O, OD, OH, OW]. */
export interface ConvGeom {
  /** Batch. */
  N: number;
  /** Input channels. */
  C: number;
  /** Output channels. */
  O: number;
  /** Groups. */
  G: number;
  /** Input spatial size (D, H, W). */
  inSize: readonly number[];
  /** Output spatial size (OD, OH, OW). */
  outSize: readonly number[];
  /** Kernel size. */
  kernel: readonly number[];
  /** Stride. */
  stride: readonly number[];
  /** Padding before each spatial dim (any extra on the far side is implied by `outSize`). */
  padding: readonly number[];
  /** Dilation. */
  dilation: readonly number[];
}

/** The convolution passes. */
export type ConvPass = "forward" | "dataGrad" | "weightGrad";
/** Kernel strategies. */
export type ConvVariant = "gemm" | "direct" | "winograd4" | "winograd2";
/** Every variant, defaults first. */
export const CONV_VARIANTS: readonly ConvVariant[] = ["gemm", "direct", "winograd4", "winograd2"];

/** The input as the kernels read it: any strides (non-contiguous views cost nothing). */
export interface ConvInput {
  /** Storage buffer. */
  buffer: GPUBuffer;
  /** Element offset of x[0, 0, 0, 0, 0]. */
  offset: number;
  /** Element strides of (n, c, d, h, w). */
  strides: readonly number[];
}

/** A dense operand: buffer and element offset. */
export interface DenseOperand {
  /** Storage buffer. */
  buffer: GPUBuffer;
  /** Element offset. */
  offset: number;
}

/** Temporary buffer of at least `floats` floats, valid until the caller's work is recorded. */
export type ScratchAlloc = (floats: number) => GPUBuffer;

const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** Derived sizes: Cg, Og, KK, Kg, L, S (input spatial). */
export function sizes(g: ConvGeom): { Cg: number; Og: number; KK: number; Kg: number; L: number; S: number } {
  const Cg = g.C / g.G, KK = prod(g.kernel);
  return { Cg, Og: g.O / g.G, KK, Kg: Cg * KK, L: prod(g.outSize), S: prod(g.inSize) };
}

/** Floating-point operations of one pass (all three cost the same). */
export function convFlops(g: ConvGeom): number {
  const { Kg, L } = sizes(g);
  return 2 * g.N * g.O * L * Kg;
}

/**
 * One depth tap of a Winograd plan: a 2-D Winograd convolution whose images are the (sample,
 * slice) pairs of a range of output slices, each reading the input slice `kd − pd` away.
 */
export interface WinogradTap {
  /** The 2-D geometry; its N counts samples × slices. */
  geom: WinogradGeom;
  /** The kernel depth index whose 3×3 weights the tap reads (reversed for the data gradient). */
  weightTap: number;
  /** First output slice of the range. */
  out0: number;
  /** First input slice it reads. */
  in0: number;
  /** Slices per sample. */
  slices: number;
}

/** How the Winograd kernels compute a pass: one tap for 2-D, one per kernel depth for 3-D. */
export interface WinogradPlan {
  /** The taps; the first covers every output slice (it writes, with the bias; the others add). */
  taps: WinogradTap[];
  /** Kernel depth: 1 (2-D) or 3. */
  depth: number;
  /** Slices of the pass's input (1 for 2-D). */
  inputSlices: number;
}

/**
 * The Winograd convolution computing `pass` of `g` with variant `v`, or null where it does not
 * apply: not a Winograd variant; not 3×3 (2-D) or 3×3×3 (3-D) with stride 1, dilation 1,
 * groups 1 and padding ≤ 2 (≤ 1 in depth for the pass, so that one tap covers every output
 * slice: a 3-D convolution with depth padding 0 runs its data gradient through `gemm`); too
 * large for the texture limits. The weight gradient uses the forward pass's geometry.
 */
export function winogradPlan(v: ConvVariant, pass: ConvPass, g: ConvGeom): WinogradPlan | null {
  if (v !== "winograd4" && v !== "winograd2") return null;
  const KD = g.kernel[0];
  if (g.G !== 1 || (KD === 1 ? g.inSize[0] !== 1 || g.padding[0] !== 0 : KD !== 3)) return null;
  if (g.kernel.some((k, i) => i > 0 && k !== 3) || g.stride.some((s) => s !== 1)) return null;
  if (g.dilation.some((d) => d !== 1) || g.padding.some((p) => p > 2)) return null;
  const m: WinogradTile = v === "winograd4" ? 4 : 2;
  const [D, H, W] = g.inSize, [OD, OH, OW] = g.outSize, [pD, pH, pW] = g.padding;
  const data = pass === "dataGrad";
  // The pass as a convolution over depth: input slices, output slices, padding before.
  const [inD, outD, pd] = data ? [OD, D, KD - 1 - pD] : [D, OD, pD];
  if (pd > 1) return null;
  const taps: WinogradTap[] = [];
  for (let kd = 0; kd < KD; kd++) {
    const out0 = Math.max(0, pd - kd), end = Math.min(outD, inD + pd - kd), slices = end - out0;
    if (slices < 1) return null; // a tap that reads nothing: its weight gradient would be left unwritten
    const N = g.N * slices, layered = KD === 3;
    const geom: WinogradGeom = data
      ? { N, Ci: g.O, Co: g.C, H: OH, W: OW, OH: H, OW: W, padH: 2 - pH, padW: 2 - pW, m, flip: true, layered }
      : { N, Ci: g.C, Co: g.O, H, W, OH, OW, padH: pH, padW: pW, m, flip: false, layered };
    if (winogradSizes(geom).chunk < 1) return null;
    const tap = { geom, weightTap: data ? KD - 1 - kd : kd, out0, in0: out0 + kd - pd, slices };
    if (out0 === 0 && slices === outD) taps.unshift(tap);
    else taps.push(tap);
  }
  return taps[0].slices === outD ? { taps, depth: KD, inputSlices: inD } : null;
}

/**
 * Records a plan's convolution: x (any strides (n, c, d, h, w)) → y dense [N, co, outD, plane]
 * from element 0, the first tap writing (with the bias) and the others adding.
 */
function winogradTaps(
  plan: WinogradPlan,
  x: ConvInput,
  w: DenseOperand,
  y: GPUBuffer,
  alloc: ScratchAlloc,
  bias: DenseOperand | null,
  out: { co: number; depth: number; plane: number },
): void {
  const shared = sharedInput(plan, x);
  plan.taps.forEach((tap, i) => {
    const weight = { buffer: w.buffer, offset: w.offset + 9 * tap.weightTap };
    const layout = { ...tapLayout(plan, tap, x, out), accumulate: i === 0 ? 0 : 1 };
    const input = tapInput(x, tap.in0);
    winogradConv(tap.geom, input, weight, y, alloc, i === 0 ? bias : null, undefined, layout, shared?.(tap) ?? null);
  });
}

/** The 2-D kernels' view of x (strides of n, c, h, w) from input slice `in0`. */
function tapInput(x: ConvInput, in0: number): WinogradInput {
  const [sn, sc, sd, sh, sw] = x.strides;
  return { buffer: x.buffer, offset: x.offset + in0 * sd, strides: [sn, sc, sh, sw] };
}

/**
 * For a 3-D plan, transforms every input slice once (into one texture, in bands of rows past the
 * texture limit) and gives each tap its view of them; null for 2-D plans and where they do not
 * fit (each tap then transforms the slices it reads: the same input slice up to three times).
 */
function sharedInput(plan: WinogradPlan, x: ConvInput): ((tap: WinogradTap) => SharedInput) | null {
  // MEDDIFF_WINOGRAD_SHARED=0 keeps the per-tap transforms (tests compare the two).
  if (plan.depth === 1 || envFlag("MEDDIFF_WINOGRAD_SHARED") === "0") return null;
  const first = plan.taps[0], inD = plan.inputSlices;
  const all = { ...first.geom, N: (first.geom.N / first.slices) * inD };
  const layout: WinogradLayout = { ...tapLayout(plan, first, x, { co: 0, depth: 0, plane: 0 }), inner: inD };
  const texture = winogradSharedInput(all, tapInput(x, 0), layout);
  return texture && ((tap) => ({ ...texture, inputSlices: inD, slices: tap.slices, in0: tap.in0 }));
}

/** The layout of a tap: images (sample, slice) over x's depth stride and `out`'s slices. */
function tapLayout(
  plan: WinogradPlan,
  tap: WinogradTap,
  x: ConvInput,
  out: { co: number; depth: number; plane: number; offset?: number },
): WinogradLayout {
  const { co, depth, plane } = out;
  return {
    inner: tap.slices,
    inputStep: x.strides[2],
    kernelVolume: 9 * plan.depth,
    accumulate: 0,
    out: [(out.offset ?? 0) + tap.out0 * plane, co * depth * plane, plane, depth * plane],
  };
}

/** The output positions of a column chunk: `lb` of them from `l0` (all L when unsplit). */
interface Span {
  l0: number;
  lb: number;
}

function meta(
  g: ConvGeom,
  x: ConvInput | null,
  wOff: number,
  gyOff: number,
  total: number,
  nb: number,
  n0: number,
  span?: Span,
  addTo = false,
) {
  const s = sizes(g);
  const m = new Uint32Array(CONV_META_WORDS);
  m.set([g.N, g.C, g.O, g.G, ...g.inSize, s.Cg, ...g.outSize, s.Og, ...g.kernel, s.Kg], 0);
  m.set([...g.stride, s.L, ...g.padding, nb, ...g.dilation, x?.offset ?? 0], 16);
  m.set(
    [...(x?.strides ?? [0, 0, 0, 0, 0]), wOff, total, n0, gyOff, span?.l0 ?? 0, span?.lb ?? s.L, addTo ? 1 : 0],
    28,
  );
  return m;
}

function run(op: string, src: string, bindings: GPUBuffer[], m: Uint32Array, total: number): void {
  if (total === 0) return;
  dispatch({ op, pipeline: pipeline(op, src), bindings, uniforms: m, workgroups: grid1d(Math.ceil(total / WG)) });
}

/**
 * Floats one column-matrix chunk may hold: under 256 MiB and the storage-binding limit
 * (`MEDDIFF_CONV_COLUMN_FLOATS` lowers it, so that tests reach the split paths on small problems).
 */
export function columnFloats(maxBindingBytes = gpu().limits.maxStorageBufferBindingSize): number {
  const forced = Number(envFlag("MEDDIFF_CONV_COLUMN_FLOATS"));
  const limit = Math.min(64 << 20, Math.floor(maxBindingBytes / 4));
  return Number.isInteger(forced) && forced > 0 ? Math.min(forced, limit) : limit;
}

/**
 * How the im2col route splits its column matrix [nb, G·Kg, L]: whole images per chunk (`nb`)
 * while one image's columns fit, else one image at a time in spans of `lb` output positions
 * (a 3×3×3 convolution of 16 channels at 64³ has 432 MiB of columns per image).
 */
export function columnChunks(g: ConvGeom, floats = columnFloats()): { nb: number; lb: number } {
  const { Kg, L } = sizes(g);
  const perImage = g.G * Kg * L;
  if (perImage <= floats) return { nb: Math.max(1, Math.min(g.N, Math.floor(floats / perImage))), lb: L };
  return { nb: 1, lb: Math.max(1, Math.floor(floats / (g.G * Kg))) };
}

/** The spans of `lb` output positions that cover 0 … L − 1. */
function spans(L: number, lb: number): Span[] {
  const out: Span[] = [];
  for (let l0 = 0; l0 < L; l0 += lb) out.push({ l0, lb: Math.min(lb, L - l0) });
  return out;
}

/**
 * A 1×1(×1), stride-1, unpadded, ungrouped convolution of a dense input: its im2col columns are
 * the input itself (and col2im the identity), so the GEMMs read and write the tensors directly.
 */
function pointwise(g: ConvGeom, x: ConvInput | null): boolean {
  const ones = (v: readonly number[]) => v.every((d) => d === 1);
  if (g.G !== 1 || !ones(g.kernel) || !ones(g.stride) || !ones(g.dilation) || g.padding.some((p) => p !== 0)) {
    return false;
  }
  if (x === null) return true;
  const [D, H, W] = g.inSize;
  const [sn, sc, sd, sh, sw] = x.strides;
  const dense = (d: number, s: number, want: number) => d === 1 || s === want;
  return dense(W, sw, 1) && dense(H, sh, W) && dense(D, sd, H * W) && dense(g.C, sc, D * H * W) &&
    dense(g.N, sn, g.C * D * H * W);
}

function im2col(g: ConvGeom, x: ConvInput, col: GPUBuffer, n0: number, nb: number, span?: Span, wide = false) {
  const { Kg, L } = sizes(g);
  const total = nb * g.G * Kg * (span?.lb ?? L);
  const m = meta(g, x, 0, 0, total, nb, n0, span);
  run("conv.im2col", im2colSource(m, wide), [x.buffer, col], m, total);
}

/**
 * Ungrouped convolutions lay a chunk's columns out batch-wide, [Kg, nb·L]: one GEMM with the
 * images side by side instead of nb small ones (ResNet-18's stride-2 convolutions at 4×4 to
 * 14×14 outputs ran at 5–9 GFLOP/s as per-image GEMMs; the weight gradient also loses its
 * per-image partials). The price is one swap of [nb, O, L] and [O, nb, L] per chunk.
 */
function batchWide(g: ConvGeom, pass: ConvPass): boolean {
  // Measured on llvmpipe: the forward of a 3×3 stride-2 convolution to 14² (L = 196) ran 20–40 %
  // slower batch-wide than as per-image GEMMs, whose batch already fills the threads there; the
  // gradients gained at every size (no partials, no per-image GEMMs of 196 columns).
  return g.G === 1 && (pass !== "forward" || sizes(g).L < 128);
}

/**
 * Images per batch-wide chunk: as many as the columns allow, and on software adapters no more
 * than keep the GEMM within the packing textures' side (the fast texture kernels need
 * nb·L ≤ the texture side as N, or ≤ 4 sides as K for the weight gradient; past it the
 * buffer kernels ran ResNet's 1×1 stride-2 convolution at 28² 17 % slower than per-image GEMMs).
 */
function wideImages(g: ConvGeom, columnsNb: number, asK: boolean): number {
  if (!gpu().isSoftware) return columnsNb;
  const side = (asK ? 4 : 1) * gpu().limits.maxTextureDimension2D;
  return Math.max(1, Math.min(columnsNb, Math.floor(side / sizes(g).L)));
}

/** dst [Q, P, L] from element `dstOff` = src [P, Q, L] from element `srcOff`, axes 0 and 1 swapped. */
function swapOuter(src: GPUBuffer, srcOff: number, dst: GPUBuffer, dstOff: number, p: number, q: number, l: number) {
  const v = l % 4 === 0 && srcOff % 4 === 0 && dstOff % 4 === 0 ? 4 : 1;
  const total = (p * q * l) / v, words = new Uint32Array([total, srcOff / v, dstOff / v, 0]);
  run("conv.swap", swapOuterSource(p, q, l, v === 4), [src, dst], words, total);
}

/** Copies a chunk [rows, lb] into columns l0 … of a dense [rows, L] output starting at element `yOff`. */
function placeColumns(chunk: GPUBuffer, y: GPUBuffer, yOff: number, rows: number, L: number, span: Span): void {
  const total = rows * span.lb;
  run(
    "conv.placeColumns",
    placeColumnsSource(),
    [chunk, y],
    new Uint32Array([total, span.lb, L, yOff + span.l0]),
    total,
  );
}

const operand = (buffer: GPUBuffer, offset: number, rowStride: number, colStride: number, b: number[]) =>
  ({ buffer, offset, rowStride, colStride, batchStrides: [0, 0, ...b] }) satisfies MatmulOperand;

function gemm(M: number, N: number, K: number, batch: number[], a: MatmulOperand, b: MatmulOperand, out: GPUBuffer) {
  // Size-1 batch dims get stride 0: a stride there selects nothing, but an unaligned one would
  // hide the vec4 layouts from the kernels and split the matmul tuner's keys.
  const flat = (o: MatmulOperand) => ({
    ...o,
    batchStrides: o.batchStrides.map((s, i) => (i < 2 || batch[i - 2] > 1 ? s : 0)),
  });
  const p: MatmulProblem = { M, N, K, batch: [1, 1, ...batch], a: flat(a), b: flat(b), out };
  launchMatmul(selectMatmulVariant(p), p);
}

/**
 * y (dense [N, O, L] from element 0) = conv(x, w) (+ bias, one float per output channel from
 * its offset: fused into Winograd's output transform, a separate pass for the other variants).
 */
export function convForward(
  v: ConvVariant,
  g: ConvGeom,
  x: ConvInput,
  w: DenseOperand,
  y: GPUBuffer,
  alloc: ScratchAlloc,
  bias: DenseOperand | null = null,
): void {
  const { Og, Kg, L } = sizes(g);
  const wino = winogradPlan(v, "forward", g);
  if (wino) {
    const [OD, OH, OW] = g.outSize;
    return winogradTaps(wino, x, w, y, alloc, bias, { co: g.O, depth: OD, plane: OH * OW });
  }
  if (bias) {
    convForward(v, g, x, w, y, alloc);
    return addChannelBias(g.N, g.O, L, bias, y);
  }
  if (v === "direct") {
    const total = g.N * g.O * L;
    const m = meta(g, x, w.offset, 0, total, g.N, 0);
    return run("conv.direct", directForwardSource(m), [x.buffer, w.buffer, y], m, total);
  }
  if (pointwise(g, x)) {
    // Per image: W [O, C] @ x [C, L] → y [O, L].
    const a = operand(w.buffer, w.offset, Kg, 1, [0, 0]);
    const b = operand(x.buffer, x.offset, L, 1, [g.C * L, 0]);
    return gemm(g.O, L, Kg, [g.N, 1], a, b, y);
  }
  const { nb: nbMax, lb } = columnChunks(g);
  if (lb < L) {
    // One image at a time, in spans of output positions: W_g [Og, Kg] @ col [Kg, lb] per group.
    const col = alloc(g.G * Kg * lb), tmp = alloc(g.O * lb);
    const a = operand(w.buffer, w.offset, Kg, 1, [0, Og * Kg]);
    for (let n = 0; n < g.N; n++) {
      for (const span of spans(L, lb)) {
        im2col(g, x, col, n, 1, span);
        gemm(Og, span.lb, Kg, [1, g.G], a, operand(col, 0, span.lb, 1, [0, Kg * span.lb]), tmp);
        placeColumns(tmp, y, n * g.O * L, g.O, L, span);
      }
    }
    return;
  }
  if (batchWide(g, "forward")) {
    // W [O, Kg] @ col [Kg, nb·L] → [O, nb, L], swapped into y's [nb, O, L].
    const nbW = wideImages(g, nbMax, false), col = alloc(nbW * Kg * L), tmp = alloc(nbW * g.O * L);
    for (let n0 = 0; n0 < g.N; n0 += nbW) {
      const nb = Math.min(nbW, g.N - n0);
      im2col(g, x, col, n0, nb, undefined, true);
      gemm(
        g.O,
        nb * L,
        Kg,
        [1, 1],
        operand(w.buffer, w.offset, Kg, 1, [0, 0]),
        operand(col, 0, nb * L, 1, [0, 0]),
        tmp,
      );
      swapOuter(tmp, 0, y, n0 * g.O * L, g.O, nb, L);
    }
    return;
  }
  const col = alloc(nbMax * g.G * Kg * L);
  const tmp = nbMax < g.N ? alloc(nbMax * g.O * L) : y;
  for (let n0 = 0; n0 < g.N; n0 += nbMax) {
    const nb = Math.min(nbMax, g.N - n0);
    im2col(g, x, col, n0, nb);
    // Per (image, group): W_g [Og, Kg] @ col [Kg, L] → y [Og, L], already NC(DHW) order.
    const a = operand(w.buffer, w.offset, Kg, 1, [0, Og * Kg]);
    const b = operand(col, 0, L, 1, [g.G * Kg * L, Kg * L]);
    gemm(Og, L, Kg, [nb, g.G], a, b, tmp);
    if (tmp !== y) copyBuffer(tmp, 0, y, n0 * g.O * L * 4, nb * g.O * L * 4);
  }
}

/** dx (dense [N, C, D, H, W] from element 0) = the data gradient of conv for gy (dense [N, O, L]). */
export function convDataGrad(
  v: ConvVariant,
  g: ConvGeom,
  gy: DenseOperand,
  w: DenseOperand,
  dx: GPUBuffer,
  alloc: ScratchAlloc,
): void {
  const { Og, Kg, L, S } = sizes(g);
  const wino = winogradPlan(v, "dataGrad", g);
  if (wino) {
    const [, OH, OW] = g.outSize, [D, H, W] = g.inSize;
    const strides = [g.O * L, L, OH * OW, OW, 1];
    const out = { co: g.C, depth: D, plane: H * W };
    return winogradTaps(wino, { buffer: gy.buffer, offset: gy.offset, strides }, w, dx, alloc, null, out);
  }
  if (v === "direct") {
    const total = g.N * g.C * S;
    const m = meta(g, null, w.offset, gy.offset, total, g.N, 0);
    return run("conv.directDataGrad", directDataGradSource(m), [gy.buffer, w.buffer, dx], m, total);
  }
  if (pointwise(g, null)) {
    // Per image: Wᵀ [C, O] @ gy [O, L] → dx [C, L].
    const a = operand(w.buffer, w.offset, 1, Kg, [0, 0]);
    const b = operand(gy.buffer, gy.offset, L, 1, [g.O * L, 0]);
    return gemm(Kg, L, g.O, [g.N, 1], a, b, dx);
  }
  const { nb: nbMax, lb } = columnChunks(g);
  if (lb < L) {
    // One image at a time, in spans of output positions; col2im adds each span's share.
    const col = alloc(g.G * Kg * lb);
    const a = operand(w.buffer, w.offset, 1, Kg, [0, Og * Kg]);
    for (let n = 0; n < g.N; n++) {
      for (const span of spans(L, lb)) {
        const b = operand(gy.buffer, gy.offset + n * g.O * L + span.l0, L, 1, [0, Og * L]);
        gemm(Kg, span.lb, Og, [1, g.G], a, b, col);
        const total = g.C * S;
        const m = meta(g, null, 0, 0, total, 1, n, span, span.l0 > 0);
        run("conv.col2im", col2imSource(m), [col, dx], m, total);
      }
    }
    return;
  }
  if (batchWide(g, "dataGrad")) {
    // gy [nb, O, L] swapped to [O, nb·L]; Wᵀ [Kg, O] @ it → col [Kg, nb·L], then col2im.
    const nbW = wideImages(g, nbMax, false), col = alloc(nbW * Kg * L), gyT = alloc(nbW * g.O * L);
    for (let n0 = 0; n0 < g.N; n0 += nbW) {
      const nb = Math.min(nbW, g.N - n0);
      swapOuter(gy.buffer, gy.offset + n0 * g.O * L, gyT, 0, nb, g.O, L);
      gemm(
        Kg,
        nb * L,
        g.O,
        [1, 1],
        operand(w.buffer, w.offset, 1, Kg, [0, 0]),
        operand(gyT, 0, nb * L, 1, [0, 0]),
        col,
      );
      const total = nb * g.C * S;
      const m = meta(g, null, 0, 0, total, nb, n0);
      run("conv.col2im", col2imSource(m, true), [col, dx], m, total);
    }
    return;
  }
  const col = alloc(nbMax * g.G * Kg * L);
  for (let n0 = 0; n0 < g.N; n0 += nbMax) {
    const nb = Math.min(nbMax, g.N - n0);
    // Per (image, group): W_gᵀ [Kg, Og] @ gy [Og, L] → col [Kg, L], then col2im.
    const a = operand(w.buffer, w.offset, 1, Kg, [0, Og * Kg]);
    const b = operand(gy.buffer, gy.offset + n0 * g.O * L, L, 1, [g.O * L, Og * L]);
    gemm(Kg, L, Og, [nb, g.G], a, b, col);
    const total = nb * g.C * S;
    const m = meta(g, null, 0, 0, total, nb, n0);
    run("conv.col2im", col2imSource(m), [col, dx], m, total);
  }
}

/**
 * dw (dense [O, C/G, k…] from element 0) = the weight gradient of conv for x and gy (dense [N, O, L]).
 * Given `db` (dense [O]), the kernels may also write the bias gradient there (Winograd on CPU
 * adapters): returns whether they did.
 */
export function convWeightGrad(
  v: ConvVariant,
  g: ConvGeom,
  x: ConvInput,
  gy: DenseOperand,
  dw: GPUBuffer,
  alloc: ScratchAlloc,
  db: GPUBuffer | null = null,
): boolean {
  const { Og, Kg, L } = sizes(g);
  const wino = winogradPlan(v, "weightGrad", g);
  if (wino) {
    // Each depth tap gives the 3×3 weights of its kernel slice (written in place in dw); a 2-D
    // convolution's one tap may give the bias gradient too.
    const [OD, OH, OW] = g.outSize;
    const fuse = db !== null && wino.depth === 1 && winogradBiasFusable(wino.taps[0].geom);
    const shared = sharedInput(wino, x);
    for (const tap of wino.taps) {
      const layout = tapLayout(wino, tap, x, { co: g.O, depth: OD, plane: OH * OW, offset: gy.offset });
      const input = tapInput(x, tap.in0);
      winogradWeightGrad(
        tap.geom,
        input,
        gy,
        dw,
        alloc,
        fuse ? db : null,
        layout,
        9 * tap.weightTap,
        shared?.(tap) ?? null,
      );
    }
    return fuse;
  }
  if (v === "direct") {
    // Each thread loops over images and output positions: as many of them per dispatch as the
    // loop budget allows, the later dispatches adding to dw.
    const total = g.O * Kg, budget = loopBudget() - 64;
    const lb = Math.min(L, budget), nb = Math.max(1, Math.floor(budget / (lb + 2)));
    let first = true;
    for (let n0 = 0; n0 < g.N; n0 += nb) {
      for (const span of spans(L, lb)) {
        const m = meta(g, x, 0, gy.offset, total, Math.min(nb, g.N - n0), n0, span, !first);
        run("conv.directWeightGrad", directWeightGradSource(m), [x.buffer, gy.buffer, dw], m, total);
        first = false;
      }
    }
    return false;
  }
  const len = g.O * Kg;
  // The per-image partials [nb, O, Kg] are one binding too: keep them under the binding limit
  // (ResNet-18's layer4 at batch 64 needs 302 MB of partials, over llvmpipe's 128 MiB).
  const partialLimit = Math.floor(gpu().limits.maxStorageBufferBindingSize / 4 / len);
  const direct = pointwise(g, x); // 1×1: the columns are x itself
  const chunks = columnChunks(g);
  if (!direct && chunks.lb < L) {
    // One image at a time, in spans of output positions: gy [Og, lb] @ colᵀ [lb, Kg], summed into dw.
    const lb = chunks.lb, col = alloc(g.G * Kg * lb), tmp = alloc(len);
    let first = true;
    for (let n = 0; n < g.N; n++) {
      for (const span of spans(L, lb)) {
        im2col(g, x, col, n, 1, span);
        const a = operand(gy.buffer, gy.offset + n * g.O * L + span.l0, L, 1, [0, Og * L]);
        gemm(Og, Kg, span.lb, [1, g.G], a, operand(col, 0, 1, span.lb, [0, Kg * span.lb]), tmp);
        run("conv.batchSum", batchSumSource(), [tmp, dw], new Uint32Array([len, 1, first ? 0 : 1, 0]), len);
        first = false;
      }
    }
    return false;
  }
  if (!direct && batchWide(g, "weightGrad")) {
    // gy swapped to [O, nb·L] @ colᵀ [nb·L, Kg] → dw [O, Kg]: the sum over images is the GEMM's own.
    const nbMax = wideImages(g, chunks.nb, true), col = alloc(nbMax * Kg * L), gyT = alloc(nbMax * g.O * L);
    const tmp = nbMax < g.N ? alloc(len) : dw;
    for (let n0 = 0; n0 < g.N; n0 += nbMax) {
      const nb = Math.min(nbMax, g.N - n0);
      im2col(g, x, col, n0, nb, undefined, true);
      swapOuter(gy.buffer, gy.offset + n0 * g.O * L, gyT, 0, nb, g.O, L);
      const out = n0 === 0 ? dw : tmp;
      gemm(g.O, Kg, nb * L, [1, 1], operand(gyT, 0, nb * L, 1, [0, 0]), operand(col, 0, 1, nb * L, [0, 0]), out);
      if (out !== dw) run("conv.batchSum", batchSumSource(), [tmp, dw], new Uint32Array([len, 1, 1, 0]), len);
    }
    return false;
  }
  const nbMax = Math.max(1, Math.min(chunks.nb, partialLimit));
  const col = direct ? null : alloc(nbMax * g.G * Kg * L);
  const tmp = alloc(nbMax * g.O * Kg);
  for (let n0 = 0; n0 < g.N; n0 += nbMax) {
    const nb = Math.min(nbMax, g.N - n0);
    if (col) im2col(g, x, col, n0, nb);
    // Per (image, group): gy [Og, L] @ colᵀ [L, Kg] → [Og, Kg]; then the sum over images.
    const a = operand(gy.buffer, gy.offset + n0 * g.O * L, L, 1, [g.O * L, Og * L]);
    const b = col
      ? operand(col, 0, 1, L, [g.G * Kg * L, Kg * L])
      : operand(x.buffer, x.offset + n0 * g.C * L, 1, L, [g.C * L, 0]);
    gemm(Og, Kg, L, [nb, g.G], a, b, tmp);
    const m = new Uint32Array([len, nb, n0 > 0 ? 1 : 0, 0]);
    run("conv.batchSum", batchSumSource(), [tmp, dw], m, len);
  }
  return false;
}

/** y (dense [N, channels, L] from element 0) += bias (one float per channel from its offset), in place. */
export function addChannelBias(N: number, channels: number, L: number, bias: DenseOperand, y: GPUBuffer): void {
  const total = N * channels * L;
  run("conv.bias", biasSource(), [bias.buffer, y], new Uint32Array([total, L, channels, bias.offset]), total);
}
