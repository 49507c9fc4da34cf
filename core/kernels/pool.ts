/**
 * Pooling kernels over (N, C, D, H, W); 1-D and 2-D pools use size-1 leading spatial dims.
 * Forward: one thread per output element. Backward: one thread per input element gathering
 * from the outputs whose windows can contain it (no float atomics in WGSL, and gathering
 * is deterministic).
 *
 * Window of output o along a dim: fixed pools start at o·s − p and take k taps d apart;
 * adaptive pools cover [⌊o·I/O⌋, ⌈(o+1)·I/O⌉) as PyTorch does.
 */
import { flatMain, metaAt, metaDecl } from "./wgsl.ts";

/** What changes the WGSL source of a pooling kernel. */
export interface PoolKernel {
  /** Max (values + argmax indices) or average. */
  kind: "max" | "avg";
  /** Adaptive windows (else kernel/stride/padding/dilation). */
  adaptive: boolean;
  /** Gradient with respect to the input. */
  backward: boolean;
}

/**
 * Uniform words: total, C, I[3], O[3], k[3], s[3], p[3], d[3], divisorOverride,
 * countIncludePad, xOff, x strides (n, c, d, h, w), gOff, idxOff.
 */
export const POOL_META_WORDS = 30;

const I = (j: number) => `i32(${metaAt(2 + j)})`;
const O = (j: number) => `i32(${metaAt(5 + j)})`;
const K = (j: number) => `i32(${metaAt(8 + j)})`;
const S = (j: number) => `i32(${metaAt(11 + j)})`;
const P = (j: number) => `i32(${metaAt(14 + j)})`;
const D = (j: number) => `i32(${metaAt(17 + j)})`;

/** WGSL declaring `st{j}`, `cnt{j}`, `dl{j}`: the window of output index `o` along dim j. */
function windowOf(k: PoolKernel, j: number, o: string, suffix = ""): string {
  if (k.adaptive) {
    return `let st${j}${suffix} = (${o} * ${I(j)}) / ${O(j)};
    let cnt${j}${suffix} = ((${o} + 1) * ${I(j)} + ${O(j)} - 1) / ${
      O(j)
    } - st${j}${suffix}; let dl${j}${suffix} = 1;\n`;
  }
  return `let st${j}${suffix} = ${o} * ${S(j)} - ${P(j)}; let cnt${j}${suffix} = ${K(j)}; let dl${j}${suffix} = ${
    D(j)
  };\n`;
}

/** WGSL expression of the average divisor for the windows st/cnt (with `suffix`). */
function divisor(k: PoolKernel, suffix = ""): string {
  if (k.adaptive) return `f32(cnt0${suffix} * cnt1${suffix} * cnt2${suffix})`;
  const incl = [0, 1, 2].map((j) => `(min(st${j}${suffix} + ${K(j)}, ${I(j)} + ${P(j)}) - st${j}${suffix})`);
  const valid = [0, 1, 2].map((j) => `(min(st${j}${suffix} + ${K(j)}, ${I(j)}) - max(st${j}${suffix}, 0))`);
  return `select(select(f32(${valid.join(" * ")}), f32(${incl.join(" * ")}), ${metaAt(21)} != 0u), f32(${
    metaAt(20)
  }), ${metaAt(20)} != 0u)`;
}

/** Splits `gi` into plane and three spatial coordinates `c0..c2` over `sizes`. */
function unflatten(sizes: (j: number) => string): string {
  return `  let c2 = i32(gi % u32(${sizes(2)})); var t = gi / u32(${sizes(2)});
  let c1 = i32(t % u32(${sizes(1)})); t = t / u32(${sizes(1)});
  let c0 = i32(t % u32(${sizes(0)})); let plane = t / u32(${sizes(0)});\n`;
}

