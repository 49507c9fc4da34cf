/**
 * Run folders: every training or sampling run writes into its own folder
 * `runs/<name>-<YYYYmmdd-HHMMSS>[-n]`, created so that two runs never share one:
 *
 * ```text
 * runs/ddpm-20260105-143012/
 *   config.yaml      resolved configuration (written by saveResolvedConfig)
 *   train.log        timestamped log lines (Logger)
 *   metrics.jsonl    one JSON object per line (JsonlWriter)
 *   events.out.tfevents.…   TensorBoard scalars and images (SummaryWriter)
 *   checkpoints/     safetensors checkpoints
 *   samples/         PNG figures and generated images
 * ```
 *
 * Also the file helpers the tasks share: {@linkcode writeNew} (never replaces a file),
 * {@linkcode JsonlWriter} and {@linkcode readJsonl}. Atomic replacement is `writeFileAtomic` in
 * util/io.ts; path helpers are util/path.ts.
 *
 * @module
 */

import { writeFileAtomic } from "../util/io.ts";
import { WriteError } from "../util/errors.ts";
import { baseName, joinPath } from "../util/path.ts";

/** Paths inside one run folder. */
export interface RunDir {
  /** The run folder itself. */
  readonly path: string;
  /** Folder name, e.g. `ddpm-20260105-143012`. */
  readonly name: string;
  /** `<path>/config.yaml`. */
  readonly configPath: string;
  /** `<path>/train.log`. */
  readonly logPath: string;
  /** `<path>/metrics.jsonl`. */
  readonly metricsPath: string;
  /** `<path>/checkpoints`. */
  readonly checkpointsDir: string;
  /** `<path>/samples`. */
  readonly samplesDir: string;
}

/** Options of {@linkcode createRunDir}. */
export interface CreateRunDirOptions {
  /** Time used for the folder's timestamp (default: now, local time). */
  now?: Date;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function tempName(path: string): string {
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  const dir = slash >= 0 ? path.slice(0, slash + 1) : "";
  return `${dir}.${path.slice(slash + 1)}.${crypto.randomUUID().slice(0, 8)}.tmp`;
}

async function writeTemp(path: string, bytes: Uint8Array): Promise<string> {
  const tmp = tempName(path);
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true });
    for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
    await file.syncData();
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  } finally {
    file?.close();
  }
  return tmp;
}

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? new TextEncoder().encode(data) : data;
}

/**
 * Writes `data` to `path` only if no file of that name exists, atomically (temporary file, then
 * a hard link, which fails rather than replace). Returns false, writing nothing, when `path`
 * already exists. Falls back to an exclusive create where the file system has no hard links.
 */
export async function writeNew(path: string, data: Uint8Array | string): Promise<boolean> {
  if (typeof path !== "string" || path === "") throw new TypeError("writeNew: path must be a non-empty string");
  const bytes = toBytes(data);
  let tmp: string | undefined;
  try {
    tmp = await writeTemp(path, bytes);
    try {
      await Deno.link(tmp, path);
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) return false;
      // No hard links here (some network or FAT file systems): exclusive create instead.
      let file: Deno.FsFile;
      try {
        file = await Deno.open(path, { write: true, createNew: true });
      } catch (e2) {
        if (e2 instanceof Deno.errors.AlreadyExists) return false;
        throw e2;
      }
      try {
        for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
      } finally {
        file.close();
      }
      return true;
    }
  } catch (e) {
    throw new WriteError(path, "the file", e);
  } finally {
    if (tmp) await Deno.remove(tmp).catch(() => {});
  }
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/** `YYYYmmdd-HHMMSS` of `d` in local time. */
export function runTimestamp(d: Date): string {
  return `${d.getFullYear()}${pad2(d.getMonth() + 1)}${pad2(d.getDate())}-` +
    `${pad2(d.getHours())}${pad2(d.getMinutes())}${pad2(d.getSeconds())}`;
}

