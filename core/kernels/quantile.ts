/**
 * Order statistics of rows without sorting: one workgroup per row finds the k-th and
 * (k+1)-th smallest values by a bitwise search over order-preserving u32 keys of the floats
 * (32 rounds, each a count of the row's keys ≤ a candidate, summed in workgroup memory),
 * then combines them as `quantile` asks. Exact, deterministic, O(32·n) per row.
 */
import { metaAt, metaDecl } from "./wgsl.ts";

/** Threads per row. */
export const SELECT_WG = 64;

/** How the two order statistics around the quantile's position are combined (PyTorch's names). */
export type QuantileInterpolation = "linear" | "lower" | "higher" | "midpoint" | "nearest";

/**
 * Uniform words: rows, row length n, rank k = ⌊position⌋, weight (f32 bits: the position's
 * fractional part; for "nearest", 1 when the rounded position is k + 1, else 0), mode
 * (0 linear, 1 lower, 2 higher, 3 midpoint, 4 nearest), workgroups per grid row, element
 * offset of x.
 */
export const SELECT_META_WORDS = 7;

/** WGSL source of the row quantile kernel: x (rows × n, dense) → out (rows). */
export function quantileSource(): string {
  const W = SELECT_WG;
  return `${metaDecl(SELECT_META_WORDS)}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
var<workgroup> lo_: array<u32, ${W}>;
var<workgroup> hi_: array<u32, ${W}>;

// Monotone map of a (non-NaN) float to u32: negatives reversed below the positives.
fn key(v: f32) -> u32 {
  let b = bitcast<u32>(v);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}
fn unkey(k: u32) -> f32 {
  return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u));
}
// Sums a per-thread pair of counts over the workgroup (every thread gets the totals).
fn total(a: u32, b: u32, t: u32) -> vec2<u32> {
  lo_[t] = a;
  hi_[t] = b;
  workgroupBarrier();
  for (var s = ${W / 2}u; s > 0u; s = s >> 1u) {
    if (t < s) {
      lo_[t] += lo_[t + s];
      hi_[t] += hi_[t + s];
    }
    workgroupBarrier();
  }
  let r = vec2<u32>(lo_[0], hi_[0]);
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(${W})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let rows = ${metaAt(0)}; let n = ${metaAt(1)}; let k = ${metaAt(2)};
  let w = bitcast<f32>(${metaAt(3)}); let mode = ${metaAt(4)};
  let row = wid.x + wid.y * ${metaAt(5)};
  let t = lid.x;
  // Uniform control flow: every thread of a workgroup takes the same branches.
  let live = row < rows;
  let base = ${metaAt(6)} + select(0u, row * n, live);
  let len = select(0u, n, live);
  var nan = 0u;
  for (var i = t; i < len; i += ${W}u) {
    let v = x[base + i];
    if (v != v) { nan += 1u; }
  }
  let nans = total(nan, 0u, t).x;
  // The smallest key K with count(key ≤ K) > r is the r-th smallest (0-based); greedy by bit.
  let k2 = min(k + 1u, max(len, 1u) - 1u);
  var a = 0u;
  var b = 0u;
  for (var bit = 31i; bit >= 0i; bit--) {
    let low = (1u << u32(bit)) - 1u;
    let ta = a | low;
    let tb = b | low;
    var ca = 0u;
    var cb = 0u;
    for (var i = t; i < len; i += ${W}u) {
      let kv = key(x[base + i]);
      ca += select(0u, 1u, kv <= ta);
      cb += select(0u, 1u, kv <= tb);
    }
    let c = total(ca, cb, t);
    if (c.x <= k) { a = a | (1u << u32(bit)); }
    if (c.y <= k2) { b = b | (1u << u32(bit)); }
  }
  if (!live || t != 0u) { return; }
  if (nans > 0u) {
    out[row] = bitcast<f32>(0x7fc00000u);
    return;
  }
  let lo = unkey(a);
  let hi = unkey(b);
  var r = lo;
  switch mode {
    case 0u: { // torch.lerp
      r = select(hi - (hi - lo) * (1.0 - w), lo + w * (hi - lo), w < 0.5);
    }
    case 2u: { r = select(lo, hi, w > 0.0); }
    case 3u: { r = hi - (hi - lo) * 0.5; }
    case 4u: { r = select(lo, hi, w != 0.0); }
    default: { r = lo; }
  }
  out[row] = r;
}
`;
}
