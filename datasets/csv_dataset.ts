/**
 * Images listed in a CSV file, as Kaggle-style medical sets ship them (APTOS 2019:
 * `id_code,diagnosis` + `train_images/<id_code>.png`; ISIC: one 0/1 column per diagnosis), and
 * {@linkcode parseCsv}, a small RFC 4180 parser (quoted fields, `""` escapes, line breaks inside
 * quotes, LF / CRLF / CR line ends, a UTF-8 byte-order mark).
 *
 * Every row is checked when the dataset opens — a missing image file, an id that leads outside
 * `imageDir` (`../x`, an absolute path), a label that is not an integer or is out of range, a
 * duplicate id — and a problem throws a {@linkcode DatasetError} naming the CSV file and line (or, under `onError: "skip"`, drops the row and lists it in
 * `skipReport`). Image contents are checked as {@linkcode ImageFolder} does (see `validate`).
 *
 * @example
 * ```ts
 * const ds = await CsvImageDataset.open({
 *   csv: "aptos/train.csv", imageDir: "aptos/train_images",
 *   idColumn: "id_code", labelColumn: "diagnosis", extension: ".png", numClasses: 5,
 * });
 * ```
 * @module
 */
import { isFile } from "../util/io.ts";
import { checkImageFiles, type ImageSize, readRasterFile, type ReadRasterOptions } from "./image_folder.ts";
import { type Dataset, DatasetError, type OnError, type Raster, type Sample, type SkipReport } from "./types.ts";
import { joinPath } from "../util/path.ts";

/** A parsed CSV file: the header and the records, each with the line it starts on. */
export interface CsvTable {
  /** Column names (the first record). */
  header: string[];
  /** Data records (blank lines left out); fields are not trimmed. */
  rows: string[][];
  /** 1-based line number on which each row starts (parallel to `rows`). */
  lines: number[];
}

/** Options of {@linkcode parseCsv}. */
export interface ParseCsvOptions {
  /** Name used in error messages (default `"<csv>"`). */
  file?: string;
  /** Field separator, one character (default `","`). */
  delimiter?: string;
}

/**
 * Parses CSV text (RFC 4180): fields may be quoted with `"`, a quote inside a quoted field is
 * written `""`, quoted fields may contain delimiters and line breaks; records end at LF, CRLF
 * or CR; a leading byte-order mark is dropped; blank lines are skipped. Text after a closing
 * quote, or a quote left open, throws a {@linkcode DatasetError} with the file and line.
 */
export function parseCsv(text: string, options: ParseCsvOptions = {}): CsvTable {
  const file = options.file ?? "<csv>";
  const delim = options.delimiter ?? ",";
  if (delim.length !== 1 || delim === '"' || delim === "\n" || delim === "\r") {
    throw new RangeError(`parseCsv: delimiter must be one character other than a quote or line break, got "${delim}"`);
  }
  const records: string[][] = [];
  const lines: number[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let record: string[] = [];
  let recordLine = 1;
  let field = "";
  let fieldQuoted = false;
  const endRecord = (): void => {
    record.push(field);
    // A blank line is one empty unquoted field: skip it.
    if (!(record.length === 1 && field === "" && !fieldQuoted)) {
      records.push(record);
      lines.push(recordLine);
    }
    record = [];
    field = "";
    fieldQuoted = false;
  };
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === '"' && field === "" && !fieldQuoted) {
      const start = line;
      fieldQuoted = true;
      i++;
      let closed = false;
      while (i < n) {
        const q = text[i];
        if (q === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          closed = true;
          break;
        }
        if (q === "\r" || q === "\n") {
          // Keep the line break, counting CRLF as one line.
          if (q === "\r" && text[i + 1] === "\n") {
            field += "\r\n";
            i += 2;
          } else {
            field += q;
            i++;
          }
          line++;
          continue;
        }
        field += q;
        i++;
      }
      if (!closed) throw new DatasetError(file, `line ${start}: a quoted field is never closed`);
      const after = text[i];
      if (i < n && after !== delim && after !== "\r" && after !== "\n") {
        throw new DatasetError(file, `line ${line}: unexpected ${JSON.stringify(after)} after a closing quote`);
      }
      continue;
    }
    if (c === delim) {
      record.push(field);
      field = "";
      fieldQuoted = false;
      i++;
    } else if (c === "\r" || c === "\n") {
      endRecord();
      i += c === "\r" && text[i + 1] === "\n" ? 2 : 1;
      line++;
      recordLine = line;
    } else {
      field += c;
      i++;
    }
  }
  if (field !== "" || fieldQuoted || record.length) endRecord();
  if (!records.length) throw new DatasetError(file, "the CSV file is empty (expected a header line)");
  return { header: records[0], rows: records.slice(1), lines: lines.slice(1) };
}

