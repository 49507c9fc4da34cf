/**
 * Reads MedMNIST v2 / MedMNIST+ (Yang et al., Scientific Data 10, 41, 2023): 12 2D and 6 3D
 * biomedical classification sets released as `.npz` files holding `{train,val,test}_images`
 * (uint8) and `{train,val,test}_labels` (uint8, `(N, 1)`, or `(N, 14)` 0/1 for ChestMNIST).
 *
 * {@linkcode MedMnist.open} reads one split of such a file. 2D images come out as uint8 HWC
 * {@linkcode Raster}s (1 or 3 channels, like any decoded image, so the same transforms apply);
 * 3D volumes as float32 {@linkcode ArrayImage}s of shape `[1, D, H, W]` scaled to [0, 1]
 * (value / 255, as the official `medmnist` package returns them). The dataset's name, class
 * names and task come from {@linkcode MEDMNIST_INFO} (`medmnist_info.ts`), looked up from the
 * file name (`<name>.npz`, `<name>_<size>.npz`) unless given; `medmnist_download.ts` fetches
 * and verifies the files.
 *
 * Files are untrusted: members are inflated under the decode limit (`maxDecodedBytes`), and the
 * class count of a file that is not a known MedMNIST set is inferred from its labels only when
 * they are contiguous class indices (see `labels.ts`, `labelCheck`).
 *
 * @example
 * ```ts
 * const train = await MedMnist.open("data/retinamnist.npz", { split: "train" });
 * train.classes; // ["0", "1", "2", "3", "4"]
 * const s = await train.get(0); // { image: Raster 28×28×3, label, id: "train:0", meta }
 * ```
 * @module
 */

import type { NpyArray } from "../util/formats/npy.ts";
import { NpzArchive } from "../util/formats/npz.ts";
import type { DecodeLimitOptions } from "../util/limits.ts";
import { checkLabelCheckOption, inferClassCount, type LabelCheck } from "./labels.ts";
import {
  type ArrayImage,
  type Dataset,
  DatasetError,
  type OnError,
  type Raster,
  type Sample,
  type SkipReport,
} from "./types.ts";
import { MEDMNIST_INFO, type MedMnistInfo, type MedMnistSplit, parseMedMnistFileName } from "./medmnist_info.ts";

/** Options of {@linkcode MedMnist.open} and {@linkcode MedMnist.fromArrays}. */
export interface MedMnistOptions extends DecodeLimitOptions {
  /** Which split to read. */
  split: MedMnistSplit;
  /** The dataset flag (e.g. `"retinamnist"`) when the file name does not say it. */
  name?: string;
  /** Class names by index; default: the dataset's, or `"0"…"k-1"` for an unknown dataset. */
  classes?: readonly string[];
  /** `"throw"` (default): a bad label stops loading; `"skip"`: leave the sample out and list it in `skipReport`. */
  onError?: OnError;
  /**
   * When the classes are inferred from the labels (an unknown dataset without `classes`): labels
   * that are not contiguous 0..K−1 with two or more examples each are an error (`"error"`,
   * default), a console warning (`"warn"`) or accepted (`"off"`).
   */
  labelCheck?: LabelCheck;
}

const SPLITS: readonly MedMnistSplit[] = ["train", "val", "test"];

/**
 * One split of a MedMNIST `.npz` file as a {@linkcode Dataset}. 2D samples are uint8 HWC
 * {@linkcode Raster}s, 3D samples float32 `[1, D, H, W]` {@linkcode ArrayImage}s in [0, 1].
 * Sample ids are `"<split>:<index>"` with the index in the file, so they survive skipped samples.
 */
export class MedMnist implements Dataset<Sample> {
  /** The file read (or the name given to {@linkcode MedMnist.fromArrays}). */
  readonly source: string;
  /** The split read. */
  readonly split: MedMnistSplit;
  /** Facts from {@linkcode MEDMNIST_INFO}, when the dataset is a known one. */
  readonly info: MedMnistInfo | undefined;
  /** Class names by index (label columns for multi-label data). */
  readonly classes: readonly string[];
  /** Whether labels are multi-label 0/1 rows (ChestMNIST); then each sample has `labels`. */
  readonly multiLabel: boolean;
  /** Whether samples are 3D volumes. */
  readonly is3d: boolean;
  /** One sample's stored shape: `[H, W, C]` for 2D, `[D, H, W]` for 3D. */
  readonly sampleShape: readonly number[];
  /** Samples left out under `onError: "skip"`, with the reason. */
  readonly skipReport: SkipReport;
  #images: Uint8Array;
  #labelRows: Int32Array;
  #labelWidth: number;
  #index: Int32Array;
  #labels: Int32Array;
  #sampleSize: number;

