/**
 * core/kernels without a GPU (that it imports nothing outside itself is checked by layers_test.ts): the
 * Winograd generators produce WGSL with the entry point, workgroup sizes and bindings that
 * core/backend/conv_winograd.ts dispatches against.
 */
import {
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
  winogradDims,
  winogradGemmSource,
  type WinogradGeom,
} from "../core/kernels/winograd.ts";
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
    const { a, Ci4 } = winogradDims(w);
    const wt = weightTransformSource(w);
    checkEntry(wt, "256", [0, 1, 2], `${name(w)} weight transform`);
    assert(wt.includes("texture_storage_2d<rgba32float, write>"), `${name(w)}: weight texture`);
    assertEquals((wt.match(/textureStore\(TU/g) ?? []).length, a * a, `${name(w)}: α² weight stores`);
    assert(wt.includes(w.flip ? `* ${w.Co}u + co) * 9u + 8u` : `(co * ${w.Ci}u + ci0) * 9u + 0u`), name(w));

    const inp = inputTransformSource(w);
    checkEntry(inp, "256", [0, 1, 2], `${name(w)} input transform`);
    assert(inp.includes(`gi >= Pc * ${Ci4}u`), `${name(w)}: input bound`);
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

Deno.test("winograd: weight-gradient kernels", () => {
  for (const w of GEOMS.filter((g) => !g.flip)) {
    const { a, Ci4, Co4 } = winogradDims(w);
    const z = gradTransformSource(w);
    checkEntry(z, "256", [0, 1, 2], `${name(w)} grad transform`);
    assertEquals((z.match(/textureStore\(TZ/g) ?? []).length, a * a, `${name(w)}: α² grad stores`);
    assert(z.includes(`gi >= Pc * ${Co4}u`), `${name(w)}: grad bound`);

    const wg = weightGradGemmSource(w);
    checkEntry(wg, String(WEIGHT_GRAD_WG), [0, 1, 2, 3], `${name(w)} weight-gradient GEMM`);
    const threads = weightGradGemmThreads(w);
    assert(threads >= a * a, `${name(w)}: at least α² threads`);
    assert(wg.includes(`gi >= ${threads}u`), `${name(w)}: weight-gradient bound`);

    const dw = weightGradOutputSource(w);
    checkEntry(dw, "256", [1, 2], `${name(w)} dw`);
    assert(dw.includes(`gi >= ${w.Co * Ci4}u`), `${name(w)}: dw bound`);
    assertEquals((dw.match(/DW\[o \+ \d+u\]/g) ?? []).length, 4 * 9, `${name(w)}: 9 taps × 4 channels`);
  }
});
