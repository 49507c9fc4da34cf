/**
 * Checked decompression for untrusted files: raw DEFLATE (ZIP members, deflated DICOM) and gzip
 * (`.nii.gz`, `.npy.gz`), inflated in a streaming way with a running cap on the output, so a
 * small file that inflates to gigabytes stops at the cap with a {@linkcode SizeLimitError}
 * instead of exhausting memory. {@linkcode gunzip} also verifies every gzip member's trailer
 * (CRC-32 and ISIZE, which fflate's one-shot functions ignore), so a corrupted `.nii.gz` fails
 * naming the file instead of loading with wrong voxels.
 * @module
 */
import { Gunzip, Inflate } from "fflate";
import { DatasetError, SizeLimitError } from "../errors.ts";
import { crc32 } from "./crc.ts";

/** Where the compressed bytes came from, and how much they may produce. */
export interface InflateOptions {
  /** The file, used in every error. */
  file: string;
  /** What is inflated, inside the file (e.g. `member "x.npy"`); prefixed to problems. */
  what?: string;
  /** Most bytes the output may reach (the decode limit, or a declared size). */
  limit: number;
  /**
   * Exact bytes the output must have, when a header or directory declares it: the buffer is
   * allocated once at this size, and a stream that inflates past it or stops short fails.
   */
  expectedBytes?: number;
}

/** Most compressed bytes per push, when the inflated size is known. */
const PUSH_CHUNK = 1 << 16;
/**
 * Compressed bytes per push when the inflated size is unknown: fflate inflates a whole pushed
 * chunk before reporting it, so small pushes keep a bomb's overshoot of the cap small.
 */
const PUSH_CHUNK_UNKNOWN = 1 << 14;
/** Inflated bytes one push should produce: fflate grows its output by copying, so keep it small. */
const PUSH_OUTPUT = 1 << 20;

/** Compressed bytes per push: about {@linkcode PUSH_OUTPUT} inflated, 4–64 KiB of input. */
function pushChunk(compressed: number, inflated: number | undefined): number {
  if (!inflated || !compressed) return PUSH_CHUNK_UNKNOWN;
  return Math.max(4096, Math.min(PUSH_CHUNK, Math.floor(PUSH_OUTPUT * compressed / inflated)));
}

