/**
 * The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
 * (`{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {…}}`), then the raw
 * little-endian data; offsets count from the start of the data.
 *
 * Writes F32, I32 and BOOL; reads those plus F16 and BF16 (as float32) and I64 (as int32,
 * range-checked). Every entry is validated before anything is returned; every error is a
 * {@linkcode DatasetError} naming the file (and the tensor, as its `field`), a
 * {@linkcode SizeLimitError} when the tensors decode to more than the decode limit.
 *
 * Integrity: every file written here carries the CRC-32C of its data section, as 8 lower-case
 * hex digits, in the metadata entry {@linkcode CHECKSUM_KEY} (`meddiff.crc32c`); parsing
 * verifies it, so a flipped bit in a checkpoint fails instead of loading. Files from other tools
 * (PyTorch, Hugging Face) have none and load unverified (`checksum: "absent"`).
 *
 * The pure file format on host arrays (no Tensor, no GPU); `core/nn/safetensors.ts` moves the
 * tensors to and from the GPU.
 * @module
 */
import { halfToFloat } from "../half.ts";
import { DatasetError } from "../errors.ts";
import { checkDeclaredSize, decodeLimit, type DecodeLimitOptions } from "../limits.ts";
import { crc32c } from "./crc.ts";

/** The `__metadata__` entry holding the CRC-32C of the data section (8 lower-case hex digits). */
export const CHECKSUM_KEY = "meddiff.crc32c";

/** Element types of a host tensor (the framework's dtypes; bool as 0/1 bytes). */
export type HostDType = "float32" | "int32" | "bool";

/** A tensor's contents on the CPU (row-major). */
export interface HostTensor {
  /** Element type. */
  dtype: HostDType;
  /** Size of each dimension. */
  shape: number[];
  /** Elements: Float32Array (float32), Int32Array (int32) or Uint8Array of 0/1 (bool). */
  data: Float32Array | Int32Array | Uint8Array;
}

/** A parsed safetensors file: tensors (on the CPU) in header order, plus string metadata. */
export interface SafetensorsContents {
  /** Tensors by name. */
  tensors: Record<string, HostTensor>;
  /** The `__metadata__` entry (empty when absent), without {@linkcode CHECKSUM_KEY}. */
  metadata: Record<string, string>;
  /** `verified`: the data matched its {@linkcode CHECKSUM_KEY}; `absent`: the file had none. */
  checksum: "verified" | "absent";
}

/** Storage dtypes this reader understands, with their element sizes. */
const ITEM_SIZE: Record<string, number> = { F32: 4, I32: 4, BOOL: 1, F16: 2, BF16: 2, I64: 8 };
/** Bytes per element once decoded (F16/BF16 widen to float32, I64 narrows to int32). */
const DECODED_SIZE: Record<string, number> = { F32: 4, I32: 4, BOOL: 1, F16: 4, BF16: 4, I64: 4 };
const WRITE_NAME: Record<HostDType, string> = { float32: "F32", int32: "I32", bool: "BOOL" };
const MAX_HEADER = 100_000_000;

/** A malformed file: a DatasetError naming the source and, when one is at fault, the tensor. */
function fail(source: string, problem: string, field?: string): never {
  throw new DatasetError(source, problem, { field });
}

/** Names that would set an object's prototype instead of an entry. */
function checkName(source: string, name: string, what: string): void {
  if (name === "__proto__") fail(source, `${what} "__proto__" is not allowed`, name);
}

