/**
 * The `data` section's preprocessing and augmentation keys (tasks/common/data.ts): the defaults
 * give exactly the pipeline used before the keys existed, each augmentation changes the image
 * when on and is fixed by the rng the loader passes, ImageNet normalisation and its inverse give
 * the expected values, Ben Graham's step runs on every split at the training resolution, and the
 * config refuses out-of-range values naming the key.
 */
import { classifierSchema } from "../tasks/classify/config.ts";
import { ddpmSchema } from "../tasks/ddpm/config.ts";
import {
  DATA_DEFAULTS,
  type DataConfig,
  dataNormalization,
  imageTransforms,
  openImageData,
} from "../tasks/common/data.ts";
import { DataLoader } from "../datasets/loader.ts";
import { compose, type TransformChain } from "../datasets/transforms/compose.ts";
import { benGrahamImage, estimateFundusRadius } from "../datasets/transforms/ben_graham.ts";
import { centerCrop, randomHorizontalFlip, resize, resizeImage } from "../datasets/transforms/geometric.ts";
import { normalize, toTensor } from "../datasets/transforms/normalize.ts";
import { MedMnist } from "../datasets/medmnist.ts";
import type { ArrayImage, Raster, Sample, Transform } from "../datasets/types.ts";
import { ConfigError, type ConfigSchema, resolveConfig } from "../train/config.ts";
import { Rng } from "../util/rng.ts";
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { needsSharedData, sharedDataPath } from "./_shared_data.ts";
import { skippableTest } from "./_skip.ts";

/** The transforms of tasks/common/data.ts as they were before the augmentation keys (the reference). */
function plainTransforms(channels: number, resizeTo: number | null, hflip: boolean) {
  const half = new Array(channels).fill(0.5);
  const geometry: Transform<Sample, Sample>[] = resizeTo === null
    ? []
    : [resize({ shortSide: resizeTo }), centerCrop(resizeTo)];
  const tail = [toTensor() as Transform<Sample, Sample>, normalize(half, half)];
  const chain = (list: Transform<Sample, Sample>[]) => compose(list as unknown as TransformChain<Sample, Sample>);
  return {
    train: chain([...geometry, ...(hflip ? [randomHorizontalFlip(0.5)] : []), ...tail]),
    eval: chain([...geometry, ...tail]),
  };
}

/** A deterministic uint8 RGB(or grey) raster with structure in every channel (not symmetric). */
function raster(width: number, height: number, channels: number, salt = 0): Raster {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        data[(y * width + x) * channels + c] = (x * 37 + y * 11 + c * 71 + salt * 13 + ((x * y) % 7) * 19) % 256;
      }
    }
  }
  return { data, width, height, channels };
}

/** A bright disc on black (a fundus-like image), `width`×`height`, radius `r`, with a little texture. */
function disc(width: number, height: number, r: number): Raster {
  const data = new Uint8Array(width * height * 3);
  const cx = width / 2, cy = height / 2;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 > r * r) continue;
      const t = ((x * 7 + y * 3) % 11) * 3;
      data.set([150 + t, 80 + t, 40 + (t >> 1)], (y * width + x) * 3);
    }
  }
  return { data, width, height, channels: 3 };
}

const sample = (image: Raster | ArrayImage, i = 0): Sample => ({ image, label: i % 3, id: `s${i}`, meta: {} });

async function run(t: Transform<Sample, Sample>, s: Sample, rng: Rng): Promise<ArrayImage> {
  return (await t(s, rng)).image as ArrayImage;
}

const bytes = (a: ArrayImage) => new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);

