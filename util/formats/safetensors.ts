/**
 * The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
 * (`{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {…}}`), then the raw
 * little-endian data; offsets count from the start of the data.
 *
 * Writes F32, I32 and BOOL; reads those plus F16 and BF16 (as float32) and I64 (as int32,
 * range-checked). Every entry is validated before anything is returned.
 *
 * The pure file format on host arrays (no Tensor, no GPU); `core/nn/safetensors.ts` moves the
 * tensors to and from the GPU.
 * @module
 */
import { halfToFloat } from "../half.ts";

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
  /** The `__metadata__` entry (empty when absent). */
  metadata: Record<string, string>;
}

/** Storage dtypes this reader understands, with their element sizes. */
const ITEM_SIZE: Record<string, number> = { F32: 4, I32: 4, BOOL: 1, F16: 2, BF16: 2, I64: 8 };
const WRITE_NAME: Record<HostDType, string> = { float32: "F32", int32: "I32", bool: "BOOL" };
const MAX_HEADER = 100_000_000;

/** Error for a malformed file, naming the source. */
function fail(source: string, problem: string): never {
  throw new Error(`safetensors ${source}: ${problem}`);
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** Serialises host tensors to the safetensors byte layout (header padded with spaces to 8 bytes). */
export function encodeSafetensors(
  tensors: Record<string, HostTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const names = Object.keys(tensors);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new TypeError(`encodeSafetensors: metadata "${k}" must be a string`);
    }
    header.__metadata__ = metadata;
  }
  // Wider types first (stable), so every element is aligned to its size in the file.
  const order = [...names].sort((a, b) =>
    ITEM_SIZE[WRITE_NAME[tensors[b].dtype]] - ITEM_SIZE[WRITE_NAME[tensors[a].dtype]]
  );
  const offsets = new Map<string, [number, number]>();
  let pos = 0;
  for (const name of order) {
    const t = tensors[name];
    if (name === "__metadata__") throw new RangeError(`encodeSafetensors: "__metadata__" is reserved`);
    if (!(t.dtype in WRITE_NAME)) throw new TypeError(`encodeSafetensors: "${name}" has unsupported dtype ${t.dtype}`);
    if (t.data.length !== numel(t.shape)) {
      throw new RangeError(
        `encodeSafetensors: "${name}" has ${t.data.length} elements but shape ${fmtShape(t.shape)}`,
      );
    }
    const bytes = t.data.length * ITEM_SIZE[WRITE_NAME[t.dtype]];
    offsets.set(name, [pos, pos + bytes]);
    pos += bytes;
  }
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
  for (const name of order) {
    const t = tensors[name];
    const [begin] = offsets.get(name)!;
    const src = t.dtype === "bool"
      ? Uint8Array.from(t.data, (v) => (v ? 1 : 0))
      : new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(src, base + begin);
  }
  return out;
}

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

function parseHeader(bytes: Uint8Array, source: string): { entries: Entry[]; metadata: Record<string, string> } {
  if (bytes.length < 8) fail(source, `truncated: ${bytes.length} bytes, fewer than the 8-byte header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) {
    fail(source, `header length ${n} is larger than the file (${bytes.length} bytes, ${bytes.length - 8} after it)`);
  }
  if (n > BigInt(MAX_HEADER)) fail(source, `header length ${n} exceeds the ${MAX_HEADER}-byte limit`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + Number(n))));
  } catch (e) {
    fail(source, `the header is not valid JSON (${e instanceof Error ? e.message : e})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    fail(source, "the header must be a JSON object");
  }
  const dataLen = bytes.length - 8 - Number(n);
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (raw === null || typeof raw !== "object" || Array.isArray(raw)) fail(source, "__metadata__ must be an object");
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== "string") fail(source, `__metadata__ value "${k}" must be a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e === null || typeof e !== "object") fail(source, `entry "${name}" must be an object`);
    if (typeof e.dtype !== "string") fail(source, `entry "${name}" has no dtype`);
    if (!(e.dtype in ITEM_SIZE)) {
      fail(source, `"${name}" has unsupported dtype ${e.dtype} (supported: ${Object.keys(ITEM_SIZE).join(", ")})`);
    }
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(source, `"${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    const off = e.data_offsets;
    if (
      !Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      off[1] < off[0]
    ) {
      fail(source, `"${name}" has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    if (end > dataLen) {
      fail(source, `"${name}" data_offsets [${begin}, ${end}] are out of range (the data is ${dataLen} bytes)`);
    }
    const need = numel(shape) * ITEM_SIZE[e.dtype];
    if (end - begin !== need) {
      fail(
        source,
        `"${name}" data_offsets [${begin}, ${end}] span ${end - begin} bytes, but ${e.dtype} ${
          fmtShape(shape)
        } needs ${need}`,
      );
    }
    entries.push({ name, dtype: e.dtype, shape: [...shape], begin, end });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev = "";
  for (const e of sorted) {
    if (e.begin < pos) fail(source, `"${e.name}" data_offsets [${e.begin}, ${e.end}] overlap "${prev}"`);
    if (e.begin > pos) fail(source, `the data has a hole: bytes [${pos}, ${e.begin}) belong to no tensor`);
    pos = e.end;
    prev = e.name;
  }
  if (pos !== dataLen) fail(source, `${dataLen - pos} trailing data bytes belong to no tensor`);
  return { entries, metadata };
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
          fail(source, `"${e.name}" (I64) element ${i} = ${v} does not fit in int32`);
        }
        out[i] = Number(v);
      }
      return { dtype: "int32", shape: e.shape, data: out };
    }
  }
  fail(source, `"${e.name}" has unsupported dtype ${e.dtype}`);
}

/**
 * Parses safetensors bytes into CPU arrays (F16/BF16 → float32, I64 → int32). Throws an
 * error naming `source` on any malformed input; all entries are checked before returning.
 */
export function parseSafetensors(bytes: Uint8Array, source = "data"): SafetensorsContents {
  const { entries, metadata } = parseHeader(bytes, source);
  const base = 8 + Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const body = bytes.subarray(base);
  const tensors: Record<string, HostTensor> = {};
  for (const e of entries) tensors[e.name] = convert(body, e, source);
  return { tensors, metadata };
}
