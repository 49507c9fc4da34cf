/**
 * WGSL generators of the Winograd convolution F(m×m, 3×3) (m = 2 or 4) for 2-D 3×3 stride-1
 * convolutions without dilation or groups. Four kernels; the sizes come from the uniform block
 * ({@linkcode geometryWords}), so one compiled pipeline serves every layer (a compile of these
 * register-heavy kernels costs seconds on llvmpipe). Only the tile edge, the flip, the vec4 paths
 * and the GEMM block are baked into the WGSL:
 *
 * 1. weight transform U = G·g·Gᵀ, into an `rgba32float` texture: texel (co, t·Ci4 + c/4)
 *    holds 4 input channels of transform position t (t < α², α = m + 2);
 * 2. input transform V = Bᵀ·d·B of every α×α input tile, into a texture with a column
 *    per tile: texel (tile, t·Ci4 + c/4);
 * 3. α² GEMMs M_t [tiles, Co] = V_t · U_tᵀ (dot form over texels, like `texdot`), one
 *    workgroup z-layer per t, into a buffer [α², Co4, tiles] of vec4 (4 output channels);
 * 4. output transform Y = Aᵀ·M·A per (tile, 4 output channels), written into NCHW.
 *
 * (Texels run along the tiles, so neighbouring threads store and load neighbouring texels.)
 *
 * The batch is chunked so that the tiles fit the 2-D texture limit. The data gradient of
 * such a convolution is again one (channels swapped, kernel flipped, padding 2 − p), so it
 * reuses these kernels with `flip` set in the weight transform. The weight gradient runs the
 * adjoint chain: the input transform, Z = A·dy·Aᵀ per output-gradient tile, α² GEMMs summing
 * Z_tᵀ·V_t over the tiles, and dw = Gᵀ·dU·G.
 *
 * The kernels see "images" i = 0 … N − 1 of a 2-D geometry; where they sit in memory is
 * uniform data ({@linkcode WinogradLayout}): image i starts at ⌊i / inner⌋·outer + (i mod
 * inner)·step, so the depth slices of 3-D volumes are images too, and a 3×3×3 convolution is
 * three such 2-D ones, one per depth tap of the kernel, summed by the output transform.
 *
 * Pure `geometry → WGSL string` functions (no device): `core/backend/conv_winograd.ts`
 * chunks the batch to the device's limits, allocates the textures and dispatches them.
 * @module
 */

import { flatMain } from "./wgsl.ts";

/** Output tile edge of a Winograd variant. */
export type WinogradTile = 2 | 4;

/** One Winograd convolution: x [N, Ci, H, W] * w' [Co, Ci, 3, 3] → y [N, Co, OH, OW]. */
export interface WinogradGeom {
  N: number;
  Ci: number;
  Co: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
  padH: number;
  padW: number;
  /** Output tile edge. */
  m: WinogradTile;
  /**
   * The weight buffer holds [Ci, Co, 3, 3] and is read flipped (the data-gradient pass);
   * otherwise it holds [Co, Ci, 3, 3].
   */
  flip: boolean;
  /**
   * The images are (sample, slice) pairs of 3-D volumes: the kernels split an image index by the
   * layout's `inner` (a division per thread that 2-D convolutions skip).
   */
  layered?: boolean;
  /** The GEMMs read V through the column map of a shared input texture ({@linkcode columnMapWords}). */
  mapped?: boolean;
}

/** WGSL: the weights' elements per (output, input) channel pair: 9, or the layout's for 3-D kernels. */
const kernelVolume = (w: WinogradGeom) => (w.layered ? "KS" : "9u");

/** WGSL: where image `n` starts, `outer` per outer step and `step` per image within one (layered). */
const imageAt = (w: WinogradGeom, outer: string, step: string) =>
  w.layered ? `(n / inner) * ${outer} + (n % inner) * ${step}` : `n * ${outer}`;

// ---- transform matrices ---------------------------------------------------------------

const F2 = {
  BT: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
  G: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
  AT: [[1, 1, 1, 0], [0, 1, -1, -1]],
};

const F4 = {
  BT: [
    [4, 0, -5, 0, 1, 0],
    [0, -4, -4, 1, 1, 0],
    [0, 4, -4, -1, 1, 0],
    [0, -2, -1, 2, 1, 0],
    [0, 2, -1, -2, 1, 0],
    [0, 4, 0, -5, 0, 1],
  ],
  G: [
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
  ],
  AT: [
    [1, 1, 1, 1, 1, 0],
    [0, 1, -1, 2, -2, 0],
    [0, 1, 1, 4, 4, 0],
    [0, 1, -1, 8, -8, 1],
  ],
};

const matrices = (m: WinogradTile) => (m === 2 ? F2 : F4);

const lit = (c: number): string => {
  const s = String(Math.fround(c));
  return s.includes(".") || s.includes("e") ? s : `${s}.0`;
};

