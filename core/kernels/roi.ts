/**
 * Region-of-interest kernels of the DiffMIC-v2 / GMIC guidance network (DCG):
 *
 * - `roiSelectSource`: one workgroup per image min–max normalises every class map, sums them
 *   into a scratch map, then greedily picks k windows (largest window sum, ties to the
 *   smallest row-major position), zeroing each picked window before the next pick.
 * - `cropPatchesSource` / `cropPatchesBackwardSource`: crops of the full-resolution images at
 *   the picked cells (DCG's bottom-right placement, min padding) and their adjoint, written as
 *   a gather (one thread per image pixel loops over the crops), so no atomics are needed.
 * - `topKMaskSource`: a 0/1 mask of the k largest entries of each row (radix select on
 *   order-preserving u32 keys, ties to the smaller index, NaN largest).
 */
import { flatMain, metaAt, metaDecl } from "./wgsl.ts";

/** Threads per workgroup of the per-image / per-crop / per-row kernels. */
export const ROI_WG = 64;

/** Largest finite float32 (bit pattern), the clamp of ±Infinity in `roiSelect`. */
const F32_MAX = "bitcast<f32>(0x7f7fffffu)";
const NAN = "bitcast<f32>(0x7fc00000u)";

/**
 * Uniform words of `roiSelectSource`: N, C, h, w, k, window, workgroups per grid row, element
 * offset of the saliency, then its four strides (n, c, row, col).
 */
export const ROI_SELECT_META_WORDS = 12;

/** A workgroup-wide tree reduction over `ROI_WG` slots (all threads call it, uniform control flow). */
function treeLoop(body: string): string {
  return `for (var s = ${ROI_WG / 2}u; s > 0u; s = s >> 1u) {
      if (t < s) { ${body} }
      workgroupBarrier();
    }`;
}

/**
 * WGSL of `roiSelect`: saliency (N, C, h, w) (any strides) → picks (N, k, 2) i32 (row, col);
 * `sal` is a dense (N, h·w) f32 scratch map. One workgroup per image.
 */
