/**
 * Ben Graham's fundus preprocessing and the fundus auto-crop: exact geometry of the radius
 * estimate and the mask, the blend against a direct 2D Gaussian, flat and disc images, and a
 * before/after picture of a real fundus photograph (../shared/data).
 */
import sharp from "sharp";
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { needsSharedData, sharedDataPath } from "./_shared_data.ts";
import { skippableTest } from "./_skip.ts";
import { Rng } from "../util/rng.ts";
import type { Raster, Sample } from "../datasets/types.ts";
import {
  autoCropFundus,
  autoCropFundusImage,
  benGraham,
  benGrahamImage,
  decodeRaster,
  estimateFundusRadius,
  resizeImage,
} from "../datasets/transforms/mod.ts";
import { makeRaster } from "./_util.ts";

function px(r: Raster, y: number, x: number, c = 0): number {
  return r.data[(y * r.width + x) * r.channels + c];
}

/** A uniform RGB disc of `radius` (pixel centres within it) centred at (⌊W/2⌋, ⌊H/2⌋), black outside. */
function disc(size: number, radius: number, rgb = [180, 90, 40]): Raster {
  const c = Math.floor(size / 2);
  return makeRaster(size, size, 3, (y, x, ch) => ((x - c) ** 2 + (y - c) ** 2 <= radius * radius ? rgb[ch] : 0));
}

Deno.test("estimateFundusRadius: half the count of bright middle-row pixels (Graham's rule)", () => {
  // the middle row crosses the disc over |x − 50| ≤ 40: 81 pixels → 40.5
  assertEquals(estimateFundusRadius(disc(100, 40)), 40.5);
  // a flat image counts every pixel
  assertEquals(estimateFundusRadius(makeRaster(64, 30, 3, () => 50)), 32);
  // dim pixels below a tenth of the row mean do not count: row mean sum = (20·3·... ) here 60 of 100 columns at 100
  const r = makeRaster(100, 3, 1, (_y, x) => (x < 60 ? 100 : x < 70 ? 5 : 0));
  // mean = 6000/100 + 50/100 = 60.5, threshold 6.05: the 60 bright pixels count, the 5s do not
  assertEquals(estimateFundusRadius(r), 30);
  assertEquals(estimateFundusRadius(makeRaster(10, 10, 3, () => 0)), 0);
});

Deno.test("benGraham: a flat image becomes 128 everywhere inside the mask (and the fill outside)", () => {
  const flat = makeRaster(61, 61, 3, (_y, _x, c) => [200, 30, 99][c]);
  const out = benGrahamImage(flat, { fill: 7 });
  // r = 30.5, mask radius ⌊0.9·30.5⌋ = 27 about (30, 30)
  for (let y = 0; y < 61; y++) {
    for (let x = 0; x < 61; x++) {
      const inside = (x - 30) ** 2 + (y - 30) ** 2 <= 27 * 27;
      for (let c = 0; c < 3; c++) assertEquals(px(out, y, x, c), inside ? 128 : 7, `(${y}, ${x}, ${c})`);
    }
  }
  // default fill is Graham's grey 128: the whole image is 128
  assert(benGrahamImage(flat).data.every((v) => v === 128), "flat image with the default fill");
});

Deno.test("benGraham: a uniform disc on black is ≈128 far inside the edge; outside the mask is the fill", () => {
  const R = 100, size = 240;
  const img = disc(size, R);
  const r = estimateFundusRadius(img); // 100.5
  const out = benGrahamImage(img, { fill: 0 });
  const sigma = r / 30, maskR = Math.floor(0.9 * r), c = size / 2;
  let checked = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const d = Math.hypot(x - c, y - c);
      for (let ch = 0; ch < 3; ch++) {
        if (d > maskR + 0.5) assertEquals(px(out, y, x, ch), 0, `outside the mask at (${y}, ${x})`);
        else if (d < R - 4 * sigma) {
          // the kernel (±3σ) does not reach the disc's edge: exactly 128
          assertEquals(px(out, y, x, ch), 128, `inside at (${y}, ${x})`);
          checked++;
        }
      }
    }
  }
  assert(checked > 3 * 3.1 * 80 * 80, `checked ${checked} inside values`);
  // the 0.9 mask hides the edge effects: at its rim the kernel (±3σ) reaches the disc's edge only
  // in its corners (weight < 1%)
  assert(Math.abs(px(out, c, c + maskR, 0) - 128) <= 1, `at the mask's rim: ${px(out, c, c + maskR, 0)}`);
  // with the mask off: brighter just inside the disc's edge, darker (clamped at 0) just outside
  const unmasked = benGrahamImage(img, { mask: false });
  assert(px(unmasked, c, c + R - 1, 0) > 128, "edge brightening inside the disc");
  assertEquals(px(unmasked, c, c + R + 2, 0), 0, "dark halo outside the disc");
  assertEquals(px(unmasked, 0, 0, 0), 128, "far outside: 4·0 − 4·0 + 128");
});

