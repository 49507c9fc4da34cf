/**
 * DCG's region-of-interest ops: `roiSelect` (hand-worked pick orders for window 1 and 2, ties,
 * constant / NaN / infinite maps, and a float64 reference on random maps of several shapes),
 * `cropPatches` (bottom-right placement with min padding at the border, NumPy rounding,
 * "first" vs "all", a float64 reference, finite-difference gradients), `topKMask` and
 * `topFractionMean` (sort-based references, ties, NaN, gradients), one dispatch per op and no
 * readback, and bad arguments.
 */
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { assertClose, gpuTest, gradCheck, prod, randomArray, rng } from "./_util.ts";
import {
  cropPatches,
  dispatchCounters,
  flush,
  mean,
  permute,
  roiSelect,
  type Tensor,
  tensor,
  topFractionMean,
  topKMask,
  transpose,
} from "../mod.ts";

const F32_MAX = 3.4028234663852886e38;

// ---- roiSelect: float64 reference ----

/** Per image, the sum of the min–max normalised class maps (NaN → 0, ±Inf clamped), float64. */
function normalisedMaps(data: ArrayLike<number>, shape: readonly number[]): Float64Array[] {
  const [N, C, h, w] = shape;
  const L = h * w;
  return Array.from({ length: N }, (_, n) => {
    const m = new Float64Array(L);
    for (let c = 0; c < C; c++) {
      const base = (n * C + c) * L;
      const v = Array.from({ length: L }, (_, i) => data[base + i]);
      const clamp = (x: number) => Math.min(Math.max(x, -F32_MAX), F32_MAX);
      const finite = v.filter((x) => !Number.isNaN(x)).map(clamp);
      const lo = Math.min(...finite), hi = Math.max(...finite);
      if (!(hi > lo)) continue;
      for (let i = 0; i < L; i++) if (!Number.isNaN(v[i])) m[i] += (clamp(v[i]) - lo) / (hi - lo);
    }
    return m;
  });
}

function windowSums(m: Float64Array, h: number, w: number, win: number): Float64Array {
  const ph = h - win + 1, pw = w - win + 1;
  const s = new Float64Array(ph * pw);
  for (let r = 0; r < ph; r++) {
    for (let c = 0; c < pw; c++) {
      let a = 0;
      for (let dr = 0; dr < win; dr++) for (let dc = 0; dc < win; dc++) a += m[(r + dr) * w + c + dc];
      s[r * pw + c] = a;
    }
  }
  return s;
}

/**
 * Replays the greedy selection in float64 along the GPU's picks: each GPU pick must be the
 * reference's (largest sum, first index on exact ties) unless the two sums differ by a
 * float32-rounding amount (> 0, ≤ tol); the map then follows the GPU's pick. Returns the
 * number of such near-tie substitutions.
 */
function checkPicks(
  got: ArrayLike<number>,
  data: ArrayLike<number>,
  shape: readonly number[],
  k: number,
  win: number,
  what: string,
): number {
  const [N, , h, w] = shape;
  const pw = w - win + 1, ph = h - win + 1;
  const maps = normalisedMaps(data, shape);
  let near = 0;
  for (let n = 0; n < N; n++) {
    const m = maps[n];
    for (let j = 0; j < k; j++) {
      const r = got[(n * k + j) * 2], c = got[(n * k + j) * 2 + 1];
      assert(r >= 0 && r < ph && c >= 0 && c < pw, `${what}: image ${n} pick ${j} (${r}, ${c}) out of range`);
      const s = windowSums(m, h, w, win);
      let best = 0;
      for (let p = 1; p < s.length; p++) if (s[p] > s[best]) best = p;
      const p = r * pw + c;
      if (p !== best) {
        const gap = s[best] - s[p];
        assert(
          gap > 0 && gap <= 1e-5 * Math.max(1, s[best]),
          `${what}: image ${n} pick ${j}: got (${r}, ${c}) sum ${s[p]}, want (${Math.floor(best / pw)}, ${
            best % pw
          }) sum ${s[best]}`,
        );
        near++;
      }
      for (let dr = 0; dr < win; dr++) for (let dc = 0; dc < win; dc++) m[(r + dr) * w + c + dc] = 0;
    }
  }
  return near;
}

