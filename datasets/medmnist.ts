/**
 * MedMNIST v2 / MedMNIST+ (Yang et al., Scientific Data 10, 41, 2023): 12 2D and 6 3D
 * biomedical classification sets released as `.npz` files holding `{train,val,test}_images`
 * (uint8) and `{train,val,test}_labels` (uint8, `(N, 1)`, or `(N, 14)` 0/1 for ChestMNIST).
 *
 * {@linkcode MedMnist.open} reads one split of such a file. 2D images come out as uint8 HWC
 * {@linkcode Raster}s (1 or 3 channels, like any decoded image, so the same transforms apply);
 * 3D volumes as float32 {@linkcode ArrayImage}s of shape `[1, D, H, W]` scaled to [0, 1]
 * (value / 255, as the official `medmnist` package returns them). The dataset's name, class
 * names and task come from {@linkcode MEDMNIST_INFO}, looked up from the file name
 * (`<name>.npz`, `<name>_<size>.npz`) unless given.
 *
 * {@linkcode downloadMedMnist} fetches a file from the official Zenodo record and checks its MD5
 * against the built-in table (from the `medmnist` package's INFO, v3 release).
 *
 * @example
 * ```ts
 * const train = await MedMnist.open("data/retinamnist.npz", { split: "train" });
 * train.classes; // ["0", "1", "2", "3", "4"]
 * const s = await train.get(0); // { image: Raster 28×28×3, label, id: "train:0", meta }
 * ```
 * @module
 */
import { createHash } from "node:crypto";
import { basename, dirname, join } from "node:path";
import type { NpyArray } from "../util/formats/npy.ts";
import { NpzArchive } from "../util/formats/npz.ts";
import {
  type ArrayImage,
  type Dataset,
  DatasetError,
  type OnError,
  type Raster,
  type Sample,
  type SkipReport,
} from "./types.ts";

/** A MedMNIST split. */
export type MedMnistSplit = "train" | "val" | "test";

/** A MedMNIST task as the official INFO names it (ChestMNIST's "multi-label, binary-class" is `multi-label`). */
export type MedMnistTask = "multi-class" | "binary-class" | "multi-label" | "ordinal-regression";

/** Facts about one MedMNIST dataset. */
export interface MedMnistInfo {
  /** The dataset flag, e.g. `"retinamnist"` (also the file-name stem). */
  name: string;
  /** The task. */
  task: MedMnistTask;
  /** Class names by index (label columns, for the multi-label ChestMNIST). */
  classes: readonly string[];
  /** Image channels (1 or 3; the 3D sets are 1). */
  channels: 1 | 3;
  /** Whether samples are 3D volumes. */
  is3d: boolean;
  /** Samples per split in the official release (v3). */
  samples: Readonly<Record<MedMnistSplit, number>>;
  /** MD5 of `<name>.npz` (size 28) and `<name>_<size>.npz`, by image size. */
  md5: Readonly<Record<number, string>>;
  /** Data licence. */
  license: string;
}

const ORGANS = [
  "bladder",
  "femur-left",
  "femur-right",
  "heart",
  "kidney-left",
  "kidney-right",
  "liver",
  "lung-left",
  "lung-right",
  "pancreas",
  "spleen",
];

function entry(
  name: string,
  task: MedMnistTask,
  channels: 1 | 3,
  classes: string[],
  samples: [number, number, number],
  md5: string[],
  license = "CC BY 4.0",
): MedMnistInfo {
  const is3d = name.endsWith("3d");
  const sizes = is3d ? [28, 64] : [28, 64, 128, 224];
  return Object.freeze({
    name,
    task,
    classes: Object.freeze(classes),
    channels,
    is3d,
    samples: Object.freeze({ train: samples[0], val: samples[1], test: samples[2] }),
    md5: Object.freeze(Object.fromEntries(md5.map((m, i) => [sizes[i], m]))),
    license,
  });
}

