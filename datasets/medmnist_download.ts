/**
 * Fetching and verifying MedMNIST files: {@linkcode downloadMedMnist} downloads a file from the
 * official Zenodo record into place atomically and checks its MD5 against the built-in table;
 * {@linkcode md5File} / {@linkcode verifyMd5} check any file.
 * @module
 */
import { createHash } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { DatasetError } from "./types.ts";
import { checkMedMnistSize, medmnistFileName, medmnistInfoFor, medmnistUrl } from "./medmnist_info.ts";

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
  const info = medmnistInfoFor(name, op);
  checkMedMnistSize(info, size, op);
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
