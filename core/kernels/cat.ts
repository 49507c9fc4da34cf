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

/** Uniforms, the big tensor and `K` pieces of element type `el` (the written side per `gather`), and the thread guard. */
function header(words: number, K: number, el: string, gather: boolean): string {
  let s = metaDecl(words);
  s += `@group(0) @binding(1) var<storage, ${gather ? "read_write" : "read"}> big: array<${el}>;\n`;
  for (let p = 0; p < K; p++) {
    s += `@group(0) @binding(${p + 2}) var<storage, ${gather ? "read" : "read_write"}> x${p}: array<${el}>;\n`;
  }
  return s + `${flatMain()}\n  if (gi >= ${metaAt(0)}) { return; }\n`;
}

/** The WGSL of a cat (`gather`) or of its adjoint, for `pieces` pieces of `type` along `dim`. */
export function catSource(rank: number, dim: number, pieces: number, type: Scalar, gather: boolean): string {
  const R = rank, K = pieces;
  const shape = (d: number) => metaAt(1 + d);
  const bigOff = metaAt(1 + R);
  const bigStride = (d: number) => metaAt(2 + R + d);
  const start = (p: number) => metaAt(2 + 2 * R + p);
  const piece = (p: number, j: number) => metaAt(catPieceWord(R, K, p) + j); // 0 offset, 1..R strides, R+1 write
  let s = header(catMetaWords(R, K), K, type, gather) + "  var rem = gi;\n";
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

/** Elements of the inner block one thread of {@linkcode catRowsSource} copies at most. */
export const CAT_ROW_CHUNK = 1024;

/** Uniform words of {@linkcode catRowsSource}: 6 header words, outer shape, big's block, starts, pieces' blocks. */
export function catRowsMetaWords(outer: number, pieces: number): number {
  return 6 + outer + (outer + 2) + pieces + pieces * (outer + 3);
}

/** Word index of piece `p`'s block (offset, outer strides, cat-dim stride, write) in the rows layout. */
export function catRowsPieceWord(outer: number, pieces: number, p: number): number {
  return 6 + outer + (outer + 2) + pieces + p * (outer + 3);
}

/**
 * The same copies where every tensor's dims after the cat dim form one contiguous block of `I`
 * elements (a cat along channels of NCHW maps, say): a thread per (outer index, index along the
 * cat dim, chunk of the block) decodes its place once and copies a run, vec4 at a time with
 * `vec4` (I, every offset and every outer / cat-dim stride multiples of 4). Uniform words: 0
 * threads, 1 I, 2 chunks per block, 3 the cat dim's size in `big`, 4, 5 unused; the `outer`
 * dims' sizes; big's offset, outer strides and cat-dim stride; the starts; per piece its
 * offset, outer strides, cat-dim stride and `write` flag.
 */
export function catRowsSource(outer: number, pieces: number, type: Scalar, gather: boolean, vec4: boolean): string {
  const O = outer, K = pieces;
  const at = (i: number) => metaAt(i);
  const shape = (j: number) => at(6 + j);
  const bigBase = 6 + O;
  const start = (p: number) => at(bigBase + O + 2 + p);
  const piece = (p: number, j: number) => at(catRowsPieceWord(O, K, p) + j); // 0 offset, 1..O outer, O+1 cat dim, O+2 write
  const el = vec4 ? `vec4<${type}>` : type;
  const q = vec4 ? 4 : 1;
  let s = header(catRowsMetaWords(O, K), K, el, gather);
  s += `  let I = ${at(1)}; let nch = ${at(2)};\n`;
  s += `  let chunk = gi % nch; var r = gi / nch;\n  let dd = r % ${at(3)}; r = r / ${at(3)};\n`;
  s += `  var bo = ${at(bigBase)} + dd * ${at(bigBase + O + 1)};\n`;
  for (let j = O - 1; j >= 0; j--) {
    s += `  let c${j} = r % ${shape(j)}; r = r / ${shape(j)}; bo += c${j} * ${at(bigBase + 1 + j)};\n`;
  }
  s += `  var p = 0u;\n`;
  for (let p = 1; p < K; p++) s += `  if (dd >= ${start(p)}) { p = ${p}u; }\n`;
  s += `  let i0 = chunk * ${CAT_ROW_CHUNK}u; let n = (min(${CAT_ROW_CHUNK}u, I - i0)) / ${q}u;\n`;
  s += `  let b0 = (bo + i0) / ${q}u;\n`;
  for (let p = 0; p < K; p++) {
    const terms = [piece(p, 0), `(dd - ${start(p)}) * ${piece(p, O + 1)}`, "i0"];
    for (let j = 0; j < O; j++) terms.push(`c${j} * ${piece(p, 1 + j)}`);
    const cond = gather ? `p == ${p}u` : `p == ${p}u && ${piece(p, O + 2)} != 0u`;
    const copy = gather ? `big[b0 + i] = x${p}[s0 + i];` : `x${p}[s0 + i] = big[b0 + i];`;
    s += `  if (${cond}) {\n    let s0 = (${terms.join(" + ")}) / ${q}u;\n`;
    s += `    for (var i = 0u; i < n; i++) { ${copy} }\n  }\n`;
  }
  return s + "}\n";
}

/**
 * The copies of a cat along the last dim (blocks of one element, where `catRowsSource` would
 * spend a thread per element): a thread per (outer index, piece, chunk of the piece's run), each
 * piece's run contiguous in it and in `big`. The uniform layout is `catRowsSource`'s (word 1 unused,
 * word 2 chunks per run, word 3 the cat dim's size in `big`).
 */
export function catRunsSource(outer: number, pieces: number, type: Scalar, gather: boolean, vec4: boolean): string {
  const O = outer, K = pieces;
  const at = (i: number) => metaAt(i);
  const bigBase = 6 + O;
  const start = (p: number) => (p < K ? at(bigBase + O + 2 + p) : at(3));
  const piece = (p: number, j: number) => at(catRowsPieceWord(O, K, p) + j);
  const el = vec4 ? `vec4<${type}>` : type;
  const q = vec4 ? 4 : 1;
  let s = header(catRowsMetaWords(O, K), K, el, gather) + `  let nch = ${at(2)};\n`;
  s += `  let chunk = gi % nch; var r = gi / nch;\n  let p = r % ${K}u; r = r / ${K}u;\n`;
  s += `  var bo = ${at(bigBase)};\n`;
  for (let j = O - 1; j >= 0; j--) {
    s += `  let c${j} = r % ${at(6 + j)}; r = r / ${at(6 + j)}; bo += c${j} * ${at(bigBase + 1 + j)};\n`;
  }
  s += `  let i0 = chunk * ${CAT_ROW_CHUNK}u;\n`;
  for (let p = 0; p < K; p++) {
    const terms = [piece(p, 0), "i0"];
    for (let j = 0; j < O; j++) terms.push(`c${j} * ${piece(p, 1 + j)}`);
    const cond = gather ? `p == ${p}u` : `p == ${p}u && ${piece(p, O + 2)} != 0u`;
    const copy = gather ? `big[b0 + i] = x${p}[s0 + i];` : `x${p}[s0 + i] = big[b0 + i];`;
    s += `  if (${cond}) {\n    let len = ${start(p + 1)} - ${start(p)};\n    if (i0 >= len) { return; }\n`;
    s += `    let n = min(${CAT_ROW_CHUNK}u, len - i0) / ${q}u;\n`;
    s += `    let b0 = (bo + ${start(p)} + i0) / ${q}u; let s0 = (${terms.join(" + ")}) / ${q}u;\n`;
    s += `    for (var i = 0u; i < n; i++) { ${copy} }\n  }\n`;
  }
  return s + "}\n";
}