/** Picks as [row, col] pairs. */
async function picks(t: Tensor): Promise<number[][]> {
  const d = await t.toArray();
  return Array.from({ length: d.length / 2 }, (_, i) => [d[2 * i], d[2 * i + 1]]);
}

// The hand-worked 4×4 two-class map: class 0 is 0..15 row-major (normalised i/15); class 1 is
// 0 but 10 at (0, 1) and 5 at (2, 2) (normalised 1 and 0.5).
const CLASS0 = Array.from({ length: 16 }, (_, i) => i);
const CLASS1 = CLASS0.map((_, i) => (i === 1 ? 10 : i === 10 ? 5 : 0));

gpuTest("roiSelect: hand-worked pick order, window 1", async () => {
  const s = tensor(Float32Array.from([...CLASS0, ...CLASS1]), [1, 2, 4, 4]);
  const out = roiSelect(s, 5);
  assertEquals(out.dtype, "int32");
  assertEquals(out.shape, [1, 5, 2]);
  // Sums: (2,2) 10/15 + 0.5, (0,1) 1/15 + 1, then (3,3) 1, (3,2) 14/15, (3,1) 13/15.
  assertEquals(await picks(out), [[2, 2], [0, 1], [3, 3], [3, 2], [3, 1]]);
  // Min–max normalisation: an affine change of a class map (scale > 0) changes nothing, per image.
  const scaled = tensor(Float32Array.from([...CLASS0, ...CLASS1, ...CLASS0.map((v) => 3 * v - 7), ...CLASS1]), [
    2,
    2,
    4,
    4,
  ]);
  assertEquals(await picks(roiSelect(scaled, 5)), [
    ...[[2, 2], [0, 1], [3, 3], [3, 2], [3, 1]],
    ...[[2, 2], [0, 1], [3, 3], [3, 2], [3, 1]],
  ]);
});

gpuTest("roiSelect: hand-worked pick order, window 2 (zeroing, a tie, then all-zero windows)", async () => {
  const s = tensor(Float32Array.from([...CLASS0, ...CLASS1]), [1, 2, 4, 4]);
  // 2×2 sums (16r + 4c + 10)/15 plus the class-1 cells they cover: (2,2) 3.83 first; then
  // (2,0) 2.8 (its neighbours lost (2,2)); (0,1) 1.93; (0,2) 0.67; then (0,0) and (1,0) both
  // hold only cell (1,0) = 4/15: the smaller index (0,0) wins; then every window is 0: (0,0).
  assertEquals(await picks(roiSelect(s, 6, 2)), [[2, 2], [2, 0], [0, 1], [0, 2], [0, 0], [0, 0]]);
  // The whole map as one window: the only position, k times.
  assertEquals(await picks(roiSelect(s, 3, 4)), [[0, 0], [0, 0], [0, 0]]);
});

