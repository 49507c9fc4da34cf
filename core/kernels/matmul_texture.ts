/**
 * WGSL for the texture matmuls: operands are first packed into one `rgba32float` 2-D texture
 * each (a texel holds 4 consecutive values; the distinct batch matrices are stacked vertically),
 * then a register-blocked kernel reads them with `textureLoad`. On llvmpipe texel fetches from
 * 2-D textures vectorise far better than storage-buffer loads (and than texture arrays).
 */
import { META_DECL, range, storeBlock } from "./matmul.ts";

/** Number of u32 words of the pack kernel's uniform block. */
export const PACK_META_WORDS = 16;

/**
 * Pack kernel: texel (x, layer·H + y) = X[y, 4x..4x+3] of batch matrix `layer`, zero outside
 * R×C. Uniform words: 0 R, 1 C, 2 offset, 3 H (rows per layer); 4..7 own batch dims; 8..11
 * their strides; 12 row stride, 13 col stride.
 */
export function packSource(): string {
  return `struct Meta { v: array<vec4<u32>, 4> }
@group(0) @binding(0) var<uniform> P: Meta;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var T: texture_storage_2d<rgba32float, write>;
@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let R = P.v[0].x; let C = P.v[0].y; let H = P.v[0].w;
  if (gid.x >= textureDimensions(T).x || gid.y >= H) { return; }
  let d = P.v[1]; let s = P.v[2];
  var r = gid.z;
  var base = P.v[0].z;
  let i3 = r % d.w; r = r / d.w; base += i3 * s.w;
  let i2 = r % d.z; r = r / d.z; base += i2 * s.z;
  let i1 = r % d.y; r = r / d.y; base += i1 * s.y;
  base += r * s.x;
  let rs = P.v[3].x; let cs = P.v[3].y;
  var v = vec4<f32>(0.0);
  if (gid.y < R) {
    let c0 = gid.x * 4u;
    let rowBase = base + gid.y * rs;
    for (var c = 0u; c < 4u; c++) {
      if (c0 + c < C) { v[c] = X[rowBase + (c0 + c) * cs]; }
    }
  }
  textureStore(T, vec2<u32>(gid.x, gid.z * H + gid.y), v);
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