function hex8(crc: number): string {
  return crc.toString(16).padStart(8, "0");
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/**
 * Serialises host tensors to the safetensors byte layout (header padded with spaces to 8 bytes),
 * with the data's CRC-32C in the metadata as {@linkcode CHECKSUM_KEY}.
 */
export function encodeSafetensors(
  tensors: Record<string, HostTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const names = Object.keys(tensors);
  const header: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(metadata ?? {})) {
    if (typeof v !== "string") throw new TypeError(`encodeSafetensors: metadata "${k}" must be a string`);
  }
  // Wider types first (stable), so every element is aligned to its size in the file.
  const order = [...names].sort((a, b) =>
    ITEM_SIZE[WRITE_NAME[tensors[b].dtype]] - ITEM_SIZE[WRITE_NAME[tensors[a].dtype]]
  );
  const offsets = new Map<string, [number, number]>();
  const sources = new Map<string, Uint8Array>();
  let pos = 0, crc = 0;
  for (const name of order) {
    const t = tensors[name];
    if (name === "__metadata__") throw new RangeError(`encodeSafetensors: "__metadata__" is reserved`);
    if (!(t.dtype in WRITE_NAME)) throw new TypeError(`encodeSafetensors: "${name}" has unsupported dtype ${t.dtype}`);
    if (t.data.length !== numel(t.shape)) {
      throw new RangeError(
        `encodeSafetensors: "${name}" has ${t.data.length} elements but shape ${fmtShape(t.shape)}`,
      );
    }
    const src = t.dtype === "bool"
      ? Uint8Array.from(t.data, (v) => (v ? 1 : 0))
      : new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    sources.set(name, src);
    crc = crc32c(src, crc); // the data section in file order
    offsets.set(name, [pos, pos + src.length]);
    pos += src.length;
  }
  header.__metadata__ = { ...metadata, [CHECKSUM_KEY]: hex8(crc) };
  for (const name of names) {
    const t = tensors[name];
    header[name] = { dtype: WRITE_NAME[t.dtype], shape: [...t.shape], data_offsets: offsets.get(name) };
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let headerBytes = enc.encode(json);
  const pad = (8 - (headerBytes.length % 8)) % 8;
  if (pad) {
    json += " ".repeat(pad);
    headerBytes = enc.encode(json);
  }
  const out = new Uint8Array(8 + headerBytes.length + pos);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  const base = 8 + headerBytes.length;
  for (const name of order) out.set(sources.get(name)!, base + offsets.get(name)![0]);
  return out;
}

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

interface Header {
  entries: Entry[];
  metadata: Record<string, string>;
  /** Where the data section starts. */
  base: number;
}

function parseHeader(bytes: Uint8Array, source: string, limit: number): Header {
  if (bytes.length < 8) fail(source, `truncated: ${bytes.length} bytes, fewer than the 8-byte header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER)) fail(source, `header length ${n} exceeds the ${MAX_HEADER}-byte limit`);
  if (n > BigInt(bytes.length - 8)) {
    fail(source, `header length ${n} is larger than the file (${bytes.length} bytes, ${bytes.length - 8} after it)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + Number(n))));
  } catch (e) {
    fail(source, `the header is not valid JSON (${e instanceof Error ? e.message : e})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    fail(source, "the header must be a JSON object");
  }
  const base = 8 + Number(n);
  const dataLen = bytes.length - base;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  let decoded = 0;
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (raw === null || typeof raw !== "object" || Array.isArray(raw)) fail(source, "__metadata__ must be an object");
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        checkName(source, k, "__metadata__ key");
        if (typeof v !== "string") fail(source, `__metadata__ value "${k}" must be a string`, k);
        metadata[k] = v;
      }
      continue;
    }
    checkName(source, name, "tensor name");
    const bad = (problem: string): never => fail(source, `tensor "${name}" ${problem}`, name);
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e === null || typeof e !== "object") bad("must be an object");
    if (typeof e.dtype !== "string") bad("has no dtype");
    const dtype = e.dtype as string;
    if (!(dtype in ITEM_SIZE)) {
      bad(`has unsupported dtype ${dtype} (supported: ${Object.keys(ITEM_SIZE).join(", ")})`);
    }
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      bad(`has an invalid shape ${JSON.stringify(shape)}`);
    }
    const dims = shape as number[];
    // Before the byte range: a shape declaring gigabytes fails on its size, whatever its offsets say.
    const size = numel(dims) * DECODED_SIZE[dtype];
    checkDeclaredSize(source, `tensor "${name}" (${dtype} ${fmtShape(dims)}) is`, size, limit, name);
    const off = e.data_offsets;
    if (
      !Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      off[1] < off[0]
    ) {
      bad(`has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    if (end > dataLen) bad(`data_offsets [${begin}, ${end}] are out of range (the data is ${dataLen} bytes)`);
    const need = numel(dims) * ITEM_SIZE[dtype];
    if (end - begin !== need) {
      bad(`data_offsets [${begin}, ${end}] span ${end - begin} bytes, but ${dtype} ${fmtShape(dims)} needs ${need}`);
    }
    decoded += size;
    entries.push({ name, dtype, shape: [...dims], begin, end });
  }
  checkDeclaredSize(source, `its ${entries.length} tensors are`, decoded, limit);
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev = "";
  for (const e of sorted) {
    if (e.begin < pos) fail(source, `tensor "${e.name}" data_offsets [${e.begin}, ${e.end}] overlap "${prev}"`, e.name);
    if (e.begin > pos) fail(source, `the data has a hole: bytes [${pos}, ${e.begin}) belong to no tensor`);
    pos = e.end;
    prev = e.name;
  }
  if (pos !== dataLen) fail(source, `${dataLen - pos} trailing data bytes belong to no tensor`);
  return { entries, metadata, base };
}