/** WGSL expression Σ_k coef[k]·terms[k] (zero coefficients dropped, ±1 folded). */
function lin(coef: readonly number[], terms: readonly string[], zero: string): string {
  let s = "";
  coef.forEach((c, k) => {
    if (c === 0) return;
    const mag = Math.abs(c) === 1 ? terms[k] : `${lit(Math.abs(c))} * ${terms[k]}`;
    s += s === "" ? (c < 0 ? `-${mag}` : mag) : c < 0 ? ` - ${mag}` : ` + ${mag}`;
  });
  return s === "" ? zero : s;
}

/**
 * WGSL lets computing out[i][j] = Σ L[i][k]·X[k][l]·L[j][l] (X named `${x}_k_l`, out named
 * `${out}_i_j`): the two-sided transform of every Winograd stage.
 */
function sandwich(L: readonly number[][], x: string, out: string, zero: string): string {
  const rows = L.length, inner = L[0].length;
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    for (let l = 0; l < inner; l++) {
      const terms = L[i].map((_, k) => `${x}_${k}_${l}`);
      lines.push(`  let ${out}h_${i}_${l} = ${lin(L[i], terms, zero)};`);
    }
  }
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < rows; j++) {
      const terms = L[j].map((_, l) => `${out}h_${i}_${l}`);
      lines.push(`  let ${out}_${i}_${j} = ${lin(L[j], terms, zero)};`);
    }
  }
  return lines.join("\n");
}

// ---- geometry ---------------------------------------------------------------------------

/** Sizes derived from a Winograd geometry alone (no device limits). */
export interface WinogradDims {
  /** Transform tile edge α = m + 2. */
  a: number;
  /** Tile rows per image. */
  TH: number;
  /** Tile columns per image. */
  TW: number;
  /** Tiles per image. */
  T: number;
  /** Input-channel texels (4 channels each). */
  Ci4: number;
  /** Output-channel texels (4 channels each). */
  Co4: number;
}

/** α, tiles per image and channel texel counts of `w`. */
export function winogradDims(w: WinogradGeom): WinogradDims {
  const a = w.m + 2;
  const TH = Math.ceil(w.OH / w.m), TW = Math.ceil(w.OW / w.m), T = TH * TW;
  const Ci4 = Math.ceil(w.Ci / 4), Co4 = Math.ceil(w.Co / 4);
  return { a, TH, TW, T, Ci4, Co4 };
}

// ---- kernels ----------------------------------------------------------------------------

const UNIFORMS = `struct Meta { v: array<vec4<u32>, 6> }
@group(0) @binding(0) var<uniform> P: Meta;
`;

/**
 * Uniform words of every Winograd kernel: 8 per-dispatch words, {@linkcode geometryWords}, then
 * the {@linkcode WinogradLayout} words.
 */
export const WINOGRAD_META_WORDS = 24;

/**
 * Where the images and weights of a dispatch sit (uniform v[4], v[5]); {@linkcode denseLayout}
 * is a plain 2-D convolution's.
 */
export interface WinogradLayout {
  /** Images per outer step (depth slices per sample; 1 for 2-D). */
  inner: number;
  /** Elements between neighbouring images within an outer step of the input. */
  inputStep: number;
  /** Elements between the 3×3 kernels of neighbouring channels in the weights (9 in 2-D, 27 in 3-D). */
  kernelVolume: number;
  /** 1: the output transform adds to the output instead of overwriting it. */
  accumulate: number;
  /** The output (or the output gradient): element offset, outer step, image step, channel step. */
  out: [number, number, number, number];
}

/** The layout of a 2-D convolution with a dense output [N, Co, OH, OW] from element `offset`. */
export function denseLayout(w: WinogradGeom, offset = 0): WinogradLayout {
  const plane = w.OH * w.OW;
  return { inner: 1, inputStep: 0, kernelVolume: 9, accumulate: 0, out: [offset, w.Co * plane, 0, plane] };
}

/** The geometry words (uniform v[2], v[3]): Ci, Co, H, W, OH, OW, padH, padW. */
export function geometryWords(w: WinogradGeom): number[] {
  return [w.Ci, w.Co, w.H, w.W, w.OH, w.OW, w.padH, w.padW];
}

/** A kernel's uniform block: `perDispatch` (up to 8 words), the geometry, then the layout. */
export function winogradMeta(
  w: WinogradGeom,
  perDispatch: readonly number[],
  layout: WinogradLayout = denseLayout(w),
): Uint32Array {
  const u = new Uint32Array(WINOGRAD_META_WORDS);
  u.set(perDispatch);
  u.set(geometryWords(w), 8);
  u.set([layout.inner, layout.inputStep, layout.kernelVolume, layout.accumulate, ...layout.out], 16);
  return u;
}

