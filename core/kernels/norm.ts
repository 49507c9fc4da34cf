/**
 * Fused normalisation kernels shared by batch, group, instance and layer norm.
 *
 * Every norm normalises "rows" of a dense input: row r holds L elements, element k of it
 * lives at `r·sRi + (k / Kin)·sKo + k % Kin` (batch norm's rows are channels, spread over the
 * batch; the other norms' rows are contiguous). Element (r, k) uses affine channel
 * `(r % rMod)·rMul + k / kDiv`. Statistics are stored as `stats[r]` = mean and
 * `stats[rows + r]` = 1/√(var + eps).
 *
 * Two layouts as in softmax: one thread per row (many short rows) or one workgroup per row.
 *
 * An activation can follow the affine (`act`): the forward kernels write act(y) with
 * y = x̂·w + b, and the gradient kernels use g·act'(y) in place of g, recomputing y from x, the
 * saved statistics, w and b (so the pre-activation is never stored).
 */
import { metaAt, metaDecl } from "./wgsl.ts";

/** What a row kernel computes. */
export type NormMode =
  /** Two-pass mean/variance, stats out, normalise + affine (+ running-stat update). */
  | "train"
  /** Normalise + affine with given stats (batch norm in eval mode). */
  | "apply"
  /** dx = rstd·(g·w − mean(g·w) − x̂·mean(g·w·x̂)) over each row. */
  | "backward"
  /** dx = g·w·rstd (stats were constants: eval mode). */
  | "backwardConst";

/** An activation fused after the affine. */
export type NormActivation = "none" | "silu" | "relu";

/** The activations `NormActivation` names, for checking user input. */
export const NORM_ACTIVATIONS: readonly NormActivation[] = ["none", "silu", "relu"];

/**
 * WGSL helpers of the activations for elements of `type`, named `sigmoid${suffix}`,
 * `silu${suffix}`, `siluGrad${suffix}`, `relu${suffix}` and `reluGrad${suffix}` (the kernels call
 * `${act}${suffix}` and `${act}Grad${suffix}`, the derivative at the pre-activation y): a sigmoid
 * that only ever exponentiates a non-positive number (no overflow), silu(y) = y·σ(y),
 * silu'(y) = σ(y)·(1 + y·(1 − σ(y))); relu'(y) = 1 where y > 0, else 0 (PyTorch's).
 */
export function activationHelpers(type: "f32" | "vec4<f32>", suffix: string): string {
  return `fn sigmoid${suffix}(y: ${type}) -> ${type} {
  let e = exp(-abs(y));
  let r = 1.0 / (1.0 + e);
  return select(e * r, r, y >= ${type}(0.0));
}
fn silu${suffix}(y: ${type}) -> ${type} { return y * sigmoid${suffix}(y); }
fn siluGrad${suffix}(y: ${type}) -> ${type} {
  let s = sigmoid${suffix}(y);
  return s * (1.0 + y * (1.0 - s));
}
fn relu${suffix}(y: ${type}) -> ${type} { return max(y, ${type}(0.0)); }
fn reluGrad${suffix}(y: ${type}) -> ${type} { return select(${type}(0.0), ${type}(1.0), y > ${type}(0.0)); }
`;
}

/** The row kernels' helpers: scalar (`_`) and vec4 (`4_`). */
const ACT_HELPERS = activationHelpers("f32", "_") + activationHelpers("vec4<f32>", "4_");

/** What changes the WGSL source of a row kernel. */
export interface NormKernel {
  /** Computation. */
  mode: NormMode;
  /** Weight bound. */
  weight: boolean;
  /** Bias present (bound in the forward kernels, and in the gradient ones when `act` is on). */
  bias: boolean;
  /** Running mean/var bound and updated (mode "train" only). */
  running: boolean;
  /** One thread per row (else one workgroup per row). */
  perThread: boolean;
  /**
   * Per thread, with the blocks (Kin) and channels (kDiv) multiples of 4: the loop takes four
   * elements per step, the channel bookkeeping once per four (CPU adapters pay per iteration).
   */
  unroll4?: boolean;
  /**
   * With `unroll4`, and every row and block start and the x / g offsets multiples of 4: x, g and
   * out are read and written as vec4s (one load per four elements; CPU adapters load a vec4 per
   * SIMD lane, four scalars as four gathers).
   */
  vec4?: boolean;
  /** Activation after the affine (default "none"). */
  act?: NormActivation;
}

