/**
 * Attention kernels. The flash path runs one thread per query row (forward, dQ) or key row
 * (dK/dV) with an online softmax over the other side, so nothing of size Lq×Lk is stored:
 * the forward saves only each row's logsumexp and the backward recomputes the scores.
 * The composite path's fused scale + mask + softmax row kernel (and its backward) live here
 * too, so both paths share one masking rule.
 *
 * Masking rule: a bool mask entry 0, a float mask entry −∞ or a causal cut (key j > query i)
 * removes the key; a row with every key removed outputs zeros (PyTorch's `_safe_softmax`).
 * Removed keys are skipped by a flag, never through ∞ arithmetic (shader math may assume
 * finite values).
 */
import { metaAt, metaDecl } from "./wgsl.ts";

/** Which kernel. */
export type AttnPass = "forward" | "delta" | "backwardQ" | "backwardKV" | "softmax" | "softmaxBackward";

/** How the mask is stored. */
export type MaskKind = "none" | "bool" | "float";

/** What changes the WGSL source of an attention kernel. */
export interface AttnKernel {
  /** Computation. */
  pass: AttnPass;
  /** Number of (broadcast) batch dims in front of the token dim. */
  batchDims: number;
  /** Query/key feature size (flash passes keep a row of it in registers). */
  dim: number;
  /** Value feature size. */
  valueDim: number;
  /** Mask storage. */
  mask: MaskKind;
  /** Causal (top-left aligned) cut. */
  causal: boolean;
}

/** Threads per workgroup. */
export const ATTN_WG = 64;

/** Sentinel logsumexp of a fully masked row: exp(s − it) is 0 for every finite score. */
const LSE_EMPTY = "3.0e38";
const NEG_BIG = "-3.4028234663852886e38";

/** Streams read through (offset, token stride, feature stride, batch strides). */
export function attnStrided(k: AttnKernel): string[] {
  const m = k.mask === "none" ? [] : ["m"];
  if (k.pass === "forward" || k.pass === "backwardQ" || k.pass === "backwardKV") return ["q", "k", "v", ...m];
  return k.pass === "softmax" ? m : [];
}

/** Dense inputs (read at an offset, row-major), then the outputs (dense, offset 0). */
export function attnDense(k: AttnKernel): { inputs: string[]; outputs: string[] } {
  const table: Record<AttnPass, { inputs: string[]; outputs: string[] }> = {
    forward: { inputs: [], outputs: ["o", "lse"] },
    delta: { inputs: ["dO", "o", "lse"], outputs: ["stats"] },
    backwardQ: { inputs: ["dO", "stats"], outputs: ["dq"] },
    backwardKV: { inputs: ["dO", "stats"], outputs: ["dk", "dv"] },
    softmax: { inputs: ["sc"], outputs: ["p"] },
    softmaxBackward: { inputs: ["p", "g"], outputs: ["ds"] },
  };
  return table[k.pass];
}

/**
 * Uniform words: rows, Lq, Lk, scale, batch sizes, per strided stream (off, rs, cs, batch
 * strides), dense offsets, then the span s0 … s1 − 1 of the other side's rows (keys for the
 * forward and dQ, queries for dK/dV) this dispatch walks: a flash pass may be split into spans
 * to stay within a software adapter's loop budget, the later ones carrying on from the outputs.
 */
export function attnMetaWords(k: AttnKernel): number {
  const nb = k.batchDims;
  return 4 + nb + attnStrided(k).length * (3 + nb) + attnDense(k).inputs.length + 2;
}