/** Direct 2D Gaussian at one pixel with reflect-101 borders and OpenCV's kernel size. */
function blurAt(r: Raster, y: number, x: number, c: number, sigma: number): number {
  const k = Math.round(sigma * 6 + 1) | 1, half = (k - 1) / 2;
  const w = Array.from({ length: k }, (_, i) => Math.exp(-0.5 * ((i - half) / sigma) ** 2));
  const s = w.reduce((a, b) => a + b, 0);
  const refl = (i: number, n: number) => {
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
  };
  let acc = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      acc += (w[i] / s) * (w[j] / s) * px(r, refl(y + i - half, r.height), refl(x + j - half, r.width), c);
    }
  }
  return acc;
}

Deno.test("benGraham: out = clamp(round(4·I − 4·G + 128)) against a direct Gaussian, σ = r/30", () => {
  const img = makeRaster(47, 41, 3, (y, x, c) => (40 + ((x * 7 + y * 13 + c * 29) % 97) + (x > 20 ? 60 : 0)) % 256);
  const radius = 45; // given: σ = 1.5, kernel 10|1 = 11 taps
  const out = benGrahamImage(img, { radius, mask: false });
  for (let y = 0; y < 41; y++) {
    for (let x = 0; x < 47; x++) {
      for (let c = 0; c < 3; c++) {
        const v = 4 * px(img, y, x, c) - 4 * blurAt(img, y, x, c, radius / 30) + 128;
        const e = Math.min(255, Math.max(0, Math.round(v)));
        assert(
          Math.abs(px(out, y, x, c) - e) <= (Math.abs(v - Math.round(v) - 0.5) < 1e-3 ? 1 : 0),
          `(${y},${x},${c})`,
        );
      }
    }
  }
  // the weight and sigmaFraction options
  const w2 = benGrahamImage(img, { radius, mask: false, weight: 2, sigmaFraction: 1 / 15 });
  const v = 2 * px(img, 20, 20, 1) - 2 * blurAt(img, 20, 20, 1, 3) + 128;
  assert(Math.abs(px(w2, 20, 20, 1) - Math.round(v)) <= 1, "weight 2, σ = 3");
});

Deno.test("benGraham: float images use 128/255; scaleTo rescales so the radius has that many pixels", async () => {
  const flat: Raster = { data: new Float32Array(20 * 20).fill(0.7), width: 20, height: 20, channels: 1 };
  const out = benGrahamImage(flat, { mask: false });
  assert(out.data instanceof Float32Array, "float stays float");
  for (const v of out.data) assert(Math.abs(v - 128 / 255) < 1e-5, `float flat → 128/255, got ${v}`);
  const img = disc(200, 80); // r = 80.5
  const t = benGraham({ scaleTo: 40 });
  const res = (await t({ image: img, label: 0, id: "d", meta: {} }, new Rng(0))).image as Raster;
  assertEquals([res.width, res.height], [Math.round(200 * 40 / 80.5), Math.round(200 * 40 / 80.5)]);
  // outside the mask radius ⌊0.9·40⌋ = 36 about the centre: 128
  assertEquals(px(res, 0, 0, 0), 128);
  assertEquals(px(res, 49, 49 + 37, 0), 128);
  assertThrows(() => benGraham({ sigmaFraction: 0 }), RangeError, "sigmaFraction");
  assertThrows(() => benGraham({ radius: -3 }), RangeError, "radius");
});

Deno.test('benGraham blur: "sharp" (libvips, async) agrees with the exact blur on flat, disc and textured images', async () => {
  const run = async (image: Raster, options = {}) =>
    (await benGraham({ blur: "sharp", ...options })({ image, label: 0, id: "x", meta: {} }, new Rng(0)))
      .image as Raster;
  const flat = makeRaster(40, 40, 3, (_y, _x, c) => [200, 30, 99][c]);
  const pending = benGraham({ blur: "sharp" })({ image: flat, label: 0, id: "x", meta: {} }, new Rng(0));
  assert(pending instanceof Promise, "the sharp blur is asynchronous");
  assert(
    (await run(flat, { fill: 0 })).data.every((v, i) => {
      const p = Math.floor(i / 3), x = p % 40, y = Math.floor(p / 40);
      return v === ((x - 20) ** 2 + (y - 20) ** 2 <= 18 * 18 ? 128 : 0);
    }),
    "flat image: 128 inside the mask, the fill outside",
  );
  const img = disc(240, 100);
  const viaSharp = await run(img, { fill: 0 }), exact = benGrahamImage(img, { fill: 0 });
  // identical except where the kernel touches the disc's edge near the mask's rim (8-bit blur rounding)
  const diffs = viaSharp.data.filter((v, i) => v !== exact.data[i]).length;
  assert(diffs < 0.01 * exact.data.length, `disc: ${diffs} values differ`);
  assertEquals(px(viaSharp, 120, 120), 128);
  assertEquals(px(viaSharp, 120, 120 + 91), 0);
  // a harsh texture at a small σ (3.2): libvips' box approximation and 8-bit rounding of the blur, ×4
  const tex = makeRaster(
    200,
    200,
    3,
    (y, x, c) => ((x - 100) ** 2 + (y - 100) ** 2 <= 95 * 95 ? 60 + ((x * 7 + y * 3 + c * 50) % 120) : 0),
  );
  const a = await run(tex), b = benGrahamImage(tex);
  let worst = 0, total = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i] - b.data[i]);
    worst = Math.max(worst, d);
    total += d;
  }
  assert(
    worst <= 10 && total / a.data.length < 2,
    `sharp vs exact blur: worst ${worst}, mean ${total / a.data.length}`,
  );
  // float images take the exact path
  const f: Raster = { data: new Float32Array(100).fill(0.25), width: 10, height: 10, channels: 1 };
  const fo = await run(f, { mask: false });
  assert(fo.data instanceof Float32Array && fo.data.every((v) => Math.abs(v - 128 / 255) < 1e-5), "float: exact path");
  assertThrows(() => benGraham({ blur: "gpu" as "exact" }), RangeError, "blur");
});

