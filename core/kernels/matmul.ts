/**
 * WGSL generators for the storage-buffer matmul kernels: a naive one (one output per thread),
 * a register-blocked one (each thread a TM×TN block, operands read as vec4 where aligned) and a
 * classic workgroup-memory tiled one. All read both operands through (row, col) strides and
 * per-batch-dim strides, so transposed views and broadcast batches need no copy.
 */

/** Batch dims the kernels index directly (more are merged or copied by the op). */
export const MAX_BATCH_DIMS = 4;

/** Number of u32 words of the matmul uniform block. */
export const MATMUL_META_WORDS = 24;

/**
 * Uniform layout shared by every matmul kernel (u32 words):
 * 0 M, 1 N, 2 K, 3 first batch index of this dispatch; 4..7 batch dims (outermost first);
 * 8 A offset, 9 A row stride (along M), 10 A col stride (along K); 12..15 A batch strides;
 * 16 B offset, 17 B row stride (along K), 18 B col stride (along N); 20..23 B batch strides.
 * For the texture kernel the A/B offsets and strides are in layers instead of elements.
 */
export const META_DECL = `struct Meta { v: array<vec4<u32>, 6> }
@group(0) @binding(0) var<uniform> P: Meta;
// Element (or layer) offsets of A and B for output batch b.
fn batchBases(b: u32) -> vec2<u32> {
  let d = P.v[1];
  let sa = P.v[3];
  let sb = P.v[5];
  var r = b;
  var ao = P.v[2].x;
  var bo = P.v[4].x;
  let i3 = r % d.w; r = r / d.w; ao += i3 * sa.w; bo += i3 * sb.w;
  let i2 = r % d.z; r = r / d.z; ao += i2 * sa.z; bo += i2 * sb.z;
  let i1 = r % d.y; r = r / d.y; ao += i1 * sa.y; bo += i1 * sb.y;
  ao += r * sa.x; bo += r * sb.x;
  return vec2<u32>(ao, bo);
}
`;

const BINDINGS = `@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
`;

/** Options of the register-blocked buffer kernel. */
export interface BlockedOptions {
  /** Output rows per thread. */
  tm: number;
  /** Output columns per thread (multiple of 4). */
  tn: number;
  /** Workgroup size (x over columns, y over rows). */
  wg: [number, number];
  /** A is K-contiguous and 16-byte aligned: load A rows as vec4 along K. */
  aVec: boolean;
  /** B is N-contiguous, aligned and N % 4 == 0: load B rows as vec4 along N. */
  bVec: boolean;
  /** Add the product to what C holds (a later slice of a product split along K). */
  accumulate?: boolean;
}

/** 0, 1, …, n − 1. */
export const range = (n: number): number[] => [...Array(n).keys()];

/**
 * WGSL storing the thread block `acc_i_j` (vec4 over columns) into C, with bounds checks;
 * `accumulate` adds it to what C holds (the later slices of a product split along K).
 */
export function storeBlock(tm: number, tn4: number, accumulate = false): string {
  const out: string[] = [];
  for (const i of range(tm)) {
    out.push(`  if (row0 + ${i}u < M) {`);
    out.push(`    let o = cBase + (row0 + ${i}u) * N + col0;`);
    for (const j of range(tn4)) {
      for (const c of range(4)) {
        const col = 4 * j + c;
        const to = `C[o + ${col}u]`, v = `acc_${i}_${j}.${"xyzw"[c]}`;
        out.push(`    if (col0 + ${col}u < N) { ${to} = ${accumulate ? `${to} + ${v}` : v}; }`);
      }
    }
    out.push(`  }`);
  }
  return out.join("\n");
}

