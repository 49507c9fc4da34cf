/**
 * Fused softmax / log-softmax along one dim, forward and backward, reading every stream
 * through its own strides (any dim, any view, no copies). A "row" is the line of elements
 * along the dim; the other dims are flattened into the row index.
 *
 * Two layouts: one thread per row (many short rows) or one 64-thread workgroup per row
 * (few long rows), combining partial results in workgroup memory.
 */
import { metaAt, metaDecl } from "./wgsl.ts";

/** What a row kernel computes. */
export type RowMode = "softmax" | "logSoftmax" | "softmaxBackward" | "logSoftmaxBackward";

/** What changes the WGSL source of a row kernel. */
export interface RowKernel {
  /** Computation. */
  mode: RowMode;
  /** Number of dims other than the softmax dim. */
  kept: number;
  /** One thread per row (else one workgroup per row). */
  perThread: boolean;
}

/** Threads per workgroup in both layouts. */
export const ROW_WG = 64;

/** Streams: forward reads x; backward reads y and g; both write out (last stream). */
export function rowStreams(mode: RowMode): number {
  return mode === "softmax" || mode === "logSoftmax" ? 2 : 3;
}

/** Uniform words: rows, L, (offset, dimStride) per stream, kept sizes, kept strides per stream. */
export function rowMetaWords(k: RowKernel): number {
  const S = rowStreams(k.mode);
  return 2 + 2 * S + k.kept + S * k.kept;
}

const NEG_BIG = "-3.4028234663852886e38";

/** WGSL source of a row kernel. */
export function rowSource(k: RowKernel): string {
  const S = rowStreams(k.mode), K = k.kept;
  const forward = S === 2;
  const names = forward ? ["x", "out"] : ["y", "g", "out"];
  let s = metaDecl(rowMetaWords(k));
  names.forEach((n, i) => {
    const access = i === S - 1 ? "read_write" : "read";
    s += `@group(0) @binding(${i + 1}) var<storage, ${access}> ${n}: array<f32>;\n`;
  });
  // Online (max, sum-of-exp) pair: merging two partials rescales to the larger max.
  s += `fn merge(m1: f32, s1: f32, m2: f32, s2: f32) -> vec2<f32> {
  let m = max(m1, m2);
  return vec2<f32>(m, s1 * exp(m1 - m) + s2 * exp(m2 - m));
}\n`;
  if (!k.perThread) {
    s += `var<workgroup> wm: array<f32, ${ROW_WG}>;\nvar<workgroup> ws: array<f32, ${ROW_WG}>;\n`;
    s += `@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  let k0 = lid; let step = ${ROW_WG}u;\n`;
  } else {
    s += `@compute @workgroup_size(${ROW_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * ${ROW_WG}u;
  let k0 = 0u; let step = 1u;\n`;
  }
  s += `  if (row >= ${metaAt(0)}) { return; }\n  let L = ${metaAt(1)};\n`;
  const off = (i: number) => metaAt(2 + 2 * i);
  const dimStride = (i: number) => metaAt(3 + 2 * i);
  for (let i = 0; i < S; i++) s += `  var b${i} = ${off(i)}; let s${i} = ${dimStride(i)};\n`;
  if (K > 0) s += `  var rem = row;\n`;
  for (let d = K - 1; d >= 0; d--) {
    s += `  { let n = ${metaAt(2 + 2 * S + d)}; let c = rem % n; rem = rem / n;`;
    for (let i = 0; i < S; i++) s += ` b${i} += c * ${metaAt(2 + 2 * S + K + i * K + d)};`;
    s += ` }\n`;
  }
  const at = (i: number) => `${names[i]}[b${i} + k * s${i}]`;
  const loop = (body: string) => `  for (var k = k0; k < L; k += step) {\n${body}  }\n`;
  const wgReduce = (combine: string) =>
    k.perThread ? "" : `  workgroupBarrier();
  for (var w = ${ROW_WG / 2}u; w > 0u; w = w >> 1u) {
    if (lid < w) { ${combine} }
    workgroupBarrier();
  }\n`;
  if (forward) {
    s += `  var m = ${NEG_BIG}; var sum = 0.0;\n`;
    s += loop(`    let v = ${at(0)};
    if (v > m) { sum = sum * exp(m - v) + 1.0; m = v; } else { sum += exp(v - m); }\n`);
    if (!k.perThread) {
      s += `  wm[lid] = m; ws[lid] = sum;\n`;
      s += wgReduce(`let r = merge(wm[lid], ws[lid], wm[lid + w], ws[lid + w]); wm[lid] = r.x; ws[lid] = r.y;`);
      s += `  m = wm[0]; sum = ws[0];\n`;
    }
    // (x − m) − log Σ: x − m is exact, so large logits lose no precision (unlike x − (m + log Σ)).
    const write = k.mode === "softmax" ? `exp(${at(0)} - m) * inv` : `(${at(0)} - m) - ls`;
    s += k.mode === "softmax" ? `  let inv = 1.0 / sum;\n` : `  let ls = log(sum);\n`;
    s += loop(`    ${at(S - 1)} = ${write};\n`);
  } else {
    // softmax: dx = y (g − Σ g·y); logSoftmax (y = log p): dx = g − exp(y) Σ g.
    const term = k.mode === "softmaxBackward" ? `${at(1)} * ${at(0)}` : at(1);
    s += `  var acc = 0.0;\n` + loop(`    acc += ${term};\n`);
    if (!k.perThread) {
      s += `  ws[lid] = acc;\n` + wgReduce(`ws[lid] = ws[lid] + ws[lid + w];`) + `  acc = ws[0];\n`;
    }
    const write = k.mode === "softmaxBackward" ? `${at(0)} * (${at(1)} - acc)` : `${at(1)} - exp(${at(0)}) * acc`;
    s += loop(`    ${at(S - 1)} = ${write};\n`);
  }
  return s + `}\n`;
}