gpuTest("roiSelect: constant, NaN and infinite maps", async () => {
  // A constant class map normalises to zeros (no division by zero): class 0 alone decides.
  const constant = tensor(Float32Array.from([...CLASS0, ...new Array(16).fill(5)]), [1, 2, 4, 4]);
  assertEquals(await picks(roiSelect(constant, 3)), [[3, 3], [3, 2], [3, 1]]);
  // An all-constant map: every window sums to 0, the first position wins every time.
  const flat = tensor(new Float32Array(2 * 9).fill(-2), [1, 2, 3, 3]);
  assertEquals(await picks(roiSelect(flat, 2, 2)), [[0, 0], [0, 0]]);
  // NaN cells count as the class minimum (normalise to 0, outside the min/max): [NaN, 1; 3, 2]
  // → [0, 0; 1, 0.5]: (1,0), (1,1), then zeros: (0,0), and (0,0) again.
  const withNaN = tensor(Float32Array.of(NaN, 1, 3, 2), [1, 1, 2, 2]);
  assertEquals(await picks(roiSelect(withNaN, 4)), [[1, 0], [1, 1], [0, 0], [0, 0]]);
  // NaN at the would-be maximum: the max is taken over the rest (values 0..14 → i/14).
  const nanMax = tensor(Float32Array.from(CLASS0.map((v) => (v === 15 ? NaN : v))), [1, 1, 4, 4]);
  assertEquals(await picks(roiSelect(nanMax, 3)), [[3, 2], [3, 1], [3, 0]]);
  // An all-NaN class contributes zeros.
  const allNaN = tensor(Float32Array.from([...new Array(16).fill(NaN), ...CLASS1]), [1, 2, 4, 4]);
  assertEquals(await picks(roiSelect(allNaN, 3)), [[0, 1], [2, 2], [0, 0]]);
  // ±Infinity clamps to ±F32_MAX: class 0 [1, Inf; −Inf, 0] → [0.5, 1; 0, 0.5], class 1 adds
  // 1 at (1,1): sums 0.5, 1, 0, 1.5 → (1,1), (0,1), (0,0). No NaN anywhere.
  const inf = tensor(Float32Array.of(1, Infinity, -Infinity, 0, 0, 0, 0, 5), [1, 2, 2, 2]);
  assertEquals(await picks(roiSelect(inf, 3)), [[1, 1], [0, 1], [0, 0]]);
});

gpuTest("roiSelect: float64 reference on random maps (N > 1, k up to h·w, windows 1..min(h, w))", async () => {
  const cases: [number[], number, number][] = [
    [[1, 1, 5, 7], 35, 1],
    [[3, 2, 6, 6], 5, 2],
    [[2, 3, 9, 8], 4, 3],
    [[4, 2, 7, 7], 49, 1],
    [[2, 1, 4, 4], 9, 4],
    [[2, 4, 16, 16], 6, 5],
    [[70, 2, 3, 5], 15, 1], // more images than threads of a workgroup
  ];
  let near = 0, total = 0;
  for (const [i, [shape, k, win]] of cases.entries()) {
    const data = Float32Array.from(randomArray(prod(shape), 100 + i, -3, 5));
    const got = await roiSelect(tensor(data, shape), k, win).data();
    near += checkPicks(got, data, shape, k, win, `${shape} k=${k} win=${win}`);
    total += shape[0] * k;
  }
  // Near-ties from float32 rounding are rare on continuous data.
  assert(near <= total / 50, `${near} of ${total} picks were float32 near-ties`);
  // Coarse values with exact extremes (−1 and 1 in every class): normalisation and window
  // sums are exact in float32, so exact ties must break to the smallest position every time.
  const shape = [3, 2, 6, 5];
  const r = rng(5);
  const data = Float32Array.from({ length: prod(shape) }, (_, i) => {
    const cell = i % 30;
    return cell === 0 ? -1 : cell === 29 ? 1 : Math.round(r() * 8 - 4) / 4;
  });
  for (const [k, win] of [[30, 1], [12, 2], [6, 3]]) {
    const got = await roiSelect(tensor(data, shape), k, win).data();
    assertEquals(checkPicks(got, data, shape, k, win, `coarse k=${k} win=${win}`), 0);
  }
});

gpuTest("roiSelect: strided views read like their dense copies; one dispatch, no readback", async () => {
  const dense = Float32Array.from(randomArray(2 * 3 * 5 * 6, 77));
  const x = tensor(dense, [2, 3, 5, 6]);
  const tv = transpose(x, 2, 3); // (2, 3, 6, 5), not contiguous
  const tData = await tv.contiguous().data();
  flush();
  const before = dispatchCounters();
  const out = roiSelect(tv, 7, 2);
  const after = dispatchCounters();
  assertEquals(after.dispatches - before.dispatches, 1);
  assertEquals(after.submits, before.submits);
  assertEquals(checkPicks(await out.data(), tData, [2, 3, 6, 5], 7, 2, "transposed"), 0);
  assertEquals(roiSelect(tensor(new Float32Array(0), [0, 2, 3, 3]), 2).shape, [0, 2, 2]);
});