/** Threads per workgroup in both layouts. */
export const NORM_WG = 64;

/**
 * Uniform words: rows, L, sRi, Kin, sKo, rMod, rMul, kDiv, eps (f32), momentum (f32),
 * rmOff, rmStride, rvOff, rvStride, xOff, wOff, bOff, gOff.
 */
export const NORM_META_WORDS = 18;

/** Binding names, in order, of a row kernel. */
export function normBindings(k: NormKernel): string[] {
  const fwd = k.mode === "train" || k.mode === "apply", act = (k.act ?? "none") !== "none";
  // dx = g·w·rstd does not read x (and "auto" layouts drop unused bindings); with an
  // activation every kernel recomputes y = x̂·w + b.
  const names = k.mode === "backwardConst" && !act ? [] : ["x"];
  if (k.weight) names.push("w");
  if ((fwd || act) && k.bias) names.push("b");
  names.push("stats");
  if (!fwd) names.push("g");
  names.push("out");
  if (k.mode === "train" && k.running) names.push("rm", "rv");
  return names;
}

const WRITABLE = new Set(["out", "rm", "rv"]);

function header(names: string[], words: number, perThread: boolean, shared: number, vec4 = false): string {
  let s = metaDecl(words);
  names.forEach((n, i) => {
    // stats is written by the training forward kernel only; read_write keeps one declaration.
    const access = WRITABLE.has(n) || n === "stats" ? "read_write" : "read";
    const type = vec4 && (n === "x" || n === "g" || n === "out") ? "vec4<f32>" : "f32";
    s += `@group(0) @binding(${i + 1}) var<storage, ${access}> ${n}: array<${type}>;\n`;
  });
  if (!perThread) {
    for (let i = 0; i < shared; i++) s += `var<workgroup> sh${i}: array<f32, ${NORM_WG}>;\n`;
    s += `@compute @workgroup_size(${NORM_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  let k0 = lid; let step = ${NORM_WG}u;\n`;
  } else {
    s += `@compute @workgroup_size(${NORM_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = gid.x + gid.y * nwg.x * ${NORM_WG}u;
  let k0 = 0u; let step = 1u;\n`;
  }
  return s;
}

/** Sums `vars` over the workgroup (a no-op per thread); every thread gets the totals. */
function wgSum(vars: string[], perThread: boolean): string {
  if (perThread) return "";
  let s = vars.map((v, i) => `  sh${i}[lid] = ${v};\n`).join("") + `  workgroupBarrier();
  for (var w = ${NORM_WG / 2}u; w > 0u; w = w >> 1u) {
    if (lid < w) { ${vars.map((_, i) => `sh${i}[lid] += sh${i}[lid + w];`).join(" ")} }
    workgroupBarrier();
  }\n`;
  s += vars.map((v, i) => `  ${v} = sh${i}[0];\n`).join("");
  return s + `  workgroupBarrier();\n`; // everyone has read sh[0] before it is reused
}

