/**
 * The feature network of the generation metrics: a classifier run (`deno task train-classifier`)
 * trained on the real training split, read at its penultimate layer (`embed`), or Inception-v3
 * with weights the user brings (the FID port's, as safetensors), read at its 2048-wide pool.
 * Its name goes into every metric ("FD-resnet18-breastmnist"; "FID" only for Inception-v3),
 * since a Fréchet distance means nothing without the network that made the features.
 * @module
 */
import { noGrad } from "../../core/autograd.ts";
import { scope } from "../../core/scope.ts";
import { tensor } from "../../core/ops/creation.ts";
import { add, mul } from "../../core/ops/elementwise.ts";
import { interpolate } from "../../core/ops/interpolate.ts";
import { repeat } from "../../core/ops/join.ts";
import { type InceptionV3, loadInceptionV3 } from "../../models/inception.ts";
import type { Tensor } from "../../core/tensor.ts";
import { loadCheckpoint } from "../../train/checkpoint.ts";
import { ConfigError, loadConfig } from "../../train/config.ts";
import { openRunDir } from "../../train/run_dir.ts";
import { buildClassifier } from "../classify/model.ts";
import { classifierSchema } from "../classify/config.ts";
import {
  type DataConfig,
  dataNormalization,
  fromUnitRange,
  type ImageData,
  type Normalization,
  openImageData,
  toUnitRange,
} from "../common/data.ts";
import { evaluationCheckpoint } from "../common/evaluation.ts";
import { evaluationLoader, type LoaderSettings, loaderSettings } from "../common/loaders.ts";

/** Feature rows [N, D] of a batch of images normalised as the feature network's data. */
export interface Embedder {
  embed(images: Tensor): Tensor;
  dispose(): void;
}

/** A feature extractor with the real data it is measured on. */
export interface FeatureNetwork {
  /** `<arch>-<dataset>` (e.g. `resnet18-breastmnist`) or `inception-v3`. */
  name: string;
  /** What the metrics are called in this feature space: `FD-<name>`/`KD-<name>`, or FID/KID. */
  metricNames: { fd: string; kd: string };
  /** The layer read, for the report. */
  layer: string;
  /** The run folder and checkpoint (or the weights file) the network came from. */
  run: string;
  checkpoint: string;
  /** The real data (its splits are the real sets) and its normalisation. */
  data: ImageData;
  normalization: Normalization;
  settings: LoaderSettings;
  embedder: Embedder;
}

/** Images, their [0, 1] pixels and features, and labels, as flat row-major arrays. */
export interface FeatureSet {
  /** Feature rows (`n × d`). */
  features: Float32Array;
  /** Pixel rows in [0, 1] (`n × p`, CHW order). */
  pixels: Float32Array;
  labels: Int32Array;
  n: number;
  d: number;
  p: number;
}

function datasetName(d: { path: string | null; dataset: string }): string {
  if (!d.path) return d.dataset;
  const base = d.path.replace(/[\\/]+$/, "").split(/[\\/]/).pop() ?? d.dataset;
  return base.replace(/\.[A-Za-z0-9]+$/, "");
}

/** Opens the classifier run at `path` with its best checkpoint, in eval mode. */
export async function openFeatureNetwork(path: string): Promise<FeatureNetwork> {
  const run = await openRunDir(path);
  let cfg;
  try {
    cfg = (await loadConfig(classifierSchema, { file: run.configPath })).config;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    throw new ConfigError([
      `--features ${path} must be a classifier run (deno task train-classifier); its config.yaml is not one: ` +
      e.message,
    ]);
  }
  const data = await openImageData(cfg.data, cfg.seed);
  const checkpoint = await evaluationCheckpoint(run, "best");
  const classifier = buildClassifier(cfg, data.channels, data.imageSize, data.classes.length, data.spatialDims);
  await loadCheckpoint(checkpoint, { model: classifier, restoreRng: false });
  classifier.eval();
  const name = `${cfg.model.arch}-${datasetName(cfg.data)}`;
  return {
    name,
    metricNames: { fd: `FD-${name}`, kd: `KD-${name}` },
    layer: "penultimate (embed)",
    run: run.path,
    checkpoint,
    data,
    normalization: dataNormalization(cfg.data, data.channels),
    settings: { ...loaderSettings(cfg), batchSize: 64 },
    embedder: classifier,
  };
}

/**
 * Inception-v3's pool3 features of images normalised with `normalization` (`channels` 1 or 3),
 * through pytorch-fid's input path: back to [0, 1], grey repeated to RGB, bilinear resize to
 * 299×299, scaled to [−1, 1]. Disposing it disposes the model.
 */