/**
 * The MedMNIST datasets (v2 names, v3/MedMNIST+ release on Zenodo record 10519652): task, class
 * names, channels, split sizes and the MD5 of every file size, as in the `medmnist` package's
 * INFO table.
 */
export const MEDMNIST_INFO: Readonly<Record<string, MedMnistInfo>> = Object.freeze(
  Object.fromEntries(
    [
      entry(
        "pathmnist",
        "multi-class",
        3,
        [
          "adipose",
          "background",
          "debris",
          "lymphocytes",
          "mucus",
          "smooth muscle",
          "normal colon mucosa",
          "cancer-associated stroma",
          "colorectal adenocarcinoma epithelium",
        ],
        [89996, 10004, 7180],
        [
          "a8b06965200029087d5bd730944a56c1",
          "55aa9c1e0525abe5a6b9d8343a507616",
          "ac42d08fb904d92c244187169d1fd1d9",
          "2c51a510bcdc9cf8ddb2af93af1eadec",
        ],
      ),
      entry(
        "chestmnist",
        "multi-label",
        1,
        [
          "atelectasis",
          "cardiomegaly",
          "effusion",
          "infiltration",
          "mass",
          "nodule",
          "pneumonia",
          "pneumothorax",
          "consolidation",
          "edema",
          "emphysema",
          "fibrosis",
          "pleural",
          "hernia",
        ],
        [78468, 11219, 22433],
        [
          "02c8a6516a18b556561a56cbdd36c4a8",
          "9de6cd0b934ebb5b7426cfba5efbae16",
          "db107e5590b27930b62dbaf558aebee3",
          "45bd33e6f06c3e8cdb481c74a89152aa",
        ],
      ),
      entry(
        "dermamnist",
        "multi-class",
        3,
        [
          "actinic keratoses and intraepithelial carcinoma",
          "basal cell carcinoma",
          "benign keratosis-like lesions",
          "dermatofibroma",
          "melanoma",
          "melanocytic nevi",
          "vascular lesions",
        ],
        [7007, 1003, 2005],
        [
          "0744692d530f8e62ec473284d019b0c7",
          "b70a2f5635c6199aeaa28c31d7202e1f",
          "2defd784463fa5243564e855ed717de1",
          "8974907d8e169bef5f5b96bc506ae45d",
        ],
        "CC BY-NC 4.0",
      ),
      entry(
        "octmnist",
        "multi-class",
        1,
        [
          "choroidal neovascularization",
          "diabetic macular edema",
          "drusen",
          "normal",
        ],
        [97477, 10832, 1000],
        [
          "c68d92d5b585d8d81f7112f81e2d0842",
          "e229e9440236b774d9f0dfef9d07bdaf",
          "0a97e76651ace45c5d943ee3f65b63ae",
          "abc493b6d529d5de7569faaef2773ba3",
        ],
      ),
      entry("pneumoniamnist", "binary-class", 1, ["normal", "pneumonia"], [4708, 524, 624], [
        "28209eda62fecd6e6a2d98b1501bb15f",
        "8f4eceb4ccffa70c672198ea285246c6",
        "05b46931834c231683c68f40c47b2971",
        "d6a3c71de1b945ea11211b03746c1fe1",
      ]),
      entry("retinamnist", "ordinal-regression", 3, ["0", "1", "2", "3", "4"], [1080, 120, 400], [
        "bd4c0672f1bba3e3a89f0e4e876791e4",
        "afda852cc34dcda56f86ad2b2457dbcc",
        "e48e916a24454daf90583d4e6efb1a18",
        "eae7e3b6f3fcbda4ae613ebdcbe35348",
      ]),
      entry("breastmnist", "binary-class", 1, ["malignant", "normal, benign"], [546, 78, 156], [
        "750601b1f35ba3300ea97c75c52ff8f6",
        "742edef2a1fd1524b2efff4bd7ba9364",
        "363e4b3f8d712e9b5de15470a2aaadf1",
        "b56378a6eefa9fed602bb16d192d4c8b",
      ]),
      entry(
        "bloodmnist",
        "multi-class",
        3,
        [
          "basophil",
          "eosinophil",
          "erythroblast",
          "immature granulocytes(myelocytes, metamyelocytes and promyelocytes)",
          "lymphocyte",
          "monocyte",
          "neutrophil",
          "platelet",
        ],
        [11959, 1712, 3421],
        [
          "7053d0359d879ad8a5505303e11de1dc",
          "2b94928a2ae4916078ca51e05b6b800b",
          "adace1e0ed228fccda1f39692059dd4c",
          "b718ff6835fcbdb22ba9eacccd7b2601",
        ],
      ),
      entry(
        "tissuemnist",
        "multi-class",
        1,
        [
          "Collecting Duct, Connecting Tubule",
          "Distal Convoluted Tubule",
          "Glomerular endothelial cells",
          "Interstitial endothelial cells",
          "Leukocytes",
          "Podocytes",
          "Proximal Tubule Segments",
          "Thick Ascending Limb",
        ],
        [165466, 23640, 47280],
        [
          "ebe78ee8b05294063de985d821c1c34b",
          "123ece2eba09d0aa5d698fda57103344",
          "61b955355d7425a89687b06cca3ce0c2",
          "b077128c4a949f0a4eb01517f9037b9c",
        ],
      ),
      entry("organamnist", "multi-class", 1, [...ORGANS], [34561, 6491, 17778], [
        "68e3f8846a6bd62f0c9bf841c0d9eacc",
        "2dcccc29b88e6da5a01161ef20cda288",
        "eeae80d0a227a8d099027e1b3cfd3b60",
        "50747347e05c87dd3aaf92c49f9f3170",
      ]),
      entry("organcmnist", "multi-class", 1, [...ORGANS], [12975, 2392, 8216], [
        "b9ceb9546e10131b32923c5bbeaea2b1",
        "3ce34a8724ea6f548e6db4744d03b6a9",
        "773c1f009daa3fe5d9a2a201b2a7ed94",
        "050f5e875dc056f6768abf94ec9995d1",
      ]),
      entry("organsmnist", "multi-class", 1, [...ORGANS], [13932, 2452, 8827], [
        "9ab87b696fb54e2a387ebe992d6ed5f1",
        "53a6d115339d874c25e309a994ff46d3",
        "ded0c5fa01a95dc4978b956f613e9b8e",
        "b354719e553fbbb2513d5533f52a4cb1",
      ]),
      // OrganMNIST3D orders its organs differently from Organ{A,C,S}MNIST.
      entry(
        "organmnist3d",
        "multi-class",
        1,
        [
          "liver",
          "kidney-right",
          "kidney-left",
          "femur-right",
          "femur-left",
          "bladder",
          "heart",
          "lung-right",
          "lung-left",
          "spleen",
          "pancreas",
        ],
        [971, 161, 610],
        ["a0c5a1ff56af4f155c46d46fbb45a2fe", "58a2205adf14a9d0a189cb06dc78bf10"],
      ),
      entry("nodulemnist3d", "binary-class", 1, ["benign", "malignant"], [1158, 165, 310], [
        "8755a7e9e05a4d9ce80a24c3e7a256f3",
        "c47c5b7d457bf6332200d2ea6d64ecd8",
      ]),
      entry("adrenalmnist3d", "binary-class", 1, ["normal", "hyperplasia"], [1188, 98, 298], [
        "bbd3c5a5576322bc4cdfea780653b1ce",
        "17721accfe9fb005146a47d33bc54b2f",
      ]),
      entry(
        "fracturemnist3d",
        "multi-class",
        1,
        [
          "buckle rib fracture",
          "nondisplaced rib fracture",
          "displaced rib fracture",
        ],
        [1027, 103, 240],
        ["6aa7b0143a6b42da40027a9dda61302f", "f01d7e6316aedf4210da0da5b7437b42"],
      ),
      entry("vesselmnist3d", "binary-class", 1, ["vessel", "aneurysm"], [1335, 191, 382], [
        "b41fd4f7e7e2feedddb201585ecafa1b",
        "6bb274a8846e1097066dcd64e2c4520f",
      ]),
      entry("synapsemnist3d", "binary-class", 1, ["inhibitory synapse", "excitatory synapse"], [1230, 177, 352], [
        "1235b78a3cd6280881dd7850a78eadb6",
        "43bd14ebf3af9d3dd072446fedc14d5e",
      ]),
    ].map((i) => [i.name, i]),
  ),
);

