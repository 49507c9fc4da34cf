/**
 * Generator for elementwise ("map") kernels: one WGSL expression over N inputs, each read
 * through its own strides (so broadcasting and non-contiguous views cost nothing extra),
 * written to a fresh contiguous output.
 */
import { flatMain, MATH_HELPERS, metaAt, metaDecl } from "./wgsl.ts";

/** WGSL scalar types we load and store. */
export type Scalar = "f32" | "i32" | "u32";

/** Description of one map kernel (everything that changes the WGSL source). */
export interface MapKernel {
  /** WGSL expression computing the output from the named variables. */
  expr: string;
  /** Variable name of each tensor input in `expr`. */
  names: string[];
  /** Storage type of each tensor input. */
  storage: Scalar[];
  /** Type each input is converted to when loaded. */
  load: Scalar[];
  /** Variable names of scalar parameters (`p0`…), passed as bits in the uniform block. */
  params: { name: string; type: Scalar }[];
  /** Output storage type. */
  out: Scalar;
  /** `T` in `expr` is an alias for this type. */
  compute: Scalar;
  /** Output rank; ignored when `contiguous`. */
  rank: number;
  /** All inputs dense and of the output's shape: index them directly. */
  contiguous: boolean;
  /**
   * Contiguous, with every offset and the element count divisible by 4: a thread maps four
   * elements, loaded and stored as vec4 (CPU adapters gather each lane's load separately, so
   * this is a quarter of the loads). The count and offsets in the uniform block are in vec4s.
   */
  vec4?: boolean;
  /**
   * Strided, four elements per thread along the innermost walked dim (its size a multiple of 4):
   * per input, "vec" where that dim has stride 1 (read as vec4; its offset and other strides
   * multiples of 4) or "splat" where it has stride 0 (one value for all four, as a broadcast
   * bias). A strided output must be "vec" too (concatenation writes). The count in the uniform
   * block is in vec4s.
   */
  rowVec4?: ("vec" | "splat")[];
  /** Write through the output's own offset/strides (assignment into a view). */
  stridedOut?: boolean;
  /** Extra WGSL functions the expression calls. */
  preamble?: string;
}

/** Number of u32 words in the uniform block of a map kernel. */
export function mapMetaWords(k: MapKernel): number {
  const n = k.names.length;
  const streams = n + (k.stridedOut ? 1 : 0);
  return k.contiguous ? 1 + k.params.length + n : 1 + k.params.length + k.rank + streams * (1 + k.rank);
}

/** WGSL source of a map kernel. */
export function mapSource(k: MapKernel): string {
  const n = k.names.length;
  const P = k.params.length;
  const R = k.rank;
  const row = k.rowVec4;
  const vecIn = (i: number) => k.vec4 || row?.[i] === "vec";
  let s = metaDecl(mapMetaWords(k));
  for (let i = 0; i < n; i++) {
    const t = vecIn(i) ? `vec4<${k.storage[i]}>` : k.storage[i];
    s += `@group(0) @binding(${i + 1}) var<storage, read> in${i}: array<${t}>;\n`;
  }
  s += `@group(0) @binding(${n + 1}) var<storage, read_write> out: array<${
    k.vec4 || row ? `vec4<${k.out}>` : k.out
  }>;\n`;
  s += `alias T = ${k.compute};\n${MATH_HELPERS}\n${k.preamble ?? ""}\n${flatMain()}\n`;
  s += `  if (gi >= ${metaAt(0)}) { return; }\n`;
  k.params.forEach((p, j) => {
    s += `  let ${p.name} = bitcast<${p.type}>(${metaAt(1 + j)});\n`;
  });
  if (k.contiguous && k.stridedOut) throw new Error("internal: strided output needs the strided path");
  const streams = n + (k.stridedOut ? 1 : 0); // the output is stream n when strided
  // Each strided stream's element offset `o<i>` of flat output element `first`, dim by dim.
  const streamOffsets = (first: string) => {
    let b = "";
    for (let i = 0; i < streams; i++) b += `  var o${i} = ${metaAt(1 + P + R + i * (1 + R))};\n`;
    if (R > 0) b += `  var rem = ${first};\n`;
    for (let d = R - 1; d >= 0; d--) {
      b += `  { let dim = ${metaAt(1 + P + d)}; let c = rem % dim; rem = rem / dim;\n`;
      for (let i = 0; i < streams; i++) b += `    o${i} += c * ${metaAt(1 + P + R + i * (1 + R) + 1 + d)};\n`;
      b += `  }\n`;
    }
    return b;
  };
  // The scalar expression four times, a block per component (its lets shadow nothing outside).
  const fourWide = (value: (i: number, c: number) => string, to = "gi") => {
    let b = `  var r: vec4<${k.out}>;\n`;
    for (let c = 0; c < 4; c++) {
      // An expression may use the element index (arange, eye): the block's own, shadowing the thread's.
      b += `  {\n${/\bgi\b/.test(k.expr) ? `    let gi = gi * 4u + ${c}u;\n` : ""}`;
      for (let i = 0; i < n; i++) {
        const v = value(i, c);
        b += `    let ${k.names[i]} = ${k.load[i] === k.storage[i] ? v : `${k.load[i]}(${v})`};\n`;
      }
      b += `    r[${c}] = ${k.out}(${k.expr});\n  }\n`;
    }
    return b + `  out[${to}] = r;\n}\n`;
  };
  if (k.vec4) {
    if (!k.contiguous) throw new Error("internal: the vec4 path needs contiguous streams");
    for (let i = 0; i < n; i++) s += `  let v${i} = in${i}[${metaAt(1 + P + i)} + gi];\n`;
    return s + fourWide((i, c) => `v${i}[${c}]`);
  }
  if (row) {
    if (k.contiguous) throw new Error("internal: the row-vec4 path needs strided inputs");
    s += streamOffsets("gi * 4u");
    for (let i = 0; i < n; i++) s += `  let v${i} = in${i}[o${i}${row[i] === "vec" ? " / 4u" : ""}];\n`;
    return s + fourWide((i, c) => (row[i] === "vec" ? `v${i}[${c}]` : `v${i}`), k.stridedOut ? `o${n} / 4u` : "gi");
  }
  if (k.contiguous) {
    for (let i = 0; i < n; i++) s += `  let o${i} = ${metaAt(1 + P + i)} + gi;\n`;
  } else {
    s += streamOffsets("gi");
  }
  for (let i = 0; i < n; i++) {
    const v = `in${i}[o${i}]`;
    s += `  let ${k.names[i]} = ${k.load[i] === k.storage[i] ? v : `${k.load[i]}(${v})`};\n`;
  }
  s += `  out[${k.stridedOut ? `o${n}` : "gi"}] = ${k.out}(${k.expr});\n}\n`;
  return s;
}