gpuTest("roiSelect: bad arguments name what was expected", () => {
  const s = tensor(new Float32Array(2 * 16), [1, 2, 4, 4]);
  assertThrows(() => roiSelect(s, 0), RangeError, "k must be an integer ≥ 1");
  assertThrows(() => roiSelect(s, 1.5), RangeError, "k must be");
  assertThrows(() => roiSelect(s, 2, 0), RangeError, "window must be an integer in [1, min(h, w) = 4]");
  assertThrows(() => roiSelect(s, 2, 5), RangeError, "window");
  assertThrows(() => roiSelect(tensor(new Float32Array(16), [2, 2, 4]), 1), TypeError, "saliency must be");
  assertThrows(() => roiSelect(tensor(new Int32Array(16), [1, 1, 4, 4]), 1), TypeError, "float32");
  assertThrows(() => roiSelect(tensor(new Float32Array(0), [1, 0, 4, 4]), 1), RangeError, "saliency");
});

// ---- cropPatches: float64 reference ----

/** NumPy's round(num / den) for non-negative integers. */
function roundDiv(num: number, den: number): number {
  const q = Math.floor(num / den), r = num - q * den;
  return 2 * r > den || (2 * r === den && q % 2 === 1) ? q + 1 : q;
}

interface CropGeom {
  shape: number[];
  cells: number[];
  k: number;
  S: number;
  grid: [number, number];
  first: boolean;
}

/** Per (image, channel) minimum. */
function channelMins(img: ArrayLike<number>, shape: readonly number[]): number[] {
  const [N, Ch, H, W] = shape;
  return Array.from({ length: N * Ch }, (_, i) => {
    let m = Infinity;
    for (let p = 0; p < H * W; p++) m = Math.min(m, img[i * H * W + p]);
    return m;
  });
}

/** The crops, in float64, padding with `pads[n·Ch + c]` (the channel minima unless frozen). */
function cropRef(img: ArrayLike<number>, g: CropGeom, pads = channelMins(img, g.shape)): number[] {
  const [N, Ch, H, W] = g.shape;
  const { k, S, grid: [h, w] } = g;
  const cho = g.first ? 1 : Ch;
  const out: number[] = [];
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < k; j++) {
      const row = Math.min(Math.max(g.cells[(n * k + j) * 2], 0), h - 1);
      const col = Math.min(Math.max(g.cells[(n * k + j) * 2 + 1], 0), w - 1);
      const top = Math.min(roundDiv(row * H, h), H), left = Math.min(roundDiv(col * W, w), W);
      const ey = Math.min(top + S, H) - top, ex = Math.min(left + S, W) - left;
      const oy0 = S - ey, ox0 = S - ex;
      for (let co = 0; co < cho; co++) {
        for (let oy = 0; oy < S; oy++) {
          for (let ox = 0; ox < S; ox++) {
            out.push(
              oy >= oy0 && ox >= ox0
                ? img[((n * Ch + co) * H + top + oy - oy0) * W + left + ox - ox0]
                : pads[n * Ch + co],
            );
          }
        }
      }
    }
  }
  return out;
}

