/**
 * How much decoded data one file may produce. Every reader checks the size a header declares
 * against this limit before it allocates or inflates anything, and inflates with a running cap,
 * so a 0.5 MB file that declares (or inflates to) gigabytes fails at once with both sizes named
 * instead of exhausting memory.
 *
 * The limit, in order of precedence: a reader's `maxDecodedBytes` option; the
 * `MEDDIFF_MAX_DECODED_BYTES` environment variable (bytes, or a number with KiB/MiB/GiB/TiB or
 * K/M/G/T, e.g. `16GiB`); otherwise 4 GiB or the machine's available memory, whichever is
 * smaller (4 GiB when the memory cannot be read, e.g. without `--allow-sys=systemMemoryInfo`).
 * @module
 */
import { DatasetError, SizeLimitError } from "./errors.ts";

/** The environment variable that overrides the default decode limit. */
export const DECODE_LIMIT_ENV = "MEDDIFF_MAX_DECODED_BYTES";

/** The default decode limit before the machine's memory is considered: 4 GiB. */
export const DEFAULT_DECODE_LIMIT = 4 * 1024 ** 3;

/** Options every reader of compressed or header-sized data accepts. */
export interface DecodeLimitOptions {
  /** Most bytes of decoded data one file may produce (default: {@linkcode decodeLimit}). */
  maxDecodedBytes?: number;
}

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1e3,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1e6,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1e9,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1e12,
  tib: 1024 ** 4,
};

/** Parses `"4294967296"`, `"16GiB"`, `"512M"`, `"2 GB"`; null when it is none of these. */
export function parseByteSize(text: string): number | null {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?(?:e[0-9]+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return null;
  const unit = UNITS[m[2].toLowerCase()];
  if (unit === undefined) return null;
  const v = Math.floor(Number(m[1]) * unit);
  return Number.isFinite(v) && v > 0 ? v : null;
}

let memoryRead: { at: number; bytes: number | null } | undefined;

/** Available memory, read at most once a second (a data set of small files asks per file). */
function availableMemory(): number | null {
  const now = performance.now();
  if (memoryRead && now - memoryRead.at < 1000) return memoryRead.bytes;
  let bytes: number | null;
  try {
    const info = Deno.systemMemoryInfo();
    bytes = info.available > 0 ? info.available : null;
  } catch {
    bytes = null; // no --allow-sys=systemMemoryInfo, or not supported here
  }
  memoryRead = { at: now, bytes };
  return bytes;
}

function envLimit(): number | null {
  let text: string | undefined;
  try {
    text = Deno.env.get(DECODE_LIMIT_ENV);
  } catch {
    return null; // no --allow-env: the variable cannot be set for us anyway
  }
  if (text === undefined || text.trim() === "") return null;
  const v = parseByteSize(text);
  if (v === null) {
    throw new DatasetError(
      DECODE_LIMIT_ENV,
      `"${text}" is not a size (expected bytes, or a number with KiB/MiB/GiB/TiB, e.g. 16GiB)`,
    );
  }
  return v;
}

/** The decode limit in force: `option`, else the environment variable, else min(4 GiB, available memory). */
export function decodeLimit(option?: number): number {
  if (option !== undefined) {
    if (!(option > 0)) throw new RangeError(`maxDecodedBytes must be a positive number of bytes, got ${option}`);
    return option;
  }
  const env = envLimit();
  if (env !== null) return env;
  const free = availableMemory();
  return free === null ? DEFAULT_DECODE_LIMIT : Math.min(DEFAULT_DECODE_LIMIT, free);
}

/**
 * Throws a {@linkcode SizeLimitError} when `declared` bytes exceed the limit (`what` says where
 * the size came from, e.g. `"the header declares 512×1024×1024 int16 voxels:"`).
 */
export function checkDeclaredSize(
  file: string,
  what: string,
  declared: number,
  limit: number,
  field?: string,
): void {
  if (!(declared <= limit)) throw new SizeLimitError(file, what, declared, limit, { field });
}