function sameBytes(a: ArrayImage, b: ArrayImage): boolean {
  if (a.data.length !== b.data.length || a.shape.join() !== b.shape.join()) return false;
  const x = bytes(a), y = bytes(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** The defaults' augmentation keys, as a `data` section carries them. */
const DEFAULT_AUGMENT = {
  hflip: DATA_DEFAULTS.hflip,
  vflip: DATA_DEFAULTS.vflip,
  rotation: DATA_DEFAULTS.rotation,
  colorJitter: DATA_DEFAULTS.colorJitter,
  sharpness: DATA_DEFAULTS.sharpness,
  benGraham: DATA_DEFAULTS.benGraham,
  benGrahamSigma: DATA_DEFAULTS.benGrahamSigma,
  normalize: DATA_DEFAULTS.normalize,
};

Deno.test("data augment: the defaults keep the old keys' behaviour (h-flip only, no Ben Graham, [-1, 1])", () => {
  assertEquals(DEFAULT_AUGMENT, {
    hflip: true,
    vflip: false,
    rotation: 0,
    colorJitter: 0,
    sharpness: 0,
    benGraham: false,
    benGrahamSigma: null,
    normalize: "half",
  });
  for (const schema of [classifierSchema, ddpmSchema] as ConfigSchema<{ data: DataConfig }>[]) {
    const { config } = resolveConfig(schema, {});
    for (const [k, v] of Object.entries(DEFAULT_AUGMENT)) assertEquals(config.data[k as keyof DataConfig], v, k);
  }
});

Deno.test("data augment: default keys give byte-identical tensors to the plain pipeline, for every seed and path", async () => {
  const cases: [string, Raster | ArrayImage, number, number | null][] = [
    ["uint8 RGB 28² (medmnist)", raster(28, 28, 3), 3, null],
    ["uint8 grey 28² (medmnist)", raster(28, 28, 1), 1, null],
    ["uint8 RGB 40×30 resized to 16 (folder / CSV)", raster(40, 30, 3, 5), 3, 16],
    [
      "float CHW 12² (procedural)",
      { data: Float32Array.from({ length: 3 * 144 }, (_, i) => (i % 97) / 96), shape: [3, 12, 12] },
      3,
      null,
    ],
  ];
  for (const [what, image, channels, resizeTo] of cases) {
    for (const hflip of [true, false]) {
      const ref = plainTransforms(channels, resizeTo, hflip);
      const fromKeys = imageTransforms(channels, resizeTo, { ...DEFAULT_AUGMENT, hflip });
      const fromBool = imageTransforms(channels, resizeTo, hflip);
      let flipped = 0;
      for (let i = 0; i < 24; i++) {
        const want = await run(ref.train, sample(image, i), Rng.derive(11, 2, i));
        const got = await run(fromKeys.train, sample(image, i), Rng.derive(11, 2, i));
        assert(sameBytes(got, want), `${what}, hflip ${hflip}, sample ${i}: train tensors differ`);
        assert(sameBytes(await run(fromBool.train, sample(image, i), Rng.derive(11, 2, i)), want), `${what}: bool`);
        const ev = await run(fromKeys.eval, sample(image, i), Rng.derive(11, 2, i));
        assert(sameBytes(ev, await run(ref.eval, sample(image, i), Rng.derive(11, 2, i))), `${what}: eval differs`);
        if (!sameBytes(got, ev)) flipped++;
      }
      // The reference itself is not trivial: h-flip draws and flips about half the samples.
      if (hflip) assert(flipped > 4 && flipped < 20, `${what}: ${flipped} of 24 flipped`);
      else assertEquals(flipped, 0);
    }
  }
});

Deno.test("data augment: openImageData's default transforms equal the plain pipeline (procedural, via the loader's rng)", async () => {
  const d: DataConfig = { ...DATA_DEFAULTS, imageSize: 12, length: 32, numClasses: 3 };
  const data = await openImageData(d, 5);
  assert(!data.description.includes(";"), `no augmentation in the log line: ${data.description}`);
  const ref = plainTransforms(3, null, true);
  for (let i = 0; i < 8; i++) {
    const s = await data.train.get(i);
    const got = await run(data.trainTransform, s, Rng.derive(5, 1, i));
    assert(sameBytes(got, await run(ref.train, s, Rng.derive(5, 1, i))), `train sample ${i}`);
    assert(
      sameBytes(await run(data.evalTransform, s, Rng.derive(5, 1, i)), await run(ref.eval, s, Rng.derive(5, 1, i))),
    );
  }
});

/** Outputs of `t` for one image under seeds 0..n-1: checks repeatability and counts the outputs that differ from `base`. */
async function changedCount(t: Transform<Sample, Sample>, image: Raster, base: ArrayImage, n = 16): Promise<number> {
  let changed = 0;
  for (let i = 0; i < n; i++) {
    const a = await run(t, sample(image), Rng.derive(3, 0, i));
    const b = await run(t, sample(image), Rng.derive(3, 0, i));
    assert(sameBytes(a, b), `seed ${i}: the same rng must give the same output`);
    assertEquals(a.shape, base.shape);
    if (!sameBytes(a, base)) changed++;
  }
  return changed;
}

Deno.test("data augment: rotation, v-flip, colour jitter and sharpness change the image when on, repeatably per seed", async () => {
  const image = raster(24, 24, 3, 1);
  const off = { ...DEFAULT_AUGMENT, hflip: false };
  const base = await run(imageTransforms(3, null, off).eval, sample(image), new Rng(0));
  assert(sameBytes(await run(imageTransforms(3, null, off).train, sample(image), new Rng(9)), base), "nothing on");
  assertEquals(await changedCount(imageTransforms(3, null, { ...off, rotation: 30 }).train, image, base), 16);
  const vflips = await changedCount(imageTransforms(3, null, { ...off, vflip: true }).train, image, base);
  assert(vflips > 3 && vflips < 13, `v-flip p = 0.5: ${vflips} of 16`);
  assertEquals(await changedCount(imageTransforms(3, null, { ...off, colorJitter: 0.4 }).train, image, base), 16);
  const sharpened = await changedCount(imageTransforms(3, null, { ...off, sharpness: 2 }).train, image, base);
  assert(sharpened > 3 && sharpened < 13, `sharpness p = 0.5: ${sharpened} of 16`);
  // Different seeds give different rotations / jitters (not one fixed change).
  for (const a of [{ rotation: 30 }, { colorJitter: 0.4 }]) {
    const t = imageTransforms(3, null, { ...off, ...a }).train;
    const x = await run(t, sample(image), Rng.derive(3, 0, 1)), y = await run(t, sample(image), Rng.derive(3, 0, 2));
    assert(!sameBytes(x, y), `${JSON.stringify(a)}: seeds 1 and 2 agree`);
  }
  // Evaluation never augments.
  const all = imageTransforms(3, null, { hflip: true, vflip: true, rotation: 45, colorJitter: 0.5, sharpness: 3 });
  for (let i = 0; i < 6; i++) assert(sameBytes(await run(all.eval, sample(image), Rng.derive(3, 0, i)), base));
});

Deno.test("data augment: a v-flip is an exact top-bottom mirror; a 1-channel image takes every augmentation", async () => {
  const image = raster(10, 8, 1, 2);
  const t = imageTransforms(1, null, { hflip: false, vflip: true }).train;
  const base = await run(imageTransforms(1, null, false).eval, sample(image), new Rng(0));
  let seen = false;
  for (let i = 0; i < 8 && !seen; i++) {
    const out = await run(t, sample(image), Rng.derive(1, 0, i));
    if (sameBytes(out, base)) continue;
    seen = true;
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 10; x++) assertEquals(out.data[y * 10 + x], base.data[(7 - y) * 10 + x]);
    }
  }
  assert(seen, "some seed flips");
  const grey = imageTransforms(1, null, { rotation: 20, vflip: true, colorJitter: 0.3, sharpness: 2 }).train;
  assertEquals((await run(grey, sample(image), new Rng(4))).shape, [1, 8, 10]);
});

