/**
 * Datasets over arrays already in memory, for latent diffusion: a `(N, ...)` float array of
 * latents (e.g. VAE encodings `(N, 4, 32, 32)` or `(N, 4, 16, 16, 16)`) and optional class labels.
 * {@linkcode TensorDataset} wraps arrays; {@linkcode SafetensorsDataset} reads them from a
 * safetensors file with the framework's own parser (`parseSafetensors`, so F16/BF16 latents
 * become float32 and I64 labels int32). Samples are {@linkcode ArrayImage}s of the per-sample
 * shape (`[4, 32, 32]`), copied so transforms may change them.
 *
 * @example
 * ```ts
 * const latents = await SafetensorsDataset.open("runs/vae/latents.safetensors", { classes: ["normal", "mass"] });
 * const s = await latents.get(0); // { image: { data, shape: [4, 16, 16, 16] }, label, id: "0", meta }
 * ```
 * @module
 */
import { parseSafetensors } from "../util/formats/safetensors.ts";
import { type ArrayImage, type Dataset, DatasetError, type Sample, SizeLimitError } from "./types.ts";
import { checkLabelCheckOption, inferClassCount, type LabelCheck } from "./labels.ts";

/** Options of {@linkcode TensorDataset}. */
export interface TensorDatasetOptions {
  /**
   * Class names by index; labels must lie in `[0, classes.length)`. Default: `"0"…"K-1"` when
   * there are labels, inferred from them (see `labelCheck`).
   */
  classes?: readonly string[];
  /**
   * When the classes are inferred: labels that are not contiguous 0..K−1 with two or more
   * examples each are an error (`"error"`, default), a console warning (`"warn"`) or accepted (`"off"`).
   */
  labelCheck?: LabelCheck;
  /** Names the data in errors and in each sample's `meta.source` (default `"tensors"`). */
  source?: string;
}

/** A dataset over a `(N, ...)` float32 array and optional `(N)` int labels; sample `i` is row `i`. */
export class TensorDataset implements Dataset<Sample<ArrayImage>> {
  /** Where the data came from (a path or the `source` option). */
  readonly source: string;
  /** One sample's shape (the array's shape without its first dimension). */
  readonly sampleShape: readonly number[];
  /** Class names, when the dataset has labels. */
  readonly classes?: readonly string[];
  /** Class index of every sample (a copy); present only when the dataset has labels. */
  readonly labels?: () => Int32Array;
  #data: Float32Array;
  #labels: Int32Array | undefined;
  #size: number;
  #length: number;

  /**
   * Wraps `latents` (row-major, `shape[0]` samples) and optional `labels` (one integer per
   * sample). The arrays are used as they are, not copied. Throws a {@linkcode DatasetError}
   * naming `options.source` when the sizes disagree or a label is out of range.
   */
  constructor(
    latents: { data: Float32Array; shape: readonly number[] },
    labels?: Int32Array | null,
    options: TensorDatasetOptions = {},
  ) {
    const source = options.source ?? "tensors";
    checkLabelCheckOption(options.labelCheck, "TensorDataset");
    const fail = (problem: string): never => {
      throw new DatasetError(source, problem);
    };
    const shape = latents.shape;
    if (!(latents.data instanceof Float32Array)) fail("latents must be a Float32Array");
    if (shape.length < 1 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`latents need a shape (N, ...), got [${shape.join(", ")}]`);
    }
    const n = shape[0];
    const size = shape.slice(1).reduce((a, b) => a * b, 1);
    if (latents.data.length !== n * size) {
      fail(`latents have ${latents.data.length} elements, shape [${shape.join(", ")}] needs ${n * size}`);
    }
    this.source = source;
    this.sampleShape = Object.freeze(shape.slice(1));
    this.#data = latents.data;
    this.#size = size;
    this.#length = n;
    if (labels) {
      if (!(labels instanceof Int32Array)) fail("labels must be an Int32Array");
      if (labels.length !== n) fail(`${n} latents but ${labels.length} labels`);
      const k = options.classes?.length ??
        inferClassCount(labels, { file: source, what: "labels", labelCheck: options.labelCheck });
      let max = -1;
      for (let i = 0; i < n; i++) {
        const v = labels[i];
        if (v < 0) fail(`label ${i} is ${v}; labels must be class indices ≥ 0`);
        if (v > max) max = v;
      }
      const classes = options.classes ?? Array.from({ length: k }, (_, i) => String(i));
      if (max >= classes.length) {
        fail(`label ${labels.indexOf(max)} is ${max}, outside 0..${classes.length - 1} (${classes.length} classes)`);
      }
      this.classes = Object.freeze([...classes]);
      this.#labels = labels;
      this.labels = () => labels.slice();
    } else if (options.classes) {
      this.classes = Object.freeze([...options.classes]);
    }
  }

  /** Number of samples. */
  get length(): number {
    return this.#length;
  }

  /** Row `index` as a fresh `ArrayImage`; `label` is -1 when the dataset has no labels. */
  get(index: number): Promise<Sample<ArrayImage>> {
    if (!Number.isInteger(index) || index < 0 || index >= this.#length) {
      return Promise.reject(new RangeError(`TensorDataset.get: index ${index} is outside [0, ${this.#length})`));
    }
    const data = this.#data.slice(index * this.#size, (index + 1) * this.#size);
    return Promise.resolve({
      image: { data, shape: [...this.sampleShape] },
      label: this.#labels ? this.#labels[index] : -1,
      id: String(index),
      meta: { source: this.source, index },
    });
  }
}