/** Checks the data against its {@linkcode CHECKSUM_KEY} (removed from `metadata`); whether there was one. */
function verifyChecksum(body: Uint8Array, metadata: Record<string, string>, source: string): "verified" | "absent" {
  const stored = metadata[CHECKSUM_KEY];
  if (stored === undefined) return "absent";
  if (!/^[0-9a-fA-F]{8}$/.test(stored)) {
    fail(source, `__metadata__ "${CHECKSUM_KEY}" must be 8 hex digits, got ${JSON.stringify(stored.slice(0, 40))}`);
  }
  const got = hex8(crc32c(body));
  if (got !== stored.toLowerCase()) {
    fail(
      source,
      `the tensor data does not match its checksum (${CHECKSUM_KEY} ${stored}, the data gives ${got}): ` +
        `the file was damaged after it was written (a flipped bit, a bad disk or copy)`,
      CHECKSUM_KEY,
    );
  }
  delete metadata[CHECKSUM_KEY];
  return "verified";
}

function convert(bytes: Uint8Array, e: Entry, source: string): HostTensor {
  const raw = bytes.slice(e.begin, e.end); // a copy: aligned, and free of the file buffer
  const n = numel(e.shape);
  switch (e.dtype) {
    case "F32":
      return { dtype: "float32", shape: e.shape, data: new Float32Array(raw.buffer, 0, n) };
    case "I32":
      return { dtype: "int32", shape: e.shape, data: new Int32Array(raw.buffer, 0, n) };
    case "BOOL":
      return { dtype: "bool", shape: e.shape, data: raw.map((v) => (v ? 1 : 0)) };
    case "F16": {
      const h = new Uint16Array(raw.buffer, 0, n);
      return { dtype: "float32", shape: e.shape, data: Float32Array.from(h, halfToFloat) };
    }
    case "BF16": {
      const h = new Uint16Array(raw.buffer, 0, n);
      const bits = Uint32Array.from(h, (v) => v << 16);
      return { dtype: "float32", shape: e.shape, data: new Float32Array(bits.buffer) };
    }
    case "I64": {
      const w = new BigInt64Array(raw.buffer, 0, n);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = w[i];
        if (v > 2147483647n || v < -2147483648n) {
          fail(source, `tensor "${e.name}" (I64) element ${i} = ${v} does not fit in int32`, e.name);
        }
        out[i] = Number(v);
      }
      return { dtype: "int32", shape: e.shape, data: out };
    }
  }
  fail(source, `tensor "${e.name}" has unsupported dtype ${e.dtype}`, e.name);
}

/**
 * Parses safetensors bytes into CPU arrays (F16/BF16 → float32, I64 → int32), verifying the
 * {@linkcode CHECKSUM_KEY} checksum when there is one. Throws a DatasetError naming `source` on
 * any malformed input (a SizeLimitError past the decode limit); all entries are checked before
 * returning.
 */
export function parseSafetensors(
  bytes: Uint8Array,
  source = "data",
  opts: DecodeLimitOptions = {},
): SafetensorsContents {
  const { entries, metadata, base } = parseHeader(bytes, source, decodeLimit(opts.maxDecodedBytes));
  const body = bytes.subarray(base);
  const checksum = verifyChecksum(body, metadata, source);
  const tensors: Record<string, HostTensor> = {};
  for (const e of entries) tensors[e.name] = convert(body, e, source);
  return { tensors, metadata, checksum };
}

const noted = new Set<string>();

/**
 * Reads and parses a safetensors file (see {@linkcode parseSafetensors}); a file larger than the
 * decode limit fails before it is read. A file without a checksum is noted once per path on the
 * console, since nothing can tell whether its data is intact.
 */
export async function readSafetensorsFile(path: string, opts: DecodeLimitOptions = {}): Promise<SafetensorsContents> {
  const limit = decodeLimit(opts.maxDecodedBytes);
  let bytes: Uint8Array;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) fail(path, "not a file");
    checkDeclaredSize(path, "the file is", info.size, limit);
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    throw new DatasetError(path, `cannot read the file (${e instanceof Error ? e.message : e})`, { cause: e });
  }
  const contents = parseSafetensors(bytes, path, { maxDecodedBytes: limit });
  if (contents.checksum === "absent" && !noted.has(path)) {
    noted.add(path);
    console.warn(`note: ${path} has no ${CHECKSUM_KEY} checksum (not written by meddiff): its data is not verified`);
  }
  return contents;
}
