/**
 * Exact k-nearest-neighbour search by brute force: one thread per query row keeps its k
 * smallest squared Euclidean distances (and their reference indices) in registers while it
 * walks every reference row in index order, so ties keep the lower index. O(n·m·d) work, no
 * n×m matrix in memory.
 */
import { flatMain, metaAt, metaDecl } from "./wgsl.ts";

/** Threads per workgroup. */
export const KNN_WG = 64;
/** Largest k one thread keeps. */
export const KNN_MAX_K = 16;
/**
 * Uniform words: queries n, references m, features d, k, exclude-self flag (skip reference i
 * for query i), element offset of the queries, of the references, and the references j0 … j1 − 1
 * this dispatch walks (a dispatch after the first carries on from the lists it finds in the outputs).
 */
export const KNN_META_WORDS = 9;
/** Features summed per iteration of the distance loop (sequentially: the sum's order is unchanged). */
export const KNN_UNROLL = 8;

/** WGSL source: q (n×d), r (m×d), dense f32 → idx (n×k i32), dist (n×k f32), ascending. */
export function knnSource(): string {
  const unrolled = Array.from(
    { length: KNN_UNROLL },
    (_, u) => `      let t${u} = q[qb + c + ${u}u] - r[rb + c + ${u}u];\n      acc += t${u} * t${u};`,
  ).join("\n");
  return `${metaDecl(KNN_META_WORDS)}
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> r: array<f32>;
@group(0) @binding(3) var<storage, read_write> idx: array<i32>;
@group(0) @binding(4) var<storage, read_write> dist: array<f32>;

${flatMain(KNN_WG)}
  let n = ${metaAt(0)}; let m = ${metaAt(1)}; let d = ${metaAt(2)}; let k = ${metaAt(3)};
  let skipSelf = ${metaAt(4)} != 0u;
  if (gi >= n) { return; }
  let qb = ${metaAt(5)} + gi * d;
  var bestD: array<f32, ${KNN_MAX_K}>;
  var bestI: array<i32, ${KNN_MAX_K}>;
  let j0 = ${metaAt(7)}; let j1 = ${metaAt(8)};
  for (var s = 0u; s < ${KNN_MAX_K}u; s++) { bestD[s] = bitcast<f32>(0x7f800000u); bestI[s] = -1; }
  if (j0 > 0u) {
    for (var s = 0u; s < k; s++) { bestI[s] = idx[gi * k + s]; bestD[s] = dist[gi * k + s]; }
  }
  let dMain = d - d % ${KNN_UNROLL}u;
  for (var j = j0; j < j1; j++) {
    if (skipSelf && j == gi) { continue; }
    let rb = ${metaAt(6)} + j * d;
    var acc = 0.0;
    for (var c = 0u; c < dMain; c += ${KNN_UNROLL}u) {
${unrolled}
    }
    for (var c = dMain; c < d; c++) {
      let t = q[qb + c] - r[rb + c];
      acc += t * t;
    }
    if (acc < bestD[k - 1u]) {
      // Insert, keeping the list sorted; equal distances stay behind earlier (lower) indices.
      var p = k - 1u;
      while (p > 0u && acc < bestD[p - 1u]) {
        bestD[p] = bestD[p - 1u];
        bestI[p] = bestI[p - 1u];
        p--;
      }
      bestD[p] = acc;
      bestI[p] = i32(j);
    }
  }
  for (var s = 0u; s < k; s++) {
    idx[gi * k + s] = bestI[s];
    dist[gi * k + s] = bestD[s];
  }
}
`;
}