/** Options of {@linkcode CsvImageDataset.open}. */
export interface CsvImageDatasetOptions {
  /** Path of the CSV file (first line: column names). */
  csv: string;
  /** Folder holding the images; a row's image is `imageDir/<id><extension>`. */
  imageDir: string;
  /** Column with the image id (e.g. `"id_code"`). */
  idColumn: string;
  /** Column with the integer class index (e.g. `"diagnosis"`). */
  labelColumn?: string;
  /**
   * Multi-label: columns holding 0/1 per label (e.g. ISIC's `MEL,NV,BCC,...`) → `Sample.labels`.
   * Without `labelColumn`, `label` is the first positive column or -1.
   */
  labelColumns?: readonly string[];
  /** Appended to the id to make the file name (e.g. `".png"`; default `""`). */
  extension?: string;
  /** Labels must be below this (default: `classes.length`, or the number of `labelColumns`). */
  numClasses?: number;
  /** Class names by index (default: `labelColumns`, or none). */
  classes?: readonly string[];
  /** Convert images to 1 (greyscale) or 3 (sRGB) channels; default: as stored. */
  channels?: 1 | 3;
  /** Every image must have this size. */
  expectSize?: ImageSize;
  /** `"throw"` (default): stop at the first bad row; `"skip"`: drop it and list it in `skipReport`. */
  onError?: OnError;
  /**
   * Check every image when opening: `"header"`, `"decode"` or `false`. Default: `"header"`
   * under `onError: "skip"`, otherwise `false` (the files' existence is always checked).
   */
  validate?: boolean | "header" | "decode";
  /** Files checked at once while opening (default 8). */
  concurrency?: number;
  /** CSV field separator (default `","`). */
  delimiter?: string;
  /** Most bytes one decoded image may take (default: the decode limit, see `util/limits.ts`). */
  maxDecodedBytes?: number;
}

/** One row of a {@linkcode CsvImageDataset}. */
export interface CsvImageEntry {
  /** The id column's value (trimmed). */
  id: string;
  /** Image file path. */
  path: string;
  /** Class index (-1 when the set has no labels or no positive label). */
  label: number;
  /** Multi-label targets, when `labelColumns` was given. */
  labels?: number[];
  /** The CSV line the row starts on. */
  line: number;
}

function parseLabel(value: string): number | null {
  const v = value.trim();
  if (v === "" || !/^[+-]?\d+(\.0*)?$/.test(v)) return null;
  return Number(v);
}

/** Why the image path `relative` (an id plus extension) would leave the image folder, or null. */
function leavesFolder(relative: string): string | null {
  if (/^([\\/]|[A-Za-z]:)/.test(relative)) return "is an absolute path";
  let depth = 0;
  for (const part of relative.split(/[\\/]+/)) {
    if (part === "..") depth--;
    else if (part !== "." && part !== "") depth++;
    if (depth < 0) return "leads outside the image folder";
  }
  return null;
}

/**
 * A dataset of images named by the rows of a CSV file. Samples are uint8 HWC rasters with
 * `id` = the id column, `meta.path` and `meta.csvLine`.
 */