/** WGSL source of a row kernel. */
export function normSource(k: NormKernel): string {
  const names = normBindings(k);
  const fwd = k.mode === "train" || k.mode === "apply", act = k.act ?? "none";
  let s = (act === "none" ? "" : ACT_HELPERS) + header(names, NORM_META_WORDS, k.perThread, 2, !!k.vec4);
  s += `  let rows = ${metaAt(0)};
  if (row >= rows) { return; }
  let L = ${metaAt(1)}; let sRi = ${metaAt(2)}; let Kin = ${metaAt(3)}; let sKo = ${metaAt(4)};
  let rMod = ${metaAt(5)}; let rMul = ${metaAt(6)}; let kDiv = ${metaAt(7)};
  let xOff = ${metaAt(14)}; let wOff = ${metaAt(15)}; let bOff = ${metaAt(16)}; let gOff = ${metaAt(17)};
  let base = row * sRi;
  let chBase = (row % rMod) * rMul;\n`;
  // Element k of the row sits at base + (k / Kin)·sKo + k % Kin and uses channel k / kDiv. Integer
  // division is slow on CPU adapters (no vector divide), so the loop walks the Kin-long blocks and
  // carries the channel index, dividing only when a thread's stride crosses a channel boundary.
  const v4 = !!k.vec4;
  if (v4) s += `  let xo = xOff / 4u; let go = gOff / 4u;\n`;
  const loop = (body: string) => v4 ? loopV(body) : k.unroll4 ? loop4(body) : loop1(body);
  const loopV = (body: string) =>
    `  for (var o = 0u; o < L / Kin; o++) {
    let ob = (base + o * sKo) / 4u;
    var ch = (o * Kin) / kDiv; var cr = (o * Kin) % kDiv;
    for (var ki = 0u; ki < Kin / 4u; ki++) {
      let a = ob + ki;
${body.replace(/^/gm, "  ")}      cr += 4u;
      if (cr >= kDiv) { ch += 1u; cr = 0u; }
    }
  }\n`;
  const loop4 = (body: string) =>
    `  for (var o = 0u; o < L / Kin; o++) {
    let ob = base + o * sKo;
    var ch = (o * Kin) / kDiv; var cr = (o * Kin) % kDiv;
    for (var ki = 0u; ki < Kin; ki += 4u) {
${
      [0, 1, 2, 3].map((c) =>
        `      {
      let a = ob + ki + ${c}u;
${body.replace(/^/gm, "    ")}      }
`
      ).join("")
    }      cr += 4u;
      if (cr >= kDiv) { ch += 1u; cr = 0u; }
    }
  }\n`;
  const loop1 = (body: string) =>
    `  for (var o = 0u; o < L / Kin; o++) {
    let ob = base + o * sKo;
    var ch = (o * Kin + k0) / kDiv; var cr = (o * Kin + k0) % kDiv;
    for (var ki = k0; ki < Kin; ki += step) {
      let a = ob + ki;\n${body.replace(/^/gm, "  ")}      cr += step;
      if (cr >= kDiv) { let d = cr / kDiv; ch += d; cr -= d * kDiv; }
    }
  }\n`;
  // Elements as the loop sees them: f32, or vec4 (x, g and out bound as vec4 arrays; a channel
  // never changes inside a vec4, as kDiv is a multiple of 4).
  const X = v4 ? "x[xo + a]" : "x[xOff + a]", G = v4 ? "g[go + a]" : "g[gOff + a]";
  const V = v4 ? "vec4<f32>" : "f32", sfx = v4 ? "4_" : "_";
  /** Declares `name` = 0 of the element type before a loop and the scalar total `name` after it. */
  const acc = (names: string[], body: string) =>
    names.map((n) => `  var ${n}e = ${V}(0.0);\n`).join("") + loop(body) +
    names.map((n) => `  var ${n} = ${v4 ? `dot(${n}e, vec4<f32>(1.0))` : `${n}e`};\n`).join("");
  const wAt = k.weight ? `w[wOff + chBase + ch]` : "1.0";
  const b = k.bias ? ` + b[bOff + chBase + ch]` : "";
  // The pre-activation y, as a statement, and g·act'(y) (plain g without an activation).
  const yLet = act === "none" ? "" : `    let y = (${X} - mean) * rstd * ${wAt}${b};\n`;
  const gAt = act === "none" ? G : `${G} * ${act}Grad${sfx}(y)`;
  if (k.mode === "train") {
    s += acc(["s1"], `    s1e += ${X};\n`) + wgSum(["s1"], k.perThread);
    s += `  let mean = s1 / f32(L);\n`;
    s += acc(["s2"], `    let d = ${X} - mean;\n    s2e += d * d;\n`) + wgSum(["s2"], k.perThread);
    s += `  let variance = s2 / f32(L);
  let rstd = inverseSqrt(variance + bitcast<f32>(${metaAt(8)}));
  if (lid == 0u || ${k.perThread}) {
    stats[row] = mean; stats[rows + row] = rstd;\n`;
    if (k.running) {
      // PyTorch keeps the unbiased variance in the running estimate.
      s += `    let m = bitcast<f32>(${metaAt(9)});
    let unbiased = s2 / f32(max(L, 2u) - 1u);
    let im = ${metaAt(10)} + row * ${metaAt(11)}; let iv = ${metaAt(12)} + row * ${metaAt(13)};
    rm[im] = (1.0 - m) * rm[im] + m * mean;
    rv[iv] = (1.0 - m) * rv[iv] + m * unbiased;\n`;
    }
    s += `  }\n`;
  } else {
    s += `  let mean = stats[row]; let rstd = stats[rows + row];\n`;
  }
  if (fwd) {
    s += act === "none"
      ? loop(`    out[a] = (${X} - mean) * rstd * ${wAt}${b};\n`)
      : loop(`${yLet}    out[a] = ${act}${sfx}(y);\n`);
  } else if (k.mode === "backwardConst") {
    s += loop(`${yLet}    out[a] = ${gAt} * ${wAt} * rstd;\n`);
  } else {
    s += acc(["s1", "s2"], `${yLet}    let gw = ${gAt} * ${wAt};\n    s1e += gw;\n    s2e += gw * (${X} - mean);\n`);
    s += wgSum(["s1", "s2"], k.perThread);
    s += `  let m1 = s1 / f32(L); let m2 = s2 * rstd / f32(L);\n`;
    s += loop(`${yLet}    let gw = ${gAt} * ${wAt};\n    out[a] = rstd * (gw - m1 - (${X} - mean) * rstd * m2);\n`);
  }
  return s + `}\n`;
}

