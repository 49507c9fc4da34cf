/**
 * The `data` section every training task shares, and opening it: the embedded procedural set,
 * a MedMNIST `.npz` (its own train/val/test splits), an image folder (its `train/`, `val/` and
 * `test/` folders, or a stratified split) or a CSV-labelled image folder (APTOS-style). Images
 * become CHW float32, normalised by `data.normalize`: `"half"` (default) maps [0, 1] to [−1, 1]
 * (mean 0.5, std 0.5 per channel, as MedMNIST's reference training does), `"imagenet"` uses the
 * ImageNet mean/std. Every split may first get Ben Graham's fundus preprocessing
 * (`data.benGraham`); training adds the augmentations the section turns on (rotation, flips,
 * colour jitter, sharpness), all off by default except the horizontal flip (`data.hflip`).
 * {@linkcode dataNormalization} gives the mean/std to map tensors back to [0, 1].
 * @module
 */
import { CsvImageDataset } from "../../datasets/csv_dataset.ts";
import { ImageFolder } from "../../datasets/image_folder.ts";
import type { LabelCheck } from "../../datasets/labels.ts";
import { VolumeSlices } from "../../datasets/volume_slices.ts";
import { randomFlipVolume } from "../../datasets/transforms/volume.ts";
import { MedMnist } from "../../datasets/medmnist.ts";
import { ProceduralDataset } from "../../datasets/procedural.ts";
import { stratifiedSplit } from "../../datasets/split.ts";
import { Subset } from "../../datasets/subset.ts";
import { compose, type TransformChain } from "../../datasets/transforms/compose.ts";
import { benGraham, benGrahamImage, estimateFundusRadius } from "../../datasets/transforms/ben_graham.ts";
import { colorJitter, randomAdjustSharpness } from "../../datasets/transforms/color.ts";
import {
  centerCrop,
  randomHorizontalFlip,
  randomRotation,
  randomVerticalFlip,
  resize,
} from "../../datasets/transforms/geometric.ts";
import { IMAGENET_MEAN, IMAGENET_STD, normalize, toTensor } from "../../datasets/transforms/normalize.ts";
import type { ArrayImage, Dataset, Raster, Sample, Transform } from "../../datasets/types.ts";
import type { Rng } from "../../util/rng.ts";
import type { KeyMeta } from "../../train/config.ts";
import { ConfigError } from "../../train/config.ts";
import { joinPath } from "../../util/path.ts";
import { mixTraining, type SyntheticSource } from "./training_mix.ts";

/** Defaults of the `data` section (spread into a task's schema). */
export const DATA_DEFAULTS = {
  dataset: "procedural",
  path: null as string | null,
  imageDir: null as string | null,
  testCsv: null as string | null,
  idColumn: "id_code",
  labelColumn: "diagnosis",
  extension: ".png",
  imageSize: 16,
  channels: 3,
  numClasses: 4,
  length: 1024,
  valFraction: 0.1,
  hflip: true,
  vflip: false,
  rotation: 0,
  colorJitter: 0,
  sharpness: 0,
  benGraham: false,
  benGrahamSigma: null as number | null,
  normalize: "half",
  cache: true,
  labelCheck: "error",
  fraction: 1,
  fractionSeed: null as number | null,
  sliceAxis: null as number | null,
  sliceFraction: 0.5,
  syntheticPath: null as string | null,
  syntheticRatio: 1,
  syntheticOnly: false,
};

/** The `data` section's values. */
export type DataConfig = {
  [K in keyof typeof DATA_DEFAULTS]: (typeof DATA_DEFAULTS)[K] extends string ? string
    : (typeof DATA_DEFAULTS)[K] extends number ? number
    : (typeof DATA_DEFAULTS)[K] extends boolean ? boolean
    : (typeof DATA_DEFAULTS)[K];
};

/** The largest `data.imageSize`: one 4096² RGB image is 200 MB as float32, a batch of them tens of GB. */
export const MAX_IMAGE_SIZE = 4096;