/** Collects inflated chunks into one buffer under a running cap. */
class Sink {
  #buf: Uint8Array;
  length = 0;
  /** `sizeHint`: the likely output size (a gzip ISIZE), to allocate once when it is right. */
  constructor(private readonly opts: InflateOptions, sizeHint?: number) {
    const initial = opts.expectedBytes ?? Math.min(sizeHint || 1 << 20, opts.limit);
    this.#buf = new Uint8Array(initial);
  }
  push(chunk: Uint8Array): void {
    const next = this.length + chunk.length;
    const o = this.opts;
    if (o.expectedBytes !== undefined && next > o.expectedBytes) {
      throw new DatasetError(o.file, `${prefix(o)}inflates past the ${o.expectedBytes} bytes declared for it`);
    }
    if (next > o.limit) {
      throw new SizeLimitError(o.file, `${prefix(o)}the compressed data inflates to more than`, next, o.limit);
    }
    if (next > this.#buf.length) {
      const grown = new Uint8Array(Math.min(Math.max(next, 2 * this.#buf.length), o.limit));
      grown.set(this.#buf.subarray(0, this.length));
      this.#buf = grown;
    }
    this.#buf.set(chunk, this.length);
    this.length = next;
  }
  result(): Uint8Array {
    const o = this.opts;
    if (o.expectedBytes !== undefined && this.length !== o.expectedBytes) {
      throw new DatasetError(
        o.file,
        `${
          prefix(o)
        }inflates to ${this.length} bytes, ${o.expectedBytes} were declared: the file is truncated or corrupt`,
      );
    }
    return this.length === this.#buf.length ? this.#buf : this.#buf.slice(0, this.length);
  }
}

function prefix(o: InflateOptions): string {
  return o.what ? `${o.what}: ` : "";
}

function corrupt(o: InflateOptions, kind: string, err: unknown): never {
  if (err instanceof DatasetError) throw err;
  const why = err instanceof Error ? err.message : String(err);
  throw new DatasetError(o.file, `${prefix(o)}${kind} data is corrupt or truncated (${why})`, { cause: err });
}

/** Pushes `input` through a streaming decoder a chunk at a time, then signals the end. */
function feed(push: (chunk: Uint8Array, final: boolean) => void, input: Uint8Array, chunk: number): void {
  for (let at = 0; at < input.length; at += chunk) push(input.subarray(at, at + chunk), false);
  push(new Uint8Array(0), true);
}

/** Inflates raw DEFLATE data (no zlib or gzip wrapper) under `options.limit`. */
export function inflateRaw(raw: Uint8Array, options: InflateOptions): Uint8Array {
  const sink = new Sink(options);
  const inflater = new Inflate((chunk) => sink.push(chunk));
  try {
    feed((c, f) => inflater.push(c, f), raw, pushChunk(raw.length, options.expectedBytes));
  } catch (err) {
    corrupt(options, "DEFLATE", err);
  }
  return sink.result();
}

/** Whether `bytes` start with the gzip magic number (1F 8B). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function u32le(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

/**
 * Decompresses gzip data (one member or several concatenated) under `options.limit`, checking
 * every member's CRC-32 and ISIZE against its trailer. A wrong checksum, a wrong length, a
 * truncated stream or bytes that are not gzip give a {@linkcode DatasetError} naming the file.
 */
export function gunzip(bytes: Uint8Array, options: InflateOptions): Uint8Array {
  if (!isGzip(bytes)) throw new DatasetError(options.file, `${prefix(options)}not gzip data (no 1F 8B magic number)`);
  if (bytes.length < 18) {
    throw new DatasetError(options.file, `${prefix(options)}gzip data is truncated (${bytes.length} bytes)`);
  }
  const isize = u32le(bytes, bytes.length - 4);
  const sink = new Sink(options, isize);
  const members: Array<{ crc: number; length: number; end: number }> = [];
  let crc = 0;
  let memberLength = 0;
  const close = (end: number): void => {
    members.push({ crc, length: memberLength, end });
    crc = 0;
    memberLength = 0;
  };
  const decoder = new Gunzip((chunk) => {
    sink.push(chunk);
    crc = crc32(chunk, crc);
    memberLength += chunk.length;
  });
  decoder.onmember = (offset) => close(offset);
  try {
    feed((c, f) => decoder.push(c, f), bytes, pushChunk(bytes.length, options.expectedBytes ?? isize));
  } catch (err) {
    corrupt(options, "gzip", err);
  }
  close(bytes.length);
  for (let i = 0; i < members.length; i++) {
    const m = members[i];
    const which = members.length > 1 ? `gzip member ${i + 1} of ${members.length}` : "gzip data";
    const storedCrc = u32le(bytes, m.end - 8);
    const storedSize = u32le(bytes, m.end - 4);
    if (storedCrc !== m.crc) {
      throw new DatasetError(
        options.file,
        `${prefix(options)}${which} fails its CRC-32 check (trailer ${hex(storedCrc)}, data ${hex(m.crc)}): ` +
          `the file is corrupt`,
        { field: "gzip CRC-32" },
      );
    }
    if (storedSize !== m.length % 2 ** 32) {
      throw new DatasetError(
        options.file,
        `${prefix(options)}${which} inflates to ${m.length} bytes but its trailer (ISIZE) says ${storedSize}: ` +
          `the file is corrupt`,
        { field: "gzip ISIZE" },
      );
    }
  }
  return sink.result();
}

/**
 * The first `n` decoded bytes of gzip data (fewer if it is shorter), without checks: enough to
 * read a header and check the size it declares before inflating the rest.
 */
export function gunzipPrefix(bytes: Uint8Array, n: number, file: string): Uint8Array {
  const out = new Uint8Array(n);
  let have = 0;
  const decoder = new Gunzip((chunk) => {
    const take = Math.min(chunk.length, n - have);
    out.set(chunk.subarray(0, take), have);
    have += take;
  });
  try {
    for (let at = 0; at < bytes.length && have < n; at += 4096) {
      const end = Math.min(at + 4096, bytes.length);
      decoder.push(bytes.subarray(at, end), end === bytes.length);
    }
  } catch (err) {
    corrupt({ file, limit: n }, "gzip", err);
  }
  return out.subarray(0, have);
}

function hex(v: number): string {
  return `0x${v.toString(16).padStart(8, "0")}`;
}