Deno.test("data augment: a loader reproduces its augmented batches for a (seed, epoch), as a resumed run needs", async () => {
  const d: DataConfig = {
    ...DATA_DEFAULTS,
    imageSize: 12,
    length: 24,
    numClasses: 3,
    rotation: 25,
    vflip: true,
    colorJitter: 0.3,
    sharpness: 2,
  };
  const data = await openImageData(d, 1);
  assert(data.description.includes("rotation ±25°") && data.description.includes("colour jitter 0.3"));
  const batches = async (epoch: number) => {
    const loader = new DataLoader(data.train, { batchSize: 8, shuffle: true, seed: 1, transform: data.trainTransform });
    const out: Float32Array[] = [];
    for await (const b of loader.cpuBatches(epoch)) out.push(b.images.data);
    return out;
  };
  const [a, b, other] = [await batches(3), await batches(3), await batches(4)];
  assertEquals(a.length, b.length);
  a.forEach((x, i) => assert(sameBytes({ data: x, shape: [] }, { data: b[i], shape: [] }), `batch ${i} differs`));
  assert(a.some((x, i) => !sameBytes({ data: x, shape: [] }, { data: other[i], shape: [] })), "epochs 3 and 4 agree");
});

Deno.test("data augment: imagenet normalisation of a constant image, and dataNormalization inverts every option", async () => {
  const grey = 128;
  const flat3: Raster = { data: new Uint8Array(6 * 5 * 3).fill(grey), width: 6, height: 5, channels: 3 };
  const out3 = await run(imageTransforms(3, null, { normalize: "imagenet" }).eval, sample(flat3), new Rng(0));
  const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
  for (let c = 0; c < 3; c++) {
    const want = (grey / 255 - mean[c]) / std[c];
    for (let p = 0; p < 30; p++) {
      assert(Math.abs(out3.data[c * 30 + p] - want) < 1e-6, `channel ${c}: ${out3.data[c * 30 + p]} vs ${want}`);
    }
  }
  const flat1: Raster = { data: new Uint8Array(16).fill(grey), width: 4, height: 4, channels: 1 };
  const out1 = await run(imageTransforms(1, null, { normalize: "imagenet" }).eval, sample(flat1), new Rng(0));
  const want1 = (grey / 255 - 0.449) / ((0.229 + 0.224 + 0.225) / 3);
  assert(out1.data.every((v) => Math.abs(v - want1) < 1e-6), `grey: ${out1.data[0]} vs ${want1}`);
  // The default stays [-1, 1].
  const half = await run(imageTransforms(3, null, {}).eval, sample(flat3), new Rng(0));
  assert(half.data.every((v) => Math.abs(v - (grey / 255 - 0.5) / 0.5) < 1e-7));

  assertEquals(dataNormalization(DATA_DEFAULTS), { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
  assertEquals(dataNormalization({ ...DATA_DEFAULTS, normalize: "imagenet" }), { mean, std });
  const g = dataNormalization({ normalize: "imagenet" }, 1);
  assert(Math.abs(g.mean[0] - 0.449) < 1e-12 && Math.abs(g.std[0] - 0.226) < 1e-12, JSON.stringify(g));
  // x·std + mean maps the tensors back to the [0, 1] image, channel by channel.
  const image = raster(7, 5, 3, 3);
  for (const kind of ["half", "imagenet"]) {
    const x = await run(imageTransforms(3, null, { normalize: kind }).eval, sample(image), new Rng(0));
    const { mean: m, std: s } = dataNormalization({ normalize: kind }, 3);
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 35; p++) {
        const back = x.data[c * 35 + p] * s[c] + m[c];
        assert(Math.abs(back - image.data[p * 3 + c] / 255) < 1e-6, `${kind} channel ${c} pixel ${p}: ${back}`);
      }
    }
  }
  assertThrows(() => dataNormalization({ normalize: "imagenet" }, 4), ConfigError, "1- or 3-channel");
  assertThrows(
    () => dataNormalization({ normalize: "zscore" }),
    ConfigError,
    'data.normalize must be "half" or "imagenet"',
  );
});