/** Constraints and help of the `data` keys (prefixed `data.`). */
export const DATA_META: Record<string, KeyMeta> = {
  "data.dataset": {
    choices: ["procedural", "medmnist", "imagefolder", "csv"],
    help: "procedural (embedded, no download), a MedMNIST .npz, an image folder, or a CSV + image folder",
  },
  "data.path": { type: "string", help: "the .npz (medmnist), the folder root (imagefolder) or the CSV (csv)" },
  "data.imageDir": { type: "string", help: "csv: folder of the images named <id><extension>" },
  "data.testCsv": { type: "string", help: "csv: a CSV of the test images (optional)" },
  "data.imageSize": {
    type: "integer",
    min: 8,
    max: MAX_IMAGE_SIZE,
    help: "image side (procedural; folder/CSV images are resized)",
  },
  "data.channels": { type: "integer", choices: [1, 3] },
  "data.numClasses": { type: "integer", min: 1, max: 100_000, help: "classes of the procedural set or of a CSV" },
  "data.length": { type: "integer", min: 8, max: 10_000_000, help: "samples of the procedural set" },
  "data.valFraction": { min: 0, max: 0.9, help: "stratified validation share where the data has no val split" },
  "data.hflip": { help: "training: mirror left-right with probability 0.5" },
  "data.vflip": { help: "training: mirror top-bottom with probability 0.5" },
  "data.rotation": {
    min: 0,
    max: 180,
    help: "training: rotate by a uniform angle in [-deg, deg] (nearest; black corners, grey under benGraham); 0: off",
  },
  "data.colorJitter": {
    min: 0,
    max: 1,
    help: "training: brightness, contrast and saturation factors uniform in [1-s, 1+s] (hue unchanged); 0: off",
  },
  "data.sharpness": {
    min: 0,
    max: 10,
    help: "training: with probability 0.5 adjust sharpness by this factor (torchvision RandomAdjustSharpness); 0: off",
  },
  "data.benGraham": { help: "Ben Graham's fundus preprocessing (4·(I − blur) + 128, circular mask) on every split" },
  "data.benGrahamSigma": {
    type: "number",
    positive: true,
    max: 1,
    help: "benGraham blur σ as a fraction of the fundus radius (null: Graham's 1/30; about 0.1 for 28 px images)",
  },
  "data.normalize": {
    choices: ["half", "imagenet"],
    help: "half: mean 0.5, std 0.5 (to [-1, 1]); imagenet: ImageNet mean/std (their average for 1 channel)",
  },
  "data.fraction": {
    type: "number",
    positive: true,
    max: 1,
    help: "share of the real training split kept (stratified by class, seeded), for low-data experiments",
  },
  "data.fractionSeed": {
    type: "integer",
    min: 0,
    help: "seed of the data.fraction draw (null: the run's seed); fixed, every seed trains on the same real images",
  },
  "data.sliceAxis": {
    type: "integer",
    min: 0,
    max: 2,
    help:
      "a MedMNIST 3D file as 2-D slices along this axis (0 axial, 1 coronal, 2 sagittal), each with its volume's label",
  },
  "data.sliceFraction": {
    min: 0.01,
    max: 1,
    help: "with data.sliceAxis: the middle share of each volume's slices kept",
  },
  "data.syntheticPath": {
    type: "string",
    help: "training only: generated images added to the real ones — an image folder (deno task sample --images) " +
      "or a DDPM run to sample from (its samples are kept in <run>/synthetic/)",
  },
  "data.syntheticRatio": {
    min: 0,
    max: 100,
    help: "synthetic images per real training image (a seeded draw from data.syntheticPath; 0: none)",
  },
  "data.syntheticOnly": {
    help:
      "train on the data.syntheticPath images alone (validation and test stay real): the classification accuracy score",
  },
  "data.labelCheck": {
    choices: ["error", "warn", "off"],
    help: "medmnist files of an unknown set: labels not contiguous 0..K-1, or a class with one example",
  },
};