  private constructor(
    fields: {
      source: string;
      split: MedMnistSplit;
      info: MedMnistInfo | undefined;
      classes: readonly string[];
      multiLabel: boolean;
      is3d: boolean;
      sampleShape: number[];
      skipReport: SkipReport;
    },
    images: Uint8Array,
    labelRows: Int32Array,
    labelWidth: number,
    index: Int32Array,
    labels: Int32Array,
  ) {
    this.source = fields.source;
    this.split = fields.split;
    this.info = fields.info;
    this.classes = fields.classes;
    this.multiLabel = fields.multiLabel;
    this.is3d = fields.is3d;
    this.sampleShape = Object.freeze([...fields.sampleShape]);
    this.skipReport = fields.skipReport;
    this.#images = images;
    this.#labelRows = labelRows;
    this.#labelWidth = labelWidth;
    this.#index = index;
    this.#labels = labels;
    this.#sampleSize = fields.sampleShape.reduce((a, b) => a * b, 1);
  }

  /**
   * Reads one split of a MedMNIST `.npz` file (only that split's two arrays are decompressed).
   * The dataset is looked up from the file name (`retinamnist.npz`, `adrenalmnist3d_64.npz`) or
   * `options.name`. Malformed files, missing arrays, mismatched lengths and (unless skipped)
   * out-of-range labels throw a {@linkcode DatasetError} naming the file.
   */
  static async open(path: string, options: MedMnistOptions): Promise<MedMnist> {
    checkOptions(options, "MedMnist.open");
    const archive = await NpzArchive.open(path, { maxDecodedBytes: options.maxDecodedBytes });
    const images = archive.read(`${options.split}_images`);
    const labels = archive.read(`${options.split}_labels`);
    const parsed = parseMedMnistFileName(path);
    const name = options.name ?? parsed?.name;
    const dataset = MedMnist.fromArrays(images, labels, { ...options, name, source: path });
    const size = options.name === undefined ? parsed?.size : undefined;
    if (size !== undefined) {
      const spatial = dataset.is3d ? dataset.sampleShape : dataset.sampleShape.slice(0, 2);
      if (!spatial.every((d) => d === size)) {
        throw new DatasetError(
          path,
          `the file name says ${size}-pixel images, but ${options.split}_images holds samples of shape (${
            dataset.sampleShape.join(", ")
          })`,
        );
      }
    }
    return dataset;
  }