/** WGSL lets of the geometry and the sizes derived from it (tile edge m). */
function geometryLets(m: number): string {
  return `  let Ci = P.v[2].x; let Co = P.v[2].y; let H = i32(P.v[2].z); let W = i32(P.v[2].w);
  let OH = P.v[3].x; let OW = P.v[3].y; let padH = i32(P.v[3].z); let padW = i32(P.v[3].w);
  let Ci4 = (Ci + 3u) / 4u; let Co4 = (Co + 3u) / 4u;
  let TH = (OH + ${m - 1}u) / ${m}u; let TW = (OW + ${m - 1}u) / ${m}u; let T = TH * TW;
  let inner = max(P.v[4].x, 1u); let KS = P.v[4].z; let OL = P.v[5];
  let RB = ${(m + 2) * (m + 2)}u * Ci4;`;
}

/** Weight transform: thread per (co, ci4). Uniform: v[0].w weight offset. */
export function weightTransformSource(w: WinogradGeom): string {
  const { a } = winogradDims(w);
  const { G } = matrices(w.m);
  const ks = kernelVolume(w);
  const idx = (q: number, k: number) =>
    w.flip
      ? `(ci${q} * Co + co) * ${ks} + ${8 - k}u` // w [Ci, Co, (3,) 3, 3], flipped
      : `(co * Ci + ci${q}) * ${ks} + ${k}u`;
  const L: string[] = [
    UNIFORMS,
    `@group(0) @binding(1) var<storage, read> Wt: array<f32>;
@group(0) @binding(2) var TU: texture_storage_2d<rgba32float, write>;
${flatMain()}
${geometryLets(w.m)}
  if (gi >= Co * Ci4) { return; }
  let co = gi / Ci4;
  let c4 = gi % Ci4;
  let off = P.v[0].w;`,
  ];
  for (let q = 0; q < 4; q++) {
    L.push(`  let ci${q} = min(c4 * 4u + ${q}u, Ci - 1u);`);
    L.push(`  let ok${q} = select(0.0, 1.0, c4 * 4u + ${q}u < Ci);`);
  }
  for (let k = 0; k < 9; k++) {
    const comps = [0, 1, 2, 3].map((q) => `Wt[off + ${idx(q, k)}] * ok${q}`);
    L.push(`  let g_${Math.floor(k / 3)}_${k % 3} = vec4<f32>(${comps.join(", ")});`);
  }
  L.push(sandwich(G, "g", "u", "vec4<f32>(0.0)"));
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < a; j++) {
      L.push(`  textureStore(TU, vec2<u32>(co, ${i * a + j}u * Ci4 + c4), u_${i}_${j});`);
    }
  }
  L.push("}");
  return L.join("\n");
}

/** Tiles per thread of the vec4 input transform (horizontal neighbours share input columns). */
export const INPUT_TILES = 2;

/** Threads of the input transform for `Pc` tiles (a multiple of T) in the chunk. */
export function inputThreads(w: WinogradGeom, Pc: number, vec4: boolean): number {
  const { TW, Ci4 } = winogradDims(w);
  return vec4 ? (Pc / TW) * Math.ceil(TW / INPUT_TILES) * Ci4 : Pc * Ci4;
}

/**
 * Input transform: thread per (tile of the chunk, ci4), tile fastest. Uniforms: v[0].x first
 * image n0, v[0].y tiles in this chunk, v[0].z x offset; v[1] x strides (n, c, h, w).
 * With `vec4` (see `inputVec4`), a thread transforms `INPUT_TILES` horizontally neighbouring
 * tiles of a tile row, reading their shared input columns once as vec4s.
 */
export function inputTransformSource(w: WinogradGeom, vec4 = false, banded = false): string {
  if (vec4) return inputTransformVec4Source(w, banded);
  const { a } = winogradDims(w);
  const { BT } = matrices(w.m);
  const L: string[] = [
    UNIFORMS,
    `@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var TV: texture_storage_2d<rgba32float, write>;
${flatMain()}
${geometryLets(w.m)}
  let Pc = P.v[0].y;
  if (gi >= Pc * Ci4) { return; }
  let p = gi % Pc;
  let c4 = gi / Pc;
  let xs = P.v[1];
  let n = P.v[0].x + p / T;
  let tp = p % T;
  let h0 = i32(tp / TW) * ${w.m} - padH;
  let w0 = i32(tp % TW) * ${w.m} - padW;
  let base = P.v[0].z + ${imageAt(w, "xs.x", "P.v[4].y")};`,
  ];
  channelLets(L);
  for (let i = 0; i < a; i++) {
    L.push(`  let ih${i} = h0 + ${i}; let rh${i} = ih${i} >= 0 && ih${i} < H;`);
    L.push(`  let ro${i} = u32(clamp(ih${i}, 0, H - 1)) * xs.z;`);
  }
  for (let j = 0; j < a; j++) {
    L.push(`  let iw${j} = w0 + ${j}; let rw${j} = iw${j} >= 0 && iw${j} < W;`);
    L.push(`  let co${j} = u32(clamp(iw${j}, 0, W - 1)) * xs.w;`);
  }
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < a; j++) {
      const comps = [0, 1, 2, 3].map((q) => `select(0.0, X[cb${q} + ro${i} + co${j}], ok_${i}_${j} && cq${q})`);
      L.push(`  let ok_${i}_${j} = rh${i} && rw${j};`);
      L.push(`  let d_${i}_${j} = vec4<f32>(${comps.join(", ")});`);
    }
  }
  L.push(sandwich(BT, "d", "v", "vec4<f32>(0.0)"));
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < a; j++) {
      L.push(`  textureStore(TV, ${texel(banded, "p", `${i * a + j}u * Ci4 + c4`)}, v_${i}_${j});`);
    }
  }
  L.push("}");
  return L.join("\n");
}