Deno.test("data augment: Ben Graham runs on every split; with a resize it works at the training resolution", async () => {
  const image = disc(60, 44, 21); // the disc is cut top and bottom a little, as in APTOS photographs
  const t = imageTransforms(3, 16, { benGraham: true, hflip: false });
  const ev = await run(t.eval, sample(image), new Rng(0));
  assertEquals(ev.shape, [3, 16, 16]);
  assert(sameBytes(await run(t.train, sample(image), new Rng(0)), ev), "train = eval with no augmentation on");
  // Graham's rescale to the size the resize gives (short side 44 → 16), then his recipe there:
  // exactly benGraham on the image resized first, with the radius scaled along, centre-cropped.
  const r = estimateFundusRadius(image), s = 16 / 44;
  const small = resizeImage(image, Math.round(60 * s), 16);
  const want = benGrahamImage(small, { radius: r * s });
  const ref = await run(plainTransforms(3, 16, false).eval, sample(want), new Rng(0));
  assert(sameBytes(ev, ref), "Ben Graham at the training resolution; the resize after it a no-op");
  // Without Ben Graham the result is another image.
  assert(!sameBytes(ev, await run(imageTransforms(3, 16, false).eval, sample(image), new Rng(0))));
  // No resize (MedMNIST, procedural): Graham at the image's own size; benGrahamSigma sets σ / r.
  const native = await run(imageTransforms(3, null, { benGraham: true }).eval, sample(disc(28, 28, 14)), new Rng(0));
  const wantNative = await run(
    plainTransforms(3, null, false).eval,
    sample(benGrahamImage(disc(28, 28, 14))),
    new Rng(0),
  );
  assert(sameBytes(native, wantNative));
  const wider = await run(
    imageTransforms(3, null, { benGraham: true, benGrahamSigma: 0.1 }).eval,
    sample(disc(28, 28, 14)),
    new Rng(0),
  );
  const wantWider = benGrahamImage(disc(28, 28, 14), { sigmaFraction: 0.1 });
  assert(sameBytes(wider, await run(plainTransforms(3, null, false).eval, sample(wantWider), new Rng(0))));
  assert(!sameBytes(wider, native));
});