function runDirAt(path: string): RunDir {
  return {
    path,
    name: baseName(path),
    configPath: joinPath(path, "config.yaml"),
    logPath: joinPath(path, "train.log"),
    metricsPath: joinPath(path, "metrics.jsonl"),
    checkpointsDir: joinPath(path, "checkpoints"),
    samplesDir: joinPath(path, "samples"),
  };
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/**
 * Creates a new run folder `<root>/<name>-<YYYYmmdd-HHMMSS>` (appending `-1`, `-2`, … when that
 * exists: an existing folder is never reused) with empty `train.log` and `metrics.jsonl` and the
 * `checkpoints/` and `samples/` sub-folders. `config.yaml` is written by the caller
 * (`saveResolvedConfig`). `name` may contain letters, digits and `._+-`.
 */
export async function createRunDir(root = "runs", name = "run", opts: CreateRunDirOptions = {}): Promise<RunDir> {
  if (typeof root !== "string" || root === "") throw new TypeError("createRunDir: root must be a non-empty string");
  if (typeof name !== "string" || !NAME_RE.test(name)) {
    throw new TypeError(
      `createRunDir: name must start with a letter or digit and contain only letters, digits and "._+-", got ${
        JSON.stringify(name)
      }`,
    );
  }
  const now = opts.now ?? new Date();
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
    throw new TypeError("createRunDir: opts.now must be a valid Date");
  }
  try {
    await Deno.mkdir(root, { recursive: true });
  } catch (e) {
    throw new WriteError(root, "the folder of the runs", e);
  }
  const base = joinPath(root, `${name}-${runTimestamp(now)}`);
  for (let n = 0; n < 10000; n++) {
    const path = n === 0 ? base : `${base}-${n}`;
    try {
      await Deno.mkdir(path); // not recursive: fails when it exists, so two runs never share a folder
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) continue;
      throw new WriteError(path, "the run folder", e);
    }
    const run = runDirAt(path);
    try {
      await Deno.mkdir(run.checkpointsDir);
      await Deno.mkdir(run.samplesDir);
      await Deno.writeFile(run.logPath, new Uint8Array(0), { createNew: true });
      await Deno.writeFile(run.metricsPath, new Uint8Array(0), { createNew: true });
    } catch (e) {
      throw new WriteError(path, "the run folder", e);
    }
    return run;
  }
  throw new Error(`createRunDir: 10000 folders named ${base}-<n> exist already in ${root}`);
}

/**
 * Opens an existing run folder (to resume training or to sample from it): checks that `path` is
 * a folder holding `config.yaml`, and creates `checkpoints/` and `samples/` if they are missing.
 */
export async function openRunDir(path: string): Promise<RunDir> {
  if (typeof path !== "string" || path === "") throw new TypeError("openRunDir: path must be a non-empty string");
  path = path.length > 1 ? path.replace(/[\\/]+$/, "") : path;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`openRunDir: run folder ${path} does not exist`);
    throw new Error(`openRunDir: cannot read ${path}: ${errorText(e)}`);
  }
  if (!info.isDirectory) throw new Error(`openRunDir: ${path} is not a folder (expected a run folder)`);
  const run = runDirAt(path);
  try {
    const c = await Deno.stat(run.configPath);
    if (!c.isFile) throw new Error("not a file");
  } catch {
    throw new Error(`openRunDir: ${path} is not a run folder: it has no config.yaml`);
  }
  await Deno.mkdir(run.checkpointsDir, { recursive: true });
  await Deno.mkdir(run.samplesDir, { recursive: true });
  return run;
}

/** Replaces NaN and ±Infinity (which JSON cannot hold) by the strings "NaN", "Infinity", "-Infinity". */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) {
    return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
  }
  if (typeof value === "bigint") return Number(value);
  return value;
}

