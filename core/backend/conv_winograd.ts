/**
 * Launches the Winograd convolution F(m×m, 3×3) (m = 2 or 4) whose kernels
 * `core/kernels/winograd.ts` generates: chunks the batch so that its tiles fit the device's
 * 2-D texture and storage-binding limits, keeps the rgba32float textures the transforms write,
 * and records the weight / input / GEMM / output passes of the forward and data-gradient
 * convolutions and the adjoint chain of the weight gradient.
 */

import { dispatch, flush, gpu, grid1d, loopBudget, pipeline } from "../device.ts";
import { nonPowerOfTwo } from "./texture_extent.ts";
import {
  columnMapWords,
  denseLayout,
  gradTransformSource,
  inputThreads,
  inputTransformSource,
  outputTransformSource,
  WEIGHT_GRAD_WG,
  weightGradGemmSource,
  weightGradGemmThreads,
  weightGradOutputSource,
  weightTransformSource,
  type WinogradDims,
  winogradDims,
  type WinogradGemmOptions,
  winogradGemmSource,
  type WinogradGeom,
  type WinogradLayout,
  winogradMeta,
} from "../kernels/winograd.ts";

export type { WinogradGeom, WinogradLayout, WinogradTile } from "../kernels/winograd.ts";

/** Input: any strides (n, c, h, w) from an element offset. */
export interface WinogradInput {
  buffer: GPUBuffer;
  offset: number;
  strides: readonly number[];
}

/**
 * `winogradDims(w)` plus the images per chunk that fit the device's texture and binding limits
 * (0: does not fit).
 */
export function winogradSizes(w: WinogradGeom): WinogradDims & { chunk: number } {
  const d = winogradDims(w);
  const { a, T, Ci4, Co4 } = d;
  const { maxTextureDimension2D: dim, maxStorageBufferBindingSize: bind } = gpu().limits;
  let chunk = Math.min(w.N, Math.floor(dim / T), Math.floor(Math.min(bind, 256 << 20) / (16 * a * a * T * Co4)));
  if (a * a * Ci4 > dim || w.Co > dim) chunk = 0;
  return { ...d, chunk: Math.max(0, chunk) };
}

/**
 * Whether the input transform can read x as vec4 rows: unit w stride, every other stride and
 * the offset a multiple of 4, and W a multiple of 4 (so a vec4 never straddles a row end).
 */
export function inputVec4(w: WinogradGeom, x: WinogradInput, layout: WinogradLayout = denseLayout(w)): boolean {
  const [sn, sc, sh, sw] = x.strides;
  return w.m === 4 && sw === 1 && w.W % 4 === 0 &&
    [x.offset, sn, sc, sh, layout.inputStep].every((v) => v % 4 === 0);
}

/**
 * The GEMM block for `w`: 16 tiles × up to 64 output channels per thread (fastest measured on
 * llvmpipe at 64 channels, 16×16 and 8×8 blocks were 1.5–2× slower), 8 tiles when there are few.
 */
export function winogradGemmOptions(w: WinogradGeom): WinogradGemmOptions {
  // Fewer tiles than 16 per thread fill the 8-thread workgroups: 8 per thread then (a ResNet's
  // 512-channel 4×4 stage at batch 64, 64 tiles: 10–20 % faster than 16, faster than 4).
  const tp = Math.ceil((w.N * winogradDims(w).T) / 16) < 8 ? 8 : 16;
  return { tp, to: Math.min(64, 4 * Math.ceil(w.Co / 4)), wg: [8, 1] };
}

// ---- launch -----------------------------------------------------------------------------

interface Tex {
  texture: GPUTexture;
  view: GPUTextureView;
}

const MAX_TEXTURES = 6;
const textures = new Map<string, Tex>();

/**
 * Reusable rgba32float textures, one per [slot, width, height] (reuse is safe: every use is
 * an ordered dispatch). Evicts only textures that this call does not ask for.
 */
function texturesFor(specs: [string, number, number][]): Tex[] {
  const keys = specs.map(([slot, w, h]) => `${slot}:${w}x${h}`);
  const missing = keys.filter((k) => !textures.has(k));
  if (missing.length > 0 && textures.size + missing.length > MAX_TEXTURES) {
    flush(); // recorded commands may still use them
    for (const [k, old] of textures) {
      if (keys.includes(k)) continue;
      old.texture.destroy();
      textures.delete(k);
    }
  }
  return specs.map(([, width, height], i) => {
    let t = textures.get(keys[i]);
    if (t) return t;
    const dim = gpu().limits.maxTextureDimension2D;
    const tex = gpu().device.createTexture({
      label: `conv-winograd-${keys[i]}`,
      size: [nonPowerOfTwo(width, dim), nonPowerOfTwo(height, dim)],
      format: "rgba32float",
      usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING,
    });
    t = { texture: tex, view: tex.createView() };
    textures.set(keys[i], t);
    return t;
  });
}