/** The Zenodo record of the MedMNIST v3 / MedMNIST+ release. */
export const MEDMNIST_RECORD_URL = "https://zenodo.org/records/10519652";

function infoFor(name: string, op: string): MedMnistInfo {
  const info = MEDMNIST_INFO[name];
  if (!info) {
    throw new RangeError(`${op}: unknown MedMNIST dataset "${name}" (known: ${Object.keys(MEDMNIST_INFO).join(", ")})`);
  }
  return info;
}

function checkSize(info: MedMnistInfo, size: number, op: string): void {
  if (!(size in info.md5)) {
    throw new RangeError(`${op}: ${info.name} comes in sizes ${Object.keys(info.md5).join(", ")}, not ${size}`);
  }
}

/** The release's file name: `<name>.npz` for size 28, `<name>_<size>.npz` otherwise. */
export function medmnistFileName(name: string, size = 28): string {
  checkSize(infoFor(name, "medmnistFileName"), size, "medmnistFileName");
  return size === 28 ? `${name}.npz` : `${name}_${size}.npz`;
}

/** The official download URL of a MedMNIST file (Zenodo record 10519652). */
export function medmnistUrl(name: string, size = 28): string {
  return `${MEDMNIST_RECORD_URL}/files/${medmnistFileName(name, size)}?download=1`;
}