/**
 * The texel of V's column `col`, row `row`: with `banded` (a shared input texture wider than the
 * texture limit, uniform v[0].w the band width BW), columns wrap into bands of α²·Ci4 rows.
 */
function texel(banded: boolean, col: string, row: string): string {
  if (!banded) return `vec2<u32>(${col}, ${row})`;
  return `vec2<u32>((${col}) % P.v[0].w, ${row} + ((${col}) / P.v[0].w) * RB)`;
}

/** The input channels c4·4 + q (clamped) of a thread: row bases `cb_q` and in-range flags `cq_q`. */
function channelLets(L: string[]): void {
  for (let q = 0; q < 4; q++) {
    L.push(`  let cb${q} = base + min(c4 * 4u + ${q}u, Ci - 1u) * xs.y;`);
    L.push(`  let cq${q} = c4 * 4u + ${q}u < Ci;`);
  }
}

function inputTransformVec4Source(w: WinogradGeom, banded: boolean): string {
  const { a } = winogradDims(w);
  const { BT } = matrices(w.m);
  const nt = INPUT_TILES;
  // Input columns the thread's tiles cover, from the first tile's left edge e0 = 4·tw0 − padW.
  const cols = w.m * (nt - 1) + a;
  const L: string[] = [
    UNIFORMS,
    `@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(2) var TV: texture_storage_2d<rgba32float, write>;
${flatMain()}
${geometryLets(w.m)}
  let TWp = (TW + ${nt - 1}u) / ${nt}u;
  let W4 = W / 4;
  let Pc = P.v[0].y;
  let R = (Pc / TW) * TWp;
  if (gi >= R * Ci4) { return; }
  let r = gi % R;
  let c4 = gi / R;
  let xs = P.v[1] / 4u;
  let row = r / TWp;
  let tw0 = (r % TWp) * ${nt}u;
  let n = P.v[0].x + row / TH;
  let p0 = row * TW + tw0;
  let h0 = i32(row % TH) * ${w.m} - padH;
  let e0 = i32(tw0) * ${w.m} - padW;
  let base = P.v[0].z / 4u + ${imageAt(w, "xs.x", "(P.v[4].y / 4u)")};`,
  ];
  channelLets(L);
  for (let i = 0; i < a; i++) {
    L.push(`  let ih${i} = h0 + ${i}; let rh${i} = ih${i} >= 0 && ih${i} < H;`);
    L.push(`  let ro${i} = u32(clamp(ih${i}, 0, H - 1)) * xs.z;`);
  }
  // With m = 4, s0 = e0 mod 4 = −padW mod 4 is fixed: column j is lane (s0 + j) mod 4 of vec4
  // v0 + ⌊(s0 + j)/4⌋, v0 = ⌊e0/4⌋; `nv` vec4s per row and channel cover all the columns.
  if (w.m !== 4) throw new Error("internal: the vec4 input transform needs m = 4");
  const s0 = (4 - (w.padW % 4)) % 4;
  const nv = Math.floor((s0 + cols - 1) / 4) + 1;
  L.push(`  let v0 = (e0 - ${s0}) / 4;`);
  for (let k = 0; k < nv; k++) {
    L.push(`  let vc${k} = v0 + ${k}; let vk${k} = vc${k} >= 0 && vc${k} < W4;`);
    L.push(`  let vo${k} = u32(clamp(vc${k}, 0, W4 - 1));`);
  }
  for (let q = 0; q < 4; q++) {
    for (let i = 0; i < a; i++) {
      for (let k = 0; k < nv; k++) {
        L.push(
          `  let x_${q}_${i}_${k} = select(vec4<f32>(0.0), X[cb${q} + ro${i} + vo${k}], rh${i} && vk${k} && cq${q});`,
        );
      }
    }
  }
  for (let s = 0; s < nt; s++) {
    L.push(`  {`);
    for (let i = 0; i < a; i++) {
      for (let j = 0; j < a; j++) {
        const col = s0 + w.m * s + j, k = Math.floor(col / 4), lane = "xyzw"[col % 4];
        const comps = [0, 1, 2, 3].map((q) => `x_${q}_${i}_${k}.${lane}`);
        L.push(`  let d_${i}_${j} = vec4<f32>(${comps.join(", ")});`);
      }
    }
    L.push(sandwich(BT, "d", "v", "vec4<f32>(0.0)"));
    L.push(`  if (tw0 + ${s}u < TW) {`);
    for (let i = 0; i < a; i++) {
      for (let j = 0; j < a; j++) {
        L.push(`    textureStore(TV, ${texel(banded, `p0 + ${s}u`, `${i * a + j}u * Ci4 + c4`)}, v_${i}_${j});`);
      }
    }
    L.push(`  }`);
    L.push(`  }`);
  }
  L.push("}");
  return L.join("\n");
}

