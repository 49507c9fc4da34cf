/**
 * Reduction kernel generator. One thread owns one (output element, chunk) pair and loops
 * over its share of the reduced elements through arbitrary strides; a second pass over the
 * chunk partials finishes large reductions with few outputs.
 */
import { flatMain, metaAt, metaDecl } from "./wgsl.ts";
import type { Scalar } from "./map.ts";

/** Reduction kinds. */
export type ReduceKind = "sum" | "max" | "min" | "argmax" | "argmin";

/** What changes the WGSL source of a reduction. */
export interface ReduceKernel {
  /** Reduction kind. */
  kind: ReduceKind;
  /** Input storage type. */
  input: Scalar;
  /** Accumulator/output type (i32 for arg-reductions). */
  out: Scalar;
  /** Number of kept dims. */
  kept: number;
  /** Number of reduced dims. */
  reduced: number;
  /**
   * f32 sum / max / min whose innermost reduced dim is contiguous and 4-aligned (as are the other
   * strides, the offset and the chunks): x is read as vec4s, four elements per loop step.
   */
  vec4?: boolean;
}

/** Uniform words: M, R, C, chunk, offset, then sizes/strides of kept and reduced dims. */
export function reduceMetaWords(k: ReduceKernel): number {
  return 5 + 2 * k.kept + 2 * k.reduced;
}

const INIT: Record<ReduceKind, Record<Scalar, string>> = {
  sum: { f32: "0.0", i32: "0", u32: "0u" },
  max: { f32: "-3.4028234663852886e38", i32: "-2147483647 - 1", u32: "0u" },
  min: { f32: "3.4028234663852886e38", i32: "2147483647", u32: "4294967295u" },
  argmax: { f32: "-3.4028234663852886e38", i32: "-2147483647 - 1", u32: "0u" },
  argmin: { f32: "3.4028234663852886e38", i32: "2147483647", u32: "4294967295u" },
};

/** WGSL source of a reduction pass. */
export function reduceSource(k: ReduceKernel): string {
  const K = k.kept, J = k.reduced;
  const arg = k.kind === "argmax" || k.kind === "argmin";
  const acc = arg ? k.input : k.out;
  const v4 = !!k.vec4 && !arg;
  let s = metaDecl(reduceMetaWords(k));
  s += `@group(0) @binding(1) var<storage, read> x: array<${v4 ? "vec4<f32>" : k.input}>;\n`;
  s += `@group(0) @binding(2) var<storage, read_write> out: array<${k.out}>;\n`;
  s += `${flatMain()}\n`;
  s += `  let M = ${metaAt(0)}; let R = ${metaAt(1)}; let C = ${metaAt(2)}; let chunk = ${metaAt(3)};\n`;
  s += `  if (gi >= M * C) { return; }\n  let o = gi / C; let c = gi % C;\n`;
  s += `  var base = ${metaAt(4)};\n`;
  if (K > 0) s += `  var rem = o;\n`;
  for (let d = K - 1; d >= 0; d--) {
    s += `  { let n = ${metaAt(5 + d)}; base += (rem % n) * ${metaAt(5 + K + d)}; rem = rem / n; }\n`;
  }
  s += v4
    ? `  var acc4 = vec4<f32>(${INIT[k.kind][acc]});\n`
    : `  var acc: ${acc} = ${INIT[k.kind][acc]};\n  var best: i32 = -1;\n`;
  s += `  let r0 = c * chunk; let r1 = min(R, r0 + chunk);\n`;
  // Decode the chunk's first reduced index once, then step the indices like an odometer: CPU
  // adapters have no vector integer divide, and a div/mod per element made sums 2× slower.
  const size = (d: number) => metaAt(5 + 2 * K + d), stride = (d: number) => metaAt(5 + 2 * K + J + d);
  s += `  var off = base;\n  var q = r0;\n`;
  for (let d = J - 1; d >= 0; d--) {
    s += `  var i${d} = q % ${size(d)}; off += i${d} * ${stride(d)}; q = q / ${size(d)};\n`;
  }
  s += `  for (var r = r0; r < r1; r += ${v4 ? 4 : 1}u) {\n`;
  const v = `${acc}(x[off])`;
  if (v4) s += k.kind === "sum" ? `    acc4 += x[off / 4u];\n` : `    acc4 = ${k.kind}(acc4, x[off / 4u]);\n`;
  else if (k.kind === "sum") s += `    acc += ${v};\n`;
  else if (k.kind === "max") s += `    acc = max(acc, ${v});\n`;
  else if (k.kind === "min") s += `    acc = min(acc, ${v});\n`;
  else {
    const cmp = k.kind === "argmax" ? ">" : "<";
    s += `    let v = ${v};\n    if (best < 0 || v ${cmp} acc || (v != v && acc == acc)) { acc = v; best = i32(r); }\n`;
  }
  // Advance: the innermost index steps; a full dim wraps to 0 and carries outwards.
  let step = "";
  for (let d = 0; d < J; d++) {
    const wrap = d === 0 ? "" : ` if (i${d} == ${size(d)}) { i${d} = 0u; off -= ${size(d)} * ${stride(d)};${step} }`;
    // The innermost dim steps by four in the vec4 form (its stride is 1 there).
    const by = v4 && d === J - 1 ? "4u" : "1u";
    step = ` i${d} += ${by}; off += ${by === "4u" ? "4u" : stride(d)};${wrap}`;
  }
  s += `   ${step}\n  }\n`;
  if (v4) {
    const fold = k.kind === "sum"
      ? "acc4.x + acc4.y + acc4.z + acc4.w"
      : `${k.kind}(${k.kind}(acc4.x, acc4.y), ${k.kind}(acc4.z, acc4.w))`;
    s += `  let acc = ${fold};\n`;
  }
  s += arg ? `  out[gi] = best;\n}\n` : `  out[gi] = acc;\n}\n`;
  return s;
}