gpuTest("cropPatches: bottom-right placement with min padding at the border; first vs all", async () => {
  // Channel 0: 10y + x with −7 at (5, 0); channel 1: 100 + 10y + x (minimum 100).
  const H = 6, W = 6;
  const data = Array.from({ length: 2 * H * W }, (_, i) => {
    const c = Math.floor(i / 36), y = Math.floor(i / 6) % 6, x = i % 6;
    return c === 0 && y === 5 && x === 0 ? -7 : 100 * c + 10 * y + x;
  });
  const img = tensor(Float32Array.from(data), [1, 2, H, W]);
  // Grid 3×3: cell (2, 2) → top = left = 4, only 2×2 valid pixels; cell (0, 1) → (0, 2), inside.
  const cells = tensor(Int32Array.of(2, 2, 0, 1), [1, 2, 2]);
  const all = cropPatches(img, cells, { cropSize: 4, grid: [3, 3] });
  assertEquals(all.shape, [2, 2, 4, 4]);
  const m = -7, p = 100;
  const want = [
    // crop 0, channel 0: rows 4..5, cols 4..5 at the bottom right, the rest the minimum −7
    ...[m, m, m, m, m, m, m, m, m, m, 44, 45, m, m, 54, 55],
    // crop 0, channel 1: padded with channel 1's own minimum
    ...[p, p, p, p, p, p, p, p, p, p, 144, 145, p, p, 154, 155],
    // crop 1: rows 0..3, cols 2..5, no padding
    ...[2, 3, 4, 5, 12, 13, 14, 15, 22, 23, 24, 25, 32, 33, 34, 35],
    ...[102, 103, 104, 105, 112, 113, 114, 115, 122, 123, 124, 125, 132, 133, 134, 135],
  ];
  assertEquals(await all.toArray(), want);
  const first = cropPatches(img, cells, { cropSize: 4, grid: [3, 3], channels: "first" });
  assertEquals(first.shape, [2, 1, 4, 4]);
  assertEquals(await first.toArray(), [...want.slice(0, 16), ...want.slice(32, 48)]);
  // A crop larger than the image: the whole image at the bottom right, padding above and left.
  const big = cropPatches(img, tensor(Int32Array.of(0, 0), [1, 1, 2]), {
    cropSize: 8,
    grid: [3, 3],
    channels: "first",
  });
  const bd = await big.toArray();
  assertEquals(bd.slice(0, 8), new Array(8).fill(-7));
  assertEquals(bd.slice(2 * 8, 2 * 8 + 8), [-7, -7, 0, 1, 2, 3, 4, 5]);
});

gpuTest("cropPatches: NumPy rounding of the cell position (halves to even)", async () => {
  // H = 5, h = 2: row 1 → 2.5 → 2; W = 7, w = 2: col 1 → 3.5 → 4.
  const data = Float32Array.from({ length: 35 }, (_, i) => i);
  const img = tensor(data, [1, 1, 5, 7]);
  const out = cropPatches(img, tensor(Int32Array.of(1, 1), [1, 1, 2]), { cropSize: 3, grid: [2, 2] });
  const want: number[] = [];
  for (let y = 2; y < 5; y++) for (let x = 4; x < 7; x++) want.push(y * 7 + x);
  assertEquals(await out.toArray(), want);
  // Cells outside the grid are clamped into it: (−3, 9) reads like (0, 1).
  const clamped = cropPatches(img, tensor(Int32Array.of(-3, 9), [1, 1, 2]), { cropSize: 3, grid: [2, 2] });
  const want2: number[] = [];
  for (let y = 0; y < 3; y++) for (let x = 4; x < 7; x++) want2.push(y * 7 + x);
  assertEquals(await clamped.toArray(), want2);
});

gpuTest("cropPatches: float64 reference on random images and cells; one dispatch, no readback", async () => {
  const cases: Omit<CropGeom, "cells">[] = [
    { shape: [2, 3, 17, 13], k: 4, S: 6, grid: [5, 4], first: false },
    { shape: [3, 2, 20, 20], k: 6, S: 7, grid: [7, 7], first: true },
    { shape: [1, 1, 9, 11], k: 9, S: 12, grid: [3, 3], first: false },
    { shape: [4, 3, 32, 24], k: 2, S: 9, grid: [8, 6], first: false },
  ];
  for (const [i, c] of cases.entries()) {
    const r = rng(40 + i);
    const cells = Array.from({ length: c.shape[0] * c.k }, () => [
      Math.floor(r() * c.grid[0]),
      Math.floor(r() * c.grid[1]),
    ]).flat();
    const g = { ...c, cells };
    const data = Float32Array.from(randomArray(prod(c.shape), 60 + i, -2, 2));
    const img = tensor(data, c.shape);
    const ct = tensor(Int32Array.from(cells), [c.shape[0], c.k, 2]);
    flush();
    const before = dispatchCounters();
    const out = cropPatches(img, ct, { cropSize: c.S, grid: c.grid, channels: c.first ? "first" : "all" });
    const after = dispatchCounters();
    assertEquals(after.dispatches - before.dispatches, 1, "one dispatch");
    assertEquals(after.submits, before.submits, "no submit (no readback)");
    assertEquals(out.shape, [c.shape[0] * c.k, c.first ? 1 : c.shape[1], c.S, c.S]);
    assertEquals(await out.toArray(), cropRef(data, g), `case ${i}`);
  }
  // Strided inputs: images as a permuted view, cells as a transposed view.
  const base = Float32Array.from(randomArray(2 * 12 * 10 * 3, 9, -1, 1)); // (N, H, W, Ch)
  const nhwc = tensor(base, [2, 12, 10, 3]);
  const img = permute(nhwc, [0, 3, 1, 2]);
  const dense = await img.contiguous().data();
  const cellsT = tensor(Int32Array.of(0, 3, 1, 2, 2, 0, 3, 3), [2, 2, 2]); // (N, coordinate, k)
  const cells = transpose(cellsT, 1, 2);
  const cellsDense = Array.from(await cells.contiguous().data());
  const g: CropGeom = { shape: [2, 3, 12, 10], cells: cellsDense, k: 2, S: 5, grid: [4, 4], first: false };
  assertEquals(await cropPatches(img, cells, { cropSize: 5, grid: [4, 4] }).toArray(), cropRef(dense, g));
});

