/** 3D volume transforms on [C, D, H, W] and [D, H, W] arrays, against hand-computed small cases. */
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { Rng } from "../util/rng.ts";
import type { ArrayImage, Raster, Sample, Transform } from "../datasets/types.ts";
import {
  cropOrPadVolume,
  intensityWindow,
  percentileClip,
  randomCropVolume,
  randomFlipVolume,
  randomRot90Volume,
  resizeVolume,
  zScoreNormalize,
} from "../datasets/transforms/mod.ts";

function vol(shape: number[], values?: number[]): ArrayImage {
  const n = shape.reduce((a, b) => a * b, 1);
  return { data: values ? Float32Array.from(values) : Float32Array.from({ length: n }, (_, i) => i), shape };
}

async function apply(t: Transform<Sample, Sample>, image: ArrayImage, seed = 0): Promise<ArrayImage> {
  return (await t({ image, label: 0, id: "v", meta: {} }, new Rng(seed))).image as ArrayImage;
}

function close(actual: ArrayLike<number>, expected: number[], tol = 1e-5): void {
  assertEquals(actual.length, expected.length, "length");
  for (let i = 0; i < expected.length; i++) {
    assert(Math.abs(actual[i] - expected[i]) <= tol, `element ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

/** Value at (c, z, y, x) of a [C, D, H, W] array. */
function at(a: ArrayImage, c: number, z: number, y: number, x: number): number {
  const [, D, H, W] = a.shape;
  return a.data[((c * D + z) * H + y) * W + x];
}

Deno.test("intensityWindow: {min, max}, CT {center, width}, the volume's own range; clip option", async () => {
  const v = vol([1, 1, 5], [-1000, 0, 40, 240, 3000]);
  close((await apply(intensityWindow({ center: 40, width: 400 }), v)).data, [0, 0.4, 0.5, 1, 1]);
  close((await apply(intensityWindow({ min: 0, max: 100 }, { clip: false }), v)).data, [-10, 0, 0.4, 2.4, 30]);
  // own range, per channel of a [C, D, H, W] volume
  const two = vol([2, 1, 1, 3], [0, 5, 10, 100, 100, 100]);
  close((await apply(intensityWindow(), two)).data, [0, 0.5, 1, 0, 0, 0]);
  assertThrows(() => intensityWindow({ min: 3, max: 3 }), RangeError, "min < max");
  assertThrows(() => intensityWindow({ center: 0, width: -1 }), RangeError, "positive width");
});

Deno.test("zScoreNormalize: population std per channel; nonzero keeps the background at 0", async () => {
  const v = vol([2, 1, 2, 2], [1, 2, 3, 4, 0, 0, 6, 10]);
  const s1 = Math.sqrt(1.25); // values 1..4: mean 2.5, var 1.25
  const s2 = Math.sqrt(((0 - 4) ** 2 * 2 + 4 + 36) / 4); // 0, 0, 6, 10: mean 4
  close((await apply(zScoreNormalize(), v)).data, [
    -1.5 / s1,
    -0.5 / s1,
    0.5 / s1,
    1.5 / s1,
    -4 / s2,
    -4 / s2,
    2 / s2,
    6 / s2,
  ]);
  // nonzero: channel 2 statistics from {6, 10}: mean 8, std 2
  const nz = await apply(zScoreNormalize({ nonzero: true }), v);
  close(nz.data.slice(4), [0, 0, -1, 1]);
  // a constant channel is only centred
  close((await apply(zScoreNormalize(), vol([1, 2, 1], [3, 3]))).data, [0, 0]);
});

Deno.test("percentileClip: numpy-style linear percentiles, optional rescale and nonzero", async () => {
  const v = vol([1, 1, 11], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100]);
  // 10th percentile: rank 1 → 1; 90th: rank 9 → 9
  close((await apply(percentileClip({ lower: 10, upper: 90 }), v)).data, [1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9]);
  // 95th: rank 9.5 → 9 + 0.5·(100 − 9) = 54.5
  const r = await apply(percentileClip({ lower: 0, upper: 95, rescale: true }), v);
  close(r.data, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 54.5].map((x) => x / 54.5));
  // nonzero: percentiles over 1..9, 100 (10 values): 0th → 1, so the 0 is clipped up to 1
  const nz = await apply(percentileClip({ lower: 0, upper: 100, nonzero: true }), v);
  assertEquals(nz.data[0], 1);
  assertThrows(() => percentileClip({ lower: 60, upper: 40 }), RangeError, "lower ≤ upper");
});

Deno.test("resizeVolume: trilinear with align_corners=False and nearest, hand-computed", async () => {
  // W: 2 → 4 gives [a, .75a + .25b, .25a + .75b, b] (source (i + .5)/2 − .5, clamped at 0)
  const v = vol([1, 1, 2], [0, 8]);
  close((await apply(resizeVolume([1, 1, 4]), v)).data, [0, 2, 6, 8]);
  // D and H too: a 2×2×2 cube of corner values → 1×1×1 is the mean (sample at the centre 0.5)
  const cube = vol([2, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7]);
  const one = await apply(resizeVolume([1, 1, 1]), cube);
  assertEquals(one.shape, [1, 1, 1]);
  close(one.data, [3.5]);
  // 4 → 2: sources 0.5 and 2.5
  close((await apply(resizeVolume([1, 1, 2]), vol([1, 1, 4], [0, 10, 20, 30]))).data, [5, 25]);
  // nearest: floor(i·in/out)
  close((await apply(resizeVolume([1, 1, 3], { mode: "nearest" }), vol([1, 1, 6]))).data, [0, 2, 4]);
  close((await apply(resizeVolume([1, 1, 4], { mode: "nearest" }), vol([1, 1, 2]))).data, [0, 0, 1, 1]);
  // channels resize alike; the rank is kept
  const c = await apply(resizeVolume([2, 3, 4]), vol([2, 4, 6, 8]));
  assertEquals(c.shape, [2, 2, 3, 4]);
  const flat = await apply(resizeVolume([5, 7, 3]), vol([3, 4, 2], new Array(24).fill(2.5)));
  assertEquals(flat.shape, [5, 7, 3]);
  assert(flat.data.every((x) => Math.abs(x - 2.5) < 1e-6), "constant stays constant");
  assertThrows(() => resizeVolume([2, 2] as unknown as [number, number, number]), RangeError, "[D, H, W]");
});

Deno.test("cropOrPadVolume: centred crop ⌊(in − out)/2⌋ and pad ⌊(out − in)/2⌋ before", async () => {
  const v = vol([1, 1, 5]); // [0 1 2 3 4]
  close((await apply(cropOrPadVolume([1, 1, 2]), v)).data, [1, 2]);
  close((await apply(cropOrPadVolume([1, 1, 8], { padValue: -1 }), v)).data, [-1, 0, 1, 2, 3, 4, -1, -1]);
  const c = await apply(cropOrPadVolume([3, 1, 1], { padValue: 9 }), vol([2, 1, 2, 2]));
  // D: 1 → 3 pads one before and one after; H, W: 2 → 1 crop start 0
  assertEquals(c.shape, [2, 3, 1, 1]);
  close(c.data, [9, 0, 9, 9, 4, 9]);
});

Deno.test("randomCropVolume: starts drawn on D, H, W in order; too-small volumes are an error", async () => {
  const v = vol([2, 4, 5, 6]);
  for (let seed = 0; seed < 10; seed++) {
    const out = await apply(randomCropVolume([2, 3, 3]), v, seed);
    const r = new Rng(seed);
    const [z0, y0, x0] = [r.int(3), r.int(3), r.int(4)];
    assertEquals(out.shape, [2, 2, 3, 3]);
    for (let c = 0; c < 2; c++) {
      for (let z = 0; z < 2; z++) {
        for (let y = 0; y < 3; y++) {
          for (let x = 0; x < 3; x++) assertEquals(at(out, c, z, y, x), at(v, c, z0 + z, y0 + y, x0 + x));
        }
      }
    }
  }
  let threw = false;
  try {
    await apply(randomCropVolume([5, 1, 1]), v);
  } catch (e) {
    threw = e instanceof RangeError && e.message.includes("cropOrPadVolume");
  }
  assert(threw, "a crop larger than the volume names the fix");
});

Deno.test("randomFlipVolume: one draw per axis in order; flips reverse exactly that axis", async () => {
  const v = vol([1, 2, 3, 4]);
  for (let seed = 0; seed < 8; seed++) {
    const out = await apply(randomFlipVolume(), v, seed);
    const r = new Rng(seed);
    const [fd, fh, fw] = [r.random() < 0.5, r.random() < 0.5, r.random() < 0.5];
    for (let z = 0; z < 2; z++) {
      for (let y = 0; y < 3; y++) {
        for (let x = 0; x < 4; x++) {
          assertEquals(at(out, 0, z, y, x), at(v, 0, fd ? 1 - z : z, fh ? 2 - y : y, fw ? 3 - x : x));
        }
      }
    }
  }
  // only W, always: [D, H, W] input keeps its rank
  const w = await apply(randomFlipVolume({ axes: [2], p: 1 }), vol([1, 2, 3]));
  assertEquals(w.shape, [1, 2, 3]);
  close(w.data, [2, 1, 0, 5, 4, 3]);
  assertThrows(() => randomFlipVolume({ axes: [3] }), RangeError, "axes");
});

Deno.test("randomRot90Volume: numpy.rot90 in the plane for k = 0..3 (drawn uniformly)", async () => {
  // H×W = 2×3 plane [[0 1 2], [3 4 5]]; numpy.rot90 k=1 → [[2 5], [1 4], [0 3]]
  const v = vol([1, 2, 3]);
  const expected: Record<number, { shape: number[]; data: number[] }> = {
    0: { shape: [1, 2, 3], data: [0, 1, 2, 3, 4, 5] },
    1: { shape: [1, 3, 2], data: [2, 5, 1, 4, 0, 3] },
    2: { shape: [1, 2, 3], data: [5, 4, 3, 2, 1, 0] },
    3: { shape: [1, 3, 2], data: [3, 0, 4, 1, 5, 2] },
  };
  const seen = new Set<number>();
  for (let seed = 0; seed < 16; seed++) {
    const k = new Rng(seed).int(4);
    seen.add(k);
    const out = await apply(randomRot90Volume(), v, seed);
    assertEquals(out.shape, expected[k].shape);
    close(out.data, expected[k].data);
  }
  assertEquals(seen.size, 4);
  // the D–W plane of a [C, D, H, W] volume, k = 1: out[c, i, y, j] = in[c, j, y, D − 1 − i]... with D = 2, W = 3
  const cv = vol([1, 2, 1, 3]);
  let seed = 0;
  while (new Rng(seed).int(4) !== 1) seed++;
  const r = await apply(randomRot90Volume({ plane: [0, 2] }), cv, seed);
  assertEquals(r.shape, [1, 3, 1, 2]);
  // plane (D, W) = [[0 1 2], [3 4 5]] → [[2 5], [1 4], [0 3]]
  close(r.data, [2, 5, 1, 4, 0, 3]);
  // p < 1 draws first
  let s2 = 0;
  while (!(new Rng(s2).random() >= 0.5)) s2++;
  close((await apply(randomRot90Volume({ p: 0.5 }), v, s2)).data, [0, 1, 2, 3, 4, 5]);
});

Deno.test("volume transforms reject 2D images with a clear message", async () => {
  const raster: Raster = { data: new Uint8Array(4), width: 2, height: 2, channels: 1 };
  let msg = "";
  try {
    await zScoreNormalize()({ image: raster, label: 0, id: "r", meta: {} }, new Rng(0));
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("zScoreNormalize") && msg.includes("2D Raster"), msg);
  try {
    await apply(resizeVolume([1, 1, 1]), vol([2, 2]));
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("[C, D, H, W] or [D, H, W], got [2, 2]"), msg);
});