/** Register-blocked kernel: thread (x, y) of batch z computes rows y·TM.., cols x·TN... */
export function blockedSource(o: BlockedOptions): string {
  const { tm, tn, aVec, bVec } = o;
  const tn4 = tn / 4;
  const [wx, wy] = o.wg;
  const L: string[] = [META_DECL];
  // Each operand is bound once, as scalars or (when aligned) as vec4s.
  L.push(`@group(0) @binding(1) var<storage, read> ${aVec ? "A4: array<vec4<f32>>" : "A: array<f32>"};`);
  L.push(`@group(0) @binding(2) var<storage, read> ${bVec ? "B4: array<vec4<f32>>" : "B: array<f32>"};`);
  L.push(`@group(0) @binding(3) var<storage, read_write> C: array<f32>;`);
  // With one row of threads per workgroup, rows and batch come from workgroup_id: the compiler
  // then knows every A address is the same across the SIMD lanes (a scalar load, not a gather).
  const uniformRows = wy === 1;
  L.push(`@compute @workgroup_size(${wx}, ${wy}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let M = P.v[0].x; let N = P.v[0].y; let K = P.v[0].z;
  let batch = ${uniformRows ? "wid" : "gid"}.z + P.v[0].w;
  let row0 = ${uniformRows ? "wid" : "gid"}.y * ${tm}u;
  let col0 = gid.x * ${tn}u;
  if (row0 >= M${uniformRows ? "" : " || col0 >= N"}) { return; }
  let bases = batchBases(batch);
  let aRs = P.v[2].y; let aCs = P.v[2].z;
  let bRs = P.v[4].y; let bCs = P.v[4].z;
  let cBase = batch * M * N;`);
  // Rows/cols past the edge are clamped onto the last one: loads stay in bounds, and the
  // results they feed are never stored.
  for (const i of range(tm)) L.push(`  let ar${i} = bases.x + min(row0 + ${i}u, M - 1u) * aRs;`);
  if (bVec) {
    for (const j of range(tn4)) L.push(`  let bc${j} = bases.y / 4u + min(col0 / 4u + ${j}u, N / 4u - 1u);`);
  } else {
    for (const c of range(tn)) L.push(`  let bc${c} = bases.y + min(col0 + ${c}u, N - 1u) * bCs;`);
  }
  for (const i of range(tm)) for (const j of range(tn4)) L.push(`  var acc_${i}_${j} = vec4<f32>(0.0);`);
  const loadB = (k: string, j: number): string =>
    bVec
      ? `B4[bc${j} + (${k}) * (bRs / 4u)]`
      : `vec4<f32>(${range(4).map((c) => `B[bc${4 * j + c} + (${k}) * bRs]`).join(", ")})`;
  const loadA4 = (i: number): string =>
    aVec ? `A4[(ar${i} + k) / 4u]` : `vec4<f32>(${range(4).map((c) => `A[ar${i} + (k + ${c}u) * aCs]`).join(", ")})`;
  L.push(`  let K4 = K / 4u;
  for (var kb = 0u; kb < K4; kb++) {
    let k = kb * 4u;`);
  for (const i of range(tm)) L.push(`    let a${i} = ${loadA4(i)};`);
  for (const kk of range(4)) {
    for (const j of range(tn4)) L.push(`    let b${kk}_${j} = ${loadB(`k + ${kk}u`, j)};`);
    for (const i of range(tm)) {
      for (const j of range(tn4)) {
        L.push(`    acc_${i}_${j} = fma(vec4<f32>(a${i}.${"xyzw"[kk]}), b${kk}_${j}, acc_${i}_${j});`);
      }
    }
  }
  L.push(`  }
  for (var k = K4 * 4u; k < K; k++) {`);
  for (const i of range(tm)) {
    L.push(`    let a${i} = ${aVec ? `A4[(ar${i} + k) / 4u][(ar${i} + k) % 4u]` : `A[ar${i} + k * aCs]`};`);
  }
  for (const j of range(tn4)) L.push(`    let b${j} = ${loadB("k", j)};`);
  for (const i of range(tm)) {
    for (const j of range(tn4)) L.push(`    acc_${i}_${j} = fma(vec4<f32>(a${i}), b${j}, acc_${i}_${j});`);
  }
  L.push(`  }`);
  L.push(storeBlock(tm, tn4, o.accumulate));
  L.push(`}`);
  return L.join("\n");
}