/** The opened data of a run. */
export interface ImageData {
  /** Training samples. */
  train: Dataset<Sample>;
  /** Validation samples. */
  val: Dataset<Sample>;
  /** Test samples, where the data has a test split. */
  test: Dataset<Sample> | null;
  /** Class names by index. */
  classes: string[];
  /** Image channels. */
  channels: number;
  /** Image side in pixels (for volumes: the cube's side). */
  imageSize: number;
  /** 2 for images; 3 for volumes ([1, D, H, W] samples: a MedMNIST 3D file without data.sliceAxis). */
  spatialDims?: 2 | 3;
  /** Training transform (preprocessing, augmentation, to CHW, normalised by `data.normalize`). */
  trainTransform: Transform<Sample, Sample>;
  /** Evaluation transform (preprocessing, to CHW, normalised by `data.normalize`). */
  evalTransform: Transform<Sample, Sample>;
  /** One line describing the data, for the log. */
  description: string;
  /** The stratified train/validation split made here (indices into the whole set), when the data had none. */
  split: { train: Int32Array; val: Int32Array; datasetLength: number; valFraction: number; seed: number } | null;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/** A configured path, checked to exist; a ConfigError names the key otherwise. */
export async function checkedPath(
  key: string,
  path: string | null,
  kind: "file" | "folder",
  why: string,
): Promise<string> {
  if (path === null) throw new ConfigError([`${key} must be set ${why}`]);
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch {
    throw new ConfigError([`${key} ${path} does not exist (expected a ${kind})`]);
  }
  if (kind === "file" ? !stat.isFile : !stat.isDirectory) throw new ConfigError([`${key} ${path} is not a ${kind}`]);
  return path;
}

/** The preprocessing and augmentation keys of a `data` section; a key left out takes its default. */
export type AugmentOptions = Partial<
  Pick<
    DataConfig,
    "hflip" | "vflip" | "rotation" | "colorJitter" | "sharpness" | "benGraham" | "benGrahamSigma" | "normalize"
  >
>;

/** Mean and standard deviation per channel that a normalisation subtracts and divides by. */
export interface Normalization {
  /** Per-channel mean (in [0, 1] units). */
  mean: number[];
  /** Per-channel standard deviation. */
  std: number[];
}

const average = (v: readonly number[]): number => v.reduce((a, b) => a + b, 0) / v.length;

/**
 * The per-channel mean/std that `data.normalize` applies to `channels`-channel images, so that a
 * normalised tensor `x` maps back to [0, 1] as `x·std[c] + mean[c]`: `"half"` gives 0.5/0.5 for
 * every channel, `"imagenet"` the ImageNet RGB mean/std (for one channel, the mean of the three
 * means and of the three stds: 0.449 / 0.226). `d` is a `data` section (or just its
 * `normalize`); `channels` defaults to `d.channels` — pass {@linkcode ImageData.channels} for
 * MedMNIST files, whose channel count comes from the file.
 */
export function dataNormalization(
  d: { normalize?: string; channels?: number },
  channels: number = d.channels ?? DATA_DEFAULTS.channels,
): Normalization {
  const kind = d.normalize ?? DATA_DEFAULTS.normalize;
  if (!Number.isInteger(channels) || channels < 1) {
    throw new RangeError(`dataNormalization: channels must be a positive integer, got ${channels}`);
  }
  if (kind === "half") return { mean: new Array(channels).fill(0.5), std: new Array(channels).fill(0.5) };
  if (kind === "imagenet") {
    if (channels === 3) return { mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] };
    if (channels === 1) return { mean: [average(IMAGENET_MEAN)], std: [average(IMAGENET_STD)] };
    throw new ConfigError([`data.normalize "imagenet" needs 1- or 3-channel images, these have ${channels}`]);
  }
  throw new ConfigError([`data.normalize must be "half" or "imagenet", got ${JSON.stringify(kind)}`]);
}

/**
 * CHW images (`data`: any number of them, `plane` pixels per channel) normalised by `n`, mapped
 * back to [0, 1] and clamped there: `x·std[c] + mean[c]`.
 */
export function toUnitRange(data: Float32Array, n: Normalization, plane: number): Float32Array {
  return perChannel(data, n.mean.length, plane, (v, c) => Math.min(1, Math.max(0, v * n.std[c] + n.mean[c])));
}