/** Register block of the Winograd GEMM: tp tiles × to output channels (multiple of 4) per thread. */
export interface WinogradGemmOptions {
  /** Tiles per thread. */
  tp: number;
  /** Output channels per thread (multiple of 4). */
  to: number;
  /** Workgroup size (x over tiles, y over channel blocks). */
  wg: [number, number];
}

/**
 * The texture column of tile q = p + base of V (uniform v[1] = (PI, PS, V0, base), see
 * {@linkcode columnMapWords}): ⌊q / PI⌋·PS + q mod PI + V0.
 */
const COLUMN_MAP = `  let PI = P.v[1].x; let PS = P.v[1].y; let V0 = P.v[1].z; let CB = P.v[1].w; let BW = P.v[0].z;`;

/**
 * The column-map words of the GEMMs (uniform v[1]): V's columns are the chunk's tiles (the
 * default), or, for a texture holding every input slice of the samples (`slices` output slices
 * a sample, `inputSlices` transformed, the tap's first input slice `in0`, T tiles a slice), the
 * tiles of the tap's input slices: tile q of the tap (counted from the first image) is column
 * ⌊q / (slices·T)⌋·inputSlices·T + q mod (slices·T) + in0·T.
 */
export function columnMapWords(
  T: number,
  n0: number,
  shared: { slices: number; inputSlices: number; in0: number } | null,
): number[] {
  if (!shared) return [0xffffffff, 0, 0, 0];
  return [shared.slices * T, shared.inputSlices * T, shared.in0 * T, n0 * T];
}

/**
 * GEMM per transform position t (workgroup z): M_t[p, co] = Σ_c V_t[col(p), c]·U_t[co, c], dot
 * form over texels. Uniform: v[0].y tiles in this chunk, v[1] the column map. Output vec4
 * [α², Pc, Co4].
 */
export function winogradGemmSource(w: WinogradGeom, o: WinogradGemmOptions): string {
  const { tp, to } = o;
  const to4 = to / 4;
  const L: string[] = [
    UNIFORMS,
    `@group(0) @binding(1) var TU: texture_2d<f32>;
@group(0) @binding(2) var TV: texture_2d<f32>;
@group(0) @binding(3) var<storage, read_write> Mb: array<vec4<f32>>;
@compute @workgroup_size(${o.wg[0]}, ${o.wg[1]}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
${geometryLets(w.m)}
  let Pc = P.v[0].y;
  let p0 = gid.x * ${tp}u;
  let o0 = gid.y * ${to}u;
  if (p0 >= Pc || o0 >= Co) { return; }
  let t = wid.z;
  let k0 = i32(t * Ci4);
${w.mapped ? COLUMN_MAP : ""}`,
  ];
  for (let j = 0; j < tp; j++) {
    if (!w.mapped) {
      L.push(`  let pr${j} = i32(min(p0 + ${j}u, Pc - 1u)); let pb${j} = 0;`);
      continue;
    }
    L.push(`  let q${j} = min(p0 + ${j}u, Pc - 1u) + CB; let c${j} = (q${j} / PI) * PS + q${j} % PI + V0;`);
    L.push(`  let pr${j} = i32(c${j} % BW); let pb${j} = i32((c${j} / BW) * RB);`);
  }
  for (let i = 0; i < to; i++) L.push(`  let or${i} = i32(min(o0 + ${i}u, Co - 1u));`);
  for (let j = 0; j < tp; j++) for (let i = 0; i < to; i++) L.push(`  var s_${j}_${i} = 0.0;`);
  L.push(`  for (var kt = 0; kt < i32(Ci4); kt++) {
    let k = k0 + kt;`);
  for (let j = 0; j < tp; j++) L.push(`    let v${j} = textureLoad(TV, vec2<i32>(pr${j}, k + pb${j}), 0);`);
  for (let i = 0; i < to; i++) L.push(`    let u${i} = textureLoad(TU, vec2<i32>(or${i}, k), 0);`);
  for (let j = 0; j < tp; j++) for (let i = 0; i < to; i++) L.push(`    s_${j}_${i} += dot(v${j}, u${i});`);
  L.push(`  }`);
  for (let j = 0; j < tp; j++) {
    L.push(`  if (p0 + ${j}u < Pc) {`);
    L.push(`    let r = (t * Co4 + o0 / 4u) * Pc + p0 + ${j}u;`);
    for (let i4 = 0; i4 < to4; i4++) {
      const v = [0, 1, 2, 3].map((c) => `s_${j}_${4 * i4 + c}`).join(", ");
      L.push(`    if (o0 + ${4 * i4}u < Co) { Mb[r + ${i4}u * Pc] = vec4<f32>(${v}); }`);
    }
    L.push(`  }`);
  }
  L.push("}");
  return L.join("\n");
}