/** Declarations, thread index, uniforms and per-stream batch offsets. */
function prologue(k: AttnKernel): string {
  const nb = k.batchDims;
  const strided = attnStrided(k);
  const { inputs, outputs } = attnDense(k);
  let src = metaDecl(attnMetaWords(k));
  let b = 1;
  for (const n of strided) {
    const t = n === "m" && k.mask === "bool" ? "u32" : "f32";
    src += `@group(0) @binding(${b++}) var<storage, read> ${n}: array<${t}>;\n`;
  }
  for (const n of inputs) src += `@group(0) @binding(${b++}) var<storage, read> ${n}: array<f32>;\n`;
  for (const n of outputs) src += `@group(0) @binding(${b++}) var<storage, read_write> ${n}: array<f32>;\n`;
  src += `@compute @workgroup_size(${ATTN_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gi = gid.x + gid.y * nwg.x * ${ATTN_WG}u;
  if (gi >= ${metaAt(0)}) { return; }
  let Lq = ${metaAt(1)}; let Lk = ${metaAt(2)}; let scale = bitcast<f32>(${metaAt(3)});\n`;
  strided.forEach((n, si) => {
    const w = 4 + nb + si * (3 + nb);
    src += `  var b_${n} = ${metaAt(w)}; let rs_${n} = ${metaAt(w + 1)}; let cs_${n} = ${metaAt(w + 2)};\n`;
  });
  const denseOff = 4 + nb + strided.length * (3 + nb);
  inputs.forEach((n, i) => (src += `  let off_${n} = ${metaAt(denseOff + i)};\n`));
  const spanAt = denseOff + inputs.length;
  src += `  let s0 = ${metaAt(spanAt)}; let s1 = ${metaAt(spanAt + 1)};\n`;
  if (strided.length > 0 || k.pass === "softmax") {
    // Thread → (batch index bi, row r); the batch index spreads over every strided stream.
    const L = k.pass === "backwardKV" ? "Lk" : "Lq";
    src += `  let r = gi % ${L}; let bi = gi / ${L};\n  var rem = bi;\n`;
    for (let d = nb - 1; d >= 0; d--) {
      src += `  { let n = ${metaAt(4 + d)}; let c = rem % n; rem = rem / n;`;
      strided.forEach((n, si) => (src += ` b_${n} += c * ${metaAt(4 + nb + si * (3 + nb) + 3 + d)};`));
      src += ` }\n`;
    }
  }
  return src;
}

/** Statement that skips key `j` of query `i` when masked, else adds a float mask to `s`. */
function maskStmt(k: AttnKernel, i: string, j: string): string {
  const at = `m[b_m + ${i} * rs_m + ${j} * cs_m]`;
  if (k.mask === "bool") return `    if (${at} == 0u) { continue; }\n`;
  if (k.mask === "float") {
    return `    { let mv = ${at}; if (bitcast<u32>(mv) == 0xff800000u) { continue; } s += mv; }\n`;
  }
  return "";
}