gpuTest("cropPatches: finite-difference gradients (padding is a constant), none for cells", async () => {
  // Padded crops (cells at the border) and overlapping crops; the reference holds the padding
  // at the unperturbed minima, which is what the op's gradient means.
  for (const first of [false, true]) {
    const shape = [2, 2, 7, 6];
    const cells = [3, 2, 2, 1, 0, 0, 3, 2, 1, 1, 3, 0];
    const g: CropGeom = { shape, cells, k: 3, S: 4, grid: [4, 3], first };
    const data = randomArray(prod(shape), first ? 3 : 4, -1, 1);
    const pads = channelMins(Float32Array.from(data), shape);
    const ct = tensor(Int32Array.from(cells), [2, 3, 2]);
    await gradCheck(
      `cropPatches ${first ? "first" : "all"}`,
      [{ shape, data }],
      (x) => cropPatches(x, ct, { cropSize: 4, grid: [4, 3], channels: first ? "first" : "all" }),
      (x) => cropRef(x, g, pads),
      { gradAtol: 1e-4, gradRtol: 1e-4 },
    );
  }
  // Without padding the plain float64 reference (minimum and all) is the function itself.
  const shape = [1, 3, 9, 9];
  const g: CropGeom = { shape, cells: [0, 0, 1, 1, 0, 1], k: 3, S: 5, grid: [3, 3], first: false };
  const ct = tensor(Int32Array.from(g.cells), [1, 3, 2]);
  await gradCheck(
    "cropPatches inside",
    [{ shape }],
    (x) => cropPatches(x, ct, { cropSize: 5, grid: [3, 3] }),
    (x) => cropRef(x, g),
    { gradAtol: 1e-4, gradRtol: 1e-4 },
  );
  // The gradient by hand: each pixel gets the number of crops that copy it (cells (0,0), (1,1),
  // (2,2) → tops/lefts 0, 3, 6; the last crop is padded, which gives the minimum nothing).
  const x = tensor(Float32Array.from(randomArray(81, 2)), [1, 1, 9, 9], { requiresGrad: true });
  const cells = tensor(Int32Array.of(0, 0, 1, 1, 2, 2), [1, 3, 2]);
  cropPatches(x, cells, { cropSize: 5, grid: [3, 3] }).sum().backward();
  const gx = await x.grad!.toArray();
  const cover = (y: number, xx: number) =>
    [[0, 0], [3, 3], [6, 6]].filter(([t, l]) => y >= t && y < Math.min(t + 5, 9) && xx >= l && xx < Math.min(l + 5, 9))
      .length;
  assertEquals(gx, Array.from({ length: 81 }, (_, i) => cover(Math.floor(i / 9), i % 9)));
  assertEquals(cells.requiresGrad, false);
});