  /**
   * A dataset from already-parsed arrays: `images` uint8 `(N, H, W)`, `(N, H, W, C)` with C 1
   * or 3, or `(N, D, H, W)` for 3D sets; `labels` integer `(N)`, `(N, 1)` or `(N, L)` 0/1 rows.
   * `source` names the data in errors.
   */
  static fromArrays(images: NpyArray, labels: NpyArray, options: MedMnistOptions & { source?: string }): MedMnist {
    checkOptions(options, "MedMnist.fromArrays");
    const source = options.source ?? "arrays";
    const split = options.split;
    const onError = options.onError ?? "throw";
    const fail = (problem: string): never => {
      throw new DatasetError(source, problem);
    };
    const info = options.name === undefined ? undefined : MEDMNIST_INFO[options.name];
    if (options.name !== undefined && !info) {
      throw new RangeError(
        `MedMnist: unknown dataset "${options.name}" (known: ${Object.keys(MEDMNIST_INFO).join(", ")})`,
      );
    }
    const imgName = `${split}_images`, labName = `${split}_labels`;
    // Images.
    if (images.dtype !== "uint8") fail(`${imgName} must be uint8, got ${images.dtype}`);
    const s = images.shape;
    let is3d: boolean;
    let sampleShape: number[];
    if (s.length === 3) {
      is3d = false;
      sampleShape = [s[1], s[2], 1];
    } else if (s.length === 4) {
      is3d = info ? info.is3d : !(s[3] === 1 || s[3] === 3);
      sampleShape = [s[1], s[2], s[3]]; // [D, H, W] or [H, W, C]
      if (!is3d && s[3] !== 1 && s[3] !== 3) {
        fail(`${imgName}: 2D images need 1 or 3 channels, got shape (${s.join(", ")})`);
      }
    } else {
      fail(`${imgName} must have shape (N, H, W), (N, H, W, C) or (N, D, H, W), got (${s.join(", ")})`);
    }
    if (info) {
      if (info.is3d && s.length !== 4) {
        fail(`${info.name} holds 3D volumes (N, D, H, W), got ${imgName} (${s.join(", ")})`);
      }
      if (!info.is3d && sampleShape![2] !== info.channels) {
        fail(`${info.name} has ${info.channels}-channel images, got ${imgName} of shape (${s.join(", ")})`);
      }
    }
    const nImages = s[0];
    // Labels.
    const intTypes = ["uint8", "int8", "uint16", "int16", "uint32", "int32", "int64", "uint64", "bool"];
    if (!intTypes.includes(labels.dtype)) fail(`${labName} must hold integers, got ${labels.dtype}`);
    const ls = labels.shape;
    if (ls.length < 1 || ls.length > 2) {
      fail(`${labName} must have shape (N), (N, 1) or (N, L), got (${ls.join(", ")})`);
    }
    const width = ls.length === 2 ? ls[1] : 1;
    const multiLabel = info ? info.task === "multi-label" : width > 1;
    if (!multiLabel && width !== 1) fail(`${labName} must have one column, got shape (${ls.join(", ")})`);
    const rows = Int32Array.from(labels.data as ArrayLike<number>);
    let classes = options.classes ?? info?.classes;
    if (!classes) {
      const k = multiLabel
        ? width
        : inferClassCount(rows, { file: source, what: labName, labelCheck: options.labelCheck });
      classes = Array.from({ length: k }, (_, i) => String(i));
    }
    if (multiLabel && classes.length !== width) {
      fail(`${labName} has ${width} label columns but there are ${classes.length} class names`);
    }
    // Pairing and ranges.
    const skipped: SkipReport["skipped"] = [];
    let n = Math.min(nImages, ls[0]);
    if (nImages !== ls[0]) {
      const problem = `${imgName} has ${nImages} samples but ${labName} has ${ls[0]}`;
      if (onError === "throw") fail(problem);
      skipped.push({
        file: source,
        reason: `${problem}; the ${Math.abs(nImages - ls[0])} unpaired samples are left out`,
      });
    }
    const keep: number[] = [];
    const firstLabels: number[] = [];
    for (let i = 0; i < n; i++) {
      let problem: string | null = null;
      let label = -1;
      if (multiLabel) {
        for (let j = 0; j < width; j++) {
          const v = rows[i * width + j];
          if (v !== 0 && v !== 1) {
            problem = `${labName}[${i}, ${j}] = ${v}, expected 0 or 1`;
            break;
          }
          if (v === 1 && label < 0) label = j;
        }
      } else {
        label = rows[i];
        if (label < 0 || label >= classes.length) {
          problem = `sample ${split}:${i} has label ${label}, outside 0..${
            classes.length - 1
          } (${classes.length} classes)`;
        }
      }
      if (problem) {
        if (onError === "throw") fail(problem);
        skipped.push({ file: source, reason: problem });
        continue;
      }
      keep.push(i);
      firstLabels.push(label);
    }
    n = keep.length;
    return new MedMnist(
      {
        source,
        split,
        info,
        classes: Object.freeze([...classes]),
        multiLabel,
        is3d: is3d!,
        sampleShape: sampleShape!,
        skipReport: { skipped },
      },
      images.data as Uint8Array,
      rows,
      width,
      Int32Array.from(keep),
      Int32Array.from(firstLabels),
    );
  }

  /** Number of samples (after any skipped ones). */
  get length(): number {
    return this.#index.length;
  }

  /** Class index of every sample (for multi-label data, the first positive label or -1); a copy. */
  labels(): Int32Array {
    return this.#labels.slice();
  }

  /** The sample at `index`: a fresh copy of its pixels, label(s), id `"<split>:<file index>"` and meta. */
  get(index: number): Promise<Sample> {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      return Promise.reject(new RangeError(`MedMnist.get: index ${index} is outside [0, ${this.length})`));
    }
    const i = this.#index[index];
    const size = this.#sampleSize;
    const pixels = this.#images.subarray(i * size, (i + 1) * size);
    let image: Raster | ArrayImage;
    if (this.is3d) {
      const data = new Float32Array(size);
      for (let k = 0; k < size; k++) data[k] = pixels[k] / 255;
      image = { data, shape: [1, ...this.sampleShape] };
    } else {
      const [height, width, channels] = this.sampleShape;
      image = { data: pixels.slice(), width, height, channels };
    }
    const sample: Sample = {
      image,
      label: this.#labels[index],
      id: `${this.split}:${i}`,
      meta: { source: this.source, split: this.split, index: i, dataset: this.info?.name },
    };
    if (this.multiLabel) {
      sample.labels = Array.from(this.#labelRows.subarray(i * this.#labelWidth, (i + 1) * this.#labelWidth));
    }
    return Promise.resolve(sample);
  }
}

function checkOptions(options: MedMnistOptions, op: string): void {
  if (!options || !SPLITS.includes(options.split)) {
    throw new RangeError(
      `${op}: options.split must be "train", "val" or "test", got ${JSON.stringify(options?.split)}`,
    );
  }
  if (options.onError !== undefined && options.onError !== "throw" && options.onError !== "skip") {
    throw new RangeError(`${op}: options.onError must be "throw" or "skip", got ${JSON.stringify(options.onError)}`);
  }
  checkLabelCheckOption(options.labelCheck, op);
}
