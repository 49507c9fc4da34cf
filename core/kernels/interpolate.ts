/**
 * Resampling kernels over (N, C, D, H, W) (shorter inputs use size-1 leading spatial dims).
 * Source indices and weights come from a small per-dim table computed on the CPU with
 * float32 rounding (so the GPU and PyTorch pick the same neighbours):
 *   forward entry of output o: (i0, i1, bits of λ), value = (1 − λ)·x[i0] + λ·x[i1];
 *   backward entry of input i: [lo, hi), the outputs that read it.
 * Backward gathers over those outputs per input element (deterministic, no atomics).
 */
import { flatMain, metaAt, metaDecl } from "./wgsl.ts";

/** What changes the WGSL source of a resampling kernel. */
export interface InterpKernel {
  /** Per spatial dim (D, H, W): linear (2 taps) or nearest (1 tap). */
  linear: [boolean, boolean, boolean];
  /** Gradient with respect to the input. */
  backward: boolean;
}

/** Uniform words: total, C, I[3], O[3], fwdOff[3], bwdOff[3], xOff, x strides (n, c, d, h, w), gOff. */
export const INTERP_META_WORDS = 21;

const Is = (j: number) => metaAt(2 + j);
const Os = (j: number) => metaAt(5 + j);

function unflatten(sizes: (j: number) => string): string {
  return `  let c2 = gi % ${sizes(2)}; var t = gi / ${sizes(2)};
  let c1 = t % ${sizes(1)}; t = t / ${sizes(1)};
  let c0 = t % ${sizes(0)}; let plane = t / ${sizes(0)};\n`;
}

/** WGSL source of a resampling kernel (bindings: x or g, table, out). */
export function interpSource(k: InterpKernel): string {
  let s = metaDecl(INTERP_META_WORDS);
  s += `@group(0) @binding(1) var<storage, read> src: array<f32>;\n`;
  s += `@group(0) @binding(2) var<storage, read> tab: array<u32>;\n`;
  s += `@group(0) @binding(3) var<storage, read_write> out: array<f32>;\n`;
  s += `${flatMain()}\n  if (gi >= ${metaAt(0)}) { return; }\n`;
  if (!k.backward) {
    s += unflatten(Os);
    s += `  let n = plane / ${metaAt(1)}; let ch = plane % ${metaAt(1)};
  let xb = ${metaAt(14)} + n * ${metaAt(15)} + ch * ${metaAt(16)};\n`;
    for (let j = 0; j < 3; j++) {
      s += `  let e${j} = ${metaAt(8 + j)} + 3u * c${j};
  let a${j} = tab[e${j}] * ${metaAt(17 + j)}; let b${j} = tab[e${j} + 1u] * ${metaAt(17 + j)};
  let l${j} = bitcast<f32>(tab[e${j} + 2u]);\n`;
    }
    const terms: string[] = [];
    const corners = (j: number, idx: string[], w: string[]) => {
      if (j === 3) {
        terms.push(`${w.length ? w.join(" * ") + " * " : ""}src[xb + ${idx.join(" + ")}]`);
        return;
      }
      if (!k.linear[j]) return corners(j + 1, [...idx, `a${j}`], w);
      corners(j + 1, [...idx, `a${j}`], [...w, `(1.0 - l${j})`]);
      corners(j + 1, [...idx, `b${j}`], [...w, `l${j}`]);
    };
    corners(0, [], []);
    s += `  out[gi] = ${terms.join("\n    + ")};\n}\n`;
    return s;
  }
  s += unflatten(Is);
  for (let j = 0; j < 3; j++) {
    s += `  let lo${j} = tab[${metaAt(11 + j)} + 2u * c${j}]; let hi${j} = tab[${metaAt(11 + j)} + 2u * c${j} + 1u];\n`;
  }
  s += `  var acc = 0.0;\n`;
  for (let j = 0; j < 3; j++) {
    s += `  for (var o${j} = lo${j}; o${j} < hi${j}; o${j}++) {
    let e${j} = ${metaAt(8 + j)} + 3u * o${j};\n`;
    s += k.linear[j]
      ? `    let l${j} = bitcast<f32>(tab[e${j} + 2u]);
    let w${j} = select(0.0, 1.0 - l${j}, tab[e${j}] == c${j}) + select(0.0, l${j}, tab[e${j} + 1u] == c${j});\n`
      : `    let w${j} = select(0.0, 1.0, tab[e${j}] == c${j});\n`;
  }
  s += `    acc += w0 * w1 * w2 * src[${metaAt(20)} + ((plane * ${Os(0)} + o0) * ${Os(1)} + o1) * ${Os(2)} + o2];\n`;
  s += `  }}}\n  out[gi] = acc;\n}\n`;
  return s;
}