/**
 * Weight/bias gradients: per affine channel ch, Σ g·x̂ and Σ g over its J elements (with an
 * activation, g·act'(y) in place of g). Element j of channel ch is row
 * `(j / sCount)·rStride + (ch / cDiv)·rOffMul`, position `(ch % cMod)·kMul + j % sCount` in that
 * row (same row addressing as the row kernels).
 */
export interface AffineGradKernel {
  /** One thread per channel (else one workgroup per channel). */
  perThread: boolean;
  /** Activation after the affine (default "none"). */
  act?: NormActivation;
  /** Weight present (bound only with an activation, to recompute y). */
  weight?: boolean;
  /** Bias present (bound only with an activation, to recompute y). */
  bias?: boolean;
}

/**
 * Uniform words: C, J, sCount, rStride, cDiv, rOffMul, cMod, kMul, rows, sRi, Kin, sKo,
 * xOff, gOff, wOff, bOff.
 */
export const AFFINE_META_WORDS = 16;

/** Binding names, in order, of the weight/bias gradient kernel (`out` is the dense (2, C) result). */
export function affineGradBindings(k: AffineGradKernel): string[] {
  const act = (k.act ?? "none") !== "none";
  return ["x", "stats", "g", ...(act && k.weight ? ["w"] : []), ...(act && k.bias ? ["b"] : []), "out"];
}

/** WGSL source of the weight/bias gradient kernel (bindings `affineGradBindings`). */
export function affineGradSource(k: AffineGradKernel): string {
  const act = k.act ?? "none";
  let s = (act === "none" ? "" : ACT_HELPERS) + header(affineGradBindings(k), AFFINE_META_WORDS, k.perThread, 2);
  s += `  let C = ${metaAt(0)};
  let ch = row;
  if (ch >= C) { return; }
  let J = ${metaAt(1)}; let sCount = ${metaAt(2)}; let rStride = ${metaAt(3)};
  let r0 = (ch / ${metaAt(4)}) * ${metaAt(5)}; let kk = (ch % ${metaAt(6)}) * ${metaAt(7)};
  let rows = ${metaAt(8)}; let sRi = ${metaAt(9)}; let Kin = ${metaAt(10)}; let sKo = ${metaAt(11)};
  let xOff = ${metaAt(12)}; let gOff = ${metaAt(13)};\n`;
  if (act !== "none") {
    const wv = k.weight ? `w[${metaAt(14)} + ch]` : "1.0", bv = k.bias ? `b[${metaAt(15)} + ch]` : "0.0";
    s += `  let wc = ${wv}; let bc = ${bv};\n`;
  }
  s += `  var s1 = 0.0; var s2 = 0.0;
  for (var j = k0; j < J; j += step) {
    let r = (j / sCount) * rStride + r0;
    let k = kk + j % sCount;
    let a = r * sRi + (k / Kin) * sKo + k % Kin;\n`;
  s += act === "none"
    ? `    let gv = g[gOff + a];
    s1 += gv;
    s2 += gv * (x[xOff + a] - stats[r]) * stats[rows + r];
  }\n`
    : `    let xh = (x[xOff + a] - stats[r]) * stats[rows + r];
    let gv = g[gOff + a] * ${act}Grad_(xh * wc + bc);
    s1 += gv;
    s2 += gv * xh;
  }\n`;
  s += wgSum(["s1", "s2"], k.perThread);
  s += `  if (lid == 0u || ${k.perThread}) { out[ch] = s2; out[C + ch] = s1; }\n}\n`;
  return s;
}