/** WGSL source of one attention kernel. */
export function attnSource(k: AttnKernel): string {
  const D = k.dim, DV = k.valueDim;
  let src = prologue(k);
  const dotQK = (qa: (t: string) => string, ka: (t: string) => string) =>
    `    var s = 0.0;\n    for (var t = 0u; t < ${D}u; t++) { s += ${qa("t")} * ${ka("t")}; }\n    s = s * scale;\n`;
  const loadRow = (arr: string, n: number, expr: (t: string) => string) =>
    `  var ${arr}: array<f32, ${n}>;\n  for (var t = 0u; t < ${n}u; t++) { ${arr}[t] = ${expr("t")}; }\n`;
  const jEnd = k.causal ? "min(min(Lk, r + 1u), s1)" : "min(Lk, s1)";
  const qAt = (i: string, t: string) => `q[b_q + ${i} * rs_q + ${t} * cs_q]`;
  const kAt = (j: string, t: string) => `k[b_k + ${j} * rs_k + ${t} * cs_k]`;
  const vAt = (j: string, u: string) => `v[b_v + ${j} * rs_v + ${u} * cs_v]`;
  switch (k.pass) {
    case "forward":
      src += loadRow("qr", D, (t) => qAt("r", t));
      // A later span resumes from the output and logsumexp so far (as mx = lse, l = 1).
      src += `  var acc: array<f32, ${DV}>;\n  var mx = ${NEG_BIG}; var l = 0.0;
  if (s0 > 0u && lse[gi] != ${LSE_EMPTY}) {
    mx = lse[gi]; l = 1.0;
    for (var u = 0u; u < ${DV}u; u++) { acc[u] = o[gi * ${DV}u + u]; }
  }
  for (var j = s0; j < ${jEnd}; j++) {\n`;
      src += dotQK((t) => `qr[${t}]`, (t) => kAt("j", t)) + maskStmt(k, "r", "j");
      // Online softmax: rescale the running sum and accumulator when the max grows.
      src += `    if (s > mx) {
      let c = exp(mx - s); l = l * c + 1.0; mx = s;
      for (var u = 0u; u < ${DV}u; u++) { acc[u] = acc[u] * c + ${vAt("j", "u")}; }
    } else {
      let p = exp(s - mx); l += p;
      for (var u = 0u; u < ${DV}u; u++) { acc[u] += p * ${vAt("j", "u")}; }
    }
  }
  let inv = select(0.0, 1.0 / l, l > 0.0);
  for (var u = 0u; u < ${DV}u; u++) { o[gi * ${DV}u + u] = acc[u] * inv; }
  lse[gi] = select(${LSE_EMPTY}, mx + log(l), l > 0.0);\n`;
      break;
    case "delta":
      // stats = (lse, Σ dO·O) per query row, packed so the backward kernels fit 8 buffers.
      src += `  var acc = 0.0;
  for (var u = 0u; u < ${DV}u; u++) { acc += dO[off_dO + gi * ${DV}u + u] * o[off_o + gi * ${DV}u + u]; }
  stats[2u * gi] = lse[off_lse + gi]; stats[2u * gi + 1u] = acc;\n`;
      break;
    case "backwardQ":
      src += loadRow("qr", D, (t) => qAt("r", t));
      src += loadRow("gr", DV, (t) => `dO[off_dO + gi * ${DV}u + ${t}]`);
      src += `  let ls = stats[off_stats + 2u * gi]; let dl = stats[off_stats + 2u * gi + 1u];
  var acc: array<f32, ${D}>;
  for (var j = s0; j < ${jEnd}; j++) {\n`;
      src += dotQK((t) => `qr[${t}]`, (t) => kAt("j", t)) + maskStmt(k, "r", "j");
      src += `    let p = exp(s - ls);
    var dp = 0.0;
    for (var u = 0u; u < ${DV}u; u++) { dp += gr[u] * ${vAt("j", "u")}; }
    let ds = p * (dp - dl);
    for (var t = 0u; t < ${D}u; t++) { acc[t] += ds * ${kAt("j", "t")}; }
  }
  for (var t = 0u; t < ${D}u; t++) { dq[gi * ${D}u + t] = select(0.0, dq[gi * ${D}u + t], s0 > 0u) + acc[t] * scale; }\n`;
      break;
    case "backwardKV":
      src += loadRow("kr", D, (t) => kAt("r", t));
      src += loadRow("vr", DV, (t) => vAt("r", t));
      src += `  var ak: array<f32, ${D}>;\n  var av: array<f32, ${DV}>;
  for (var i = ${k.causal ? "max(r, s0)" : "s0"}; i < min(Lq, s1); i++) {
    let qi = bi * Lq + i;\n`;
      src += dotQK((t) => qAt("i", t), (t) => `kr[${t}]`) + maskStmt(k, "i", "r");
      src += `    let p = exp(s - stats[off_stats + 2u * qi]);
    var dp = 0.0;
    for (var u = 0u; u < ${DV}u; u++) {
      let g = dO[off_dO + qi * ${DV}u + u];
      dp += g * vr[u]; av[u] += p * g;
    }
    let ds = p * (dp - stats[off_stats + 2u * qi + 1u]);
    for (var t = 0u; t < ${D}u; t++) { ak[t] += ds * ${qAt("i", "t")}; }
  }
  for (var t = 0u; t < ${D}u; t++) { dk[gi * ${D}u + t] = select(0.0, dk[gi * ${D}u + t], s0 > 0u) + ak[t] * scale; }
  for (var u = 0u; u < ${DV}u; u++) { dv[gi * ${DV}u + u] = select(0.0, dv[gi * ${DV}u + u], s0 > 0u) + av[u]; }\n`;
      break;
    case "softmax": {
      // Composite path: p = softmax(scale·sc + mask) over one row of the dense score matrix.
      const load = `    var s = sc[off_sc + gi * Lk + j] * scale;\n` + maskStmt(k, "r", "j");
      src += `  var mx = ${NEG_BIG}; var l = 0.0;
  for (var j = 0u; j < ${jEnd}; j++) {\n${load}`;
      src += `    if (s > mx) { l = l * exp(mx - s) + 1.0; mx = s; } else { l += exp(s - mx); }
  }
  let ls = select(${LSE_EMPTY}, mx + log(l), l > 0.0);
  for (var j = 0u; j < Lk; j++) { p[gi * Lk + j] = 0.0; }
  for (var j = 0u; j < ${jEnd}; j++) {\n${load}    p[gi * Lk + j] = exp(s - ls);\n  }\n`;
      break;
    }
    case "softmaxBackward":
      // ds = scale · p ⊙ (g − Σ g·p) per row of length Lk.
      src += `  var acc = 0.0;
  for (var j = 0u; j < Lk; j++) { acc += g[off_g + gi * Lk + j] * p[off_p + gi * Lk + j]; }
  for (var j = 0u; j < Lk; j++) {
    let pj = p[off_p + gi * Lk + j];
    ds[gi * Lk + j] = scale * pj * (g[off_g + gi * Lk + j] - acc);
  }\n`;
      break;
  }
  return src + `}\n`;
}
