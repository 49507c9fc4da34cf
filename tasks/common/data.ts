/**
 * The `data` section every training task shares, and opening it: the embedded procedural set,
 * a MedMNIST `.npz` (its own train/val/test splits), an image folder (its `train/`, `val/` and
 * `test/` folders, or a stratified split) or a CSV-labelled image folder (APTOS-style). Images
 * become CHW float32 normalised to [−1, 1] (mean 0.5, std 0.5 per channel, as MedMNIST's
 * reference training does); training adds horizontal flips when `data.hflip`.
 * @module
 */
import { CsvImageDataset } from "../../datasets/csv_dataset.ts";
import { ImageFolder } from "../../datasets/image_folder.ts";
import type { LabelCheck } from "../../datasets/labels.ts";
import { MedMnist } from "../../datasets/medmnist.ts";
import { ProceduralDataset } from "../../datasets/procedural.ts";
import { stratifiedSplit } from "../../datasets/split.ts";
import { Subset } from "../../datasets/subset.ts";
import { compose, type TransformChain } from "../../datasets/transforms/compose.ts";
import { centerCrop, randomHorizontalFlip, resize } from "../../datasets/transforms/geometric.ts";
import { normalize, toTensor } from "../../datasets/transforms/normalize.ts";
import type { Dataset, Sample, Transform } from "../../datasets/types.ts";
import type { KeyMeta } from "../../train/config.ts";
import { ConfigError } from "../../train/config.ts";
import { joinPath } from "../../util/path.ts";

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
  cache: true,
  labelCheck: "error",
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
  /** Image side in pixels. */
  imageSize: number;
  /** Training transform (augmentation, to CHW, to [−1, 1]). */
  trainTransform: Transform<Sample, Sample>;
  /** Evaluation transform (to CHW, to [−1, 1]). */
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
async function checkedPath(key: string, path: string | null, kind: "file" | "folder", why: string): Promise<string> {
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

/** Training and evaluation transforms: [resize + centre crop], [h-flip], to CHW, to [−1, 1]. */
export function imageTransforms(
  channels: number,
  resizeTo: number | null,
  hflip: boolean,
): { train: Transform<Sample, Sample>; eval: Transform<Sample, Sample> } {
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

const counts = (train: Dataset<Sample>, val: Dataset<Sample>, test: Dataset<Sample> | null): string =>
  `${train.length} train / ${val.length} val${test ? ` / ${test.length} test` : ""}`;

/** Opens the configured data; errors (missing path, wrong kind of file) come before any training. */
export async function openImageData(d: DataConfig, seed: number): Promise<ImageData> {
  const made: { split: MadeSplit } = { split: null };
  if (d.dataset === "procedural") {
    const opts = { size: d.imageSize, channels: d.channels as 1 | 3, numClasses: d.numClasses };
    const all = new ProceduralDataset({ ...opts, length: d.length, seed });
    const [train, val] = splitByLabels(all, all.labels(), d, seed, made);
    // A test set drawn with another seed: new images of the same classes.
    const test = new ProceduralDataset({ ...opts, length: Math.max(64, Math.round(d.length / 4)), seed: seed + 7919 });
    const t = imageTransforms(d.channels, null, d.hflip);
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
        counts(train, val, test),
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
    if (train.is3d) throw new ConfigError([`data.path ${path} holds 3D volumes; this task needs a 2D MedMNIST set`]);
    const [h, w, c] = train.sampleShape;
    if (h !== w) throw new ConfigError([`data.path ${path}: images are ${h}×${w}; square images are needed`]);
    const t = imageTransforms(c, null, d.hflip);
    return {
      train,
      val,
      test,
      classes: [...train.classes],
      channels: c,
      imageSize: h,
      trainTransform: t.train,
      evalTransform: t.eval,
      description: `MedMNIST ${path}: ${h}×${w}×${c}, ${train.classes.length} classes, ${counts(train, val, test)}`,
      split: null,
    };
  }
  const channels = d.channels as 1 | 3;
  const t = imageTransforms(channels, d.imageSize, d.hflip);
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
    description: `${source}: resized to ${d.imageSize}², ${classes.length} classes, ${counts(train, val, test)}`,
    split: made.split,
  };
}