export function roiSelectSource(): string {
  const W = ROI_WG;
  return `${metaDecl(ROI_SELECT_META_WORDS)}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> sal: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<i32>;
var<workgroup> ra_: array<f32, ${W}>;
var<workgroup> rb_: array<f32, ${W}>;
var<workgroup> ri_: array<u32, ${W}>;

@compute @workgroup_size(${W})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let N = ${metaAt(0)}; let C = ${metaAt(1)}; let h = ${metaAt(2)}; let w = ${metaAt(3)};
  let k = ${metaAt(4)}; let win = ${metaAt(5)};
  let xs0 = ${metaAt(8)}; let xs1 = ${metaAt(9)}; let xs2 = ${metaAt(10)}; let xs3 = ${metaAt(11)};
  let n = wid.x + wid.y * ${metaAt(6)};
  let t = lid.x;
  // Uniform control flow: every thread of a workgroup takes the same branches and barriers.
  let live = n < N;
  let cells = select(0u, h * w, live);
  let mb = select(0u, n * h * w, live);
  let big = ${F32_MAX};
  // 1. Sum of the min–max normalised class maps. NaN cells take no part in the min/max and
  //    normalise to 0; ±Infinity is clamped to ±F32_MAX; a map without spread gives zeros.
  //    Halving both sides keeps (x − min) / (max − min) finite for any finite pair (exact
  //    for normal floats, so the ratio is that of the plain formula).
  for (var c = 0u; c < C; c++) {
    let xb = ${metaAt(7)} + select(0u, n * xs0 + c * xs1, live);
    var lo = big;
    var hi = -big;
    for (var i = t; i < cells; i += ${W}u) {
      let v = x[xb + (i / w) * xs2 + (i % w) * xs3];
      if (v == v) {
        let u = clamp(v, -big, big);
        lo = min(lo, u);
        hi = max(hi, u);
      }
    }
    ra_[t] = lo;
    rb_[t] = hi;
    workgroupBarrier();
    ${treeLoop("ra_[t] = min(ra_[t], ra_[t + s]); rb_[t] = max(rb_[t], rb_[t + s]);")}
    let hm = 0.5 * ra_[0];
    let den = 0.5 * rb_[0] - hm;
    workgroupBarrier();
    for (var i = t; i < cells; i += ${W}u) {
      let v = x[xb + (i / w) * xs2 + (i % w) * xs3];
      var q = 0.0;
      if (den > 0.0 && v == v) { q = (0.5 * clamp(v, -big, big) - hm) / den; }
      if (c == 0u) { sal[mb + i] = q; } else { sal[mb + i] = sal[mb + i] + q; }
    }
  }
  storageBarrier();
  // 2. k greedy picks of the window with the largest sum (ties: smallest row-major position).
  let pw = w - win + 1u;
  let P = select(0u, (h - win + 1u) * pw, live);
  for (var j = 0u; j < k; j++) {
    var bs = -1.0;
    var bp = 0xffffffffu;
    for (var p = t; p < P; p += ${W}u) {
      let r0 = p / pw;
      let c0 = p % pw;
      var acc = 0.0;
      for (var dr = 0u; dr < win; dr++) {
        let rb = mb + (r0 + dr) * w + c0;
        for (var dc = 0u; dc < win; dc++) { acc += sal[rb + dc]; }
      }
      if (acc > bs) {
        bs = acc;
        bp = p;
      }
    }
    storageBarrier();
    ra_[t] = bs;
    ri_[t] = bp;
    workgroupBarrier();
    ${
    treeLoop(`let os = ra_[t + s]; let oq = ri_[t + s];
        if (os > ra_[t] || (os == ra_[t] && oq < ri_[t])) { ra_[t] = os; ri_[t] = oq; }`)
  }
    let best = ri_[0];
    workgroupBarrier();
    if (live) {
      let br = best / pw;
      let bc = best % pw;
      if (t == 0u) {
        out[(n * k + j) * 2u] = i32(br);
        out[(n * k + j) * 2u + 1u] = i32(bc);
      }
      for (var i = t; i < win * win; i += ${W}u) { sal[mb + (br + i / win) * w + bc + i % win] = 0.0; }
    }
    storageBarrier();
  }
}
`;
}

/**
 * WGSL helper shared by the crop kernels: for a cell index \`cell\` on a grid of \`g\` cells over
 * an image axis of \`L\` pixels and a crop of \`S\`, returns (first source pixel, output origin,
 * valid extent). The cell is clamped to [0, g − 1]; the pixel is round(cell·L / g), halves to
 * even, in exact integers; the valid block [top, min(top + S, L)) lands at the end of the crop.
 */
const PLACE = `
fn place_(cell: i32, g: u32, L: u32, S: u32) -> vec3<u32> {
  let c = u32(clamp(cell, 0i, i32(g) - 1i));
  let num = c * L;
  var q = num / g;
  let r = num % g;
  if (2u * r > g || (2u * r == g && (q & 1u) == 1u)) { q += 1u; }
  let lo = min(q, L);
  let ext = min(q + S, L) - lo;
  return vec3<u32>(lo, S - ext, ext);
}
`;

/**
 * Uniform words of `cropPatchesSource`: (crop, channel) pairs, k, output channels, H, W, crop
 * size S, grid h, grid w, first (1: read channel 0 only), workgroups per grid row, image
 * offset, image strides (n, c, y, x), cells offset, cells strides (n, j, coordinate).
 */
export const CROP_META_WORDS = 19;

/**
 * WGSL of the `cropPatches` forward: images (N, Ch, H, W) (any strides) and i32 cells
 * (N, k, 2) → out (N·k, Ch', S, S) dense. One workgroup per (crop, output channel); when the
 * crop needs padding the workgroup first reduces the channel's minimum (NaN if it holds NaN,
 * as torch.min).
 */
