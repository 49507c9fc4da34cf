/**
 * WGSL for the texture matmuls: operands are first packed into one `rgba32float` 2-D texture
 * each (a texel holds 4 consecutive values; the distinct batch matrices are stacked vertically),
 * then a register-blocked kernel reads them with `textureLoad`. On llvmpipe texel fetches from
 * 2-D textures vectorise far better than storage-buffer loads (and than texture arrays).
 */
import { META_DECL, range, storeBlock } from "./matmul.ts";

/** Number of u32 words of the pack kernel's uniform block (16 per operand). */
export const PACK_META_WORDS = 32;

/**
 * Pack kernel for one operand, or for both operands of a product whose textures have the same
 * width (the dot form: both packed along K), in one dispatch: 8×8 workgroups over texel columns
 * and the operands' texel rows stacked (A's layers, then B's). Texel (x, layer·H + y) of an
 * operand's texture = X[y, 4x..4x+3] of its batch matrix `layer`, zero outside R×C. Uniform words
 * per operand (16 each, A's first): 0 R, 1 C, 2 offset, 3 H (rows per layer); 4..7 own batch
 * dims; 8..11 their strides; 12 row stride, 13 col stride, 14 texel rows in all (H × layers), 15
 * texels per row. With `vec4[i]`, operand i is read a vec4 at a time (col stride 1; C, offset, row
 * and batch strides multiples of 4): a CPU adapter loads one vector per lane where it would
 * gather four scalars.
 */
export function packSource(vec4: readonly boolean[]): string {
  const names = vec4.length === 2 ? ["A", "B"] : ["A"];
  const side = (i: number, name: string, v: boolean) => `
fn pack${name}(x: u32, row: u32) {
  let m = P.v[${4 * i}]; let d = P.v[${4 * i + 1}]; let s = P.v[${4 * i + 2}]; let e = P.v[${4 * i + 3}];
  let y = row % m.w; var r = row / m.w;
  let layer = r;
  var base = m.z;
  let i3 = r % d.w; r = r / d.w; base += i3 * s.w;
  let i2 = r % d.z; r = r / d.z; base += i2 * s.z;
  let i1 = r % d.y; r = r / d.y; base += i1 * s.y;
  base += r * s.x;
  var v = vec4<f32>(0.0);
  if (y < m.x) {
    let rowBase = base + y * e.x;
${
    v ? `    if (x * 4u < m.y) { v = X${name}[(rowBase >> 2u) + x]; }` : `    let c0 = x * 4u;
    for (var c = 0u; c < 4u; c++) {
      if (c0 + c < m.y) { v[c] = X${name}[rowBase + (c0 + c) * e.y]; }
    }`
  }
  }
  textureStore(T${name}, vec2<u32>(x, layer * m.w + y), v);
}`;
  const decls = names.map((n, i) =>
    `@group(0) @binding(${1 + i}) var<storage, read> X${n}: array<${vec4[i] ? "vec4<f32>" : "f32"}>;\n` +
    `@group(0) @binding(${1 + names.length + i}) var T${n}: texture_storage_2d<rgba32float, write>;`
  );
  const pick = names.length === 2
    ? `  if (row < nA) { packA(gid.x, row); } else if (row - nA < P.v[7].z) { packB(gid.x, row - nA); }`
    : `  if (row < nA) { packA(gid.x, row); }`;
  return `struct Meta { v: array<vec4<u32>, 8> }
@group(0) @binding(0) var<uniform> P: Meta;
${decls.join("\n")}
${names.map((n, i) => side(i, n, vec4[i])).join("\n")}
@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x >= P.v[3].w) { return; }
  let row = gid.y; let nA = P.v[3].z;
${pick}
}
`;
}

/** Options of the texture kernels. */
export interface TextureOptions {
  /** Output rows per thread. */
  tm: number;
  /** Output columns per thread (multiple of 4). */
  tn: number;
  /** Workgroup size (x over columns, y over rows). */
  wg: [number, number];
  /**
   * Dot-product form: B is packed transposed (texels run along K for both operands) and each
   * scalar accumulator takes a 4-long dot per texel pair. Otherwise B texels run along N.
   */
  dot: boolean;
}

/** Register-blocked kernel over packed textures; the uniform's A/B offsets and batch strides count texel rows. */
export function textureSource(o: TextureOptions): string {
  const { tm, tn, dot } = o;
  const tn4 = tn / 4;
  const L: string[] = [META_DECL];
  L.push(`@group(0) @binding(1) var TA: texture_2d<f32>;
@group(0) @binding(2) var TB: texture_2d<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@compute @workgroup_size(${o.wg[0]}, ${o.wg[1]}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = P.v[0].x; let N = P.v[0].y; let K = P.v[0].z;
  let batch = gid.z + P.v[0].w;
  let row0 = gid.y * ${tm}u;
  let col0 = gid.x * ${tn}u;
  if (row0 >= M || col0 >= N) { return; }
  let rowBases = batchBases(batch);
  let cBase = batch * M * N;
  let Kt = i32((K + 3u) / 4u);`);
  // Clamp onto the last row/column: loads stay inside this matrix and the extra results are never stored.
  for (const i of range(tm)) L.push(`  let r${i} = i32(rowBases.x + min(row0 + ${i}u, M - 1u));`);
  if (dot) {
    for (const j of range(tn)) L.push(`  let c${j} = i32(rowBases.y + min(col0 + ${j}u, N - 1u));`);
    for (const i of range(tm)) for (const j of range(tn)) L.push(`  var s_${i}_${j} = 0.0;`);
    L.push(`  for (var kt = 0; kt < Kt; kt++) {`);
    for (const i of range(tm)) L.push(`    let a${i} = textureLoad(TA, vec2<i32>(kt, r${i}), 0);`);
    for (const j of range(tn)) L.push(`    let b${j} = textureLoad(TB, vec2<i32>(kt, c${j}), 0);`);
    for (const i of range(tm)) for (const j of range(tn)) L.push(`    s_${i}_${j} += dot(a${i}, b${j});`);
    L.push(`  }`);
    for (const i of range(tm)) {
      for (const j of range(tn4)) {
        L.push(`  let acc_${i}_${j} = vec4<f32>(${range(4).map((c) => `s_${i}_${4 * j + c}`).join(", ")});`);
      }
    }
  } else {
    L.push(`  let Nt = (N + 3u) / 4u;
  let kRow = i32(rowBases.y);`);
    for (const j of range(tn4)) L.push(`  let c${j} = i32(min(col0 / 4u + ${j}u, Nt - 1u));`);
    for (const i of range(tm)) for (const j of range(tn4)) L.push(`  var acc_${i}_${j} = vec4<f32>(0.0);`);
    L.push(`  for (var kt = 0; kt < Kt; kt++) {
    let k = kRow + kt * 4;`);
    for (const i of range(tm)) L.push(`    let a${i} = textureLoad(TA, vec2<i32>(kt, r${i}), 0);`);
    for (const kk of range(4)) {
      for (const j of range(tn4)) L.push(`    let b${kk}_${j} = textureLoad(TB, vec2<i32>(c${j}, k + ${kk}), 0);`);
      for (const i of range(tm)) {
        for (const j of range(tn4)) {
          L.push(`    acc_${i}_${j} = fma(vec4<f32>(a${i}.${"xyzw"[kk]}), b${kk}_${j}, acc_${i}_${j});`);
        }
      }
    }
    L.push(`  }`);
  }
  L.push(storeBlock(tm, tn4));
  L.push(`}`);
  return L.join("\n");
}
