/**
 * WGSL generators for convolution: im2col / col2im (feeding the matmul kernels) and direct
 * kernels (one output per thread; the memory-bound depthwise case). Every kernel sees the
 * problem as 3-D (1-D and 2-D convolutions have size-1 leading spatial dims) and shares one
 * uniform block, described by `CONV_META_WORDS`.
 */
import { flatMain } from "./wgsl.ts";

/** Number of u32 words of the convolution uniform block. */
export const CONV_META_WORDS = 40;

/**
 * Uniform layout (u32 words): 0 N, 1 C, 2 O, 3 G; 4..6 input D H W, 7 Cg = C/G; 8..10 output
 * OD OH OW, 11 Og = O/G; 12..14 kernel KD KH KW, 15 Kg = Cg·KD·KH·KW; 16..18 strides, 19 L =
 * OD·OH·OW; 20..22 front padding, 23 batch count of this dispatch; 24..26 dilation, 27 x offset;
 * 28..32 x strides (n, c, d, h, w); 33 w offset; 34 thread count; 35 first batch index n0;
 * 36 gy offset; 37 first output position l0 and 38 count LB of the column chunk (im2col and
 * col2im see the output positions l0 … l0 + LB − 1; 0 and L when the columns are not split);
 * 39 col2im adds to what dx holds (1) or writes it (0).
 */
const HEADER = `struct Meta { v: array<vec4<u32>, 10> }
@group(0) @binding(0) var<uniform> P: Meta;
`;

/**
 * Unpacks the geometry. The shape words of `m` are baked in as constants (a pipeline per conv
 * shape): llvmpipe then turns the many index divisions into multiplies, which made im2col
 * several times faster. Offsets, batch chunk and thread count stay in the uniform block.
 */
function unpack(m: Uint32Array): string {
  const u = (i: number) => `${m[i]}u`, i = (k: number) => `${m[k]}i`;
  const v3 = (k: number) => `vec3<i32>(${i(k)}, ${i(k + 1)}, ${i(k + 2)})`;
  return `
  let N = ${u(0)}; let C = ${u(1)}; let O = ${u(2)}; let G = ${u(3)};
  let D = ${i(4)}; let H = ${i(5)}; let W = ${i(6)}; let Cg = ${u(7)};
  let OD = ${i(8)}; let OH = ${i(9)}; let OW = ${i(10)}; let Og = ${u(11)};
  let KD = ${u(12)}; let KH = ${u(13)}; let KW = ${u(14)}; let Kg = ${u(15)};
  let S = ${v3(16)}; let L = ${u(19)};
  let PAD = ${v3(20)}; let NB = P.v[5].w;
  let DIL = ${v3(24)}; let xOff = P.v[6].w;
  let xs = P.v[7]; let xsW = P.v[8].x; let wOff = P.v[8].y; let total = P.v[8].z; let n0 = P.v[8].w;
  let gyOff = P.v[9].x; let l0 = P.v[9].y; let LB = P.v[9].z; let addTo = P.v[9].w == 1u;
  let KK = KD * KH * KW;
  if (gi >= total) { return; }
`;
}

/** WGSL reading input element (n, c, id, ih, iw) through the x strides, 0 outside the input. */
const X_AT = `fn xIndex(xs: vec4<u32>, xsW: u32, n: u32, c: u32, p: vec3<i32>) -> u32 {
  return n * xs.x + c * xs.y + u32(p.x) * xs.z + u32(p.y) * xs.w + u32(p.z) * xsW;
}
fn inside(p: vec3<i32>, D: i32, H: i32, W: i32) -> bool {
  return all(p >= vec3<i32>(0)) && p.x < D && p.y < H && p.z < W;
}
fn kernelPos(k: u32, KH: u32, KW: u32) -> vec3<i32> {
  return vec3<i32>(i32(k / (KH * KW)), i32((k / KW) % KH), i32(k % KW));
}
fn outPos(l: u32, OH: i32, OW: i32) -> vec3<i32> {
  let l_ = i32(l);
  return vec3<i32>(l_ / (OH * OW), (l_ / OW) % OH, l_ % OW);
}
`;

/**
 * Bindings: x (read), then the output column matrix of the output positions l0 … l0 + LB − 1:
 * [nb, G, Kg, LB], or with `wide` (groups 1, unsplit) [Kg, nb, L], whose images sit side by
 * side so that one GEMM serves the whole chunk. Thread per column element.
 */
