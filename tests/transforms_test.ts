/**
 * 2D transforms: decoding, composition, geometric and photometric augmentation, normalisation.
 * Exact expected values come from hand computation, or from replaying the same draws on a
 * second Rng with the same seed.
 */
import sharp from "sharp";
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { Rng } from "../util/rng.ts";
import { type ArrayImage, DatasetError, type Raster, type Sample } from "../datasets/types.ts";
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  adjustSharpness,
  adjustSharpnessImage,
  centerCrop,
  colorJitter,
  compose,
  convertChannels,
  cropImage,
  decodeImage,
  decodeRaster,
  gaussianBlur,
  gaussianBlurImage,
  grayscale,
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalize,
  randomAdjustSharpness,
  randomApply,
  randomChoice,
  randomCrop,
  randomGrayscale,
  randomHorizontalFlip,
  randomResizedCrop,
  randomRotation,
  randomVerticalFlip,
  rasterToArray,
  resize,
  resizeImage,
  rotateImage,
  toTensor,
} from "../datasets/transforms/mod.ts";
import { makeRaster } from "./_util.ts";

// ------------------------------------------------------------------ helpers

function sample<I>(image: I, id = "s0"): Sample<I> {
  return { image, label: 0, id, meta: {} } as Sample<I>;
}

function floatRaster(width: number, height: number, channels: number, values: number[]): Raster {
  return { data: Float32Array.from(values), width, height, channels };
}

/** A deterministic uint8 test pattern. */
function pattern(width: number, height: number, channels = 3): Raster {
  return makeRaster(width, height, channels, (y, x, c) => (y * 37 + x * 11 + c * 71 + ((x * y) % 13)) % 256);
}

async function run<O = Raster>(
  t: (s: Sample, r: Rng) => Sample | Promise<Sample>,
  image: unknown,
  seed = 1,
): Promise<O> {
  return (await t(sample(image) as Sample, new Rng(seed))).image as O;
}

function px(r: Raster, y: number, x: number, c = 0): number {
  return r.data[(y * r.width + x) * r.channels + c];
}

function assertAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assertEquals(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      throw new Error(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (±${tol})`);
    }
  }
}

// ------------------------------------------------------------------ decode

async function encodePng(r: Raster): Promise<Uint8Array> {
  const channels = r.channels as 1 | 2 | 3 | 4;
  const buf = await sharp(r.data, { raw: { width: r.width, height: r.height, channels } }).png().toBuffer();
  return new Uint8Array(buf);
}

Deno.test("decodeImage: PNG bytes and paths decode losslessly; channels 1 and 3 convert", async () => {
  const img = pattern(7, 5);
  const png = await encodePng(img);
  const fromBytes = await run(decodeImage(), png);
  assertEquals(fromBytes.width, 7);
  assertEquals(fromBytes.height, 5);
  assertEquals(fromBytes.channels, 3);
  assertEquals([...fromBytes.data], [...img.data]);

  const dir = await Deno.makeTempDir({ prefix: "meddiff_decode_" });
  try {
    const path = `${dir}/p.png`;
    await Deno.writeFile(path, png);
    const out = await decodeImage()(sample<unknown>(path), new Rng(0));
    assertEquals([...out.image.data], [...img.data]);
    const grey = await decodeImage({ channels: 1 })(sample<unknown>(path), new Rng(0));
    assertEquals(grey.image.channels, 1);
    // the ITU-R 601 luma of each pixel, as PIL's convert("L")
    const luma = convertChannels(img, 1);
    assertEquals([...grey.image.data], [...luma.data]);
    assertEquals(luma.data[0], Math.round(0.587 * 71 + 0.114 * 142));
    const greyPng = await encodePng(luma);
    const rgb = await decodeRaster(greyPng, { channels: 3 });
    assertEquals(rgb.channels, 3);
    assertEquals(px(rgb, 2, 3, 0), px(luma, 2, 3));
    assertEquals(px(rgb, 2, 3, 2), px(luma, 2, 3));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decodeImage: corrupt and truncated files throw a DatasetError naming the file", async () => {
  const png = await encodePng(pattern(64, 64));
  const jpeg = new Uint8Array(
    await sharp(pattern(64, 64).data, { raw: { width: 64, height: 64, channels: 3 } }).jpeg().toBuffer(),
  );
  const dir = await Deno.makeTempDir({ prefix: "meddiff_decode_" });
  try {
    for (
      const [name, bytes] of [
        ["garbage.png", new TextEncoder().encode("this is not an image at all")],
        ["cut.png", png.slice(0, Math.floor(png.length / 2))],
        ["cut.jpg", jpeg.slice(0, Math.floor(jpeg.length / 2))],
      ] as const
    ) {
      const path = `${dir}/${name}`;
      await Deno.writeFile(path, bytes);
      const e = await assertRejects(
        () => decodeImage()(sample<unknown>(path), new Rng(0)) as Promise<unknown>,
        DatasetError,
      );
      assertEquals((e as DatasetError).file, path);
      assert(e.message.startsWith(path), e.message);
      // bytes: named by meta.path, else by the sample id
      const s: Sample<unknown> = { image: bytes, label: 0, id: "row-7", meta: { path: "/data/x.png" } };
      await assertRejects(() => decodeImage()(s, new Rng(0)) as Promise<unknown>, DatasetError, "/data/x.png");
      await assertRejects(
        () => decodeImage()({ ...s, meta: {} }, new Rng(0)) as Promise<unknown>,
        DatasetError,
        "row-7",
      );
    }
    await assertRejects(
      () => decodeImage()(sample<unknown>(`${dir}/missing.png`), new Rng(0)) as Promise<unknown>,
      DatasetError,
      "missing.png",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  await assertRejects(() => decodeImage()(sample<unknown>(42), new Rng(0)) as Promise<unknown>, TypeError, "file path");
  assertThrows(() => decodeImage({ channels: 2 as 1 }), RangeError, "channels must be 1 or 3");
});

Deno.test("decodeImage: a raster passes through, converted to the asked channel count", async () => {
  const img = makeRaster(2, 1, 3, (_y, x) => (x === 0 ? 100 : 0));
  const same = await run(decodeImage(), img);
  assert(same === img, "unchanged raster is passed through");
  const grey = await run(decodeImage({ channels: 1 }), img);
  assertEquals([...grey.data], [100, 0]);
  const rgb = await run(decodeImage({ channels: 3 }), grey);
  assertEquals([...rgb.data], [100, 100, 100, 0, 0, 0]);
  const rgba = makeRaster(1, 1, 4, (_y, _x, c) => [10, 20, 30, 255][c]);
  assertEquals([...convertChannels(rgba, 3).data], [10, 20, 30]);
  assertEquals([...convertChannels(rgba, 1).data], [Math.round(0.299 * 10 + 0.587 * 20 + 0.114 * 30)]);
});

// ------------------------------------------------------------------ compose

Deno.test("compose: runs in order, stays synchronous until a step is async, passes one rng along", async () => {
  const log: string[] = [];
  const step = (name: string) => (s: Sample, r: Rng): Sample => {
    log.push(`${name}:${r.int(100)}`);
    return { ...s, id: s.id + name };
  };
  const syncOnly = compose([step("a"), step("b")]);
  const out = syncOnly(sample(pattern(2, 2)), new Rng(5));
  assert(!(out instanceof Promise), "all-sync chain returns a value");
  assertEquals((out as Sample).id, "s0ab");
  const replay = new Rng(5);
  assertEquals(log, [`a:${replay.int(100)}`, `b:${replay.int(100)}`]);

  const asyncStep = async (s: Sample): Promise<Sample> => ({ ...(await Promise.resolve(s)), id: s.id + "!" });
  const mixed = compose([step("x"), asyncStep, step("y")]);
  const res = mixed(sample(pattern(2, 2)), new Rng(1));
  assert(res instanceof Promise, "a chain with an async step returns a promise");
  assertEquals((await res).id, "s0x!y");
  const empty = compose([]);
  const s0 = sample(pattern(1, 1));
  assert(empty(s0, new Rng(0)) === s0, "empty compose is the identity");
  assertThrows(() => compose([step("a"), 3 as unknown as typeof asyncStep]), TypeError, "transforms[1]");
});

Deno.test("augmentation pipeline: same Rng state → same output; another seed → another output", async () => {
  const pipeline = compose([
    resize({ size: 40 }),
    randomCrop(32, { padding: 2 }),
    randomRotation(20, { interpolation: "bilinear" }),
    randomHorizontalFlip(),
    randomVerticalFlip(),
    colorJitter({ brightness: 0.3, contrast: 0.3, saturation: 0.3, hue: 0.05 }),
    randomAdjustSharpness(2),
    gaussianBlur(3),
    normalize(IMAGENET_MEAN, IMAGENET_STD),
    toTensor(),
  ]);
  const img = pattern(48, 44);
  const a = await pipeline(sample(img), Rng.derive(7, 1, 3));
  const b = await pipeline(sample(img), Rng.derive(7, 1, 3));
  const c = await pipeline(sample(img), Rng.derive(7, 1, 4));
  const ai = a.image as ArrayImage, bi = b.image as ArrayImage, ci = c.image as ArrayImage;
  assertEquals(ai.shape, [3, 32, 32]);
  assertEquals([...ai.data], [...bi.data]);
  assert(ai.data.some((v, i) => v !== ci.data[i]), "a different rng gives a different augmentation");
  // the rng's state after the pipeline is the same too
  const r1 = Rng.derive(7, 1, 3), r2 = Rng.derive(7, 1, 3);
  await pipeline(sample(img), r1);
  await pipeline(sample(img), r2);
  assertEquals(r1.state(), r2.state());
});

Deno.test("randomApply and randomChoice draw once and follow their probabilities", () => {
  const mark = (tag: string) => (s: Sample): Sample => ({ ...s, id: tag });
  const ra = randomApply(mark("yes"), 0.3);
  let yes = 0;
  const r = new Rng(11), replay = new Rng(11);
  for (let i = 0; i < 2000; i++) {
    const out = ra(sample(pattern(1, 1)), r) as Sample;
    assertEquals(out.id === "yes", replay.random() < 0.3);
    if (out.id === "yes") yes++;
  }
  assert(Math.abs(yes / 2000 - 0.3) < 0.04, `randomApply rate ${yes / 2000}`);
  const rc = randomChoice([mark("a"), mark("b"), mark("c")], [1, 0, 3]);
  const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < 4000; i++) counts[(rc(sample(pattern(1, 1)), r) as Sample).id]++;
  assertEquals(counts.b, 0);
  assert(Math.abs(counts.a / 4000 - 0.25) < 0.03, `randomChoice rate of a: ${counts.a / 4000}`);
  assertThrows(() => randomChoice([mark("a")], [-1]), RangeError, "weights");
  assertThrows(() => randomApply(mark("a"), 1.5), RangeError, "p must be in [0, 1]");
});

// ------------------------------------------------------------------ resize

Deno.test("resize: bilinear follows PIL's pixel-centre and antialias rules (hand-computed)", async () => {
  // Upscale 2 → 4 along x: PIL gives [0, 25, 75, 100].
  const up = await run(resize({ width: 4, height: 1 }), floatRaster(2, 1, 1, [0, 100]));
  assertAllClose(up.data, [0, 25, 75, 100], 1e-4, "upscale");
  // Downscale 4 → 2 with the widened triangle: weights (3, 3, 1)/7 and (1, 3, 3)/7.
  const down = await run(resize({ width: 2, height: 1 }), floatRaster(4, 1, 1, [0, 10, 20, 30]));
  assertAllClose(down.data, [50 / 7, 160 / 7], 1e-4, "downscale");
  // Without antialias, 4 → 2 is plain bilinear at the centres 1.5 → average of neighbours... at 0.5 and 2.5
  const noAa = await run(resize({ width: 2, height: 1 }, { antialias: false }), floatRaster(4, 1, 1, [0, 10, 20, 30]));
  assertAllClose(noAa.data, [5, 25], 1e-4, "no antialias");
  // Vertical pass on a uint8 image: rounded.
  const col = await run(resize({ width: 1, height: 4 }), makeRaster(1, 2, 1, (y) => (y ? 101 : 0)));
  assertEquals([...col.data], [0, 25, 76, 101]);
});

Deno.test("resize: nearest picks floor((i + 0.5)·in/out); constant images stay constant; target forms", async () => {
  const row = floatRaster(6, 1, 1, [0, 1, 2, 3, 4, 5]);
  assertEquals([...(await run(resize({ width: 3, height: 1 }, { interpolation: "nearest" }), row)).data], [1, 3, 5]);
  assertEquals(
    [...(await run(resize({ width: 4, height: 1 }, { interpolation: "nearest" }), row)).data],
    [0, 2, 3, 5],
  );
  const flat = makeRaster(37, 23, 3, (_y, _x, c) => [200, 17, 90][c]);
  for (const interpolation of ["bilinear", "bicubic", "nearest"] as const) {
    for (const [w, h] of [[11, 7], [80, 51]]) {
      const out = resizeImage(flat, w, h, { interpolation });
      assertEquals([out.width, out.height, out.channels], [w, h, 3]);
      for (let i = 0; i < out.data.length; i++) assertEquals(out.data[i], [200, 17, 90][i % 3], interpolation);
    }
  }
  const img = pattern(300, 200);
  const short = await run(resize({ shortSide: 100 }), img);
  assertEquals([short.width, short.height], [150, 100]);
  const capped = await run(resize({ shortSide: 100, maxLongSide: 120 }), img);
  assertEquals([capped.width, capped.height], [120, 80]);
  const square = await run(resize({ size: 64 }), img);
  assertEquals([square.width, square.height], [64, 64]);
  // bicubic overshoot is clamped for uint8 and kept for float
  const step = floatRaster(4, 1, 1, [0, 0, 1, 1]);
  const cub = await run(resize({ width: 8, height: 1 }, { interpolation: "bicubic" }), step);
  assert(Math.min(...cub.data) < 0 && Math.max(...cub.data) > 1, "bicubic overshoots on float data");
  assertThrows(() => resize({ size: 0 }), RangeError, "resize: size must be a positive integer");
  assertThrows(() => resize({ size: 8 }, { interpolation: "area" as "nearest" }), RangeError, "interpolation");
});

Deno.test("resize works on CHW arrays exactly as on rasters", async () => {
  const img = pattern(20, 13);
  const viaRaster = rasterToArray(
    await run(resize({ width: 9, height: 17 }, { interpolation: "bicubic" }), {
      ...img,
      data: Float32Array.from(img.data),
    }),
  );
  const arr: ArrayImage = { data: Float32Array.from(rasterToArray(img).data, (v) => v * 255), shape: [3, 13, 20] };
  const viaArray = await run<ArrayImage>(resize({ width: 9, height: 17 }, { interpolation: "bicubic" }), arr);
  assertEquals(viaArray.shape, [3, 17, 9]);
  assertAllClose(viaArray.data, viaRaster.data, 1e-3, "CHW vs HWC");
  const hw: ArrayImage = { data: new Float32Array(6).fill(2), shape: [2, 3] };
  assertEquals((await run<ArrayImage>(resize({ size: 4 }), hw)).shape, [4, 4]);
  await assertRejects(
    async () => await run(resize({ size: 4 }), { data: new Float32Array(8), shape: [1, 2, 2, 2] }),
    RangeError,
    "volume",
  );
  await assertRejects(async () => await run(resize({ size: 4 }), "x.png"), TypeError, "decodeImage");
});

// ------------------------------------------------------------------ crops

Deno.test("centerCrop: floor((in − out)/2) offsets; smaller images are padded torchvision-style", async () => {
  const img = makeRaster(5, 4, 1, (y, x) => y * 10 + x);
  const c = await run(centerCrop({ width: 2, height: 3 }), img);
  // left = floor(3/2) = 1, top = floor(1/2) = 0
  assertEquals([...c.data], [1, 2, 11, 12, 21, 22]);
  const p = await run(centerCrop(3, { fill: 99 }), makeRaster(1, 1, 1, () => 7));
  assertEquals([...p.data], [99, 99, 99, 99, 7, 99, 99, 99, 99]);
  const p2 = await run(centerCrop({ width: 4, height: 1 }), makeRaster(1, 1, 1, () => 7));
  assertEquals([...p2.data], [0, 7, 0, 0]); // ⌊3/2⌋ = 1 before, 2 after
});

Deno.test("randomCrop: offsets are rng.int draws (top, then left); padding modes", async () => {
  const img = makeRaster(10, 8, 2, (y, x, c) => y * 20 + x + c * 100);
  for (let seed = 0; seed < 20; seed++) {
    const out = await run(randomCrop({ width: 4, height: 3 }), img, seed);
    const r = new Rng(seed);
    const top = r.int(8 - 3 + 1), left = r.int(10 - 4 + 1);
    for (let y = 0; y < 3; y++) {
      for (let x = 0; x < 4; x++) {
        for (let c = 0; c < 2; c++) assertEquals(px(out, y, x, c), px(img, top + y, left + x, c));
      }
    }
  }
  const row = makeRaster(4, 1, 1, (_y, x) => x + 1); // [1 2 3 4]
  const cases = {
    constant: [9, 9, 1, 2, 3, 4, 9, 9],
    edge: [1, 1, 1, 2, 3, 4, 4, 4],
    reflect: [3, 2, 1, 2, 3, 4, 3, 2],
    symmetric: [2, 1, 1, 2, 3, 4, 4, 3],
  };
  for (const [mode, expected] of Object.entries(cases)) {
    const t = randomCrop({ width: 8, height: 1 }, { padding: [2, 0], paddingMode: mode as "edge", fill: 9 });
    assertEquals([...(await run(t, row)).data], expected, mode);
    const box = cropImage(row, { top: 0, left: -2, width: 8, height: 1 }, { paddingMode: mode as "edge", fill: 9 });
    assertEquals([...box.data], expected, `cropImage ${mode}`);
  }
  // padIfNeeded pads by the shortfall on both sides (torchvision), so the crop still moves
  const small = makeRaster(2, 2, 1, () => 5);
  const t = randomCrop(4, { padIfNeeded: true });
  const outs = new Set<string>();
  for (let seed = 0; seed < 30; seed++) outs.add([...(await run(t, small, seed)).data].join(","));
  assert(outs.size > 1, "padIfNeeded crop positions vary");
  await assertRejects(async () => await run(randomCrop(4), small), RangeError, "padIfNeeded");
  assertThrows(() => randomCrop(4, { padding: [1, 2, 3] }), RangeError, "padding");
});

Deno.test("randomResizedCrop: scale 1 and ratio 1 on a square image resize the whole image; same rng → same crop", async () => {
  const img = pattern(30, 30);
  const whole = await run(randomResizedCrop(12, { scale: [1, 1], ratio: [1, 1] }), img);
  assertEquals([...whole.data], [...resizeImage(img, 12, 12).data]);
  const t = randomResizedCrop({ width: 16, height: 12 });
  const a = await run(t, pattern(50, 40), 3), b = await run(t, pattern(50, 40), 3);
  assertEquals([a.width, a.height], [16, 12]);
  assertEquals([...a.data], [...b.data]);
  // no try fits (ratio far from the image's): the centre crop with the ratio clamped
  const wide = makeRaster(40, 10, 1, (_y, x) => x * 5);
  const c = await run(randomResizedCrop({ width: 10, height: 10 }, { scale: [1, 1], ratio: [1, 1] }), wide);
  const center = cropImage(wide, { top: 0, left: 15, width: 10, height: 10 });
  assertEquals([...c.data], [...center.data]);
});

// ------------------------------------------------------------------ rotation and flips

Deno.test("rotateImage: quarter turns are exact counter-clockwise rotations", () => {
  const n = 5;
  const img = makeRaster(n, n, 2, (y, x, c) => y * n + x + c * 50);
  const r90 = rotateImage(img, 90);
  // CCW: output (y, x) shows input (x, n − 1 − y)
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) assertEquals(px(r90, y, x, 1), px(img, x, n - 1 - y, 1));
  const r180 = rotateImage(img, 180, { interpolation: "bilinear" });
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) assertEquals(px(r180, y, x), px(img, n - 1 - y, n - 1 - x));
  const r270 = rotateImage(img, -90);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) assertEquals(px(r270, y, x), px(img, n - 1 - x, y));
  assertEquals([...rotateImage(img, 360).data], [...img.data]);
});

Deno.test("rotateImage: uncovered corners get the fill; bilinear of a constant stays constant inside", () => {
  const img = makeRaster(9, 9, 3, () => 100);
  const r = rotateImage(img, 45, { fill: [1, 2, 3] });
  assertEquals([px(r, 0, 0, 0), px(r, 0, 0, 1), px(r, 0, 0, 2)], [1, 2, 3]);
  assertEquals(px(r, 4, 4, 1), 100);
  const rb = rotateImage(img, 30, { interpolation: "bilinear" });
  assertEquals(px(rb, 4, 4), 100);
  assertEquals(px(rb, 4, 1), 100);
  assertThrows(() => rotateImage(img, 10, { fill: [1, 2] }), RangeError, "fill has 2 values");
});

Deno.test("randomRotation draws its angle uniformly from [−d, d] with one draw", async () => {
  const img = pattern(16, 12);
  for (let seed = 0; seed < 5; seed++) {
    const out = await run(randomRotation(30, { interpolation: "bilinear", fill: 7 }), img, seed);
    const angle = new Rng(seed).uniform(-30, 30);
    assertEquals([...out.data], [...rotateImage(img, angle, { interpolation: "bilinear", fill: 7 }).data]);
  }
  const out = await run(randomRotation([90, 90]), img, 0);
  assertEquals([...out.data], [...rotateImage(img, 90).data]);
  assertThrows(() => randomRotation(-5), RangeError, "degrees");
});

Deno.test("flips: p = 1 mirrors exactly, p = 0 keeps, otherwise one draw < p decides", async () => {
  const img = makeRaster(3, 2, 2, (y, x, c) => y * 10 + x + c * 100);
  const h = await run(randomHorizontalFlip(1), img);
  const v = await run(randomVerticalFlip(1), img);
  for (let y = 0; y < 2; y++) {
    for (let x = 0; x < 3; x++) {
      for (let c = 0; c < 2; c++) {
        assertEquals(px(h, y, x, c), px(img, y, 2 - x, c));
        assertEquals(px(v, y, x, c), px(img, 1 - y, x, c));
      }
    }
  }
  assertEquals([...(await run(randomHorizontalFlip(0), img)).data], [...img.data]);
  for (let seed = 0; seed < 10; seed++) {
    const out = await run(randomHorizontalFlip(0.5), img, seed);
    const flipped = new Rng(seed).random() < 0.5;
    assertEquals([...out.data], [...(flipped ? h : img).data]);
  }
  // CHW arrays flip the same way
  const arr = rasterToArray(img);
  const harr = await run<ArrayImage>(randomHorizontalFlip(1), arr);
  assertEquals([...harr.data], [...rasterToArray(h).data]);
  assertEquals(harr.shape, [2, 2, 3]);
});

// ------------------------------------------------------------------ colour

Deno.test("adjustBrightness / Contrast / Saturation: torchvision blends, rounded and clamped", () => {
  const img = makeRaster(2, 1, 3, (_y, x, c) => [[200, 100, 50], [10, 20, 30]][x][c]);
  assertEquals([...adjustBrightness(img, 1.5).data], [255, 150, 75, 15, 30, 45]);
  // contrast: blend with the mean luma of the whole image
  const l0 = 0.299 * 200 + 0.587 * 100 + 0.114 * 50, l1 = 0.299 * 10 + 0.587 * 20 + 0.114 * 30;
  const mean = (l0 + l1) / 2;
  const expectC = [200, 100, 50, 10, 20, 30].map((v) => Math.min(255, Math.max(0, Math.round(0.5 * v + 0.5 * mean))));
  assertEquals([...adjustContrast(img, 0.5).data], expectC);
  // saturation: blend each pixel with its own luma; 0 gives grey
  const grey = adjustSaturation(img, 0);
  assertEquals([...grey.data], [l0, l0, l0, l1, l1, l1].map(Math.round));
  const sat = adjustSaturation(img, 2);
  assertEquals(
    [...sat.data],
    [200, 100, 50].map((v) => Math.min(255, Math.max(0, Math.round(2 * v - l0)))).concat(
      [10, 20, 30].map((v) => Math.min(255, Math.max(0, Math.round(2 * v - l1)))),
    ),
  );
  // float images are clamped to [0, 1]
  const f = floatRaster(1, 1, 3, [0.8, 0.5, 0.1]);
  assertAllClose(adjustBrightness(f, 2).data, [1, 1, 0.2], 1e-6, "float brightness");
  // one channel: saturation is a no-op, contrast uses the channel mean
  const g = makeRaster(2, 1, 1, (_y, x) => (x ? 100 : 0));
  assertEquals([...adjustSaturation(g, 0).data], [0, 100]);
  assertEquals([...adjustContrast(g, 0).data], [50, 50]);
});

Deno.test("adjustHue: turns the hue in HSV; a zero shift and greys are unchanged", () => {
  const red = makeRaster(1, 1, 3, (_y, _x, c) => [255, 0, 0][c]);
  assertEquals([...adjustHue(red, 1 / 3).data], [0, 255, 0]);
  assertEquals([...adjustHue(red, -1 / 3).data], [0, 0, 255]);
  assertEquals([...adjustHue(red, 0.5).data], [0, 255, 255]);
  const img = pattern(9, 7);
  assertEquals([...adjustHue(img, 0).data], [...img.data]);
  const greyish = makeRaster(2, 1, 3, (_y, x) => (x ? 90 : 200));
  assertEquals([...adjustHue(greyish, 0.37).data], [...greyish.data]);
  // (200, 100, 50): h = (1 − 2/3)/6 = 1/18, s = 0.75, v = 200/255; +1/9 turn → h = 1/6 (yellow): (200, 200, 50)
  const orange = makeRaster(1, 1, 3, (_y, _x, c) => [200, 100, 50][c]);
  assertEquals([...adjustHue(orange, 1 / 9).data], [200, 200, 50]);
  assertThrows(() => adjustHue(red, 0.6), RangeError, "shift must be in [-0.5, 0.5]");
});

Deno.test("colorJitter: draws a permutation, then each factor; applies them in the drawn order", async () => {
  const img = pattern(6, 5);
  const opts = { brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1 };
  for (let seed = 0; seed < 6; seed++) {
    const out = await run(colorJitter(opts), img, seed);
    const r = new Rng(seed);
    const order = r.permutation(4);
    const f = [r.uniform(0.6, 1.4), r.uniform(0.6, 1.4), r.uniform(0.6, 1.4), r.uniform(-0.1, 0.1)];
    let e = img;
    for (const k of order) {
      e = k === 0
        ? adjustBrightness(e, f[0])
        : k === 1
        ? adjustContrast(e, f[1])
        : k === 2
        ? adjustSaturation(e, f[2])
        : adjustHue(e, f[3]);
    }
    assertEquals([...out.data], [...e.data], `seed ${seed}`);
  }
  // brightness alone: the factor range is [max(0, 1 − b), 1 + b]
  const r = new Rng(9);
  r.permutation(4);
  const factor = r.uniform(0, 3);
  assertEquals([...(await run(colorJitter({ brightness: 2 }), img, 9)).data], [...adjustBrightness(img, factor).data]);
  assertThrows(() => colorJitter({ hue: 0.7 }), RangeError, "hue");
  assertThrows(() => colorJitter({ brightness: -1 }), RangeError, "brightness");
});

Deno.test("adjustSharpness: blends with torchvision's 3×3 smoothing; borders unchanged", async () => {
  const img = makeRaster(3, 3, 1, (y, x) => (y === 1 && x === 1 ? 130 : 0));
  // degenerate centre: (5·130)/13 = 50; factor 2: 2·130 − 50 = 210
  assertEquals([...adjustSharpnessImage(img, 2).data], [0, 0, 0, 0, 210, 0, 0, 0, 0]);
  assertEquals([...adjustSharpnessImage(img, 0).data], [0, 0, 0, 0, 50, 0, 0, 0, 0]);
  const p = pattern(8, 8);
  assertEquals([...(await run(adjustSharpness(1), p)).data], [...p.data]);
  const draws = [0, 1, 2, 3, 4, 5].map((s) => new Rng(s).random() < 0.5);
  for (let s = 0; s < 6; s++) {
    const out = await run(randomAdjustSharpness(3, 0.5), p, s);
    assertEquals([...out.data], [...(draws[s] ? adjustSharpnessImage(p, 3) : p).data]);
  }
});

/** Direct 2D Gaussian with reflect-101 borders (a reference for the separable code). */
function blurReference(r: Raster, k: number, sigma: number): number[] {
  const half = (k - 1) / 2;
  const w1 = Array.from({ length: k }, (_, i) => Math.exp(-0.5 * ((i - half) / sigma) ** 2));
  const s = w1.reduce((a, b) => a + b, 0);
  const w = w1.map((v) => v / s);
  const refl = (i: number, n: number) => {
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
  };
  const out: number[] = [];
  for (let y = 0; y < r.height; y++) {
    for (let x = 0; x < r.width; x++) {
      for (let c = 0; c < r.channels; c++) {
        let acc = 0;
        for (let i = 0; i < k; i++) {
          for (let j = 0; j < k; j++) {
            acc += w[i] * w[j] * px(r, refl(y + i - half, r.height), refl(x + j - half, r.width), c);
          }
        }
        out.push(acc);
      }
    }
  }
  return out;
}

Deno.test("gaussianBlur: matches a direct 2D convolution with mirrored borders; σ drawn from the range", async () => {
  const img = pattern(9, 6);
  const f = { ...img, data: Float32Array.from(img.data) };
  const out = gaussianBlurImage(f, 5, 1.3);
  assertAllClose(out.data, blurReference(img, 5, 1.3), 1e-3, "blur");
  // kernel wider than the image still mirrors correctly
  const wide = gaussianBlurImage(f, 13, 4);
  assertAllClose(wide.data, blurReference(img, 13, 4), 1e-3, "wide blur");
  const u8 = gaussianBlurImage(img, 3, 0.8);
  assertAllClose(u8.data, blurReference(img, 3, 0.8).map(Math.round), 1, "uint8 blur");
  const flat = makeRaster(7, 7, 3, () => 77);
  assertEquals([...gaussianBlurImage(flat, 7, 3).data], [...flat.data]);
  const sig = new Rng(4).uniform(0.1, 2);
  assertEquals([...(await run(gaussianBlur(5), img, 4)).data], [...gaussianBlurImage(img, 5, sig).data]);
  assertThrows(() => gaussianBlur(4), RangeError, "odd");
});

Deno.test("grayscale and randomGrayscale", async () => {
  const img = makeRaster(1, 1, 3, (_y, _x, c) => [200, 100, 50][c]);
  const l = Math.round(0.299 * 200 + 0.587 * 100 + 0.114 * 50);
  assertEquals([...(await run(grayscale(), img)).data], [l]);
  assertEquals([...(await run(grayscale({ channels: 3 }), img)).data], [l, l, l]);
  assertEquals([...(await run(randomGrayscale(1), img)).data], [l, l, l]);
  assertEquals([...(await run(randomGrayscale(0), img)).data], [200, 100, 50]);
});

// ------------------------------------------------------------------ normalize / toTensor

Deno.test("toTensor: HWC uint8 → CHW float32 ÷ 255; normalize: (x − mean)/std; the two commute", async () => {
  const img = makeRaster(2, 1, 3, (_y, x, c) => [[255, 0, 51], [102, 153, 204]][x][c]);
  const t = await run<ArrayImage>(toTensor(), img);
  assertEquals(t.shape, [3, 1, 2]);
  assertAllClose(t.data, [1, 0.4, 0, 0.6, 0.2, 0.8], 1e-7, "toTensor");
  const n1 = await run<ArrayImage>(compose([normalize(IMAGENET_MEAN, IMAGENET_STD), toTensor()]), img);
  const n2 = await run<ArrayImage>(compose([toTensor(), normalize(IMAGENET_MEAN, IMAGENET_STD)]), img);
  const expected = [1, 0.4, 0, 0.6, 0.2, 0.8].map((v, i) => (v - IMAGENET_MEAN[i >> 1]) / IMAGENET_STD[i >> 1]);
  assertAllClose(n1.data, expected, 1e-6, "normalize then toTensor");
  assertAllClose(n2.data, expected, 1e-6, "toTensor then normalize");
  const nr = await run(normalize(0.5, 0.25), img);
  assert(nr.data instanceof Float32Array, "a normalised raster is float32");
  assertAllClose(nr.data.slice(0, 3), [2, -2, -1.2], 1e-6, "scalar mean/std on a raster");
  // a float raster is not rescaled by toTensor
  const fr = await run<ArrayImage>(toTensor(), floatRaster(1, 1, 2, [3, -1]));
  assertEquals([...fr.data], [3, -1]);
  assertEquals(IMAGENET_MEAN, [0.485, 0.456, 0.406]);
  assertEquals(IMAGENET_STD, [0.229, 0.224, 0.225]);
  await assertRejects(async () => await run(normalize([0.5, 0.5], [1, 1]), img), RangeError, "mean has 2 values");
  assertThrows(() => normalize(0, 0), RangeError, "std must not contain 0");
  await assertRejects(async () => await run(toTensor(), "a.png"), TypeError, "decodeImage");
});
