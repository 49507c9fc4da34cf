/**
 * Normalisation kernels over "segments": the S contiguous elements of one (n, c) pair of a dense
 * (N, C, S) input, one thread per segment, four elements per load where S allows.
 *
 * The row kernels of `norm.ts` give batch norm a workgroup per channel (its N·S elements are
 * strided) and sum the affine gradients with index arithmetic per element; on CPU adapters,
 * where a workgroup's threads run as SIMD lanes, barriers are serialised and integer division
 * has no vector form, both are several times slower than a thread walking one contiguous run.
 * So per-segment partial sums are reduced over n by the threads that need them (N values each):
 *
 * - batch norm forward: segment mean and M2 → every segment's thread combines its channel's
 *   (Chan et al.; all segments have S elements) and normalises; the n = 0 thread stores the
 *   statistics and updates the running ones;
 * - gradients: per segment Σ g'·x̂ and Σ g' (g' = g·act'(y) with an activation), summed over n
 *   into the affine gradients (group norm: x̂ from the statistics of the segment's group), and for
 *   batch norm dx = rstd·w·(g' − Σg'/L − x̂·Σg'x̂/L), L = N·S, in the same kernel.
 *
 * Statistics are `stats[i]` = mean, `stats[rows + i]` = 1/√(var + eps) as in `norm.ts`, with i the
 * channel (batch norm) or n·G + c / (C / G) (group norm).
 */
import { activationHelpers, type NormActivation } from "./norm.ts";
import { metaAt, metaDecl } from "./wgsl.ts";

/** Threads per workgroup. */
export const SEGMENT_WG = 64;

/**
 * Uniform words: N, C, S (elements per segment), G (statistics per sample; 0 = batch norm),
 * eps (f32), momentum (f32), xOff, gOff, wOff, bOff, rmOff, rmStride, rvOff, rvStride, accOff.
 * Offsets of x, g and acc count vec4s in the vec4 kernels.
 */
export const SEGMENT_META_WORDS = 15;

/** What changes a segment kernel's source. */
export interface SegmentKernel {
  /** Four elements per load (S, and the x / g offsets, multiples of 4). */
  vec4: boolean;
  /** Activation after the affine (its gradient kernels recompute y). */
  act: NormActivation;
  /** Weight bound (else 1). */
  weight: boolean;
  /** Bias bound (else 0). */
  bias: boolean;
  /** dx kernel: adds a dense gradient `acc` (the input's gradient from its other consumers) into dx. */
  accumulate?: boolean;
}

const T = (k: SegmentKernel) => (k.vec4 ? "vec4<f32>" : "f32");
const hsum = (k: SegmentKernel, v: string) => (k.vec4 ? `dot(${v}, vec4<f32>(1.0))` : v);

/** The activations and their derivatives for the kernel's element type. */
const actHelpers = (k: SegmentKernel) => (k.act === "none" ? "" : activationHelpers(k.vec4 ? "vec4<f32>" : "f32", "_"));

function header(k: SegmentKernel, bindings: [string, boolean][]): string {
  let s = actHelpers(k) + metaDecl(SEGMENT_META_WORDS);
  bindings.forEach(([name, writable], i) => {
    const type = name === "x" || name === "g" || name === "acc" || (name === "out" && k.vec4) ? T(k) : "f32";
    s += `@group(0) @binding(${i + 1}) var<storage, ${writable ? "read_write" : "read"}> ${name}: array<${type}>;\n`;
  });
  return s + `@compute @workgroup_size(${SEGMENT_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * ${SEGMENT_WG}u;
  let N = ${metaAt(0)}; let C = ${metaAt(1)}; let S = ${metaAt(2)}; let G = ${metaAt(3)};
  if (r >= N * C) { return; }
  let c = r % C; let n = r / C;
  let SV = S / ${k.vec4 ? 4 : 1}u;
  let xb = ${metaAt(6)} + r * SV; let gb = ${metaAt(7)} + r * SV;
  let wc = ${k.weight ? `w[${metaAt(8)} + c]` : "1.0"}; let bc = ${k.bias ? `b[${metaAt(9)} + c]` : "0.0"};
`;
}

/** Σ over n of `part[2·(n·C + c) + j]` for j = 0, 1, into `${name}0`, `${name}1`. */
function sumOverN(name: string): string {
  return `  var ${name}0 = 0.0; var ${name}1 = 0.0;
  for (var m = 0u; m < N; m++) { let p = 2u * (m * C + c); ${name}0 += part[p]; ${name}1 += part[p + 1u]; }\n`;
}