export function im2colSource(m: Uint32Array, wide = false): string {
  // Wide columns are never split (LB = L) and their image count is baked in with the shape:
  // divisions by constants become multiplies.
  const decode = wide
    ? `  var r = gi / L;
  let nl = r % ${m[23]}u;
  let kidx = r / ${m[23]}u;
  let g = 0u;`
    : `  var r = gi / LB;
  let kidx = r % Kg; r = r / Kg;
  let g = r % G;
  let nl = r / G;`;
  return `${HEADER}@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> COL: array<f32>;
${X_AT}
${flatMain()}${unpack(m)}
  let l = l0 + gi % ${wide ? "L" : "LB"};
${decode}
  let ci = kidx / KK;
  let p = outPos(l, OH, OW) * S - PAD + kernelPos(kidx % KK, KH, KW) * DIL;
  var v = 0.0;
  if (inside(p, D, H, W)) { v = X[xOff + xIndex(xs, xsW, n0 + nl, g * Cg + ci, p)]; }
  COL[gi] = v;
}
`;
}

/**
 * Gathers the column matrix [nb, G, Kg, LB] (or, `wide`, [Kg, nb, L]: see `im2colSource`) back
 * onto the input grid (the adjoint of im2col), summing the entries that map to the same input
 * element; entries of output positions outside l0 … l0 + LB − 1 are another chunk's. Bindings:
 * col (read), dx (written, or added to, from element n0·C·D·H·W). Thread per (nb, C, D, H, W)
 * element; no atomics needed.
 */
export function col2imSource(m: Uint32Array, wide = false): string {
  // Where column row k (of this element's channel) starts, and the stride between rows.
  const rows = wide
    ? `  let colBase = (c % Cg) * KK * NB * LB + nl * LB;
  let rowStride = NB * LB;`
    : `  let colBase = ((nl * G + g) * Kg + (c % Cg) * KK) * LB;
  let rowStride = LB;`;
  return `${HEADER}@group(0) @binding(1) var<storage, read> COL: array<f32>;
@group(0) @binding(2) var<storage, read_write> DX: array<f32>;
${X_AT}
${flatMain()}${unpack(m)}
  let sp = u32(D * H * W);
  let pos = gi % sp;
  let c = (gi / sp) % C;
  let nl = gi / (sp * C);
  let ip = vec3<i32>(i32(pos) / (H * W), (i32(pos) / W) % H, i32(pos) % W);
  let g = c / Cg;
${rows}
  var acc = 0.0;
  for (var k = 0u; k < KK; k++) {
    let t = ip + PAD - kernelPos(k, KH, KW) * DIL;
    let o = t / S;
    if (any(t < vec3<i32>(0)) || any(o * S != t) || o.x >= OD || o.y >= OH || o.z >= OW) { continue; }
    let l = u32((o.x * OH + o.y) * OW + o.z);
    if (l < l0 || l >= l0 + LB) { continue; }
    acc += COL[colBase + k * rowStride + (l - l0)];
  }
  let at = n0 * C * sp + gi;
  if (addTo) { DX[at] = DX[at] + acc; } else { DX[at] = acc; }
}
`;
}

/** Direct convolution, thread per output (n, o, l). Bindings: x, w, y (dense [N, O, L]). */
export function directForwardSource(m: Uint32Array): string {
  return `${HEADER}@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
${X_AT}
${flatMain()}${unpack(m)}
  let l = gi % L;
  let o = (gi / L) % O;
  let n = gi / (L * O);
  let g = o / Og;
  let base = outPos(l, OH, OW) * S - PAD;
  var acc = 0.0;
  for (var k = 0u; k < KK; k++) {
    let p = base + kernelPos(k, KH, KW) * DIL;
    if (!inside(p, D, H, W)) { continue; }
    let xi = xOff + xIndex(xs, xsW, n, g * Cg, p);
    for (var ci = 0u; ci < Cg; ci++) {
      acc = fma(X[xi + ci * xs.y], Wt[wOff + (o * Cg + ci) * KK + k], acc);
    }
  }
  Y[gi] = acc;
}
`;
}

/**
 * Direct data gradient (= transposed convolution), thread per input element (n, c, pos).
 * Bindings: gy (dense [N, O, L] from gyOff), w, dx (dense [N, C, D, H, W]).
 */
export function directDataGradSource(m: Uint32Array): string {
  return `${HEADER}@group(0) @binding(1) var<storage, read> GY: array<f32>;
@group(0) @binding(2) var<storage, read> Wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> DX: array<f32>;
${X_AT}
${flatMain()}${unpack(m)}
  let sp = u32(D * H * W);
  let pos = gi % sp;
  let c = (gi / sp) % C;
  let n = gi / (sp * C);
  let ip = vec3<i32>(i32(pos) / (H * W), (i32(pos) / W) % H, i32(pos) % W);
  let g = c / Cg;
  let ci = c % Cg;
  var acc = 0.0;
  for (var k = 0u; k < KK; k++) {
    let t = ip + PAD - kernelPos(k, KH, KW) * DIL;
    let op = t / S;
    if (any(t < vec3<i32>(0)) || any(op * S != t) || op.x >= OD || op.y >= OH || op.z >= OW) { continue; }
    let gyi = gyOff + (n * O + g * Og) * L + u32((op.x * OH + op.y) * OW + op.z);
    for (var j = 0u; j < Og; j++) {
      acc = fma(GY[gyi + j * L], Wt[wOff + ((g * Og + j) * Cg + ci) * KK + k], acc);
    }
  }
  DX[gi] = acc;
}
`;
}