/** The inverse of {@linkcode toUnitRange}: [0, 1] CHW images normalised by `n`, `(x − mean[c]) / std[c]`. */
export function fromUnitRange(data: Float32Array, n: Normalization, plane: number): Float32Array {
  return perChannel(data, n.mean.length, plane, (v, c) => (v - n.mean[c]) / n.std[c]);
}

function perChannel(data: Float32Array, channels: number, plane: number, f: (v: number, c: number) => number) {
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = f(data[i], Math.floor(i / plane) % channels);
  return out;
}

function checkAugment(a: AugmentOptions): void {
  const bad: string[] = [];
  const num = (key: keyof AugmentOptions, min: number, max: number) => {
    const v = a[key];
    if (v !== undefined && !(typeof v === "number" && v >= min && v <= max)) {
      bad.push(`data.${key} must be a number in [${min}, ${max}], got ${v}`);
    }
  };
  num("rotation", 0, 180);
  num("colorJitter", 0, 1);
  num("sharpness", 0, 10);
  const sigma = a.benGrahamSigma;
  if (sigma !== undefined && sigma !== null && !(typeof sigma === "number" && sigma > 0 && sigma <= 1)) {
    bad.push(`data.benGrahamSigma must be null or a number in (0, 1], got ${sigma}`);
  }
  if (bad.length > 0) throw new ConfigError(bad);
}

/** Width and height of a 2D image (an HWC raster, or a CHW / HW array). */
function sideOf(image: Raster | ArrayImage): { width: number; height: number } {
  if ("shape" in image) {
    const s = image.shape;
    return { width: s[s.length - 1], height: s[s.length - 2] };
  }
  return { width: image.width, height: image.height };
}

/**
 * Ben Graham's preprocessing (datasets/transforms/ben_graham.ts: radius from the middle row,
 * `4·I − 4·G_σ + 128` with σ = `sigmaFraction`·radius, disc of 0.9·radius, grey outside), as the
 * first step of every split. Without `resizeTo` the image keeps its size. With `resizeTo` (folder
 * and CSV data), Graham's own rescaling step is used with the scale the resize that follows would
 * apply (short side → `resizeTo`), so the blur and mask are computed at the training resolution
 * rather than on the full-size photograph (a 1411² fundus takes ~1.2 s at full size, ~60 ms this
 * way); the radius is still estimated on the whole, uncropped image, and the resize that follows
 * is then a no-op. Deterministic: draws nothing from the rng.
 */
function benGrahamStep(resizeTo: number | null, sigmaFraction: number | null): Transform<Sample, Sample> {
  const options = sigmaFraction === null ? {} : { sigmaFraction };
  if (resizeTo === null) return benGraham(options);
  benGraham(options); // checks the options here rather than on the first sample
  return (sample: Sample, _rng: Rng): Sample => {
    const image = sample.image;
    const { width, height } = sideOf(image);
    const short = Math.min(width, height);
    const estimated = estimateFundusRadius(image);
    const radius = estimated > 0 ? estimated : short / 2; // a black middle row: a centred full disc, as benGraham does
    const scaleTo = radius * resizeTo / short;
    return { ...sample, image: benGrahamImage(image, { ...options, radius, scaleTo }) };
  };
}

/** Rotation with the fill matching the background: black, or Graham's grey (128, or 128/255 for float images). */
function rotationStep(degrees: number, grey: boolean): Transform<Sample, Sample> {
  if (!grey) return randomRotation(degrees);
  const onBytes = randomRotation(degrees, { fill: 128 }), onFloats = randomRotation(degrees, { fill: 128 / 255 });
  return (sample: Sample, rng: Rng) => {
    const image = sample?.image as { data?: unknown } | undefined;
    return (image?.data instanceof Uint8Array ? onBytes : onFloats)(sample, rng);
  };
}