gpuTest("cropPatches: bad arguments name what was expected", () => {
  const img = tensor(new Float32Array(2 * 36), [1, 2, 6, 6]);
  const cells = tensor(Int32Array.of(0, 0), [1, 1, 2]);
  const ok = { cropSize: 3, grid: [3, 3] as [number, number] };
  assertThrows(() => cropPatches(tensor(new Float32Array(36), [1, 6, 6]), cells, ok), TypeError, "images must be");
  assertThrows(() => cropPatches(img, tensor(Float32Array.of(0, 0), [1, 1, 2]), ok), TypeError, "cells must be");
  assertThrows(() => cropPatches(img, tensor(Int32Array.of(0, 0, 0, 0), [2, 1, 2]), ok), TypeError, "cells");
  assertThrows(() => cropPatches(img, cells, { ...ok, cropSize: 0 }), RangeError, "cropSize");
  assertThrows(() => cropPatches(img, cells, { ...ok, grid: [3, 0] }), RangeError, "grid");
  assertThrows(
    () => cropPatches(img, cells, { ...ok, channels: "rgb" as "all" }),
    RangeError,
    "channels must be",
  );
});

// ---- topKMask / topFractionMean ----

/** Indices of the k largest of `row` (NaN largest, ties by index). */
function topKRef(row: number[], k: number): Set<number> {
  const key = (v: number) => (Number.isNaN(v) ? Infinity : v);
  const order = row.map((_, i) => i).sort((a, b) => {
    const ka = key(row[a]), kb = key(row[b]);
    if (Number.isNaN(row[a]) !== Number.isNaN(row[b])) return Number.isNaN(row[a]) ? -1 : 1;
    return ka !== kb ? (kb > ka ? 1 : -1) : a - b;
  });
  return new Set(order.slice(0, k));
}

/** The mask reference along `dim` of a dense row-major array. */
function maskRef(data: ArrayLike<number>, shape: number[], k: number, dim: number): number[] {
  const n = shape[dim], inner = prod(shape.slice(dim + 1)), outer = prod(shape.slice(0, dim));
  const out = new Array<number>(data.length).fill(0);
  for (let o = 0; o < outer; o++) {
    for (let q = 0; q < inner; q++) {
      const at = (i: number) => (o * n + i) * inner + q;
      const keep = topKRef(Array.from({ length: n }, (_, i) => data[at(i)]), k);
      for (const i of keep) out[at(i)] = 1;
    }
  }
  return out;
}

gpuTest("topKMask: sorted reference over dims, ties, NaN and signed zeros; one dispatch", async () => {
  const shape = [3, 5, 70];
  // A coarse grid gives many ties; NaN, ±0 and ±Infinity sprinkled in.
  const r = rng(11);
  const data = Float32Array.from({ length: prod(shape) }, () => Math.round(r() * 8 - 4) / 2);
  for (let i = 0; i < data.length; i += 37) data[i] = NaN;
  for (let i = 5; i < data.length; i += 41) data[i] = -0;
  for (let i = 9; i < data.length; i += 53) data[i] = Infinity;
  for (let i = 13; i < data.length; i += 59) data[i] = -Infinity;
  const x = tensor(data, shape);
  for (const dim of [0, 1, 2]) {
    for (const k of [0, 1, 2, Math.floor(shape[dim] / 2), shape[dim] - 1, shape[dim]]) {
      flush();
      const before = dispatchCounters();
      const m = topKMask(x, k, dim);
      assertEquals(dispatchCounters().dispatches - before.dispatches, 1);
      assertEquals(dispatchCounters().submits, before.submits);
      assertEquals(m.shape, shape);
      assertEquals(await m.toArray(), maskRef(data, shape, k, dim), `dim ${dim} k ${k}`);
    }
  }
  // Equal values: the smaller index first; −0 equals +0; NaN is the largest.
  assertEquals(await topKMask(tensor(Float32Array.of(2, 5, 5, 5, 1)), 2).toArray(), [0, 1, 1, 0, 0]);
  assertEquals(await topKMask(tensor(Float32Array.of(-0, 0, -1)), 1).toArray(), [1, 0, 0]);
  assertEquals(await topKMask(tensor(Float32Array.of(0, -0, -1)), 1).toArray(), [1, 0, 0]);
  assertEquals(await topKMask(tensor(Float32Array.of(1, NaN, Infinity, NaN)), 3).toArray(), [0, 1, 1, 1]);
  // A long row (many elements per thread) of distinct values, and a strided view.
  const long = Float32Array.from(randomArray(2 * 3000, 12, -50, 50));
  assertEquals(await topKMask(tensor(long, [2, 3000]), 777).toArray(), maskRef(long, [2, 3000], 777, 1));
  const tv = transpose(tensor(long, [2, 3000]), 0, 1); // (3000, 2)
  assertEquals(await topKMask(tv, 1, 1).toArray(), maskRef(await tv.contiguous().data(), [3000, 2], 1, 1));
  assertEquals(await topKMask(tensor(Float32Array.of(4)).reshape([]), 1).toArray(), [1]);
});

