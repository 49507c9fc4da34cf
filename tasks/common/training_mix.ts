/**
 * The training split as an experiment asks for it: a stratified share of the real images
 * (`data.fraction`, for low-data runs) and generated images beside them (`data.syntheticPath`,
 * `data.syntheticRatio`), or generated images alone (`data.syntheticOnly`: the classification
 * accuracy score's classifier). Only the training split changes: validation and test stay real, always.
 * @module
 */
import { ConcatDataset } from "../../datasets/concat.ts";
import { ImageFolder } from "../../datasets/image_folder.ts";
import { stratifiedSplit } from "../../datasets/split.ts";
import { Subset } from "../../datasets/subset.ts";
import type { Dataset, Sample } from "../../datasets/types.ts";
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
  shape: { channels: number; imageSize: number },
  d: TrainingMixConfig,
  seed: number,
): Promise<TrainingMix> {
  if (d.syntheticOnly) {
    if (d.syntheticPath === null) throw new ConfigError(["data.syntheticOnly needs data.syntheticPath"]);
    const folder = await openGeneratedFolder(d.syntheticPath, classes, shape);
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
    const folder = await openGeneratedFolder(d.syntheticPath, classes, shape);
    const wanted = Math.round(d.syntheticRatio * real.length);
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