/** WGSL source of a pooling kernel. */
export function poolSource(k: PoolKernel): string {
  let s = metaDecl(POOL_META_WORDS);
  const max = k.kind === "max";
  if (!k.backward) {
    s += `@group(0) @binding(1) var<storage, read> x: array<f32>;\n`;
    s += `@group(0) @binding(2) var<storage, read_write> out: array<f32>;\n`;
    if (max) s += `@group(0) @binding(3) var<storage, read_write> idx: array<i32>;\n`;
    s += `${flatMain()}\n  if (gi >= ${metaAt(0)}) { return; }\n${unflatten(O)}`;
    s += `  let n = plane / ${metaAt(1)}; let ch = plane % ${metaAt(1)};
  let xb = ${metaAt(22)} + n * ${metaAt(23)} + ch * ${metaAt(24)};\n`;
    for (let j = 0; j < 3; j++) s += `  ${windowOf(k, j, `c${j}`)}`;
    s += max ? `  var best = -3.4028234663852886e38; var bi = -1;\n` : `  var acc = 0.0;\n`;
    for (let j = 0; j < 3; j++) {
      s += `  for (var a${j} = 0; a${j} < cnt${j}; a${j}++) {
    let i${j} = st${j} + a${j} * dl${j};
    if (i${j} < 0 || i${j} >= ${I(j)}) { continue; }\n`;
    }
    s += `    let v = x[xb + u32(i0) * ${metaAt(25)} + u32(i1) * ${metaAt(26)} + u32(i2) * ${metaAt(27)}];\n`;
    // Ties keep the first maximum and NaN wins, as PyTorch.
    s += max
      ? `    if (bi < 0 || v > best || v != v) { best = v; bi = (i0 * ${I(1)} + i1) * ${I(2)} + i2; }\n`
      : `    acc += v;\n`;
    s += `  }}}\n`;
    s += max ? `  out[gi] = best; idx[gi] = bi;\n}\n` : `  out[gi] = acc / ${divisor(k)};\n}\n`;
    return s;
  }
  s += `@group(0) @binding(1) var<storage, read> g: array<f32>;\n`;
  if (max) s += `@group(0) @binding(2) var<storage, read> idx: array<i32>;\n`;
  s += `@group(0) @binding(${max ? 3 : 2}) var<storage, read_write> out: array<f32>;\n`;
  s += `${flatMain()}\n  if (gi >= ${metaAt(0)}) { return; }\n${unflatten(I)}`;
  for (let j = 0; j < 3; j++) {
    if (k.adaptive) {
      s += `  let lo${j} = (c${j} * ${O(j)}) / ${I(j)};
  let hi${j} = min(((c${j} + 1) * ${O(j)} + ${I(j)} - 1) / ${I(j)} - 1, ${O(j)} - 1);\n`;
    } else {
      s += `  let num${j} = c${j} + ${P(j)} - (${K(j)} - 1) * ${D(j)};
  let lo${j} = select(0, (num${j} + ${S(j)} - 1) / ${S(j)}, num${j} > 0);
  let hi${j} = min((c${j} + ${P(j)}) / ${S(j)}, ${O(j)} - 1);\n`;
    }
  }
  s += `  let fi = (c0 * ${I(1)} + c1) * ${I(2)} + c2;\n  var acc = 0.0;\n`;
  for (let j = 0; j < 3; j++) s += `  for (var o${j} = lo${j}; o${j} <= hi${j}; o${j}++) {\n`;
  s += `    let oi = ((i32(plane) * ${O(0)} + o0) * ${O(1)} + o1) * ${O(2)} + o2;\n`;
  if (max) {
    s += `    if (idx[${metaAt(29)} + u32(oi)] == fi) { acc += g[${metaAt(28)} + u32(oi)]; }\n`;
  } else {
    for (let j = 0; j < 3; j++) s += `    ${windowOf(k, j, `o${j}`, "w")}`;
    const inside = [0, 1, 2].map((j) => `c${j} >= st${j}w && c${j} < st${j}w + cnt${j}w`).join(" && ");
    s += `    if (${inside}) { acc += g[${metaAt(28)} + u32(oi)] / ${divisor(k, "w")}; }\n`;
  }
  s += `  }}}\n  out[gi] = acc;\n}\n`;
  return s;
}
