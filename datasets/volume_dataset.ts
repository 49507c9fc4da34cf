/**
 * {@linkcode NiftiDataset}: a classification (or unlabelled) dataset over NIfTI volumes, listed
 * explicitly, found in a folder, or named by the rows of a CSV file, with labels from the CSV
 * or from a map. Each sample's image is an {@linkcode ArrayImage} of shape `[C, D, H, W]` =
 * `[1, z, y, x]` (see `nifti.ts` for the layout), ready for the 3D transforms in
 * `transforms/volume.ts` and for `conv3d`; a 4D file's time axis becomes the channels
 * (`[t, z, y, x]`), RGB data is split into 3 channels. Volumes are decoded lazily in `get()`.
 *
 * A sample's `id` is the file name without `.nii`/`.nii.gz`/`.hdr`; its `meta` has the `path`,
 * the NIfTI `affine`, the voxel `spacing` in `[D, H, W]` order (`[dz, dy, dx]`), the NIfTI `dims`
 * and `datatype`.
 *
 * @example
 * ```ts
 * const ds = await NiftiDataset.open({
 *   dir: "data/brains", csv: { path: "data/labels.csv", idColumn: "subject", labelColumn: "dx" },
 *   classes: ["control", "patient"],
 * });
 * const { image, label } = await ds.get(0); // image.shape [1, 181, 217, 181]
 * ```
 * @module
 */
import { isFile } from "../util/io.ts";
import { parseCsv } from "./csv_dataset.ts";
import { type NiftiReadOptions, readNifti } from "./nifti.ts";
import { type ArrayImage, type Dataset, DatasetError, type OnError, type Sample, type SkipReport } from "./types.ts";
import { baseName, joinPath } from "../util/path.ts";
import { decodeLimit } from "../util/limits.ts";
import { nonFinitePolicy } from "./untrusted.ts";

/** File name endings {@linkcode NiftiDataset} picks up in a folder. */
export const NIFTI_EXTENSIONS: readonly string[] = [".nii.gz", ".nii", ".hdr", ".hdr.gz"];

/** Where {@linkcode NiftiDataset.open} finds labels in a CSV file. */
export interface NiftiCsvLabels {
  /** Path of the CSV file (first line: column names). */
  path: string;
  /** Column holding the volume id (the file name, with or without its extension). */
  idColumn: string;
  /** Column holding the integer class index; leave out for an unlabelled list. */
  labelColumn?: string;
  /** Field separator (default `","`). */
  delimiter?: string;
}

/**
 * Options of {@linkcode NiftiDataset.open}; `maxDecodedBytes` and `nonFinite` are passed to
 * {@linkcode readNifti} for every volume.
 */
export interface NiftiDatasetOptions extends NiftiReadOptions {
  /** Volume files. */
  files?: readonly string[];
  /** A folder: every file in it ending in one of {@linkcode NIFTI_EXTENSIONS} (not recursive). */
  dir?: string;
  /**
   * A CSV naming the volumes: the dataset is its rows, in order, each id found among `files`
   * or in `dir` (as given, or with `.nii.gz` / `.nii` added).
   */
  csv?: NiftiCsvLabels;
  /** Labels by id (file name without extension), file name or path. Every volume needs one. */
  labels?: Readonly<Record<string, number>> | ReadonlyMap<string, number>;
  /** Class names by index. */
  classes?: readonly string[];
  /** Labels must be below this (default `classes.length`). */
  numClasses?: number;
  /** `"throw"` (default): stop at the first problem; `"skip"`: leave the entry out and list it in `skipReport`. */
  onError?: OnError;
}

/** One volume of a {@linkcode NiftiDataset}. */
export interface NiftiEntry {
  /** File name without its NIfTI extension. */
  id: string;
  /** File path. */
  path: string;
  /** Class index, -1 when unlabelled. */
  label: number;
}

/** A volume's id as {@linkcode NiftiDataset} names it: its file name without a NIfTI extension. */
export function niftiId(name: string): string {
  const lower = name.toLowerCase();
  for (const ext of NIFTI_EXTENSIONS) if (lower.endsWith(ext)) return name.slice(0, name.length - ext.length);
  return name;
}