export function inceptionEmbedder(model: InceptionV3, normalization: Normalization, channels: number): Embedder {
  const C = channels;
  const std = tensor(Float32Array.from(normalization.std), [1, C, 1, 1]);
  const mean = tensor(Float32Array.from(normalization.mean), [1, C, 1, 1]);
  return {
    embed(images: Tensor): Tensor {
      let x = add(mul(images, std), mean);
      if (C === 1) x = repeat(x, [1, 3, 1, 1]);
      x = interpolate(x, { size: 299, mode: "bilinear", alignCorners: false });
      return model.forwardFeatures(add(mul(x, 2), -1));
    },
    dispose() {
      model.dispose();
      std.dispose();
      mean.dispose();
    },
  };
}

/**
 * Inception-v3 with the weights at `path` (safetensors, torchvision names: pytorch-fid's FID
 * weights), measuring the diffusion run's own data (`cfg`, its config) through
 * {@linkcode inceptionEmbedder}. Then, and only then, the metrics are FID and KID.
 */
export async function openInceptionNetwork(
  path: string,
  cfg: { seed: number; data: DataConfig; train: { batchSize: number; concurrency: number } },
): Promise<FeatureNetwork> {
  const data = await openImageData(cfg.data, cfg.seed);
  const normalization = dataNormalization(cfg.data, data.channels);
  const embedder = inceptionEmbedder(await loadInceptionV3(path), normalization, data.channels);
  return {
    name: "inception-v3",
    metricNames: { fd: "FID", kd: "KID" },
    layer: "pool3 (2048, 299×299 input)",
    run: path,
    checkpoint: path,
    data,
    normalization,
    settings: { ...loaderSettings(cfg), batchSize: 16 },
    embedder,
  };
}

/** Features of a batch of images already normalised as the classifier's data. */
async function embed(net: FeatureNetwork, images: Tensor): Promise<Float32Array> {
  const f = scope(() => noGrad(() => net.embedder.embed(images)));
  try {
    return await f.data() as Float32Array;
  } finally {
    f.dispose();
  }
}

/** Concatenates per-batch parts into one set. */
function collect(
  parts: { f: Float32Array; x: Float32Array; y: ArrayLike<number> }[],
  d: number,
  p: number,
): FeatureSet {
  const n = parts.reduce((s, q) => s + q.y.length, 0);
  const features = new Float32Array(n * d), pixels = new Float32Array(n * p), labels = new Int32Array(n);
  let at = 0;
  for (const q of parts) {
    features.set(q.f, at * d);
    pixels.set(q.x, at * p);
    labels.set(q.y, at);
    at += q.y.length;
  }
  return { features, pixels, labels, n, d, p };
}

/** The real images of a split: features, [0, 1] pixels and labels. */
export async function realSet(net: FeatureNetwork, split: "train" | "test"): Promise<FeatureSet> {
  const parts: { f: Float32Array; x: Float32Array; y: Int32Array }[] = [];
  let d = 0, p = 0;
  for await (const batch of evaluationLoader(net.data, net.settings, split).iterate(0)) {
    try {
      const f = await embed(net, batch.images);
      const [n, c, h, w] = batch.images.shape;
      const x = toUnitRange(await batch.images.data() as Float32Array, net.normalization, h * w);
      p = c * h * w;
      d = f.length / n;
      parts.push({ f, x, y: Int32Array.from(await batch.labels.data() as Int32Array) });
    } finally {
      batch.dispose();
    }
  }
  return collect(parts, d, p);
}

/**
 * Generated images (CHW float32 data in [0, 1], `n` of them with `labels`) as a feature set:
 * normalised as the classifier's data and embedded in batches.
 */
export async function imageSet(
  net: FeatureNetwork,
  pixels: Float32Array,
  labels: Int32Array,
  shape: readonly [number, number, number],
): Promise<FeatureSet> {
  const [c, h, w] = shape, p = c * h * w, n = labels.length;
  const parts: { f: Float32Array; x: Float32Array; y: Int32Array }[] = [];
  let d = 0;
  for (let s = 0; s < n; s += net.settings.batchSize) {
    const m = Math.min(net.settings.batchSize, n - s);
    const x = pixels.slice(s * p, (s + m) * p);
    const t = tensor(fromUnitRange(x, net.normalization, h * w), [m, c, h, w]);
    try {
      const f = await embed(net, t);
      d = f.length / m;
      parts.push({ f, x, y: labels.slice(s, s + m) });
    } finally {
      t.dispose();
    }
  }
  return collect(parts, d, p);
}
