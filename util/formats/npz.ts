/**
 * NumPy `.npz` archives: a ZIP of `.npy` members, stored (`numpy.savez`) or DEFLATE-compressed
 * (`numpy.savez_compressed`, and the MedMNIST releases).
 *
 * {@linkcode NpzArchive} reads the ZIP central directory (including ZIP64 records, which NumPy
 * writes) and decompresses members one at a time, so a MedMNIST reader touches only the split
 * it needs; {@linkcode NpzArchive.header} reads just the start of a member (a streaming inflate
 * of its first bytes), which gives every array's shape without decompressing hundreds of
 * megabytes. Every member read is checked against the CRC-32 in the
 * directory. fflate's `unzipSync` decompresses everything or nothing, does not check CRCs and
 * does not notice a stored member cut short, which is why the directory is read here.
 *
 * Archives are untrusted: a member's declared size is checked against the decode limit
 * (`maxDecodedBytes`, see `util/limits.ts`) before it is inflated, and it is inflated with a
 * running cap at that size, so a small archive that declares or inflates to gigabytes fails
 * with a {@linkcode SizeLimitError} instead of exhausting memory.
 *
 * Member names are returned without their `.npy` suffix, as `numpy.load` does. Any problem — not
 * a ZIP, truncated, a bad CRC, a malformed `.npy` member — throws a {@linkcode DatasetError}
 * naming the archive and the member.
 * @module
 */
import { Inflate } from "fflate";
import { checkNpyData, MAX_NPY_HEADER_BYTES, type NpyArray, type NpyHeader, parseNpy, parseNpyHeader } from "./npy.ts";
import { asDatasetError, DatasetError } from "../errors.ts";
import { checkDeclaredSize, decodeLimit, type DecodeLimitOptions } from "../limits.ts";
import { inflateRaw } from "./inflate.ts";
import { crc32 } from "./crc.ts";

export { crc32 };

/** One member of an `.npz` archive, as its ZIP central directory describes it. */
export interface NpzEntry {
  /** Array name: the member's file name without `.npy`. */
  name: string;
  /** The member's file name inside the ZIP (e.g. `train_images.npy`). */
  path: string;
  /** How the member is stored. */
  compression: "stored" | "deflated";
  /** Bytes the member occupies in the archive. */
  compressedSize: number;
  /** Bytes of the `.npy` member once decompressed. */
  size: number;
  /** CRC-32 of the decompressed member. */
  crc32: number;
  /** Offset of the member's local header in the archive. */
  localOffset: number;
}

/** Options of {@linkcode parseNpz} and {@linkcode readNpz}. */
export interface NpzReadOptions extends DecodeLimitOptions {
  /** Read only these arrays (names without `.npy`); a missing one is an error. Default: all. */
  names?: readonly string[];
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const U32_MAX = 0xffffffff;

function hex(v: number): string {
  return `0x${v.toString(16).padStart(8, "0")}`;
}

/** A readable `.npz` archive held in memory; members are decompressed on request. */
export class NpzArchive {
  /** The archive's path (or the name given to {@linkcode NpzArchive.fromBytes}), used in errors. */
  readonly source: string;
  /** The members, in directory order. */
  readonly entries: readonly NpzEntry[];
  #bytes: Uint8Array;
  #byName: Map<string, NpzEntry>;
  #limit: number;

  private constructor(bytes: Uint8Array, source: string, entries: NpzEntry[], limit: number) {
    this.#bytes = bytes;
    this.source = source;
    this.entries = entries;
    this.#byName = new Map(entries.map((e) => [e.name, e]));
    this.#limit = limit;
  }

  /**
   * Parses the ZIP directory of in-memory `.npz` bytes; `source` names them in errors, and
   * `options.maxDecodedBytes` caps each member's decompressed size.
   */
  static fromBytes(bytes: Uint8Array, source = "data", options: DecodeLimitOptions = {}): NpzArchive {
    const limit = decodeLimit(options.maxDecodedBytes);
    let entries: NpzEntry[];
    try {
      entries = readDirectory(bytes, source);
    } catch (err) {
      throw asDatasetError(source, err, "corrupt ZIP archive");
    }
    return new NpzArchive(bytes, source, entries, limit);
  }

  /** Reads an `.npz` file and parses its directory (members are decompressed later, on request). */
  static async open(path: string, options: DecodeLimitOptions = {}): Promise<NpzArchive> {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (e) {
      throw new DatasetError(path, `cannot read the file (${e instanceof Error ? e.message : e})`, { cause: e });
    }
    return NpzArchive.fromBytes(bytes, path, options);
  }

  /** Array names (member names without `.npy`), in directory order. */
  get names(): string[] {
    return this.entries.map((e) => e.name);
  }

  /** Whether the archive has an array called `name`. */
  has(name: string): boolean {
    return this.#byName.has(name);
  }

  #entry(name: string): NpzEntry {
    const e = this.#byName.get(name);
    if (!e) {
      throw new DatasetError(this.source, `no array "${name}" in the archive (it has: ${this.names.join(", ")})`);
    }
    return e;
  }