/**
 * Output transform: thread per (tile of the chunk, co4), tile fastest. Writes y where the
 * layout's `out` puts it (rows of OW contiguous), adding to it where the layout accumulates.
 * Uniforms: v[0].x n0, v[0].y tiles in this chunk, v[0].w the bias offset. With `bias`, adds
 * B[v[0].w + co] (binding 3) to every output. Rows of 4 outputs go out as one vec4 store when
 * m = 4 and OW is a multiple of 4 (the layout's offsets are then multiples of 4: of OH·OW).
 */
export function outputTransformSource(w: WinogradGeom, bias = false): string {
  const { a } = winogradDims(w);
  // Only the depth taps of 3-D convolutions add to y; 2-D ones store without the branch.
  const store = (at: string, v: string) =>
    w.layered ? `let i = ${at}; let v = ${v}; if (acc) { Y[i] += v; } else { Y[i] = v; }` : `Y[${at}] = ${v};`;
  const { AT } = matrices(w.m);
  const vec4 = w.m === 4 && w.OW % 4 === 0;
  const L: string[] = [
    UNIFORMS,
    `@group(0) @binding(1) var<storage, read> Mb: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> Y: array<${vec4 ? "vec4<f32>" : "f32"}>;
${bias ? "@group(0) @binding(3) var<storage, read> B: array<f32>;" : ""}
${flatMain()}
${geometryLets(w.m)}
  let Pc = P.v[0].y;
  if (gi >= Pc * Co4) { return; }
  let p = gi % Pc;
  let c4 = gi / Pc;
  let n = P.v[0].x + p / T;
  let tp = p % T;
  let h0 = (tp / TW) * ${w.m}u;
  let w0 = (tp % TW) * ${w.m}u;
  let stride = Pc * Co4;
  let acc = P.v[4].w == 1u;
  let ib = OL.x + ${imageAt(w, "OL.y", "OL.z")};`,
  ];
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < a; j++) L.push(`  let M_${i}_${j} = Mb[${i * a + j}u * stride + gi];`);
  }
  L.push(sandwich(AT, "M", "y", "vec4<f32>(0.0)"));
  for (let q = 0; q < 4; q++) {
    L.push(`  if (c4 * 4u + ${q}u < Co) {
    let yb = ib + (c4 * 4u + ${q}u) * OL.w;`);
    L.push(`    let b = ${bias ? `B[P.v[0].w + c4 * 4u + ${q}u]` : "0.0"};`);
    for (let i = 0; i < w.m; i++) {
      const hc = `h0 + ${i}u < OH`;
      if (vec4) {
        // OW is a multiple of 4 (and of the tile edge): a row of the tile is in range or not.
        const v = [0, 1, 2, 3].map((j) => `y_${i}_${j}[${q}]`).join(", ");
        L.push(`    if (${hc}) { ${store(`(yb + (h0 + ${i}u) * OW + w0) / 4u`, `vec4<f32>(${v}) + b`)} }`);
        continue;
      }
      for (let j = 0; j < w.m; j++) {
        const st = store(`yb + (h0 + ${i}u) * OW + w0 + ${j}u`, `y_${i}_${j}[${q}] + b`);
        L.push(`    if (${hc} && w0 + ${j}u < OW) { ${st} }`);
      }
    }
    L.push(`  }`);
  }
  L.push("}");
  return L.join("\n");
}

// ---- weight gradient --------------------------------------------------------------------

const transpose = (M: readonly number[][]): number[][] => M[0].map((_, j) => M.map((r) => r[j]));

/**
 * Output-gradient transform Z = A·dy·Aᵀ (the adjoint of the output transform): thread per
 * (tile of the chunk, co4), tile fastest, into texture texel (tile, t·Co4 + co4). Reads gy
 * where the layout's `out` puts it (rows of OW contiguous). Uniforms as the input transform.
 */
