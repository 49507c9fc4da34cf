/**
 * The training split as an experiment asks for it: a stratified share of the real images
 * (`data.fraction`, for low-data runs) and generated images beside them (`data.syntheticPath`,
 * `data.syntheticRatio`), or generated images alone (`data.syntheticOnly`: the classification
 * accuracy score's classifier). Only the training split changes: validation and test stay real, always.
 *
 * `data.syntheticPath` is an image folder (class sub-folders, as `deno task sample --images`
 * writes), a folder of NIfTI volumes per class (`sample-3d`), or a DDPM run: then its samples,
 * as many per class as the run asks for, come from `<run>/synthetic/per-class-<n>`, which the
 * training command fills once (a {@linkcode SyntheticSource}) and every later run reuses.
 * @module
 */
import { ConcatDataset } from "../../datasets/concat.ts";
import { ImageFolder } from "../../datasets/image_folder.ts";
import { stratifiedSplit } from "../../datasets/split.ts";
import { MappedDataset, Subset } from "../../datasets/subset.ts";
import { NiftiDataset } from "../../datasets/volume_dataset.ts";
import { joinPath } from "../../util/path.ts";
import { isDirectory, isFile } from "../../util/io.ts";
import type { ArrayImage, Dataset, Sample } from "../../datasets/types.ts";
import { ConfigError } from "../../train/config.ts";
import { Rng } from "../../util/rng.ts";
import { classFolderName } from "../lib/image_grid.ts";

/** What the mix applies: the keys of the `data` section. */
export interface TrainingMixConfig {
  fraction: number;
  /** Seed of the fraction's draw; null: the run's seed. */
  fractionSeed: number | null;
  syntheticPath: string | null;
  syntheticRatio: number;
  syntheticOnly: boolean;
}

/**
 * Makes (or finds) `perClass` samples per class of the DDPM run at `run` and returns the image
 * folder holding them ({@linkcode syntheticCacheFolder}).
 */
export type SyntheticSource = (run: string, perClass: number) => Promise<string>;

/** Where a DDPM run's samples for classifier training are kept: `<run>/synthetic/per-class-<n>`. */
export function syntheticCacheFolder(run: string, perClass: number): string {
  return joinPath(run, "synthetic", `per-class-${perClass}`);
}

/** Whether `path` is a run folder (a config and a checkpoints folder) rather than a folder of images. */
async function isRunFolder(path: string): Promise<boolean> {
  return await isFile(joinPath(path, "config.yaml")) && await isDirectory(joinPath(path, "checkpoints"));
}

/** The source when none can sample: a run's samples must already be there. */
const existingSamples: SyntheticSource = async (run, perClass) => {
  const folder = syntheticCacheFolder(run, perClass);
  if (await isDirectory(folder)) return folder;
  throw new ConfigError([
    `data.syntheticPath ${run} is a run with no ${perClass} samples per class in ${folder}: train-classifier ` +
    `makes them, or run deno task sample --run ${run} --per-class ${perClass} --images ${folder}`,
  ]);
};

/** The mixed training split and a phrase for the data's description ("" when nothing changed). */
export interface TrainingMix {
  train: Dataset<Sample>;
  /** Real training images kept and synthetic images added. */
  real: number;
  synthetic: number;
  summary: string;
}

/**
 * Applies `data.fraction` then `data.syntheticPath`/`data.syntheticRatio` to `train` (a split
 * with labels and `classes`); images of size `imageSize` and `channels` channels.
 */
