/**
 * The shapes data takes on its way from a file to a batch: readers yield {@linkcode Sample}s,
 * transforms map samples to samples, the loader collates {@linkcode ArrayImage}s into tensors.
 * @module
 */
import type { Rng } from "../util/rng.ts";

export type { Raster } from "../util/raster.ts";
import type { Raster } from "../util/raster.ts";

/** A dense row-major float array with its shape: CHW for images, CDHW (or DHW) for volumes. */
export interface ArrayImage {
  /** Values, row-major over `shape`. */
  data: Float32Array;
  /** Dimensions, outermost first. */
  shape: number[];
}

/** One example: an image, its class index and where it came from. */
export interface Sample<I = Raster | ArrayImage> {
  /** The image (a raster straight from a decoder, or an array after `toTensor`/3D readers). */
  image: I;
  /** Class index in `[0, numClasses)`; for multi-label data, the first positive label or -1. */
  label: number;
  /** Multi-label targets (0/1 per label column), when the dataset has them. */
  labels?: number[];
  /** A stable identifier (file name, CSV id, or `split:index`). */
  id: string;
  /** Reader-specific facts (source path, original size, NIfTI affine, DICOM tags, ...). */
  meta: Record<string, unknown>;
}

/** A random-access collection of samples. `get` may decode lazily and is safe to call concurrently. */
export interface Dataset<S = Sample> {
  /** Number of samples. */
  readonly length: number;
  /** The sample at `index` (0 ≤ index < length). */
  get(index: number): Promise<S>;
  /** Class names by index, when the dataset is a classification set. */
  readonly classes?: readonly string[];
  /** Class index of every sample without decoding images (for stratified splits and balanced sampling). */
  labels?(): Promise<Int32Array> | Int32Array;
}

/** A composable, seeded sample transform: the same `rng` state gives the same output. */
export type Transform<A = Sample, B = Sample> = (sample: A, rng: Rng) => B | Promise<B>;

/** What a reader does with a bad file: stop with an error (default) or skip it and count it. */
export type OnError = "throw" | "skip";

/** The files a reader skipped under `onError: "skip"`, each with the reason. */
export interface SkipReport {
  /** Skipped entries: file (or id) and the problem found. */
  skipped: { file: string; reason: string }[];
}

export { DatasetError, SizeLimitError } from "../util/errors.ts";