export function gradTransformSource(w: WinogradGeom, bias = false): string {
  const { a } = winogradDims(w);
  const { AT } = matrices(w.m);
  const L: string[] = [
    UNIFORMS,
    `@group(0) @binding(1) var<storage, read> GY: array<f32>;
@group(0) @binding(2) var TZ: texture_storage_2d<rgba32float, write>;
${bias ? "@group(0) @binding(3) var<storage, read_write> PB: array<vec4<f32>>;" : ""}
${flatMain()}
${geometryLets(w.m)}
  let Pc = P.v[0].y;
  if (gi >= Pc * Co4) { return; }
  let p = gi % Pc;
  let c4 = gi / Pc;
  let n = P.v[0].x + p / T;
  let tp = p % T;
  let h0 = (tp / TW) * ${w.m}u;
  let w0 = (tp % TW) * ${w.m}u;
  let ib = OL.x + ${imageAt(w, "OL.y", "OL.z")};`,
  ];
  for (let q = 0; q < 4; q++) {
    L.push(`  let cb${q} = ib + min(c4 * 4u + ${q}u, Co - 1u) * OL.w;`);
    L.push(`  let cq${q} = c4 * 4u + ${q}u < Co;`);
  }
  for (let i = 0; i < w.m; i++) {
    for (let j = 0; j < w.m; j++) {
      L.push(`  let ok_${i}_${j} = h0 + ${i}u < OH && w0 + ${j}u < OW;`);
      L.push(`  let at_${i}_${j} = min(h0 + ${i}u, OH - 1u) * OW + min(w0 + ${j}u, OW - 1u);`);
      const comps = [0, 1, 2, 3].map((q) => `select(0.0, GY[cb${q} + at_${i}_${j}], ok_${i}_${j} && cq${q})`);
      L.push(`  let d_${i}_${j} = vec4<f32>(${comps.join(", ")});`);
    }
  }
  L.push(sandwich(transpose(AT), "d", "z", "vec4<f32>(0.0)"));
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < a; j++) {
      L.push(`  textureStore(TZ, vec2<u32>(p, ${i * a + j}u * Co4 + c4), z_${i}_${j});`);
    }
  }
  if (bias) {
    const terms = Array.from({ length: w.m * w.m }, (_, k) => `d_${Math.floor(k / w.m)}_${k % w.m}`);
    L.push(`  PB[c4 * P.v[1].x * T + n * T + tp] = ${terms.join(" + ")};`);
  }
  L.push("}");
  return L.join("\n");
}

/** Output channels (4 texels) and input-channel texels per thread of the weight-gradient GEMM. */
const WG_CO4 = 4, WG_CI4 = 4;

/** Workgroup size of the weight-gradient GEMM. */
export const WEIGHT_GRAD_WG = 8;

/** Threads of the weight-gradient GEMM: α² × output-channel blocks × input-channel blocks. */
export function weightGradGemmThreads(w: WinogradGeom): number {
  const { a, Ci4, Co4 } = winogradDims(w);
  return a * a * Math.ceil(Co4 / WG_CO4) * Math.ceil(Ci4 / WG_CI4);
}

/**
 * dU[t, co, ci4] (+)= Σ_p Z[t, p, co]·V[t, col(p), ci4] over the tiles of the chunk: thread per
 * (t, block of 16 output channels, block of 4 input-channel texels). Uniforms: v[0].y tiles,
 * v[0].w 1 to add to dU, v[1] the column map. Output vec4 [α², Co, Ci4].
 */