export async function mixTraining(
  train: Dataset<Sample>,
  classes: readonly string[],
  shape: { channels: number; imageSize: number; spatialDims?: 2 | 3 },
  d: TrainingMixConfig,
  seed: number,
  source: SyntheticSource = existingSamples,
): Promise<TrainingMix> {
  // A DDPM run gives `perClass` samples per class; a folder is read as it is.
  const openGenerated = async (path: string, perClass: number) => {
    const folder = shape.spatialDims !== 3 && await isRunFolder(path) ? await source(path, perClass) : path;
    return shape.spatialDims === 3
      ? openGeneratedVolumes(folder, classes, shape.imageSize)
      : openGeneratedFolder(folder, classes, shape);
  };
  if (d.syntheticOnly) {
    if (d.syntheticPath === null) throw new ConfigError(["data.syntheticOnly needs data.syntheticPath"]);
    // From a run: as many images as the real training share has.
    const folder = await openGenerated(d.syntheticPath, Math.ceil(train.length * d.fraction / classes.length));
    return {
      train: folder,
      real: 0,
      synthetic: folder.length,
      summary: `${folder.length} synthetic images from ${d.syntheticPath} only (data.syntheticOnly)`,
    };
  }
  let real: Dataset<Sample> = train;
  const parts: string[] = [];
  if (d.fraction < 1) {
    const labels = await train.labels?.();
    if (!labels) throw new ConfigError(["data.fraction needs a training split with labels"]);
    // The stratified "validation" share of a split with valFraction 1 − fraction is what is left out.
    const keep =
      stratifiedSplit(labels, { valFraction: 1 - d.fraction, seed: (d.fractionSeed ?? seed) + 104_729 }).train;
    if (keep.length === 0) {
      throw new ConfigError([`data.fraction ${d.fraction} keeps no training image of ${train.length}`]);
    }
    real = new Subset(train, keep);
    parts.push(
      `${real.length} of ${train.length} real training images (data.fraction ${d.fraction}${
        d.fractionSeed === null ? "" : `, data.fractionSeed ${d.fractionSeed}`
      })`,
    );
  }
  let synthetic = 0;
  let out = real;
  if (d.syntheticPath !== null && d.syntheticRatio > 0) {
    const wanted = Math.round(d.syntheticRatio * real.length);
    const folder = await openGenerated(d.syntheticPath, Math.ceil(wanted / classes.length));
    if (wanted > folder.length) {
      throw new ConfigError([
        `data.syntheticRatio ${d.syntheticRatio} asks for ${wanted} synthetic images (× ${real.length} real), ` +
        `data.syntheticPath ${d.syntheticPath} holds ${folder.length}`,
      ]);
    }
    const pick = new Rng(seed + 130_363).permutation(folder.length).subarray(0, wanted);
    synthetic = wanted;
    out = new ConcatDataset([real, new Subset(folder, pick.slice().sort())]);
    parts.push(`+ ${wanted} synthetic from ${d.syntheticPath} (ratio ${d.syntheticRatio})`);
  }
  return { train: out, real: real.length, synthetic, summary: parts.join(" ") };
}

/**
 * A generated image folder (class sub-folders, as `deno task sample --images` writes), its folders
 * mapped to the data's classes; errors name `what` (the key or flag that gave the path).
 */
export async function openGeneratedFolder(
  path: string,
  classes: readonly string[],
  shape: { channels: number; imageSize: number },
  what = "data.syntheticPath",
): Promise<ImageFolder> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch {
    throw new ConfigError([`${what} ${path} does not exist (expected an image folder)`]);
  }
  if (!stat.isDirectory) throw new ConfigError([`${what} ${path} is not a folder`]);
  try {
    return await ImageFolder.open(path, {
      classes: classes.map(classFolderName),
      channels: shape.channels as 1 | 3,
      expectSize: { width: shape.imageSize, height: shape.imageSize },
      validate: "header",
    });
  } catch (e) {
    throw new ConfigError([
      `${what} ${path}: ${e instanceof Error ? e.message : e} (expected class folders ` +
      `${classes.map(classFolderName).join(", ")} of ${shape.imageSize}×${shape.imageSize} images)`,
    ]);
  }
}

/**
 * Generated volumes (class folders of NIfTI files, as `deno task sample-3d` writes them) as
 * `[1, S, S, S]` samples clamped to [0, 1] (the MedMNIST 3D scale), labelled by their folder;
 * errors name `what` (the key or flag that gave the path).
 */
export async function openGeneratedVolumes(
  path: string,
  classes: readonly string[],
  side: number,
  what = "data.syntheticPath",
): Promise<Dataset<Sample>> {
  const parts: Dataset<Sample>[] = [];
  for (const [k, name] of classes.entries()) {
    const dir = joinPath(path, classFolderName(name));
    const hasVolumes = (() => {
      try {
        return [...Deno.readDirSync(dir)].some((e) => e.isFile && /\.nii(\.gz)?$/.test(e.name));
      } catch {
        return false; // a class without generated volumes
      }
    })();
    if (!hasVolumes) continue;
    const volumes = await NiftiDataset.open({ dir });
    parts.push({
      length: volumes.length,
      classes,
      labels: () => new Int32Array(volumes.length).fill(k),
      get: async (i) => ({
        ...(await volumes.get(i)),
        label: k,
        id: `${classFolderName(name)}/${volumes.entries[i].id}`,
      }),
    });
  }
  if (parts.length === 0) {
    throw new ConfigError([
      `${what} ${path}: no NIfTI volume in class folders ${classes.map(classFolderName).join(", ")}`,
    ]);
  }
  const base = new ConcatDataset(parts);
  return new MappedDataset(base, (sample: Sample) => {
    const v = sample.image as ArrayImage;
    if (v.shape.length !== 4 || v.shape.slice(1).some((s) => s !== side)) {
      throw new ConfigError([
        `${what} ${path}/${sample.id}: [${v.shape}], the real volumes are [1, ${side}, ${side}, ${side}]`,
      ]);
    }
    return { ...sample, image: { data: v.data.map((x) => Math.min(1, Math.max(0, x))), shape: v.shape } };
  });
}