/**
 * The input slices of a 3-D convolution's samples, transformed once for all its depth taps into
 * the texture slot "all" ({@linkcode winogradSharedInput}); a tap reads its `slices` slices per
 * sample from input slice `in0`.
 */
export interface SharedInput {
  /** The texture's size: columns (tiles), wrapped into bands of α²·Ci4 rows past `band` columns. */
  size: [number, number];
  /** Columns per band. */
  band: number;
  /** Input slices per sample in the texture. */
  inputSlices: number;
  /** The tap's output slices per sample. */
  slices: number;
  /** The tap's first input slice. */
  in0: number;
}

/**
 * Records the input transform of all `w.N` images (samples × input slices, placed by `layout`)
 * into one texture for {@linkcode SharedInput} — its columns wrapped into bands of rows where
 * they exceed the texture limit — and returns its size and band width, or null where even the
 * bands do not fit (the taps then transform their own slices).
 */
export function winogradSharedInput(
  w: WinogradGeom,
  x: WinogradInput,
  layout: WinogradLayout,
): Pick<SharedInput, "size" | "band"> | null {
  const { a, T, Ci4 } = winogradDims(w);
  const tiles = w.N * T, dim = gpu().limits.maxTextureDimension2D, rows = a * a * Ci4;
  const band = Math.min(tiles, dim), bands = Math.ceil(tiles / band);
  if (bands * rows > dim) return null;
  const size: [number, number] = [band, bands * rows];
  const [tv] = texturesFor([["all", ...size]]);
  const vec4 = inputVec4(w, x, layout);
  const m = winogradMeta(w, [0, tiles, x.offset, band, ...x.strides], layout);
  run("conv.winograd.input", inputTransformSource(w, vec4, true), [x.buffer, tv.view], m, inputThreads(w, tiles, vec4));
  return { size, band };
}

/** Band width of the GEMMs' V (uniform v[0].z): none (all ones) unless V is a banded shared texture. */
const bandWord = (shared: SharedInput | null) => shared?.band ?? 0xffffffff;

function run(op: string, src: string, bindings: (GPUBuffer | GPUTextureView)[], u: Uint32Array, threads: number) {
  if (threads === 0) return;
  dispatch({ op, pipeline: pipeline(op, src), bindings, uniforms: u, workgroups: grid1d(Math.ceil(threads / 256)) });
}

/**
 * Records y = conv(x, w') with Winograd F(m×m, 3×3); `scratch` allocates the GEMM output.
 * With `bias` (one float per output channel from its offset), the output transform adds it.
 * `layout` places the images (x's strides give the outer step) and the output, and may make
 * the output transform add to y. The caller checks `winogradSizes(w).chunk > 0`.
 */
export function winogradConv(
  w: WinogradGeom,
  x: WinogradInput,
  weight: { buffer: GPUBuffer; offset: number },
  y: GPUBuffer,
  scratch: (floats: number) => GPUBuffer,
  bias: { buffer: GPUBuffer; offset: number } | null = null,
  gemm: WinogradGemmOptions = winogradGemmOptions(w),
  layout: WinogradLayout = denseLayout(w),
  shared: SharedInput | null = null,
): void {
  const { a, T, Ci4, Co4, chunk } = winogradSizes(w);
  if (chunk < 1) throw new Error("internal: Winograd convolution does not fit the texture limits");
  const vSpec: [string, number, number] = shared ? ["all", ...shared.size] : ["v", chunk * T, a * a * Ci4];
  const [tu, tv] = texturesFor([["u", w.Co, a * a * Ci4], vSpec]);
  const mb = scratch(a * a * chunk * T * Co4 * 4);
  const u = winogradMeta(w, [0, 0, 0, weight.offset], layout);
  run("conv.winograd.weight", weightTransformSource(w), [weight.buffer, tu.view], u, w.Co * Ci4);
  const gemmSrc = winogradGemmSource(shared ? { ...w, mapped: true } : w, gemm);
  const vec4 = inputVec4(w, x, layout);
  for (let n0 = 0; n0 < w.N; n0 += chunk) {
    const Pc = Math.min(chunk, w.N - n0) * T;
    const m = winogradMeta(w, [n0, Pc, x.offset, bias?.offset ?? 0, ...x.strides], layout);
    if (!shared) {
      run("conv.winograd.input", inputTransformSource(w, vec4), [x.buffer, tv.view], m, inputThreads(w, Pc, vec4));
    }
    const groups: [number, number, number] = [
      Math.ceil(Pc / (gemm.tp * gemm.wg[0])),
      Math.ceil(w.Co / (gemm.to * gemm.wg[1])),
      a * a,
    ];
    dispatch({
      op: "conv.winograd.gemm",
      pipeline: pipeline("conv.winograd.gemm", gemmSrc),
      bindings: [tu.view, tv.view, mb],
      uniforms: winogradMeta(w, [n0, Pc, bandWord(shared), 0, ...columnMapWords(T, n0, shared)], layout),
      workgroups: groups,
    });
    const out = bias ? [mb, y, bias.buffer] : [mb, y];
    run("conv.winograd.output", outputTransformSource(w, bias !== null), out, m, Pc * Co4);
  }
}

