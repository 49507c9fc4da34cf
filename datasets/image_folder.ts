/**
 * Image files on disk: {@linkcode ImageFolder} reads the torchvision layout
 * `root/[<split>/]<class>/<image>` and decodes with `sharp` into uint8 HWC
 * {@linkcode Raster}s; {@linkcode readRasterFile} and {@linkcode checkImageFiles} are the
 * decoding and validation steps it shares with the CSV reader.
 *
 * Bad files. A file that cannot be decoded is only found when it is read. By default `get()`
 * throws a {@linkcode DatasetError} naming the file. With `onError: "skip"` (or `validate`), the
 * reader checks every file when it opens — `"header"` (the default for `"skip"`) reads each
 * file's header with `sharp().metadata()`, which catches unreadable files, non-images and
 * wrong sizes cheaply; `"decode"` decodes every pixel, which also catches truncated data —
 * and under `"skip"` leaves the bad files out and lists them in `skipReport`. A file that
 * passes the header check but fails to decode later still throws from `get()`. Every decode
 * and header check also compares the header's width × height × channels with the decode limit
 * (`maxDecodedBytes`), so an image declaring a huge size fails before its pixels are decoded.
 *
 * @example
 * ```ts
 * const train = await ImageFolder.open("data/derm", { split: "train", channels: 3 });
 * await train.saveClassMap("runs/a/classes.json");
 * const val = await ImageFolder.open("data/derm", { split: "val", classes: train.classes });
 * ```
 * @module
 */
import { writeJsonAtomic } from "../util/io.ts";
import { checkChannels, decodeRaster, readImageHeader } from "./transforms/decode.ts";
import { decodeLimit, type DecodeLimitOptions } from "../util/limits.ts";
import { type Dataset, DatasetError, type OnError, type Raster, type Sample, type SkipReport } from "./types.ts";
import { joinPath } from "../util/path.ts";

/** File extensions (lower case, with the dot) that {@linkcode ImageFolder} reads by default. */
export const IMAGE_EXTENSIONS: readonly string[] = [".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"];

/** Width and height in pixels that every image must have. */
export interface ImageSize {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/** Options of {@linkcode readRasterFile}. */
export interface ReadRasterOptions extends DecodeLimitOptions {
  /**
   * Convert to 1 (greyscale) or 3 (sRGB) channels, dropping alpha. Default: as stored — grey
   * files give 1 channel (2 with alpha), colour files 3 (4 with alpha; CMYK becomes sRGB).
   */
  channels?: 1 | 3;
  /** Reject an image of another size. */
  expectSize?: ImageSize;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function checkSize(size: ImageSize | undefined, op: string): void {
  if (size === undefined) return;
  for (const k of ["width", "height"] as const) {
    if (!Number.isInteger(size[k]) || size[k] < 1) {
      throw new RangeError(`${op}: expectSize.${k} must be a positive integer, got ${size[k]}`);
    }
  }
}

function sizeProblem(width: number | undefined, height: number | undefined, expect?: ImageSize): string | null {
  if (!expect || (width === expect.width && height === expect.height)) return null;
  return `expected an image of ${expect.width}×${expect.height} pixels (width×height), got ${width}×${height}`;
}

/**
 * Decodes an image file with `sharp` into a uint8 HWC {@linkcode Raster} (16-bit images are
 * scaled to 8 bits; `channels: 1` is the luma 0.299 R + 0.587 G + 0.114 B, as PIL's
 * `convert("L")`; see {@linkcode decodeRaster}). Any failure — missing file, not an image,
 * corrupt or truncated data, an unexpected size — throws a {@linkcode DatasetError} naming
 * the file.
 */
export async function readRasterFile(path: string, options: ReadRasterOptions = {}): Promise<Raster> {
  checkChannels(options.channels, "readRasterFile");
  checkSize(options.expectSize, "readRasterFile");
  // One decoder for the whole data layer: greyscale is PIL's luma, as torchvision's ImageFolder.
  const { channels, maxDecodedBytes } = options;
  const raster = await decodeRaster(path, { channels, name: path, maxDecodedBytes });
  const bad = sizeProblem(raster.width, raster.height, options.expectSize);
  if (bad) throw new DatasetError(path, bad);
  return raster;
}

/** Options of {@linkcode checkImageFiles}. */
export interface CheckImagesOptions extends DecodeLimitOptions {
  /** `"header"`: read each header (`sharp().metadata()`); `"decode"`: decode every pixel. */
  mode?: "header" | "decode";
  /** Reject images of another size. */
  expectSize?: ImageSize;
  /** Files checked at once (default 8). */
  concurrency?: number;
}

/**
 * Checks that every file is a readable image (of `expectSize`, when given), at most
 * `concurrency` at a time. Returns, per file, `null` when it is fine or the problem found.
 */
export async function checkImageFiles(
  paths: readonly string[],
  options: CheckImagesOptions = {},
): Promise<(string | null)[]> {
  const { mode = "header", expectSize, concurrency = 8, maxDecodedBytes } = options;
  if (mode !== "header" && mode !== "decode") {
    throw new RangeError(`checkImageFiles: mode must be "header" or "decode", got ${mode}`);
  }
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`checkImageFiles: concurrency must be a positive integer, got ${concurrency}`);
  }
  checkSize(expectSize, "checkImageFiles");
  const limit = decodeLimit(maxDecodedBytes);
  const out: (string | null)[] = new Array(paths.length).fill(null);
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const i = next++;
      try {
        if (mode === "decode") await readRasterFile(paths[i], { expectSize, maxDecodedBytes: limit });
        else {
          const m = await readImageHeader(paths[i], paths[i], limit);
          out[i] = sizeProblem(m.width, m.height, expectSize);
        }
      } catch (e) {
        out[i] = e instanceof DatasetError ? e.problem : message(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, worker));
  return out;
}