/**
 * Training and evaluation transforms of a `data` section.
 *
 * - train: [benGraham] → [resize to `resizeTo` on the short side + centre crop] → [random
 *   rotation] → [h-flip] → [v-flip] → [colour jitter] → [random sharpness] → to CHW → normalise;
 * - eval: [benGraham] → [resize + centre crop] → to CHW → normalise.
 *
 * Steps in brackets are present only when turned on; random ones draw from the rng the loader
 * passes (`Rng.derive(seed, epoch, index)`) in list order — rotation one angle, each flip one
 * number, colour jitter a permutation of 4 then one factor each for brightness, contrast and
 * saturation, sharpness one number — so a resumed run reproduces its batches. With the defaults
 * (h-flip only, `"half"`) the chain is exactly the one used before these keys existed. The
 * third argument may be the old `hflip` boolean.
 */
export function imageTransforms(
  channels: number,
  resizeTo: number | null,
  augment: boolean | AugmentOptions = {},
): { train: Transform<Sample, Sample>; eval: Transform<Sample, Sample> } {
  const a: AugmentOptions = typeof augment === "boolean" ? { hflip: augment } : augment;
  checkAugment(a);
  const { mean, std } = dataNormalization({ normalize: a.normalize }, channels);
  const pre: Transform<Sample, Sample>[] = a.benGraham ? [benGrahamStep(resizeTo, a.benGrahamSigma ?? null)] : [];
  const geometry: Transform<Sample, Sample>[] = resizeTo === null
    ? []
    : [resize({ shortSide: resizeTo }), centerCrop(resizeTo)];
  const augmentation: Transform<Sample, Sample>[] = [];
  const rotation = a.rotation ?? DATA_DEFAULTS.rotation;
  const jitter = a.colorJitter ?? DATA_DEFAULTS.colorJitter;
  const sharpness = a.sharpness ?? DATA_DEFAULTS.sharpness;
  if (rotation > 0) augmentation.push(rotationStep(rotation, a.benGraham === true));
  if (a.hflip ?? DATA_DEFAULTS.hflip) augmentation.push(randomHorizontalFlip(0.5));
  if (a.vflip ?? DATA_DEFAULTS.vflip) augmentation.push(randomVerticalFlip(0.5));
  if (jitter > 0) augmentation.push(colorJitter({ brightness: jitter, contrast: jitter, saturation: jitter }));
  if (sharpness > 0) augmentation.push(randomAdjustSharpness(sharpness, 0.5));
  const tail = [toTensor() as Transform<Sample, Sample>, normalize(mean, std)];
  const chain = (list: Transform<Sample, Sample>[]) => compose(list as unknown as TransformChain<Sample, Sample>);
  return {
    train: chain([...pre, ...geometry, ...augmentation, ...tail]),
    eval: chain([...pre, ...geometry, ...tail]),
  };
}

/** The non-default preprocessing and augmentation of `d`, for the data's log line ("" with the defaults). */
function augmentSummary(d: DataConfig): string {
  const on: string[] = [];
  if (d.benGraham) on.push(`Ben Graham${d.benGrahamSigma === null ? "" : ` (σ = ${d.benGrahamSigma}·r)`}`);
  if (d.rotation > 0) on.push(`rotation ±${d.rotation}°`);
  if (d.vflip) on.push("v-flip");
  if (d.colorJitter > 0) on.push(`colour jitter ${d.colorJitter}`);
  if (d.sharpness > 0) on.push(`sharpness ${d.sharpness} (p 0.5)`);
  if (d.normalize !== DATA_DEFAULTS.normalize) on.push(`${d.normalize} normalisation`);
  return on.length === 0 ? "" : `; ${on.join(", ")}`;
}

/** The split made by the last {@linkcode splitByLabels} call of an `openImageData` (saved with the run). */
type MadeSplit = ImageData["split"];

function splitByLabels(
  all: Dataset<Sample>,
  labels: Int32Array,
  d: DataConfig,
  seed: number,
  made: { split: MadeSplit },
): readonly [Dataset<Sample>, Dataset<Sample>] {
  const { train, val } = stratifiedSplit(labels, { valFraction: d.valFraction, seed });
  made.split = { train, val, datasetLength: all.length, valFraction: d.valFraction, seed };
  return [new Subset(all, train), new Subset(all, val)] as const;
}