/** Batch norm, forward pass 1: each segment's mean and M2 (bindings x, part). */
export function segmentStatsSource(k: SegmentKernel): string {
  return header({ ...k, weight: false, bias: false }, [["x", false], ["part", true]]) + `  var s = ${T(k)}(0.0);
  for (var i = 0u; i < SV; i++) { s += x[xb + i]; }
  let mean = ${hsum(k, "s")} / f32(S);
  var q = ${T(k)}(0.0);
  for (var i = 0u; i < SV; i++) { let d = x[xb + i] - mean; q += d * d; }
  part[2u * r] = mean; part[2u * r + 1u] = ${hsum(k, "q")};
}\n`;
}

/** Binding names of the batch-norm apply kernel. */
export function segmentApplyBindings(k: SegmentKernel, batchStats: boolean, running: boolean): [string, boolean][] {
  return [
    ["x", false],
    ...(batchStats ? [["part", false] as [string, boolean]] : []),
    ["stats", batchStats],
    ...(k.weight ? [["w", false] as [string, boolean]] : []),
    ...(k.bias ? [["b", false] as [string, boolean]] : []),
    ["out", true],
    ...(running ? [["rm", true], ["rv", true]] as [string, boolean][] : []),
  ];
}

/**
 * WGSL: mean, m2, L (elements) and rstd of `count` segments combined from their mean and M2 in
 * `part` (Chan et al.; every segment has S elements), segment j's pair at `part[index]`.
 */
function combineStats(count: string, index: string): string {
  return `  var mean = 0.0;
  for (var j = 0u; j < ${count}; j++) { mean += part[${index}]; }
  mean /= f32(${count});
  var m2 = 0.0;
  for (var j = 0u; j < ${count}; j++) {
    let p = ${index}; let d = part[p] - mean;
    m2 += part[p + 1u] + f32(S) * d * d;
  }
  let L = f32(${count} * S);
  let rstd = inverseSqrt(m2 / L + bitcast<f32>(${metaAt(4)}));`;
}

/**
 * Forward pass 2: act((x − mean)·rstd·w + b) per segment, with the statistics combined from the
 * segments' (`batchStats`) or read from `stats` (eval mode). Batch norm combines its channel's
 * segments over the batch (the n = 0 thread stores the statistics and updates the running ones);
 * with `groups` (group norm), the segments of its group's channels in this sample (the group's
 * first channel stores them).
 */
export function segmentApplySource(k: SegmentKernel, batchStats: boolean, running: boolean, groups = false): string {
  let s = header(k, segmentApplyBindings(k, batchStats, running));
  if (groups) {
    if (!batchStats || running) throw new Error("internal: group norm's segment forward uses its own statistics");
    s += `  let cpg = C / G; let c0 = c - c % cpg;
${combineStats("cpg", "2u * (n * C + c0 + j)")}
  if (c == c0) { let si = n * G + c / cpg; stats[si] = mean; stats[N * G + si] = rstd; }\n`;
  } else if (batchStats) {
    s += `${combineStats("N", "2u * (j * C + c)")}
  if (n == 0u) {
    stats[c] = mean; stats[C + c] = rstd;\n`;
    if (running) {
      // PyTorch keeps the unbiased variance in the running estimate.
      s += `    let mo = bitcast<f32>(${metaAt(5)});
    let im = ${metaAt(10)} + c * ${metaAt(11)}; let iv = ${metaAt(12)} + c * ${metaAt(13)};
    rm[im] = (1.0 - mo) * rm[im] + mo * mean;
    rv[iv] = (1.0 - mo) * rv[iv] + mo * m2 / max(L - 1.0, 1.0);\n`;
    }
    s += `  }\n`;
  } else {
    s += `  let mean = stats[c]; let rstd = stats[C + c];\n`;
  }
  const y = `(x[xb + i] - mean) * (rstd * wc) + bc`;
  s += `  let ob = r * SV;
  for (var i = 0u; i < SV; i++) { out[ob + i] = ${k.act === "none" ? y : `${k.act}_(${y})`}; }
}\n`;
  return s;
}

/** The statistics index of the segment: its channel, or its sample's group (`G` > 0). */
const STATS_INDEX = `  let si = select(c, n * G + c / (C / max(G, 1u)), G > 0u);
  let rows = select(C, N * G, G > 0u);
  let mean = stats[si]; let rstd = stats[rows + si];\n`;

