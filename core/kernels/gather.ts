/**
 * Gather along one dim and its deterministic adjoint (scatter-add as a per-output loop).
 *
 * WGSL has no float atomics, so the backward pass does not scatter: each gradient element
 * walks the index entries of its own line and sums the matches in a fixed order, which
 * makes the result bit-for-bit reproducible.
 */
import type { Scalar } from "./map.ts";
import { flatMain, metaAt, metaDecl } from "./wgsl.ts";

/** Value written for an out-of-range index (a loud NaN for floats, 0 for ints). */
const BAD: Record<Scalar, string> = { f32: "bitcast<f32>(0x7fc00000u)", i32: "0", u32: "0u" };

/** Uniform words of the forward kernel: n, xOff, idxOff, xDimStride, xDimSize, then shape/strides. */
export function gatherMetaWords(rank: number): number {
  return 5 + 3 * rank;
}

/**
 * Forward: `out[c] = x[c with c[dim] := index[c]]`, out dense with the index's shape.
 * The dim is folded into the uniforms (x's stride at `dim` is passed as 0), so the source
 * depends only on rank and element type.
 */
export function gatherSource(rank: number, type: Scalar): string {
  const R = rank;
  let s = metaDecl(gatherMetaWords(R));
  s += `@group(0) @binding(1) var<storage, read> x: array<${type}>;\n`;
  s += `@group(0) @binding(2) var<storage, read> idx: array<i32>;\n`;
  s += `@group(0) @binding(3) var<storage, read_write> out: array<${type}>;\n`;
  s += `${flatMain()}\n  if (gi >= ${metaAt(0)}) { return; }\n`;
  s += `  var xo = ${metaAt(1)}; var io = ${metaAt(2)}; var rem = gi;\n`;
  for (let d = R - 1; d >= 0; d--) {
    s += `  { let n = ${metaAt(5 + d)}; let c = rem % n; rem = rem / n; io += c * ${metaAt(5 + R + d)}; ` +
      `xo += c * ${metaAt(5 + 2 * R + d)}; }\n`;
  }
  s += `  let j = idx[io];\n`;
  s += `  if (j < 0 || u32(j) >= ${metaAt(4)}) { out[gi] = ${BAD[type]}; return; }\n`;
  s += `  out[gi] = x[xo + u32(j) * ${metaAt(3)}];\n}\n`;
  return s;
}

/** Uniform words of the backward kernel: n, K, idxOff, gOff, idxDimStride, gDimStride, then 4 arrays. */
export function gatherBackwardMetaWords(rank: number): number {
  return 6 + 4 * rank;
}

/**
 * Backward: `gx[c] = Σ_k [index[c with c[dim] := k] == c[dim]] · g[c with c[dim] := k]`
 * over k < K (the index's size at `dim`), for c inside the index's extent; gx is dense.
 */
export function gatherBackwardSource(rank: number, dim: number): string {
  const R = rank;
  const xShape = (d: number) => metaAt(6 + d);
  const iShape = (d: number) => metaAt(6 + R + d);
  const iStride = (d: number) => metaAt(6 + 2 * R + d);
  const gStride = (d: number) => metaAt(6 + 3 * R + d);
  let s = metaDecl(gatherBackwardMetaWords(R));
  s += `@group(0) @binding(1) var<storage, read> g: array<f32>;\n`;
  s += `@group(0) @binding(2) var<storage, read> idx: array<i32>;\n`;
  s += `@group(0) @binding(3) var<storage, read_write> out: array<f32>;\n`;
  s += `${flatMain()}\n  if (gi >= ${metaAt(0)}) { return; }\n`;
  s += `  var io = ${metaAt(2)}; var go = ${metaAt(3)}; var rem = gi; var j = 0u; var inside = true;\n`;
  for (let d = R - 1; d >= 0; d--) {
    s += `  { let n = ${xShape(d)}; let c = rem % n; rem = rem / n; `;
    s += d === dim
      ? `j = c; }\n`
      : `inside = inside && c < ${iShape(d)}; io += c * ${iStride(d)}; go += c * ${gStride(d)}; }\n`;
  }
  s += `  var acc = 0.0;\n  if (inside) {\n`;
  s += `    let K = ${metaAt(1)}; let istr = ${metaAt(4)}; let gstr = ${metaAt(5)};\n`;
  s += `    for (var k = 0u; k < K; k++) {\n`;
  s += `      if (idx[io + k * istr] == i32(j)) { acc += g[go + k * gstr]; }\n    }\n  }\n`;
  s += `  out[gi] = acc;\n}\n`;
  return s;
}
