/**
 * core/kernels without a GPU (that it imports nothing outside itself is checked by layers_test.ts): the
 * Winograd generators produce WGSL with the entry point, workgroup sizes and bindings that
 * core/backend/conv_winograd.ts dispatches against; the norm generators declare exactly the
 * bindings core/ops/norm.ts binds, each of them read or written (pipelines use "auto" layouts).
 */
import {
  geometryWords,
  gradTransformSource,
  INPUT_TILES,
  inputThreads,
  inputTransformSource,
  outputTransformSource,
  WEIGHT_GRAD_WG,
  weightGradGemmSource,
  weightGradGemmThreads,
  weightGradOutputSource,
  weightTransformSource,
  WINOGRAD_META_WORDS,
  winogradDims,
  winogradGemmSource,
  type WinogradGeom,
  winogradMeta,
} from "../core/kernels/winograd.ts";
import {
  affineGradBindings,
  affineGradSource,
  NORM_ACTIVATIONS,
  NORM_WG,
  normBindings,
  type NormKernel,
  type NormMode,
  normSource,
} from "../core/kernels/norm.ts";
import { assert, assertEquals } from "./_asserts.ts";

/** A few geometries: both tile sizes, odd sizes, padding 0/1/2, channels not a multiple of 4. */
const GEOMS: WinogradGeom[] = [];
for (const m of [2, 4] as const) {
  for (const [N, Ci, Co, H, W, pad] of [[1, 3, 5, 7, 9, 1], [2, 16, 32, 8, 8, 0], [1, 6, 70, 13, 12, 2]]) {
    const OH = H + 2 * pad - 2, OW = W + 2 * pad - 2;
    for (const flip of [false, true]) GEOMS.push({ N, Ci, Co, H, W, OH, OW, padH: pad, padW: pad, m, flip });
  }
}

const name = (w: WinogradGeom): string =>
  `F(${w.m}) N${w.N} ${w.Ci}→${w.Co} ${w.H}×${w.W} pad ${w.padH}${w.flip ? " flip" : ""}`;

