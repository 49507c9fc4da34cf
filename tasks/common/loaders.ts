/**
 * The loaders every image task builds from its opened data: a shuffled (or class-balanced)
 * training loader with the training transform, and evaluation loaders with the evaluation one.
 * @module
 */
import { DataLoader } from "../../datasets/loader.ts";
import { classBalancedWeights, WeightedRandomSampler } from "../../datasets/sampler.ts";
import type { ImageData } from "./data.ts";

/** The loader settings a task's configuration gives. */
export interface LoaderSettings {
  /** Samples per batch. */
  batchSize: number;
  /** Seed of the shuffling and the augmentation. */
  seed: number;
  /** Keep decoded samples in memory. */
  cache: boolean;
  /** Samples prepared at once. */
  concurrency: number;
}

/** The training loader: shuffled, or drawn class-balanced (inverse-frequency sampler) when `balanced`. */
export async function trainingLoader(data: ImageData, s: LoaderSettings, balanced: boolean): Promise<DataLoader> {
  let sampler: WeightedRandomSampler | undefined;
  if (balanced) {
    const labels = await data.train.labels?.();
    if (!labels) throw new Error("class-balanced sampling needs the training set's labels, which it does not expose");
    sampler = new WeightedRandomSampler(classBalancedWeights(labels), data.train.length, { seed: s.seed });
  }
  return new DataLoader(data.train, {
    batchSize: s.batchSize,
    ...(sampler ? { sampler } : { shuffle: true }),
    dropLast: data.train.length > s.batchSize,
    seed: s.seed,
    transform: data.trainTransform,
    cache: s.cache,
    concurrency: s.concurrency,
  });
}

/** A loader over a split with the evaluation transform (in order, no augmentation). */
export function evaluationLoader(data: ImageData, s: LoaderSettings, set: "train" | "val" | "test"): DataLoader {
  const ds = set === "test" ? data.test : data[set];
  if (!ds) throw new Error(`the data has no ${set} split`);
  return new DataLoader(ds, {
    batchSize: s.batchSize,
    seed: s.seed,
    transform: data.evalTransform,
    cache: s.cache,
    concurrency: s.concurrency,
  });
}

/** The loader settings of a task configuration with `seed`, `data.cache` and `train.{batchSize, concurrency}`. */
export function loaderSettings(
  cfg: { seed: number; data: { cache: boolean }; train: { batchSize: number; concurrency: number } },
): LoaderSettings {
  return { batchSize: cfg.train.batchSize, seed: cfg.seed, cache: cfg.data.cache, concurrency: cfg.train.concurrency };
}