Deno.test("data augment: under Ben Graham a rotation fills the corners with its grey, not black", async () => {
  const image = disc(20, 20, 10);
  const t = imageTransforms(3, null, { benGraham: true, rotation: 45, hflip: false }).train;
  const out = await run(t, sample(image), Rng.derive(0, 0, 3));
  const grey = (128 / 255 - 0.5) / 0.5;
  for (let c = 0; c < 3; c++) {
    assert(Math.abs(out.data[c * 400] - grey) < 1e-6, `corner of channel ${c}: ${out.data[c * 400]}`);
  }
  const plain = await run(
    imageTransforms(3, null, { rotation: 45, hflip: false }).train,
    sample(image),
    Rng.derive(0, 0, 3),
  );
  assertEquals(plain.data[0], -1); // black
});

skippableTest({
  name:
    "data augment: Ben Graham at 28 px (RetinaMNIST): Graham's σ = r/30 leaves nearly flat images; σ = 0.1·r keeps contrast",
  skip: needsSharedData(sharedDataPath("medmnist/retinamnist.npz")),
  fn: async () => {
    const path = sharedDataPath("medmnist/retinamnist.npz")!;
    const data = await openImageData({ ...DATA_DEFAULTS, dataset: "medmnist", path, benGraham: true }, 0);
    assert(data.description.includes("Ben Graham"), data.description);
    const ds = await MedMnist.open(path, { split: "train" });
    const spread = (img: Raster) => {
      let s = 0, q = 0, n = 0;
      for (let y = 4; y < 24; y++) {
        for (let x = 4; x < 24; x++) {
          for (let c = 0; c < 3; c++) {
            const v = img.data[(y * 28 + x) * 3 + c];
            s += v;
            q += v * v;
            n++;
          }
        }
      }
      return Math.sqrt(q / n - (s / n) ** 2);
    };
    let graham = 0, wider = 0, raw = 0;
    const n = 40;
    for (let i = 0; i < n; i++) {
      const img = (await ds.get(i)).image as Raster;
      const r = estimateFundusRadius(img);
      assert(r >= 12 && r <= 14, `image ${i}: radius ${r} (the fundus fills the 28 px image)`);
      raw += spread(img) / n;
      graham += spread(benGrahamImage(img)) / n;
      wider += spread(benGrahamImage(img, { sigmaFraction: 0.1 })) / n;
      // The loader's path is the same computation.
      const x = await run(data.evalTransform, await data.train.get(i), new Rng(0));
      const y = await run(plainTransforms(3, null, false).eval, sample(benGrahamImage(img)), new Rng(0));
      assert(sameBytes(x, y), `image ${i}`);
    }
    // Measured: raw ≈ 49 levels, σ = r/30 (≈ 0.46 px) ≈ 5, σ = 0.1·r (≈ 1.4 px) ≈ 25.
    assert(graham < 10, `σ = r/30: spread ${graham.toFixed(1)} levels`);
    assert(wider > 15 && wider < raw, `σ = 0.1·r: spread ${wider.toFixed(1)} levels (raw ${raw.toFixed(1)})`);
  },
});