/** Turns a decoded volume into `[C, D, H, W]`. */
function toChannels(shape: number[], data: Float32Array, channels: number, file: string): ArrayImage {
  const spatial = channels > 1 ? shape.slice(0, -1) : shape.slice();
  if (spatial.length > 4 || (spatial.length === 4 && channels > 1)) {
    throw new DatasetError(
      file,
      `a ${spatial.length}D${channels > 1 ? " colour" : ""} volume does not fit [C, D, H, W]`,
    );
  }
  while (spatial.length < 3) spatial.unshift(1); // 1D/2D images: D (and H) of 1
  if (channels === 1) return { data, shape: spatial.length === 3 ? [1, ...spatial] : spatial };
  // interleaved RGB → channel planes
  const n = spatial.reduce((p, d) => p * d, 1);
  const out = new Float32Array(n * channels);
  for (let i = 0; i < n; i++) for (let c = 0; c < channels; c++) out[c * n + i] = data[i * channels + c];
  return { data: out, shape: [channels, ...spatial] };
}

/** NIfTI volumes with optional class labels; samples are `[C, D, H, W]` {@linkcode ArrayImage}s. */
export class NiftiDataset implements Dataset<Sample<ArrayImage>> {
  /** The volumes, in dataset order. */
  readonly entries: readonly NiftiEntry[];
  /** Class names by index, when given. */
  readonly classes?: readonly string[];
  /** Entries left out under `onError: "skip"`, with the reasons. */
  readonly skipReport: SkipReport;
  /** Class index of every sample; present when the dataset has labels. */
  readonly labels?: () => Int32Array;
  readonly #read: NiftiReadOptions;

  private constructor(
    entries: NiftiEntry[],
    classes: readonly string[] | undefined,
    skip: SkipReport,
    labelled: boolean,
    read: NiftiReadOptions,
  ) {
    this.#read = read;
    this.entries = Object.freeze(entries);
    if (classes) this.classes = Object.freeze([...classes]);
    this.skipReport = skip;
    if (labelled) {
      const labels = Int32Array.from(entries, (e) => e.label);
      this.labels = () => labels.slice();
    }
  }