/** g' = g, or g·act'(y) with y recomputed from x̂. */
const gPrime = (k: SegmentKernel) => k.act === "none" ? `g[gb + i]` : `g[gb + i] * ${k.act}Grad_(xh * wc + bc)`;

/** Bindings of the gradient-sums kernel. */
export function segmentGradSumsBindings(k: SegmentKernel): [string, boolean][] {
  const act = k.act !== "none";
  return [
    ["x", false],
    ["stats", false],
    ["g", false],
    ...(act && k.weight ? [["w", false] as [string, boolean]] : []),
    ...(act && k.bias ? [["b", false] as [string, boolean]] : []),
    ["part", true],
  ];
}

/** Gradients, pass 1: per segment Σ g'·x̂ and Σ g' (`k.weight`/`k.bias` only matter with an activation). */
export function segmentGradSumsSource(k: SegmentKernel): string {
  const kk = { ...k, weight: k.weight && k.act !== "none", bias: k.bias && k.act !== "none" };
  return header(kk, segmentGradSumsBindings(k)) + STATS_INDEX + `  var s0 = ${T(k)}(0.0); var s1 = ${T(k)}(0.0);
  for (var i = 0u; i < SV; i++) {
    let xh = (x[xb + i] - mean) * rstd;
    let gp = ${gPrime(kk)};
    s0 += gp * xh; s1 += gp;
  }
  part[2u * r] = ${hsum(k, "s0")}; part[2u * r + 1u] = ${hsum(k, "s1")};
}\n`;
}

/** Gradients, pass 2 without dx: thread per channel, out[c] = Σ g'·x̂, out[C + c] = Σ g' (bindings part, out). */
export function segmentCombineSource(): string {
  return `${metaDecl(SEGMENT_META_WORDS)}@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${SEGMENT_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = gid.x + gid.y * nwg.x * ${SEGMENT_WG}u;
  let N = ${metaAt(0)}; let C = ${metaAt(1)};
  if (c >= C) { return; }
${sumOverN("t")}  out[c] = t0; out[C + c] = t1;
}\n`;
}

/** Bindings of the batch-norm dx kernel. */
export function segmentDxBindings(k: SegmentKernel): [string, boolean][] {
  return [
    ["x", false],
    ["stats", false],
    ["g", false],
    ...(k.weight ? [["w", false] as [string, boolean]] : []),
    ...(k.act !== "none" && k.bias ? [["b", false] as [string, boolean]] : []),
    ["part", false],
    ...(k.accumulate ? [["acc", false] as [string, boolean]] : []),
    ["out", true],
    ["wb", true],
  ];
}

/**
 * Gradients pass 2 with dx, for batch norm with batch statistics and group norm: each channel's
 * sums combined from its segments' (the n = 0 thread stores them as the affine gradients `wb`);
 * the normalised group's Σ w·g'·x̂ and Σ w·g' (batch norm: the channel over the batch; group
 * norm: the group's channels of this sample), then dx = rstd·(w·g' − Σw·g'/L − x̂·Σw·g'·x̂/L).
 */
export function segmentDxSource(k: SegmentKernel, groups: boolean): string {
  const kk = { ...k, bias: k.bias && k.act !== "none" };
  const wAt = (i: string) => (k.weight ? `w[${metaAt(8)} + ${i}]` : "1.0");
  const groupSums = groups
    ? `  let cpg = C / G; let c0 = c - c % cpg;
  var a0 = 0.0; var a1 = 0.0;
  for (var j = 0u; j < cpg; j++) {
    let p = 2u * (n * C + c0 + j); let wj = ${wAt("c0 + j")};
    a0 += wj * part[p]; a1 += wj * part[p + 1u];
  }
  let L = f32(cpg * S);
`
    : `  let a0 = wc * t0; let a1 = wc * t1;
  let L = f32(N * S);
`;
  return header(kk, segmentDxBindings(k)) + STATS_INDEX + sumOverN("t") +
    `  if (n == 0u) { wb[c] = t0; wb[C + c] = t1; }
${groupSums}  let ob = r * SV;
  for (var i = 0u; i < SV; i++) {
    let xh = (x[xb + i] - mean) * rstd;
    let gp = ${gPrime(kk)};
    out[ob + i] = ${k.accumulate ? `acc[${metaAt(14)} + ob + i] + ` : ""}rstd * (wc * gp - a1 / L - xh * (a0 / L));
  }
}\n`;
}