/**
 * Appends JSON objects to a file, one per line (JSON Lines). Each line is written with a single
 * write call as soon as {@linkcode JsonlWriter.write} is called (no buffering in this process),
 * so a crash loses at most the line being written. NaN and ±Infinity are written as the strings
 * "NaN", "Infinity" and "-Infinity"; {@linkcode readJsonl} turns them back into numbers.
 */
export class JsonlWriter {
  /** The file written to. */
  readonly path: string;
  #file: Deno.FsFile | undefined;
  #enc = new TextEncoder();

  /** Opens `path` for appending (creating it if needed). */
  constructor(path: string) {
    if (typeof path !== "string" || path === "") throw new TypeError("JsonlWriter: path must be a non-empty string");
    this.path = path;
    try {
      this.#file = Deno.openSync(path, { append: true, create: true });
    } catch (e) {
      throw new WriteError(path, "JSON lines", e);
    }
  }

  /** Appends `record` as one line. */
  write(record: Record<string, unknown>): void {
    if (!this.#file) throw new Error(`JsonlWriter ${this.path}: write after close`);
    if (record === null || typeof record !== "object" || Array.isArray(record)) {
      throw new TypeError(`JsonlWriter ${this.path}: record must be a plain object, got ${typeof record}`);
    }
    const bytes = this.#enc.encode(JSON.stringify(record, jsonReplacer) + "\n");
    try {
      for (let done = 0; done < bytes.length;) done += this.#file.writeSync(bytes.subarray(done));
    } catch (e) {
      throw new WriteError(this.path, "JSON lines", e);
    }
  }

  /** Flushes the file's data to disk (fsync). */
  sync(): void {
    this.#file?.syncDataSync();
  }

  /** Closes the file; later writes throw. */
  close(): void {
    this.#file?.close();
    this.#file = undefined;
  }

  /** Same as {@linkcode JsonlWriter.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function reviveNumbers(_key: string, value: unknown): unknown {
  if (value === "NaN") return NaN;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  return value;
}

/**
 * Reads a JSON Lines file written by {@linkcode JsonlWriter}. Empty lines are skipped, and so is
 * a last line without its newline (a write cut short by a crash); any other line that is not
 * JSON is an error naming the file and line.
 */
export async function readJsonl(path: string): Promise<Record<string, unknown>[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`readJsonl: cannot read ${path}: ${errorText(e)}`);
  }
  const lines = text.split("\n");
  const torn = !text.endsWith("\n");
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    try {
      out.push(JSON.parse(line, reviveNumbers));
    } catch (e) {
      if (torn && i === lines.length - 1) break; // a last line cut short by a crash
      throw new Error(`readJsonl: ${path} line ${i + 1} is not JSON: ${errorText(e)}`);
    }
  }
  return out;
}

/**
 * Rewrites the JSON Lines file at `path` (atomically) without the rows whose `step` is greater
 * than `step`: a resumed run replays those steps, so their rows are written again, not twice.
 * A missing file is left missing. Returns the number of rows dropped.
 */
export async function dropRowsAfterStep(path: string, step: number): Promise<number> {
  try {
    await Deno.stat(path);
  } catch {
    return 0;
  }
  const rows = await readJsonl(path);
  const kept = rows.filter((r) => !(typeof r.step === "number" && r.step > step));
  if (kept.length === rows.length) return 0;
  await writeFileAtomic(path, kept.map((r) => JSON.stringify(r, jsonReplacer) + "\n").join(""), {
    what: "JSON lines",
  });
  return rows.length - kept.length;
}

/**
 * Whether a run folder holds a checkpoint (a `.safetensors` file in `checkpoints/`), i.e.
 * whether it has trained far enough to be resumed.
 */
export async function hasCheckpoint(run: RunDir): Promise<boolean> {
  try {
    for await (const e of Deno.readDir(run.checkpointsDir)) {
      if (e.isFile && e.name.endsWith(".safetensors") && !e.name.startsWith(".")) return true;
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return false;
}
