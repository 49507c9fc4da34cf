/**
 * The f16 matmul path (autocast on adapters with `shader-f16`): each operand is first packed
 * into a dense, zero-padded `vec4<f16>` buffer (A as [layer][M][K/4], B as [layer][K][N/4] with
 * K rounded up to a multiple of 4), then a register-blocked kernel multiplies in f16 — four
 * products summed in f16 per step, accumulated in f32 — and writes f32.
 */
import { META_DECL, range, storeBlock } from "./matmul.ts";

/** Number of u32 words of the pack kernel's uniform block. */
export const HALF_PACK_META_WORDS = 20;

/**
 * Packs one f32 operand (read through offset, row/col strides and 4 own batch dims) into
 * `rowsPad` rows of ⌈cols/4⌉ `vec4<f16>` per layer, zero outside the matrix.
 * Uniform words: 0 rows, 1 cols, 2 offset, 3 rowsPad; 4 cols4, 5 rowStride, 6 colStride,
 * 7 first layer of this dispatch; 8..11 own batch dims; 12..15 batch strides.
 */
export function halfPackSource(): string {
  return `enable f16;
struct Meta { v: array<vec4<u32>, 5> }
@group(0) @binding(0) var<uniform> P: Meta;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<vec4<f16>>;
@compute @workgroup_size(16, 16, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let rows = P.v[0].x; let cols = P.v[0].y; let rowsPad = P.v[0].w;
  let cols4 = P.v[1].x; let rs = P.v[1].y; let cs = P.v[1].z;
  let c4 = gid.x; let r = gid.y; let layer = gid.z + P.v[1].w;
  if (c4 >= cols4 || r >= rowsPad) { return; }
  let d = P.v[2]; let s = P.v[3];
  var l = layer;
  var base = P.v[0].z;
  let i3 = l % d.w; l = l / d.w; base += i3 * s.w;
  let i2 = l % d.z; l = l / d.z; base += i2 * s.z;
  let i1 = l % d.y; l = l / d.y; base += i1 * s.y;
  base += l * s.x;
  var v = vec4<f32>(0.0);
  if (r < rows) {
    for (var c = 0u; c < 4u; c++) {
      let col = c4 * 4u + c;
      if (col < cols) { v[c] = X[base + r * rs + col * cs]; }
    }
  }
  Y[(layer * rowsPad + r) * cols4 + c4] = vec4<f16>(v);
}
`;
}

/** Options of the f16 register-blocked kernel. */
export interface HalfBlockedOptions {
  /** Output rows per thread. */
  tm: number;
  /** Output columns per thread (multiple of 4). */
  tn: number;
  /** Workgroup size (x over columns, y over rows). */
  wg: [number, number];
}

/**
 * Register-blocked f16 kernel over packed operands. Uniforms as the f32 kernels (META_DECL),
 * with K counted in vec4 steps (word 2), A's row stride = K/4 and B's row stride = ⌈N/4⌉ (in
 * vec4s), offsets 0 and batch strides in vec4s.
 */
export function halfBlockedSource(o: HalfBlockedOptions): string {
  const { tm, tn } = o;
  const tn4 = tn / 4;
  const [wx, wy] = o.wg;
  const L: string[] = [`enable f16;`, META_DECL];
  L.push(`@group(0) @binding(1) var<storage, read> A4: array<vec4<f16>>;
@group(0) @binding(2) var<storage, read> B4: array<vec4<f16>>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@compute @workgroup_size(${wx}, ${wy}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = P.v[0].x; let N = P.v[0].y; let K4 = P.v[0].z;
  let batch = gid.z + P.v[0].w;
  let row0 = gid.y * ${tm}u;
  let col0 = gid.x * ${tn}u;
  if (row0 >= M || col0 >= N) { return; }
  let bases = batchBases(batch);
  let aRs = P.v[2].y;
  let bRs = P.v[4].y;
  let N4 = bRs;
  let cBase = batch * M * N;`);
  for (const i of range(tm)) L.push(`  let ar${i} = bases.x + min(row0 + ${i}u, M - 1u) * aRs;`);
  for (const j of range(tn4)) L.push(`  let bc${j} = bases.y + min(col0 / 4u + ${j}u, N4 - 1u);`);
  for (const i of range(tm)) for (const j of range(tn4)) L.push(`  var acc_${i}_${j} = vec4<f32>(0.0);`);
  L.push(`  for (var kb = 0u; kb < K4; kb++) {
    let k = kb * 4u;`);
  for (const i of range(tm)) L.push(`    let a${i} = A4[ar${i} + kb];`);
  for (const kk of range(4)) {
    for (const j of range(tn4)) L.push(`    let b${kk}_${j} = B4[bc${j} + (k + ${kk}u) * bRs];`);
  }
  for (const i of range(tm)) {
    for (const j of range(tn4)) {
      const sum = range(4).map((kk) => `a${i}.${"xyzw"[kk]} * b${kk}_${j}`).join(" + ");
      L.push(`    acc_${i}_${j} += vec4<f32>(${sum});`);
    }
  }
  L.push(`  }`);
  L.push(storeBlock(tm, tn4));
  L.push(`}`);
  return L.join("\n");
}