  /** Lists the volumes, attaches labels and checks that every file exists. */
  static async open(options: NiftiDatasetOptions): Promise<NiftiDataset> {
    const op = "NiftiDataset.open";
    const { files, dir, csv, onError = "throw" } = options;
    if (onError !== "throw" && onError !== "skip") {
      throw new RangeError(`${op}: onError must be "throw" or "skip", got ${onError}`);
    }
    if (!files && !dir) throw new TypeError(`${op}: give files or dir`);
    nonFinitePolicy(options.nonFinite); // a bad option fails here, not at the first get()
    if (options.maxDecodedBytes !== undefined) decodeLimit(options.maxDecodedBytes);
    if (csv && options.labels) throw new TypeError(`${op}: give labels either in csv or in labels, not both`);
    const numClasses = options.numClasses ?? options.classes?.length;
    if (numClasses !== undefined && (!Number.isInteger(numClasses) || numClasses < 1)) {
      throw new RangeError(`${op}: numClasses must be a positive integer, got ${numClasses}`);
    }
    const skipped: { file: string; reason: string }[] = [];
    const fail = (file: string, problem: string): void => {
      if (onError === "throw") throw new DatasetError(file, problem);
      skipped.push({ file, reason: problem });
    };
    const checkLabel = (file: string, l: number, where: string): boolean => {
      if (!Number.isInteger(l) || l < 0 || (numClasses !== undefined && l >= numClasses)) {
        fail(file, `label ${l} ${where} is not an integer in [0, ${numClasses ?? "∞"})`);
        return false;
      }
      return true;
    };

    // Candidate files.
    let paths: string[] = files ? [...files] : [];
    if (dir) {
      try {
        for await (const e of Deno.readDir(dir)) {
          const lower = e.name.toLowerCase();
          if (e.isFile && NIFTI_EXTENSIONS.some((x) => lower.endsWith(x))) paths.push(joinPath(dir, e.name));
        }
      } catch (e) {
        throw new DatasetError(dir, `cannot list the folder (${e instanceof Error ? e.message : e})`, { cause: e });
      }
    }
    paths = [...new Set(paths)].sort();
    const byId = new Map<string, string>();
    for (const p of paths) {
      const id = niftiId(baseName(p));
      if (byId.has(id)) {
        fail(p, `two volumes have the id "${id}" (${byId.get(id)} and ${p})`);
        continue;
      }
      byId.set(id, p);
    }

    let entries: NiftiEntry[] = [];
    let labelled = false;
    if (csv) {
      let text: string;
      try {
        text = await Deno.readTextFile(csv.path);
      } catch (e) {
        throw new DatasetError(csv.path, `cannot read the CSV file (${e instanceof Error ? e.message : e})`, {
          cause: e,
        });
      }
      const table = parseCsv(text, { file: csv.path, delimiter: csv.delimiter });
      const header = table.header.map((h) => h.trim());
      const col = (name: string): number => {
        const k = header.indexOf(name);
        if (k < 0) throw new DatasetError(csv.path, `line 1: no column "${name}" (columns: ${header.join(", ")})`);
        return k;
      };
      const idCol = col(csv.idColumn);
      const labelCol = csv.labelColumn !== undefined ? col(csv.labelColumn) : -1;
      labelled = labelCol >= 0;
      const seen = new Set<string>();
      for (let r = 0; r < table.rows.length; r++) {
        const row = table.rows[r];
        const where = `${csv.path}:${table.lines[r]}`;
        const id = niftiId((row[idCol] ?? "").trim());
        if (!id) {
          fail(where, `empty id in column "${csv.idColumn}"`);
          continue;
        }
        if (seen.has(id)) {
          fail(where, `id "${id}" appears twice`);
          continue;
        }
        seen.add(id);
        let path = byId.get(id);
        if (!path && dir) {
          for (const ext of ["", ".nii.gz", ".nii"]) {
            const p = joinPath(dir, (row[idCol] ?? "").trim() + ext);
            if (await isFile(p)) {
              path = p;
              break;
            }
          }
        }
        if (!path) {
          fail(where, `no volume file for id "${id}"`);
          continue;
        }
        let label = -1;
        if (labelCol >= 0) {
          const text = (row[labelCol] ?? "").trim();
          label = /^[+-]?\d+$/.test(text) ? Number(text) : NaN;
          if (!checkLabel(where, label, `("${text}" in column "${csv.labelColumn}")`)) continue;
        }
        entries.push({ id, path, label });
      }
    } else {
      const map = options.labels;
      const lookup = map instanceof Map
        ? (k: string) => map.get(k)
        : map
        ? (k: string) => (Object.hasOwn(map, k) ? (map as Record<string, number>)[k] : undefined)
        : undefined;
      labelled = lookup !== undefined;
      for (const [id, path] of byId) {
        let label = -1;
        if (lookup) {
          const l = lookup(id) ?? lookup(baseName(path)) ?? lookup(path);
          if (l === undefined) {
            fail(path, `no label for "${id}" in the labels map`);
            continue;
          }
          if (!checkLabel(path, l, "in the labels map")) continue;
          label = l;
        }
        entries.push({ id, path, label });
      }
    }
    const present = await Promise.all(entries.map((e) => isFile(e.path)));
    entries.forEach((e, i) => !present[i] && fail(e.path, "file not found"));
    entries = entries.filter((_, i) => present[i]);
    if (!entries.length) {
      throw new DatasetError(csv?.path ?? dir ?? "<files>", "no usable NIfTI volumes (none found, or all skipped)");
    }
    const read = { maxDecodedBytes: options.maxDecodedBytes, nonFinite: options.nonFinite };
    return new NiftiDataset(entries, options.classes, { skipped }, labelled, read);
  }

  /** Number of volumes. */
  get length(): number {
    return this.entries.length;
  }

  /** Reads volume `index` as a `[C, D, H, W]` sample; a bad file throws a {@linkcode DatasetError} naming it. */
  async get(index: number): Promise<Sample<ArrayImage>> {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`NiftiDataset.get: index must be an integer in [0, ${this.length}), got ${index}`);
    }
    const e = this.entries[index];
    const v = await readNifti(e.path, this.#read);
    const image = toChannels(v.shape, v.data, v.meta.channels, e.path);
    const [dx, dy, dz] = v.meta.voxelSize;
    return {
      image,
      label: e.label,
      id: e.id,
      meta: {
        path: e.path,
        affine: v.meta.affine,
        spacing: [dz, dy, dx],
        dims: v.meta.dims,
        datatype: v.meta.datatype,
      },
    };
  }
}