/** Dataset name and image size from a file name such as `adrenalmnist3d_64.npz`, when it is a known MedMNIST file. */
export function parseMedMnistFileName(path: string): { name: string; size: number } | undefined {
  const m = /^([a-z0-9]+?)(?:_(\d+))?\.npz$/i.exec(basename(path));
  if (!m) return undefined;
  const name = m[1].toLowerCase();
  const size = m[2] ? Number(m[2]) : 28;
  const info = MEDMNIST_INFO[name];
  return info && size in info.md5 ? { name, size } : undefined;
}

// --- MD5 and download ------------------------------------------------------------------------

/** The MD5 of a file as 32 lower-case hex digits (read in chunks). Errors name the path. */
export async function md5File(path: string): Promise<string> {
  const hash = createHash("md5");
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw new DatasetError(path, `cannot open the file (${e instanceof Error ? e.message : e})`, { cause: e });
  }
  try {
    for await (const chunk of file.readable) hash.update(chunk);
  } catch (e) {
    throw new DatasetError(path, `cannot read the file (${e instanceof Error ? e.message : e})`, { cause: e });
  }
  return hash.digest("hex");
}

function checkMd5Text(expected: string, op: string): string {
  if (typeof expected !== "string" || !/^[0-9a-fA-F]{32}$/.test(expected)) {
    throw new TypeError(`${op}: expected MD5 must be 32 hex digits, got ${JSON.stringify(expected)}`);
  }
  return expected.toLowerCase();
}

/**
 * Checks that a file's MD5 is `expected` (32 hex digits, any case). Resolves when it matches;
 * otherwise throws a {@linkcode DatasetError} naming the file and both digests.
 */
export async function verifyMd5(path: string, expected: string): Promise<void> {
  const want = checkMd5Text(expected, "verifyMd5");
  const got = await md5File(path);
  if (got !== want) {
    throw new DatasetError(
      path,
      `MD5 mismatch: expected ${want}, got ${got} (the file is corrupt, incomplete or a different release)`,
    );
  }
}