gpuTest("topKMask: bad arguments name what was expected; no gradient", () => {
  const x = tensor(Float32Array.of(1, 2, 3), [3], { requiresGrad: true });
  assertEquals(topKMask(x, 2).requiresGrad, false);
  assertThrows(() => topKMask(x, 4), RangeError, "k must be an integer in [0, 3]");
  assertThrows(() => topKMask(x, -1), RangeError, "k must be");
  assertThrows(() => topKMask(x, 1, 2), RangeError);
  assertThrows(() => topKMask(tensor(Int32Array.of(1, 2)), 1), TypeError, "float32");
});

/** Mean of the t largest of each (n, c) slice. */
function topMeanRef(data: ArrayLike<number>, N: number, C: number, L: number, fraction: number): number[] {
  const f = L * fraction, fl = Math.floor(f);
  const rounded = f - fl > 0.5 ? fl + 1 : f - fl < 0.5 ? fl : fl % 2 === 0 ? fl : fl + 1;
  const t = Math.max(1, rounded);
  return Array.from({ length: N * C }, (_, i) => {
    const row = Array.from({ length: L }, (_, j) => data[i * L + j]).sort((a, b) => b - a);
    return row.slice(0, t).reduce((a, b) => a + b, 0) / t;
  });
}

gpuTest("topFractionMean: reference, rounding of t, fraction 1 = mean, gradients", async () => {
  const shape = [2, 3, 4, 5];
  const data = Float32Array.from(randomArray(prod(shape), 21, -2, 2));
  const x = tensor(data, shape);
  // L = 20: 0.125 → 2.5 → 2, 0.175 → 3.5 → 4, 0.01 → 0 → 1, 0.5 → 10.
  for (const f of [0.125, 0.175, 0.01, 0.5, 0.9]) {
    const got = topFractionMean(x, f);
    assertEquals(got.shape, [2, 3]);
    assertClose(await got.data(), topMeanRef(data, 2, 3, 20, f), { msg: `fraction ${f}` });
  }
  assertClose(await topFractionMean(x, 1).data(), await mean(x, [2, 3]).data());
  // Exactly what is averaged: t = 2 of [1, 9, 3, 9, -5] → the two 9s.
  assertClose(await topFractionMean(tensor(Float32Array.of(1, 9, 3, 9, -5), [1, 1, 5]), 0.4).data(), [9]);
  // −Infinity outside the top t does not poison the mean.
  assertClose(await topFractionMean(tensor(Float32Array.of(-Infinity, 2, 4), [1, 1, 3]), 0.34).data(), [4]);
  for (const f of [0.3, 1]) {
    await gradCheck(
      `topFractionMean ${f}`,
      [{ shape: [2, 2, 3, 4] }],
      (t) => topFractionMean(t, f),
      (t) => topMeanRef(t, 2, 2, 12, f),
      { gradAtol: 1e-4, gradRtol: 1e-3 },
    );
  }
  assertThrows(() => topFractionMean(x, 0), RangeError, "fraction must be in (0, 1]");
  assertThrows(() => topFractionMean(x, 1.5), RangeError, "fraction");
  assertThrows(() => topFractionMean(tensor(Float32Array.of(1, 2)), 0.5), TypeError, "(N, C, ...)");
});