/** Naive kernel: one output per thread, for small products. */
export function naiveSource(wg: [number, number], accumulate = false): string {
  const at = "C[batch * M * N + row * N + col]";
  return `${META_DECL}${BINDINGS}
@compute @workgroup_size(${wg[0]}, ${wg[1]}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = P.v[0].x; let N = P.v[0].y; let K = P.v[0].z;
  let batch = gid.z + P.v[0].w;
  let row = gid.y;
  let col = gid.x;
  if (row >= M || col >= N) { return; }
  let bases = batchBases(batch);
  var ai = bases.x + row * P.v[2].y;
  var bi = bases.y + col * P.v[4].z;
  let aCs = P.v[2].z;
  let bRs = P.v[4].y;
  var acc = 0.0;
  for (var k = 0u; k < K; k++) {
    acc = fma(A[ai], B[bi], acc);
    ai += aCs;
    bi += bRs;
  }
  ${at} = ${accumulate ? `${at} + acc` : "acc"};
}
`;
}

/** Options of the workgroup-memory tiled kernel. */
export interface TiledOptions {
  /** Output tile edge per workgroup (rows = cols). */
  tile: number;
  /** K slice staged in workgroup memory per step. */
  bk: number;
  /** Outputs per thread along each axis (threads per workgroup = (tile / per)²). */
  per: number;
}

/** Classic tiled kernel: the workgroup stages A/B tiles in workgroup memory, each thread a per×per block. */
export function tiledSource(o: TiledOptions): string {
  const { tile, bk, per } = o;
  const t = tile / per; // threads per axis
  const threads = t * t;
  const aLoads = (tile * bk) / threads;
  const bLoads = (bk * tile) / threads;
  const L: string[] = [META_DECL, BINDINGS];
  L.push(`var<workgroup> As: array<f32, ${tile * bk}>; // [bk][tile], k-major
var<workgroup> Bs: array<f32, ${bk * tile}>; // [bk][tile]
@compute @workgroup_size(${t}, ${t}, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let M = P.v[0].x; let N = P.v[0].y; let K = P.v[0].z;
  let batch = wid.z + P.v[0].w;
  let bases = batchBases(batch);
  let aRs = P.v[2].y; let aCs = P.v[2].z;
  let bRs = P.v[4].y; let bCs = P.v[4].z;
  let tileRow = wid.y * ${tile}u;
  let tileCol = wid.x * ${tile}u;
  var acc: array<f32, ${per * per}>;
  for (var i = 0u; i < ${per * per}u; i++) { acc[i] = 0.0; }
  for (var k0 = 0u; k0 < K; k0 += ${bk}u) {
    for (var l = 0u; l < ${aLoads}u; l++) {
      let e = li + l * ${threads}u;
      let r = e / ${bk}u;
      let kk = e % ${bk}u;
      let gr = tileRow + r;
      let gk = k0 + kk;
      var v = 0.0;
      if (gr < M && gk < K) { v = A[bases.x + gr * aRs + gk * aCs]; }
      As[kk * ${tile}u + r] = v;
    }
    for (var l = 0u; l < ${bLoads}u; l++) {
      let e = li + l * ${threads}u;
      let kk = e / ${tile}u;
      let c = e % ${tile}u;
      let gc = tileCol + c;
      let gk = k0 + kk;
      var v = 0.0;
      if (gc < N && gk < K) { v = B[bases.y + gk * bRs + gc * bCs]; }
      Bs[kk * ${tile}u + c] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${bk}u; kk++) {
      var a: array<f32, ${per}>;
      var b: array<f32, ${per}>;
      for (var i = 0u; i < ${per}u; i++) {
        a[i] = As[kk * ${tile}u + lid.y * ${per}u + i];
        b[i] = Bs[kk * ${tile}u + lid.x * ${per}u + i];
      }
      for (var i = 0u; i < ${per}u; i++) {
        for (var j = 0u; j < ${per}u; j++) {
          acc[i * ${per}u + j] = fma(a[i], b[j], acc[i * ${per}u + j]);
        }
      }
    }
    workgroupBarrier();
  }
  let cBase = batch * M * N;
  for (var i = 0u; i < ${per}u; i++) {
    let r = tileRow + lid.y * ${per}u + i;
    if (r >= M) { continue; }
    for (var j = 0u; j < ${per}u; j++) {
      let c = tileCol + lid.x * ${per}u + j;
      if (c < N) { C[cBase + r * N + c] = acc[i * ${per}u + j]; }
    }
  }
}
`);
  return L.join("\n");
}
