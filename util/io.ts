/**
 * Atomic file writes shared by every layer: the bytes go to a temporary file next to the
 * target, are flushed to disk, and the file is renamed over the target. A reader sees the old
 * file or the new one, never a partial one; on failure the target is untouched and the
 * temporary file removed, and a {@linkcode WriteError} names the file and what was being written.
 * @module
 */
import { WriteError } from "./errors.ts";

/** Options of {@linkcode writeFileAtomic}. */
export interface WriteAtomicOptions {
  /** Create the parent folder first (default false). */
  mkdir?: boolean;
  /** What is written, for the {@linkcode WriteError} (`"the checkpoint"`; default `"the file"`). */
  what?: string;
}

const encoder = new TextEncoder();

/** A fresh temporary name in `path`'s folder: `.<name>.<random>.tmp`. */
function tempNameFor(path: string): { dir: string; tmp: string } {
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  const dir = path.slice(0, slash + 1);
  return { dir, tmp: `${dir}.${path.slice(slash + 1)}.${crypto.randomUUID().slice(0, 8)}.tmp` };
}

function checkPath(path: unknown, fn: string): asserts path is string {
  if (typeof path !== "string" || path === "") throw new TypeError(`${fn}: path must be a non-empty string`);
}

/** Writes `data` (bytes or UTF-8 text) to `path` atomically (see the module doc). */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  opts: WriteAtomicOptions = {},
): Promise<void> {
  checkPath(path, "writeFileAtomic");
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  const { dir, tmp } = tempNameFor(path);
  let file: Deno.FsFile | undefined;
  try {
    if (opts.mkdir && dir !== "") await Deno.mkdir(dir, { recursive: true });
    file = await Deno.open(tmp, { write: true, createNew: true });
    for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
    await file.syncData();
    file.close();
    file = undefined;
    await Deno.rename(tmp, path);
  } catch (e) {
    try {
      file?.close();
    } catch { /* already closed */ }
    await Deno.remove(tmp).catch(() => {});
    throw new WriteError(path, opts.what ?? "the file", e);
  }
}

/** The synchronous form of {@linkcode writeFileAtomic} (for exit paths that cannot await). */
export function writeFileAtomicSync(path: string, data: Uint8Array | string, opts: WriteAtomicOptions = {}): void {
  checkPath(path, "writeFileAtomicSync");
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  const { dir, tmp } = tempNameFor(path);
  try {
    if (opts.mkdir && dir !== "") Deno.mkdirSync(dir, { recursive: true });
    Deno.writeFileSync(tmp, bytes, { createNew: true });
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch { /* never created */ }
    throw new WriteError(path, opts.what ?? "the file", e);
  }
}

/** Writes `value` as indented JSON (with a final newline) to `path` atomically. */
export function writeJsonAtomic(path: string, value: unknown, opts: WriteAtomicOptions = {}): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(value, null, 1) + "\n", opts);
}

/** Whether `path` is a file (false when it is missing or unreadable). */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** Whether `path` is a folder (false when it is missing or unreadable). */
export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}