export class CsvImageDataset implements Dataset<Sample<Raster>> {
  /** The CSV file read. */
  readonly csv: string;
  /** Class names by index, when known. */
  readonly classes?: readonly string[];
  /** The rows kept, in CSV order. */
  readonly entries: readonly CsvImageEntry[];
  /** Rows left out under `onError: "skip"`, with the reasons. */
  readonly skipReport: SkipReport;
  /** Class index of every sample; present when the CSV has a label column or label columns. */
  readonly labels?: () => Int32Array;
  readonly #read: ReadRasterOptions;

  private constructor(
    csv: string,
    classes: readonly string[] | undefined,
    entries: CsvImageEntry[],
    skipped: SkipReport,
    labelled: boolean,
    read: ReadRasterOptions,
  ) {
    this.csv = csv;
    if (classes) this.classes = Object.freeze([...classes]);
    this.entries = Object.freeze(entries);
    this.skipReport = skipped;
    if (labelled) {
      const labels = Int32Array.from(entries, (e) => e.label);
      this.labels = () => labels.slice();
    }
    this.#read = read;
  }

  /** Reads and checks the CSV (and the images, when asked) and returns the dataset. */
  static async open(options: CsvImageDatasetOptions): Promise<CsvImageDataset> {
    const op = "CsvImageDataset.open";
    const { csv, imageDir, idColumn, labelColumn, labelColumns, extension = "", onError = "throw" } = options;
    for (const [k, v] of [["csv", csv], ["imageDir", imageDir], ["idColumn", idColumn]] as const) {
      if (typeof v !== "string" || v === "") throw new TypeError(`${op}: ${k} must be a non-empty string, got ${v}`);
    }
    if (onError !== "throw" && onError !== "skip") {
      throw new RangeError(`${op}: onError must be "throw" or "skip", got ${onError}`);
    }
    const validate = options.validate === true ? "header" : options.validate ?? (onError === "skip" ? "header" : false);
    if (validate !== false && validate !== "header" && validate !== "decode") {
      throw new RangeError(`${op}: validate must be false, true, "header" or "decode", got ${options.validate}`);
    }
    if (labelColumns !== undefined && (!Array.isArray(labelColumns) || labelColumns.length === 0)) {
      throw new TypeError(`${op}: labelColumns must be a non-empty array of column names`);
    }
    const classes = options.classes ?? labelColumns;
    const numClasses = options.numClasses ?? classes?.length;
    if (numClasses !== undefined && (!Number.isInteger(numClasses) || numClasses < 1)) {
      throw new RangeError(`${op}: numClasses must be a positive integer, got ${numClasses}`);
    }
    if (options.classes && numClasses !== options.classes.length) {
      throw new RangeError(`${op}: numClasses (${numClasses}) differs from classes.length (${options.classes.length})`);
    }

    let text: string;
    try {
      text = await Deno.readTextFile(csv);
    } catch (e) {
      throw new DatasetError(csv, `cannot read the CSV file (${e instanceof Error ? e.message : e})`, { cause: e });
    }
    const table = parseCsv(text, { file: csv, delimiter: options.delimiter });
    const header = table.header.map((h) => h.trim());
    const column = (name: string, what: string): number => {
      const k = header.indexOf(name);
      if (k < 0) throw new DatasetError(csv, `line 1: no ${what} column "${name}" (columns: ${header.join(", ")})`);
      return k;
    };
    const idCol = column(idColumn, "id");
    const labelCol = labelColumn !== undefined ? column(labelColumn, "label") : -1;
    const multiCols = labelColumns?.map((c) => column(c, "label")) ?? [];

    const bad: { line: number; reason: string }[] = [];
    const fail = (line: number, problem: string, field?: string): void => {
      if (onError === "throw") throw new DatasetError(csv, `line ${line}: ${problem}`, { field });
      bad.push({ line, reason: problem });
    };
    let entries: CsvImageEntry[] = [];
    const seen = new Map<string, number>();
    rows: for (let r = 0; r < table.rows.length; r++) {
      const row = table.rows[r], line = table.lines[r];
      if (row.length !== header.length) {
        fail(line, `expected ${header.length} fields like the header, got ${row.length}`);
        continue;
      }
      const id = row[idCol].trim();
      if (id === "") {
        fail(line, `empty id in column "${idColumn}"`, idColumn);
        continue;
      }
      // The id names a file: it must stay inside imageDir.
      const outside = leavesFolder(id + extension);
      if (outside) {
        fail(line, `id "${id}" ${outside}; ids must name files inside the image folder ${imageDir}`, idColumn);
        continue;
      }
      if (seen.has(id)) {
        fail(line, `id "${id}" already appeared on line ${seen.get(id)}`);
        continue;
      }
      let label = -1;
      if (labelCol >= 0) {
        const l = parseLabel(row[labelCol]);
        if (l === null) {
          fail(line, `label "${row[labelCol]}" in column "${labelColumn}" is not an integer`, labelColumn);
          continue;
        }
        if (l < 0 || (numClasses !== undefined && l >= numClasses)) {
          fail(line, `label ${l} in column "${labelColumn}" is out of range [0, ${numClasses ?? "∞"})`, labelColumn);
          continue;
        }
        label = l;
      }
      let labels: number[] | undefined;
      if (multiCols.length) {
        labels = [];
        for (let j = 0; j < multiCols.length; j++) {
          const v = parseLabel(row[multiCols[j]]);
          if (v !== 0 && v !== 1) {
            fail(line, `value "${row[multiCols[j]]}" in label column "${labelColumns![j]}" must be 0 or 1`);
            continue rows;
          }
          labels.push(v);
        }
        if (labelCol < 0) label = labels.indexOf(1);
      }
      seen.set(id, line);
      const entry: CsvImageEntry = { id, path: joinPath(imageDir, id + extension), label, line };
      if (labels) entry.labels = labels;
      entries.push(entry);
    }

    // Image files: existence always, contents when asked.
    const present = await Promise.all(entries.map((e) => isFile(e.path)));
    entries.forEach((e, i) => !present[i] && fail(e.line, `image file ${e.path} not found (id "${e.id}")`));
    entries = entries.filter((_, i) => present[i]);
    if (validate) {
      const problems = await checkImageFiles(entries.map((e) => e.path), {
        mode: validate,
        expectSize: options.expectSize,
        concurrency: options.concurrency,
        maxDecodedBytes: options.maxDecodedBytes,
      });
      problems.forEach((p, i) => p && fail(entries[i].line, `image ${entries[i].path}: ${p}`));
      entries = entries.filter((_, i) => problems[i] === null);
    }
    if (!entries.length) throw new DatasetError(csv, "no usable rows (every row was skipped or the file has none)");
    const skipped: SkipReport = {
      skipped: bad.sort((a, b) => a.line - b.line).map((b) => ({ file: `${csv}:${b.line}`, reason: b.reason })),
    };
    const labelled = labelCol >= 0 || multiCols.length > 0;
    return new CsvImageDataset(csv, classes, entries, skipped, labelled, {
      channels: options.channels,
      expectSize: options.expectSize,
      maxDecodedBytes: options.maxDecodedBytes,
    });
  }

  /** Number of samples. */
  get length(): number {
    return this.entries.length;
  }

  /** Decodes the image of row `index`; a bad file throws a {@linkcode DatasetError} naming it and its CSV line. */
  async get(index: number): Promise<Sample<Raster>> {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`CsvImageDataset.get: index must be an integer in [0, ${this.length}), got ${index}`);
    }
    const e = this.entries[index];
    let image: Raster;
    try {
      image = await readRasterFile(e.path, this.#read);
    } catch (err) {
      if (!(err instanceof DatasetError)) throw err;
      throw new DatasetError(err.file, `${err.problem} (${this.csv} line ${e.line})`, { cause: err });
    }
    const sample: Sample<Raster> = { image, label: e.label, id: e.id, meta: { path: e.path, csvLine: e.line } };
    if (e.labels) sample.labels = e.labels.slice();
    return sample;
  }
}