/**
 * Whether the weight-gradient chain of `w` can also give the bias gradient (Σ of gy over images
 * and positions): on CPU adapters, where its tile sums cost less than a separate two-pass
 * reduction, and while a thread per channel can loop over all N·T tiles.
 */
export function winogradBiasFusable(w: WinogradGeom): boolean {
  const { T, Co4 } = winogradDims(w);
  return gpu().isSoftware && w.N * T + 16 <= loopBudget() &&
    16 * Co4 * w.N * T <= gpu().limits.maxStorageBufferBindingSize;
}

/**
 * Records dw = the weight gradient of the convolution `w` (not flipped) for input x and gy:
 * dense [Co, Ci, 3, 3] from element 0 and gy dense [N, Co, OH, OW] from its offset, or where
 * `layout` puts them (gy at `out`, whose offset is then gy's; dw from `dwOffset` with the
 * layout's kernel volume). With `db` (dense [Co]; only where {@linkcode winogradBiasFusable},
 * and for 2-D convolutions) also the bias gradient, from the sums of the gradient tiles the
 * chain transforms anyway.
 */
export function winogradWeightGrad(
  w: WinogradGeom,
  x: WinogradInput,
  gy: { buffer: GPUBuffer; offset: number },
  dw: GPUBuffer,
  scratch: (floats: number) => GPUBuffer,
  db: GPUBuffer | null = null,
  lay: WinogradLayout = denseLayout(w, gy.offset),
  dwOffset = 0,
  shared: SharedInput | null = null,
): void {
  const { a, T, Ci4, Co4, chunk } = winogradSizes(w);
  if (chunk < 1 || w.flip) throw new Error("internal: Winograd weight gradient does not apply");
  if (db && !winogradBiasFusable(w)) throw new Error("internal: Winograd bias gradient does not apply");
  if (db && w.layered) throw new Error("internal: the Winograd bias gradient is for 2-D convolutions");
  const vSpec: [string, number, number] = shared ? ["all", ...shared.size] : ["v", chunk * T, a * a * Ci4];
  const [tz, tv] = texturesFor([["z", chunk * T, a * a * Co4], vSpec]);
  const du = scratch(a * a * w.Co * Ci4 * 4);
  const pb = db ? scratch(4 * Co4 * w.N * T) : null;
  const vec4 = inputVec4(w, x, lay);
  for (let n0 = 0; n0 < w.N; n0 += chunk) {
    const Pc = Math.min(chunk, w.N - n0) * T;
    if (!shared) {
      const m = winogradMeta(w, [n0, Pc, x.offset, 0, ...x.strides], lay);
      run("conv.winograd.input", inputTransformSource(w, vec4), [x.buffer, tv.view], m, inputThreads(w, Pc, vec4));
    }
    const mg = winogradMeta(w, [n0, Pc, 0, n0 > 0 ? 1 : 0, w.N], lay);
    const gradBindings = pb ? [gy.buffer, tz.view, pb] : [gy.buffer, tz.view];
    run("conv.winograd.grad", gradTransformSource(w, pb !== null), gradBindings, mg, Pc * Co4);
    dispatch({
      op: "conv.winograd.wgemm",
      pipeline: pipeline("conv.winograd.wgemm", weightGradGemmSource(shared ? { ...w, mapped: true } : w)),
      bindings: [tz.view, tv.view, du],
      uniforms: winogradMeta(w, [n0, Pc, bandWord(shared), n0 > 0 ? 1 : 0, ...columnMapWords(T, n0, shared)], lay),
      workgroups: grid1d(Math.ceil(weightGradGemmThreads(w) / WEIGHT_GRAD_WG)),
    });
  }
  dispatch({
    op: "conv.winograd.dw",
    pipeline: pipeline("conv.winograd.dw", weightGradOutputSource(w, db !== null)),
    bindings: db ? [du, dw, pb!, db] : [du, dw],
    uniforms: winogradMeta(w, [0, 0, dwOffset, 0, w.N], lay),
    workgroups: grid1d(Math.ceil((w.Co * Ci4 + (db ? w.Co : 0)) / 256)),
  });
}