  #fail(e: NpzEntry, problem: string, cause?: unknown, field: string = e.path): never {
    throw new DatasetError(this.source, `member "${e.path}": ${problem}`, { cause, field });
  }

  /** Rethrows `err` (from parsing member `e`) as a DatasetError naming the archive and member. */
  #rethrow(e: NpzEntry, err: unknown): never {
    if (err instanceof DatasetError && err.file === this.source) throw err;
    const d = asDatasetError(e.path, err);
    this.#fail(e, d.problem, err, d.field);
  }

  /** The compressed bytes of a member, after checking its local header. */
  #raw(e: NpzEntry): Uint8Array {
    const b = this.#bytes;
    if (e.localOffset + 30 > b.length) this.#fail(e, "truncated: its local header lies past the end of the file");
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    if (dv.getUint32(e.localOffset, true) !== SIG_LOCAL) {
      this.#fail(e, "corrupt: no local file header where the directory points");
    }
    const start = e.localOffset + 30 + dv.getUint16(e.localOffset + 26, true) + dv.getUint16(e.localOffset + 28, true);
    const end = start + e.compressedSize;
    if (end > b.length) {
      this.#fail(e, `truncated: its ${e.compressedSize} bytes run past the end of the file (${b.length} bytes)`);
    }
    return b.subarray(start, end);
  }

  /**
   * The decompressed `.npy` bytes of a member, CRC-checked. The size the directory declares is
   * checked against the limit first, and inflation stops at that size.
   */
  #member(e: NpzEntry): Uint8Array {
    checkDeclaredSize(this.source, `member "${e.path}" declares`, e.size, this.#limit, e.path);
    const raw = this.#raw(e);
    const out = e.compression === "stored"
      ? raw
      : inflateRaw(raw, { file: this.source, what: `member "${e.path}"`, limit: this.#limit, expectedBytes: e.size });
    if (out.length !== e.size) this.#fail(e, `holds ${out.length} bytes, the directory says ${e.size}`);
    const crc = crc32(out);
    if (crc !== e.crc32) {
      this.#fail(e, `CRC-32 mismatch (directory ${hex(e.crc32)}, data ${hex(crc)}): the file is corrupt`);
    }
    return out;
  }

  /**
   * Decompresses and parses one array. Errors name the archive and member; a member over the
   * decode limit is a {@linkcode SizeLimitError}.
   */
  read(name: string): NpyArray {
    const e = this.#entry(name);
    try {
      const bytes = this.#member(e);
      // The member's own header may declare more than the limit (or than the member holds).
      const h = parseNpyHeader(bytes, e.path);
      checkNpyData(h, bytes.length - h.dataOffset, this.source, this.#limit, `member "${e.path}": `);
      return parseNpy(bytes, e.path, { maxDecodedBytes: this.#limit });
    } catch (err) {
      this.#rethrow(e, err);
    }
  }

  /** Reads several arrays (default: all) into a record keyed by name. */
  readAll(names: readonly string[] = this.names): Record<string, NpyArray> {
    const out: Record<string, NpyArray> = {};
    for (const n of names) out[n] = this.read(n);
    return out;
  }

  /**
   * One array's `.npy` header (dtype, shape, order), decompressing only as much of the member
   * as the header occupies. The data itself is not checked.
   */
  header(name: string): NpyHeader {
    const e = this.#entry(name);
    try {
      return parseNpyHeader(this.#head(e), e.path);
    } catch (err) {
      this.#rethrow(e, err);
    }
  }

  /** The start of a member, inflated only as far as its `.npy` header reaches (at most the header limit). */
  #head(e: NpzEntry): Uint8Array {
    const raw = this.#raw(e);
    let head: Uint8Array;
    if (e.compression === "stored") head = raw;
    else {
      const chunks: Uint8Array[] = [];
      let have = 0;
      const inflater = new Inflate((chunk: Uint8Array) => {
        chunks.push(chunk);
        have += chunk.length;
      });
      const need = (): number => {
        if (have < 12) return 12;
        const first = concat(chunks, 12);
        if (first[0] !== 0x93 || first[6] < 1 || first[6] > 3) return 12; // not .npy: parseNpyHeader says why
        const len = first[6] === 1 ? first[8] | (first[9] << 8) : new DataView(first.buffer).getUint32(8, true);
        return Math.min((first[6] === 1 ? 10 : 12) + len, MAX_NPY_HEADER_BYTES);
      };
      try {
        for (let pos = 0; pos < raw.length && have < Math.min(need(), e.size); pos += 1024) {
          inflater.push(raw.subarray(pos, Math.min(pos + 1024, raw.length)), pos + 1024 >= raw.length);
        }
      } catch (err) {
        this.#fail(e, `corrupt DEFLATE data (${err instanceof Error ? err.message : err})`, err);
      }
      head = concat(chunks, Math.min(have, MAX_NPY_HEADER_BYTES));
    }
    return head;
  }
}

function concat(chunks: Uint8Array[], n: number): Uint8Array {
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    if (o >= n) break;
    const take = Math.min(c.length, n - o);
    out.set(c.subarray(0, take), o);
    o += take;
  }
  return out;
}

/** Reads the ZIP central directory (with ZIP64 records). */
function readDirectory(b: Uint8Array, source: string): NpzEntry[] {
  const fail = (problem: string): never => {
    throw new DatasetError(source, problem);
  };
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let eocd = -1;
  for (let i = b.length - 22; i >= 0 && i >= b.length - 22 - 65535; i--) {
    if (dv.getUint32(i, true) === SIG_EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    fail(
      b.length >= 4 && dv.getUint32(0, true) === SIG_LOCAL
        ? "truncated ZIP archive: the end-of-central-directory record is missing"
        : "not an .npz (ZIP) archive: no end-of-central-directory record",
    );
  }
  if (dv.getUint16(eocd + 4, true) !== 0 || dv.getUint16(eocd + 6, true) !== 0) {
    fail("multi-disk ZIP archives are not supported");
  }
  let count = dv.getUint16(eocd + 10, true);
  let cdSize = dv.getUint32(eocd + 12, true);
  let cdOffset = dv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === U32_MAX || cdOffset === U32_MAX) {
    const loc = eocd - 20;
    if (loc < 0 || dv.getUint32(loc, true) !== SIG_LOCATOR64) fail("corrupt ZIP64 archive: no ZIP64 locator");
    const z = Number(dv.getBigUint64(loc + 8, true));
    if (z + 56 > b.length || dv.getUint32(z, true) !== SIG_EOCD64) fail("corrupt ZIP64 archive: bad ZIP64 end record");
    count = Number(dv.getBigUint64(z + 32, true));
    cdSize = Number(dv.getBigUint64(z + 40, true));
    cdOffset = Number(dv.getBigUint64(z + 48, true));
  }
  if (cdOffset + cdSize > b.length) {
    fail(
      `truncated or corrupt ZIP archive: the directory [${cdOffset}, ${
        cdOffset + cdSize
      }) lies past the end (${b.length} bytes)`,
    );
  }
  const entries: NpzEntry[] = [];
  const seen = new Set<string>();
  let p = cdOffset;
  for (let k = 0; k < count; k++) {
    if (p + 46 > b.length || dv.getUint32(p, true) !== SIG_CENTRAL) fail(`corrupt ZIP directory at entry ${k}`);
    const flags = dv.getUint16(p + 8, true);
    const method = dv.getUint16(p + 10, true);
    const crc = dv.getUint32(p + 16, true);
    let csize = dv.getUint32(p + 20, true);
    let usize = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let local = dv.getUint32(p + 42, true);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > b.length) fail(`corrupt ZIP directory at entry ${k}: it runs past the end of the file`);
    const path = new TextDecoder(flags & 0x800 ? "utf-8" : "latin1").decode(b.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extra field: only the fields that overflowed, in this order.
    for (let x = p + 46 + nameLen; x + 4 <= p + 46 + nameLen + extraLen;) {
      const id = dv.getUint16(x, true), len = dv.getUint16(x + 2, true);
      if (id === 0x0001) {
        let q = x + 4;
        const take = (): number => {
          if (q + 8 > x + 4 + len || q + 8 > end) fail(`corrupt ZIP64 extra field for "${path}"`);
          const v = Number(dv.getBigUint64(q, true));
          q += 8;
          return v;
        };
        if (usize === U32_MAX) usize = take();
        if (csize === U32_MAX) csize = take();
        if (local === U32_MAX) local = take();
      }
      x += 4 + len;
    }
    if (flags & 1) fail(`member "${path}" is encrypted, which is not supported`);
    if (method !== 0 && method !== 8) {
      fail(`member "${path}" uses ZIP compression method ${method}; only stored (0) and deflated (8) are supported`);
    }
    const name = path.endsWith(".npy") ? path.slice(0, -4) : path;
    if (seen.has(name)) fail(`the archive has two members named "${path}"`);
    seen.add(name);
    entries.push({
      name,
      path,
      compression: method === 0 ? "stored" : "deflated",
      compressedSize: csize,
      size: usize,
      crc32: crc,
      localOffset: local,
    });
    p = end;
  }
  return entries;
}

/**
 * Parses `.npz` bytes into arrays by name (without `.npy`). `source` names the bytes in
 * errors; `options.names` limits which members are decompressed.
 */
export function parseNpz(bytes: Uint8Array, source = "data", options: NpzReadOptions = {}): Record<string, NpyArray> {
  return NpzArchive.fromBytes(bytes, source, options).readAll(options.names);
}

/** Reads an `.npz` file into arrays by name (without `.npy`); errors name the path and member. */
export async function readNpz(path: string, options: NpzReadOptions = {}): Promise<Record<string, NpyArray>> {
  return (await NpzArchive.open(path, options)).readAll(options.names);
}