/** Options of {@linkcode downloadMedMnist}. */
export interface DownloadMedMnistOptions {
  /** Image size: 28 (default), 64, 128 or 224 (3D sets: 28 or 64). */
  size?: number;
  /** Expected MD5, overriding the built-in table. */
  md5?: string;
  /** URL to fetch instead of the official one (a mirror); the MD5 check still applies. */
  url?: string;
  /** The fetch function (default: the global `fetch`). */
  fetch?: (url: string) => Promise<Response>;
  /** Called as bytes arrive, with the total when the server sends a length. */
  onProgress?: (received: number, total: number | undefined) => void;
}

/**
 * Downloads a MedMNIST file into `dir` (created if needed) and returns its path. A file already
 * there whose MD5 matches is kept without a download; otherwise the file is fetched into a
 * temporary file in `dir`, its MD5 checked against the built-in table, and only then renamed into
 * place. On any failure nothing is left at the final path. Needs `--allow-net`.
 */
export async function downloadMedMnist(
  name: string,
  dir: string,
  options: DownloadMedMnistOptions = {},
): Promise<string> {
  const op = "downloadMedMnist";
  const size = options.size ?? 28;
  const info = infoFor(name, op);
  checkSize(info, size, op);
  const expected = checkMd5Text(options.md5 ?? info.md5[size], op);
  const path = join(dir, medmnistFileName(name, size));
  const url = options.url ?? medmnistUrl(name, size);
  try {
    await verifyMd5(path, expected);
    return path;
  } catch (e) {
    if (!(e instanceof DatasetError)) throw e; // missing or different: download below
  }
  await Deno.mkdir(dir, { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${crypto.randomUUID().slice(0, 8)}.part`);
  try {
    const response = await (options.fetch ?? fetch)(url);
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new DatasetError(url, `download failed: HTTP ${response.status} ${response.statusText}`);
    }
    const lengthHeader = response.headers.get("content-length");
    const total = lengthHeader ? Number(lengthHeader) : undefined;
    const hash = createHash("md5");
    let received = 0;
    const file = await Deno.open(tmp, { write: true, createNew: true });
    try {
      for await (const chunk of response.body) {
        hash.update(chunk);
        received += chunk.length;
        let off = 0;
        while (off < chunk.length) off += await file.write(chunk.subarray(off));
        options.onProgress?.(received, total);
      }
    } finally {
      file.close();
    }
    const got = hash.digest("hex");
    if (got !== expected) {
      throw new DatasetError(
        path,
        `the download from ${url} has MD5 ${got}, expected ${expected} (${received} bytes); nothing was written`,
      );
    }
    await Deno.rename(tmp, path);
    return path;
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    if (e instanceof DatasetError) throw e;
    throw new DatasetError(url, `download failed (${e instanceof Error ? e.message : e})`, { cause: e });
  }
}

// --- the dataset -----------------------------------------------------------------------------

/** Options of {@linkcode MedMnist.open} and {@linkcode MedMnist.fromArrays}. */
export interface MedMnistOptions {
  /** Which split to read. */
  split: MedMnistSplit;
  /** The dataset flag (e.g. `"retinamnist"`) when the file name does not say it. */
  name?: string;
  /** Class names by index; default: the dataset's, or `"0"…"k-1"` for an unknown dataset. */
  classes?: readonly string[];
  /** `"throw"` (default): a bad label stops loading; `"skip"`: leave the sample out and list it in `skipReport`. */
  onError?: OnError;
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
    const archive = await NpzArchive.open(path);
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
      let max = -1;
      for (const v of rows) if (v > max) max = v;
      classes = multiLabel
        ? Array.from({ length: width }, (_, i) => String(i))
        : Array.from({ length: max + 1 }, (_, i) => String(i));
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
}