/** Options of {@linkcode SafetensorsDataset.open}. */
export interface SafetensorsDatasetOptions {
  /** Name of the `(N, ...)` latents tensor (default `"latents"`). */
  latentsKey?: string;
  /**
   * Name of the `(N)` or `(N, 1)` integer labels tensor (default `"labels"`, used when present);
   * `null` ignores labels. A name given explicitly must exist.
   */
  labelsKey?: string | null;
  /** Class names by index. */
  classes?: readonly string[];
  /** What to do with labels that are not contiguous class indices, when classes are inferred (see {@linkcode TensorDatasetOptions}). */
  labelCheck?: LabelCheck;
}

/** A {@linkcode TensorDataset} read from a safetensors file (latents, optional labels, metadata). */
export class SafetensorsDataset extends TensorDataset {
  /** The file's `__metadata__` (e.g. a VAE scaling factor), empty when absent. */
  readonly metadata: Readonly<Record<string, string>>;

  private constructor(
    latents: { data: Float32Array; shape: number[] },
    labels: Int32Array | null,
    options: TensorDatasetOptions,
    metadata: Record<string, string>,
  ) {
    super(latents, labels, options);
    this.metadata = Object.freeze({ ...metadata });
  }

  /** Builds the dataset from safetensors bytes; `source` names them in errors. */
  static fromBytes(bytes: Uint8Array, source = "data", options: SafetensorsDatasetOptions = {}): SafetensorsDataset {
    const fail = (problem: string, cause?: unknown): never => {
      throw new DatasetError(source, problem, cause ? { cause } : undefined);
    };
    let parsed: ReturnType<typeof parseSafetensors>;
    try {
      parsed = parseSafetensors(bytes, source);
    } catch (e) {
      if (e instanceof SizeLimitError || !(e instanceof DatasetError)) throw e;
      fail(`not a valid safetensors file: ${e.problem}`, e);
    }
    const { tensors, metadata } = parsed!;
    const names = Object.keys(tensors);
    const latentsKey = options.latentsKey ?? "latents";
    const lat = tensors[latentsKey];
    if (!lat) fail(`no tensor "${latentsKey}" (it has: ${names.join(", ") || "none"})`);
    if (lat.dtype !== "float32") fail(`"${latentsKey}" must be a float tensor (F32, F16 or BF16), got ${lat.dtype}`);
    if (lat.shape.length < 1) fail(`"${latentsKey}" must have shape (N, ...), got a scalar`);
    let labels: Int32Array | null = null;
    const labelsKey = options.labelsKey === undefined ? "labels" : options.labelsKey;
    if (labelsKey !== null) {
      const lab = tensors[labelsKey];
      if (!lab && options.labelsKey !== undefined) {
        fail(`no labels tensor "${labelsKey}" (it has: ${names.join(", ")})`);
      }
      if (lab) {
        if (lab.dtype !== "int32") fail(`"${labelsKey}" must be an integer tensor (I32 or I64), got ${lab.dtype}`);
        const ok = lab.shape.length === 1 || (lab.shape.length === 2 && lab.shape[1] === 1);
        if (!ok) fail(`"${labelsKey}" must have shape (N) or (N, 1), got [${lab.shape.join(", ")}]`);
        labels = lab.data as Int32Array;
      }
    }
    return new SafetensorsDataset(
      { data: lat.data as Float32Array, shape: lat.shape },
      labels,
      { classes: options.classes, source, labelCheck: options.labelCheck },
      metadata,
    );
  }

  /** Reads a safetensors file of latents (and labels); errors are {@linkcode DatasetError}s naming the path. */
  static async open(path: string, options: SafetensorsDatasetOptions = {}): Promise<SafetensorsDataset> {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (e) {
      throw new DatasetError(path, `cannot read the file (${e instanceof Error ? e.message : e})`, { cause: e });
    }
    return SafetensorsDataset.fromBytes(bytes, path, options);
  }
}