Deno.test("data augment: config bounds refuse bad values, naming the key", () => {
  const cases: [string[], string][] = [
    [["--data.rotation", "200"], "data.rotation: expected a number <= 180, got 200"],
    [["--data.rotation", "-5"], "data.rotation: expected a number >= 0, got -5"],
    [["--data.colorJitter", "1.5"], "data.colorJitter: expected a number <= 1, got 1.5"],
    [["--data.colorJitter", "-0.1"], "data.colorJitter: expected a number >= 0, got -0.1"],
    [["--data.sharpness", "-1"], "data.sharpness: expected a number >= 0, got -1"],
    [["--data.sharpness", "11"], "data.sharpness: expected a number <= 10, got 11"],
    [["--data.benGrahamSigma", "0"], "data.benGrahamSigma: expected a number > 0, got 0"],
    [["--data.benGrahamSigma", "2"], "data.benGrahamSigma: expected a number <= 1, got 2"],
    [["--data.normalize", "zscore"], 'data.normalize: expected one of "half", "imagenet", got "zscore"'],
    [["--data.vflip=maybe"], "data.vflip: "],
    [["--data.benGraham=3"], "data.benGraham: "],
  ];
  for (const schema of [classifierSchema, ddpmSchema] as ConfigSchema<{ data: DataConfig }>[]) {
    for (const [argv, want] of cases) {
      const e = assertThrows(() => resolveConfig(schema, { overrides: argv }), ConfigError) as ConfigError;
      assertEquals(e.problems.length, 1, e.problems.join("\n"));
      assert(e.problems[0].startsWith(want), `${argv.join(" ")}: ${e.problems[0]}`);
    }
    const { config } = resolveConfig(schema, {
      overrides: ["--data.rotation=30", "--data.colorJitter=0.2", "--data.sharpness=2", "--data.vflip=true"],
      yaml: "data:\n  benGraham: true\n  benGrahamSigma: 0.1\n  normalize: imagenet\n",
    });
    const d = config.data;
    assertEquals([d.rotation, d.colorJitter, d.sharpness, d.vflip], [30, 0.2, 2, true]);
    assertEquals([d.benGraham, d.benGrahamSigma, d.normalize], [true, 0.1, "imagenet"]);
  }
  // Programmatic callers of imageTransforms get the same checks.
  assertThrows(() => imageTransforms(3, null, { rotation: 270 }), ConfigError, "data.rotation");
  assertThrows(() => imageTransforms(3, null, { colorJitter: Number.NaN }), ConfigError, "data.colorJitter");
  assertThrows(() => imageTransforms(3, null, { sharpness: -2 }), ConfigError, "data.sharpness");
  assertThrows(
    () => imageTransforms(3, null, { benGraham: true, benGrahamSigma: 0 }),
    ConfigError,
    "data.benGrahamSigma",
  );
  assertThrows(() => imageTransforms(2, null, { normalize: "imagenet" }), ConfigError, "1- or 3-channel");
  assertThrows(() => imageTransforms(3, null, { normalize: "zscore" }), ConfigError, "data.normalize");
});