/** Options of {@linkcode ImageFolder.open}. */
export interface ImageFolderOptions {
  /** Read `root/<split>/<class>/*` (e.g. `"train"`); without it, `root/<class>/*`. */
  split?: string;
  /**
   * Class names in index order (e.g. the training split's, or from {@linkcode loadClassMap}).
   * A folder whose name is not listed is an error. Default: the folder names, sorted.
   */
  classes?: readonly string[];
  /** Convert images to 1 (greyscale) or 3 (sRGB) channels; default: as stored. */
  channels?: 1 | 3;
  /** File extensions read, case-insensitive (default {@linkcode IMAGE_EXTENSIONS}); other files are ignored. */
  extensions?: readonly string[];
  /** Every image must have this size (checked by validation and by `get`). */
  expectSize?: ImageSize;
  /** `"throw"` (default): stop at the first bad file or empty class; `"skip"`: leave it out, list it in `skipReport`. */
  onError?: OnError;
  /**
   * Check every file when opening: `"header"`, `"decode"` or `false`. Default: `"header"` under
   * `onError: "skip"`, otherwise `false` (bad files then surface in `get`).
   */
  validate?: boolean | "header" | "decode";
  /** Files checked at once during validation (default 8). */
  concurrency?: number;
  /** Most bytes one decoded image may take (default: the decode limit, see `util/limits.ts`). */
  maxDecodedBytes?: number;
}

/** One image of an {@linkcode ImageFolder}. */
export interface ImageFolderEntry {
  /** File path (root joined with the relative id). */
  path: string;
  /** Path relative to the root, with `/` separators; the sample id. */
  id: string;
  /** Class index. */
  label: number;
}

interface Listed {
  name: string;
  isFile: boolean;
  isDirectory: boolean;
}