/** The binding numbers a WGSL source declares in group 0, sorted. */
function bindings(src: string): number[] {
  return [...src.matchAll(/@group\(0\) @binding\((\d+)\)/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
}

function checkEntry(src: string, wg: string, binds: number[], what: string): void {
  assertEquals((src.match(/@compute/g) ?? []).length, 1, `${what}: one @compute entry point`);
  assert(src.includes(`@workgroup_size(${wg})`), `${what}: @workgroup_size(${wg})`);
  assert(/fn main\(/.test(src), `${what}: fn main`);
  assertEquals(bindings(src), binds, `${what}: bindings`);
  let depth = 0;
  for (const c of src) {
    if (c === "{") depth++;
    if (c === "}") depth--;
    assert(depth >= 0, `${what}: unbalanced braces`);
  }
  assertEquals(depth, 0, `${what}: balanced braces`);
}

Deno.test("winograd: dims follow the geometry", () => {
  for (const w of GEOMS) {
    const d = winogradDims(w);
    assertEquals(d.a, w.m + 2, name(w));
    assertEquals(d.TH, Math.ceil(w.OH / w.m), name(w));
    assertEquals(d.TW, Math.ceil(w.OW / w.m), name(w));
    assertEquals(d.T, d.TH * d.TW, name(w));
    assertEquals(d.Ci4, Math.ceil(w.Ci / 4), name(w));
    assertEquals(d.Co4, Math.ceil(w.Co / 4), name(w));
  }
});

Deno.test("winograd: forward / data-gradient kernels", () => {
  for (const w of GEOMS) {
    const { a } = winogradDims(w);
    const wt = weightTransformSource(w);
    checkEntry(wt, "256", [0, 1, 2], `${name(w)} weight transform`);
    assert(wt.includes("texture_storage_2d<rgba32float, write>"), `${name(w)}: weight texture`);
    assertEquals((wt.match(/textureStore\(TU/g) ?? []).length, a * a, `${name(w)}: α² weight stores`);
    assert(wt.includes(w.flip ? "(ci0 * Co + co) * 9u + 8u" : "(co * Ci + ci0) * 9u + 0u"), name(w));

    const inp = inputTransformSource(w);
    checkEntry(inp, "256", [0, 1, 2], `${name(w)} input transform`);
    assert(inp.includes("gi >= Pc * Ci4"), `${name(w)}: input bound`);
    assertEquals((inp.match(/textureStore\(TV/g) ?? []).length, a * a, `${name(w)}: α² input stores`);
    if (w.m === 4 && w.W % 4 === 0) {
      const v4 = inputTransformSource(w, true);
      checkEntry(v4, "256", [0, 1, 2], `${name(w)} vec4 input transform`);
      assert(v4.includes("array<vec4<f32>>"), `${name(w)}: vec4 reads`);
      assertEquals((v4.match(/textureStore\(TV/g) ?? []).length, a * a * INPUT_TILES, `${name(w)}: vec4 stores`);
      assert(inputThreads(w, 2 * winogradDims(w).T, true) < inputThreads(w, 2 * winogradDims(w).T, false), name(w));
    }

    const gemm = { tp: 4, to: 8, wg: [8, 2] as [number, number] };
    const g = winogradGemmSource(w, gemm);
    checkEntry(g, "8, 2, 1", [0, 1, 2, 3], `${name(w)} GEMM`);
    assertEquals((g.match(/textureLoad\(/g) ?? []).length, gemm.tp + gemm.to, `${name(w)}: GEMM loads`);
    assertEquals((g.match(/\+= dot\(/g) ?? []).length, gemm.tp * gemm.to, `${name(w)}: GEMM dots`);

    for (const bias of [false, true]) {
      const o = outputTransformSource(w, bias);
      checkEntry(o, "256", bias ? [0, 1, 2, 3] : [0, 1, 2], `${name(w)} output transform${bias ? " + bias" : ""}`);
      const vec4 = w.m === 4 && w.OW % 4 === 0;
      assert(o.includes(`array<${vec4 ? "vec4<f32>" : "f32"}>;`), `${name(w)}: output element type`);
    }
  }
});

Deno.test("winograd: one WGSL source per kernel class, whatever the sizes (they are uniforms)", () => {
  // Two geometries that differ in every size but agree on m, flip, padW mod 4 and OW mod 4.
  const one: WinogradGeom = { N: 1, Ci: 3, Co: 5, H: 8, W: 8, OH: 8, OW: 8, padH: 1, padW: 1, m: 4, flip: false };
  const two: WinogradGeom = {
    N: 7,
    Ci: 64,
    Co: 128,
    H: 28,
    W: 28,
    OH: 28,
    OW: 28,
    padH: 1,
    padW: 1,
    m: 4,
    flip: false,
  };
  const gemm = { tp: 16, to: 64, wg: [8, 1] as [number, number] };
  const kernels: [string, (w: WinogradGeom) => string][] = [
    ["weight", weightTransformSource],
    ["input", (w) => inputTransformSource(w)],
    ["input vec4", (w) => inputTransformSource(w, true)],
    ["gemm", (w) => winogradGemmSource(w, gemm)],
    ["output", (w) => outputTransformSource(w, true)],
    ["grad", gradTransformSource],
    ["weight-gradient GEMM", weightGradGemmSource],
    ["dw", weightGradOutputSource],
  ];
  for (const [what, src] of kernels) assertEquals(src(one), src(two), `${what}: same source`);
  assertEquals(geometryWords(two), [64, 128, 28, 28, 28, 28, 1, 1]);
  const meta = winogradMeta(two, [1, 2, 3]);
  assertEquals(meta.length, WINOGRAD_META_WORDS);
  // The dense layout: one image per outer step, 3×3 kernels, [N, Co, OH, OW] from element 0.
  assertEquals([...meta], [1, 2, 3, 0, 0, 0, 0, 0, 64, 128, 28, 28, 28, 28, 1, 1, 1, 0, 9, 0, 0, 128 * 784, 0, 784]);
});

Deno.test("winograd: weight-gradient kernels", () => {
  for (const w of GEOMS.filter((g) => !g.flip)) {
    const { a } = winogradDims(w);
    const z = gradTransformSource(w);
    checkEntry(z, "256", [0, 1, 2], `${name(w)} grad transform`);
    assertEquals((z.match(/textureStore\(TZ/g) ?? []).length, a * a, `${name(w)}: α² grad stores`);
    assert(z.includes("gi >= Pc * Co4"), `${name(w)}: grad bound`);

    const wg = weightGradGemmSource(w);
    checkEntry(wg, String(WEIGHT_GRAD_WG), [0, 1, 2, 3], `${name(w)} weight-gradient GEMM`);
    const threads = weightGradGemmThreads(w);
    assert(threads >= a * a, `${name(w)}: at least α² threads`);
    assert(wg.includes(`gi >= ${a * a}u * nCo * nCi`), `${name(w)}: weight-gradient bound`);

    const dw = weightGradOutputSource(w);
    checkEntry(dw, "256", [0, 1, 2], `${name(w)} dw`);
    assert(dw.includes("gi >= Co * Ci4"), `${name(w)}: dw bound`);
    assertEquals((dw.match(/DW\[o \+ \d+u\]/g) ?? []).length, 4 * 9, `${name(w)}: 9 taps × 4 channels`);
  }
});

/** Every combination of `n` booleans. */
const flagSets = (n: number): boolean[][] =>
  Array.from({ length: 1 << n }, (_, i) => Array.from({ length: n }, (_, j) => ((i >> j) & 1) === 1));

/** Asserts that every binding `names` lists is used (indexed) in the source. */
function checkUsed(src: string, names: string[], what: string): void {
  for (const n of names) assert(new RegExp(`\\b${n}\\[`).test(src), `${what}: binding ${n} is used`);
}

Deno.test("norm: row and affine-gradient kernels use every binding they declare, with or without an activation", () => {
  for (const mode of ["train", "apply", "backward", "backwardConst"] as NormMode[]) {
    for (const act of NORM_ACTIVATIONS) {
      for (const [weight, bias, running, perThread] of flagSets(4)) {
        const k: NormKernel = { mode, weight, bias, running, perThread, act };
        const what = JSON.stringify(k), src = normSource(k), names = normBindings(k);
        checkEntry(src, `${NORM_WG}`, names.map((_, i) => i).concat(names.length), what);
        checkUsed(src, names, what);
        const fwd = mode === "train" || mode === "apply";
        // With an activation the gradient kernels recompute y = x̂·w + b: they read x and the bias.
        assertEquals(names.includes("b"), bias && (fwd || act !== "none"), `${what}: bias bound`);
        assertEquals(names.includes("x"), mode !== "backwardConst" || act !== "none", `${what}: x bound`);
        // The activation helpers only with an activation, and the body calls that activation's.
        assertEquals(src.includes("fn sigmoid_"), act !== "none", `${what}: activation helpers`);
        const calls = (a: string) => new RegExp(`\\b${a}(Grad)?(4)?_\\(`).test(src.replace(/^fn .*$/gm, ""));
        for (const other of NORM_ACTIVATIONS) {
          if (other !== "none") assertEquals(calls(other), other === act, `${what}: calls ${other}`);
        }
      }
    }
  }
  for (const act of NORM_ACTIVATIONS) {
    for (const [weight, bias, perThread] of flagSets(3)) {
      const k = { perThread, act, weight, bias }, what = `affineGrad ${JSON.stringify(k)}`;
      const src = affineGradSource(k), names = affineGradBindings(k);
      checkEntry(src, `${NORM_WG}`, names.map((_, i) => i).concat(names.length), what);
      checkUsed(src, names, what);
      assertEquals(names.filter((n) => n === "w" || n === "b").length, act === "none" ? 0 : +weight + +bias, what);
    }
  }
});