export function weightGradGemmSource(w: WinogradGeom): string {
  const { a } = winogradDims(w);
  const L: string[] = [
    UNIFORMS,
    `@group(0) @binding(1) var TZ: texture_2d<f32>;
@group(0) @binding(2) var TV: texture_2d<f32>;
@group(0) @binding(3) var<storage, read_write> DU: array<vec4<f32>>;
${flatMain(WEIGHT_GRAD_WG)}
${geometryLets(w.m)}
  let nCo = (Co4 + ${WG_CO4 - 1}u) / ${WG_CO4}u;
  let nCi = (Ci4 + ${WG_CI4 - 1}u) / ${WG_CI4}u;
  if (gi >= ${a * a}u * nCo * nCi) { return; }
  let Pc = i32(P.v[0].y);
  let cib = gi % nCi;
  let cob = (gi / nCi) % nCo;
  let t = gi / (nCi * nCo);
${
      w.mapped
        ? `${COLUMN_MAP}
  // V's column of tile p, stepped along with p (no division in the loop).
  var inS = CB % PI; var colBase = (CB / PI) * PS + V0;
  var bx = (colBase + inS) % BW; var br = i32(((colBase + inS) / BW) * RB);`
        : ""
    }`,
  ];
  for (let i = 0; i < WG_CO4; i++) {
    L.push(`  let zr${i} = i32(t * Co4 + min(cob * ${WG_CO4}u + ${i}u, Co4 - 1u));`);
  }
  for (let j = 0; j < WG_CI4; j++) {
    L.push(`  let vr${j} = i32(t * Ci4 + min(cib * ${WG_CI4}u + ${j}u, Ci4 - 1u));`);
  }
  for (let i = 0; i < 4 * WG_CO4; i++) for (let j = 0; j < WG_CI4; j++) L.push(`  var s_${i}_${j} = vec4<f32>(0.0);`);
  L.push(`  for (var p = 0; p < Pc; p++) {`);
  if (w.mapped) {
    L.push(`    let col = i32(bx); let row0 = br;
    inS += 1u; bx += 1u;
    if (inS == PI) {
      inS = 0u; colBase += PS;
      bx = colBase % BW; br = i32((colBase / BW) * RB);
    } else if (bx == BW) { bx = 0u; br += i32(RB); }`);
  } else L.push(`    let col = p; let row0 = 0;`);
  for (let i = 0; i < WG_CO4; i++) L.push(`    let z${i} = textureLoad(TZ, vec2<i32>(p, zr${i}), 0);`);
  for (let j = 0; j < WG_CI4; j++) L.push(`    let v${j} = textureLoad(TV, vec2<i32>(col, vr${j} + row0), 0);`);
  for (let i = 0; i < 4 * WG_CO4; i++) {
    for (let j = 0; j < WG_CI4; j++) {
      L.push(`    s_${i}_${j} = fma(vec4<f32>(z${i >> 2}.${"xyzw"[i & 3]}), v${j}, s_${i}_${j});`);
    }
  }
  L.push(`  }
  let add = P.v[0].w == 1u;`);
  for (let i = 0; i < 4 * WG_CO4; i++) {
    L.push(`  let co${i} = cob * ${4 * WG_CO4}u + ${i}u;`);
    L.push(`  if (co${i} < Co) {`);
    for (let j = 0; j < WG_CI4; j++) {
      L.push(`    let c4_${i}_${j} = cib * ${WG_CI4}u + ${j}u;`);
      L.push(`    if (c4_${i}_${j} < Ci4) {
      let r = (t * Co + co${i}) * Ci4 + c4_${i}_${j};
      DU[r] = select(s_${i}_${j}, DU[r] + s_${i}_${j}, add);
    }`);
    }
    L.push(`  }`);
  }
  L.push("}");
  return L.join("\n");
}

/**
 * dw [Co, Ci, 3, 3] = Gᵀ·dU·G: thread per (co, ci4), into DW[v[0].z + (co·Ci + ci)·KS + k] (KS
 * the layout's kernel volume: 27 puts a depth tap of a 3-D kernel). Reads vec4 dU [α², Co, Ci4]. With `bias`,
 * Co more threads sum the tile sums `gradTransformSource` left ([Co4, N·T] vec4; uniform v[1].x
 * is N) into db [Co]: a thread per channel loops over the N·T tiles (callers keep that within the
 * loop budget).
 */
export function weightGradOutputSource(w: WinogradGeom, bias = false): string {
  const { a } = winogradDims(w);
  const { G } = matrices(w.m);
  const L: string[] = [
    UNIFORMS,
    `@group(0) @binding(1) var<storage, read> DU: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> DW: array<f32>;
${
      bias
        ? `@group(0) @binding(3) var<storage, read> PB: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> DB: array<f32>;`
        : ""
    }
${flatMain()}
${geometryLets(w.m)}
  if (gi >= Co * Ci4) {
${
      bias
        ? `    let co = gi - Co * Ci4;
    if (co >= Co) { return; }
    let NT = P.v[1].x * T; let base = (co / 4u) * NT;
    var s = vec4<f32>(0.0);
    for (var t = 0u; t < NT; t++) { s += PB[base + t]; }
    DB[co] = s[co % 4u];`
        : ""
    }
    return;
  }
  let c4 = gi % Ci4;
  let co = gi / Ci4;`,
  ];
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < a; j++) L.push(`  let e_${i}_${j} = DU[${i * a + j}u * Co * Ci4 + gi];`);
  }
  L.push(sandwich(transpose(G), "e", "g", "vec4<f32>(0.0)"));
  for (let q = 0; q < 4; q++) {
    L.push(`  if (c4 * 4u + ${q}u < Ci) {
    let o = P.v[0].z + (co * Ci + c4 * 4u + ${q}u) * ${kernelVolume(w)};`);
    for (let k = 0; k < 9; k++) L.push(`    DW[o + ${k}u] = g_${Math.floor(k / 3)}_${k % 3}[${q}];`);
    L.push(`  }`);
  }
  L.push("}");
  return L.join("\n");
}
