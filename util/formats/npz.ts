/**
 * NumPy `.npz` archives: a ZIP of `.npy` members, stored (`numpy.savez`) or DEFLATE-compressed
 * (`numpy.savez_compressed`, and the MedMNIST releases).
 *
 * {@linkcode NpzArchive} reads the ZIP central directory (including ZIP64 records, which NumPy
 * writes) and decompresses members one at a time with fflate's `inflateSync`, so a MedMNIST
 * reader touches only the split it needs; {@linkcode NpzArchive.header} reads just the start of
 * a member (a streaming inflate of its first bytes), which gives every array's shape without
 * decompressing hundreds of megabytes. Every member read is checked against the CRC-32 in the
 * directory. fflate's `unzipSync` decompresses everything or nothing, does not check CRCs and
 * does not notice a stored member cut short, which is why the directory is read here.
 *
 * Member names are returned without their `.npy` suffix, as `numpy.load` does. Any problem — not
 * a ZIP, truncated, a bad CRC, a malformed `.npy` member — throws a {@linkcode DatasetError}
 * naming the archive and the member.
 * @module
 */
import { Inflate, inflateSync } from "fflate";
import { type NpyArray, type NpyHeader, parseNpy, parseNpyHeader } from "./npy.ts";
import { DatasetError } from "../errors.ts";

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
export interface NpzReadOptions {
  /** Read only these arrays (names without `.npy`); a missing one is an error. Default: all. */
  names?: readonly string[];
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const U32_MAX = 0xffffffff;

let crcTables: Uint32Array | undefined;

/** Eight 256-entry tables for slicing-by-8 (table k advances a byte through k more zero bytes). */
function crcTablesFor(): Uint32Array {
  if (crcTables) return crcTables;
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) {
      const prev = t[(k - 1) * 256 + n];
      t[k * 256 + n] = (prev >>> 8) ^ t[prev & 0xff];
    }
  }
  return (crcTables = t);
}

/** CRC-32 (the ZIP/PNG polynomial 0xEDB88320) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  const t = crcTablesFor();
  const n = bytes.length;
  let c = 0xffffffff;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const a = c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    c = t[1792 + (a & 0xff)] ^ t[1536 + ((a >>> 8) & 0xff)] ^ t[1280 + ((a >>> 16) & 0xff)] ^
      t[1024 + (a >>> 24)] ^ t[768 + bytes[i + 4]] ^ t[512 + bytes[i + 5]] ^ t[256 + bytes[i + 6]] ^
      t[bytes[i + 7]];
  }
  for (; i < n; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

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

  private constructor(bytes: Uint8Array, source: string, entries: NpzEntry[]) {
    this.#bytes = bytes;
    this.source = source;
    this.entries = entries;
    this.#byName = new Map(entries.map((e) => [e.name, e]));
  }

  /** Parses the ZIP directory of in-memory `.npz` bytes; `source` names them in errors. */
  static fromBytes(bytes: Uint8Array, source = "data"): NpzArchive {
    return new NpzArchive(bytes, source, readDirectory(bytes, source));
  }

  /** Reads an `.npz` file and parses its directory (members are decompressed later, on request). */
  static async open(path: string): Promise<NpzArchive> {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (e) {
      throw new DatasetError(path, `cannot read the file (${e instanceof Error ? e.message : e})`, { cause: e });
    }
    return NpzArchive.fromBytes(bytes, path);
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

  #fail(e: NpzEntry, problem: string, cause?: unknown): never {
    throw new DatasetError(this.source, `member "${e.path}": ${problem}`, cause ? { cause } : undefined);
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

  /** The decompressed `.npy` bytes of a member, CRC-checked. */
  #member(e: NpzEntry): Uint8Array {
    const raw = this.#raw(e);
    let out: Uint8Array;
    if (e.compression === "stored") out = raw;
    else {
      try {
        out = inflateSync(raw, { out: new Uint8Array(e.size) });
      } catch (err) {
        this.#fail(e, `corrupt DEFLATE data (${err instanceof Error ? err.message : err})`, err);
      }
      if (out!.length !== e.size) this.#fail(e, `inflates to ${out!.length} bytes, the directory says ${e.size}`);
    }
    if (out!.length !== e.size) this.#fail(e, `holds ${out!.length} bytes, the directory says ${e.size}`);
    const crc = crc32(out!);
    if (crc !== e.crc32) {
      this.#fail(e, `CRC-32 mismatch (directory ${hex(e.crc32)}, data ${hex(crc)}): the file is corrupt`);
    }
    return out!;
  }

  /** Decompresses and parses one array. */
  read(name: string): NpyArray {
    const e = this.#entry(name);
    const bytes = this.#member(e);
    try {
      return parseNpy(bytes, e.path);
    } catch (err) {
      if (err instanceof DatasetError) this.#fail(e, err.problem, err);
      throw err;
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
        return (first[6] === 1 ? 10 : 12) + len;
      };
      try {
        for (let pos = 0; pos < raw.length && have < Math.min(need(), e.size); pos += 1024) {
          inflater.push(raw.subarray(pos, Math.min(pos + 1024, raw.length)), pos + 1024 >= raw.length);
        }
      } catch (err) {
        this.#fail(e, `corrupt DEFLATE data (${err instanceof Error ? err.message : err})`, err);
      }
      head = concat(chunks, have);
    }
    try {
      return parseNpyHeader(head, e.path);
    } catch (err) {
      if (err instanceof DatasetError) this.#fail(e, err.problem, err);
      throw err;
    }
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
          if (q + 8 > x + 4 + len) fail(`corrupt ZIP64 extra field for "${path}"`);
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
  return NpzArchive.fromBytes(bytes, source).readAll(options.names);
}

/** Reads an `.npz` file into arrays by name (without `.npy`); errors name the path and member. */
export async function readNpz(path: string, options: NpzReadOptions = {}): Promise<Record<string, NpyArray>> {
  return (await NpzArchive.open(path)).readAll(options.names);
}