/** A MedMNIST 3D file's splits as 2-D slices along `data.sliceAxis`. */
function slicesOf(path: string, splits: MedMnist[], d: DataConfig): ImageData {
  if (d.sliceAxis === null) return volumesOf(path, splits, d);
  const axis = d.sliceAxis as 0 | 1 | 2, shape = splits[0].sampleShape;
  const other = shape.filter((_, i) => i !== axis);
  if (other[0] !== other[1]) {
    throw new ConfigError([`data.sliceAxis ${axis}: slices of ${shape.join("×")} volumes are not square`]);
  }
  const [train, val, test] = splits.map((s) => new VolumeSlices(s, shape, axis, d.sliceFraction));
  const t = imageTransforms(1, null, d);
  return {
    train,
    val,
    test,
    classes: [...splits[0].classes],
    channels: 1,
    imageSize: other[0],
    trainTransform: t.train,
    evalTransform: t.eval,
    description: `MedMNIST ${path}: ${shape.join("×")} volumes as ${other[0]}×${other[1]} slices along axis ${axis} ` +
      `(middle ${d.sliceFraction} of each), ${splits[0].classes.length} classes, ${counts(train, val, test)}` +
      augmentSummary(d),
    split: null,
  };
}

/**
 * A MedMNIST 3D file's splits as volumes (for 3-D classifiers): `data.hflip` flips the W axis
 * with probability 0.5; values are normalised as `data.normalize` says (its 1-channel form).
 */
function volumesOf(path: string, splits: MedMnist[], d: DataConfig): ImageData {
  const shape = splits[0].sampleShape;
  if (shape[0] !== shape[1] || shape[1] !== shape[2]) {
    throw new ConfigError([
      `data.path ${path}: ${shape.join("×")} volumes are not cubes (set data.sliceAxis for slices)`,
    ]);
  }
  const { mean, std } = dataNormalization(d, 1);
  const scale: Transform<Sample, Sample> = (sample) => {
    const v = sample.image as ArrayImage;
    return { ...sample, image: { data: v.data.map((x) => (x - mean[0]) / std[0]), shape: v.shape } };
  };
  const flip = randomFlipVolume({ axes: [2], p: 0.5 });
  const [train, val, test] = splits;
  return {
    train,
    val,
    test,
    classes: [...train.classes],
    channels: 1,
    imageSize: shape[0],
    spatialDims: 3,
    trainTransform: d.hflip ? async (s, rng) => scale(await flip(s, rng), rng) : scale,
    evalTransform: scale,
    description: `MedMNIST ${path}: ${shape.join("×")} volumes, ${train.classes.length} classes, ${
      counts(train, val, test)
    }${d.hflip ? "; W-axis flips" : ""}`,
    split: null,
  };
}

const counts = (train: Dataset<Sample>, val: Dataset<Sample>, test: Dataset<Sample> | null): string =>
  `${train.length} train / ${val.length} val${test ? ` / ${test.length} test` : ""}`;

/**
 * Opens the configured data; errors (missing path, wrong kind of file) come before any training.
 * The training split then takes `data.fraction` and `data.syntheticPath` (validation and test
 * stay real); `source` makes a DDPM run's samples when `data.syntheticPath` is a run (default:
 * they must exist).
 */
export async function openImageData(d: DataConfig, seed: number, source?: SyntheticSource): Promise<ImageData> {
  const data = await openSplits(d, seed);
  const mix = await mixTraining(data.train, data.classes, data, d, seed, source);
  if (mix.summary === "") return data;
  return { ...data, train: mix.train, description: `${data.description}; training: ${mix.summary}` };
}