Deno.test("autoCropFundus: crops to the non-black box, with a margin, or squared", async () => {
  const img = makeRaster(30, 20, 3, (y, x) => (y >= 4 && y <= 15 && x >= 10 && x <= 17 ? 200 : y === 0 ? 8 : 0));
  const c = autoCropFundusImage(img); // the row of 8s is below the threshold 10
  assertEquals([c.width, c.height], [8, 12]);
  assert(c.data.every((v) => v === 200), "only the bright box is kept");
  const m = autoCropFundusImage(img, { margin: 2 });
  assertEquals([m.width, m.height], [12, 16]);
  const sq = autoCropFundusImage(img, { square: true });
  assertEquals([sq.width, sq.height], [12, 12]);
  // the 8-wide box is centred in the 12-wide square: two black columns on each side
  assertEquals([px(sq, 5, 1), px(sq, 5, 2), px(sq, 5, 9), px(sq, 5, 10)], [0, 200, 200, 0]);
  const low = autoCropFundusImage(img, { threshold: 5 });
  assertEquals([low.width, low.height], [30, 16]);
  const black = makeRaster(5, 5, 3, () => 0);
  assert(autoCropFundusImage(black) === black, "all-black image is returned as is");
  const s: Sample = { image: img, label: 1, id: "f", meta: { path: "x" } };
  const out = await autoCropFundus()(s, new Rng(0));
  assertEquals([(out.image as Raster).width, out.label, out.meta], [8, 1, { path: "x" }]);
});

const retinaPath = sharedDataPath("images/fundus/skimage_retina.jpg");

skippableTest({
  name: "benGraham on a real fundus photograph: before/after picture, mask and local-contrast statistics",
  skip: needsSharedData(retinaPath),
  fn: async () => {
    const full = await decodeRaster(retinaPath!, { channels: 3 });
    const img = resizeImage(autoCropFundusImage(full, { square: true }), 512, 512);
    const r = estimateFundusRadius(img);
    assert(r > 200 && r <= 256, `estimated radius ${r} of a 512² fundus crop`);
    const out = benGrahamImage(img);
    const maskR = Math.floor(0.9 * r);
    let inside = 0, sum = 0;
    for (let y = 0; y < 512; y++) {
      for (let x = 0; x < 512; x++) {
        const d2 = (x - 256) ** 2 + (y - 256) ** 2;
        for (let c = 0; c < 3; c++) {
          if (d2 > maskR * maskR) assertEquals(px(out, y, x, c), 128);
          else {
            inside++;
            sum += px(out, y, x, c);
          }
        }
      }
    }
    const mean = sum / inside;
    // the sharp (libvips) blur gives nearly the same picture
    const viaSharp = (await benGraham({ blur: "sharp" })({ image: img, label: 0, id: "r", meta: {} }, new Rng(0)))
      .image as Raster;
    let worst = 0, total = 0;
    for (let i = 0; i < out.data.length; i++) {
      worst = Math.max(worst, Math.abs(out.data[i] - viaSharp.data[i]));
      total += Math.abs(out.data[i] - viaSharp.data[i]);
    }
    assert(
      worst <= 6 && total / out.data.length < 0.8,
      `sharp vs exact: worst ${worst}, mean ${total / out.data.length}`,
    );
    assert(Math.abs(mean - 128) < 12, `mean inside the mask ${mean.toFixed(1)} ≈ 128 (local average removed)`);
    const dir = await Deno.makeTempDir({ prefix: "meddiff_ben_graham_" });
    const sideBySide = new Uint8Array(1024 * 512 * 3);
    for (let y = 0; y < 512; y++) {
      sideBySide.set(img.data.subarray(y * 512 * 3, (y + 1) * 512 * 3), y * 1024 * 3);
      sideBySide.set(out.data.subarray(y * 512 * 3, (y + 1) * 512 * 3), (y * 1024 + 512) * 3);
    }
    const path = `${dir}/ben_graham_before_after.png`;
    await sharp(sideBySide, { raw: { width: 1024, height: 512, channels: 3 } }).png().toFile(path);
    console.log(`Ben Graham before/after (left: input 512², right: output): ${path}`);
    assert((await Deno.stat(path)).size > 10_000, "picture written");
  },
});
