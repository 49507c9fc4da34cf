/**
 * Concatenation and its adjoint in one dispatch for several pieces: a thread per element of the
 * concatenated ("big") tensor decodes its coordinates, finds the piece that holds it along the
 * cat dim, and copies between the big tensor and that piece (each with its own offset and
 * strides, so views need no copy first). `gather` writes the big tensor from the pieces (cat);
 * otherwise the pieces are written from the big tensor (cat's backward: the gradient's windows),
 * skipping pieces whose uniform `write` word is 0.
 */
import type { Scalar } from "./map.ts";
import { flatMain, metaAt, metaDecl } from "./wgsl.ts";

/** Most pieces one dispatch takes (storage bindings per stage are at least 8: the pieces and the big tensor). */
export const CAT_MAX_PIECES = 7;

/**
 * Uniform words for `pieces` pieces of rank `rank`: 0 the element count; 1.. the big tensor's
 * shape; its offset and strides; the pieces' starts along the cat dim; per piece its offset,
 * strides and `write` flag.
 */
export function catMetaWords(rank: number, pieces: number): number {
  return 2 + 2 * rank + pieces + pieces * (rank + 2);
}

/** Word index of piece `p`'s block (offset, strides, write). */
export function catPieceWord(rank: number, pieces: number, p: number): number {
  return 2 + 2 * rank + pieces + p * (rank + 2);
}

/** The WGSL of a cat (`gather`) or of its adjoint, for `pieces` pieces of `type` along `dim`. */
export function catSource(rank: number, dim: number, pieces: number, type: Scalar, gather: boolean): string {
  const R = rank, K = pieces;
  const shape = (d: number) => metaAt(1 + d);
  const bigOff = metaAt(1 + R);
  const bigStride = (d: number) => metaAt(2 + R + d);
  const start = (p: number) => metaAt(2 + 2 * R + p);
  const piece = (p: number, j: number) => metaAt(catPieceWord(R, K, p) + j); // 0 offset, 1..R strides, R+1 write
  let s = metaDecl(catMetaWords(R, K));
  s += `@group(0) @binding(1) var<storage, ${gather ? "read_write" : "read"}> big: array<${type}>;\n`;
  for (let p = 0; p < K; p++) {
    s += `@group(0) @binding(${p + 2}) var<storage, ${gather ? "read" : "read_write"}> x${p}: array<${type}>;\n`;
  }
  s += `${flatMain()}\n  if (gi >= ${metaAt(0)}) { return; }\n  var rem = gi;\n`;
  for (let d = R - 1; d >= 0; d--) s += `  let c${d} = rem % ${shape(d)}; rem = rem / ${shape(d)};\n`;
  s += `  var p = 0u;\n`;
  for (let p = 1; p < K; p++) s += `  if (c${dim} >= ${start(p)}) { p = ${p}u; }\n`;
  const sum = (terms: string[]) => terms.join(" + ");
  s += `  let bi = ${sum([bigOff, ...Array.from({ length: R }, (_, d) => `c${d} * ${bigStride(d)}`)])};\n`;
  for (let p = 0; p < K; p++) {
    const coord = (d: number) => (d === dim ? `(c${d} - ${start(p)})` : `c${d}`);
    const at = sum([piece(p, 0), ...Array.from({ length: R }, (_, d) => `${coord(d)} * ${piece(p, 1 + d)}`)]);
    s += gather
      ? `  if (p == ${p}u) { big[bi] = x${p}[${at}]; }\n`
      : `  if (p == ${p}u && ${piece(p, R + 1)} != 0u) { x${p}[${at}] = big[bi]; }\n`;
  }
  return s + "}\n";
}