/** Non-hidden entries of `dir`, sorted by name, with symbolic links resolved. */
async function listDir(dir: string): Promise<Listed[]> {
  const out: Listed[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.name.startsWith(".")) continue;
      let { isFile, isDirectory } = e;
      if (e.isSymlink) {
        try {
          ({ isFile, isDirectory } = await Deno.stat(joinPath(dir, e.name)));
        } catch {
          // A dangling link: neither a file nor a folder.
        }
      }
      out.push({ name: e.name, isFile, isDirectory });
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new DatasetError(dir, "folder not found", { cause: e });
    throw new DatasetError(dir, `cannot list the folder (${message(e)})`, { cause: e });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/**
 * A classification dataset over `root/[<split>/]<class>/<image>`: classes are the folder names
 * (sorted, or as given), samples the image files in each folder (sorted by name; other files
 * and hidden entries are ignored). Samples are uint8 HWC rasters with `id` = the path relative
 * to `root` and `meta.path`, `meta.className`.
 */
export class ImageFolder implements Dataset<Sample<Raster>> {
  /** The folder given to {@linkcode ImageFolder.open}. */
  readonly root: string;
  /** The split read, if any. */
  readonly split?: string;
  /** Class names by index. */
  readonly classes: readonly string[];
  /** Class name → index. */
  readonly classToIndex: ReadonlyMap<string, number>;
  /** The images, in index order. */
  readonly entries: readonly ImageFolderEntry[];
  /** Files and classes left out under `onError: "skip"`, with the reasons. */
  readonly skipReport: SkipReport;
  readonly #labels: Int32Array;
  readonly #read: ReadRasterOptions;

  private constructor(
    root: string,
    split: string | undefined,
    classes: readonly string[],
    entries: ImageFolderEntry[],
    skipped: SkipReport,
    read: ReadRasterOptions,
  ) {
    this.root = root;
    if (split !== undefined) this.split = split;
    this.classes = Object.freeze([...classes]);
    this.classToIndex = new Map(classes.map((c, i) => [c, i]));
    this.entries = Object.freeze(entries);
    this.skipReport = skipped;
    this.#labels = Int32Array.from(entries, (e) => e.label);
    this.#read = read;
  }

  /** Scans `root` (and validates the files, when asked) and returns the dataset. */
  static async open(root: string, options: ImageFolderOptions = {}): Promise<ImageFolder> {
    const op = "ImageFolder.open";
    const { split, channels, expectSize, onError = "throw", maxDecodedBytes } = options;
    checkChannels(channels, op);
    checkSize(expectSize, op);
    if (onError !== "throw" && onError !== "skip") {
      throw new RangeError(`${op}: onError must be "throw" or "skip", got ${onError}`);
    }
    const validate = options.validate === true ? "header" : options.validate ?? (onError === "skip" ? "header" : false);
    if (validate !== false && validate !== "header" && validate !== "decode") {
      throw new RangeError(`${op}: validate must be false, true, "header" or "decode", got ${options.validate}`);
    }
    const extensions = (options.extensions ?? IMAGE_EXTENSIONS).map((e) => e.toLowerCase());
    if (!(await isDirectory(root))) throw new DatasetError(root, `${op}: dataset root is not a folder`);
    let base = root;
    if (split !== undefined) {
      if (typeof split !== "string" || split === "" || /[\\/]/.test(split)) {
        throw new TypeError(`${op}: split must be a folder name such as "train", got ${JSON.stringify(split)}`);
      }
      base = joinPath(root, split);
      if (!(await isDirectory(base))) {
        const found = (await listDir(root)).filter((e) => e.isDirectory).map((e) => e.name);
        throw new DatasetError(base, `no "${split}" split folder (folders in the root: ${found.join(", ") || "none"})`);
      }
    }
    const folders = (await listDir(base)).filter((e) => e.isDirectory).map((e) => e.name);
    let classes: string[];
    if (options.classes) {
      classes = [...options.classes];
      if (new Set(classes).size !== classes.length || classes.some((c) => typeof c !== "string" || c === "")) {
        throw new TypeError(`${op}: classes must be distinct non-empty names, got ${JSON.stringify(classes)}`);
      }
      const known = new Set(classes);
      const unknown = folders.filter((f) => !known.has(f));
      if (unknown.length) {
        throw new DatasetError(
          joinPath(base, unknown[0]),
          `class folder "${unknown[0]}" is not one of the given classes [${classes.join(", ")}]`,
        );
      }
    } else {
      classes = folders;
      if (!classes.length) throw new DatasetError(base, "no class folders found (expected <class>/<image> inside)");
    }

    const skipped: SkipReport = { skipped: [] };
    const fail = (file: string, problem: string): void => {
      if (onError === "throw") throw new DatasetError(file, problem);
      skipped.skipped.push({ file, reason: problem });
    };
    const prefix = split !== undefined ? `${split}/` : "";
    let entries: ImageFolderEntry[] = [];
    for (let label = 0; label < classes.length; label++) {
      const dir = joinPath(base, classes[label]);
      if (!folders.includes(classes[label])) {
        fail(dir, `no folder for class "${classes[label]}"`);
        continue;
      }
      const listing = await listDir(dir);
      const images = listing.filter((e) => e.isFile && extensions.some((x) => e.name.toLowerCase().endsWith(x)));
      if (!images.length) {
        const hint = listing.some((e) => e.isDirectory)
          ? `; it holds folders — if the root is split into train/val/... folders, pass { split }`
          : "";
        fail(dir, `class folder has no images (looked for ${extensions.join(" ")})${hint}`);
        continue;
      }
      for (const f of images) {
        entries.push({ path: joinPath(dir, f.name), id: `${prefix}${classes[label]}/${f.name}`, label });
      }
    }
    if (validate) {
      const problems = await checkImageFiles(entries.map((e) => e.path), {
        mode: validate,
        expectSize,
        concurrency: options.concurrency,
        maxDecodedBytes,
      });
      problems.forEach((p, i) => p && fail(entries[i].path, p));
      entries = entries.filter((_, i) => problems[i] === null);
    }
    if (!entries.length) throw new DatasetError(base, "no readable images found");
    return new ImageFolder(root, split, classes, entries, skipped, { channels, expectSize, maxDecodedBytes });
  }

  /** Number of images. */
  get length(): number {
    return this.entries.length;
  }

  /** Class index of every image, without decoding. */
  labels(): Int32Array {
    return this.#labels.slice();
  }

  /** Number of images per class, by class index. */
  classCounts(): number[] {
    const counts = new Array<number>(this.classes.length).fill(0);
    for (const l of this.#labels) counts[l]++;
    return counts;
  }

  /** Decodes image `index`; a file that cannot be decoded throws a {@linkcode DatasetError} naming it. */
  async get(index: number): Promise<Sample<Raster>> {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`ImageFolder.get: index must be an integer in [0, ${this.length}), got ${index}`);
    }
    const e = this.entries[index];
    const image = await readRasterFile(e.path, this.#read);
    return { image, label: e.label, id: e.id, meta: { path: e.path, className: this.classes[e.label] } };
  }

  /** Saves the class list and `classToIndex` as JSON, atomically (read back with {@linkcode loadClassMap}). */
  async saveClassMap(path: string): Promise<void> {
    await writeJsonAtomic(path, {
      format: CLASS_MAP_FORMAT,
      classes: this.classes,
      classToIndex: Object.fromEntries(this.classToIndex),
    });
  }
}

const CLASS_MAP_FORMAT = "meddiff-classes";

/**
 * Reads a class list saved by {@linkcode ImageFolder.saveClassMap}, or a plain
 * `{"name": index, ...}` object (torchvision's `class_to_idx`), as names in index order.
 */
export async function loadClassMap(path: string): Promise<string[]> {
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new DatasetError(path, `cannot read the class map (${message(e)})`, { cause: e });
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new DatasetError(path, "expected a JSON object with the class names");
  }
  const obj = raw as Record<string, unknown>;
  const map = (obj.format === CLASS_MAP_FORMAT ? obj.classToIndex : obj) as Record<string, unknown>;
  if (map === null || typeof map !== "object") throw new DatasetError(path, `"classToIndex" must be an object`);
  const names = Object.keys(map);
  const out = new Array<string>(names.length);
  for (const name of names) {
    const i = map[name];
    if (typeof i !== "number" || !Number.isInteger(i) || i < 0 || i >= names.length || out[i] !== undefined) {
      throw new DatasetError(path, `class indices must be 0..${names.length - 1}, each once; "${name}" has ${i}`);
    }
    out[i] = name;
  }
  return out;
}