async function openSplits(d: DataConfig, seed: number): Promise<ImageData> {
  const made: { split: MadeSplit } = { split: null };
  if (d.dataset === "procedural") {
    const opts = { size: d.imageSize, channels: d.channels as 1 | 3, numClasses: d.numClasses };
    const all = new ProceduralDataset({ ...opts, length: d.length, seed });
    const [train, val] = splitByLabels(all, all.labels(), d, seed, made);
    // A test set drawn with another seed: new images of the same classes.
    const test = new ProceduralDataset({ ...opts, length: Math.max(64, Math.round(d.length / 4)), seed: seed + 7919 });
    const t = imageTransforms(d.channels, null, d);
    return {
      train,
      val,
      test,
      classes: [...all.classes],
      channels: d.channels,
      imageSize: d.imageSize,
      trainTransform: t.train,
      evalTransform: t.eval,
      description: `procedural ${d.imageSize}×${d.imageSize}×${d.channels}, ${d.numClasses} classes, ` +
        counts(train, val, test) + augmentSummary(d),
      split: made.split,
    };
  }
  if (d.dataset === "medmnist") {
    const path = await checkedPath("data.path", d.path, "file", 'for data.dataset "medmnist"');
    const [train, val, test] = await Promise.all(
      (["train", "val", "test"] as const).map((split) =>
        MedMnist.open(path, { split, labelCheck: d.labelCheck as LabelCheck })
      ),
    );
    if (train.is3d) return slicesOf(path, [train, val, test], d);
    if (d.sliceAxis !== null) throw new ConfigError([`data.sliceAxis: data.path ${path} holds 2D images, not volumes`]);
    const [h, w, c] = train.sampleShape;
    if (h !== w) throw new ConfigError([`data.path ${path}: images are ${h}×${w}; square images are needed`]);
    const t = imageTransforms(c, null, d);
    return {
      train,
      val,
      test,
      classes: [...train.classes],
      channels: c,
      imageSize: h,
      trainTransform: t.train,
      evalTransform: t.eval,
      description: `MedMNIST ${path}: ${h}×${w}×${c}, ${train.classes.length} classes, ${counts(train, val, test)}` +
        augmentSummary(d),
      split: null,
    };
  }
  const channels = d.channels as 1 | 3;
  const t = imageTransforms(channels, d.imageSize, d);
  let train: Dataset<Sample>, val: Dataset<Sample>, test: Dataset<Sample> | null = null, classes: string[];
  let source: string;
  if (d.dataset === "csv") {
    const csv = await checkedPath("data.path", d.path, "file", 'to the labels CSV for data.dataset "csv"');
    const imageDir = await checkedPath("data.imageDir", d.imageDir, "folder", 'for data.dataset "csv"');
    const common = {
      imageDir,
      idColumn: d.idColumn,
      labelColumn: d.labelColumn,
      extension: d.extension,
      numClasses: d.numClasses,
      channels,
    };
    const all = await CsvImageDataset.open({ csv, ...common });
    classes = all.classes ? [...all.classes] : Array.from({ length: d.numClasses }, (_, i) => String(i));
    [train, val] = splitByLabels(all, all.labels!(), d, seed, made);
    if (d.testCsv !== null) {
      const testCsv = await checkedPath("data.testCsv", d.testCsv, "file", "");
      test = await CsvImageDataset.open({ csv: testCsv, ...common });
    }
    source = `CSV ${csv} (images in ${imageDir})`;
  } else {
    const root = await checkedPath("data.path", d.path, "folder", 'for data.dataset "imagefolder"');
    if (await isDirectory(joinPath(root, "train"))) {
      const tr = await ImageFolder.open(root, { split: "train", channels });
      classes = [...tr.classes];
      if (await isDirectory(joinPath(root, "val"))) {
        train = tr;
        val = await ImageFolder.open(root, { split: "val", channels, classes });
      } else [train, val] = splitByLabels(tr, tr.labels(), d, seed, made);
      if (await isDirectory(joinPath(root, "test"))) {
        test = await ImageFolder.open(root, { split: "test", channels, classes });
      }
    } else {
      const all = await ImageFolder.open(root, { channels });
      classes = [...all.classes];
      [train, val] = splitByLabels(all, all.labels(), d, seed, made);
    }
    source = `image folder ${root}`;
  }
  return {
    train,
    val,
    test,
    classes,
    channels,
    imageSize: d.imageSize,
    trainTransform: t.train,
    evalTransform: t.eval,
    description: `${source}: resized to ${d.imageSize}², ${classes.length} classes, ${counts(train, val, test)}` +
      augmentSummary(d),
    split: made.split,
  };
}