export function cropPatchesSource(): string {
  const W = ROI_WG;
  return `${metaDecl(CROP_META_WORDS)}
@group(0) @binding(1) var<storage, read> img: array<f32>;
@group(0) @binding(2) var<storage, read> cells: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
var<workgroup> rm_: array<f32, ${W}>;
var<workgroup> rn_: array<u32, ${W}>;
${PLACE}
@compute @workgroup_size(${W})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let pairs = ${metaAt(0)}; let k = ${metaAt(1)}; let cho = ${metaAt(2)};
  let H = ${metaAt(3)}; let W = ${metaAt(4)}; let S = ${metaAt(5)};
  let is0 = ${metaAt(11)}; let is1 = ${metaAt(12)}; let is2 = ${metaAt(13)}; let is3 = ${metaAt(14)};
  let b = wid.x + wid.y * ${metaAt(9)};
  let t = lid.x;
  let live = b < pairs;
  let bb = select(0u, b, live);
  let crop = bb / cho;
  let co = bb % cho;
  let n = crop / k;
  let j = crop % k;
  let cb = ${metaAt(15)} + n * ${metaAt(16)} + j * ${metaAt(17)};
  let py = place_(cells[cb], ${metaAt(6)}, H, S);
  let px = place_(cells[cb + ${metaAt(18)}], ${metaAt(7)}, W, S);
  let ci = select(co, 0u, ${metaAt(8)} == 1u);
  let ib = ${metaAt(10)} + n * is0 + ci * is1;
  // The channel's minimum, only when this crop has padding (the barriers stay uniform).
  let need = live && (py.z < S || px.z < S);
  let len = select(0u, H * W, need);
  var lo = bitcast<f32>(0x7f800000u);
  var nan = 0u;
  for (var i = t; i < len; i += ${W}u) {
    let v = img[ib + (i / W) * is2 + (i % W) * is3];
    if (v != v) { nan = 1u; } else { lo = min(lo, v); }
  }
  rm_[t] = lo;
  rn_[t] = nan;
  workgroupBarrier();
  ${treeLoop("rm_[t] = min(rm_[t], rm_[t + s]); rn_[t] = max(rn_[t], rn_[t + s]);")}
  let fill = select(rm_[0], ${NAN}, rn_[0] != 0u);
  if (!live) { return; }
  let ob = b * S * S;
  for (var i = t; i < S * S; i += ${W}u) {
    let oy = i / S;
    let ox = i % S;
    var v = fill;
    if (oy >= py.y && ox >= px.y) { v = img[ib + (py.x + oy - py.y) * is2 + (px.x + ox - px.y) * is3]; }
    out[ob + i] = v;
  }
}
`;
}

/**
 * Uniform words of `cropPatchesBackwardSource`: image elements, k, channels Ch, H, W, S, grid
 * h, grid w, first, g offset, g strides (crop, channel, y, x), cells offset, cells strides.
 */
export const CROP_BACKWARD_META_WORDS = 18;

/**
 * WGSL of the `cropPatches` backward: g (N·k, Ch', S, S) (any strides) → gx (N, Ch, H, W)
 * dense. One thread per image pixel sums, over the k crops of its image in order, the
 * gradient of the output pixel it was copied to (padding carries no gradient).
 */
export function cropPatchesBackwardSource(): string {
  return `${metaDecl(CROP_BACKWARD_META_WORDS)}
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> cells: array<i32>;
@group(0) @binding(3) var<storage, read_write> gx: array<f32>;
${PLACE}
${flatMain()}
  if (gi >= ${metaAt(0)}) { return; }
  let k = ${metaAt(1)}; let Ch = ${metaAt(2)}; let H = ${metaAt(3)}; let W = ${metaAt(4)}; let S = ${metaAt(5)};
  let first = ${metaAt(8)} == 1u;
  let x = gi % W;
  let y = (gi / W) % H;
  let c = (gi / (W * H)) % Ch;
  let n = gi / (W * H * Ch);
  var acc = 0.0;
  if (!first || c == 0u) {
    let gb = ${metaAt(9)} + select(c, 0u, first) * ${metaAt(11)};
    for (var j = 0u; j < k; j++) {
      let cb = ${metaAt(14)} + n * ${metaAt(15)} + j * ${metaAt(16)};
      let py = place_(cells[cb], ${metaAt(6)}, H, S);
      let px = place_(cells[cb + ${metaAt(17)}], ${metaAt(7)}, W, S);
      if (y >= py.x && y < py.x + py.z && x >= px.x && x < px.x + px.z) {
        acc += g[gb + (n * k + j) * ${metaAt(10)} + (py.y + y - py.x) * ${metaAt(12)} + (px.y + x - px.x) * ${
    metaAt(13)
  }];
      }
    }
  }
  gx[gi] = acc;
}
`;
}