/**
 * Direct weight gradient, thread per weight element (o, ci, k), summing over images n0 … n0 +
 * nb − 1 and output positions l0 … l0 + LB − 1 (a dispatch's share of the loop budget), added
 * to dw when addTo is set. Bindings: x, gy (dense [N, O, L] from gyOff), dw (dense [O, Cg, KK]).
 */
export function directWeightGradSource(m: Uint32Array): string {
  return `${HEADER}@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> GY: array<f32>;
@group(0) @binding(3) var<storage, read_write> DW: array<f32>;
${X_AT}
${flatMain()}${unpack(m)}
  let k = gi % KK;
  let ci = (gi / KK) % Cg;
  let o = gi / (KK * Cg);
  let c = (o / Og) * Cg + ci;
  let kp = kernelPos(k, KH, KW) * DIL - PAD;
  var acc = 0.0;
  for (var n = n0; n < n0 + NB; n++) {
    let gyBase = gyOff + (n * O + o) * L;
    for (var l = l0; l < l0 + LB; l++) {
      let p = outPos(l, OH, OW) * S + kp;
      if (!inside(p, D, H, W)) { continue; }
      acc = fma(X[xOff + xIndex(xs, xsW, n, c, p)], GY[gyBase + l], acc);
    }
  }
  if (addTo) { DW[gi] = DW[gi] + acc; } else { DW[gi] = acc; }
}
`;
}

/** Header of the small helper kernels: four u32 uniforms `P.v`, `read` at binding 1, `written` at 2. */
function smallKernelHeader(read: string, written: string, element = "f32"): string {
  return `struct Meta { v: vec4<u32> }
@group(0) @binding(0) var<uniform> P: Meta;
@group(0) @binding(1) var<storage, read> ${read}: array<${element}>;
@group(0) @binding(2) var<storage, read_write> ${written}: array<${element}>;
${flatMain()}`;
}

/**
 * Sums `nb` consecutive blocks of `len` floats into one (the weight gradient's batch sum),
 * adding to what the output holds when word 2 is 1. Uniform words: 0 len, 1 nb, 2 accumulate.
 */
export function batchSumSource(): string {
  return `${smallKernelHeader("T", "OUT")}
  let len = P.v.x;
  if (gi >= len) { return; }
  var acc = select(0.0, OUT[gi], P.v.z == 1u);
  for (var n = 0u; n < P.v.y; n++) { acc += T[n * len + gi]; }
  OUT[gi] = acc;
}
`;
}

/**
 * Copies a chunk of output positions, dense [rows, LB], into columns l0 … l0 + LB − 1 of a
 * dense [rows, L] output from element `yOff`. Uniform words: 0 rows·LB, 1 LB, 2 L, 3 l0 + yOff.
 * Bindings: chunk, y.
 */
export function placeColumnsSource(): string {
  return `${smallKernelHeader("T", "Y")}
  if (gi >= P.v.x) { return; }
  Y[P.v.w + (gi / P.v.y) * P.v.z + gi % P.v.y] = T[gi];
}
`;
}

/**
 * Swaps the two outer axes of a dense block: dst [Q, P, L] from src [P, Q, L] (the batch-wide
 * GEMMs' [O, nb, L] against the tensors' [nb, O, L]). P, Q and L are baked in (a pipeline per
 * shape: the index divisions become multiplies). Uniform words: 0 element count, 1 src offset,
 * 2 dst offset. Bindings: src, dst.
 */
export function swapOuterSource(p: number, q: number, l: number, vec4 = false): string {
  // vec4 (L and both offsets multiples of 4; count and offsets in vec4s): a thread moves four
  // neighbours of a row, a quarter of the threads (CPU adapters pay per thread).
  const row = vec4 ? l / 4 : l;
  return `${smallKernelHeader("SRC", "DST", vec4 ? "vec4<f32>" : "f32")}
  if (gi >= P.v.x) { return; }
  let l = gi % ${row}u;
  let r = gi / ${row}u;
  DST[P.v.z + gi] = SRC[P.v.y + ((r % ${p}u) * ${q}u + r / ${p}u) * ${row}u + l];
}
`;
}

/**
 * Adds a per-channel bias in place to a dense [N, O, L] output. Uniform words: 0 element
 * count, 1 L, 2 O, 3 bias offset. Bindings: bias, y.
 */
export function biasSource(): string {
  return `${smallKernelHeader("B", "Y")}
  if (gi >= P.v.x) { return; }
  Y[gi] += B[P.v.w + (gi / P.v.y) % P.v.z];
}
`;
}