/**
 * Uniform words of `topKMaskSource`: rows, row length n, k, workgroups per grid row, element
 * offset of x, inner size (elements after the reduced dim; the stride along it).
 */
export const TOPK_META_WORDS = 6;

/**
 * WGSL of `topKMask`: x viewed as a dense (outer, n, inner) block, rows = outer·inner, each
 * row strided by inner → out of the same layout, 1.0 at the k largest of each row.
 * One workgroup per row: a 32-round bitwise search finds the k-th largest key T, every key
 * > T is kept, and keys == T are kept in index order until k are marked (a blocked pass with
 * a workgroup prefix count). NaN (any payload) is the largest key; −0 and +0 are equal.
 */
export function topKMaskSource(): string {
  const W = ROI_WG;
  return `${metaDecl(TOPK_META_WORDS)}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
var<workgroup> cnt_: array<u32, ${W}>;

fn key(v: f32) -> u32 {
  if (v != v) { return 0xffffffffu; }
  let b = bitcast<u32>(select(v, 0.0, v == 0.0));
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}
fn total(a: u32, t: u32) -> u32 {
  cnt_[t] = a;
  workgroupBarrier();
  ${treeLoop("cnt_[t] += cnt_[t + s];")}
  let r = cnt_[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(${W})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let rows = ${metaAt(0)}; let n = ${metaAt(1)}; let k = ${metaAt(2)}; let inner = ${metaAt(5)};
  let row = wid.x + wid.y * ${metaAt(3)};
  let t = lid.x;
  let live = row < rows;
  let rr = select(0u, row, live);
  let base = (rr / inner) * n * inner + rr % inner;
  let xb = ${metaAt(4)} + base;
  let len = select(0u, n, live);
  // The smallest key T with count(key ≤ T) > len − k is the k-th largest (all ones when k = 0).
  let r = len - min(k, len);
  var a = 0u;
  for (var bit = 31i; bit >= 0i; bit--) {
    let ta = a | ((1u << u32(bit)) - 1u);
    var ca = 0u;
    for (var i = t; i < len; i += ${W}u) { ca += select(0u, 1u, key(x[xb + i * inner]) <= ta); }
    if (total(ca, t) <= r) { a = a | (1u << u32(bit)); }
  }
  var gt = 0u;
  for (var i = t; i < len; i += ${W}u) { gt += select(0u, 1u, key(x[xb + i * inner]) > a); }
  let need = min(k, len) - total(gt, t);
  // Ties at T in index order: thread t owns a contiguous block and counts the ties before it.
  let chunk = (len + ${W - 1}u) / ${W}u;
  let s0 = min(t * chunk, len);
  let s1 = min(s0 + chunk, len);
  var e = 0u;
  for (var i = s0; i < s1; i++) { e += select(0u, 1u, key(x[xb + i * inner]) == a); }
  cnt_[t] = e;
  workgroupBarrier();
  var before = 0u;
  for (var u = 0u; u < t; u++) { before += cnt_[u]; }
  for (var i = s0; i < s1; i++) {
    let kv = key(x[xb + i * inner]);
    var m = 0.0;
    if (kv > a) {
      m = 1.0;
    } else if (kv == a) {
      if (before < need) { m = 1.0; }
      before += 1u;
    }
    out[base + i * inner] = m;
  }
}
`;
}
