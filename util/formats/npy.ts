/**
 * The NumPy `.npy` format: the magic `\x93NUMPY`, a version (1.0, 2.0 or 3.0), a header length
 * (2 bytes in 1.0, 4 bytes after), a Python dict literal
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` and the raw array data.
 *
 * {@linkcode parseNpy} turns such bytes into a typed array in row-major (C) order, whatever the
 * file's byte order and memory order. Element types map as follows:
 *
 * | descr | `dtype` | `data` |
 * |---|---|---|
 * | `u1` `i1` `u2` `i2` `u4` `i4` | `uint8` … `int32` | the matching typed array |
 * | `f2` | `float16` | `Float32Array` (converted) |
 * | `f4` `f8` | `float32` `float64` | `Float32Array` `Float64Array` |
 * | `b1` | `bool` | `Uint8Array` of 0/1 |
 * | `i8` `u8` | `int64` `uint64` | `Int32Array`, every element range-checked |
 *
 * 64-bit integers become int32 (the framework's integer type, as the safetensors reader does for
 * I64): labels and indices fit, and a value outside ±2³¹ is an error naming the element rather
 * than a silent rounding. Big-endian (`>`) data is converted to the machine's byte order; Fortran
 * order is transposed to C order (the result keeps `fortranOrder` to say what the file held).
 * @module
 */
import { halfToFloat } from "../half.ts";
import { asDatasetError, DatasetError } from "../errors.ts";
import { checkDeclaredSize, decodeLimit, type DecodeLimitOptions } from "../limits.ts";

/** The element types {@linkcode parseNpy} reads (NumPy's names). */
export type NpyDType =
  | "bool"
  | "uint8"
  | "int8"
  | "uint16"
  | "int16"
  | "uint32"
  | "int32"
  | "int64"
  | "uint64"
  | "float16"
  | "float32"
  | "float64";

/** The typed arrays {@linkcode NpyArray.data} can be. */
export type NpyData =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

/** What an `.npy` header says, and where its data starts. */
export interface NpyHeader {
  /** Element type stored in the file. */
  dtype: NpyDType;
  /** The `descr` string as written, e.g. `"<f4"` or `"|u1"`. */
  descr: string;
  /** Dimensions, outermost first (`[]` for a scalar). */
  shape: number[];
  /** Whether the file stores the data in column-major (Fortran) order. */
  fortranOrder: boolean;
  /** Format version as `[major, minor]`. */
  version: [number, number];
  /** Byte offset of the array data from the start of the file. */
  dataOffset: number;
  /** Number of data bytes the header implies (elements × item size). */
  dataBytes: number;
}

/** A parsed `.npy` array: `data` is always row-major (C order) in the machine's byte order. */
export interface NpyArray {
  /** Element type stored in the file (see the module table for the matching `data` type). */
  dtype: NpyDType;
  /** Dimensions, outermost first (`[]` for a scalar, which has one element). */
  shape: number[];
  /** Elements in row-major order. It may share memory with the bytes that were parsed. */
  data: NpyData;
  /** Whether the file stored the data in Fortran order (it has been transposed to C order). */
  fortranOrder: boolean;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const MAX_HEADER = 1 << 24;

/** Most bytes an `.npy` header (magic, version, length and dict) can occupy. */
export const MAX_NPY_HEADER_BYTES = 12 + MAX_HEADER;

/** Item size per dtype. */
const ITEM_SIZE: Record<NpyDType, number> = {
  bool: 1,
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  uint32: 4,
  int32: 4,
  int64: 8,
  uint64: 8,
  float16: 2,
  float32: 4,
  float64: 8,
};

/** NumPy type code (kind + size) → dtype. */
const CODES: Record<string, NpyDType> = {
  b1: "bool",
  u1: "uint8",
  i1: "int8",
  u2: "uint16",
  i2: "int16",
  u4: "uint32",
  i4: "int32",
  i8: "int64",
  u8: "uint64",
  f2: "float16",
  f4: "float32",
  f8: "float64",
};

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Elements of a shape. */
function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

// --- the header: a Python literal ------------------------------------------------------------

type PyValue = string | number | boolean | null | PyValue[] | Map<PyValue, PyValue>;

/** A recursive-descent reader for the Python literals NumPy writes (dict, tuple, list, str, int, bool, None). */
class PyLiteral {
  #s: string;
  #i = 0;
  #fail: (problem: string) => never;

  constructor(text: string, fail: (problem: string) => never) {
    this.#s = text;
    this.#fail = fail;
  }

  parseAll(): PyValue {
    const v = this.#value();
    this.#ws();
    if (this.#i !== this.#s.length) this.#error("unexpected text after the header dict");
    return v;
  }

  #error(what: string): never {
    this.#fail(
      `the header is not a valid Python literal: ${what} at character ${this.#i} of ${
        JSON.stringify(this.#s.trimEnd())
      }`,
    );
  }

  #ws(): void {
    while (this.#i < this.#s.length && /\s/.test(this.#s[this.#i])) this.#i++;
  }

  #value(): PyValue {
    this.#ws();
    const c = this.#s[this.#i];
    if (c === "{") return this.#dict();
    if (c === "(") return this.#seq("(", ")");
    if (c === "[") return this.#seq("[", "]");
    if (c === "'" || c === '"') return this.#str();
    if (c !== undefined && /[-+0-9]/.test(c)) return this.#int();
    for (const [word, v] of [["True", true], ["False", false], ["None", null]] as const) {
      if (this.#s.startsWith(word, this.#i)) {
        this.#i += word.length;
        return v;
      }
    }
    this.#error(c === undefined ? "unexpected end" : `unexpected ${JSON.stringify(c)}`);
  }

  #expect(ch: string): void {
    this.#ws();
    if (this.#s[this.#i] !== ch) this.#error(`expected ${JSON.stringify(ch)}`);
    this.#i++;
  }

  #dict(): Map<PyValue, PyValue> {
    const out = new Map<PyValue, PyValue>();
    this.#i++;
    for (;;) {
      this.#ws();
      if (this.#s[this.#i] === "}") {
        this.#i++;
        return out;
      }
      const k = this.#value();
      this.#expect(":");
      out.set(k, this.#value());
      this.#ws();
      if (this.#s[this.#i] === ",") this.#i++;
      else if (this.#s[this.#i] !== "}") this.#error('expected "," or "}"');
    }
  }

  #seq(open: string, close: string): PyValue[] {
    const out: PyValue[] = [];
    this.#i++;
    for (;;) {
      this.#ws();
      if (this.#s[this.#i] === close) {
        this.#i++;
        return out;
      }
      out.push(this.#value());
      this.#ws();
      if (this.#s[this.#i] === ",") this.#i++;
      else if (this.#s[this.#i] !== close) this.#error(`expected "," or ${JSON.stringify(close)} after ${open}…`);
    }
  }

  #str(): string {
    const q = this.#s[this.#i++];
    let out = "";
    while (this.#i < this.#s.length) {
      const c = this.#s[this.#i++];
      if (c === q) return out;
      if (c === "\\") {
        const n = this.#s[this.#i++];
        out += n === "n" ? "\n" : n === "t" ? "\t" : n;
      } else out += c;
    }
    this.#error("unterminated string");
  }

  #int(): number {
    const m = /^[-+]?\d+L?/.exec(this.#s.slice(this.#i));
    if (!m) this.#error("malformed number");
    this.#i += m[0].length;
    return Number(m[0].replace("L", "")); // Python 2 wrote longs as `3L`
  }
}

/**
 * Reads an `.npy` header (magic, version, header dict) without touching the data. `bytes` needs
 * to hold only the header. Throws a {@linkcode DatasetError} naming `name` when it is malformed
 * or the dtype is unsupported.
 */
export function parseNpyHeader(bytes: Uint8Array, name = "data"): NpyHeader {
  try {
    return readHeader(bytes, name);
  } catch (err) {
    throw asDatasetError(name, err, "malformed .npy header");
  }
}

function readHeader(bytes: Uint8Array, name: string): NpyHeader {
  const fail = (problem: string, field?: string): never => {
    throw new DatasetError(name, problem, { field });
  };
  if (bytes.length < 10) fail(`truncated: ${bytes.length} bytes is too short for an .npy header`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) {
      fail(
        `not an .npy array: the file does not start with the magic "\\x93NUMPY" (found ${
          JSON.stringify(new TextDecoder("latin1").decode(bytes.subarray(0, 6)))
        })`,
      );
    }
  }
  const major = bytes[6], minor = bytes[7];
  if (major < 1 || major > 3 || minor !== 0) {
    fail(`unsupported .npy format version ${major}.${minor} (this reader knows 1.0, 2.0 and 3.0)`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) fail(`truncated inside the header length`);
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  if (headerLen > MAX_HEADER) fail(`header length ${headerLen} exceeds the ${MAX_HEADER}-byte limit`);
  const start = 8 + lenBytes;
  const dataOffset = start + headerLen;
  if (bytes.length < dataOffset) {
    fail(`truncated: the header needs ${dataOffset} bytes, only ${bytes.length} are present`);
  }
  let text: string;
  try {
    text = new TextDecoder(major === 3 ? "utf-8" : "latin1", { fatal: true }).decode(bytes.subarray(start, dataOffset));
  } catch {
    fail("the header is not valid UTF-8");
  }
  const dict = new PyLiteral(text!, fail).parseAll();
  if (!(dict instanceof Map)) fail(`the header must be a dict, got ${JSON.stringify(text!.trim())}`);
  const d = dict as Map<PyValue, PyValue>;
  for (const key of ["descr", "fortran_order", "shape"]) if (!d.has(key)) fail(`the header has no '${key}' key`);
  const descr = d.get("descr");
  if (typeof descr !== "string") {
    fail(`unsupported dtype ${JSON.stringify(descr)}: structured arrays are not supported`, "descr");
  }
  const m = /^([<>|=])([a-z]\d+)$/.exec(descr as string);
  const dtype = m ? CODES[m[2]] : undefined;
  if (!m || !dtype) {
    fail(`unsupported dtype '${descr}' (supported: ${Object.keys(CODES).join(" ")}, with byte order < > | =)`, "descr");
  }
  if (m![1] === "|" && ITEM_SIZE[dtype!] > 1) fail(`dtype '${descr}' needs a byte order (< or >), not |`, "descr");
  const fortran = d.get("fortran_order");
  if (typeof fortran !== "boolean") {
    fail(`'fortran_order' must be True or False, got ${JSON.stringify(fortran)}`, "fortran_order");
  }
  const shape = d.get("shape");
  if (!Array.isArray(shape) || !shape.every((s) => typeof s === "number" && Number.isSafeInteger(s) && s >= 0)) {
    fail(`'shape' must be a tuple of non-negative integers, got ${JSON.stringify(shape)}`, "shape");
  }
  const dims = shape as number[];
  const dataBytes = numel(dims) * ITEM_SIZE[dtype!];
  if (!Number.isSafeInteger(dataBytes)) fail(`shape (${dims.join(", ")}) is too large`, "shape");
  return {
    dtype: dtype!,
    descr: descr as string,
    shape: [...dims],
    fortranOrder: fortran as boolean,
    version: [major, minor],
    dataOffset,
    dataBytes,
  };
}

// --- the data --------------------------------------------------------------------------------

type TypedCtor = new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => NpyData;

const NATIVE: Partial<Record<NpyDType, TypedCtor>> = {
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
};

/** Converts raw element bytes (in the file's order) to the typed array `parseNpy` returns. */
function decodeElements(raw: Uint8Array, h: NpyHeader, name: string): NpyData {
  const n = numel(h.shape);
  const size = ITEM_SIZE[h.dtype];
  const little = h.descr[0] === "<" || h.descr[0] === "|" || (h.descr[0] === "=" && LITTLE_ENDIAN_HOST);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (h.dtype) {
    case "bool": {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = raw[i] ? 1 : 0;
      return out;
    }
    case "float16": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(2 * i, little));
      return out;
    }
    case "int64":
    case "uint64": {
      const out = new Int32Array(n);
      const signed = h.dtype === "int64";
      for (let i = 0; i < n; i++) {
        const v = signed ? dv.getBigInt64(8 * i, little) : dv.getBigUint64(8 * i, little);
        if (v > 2147483647n || v < -2147483648n) {
          throw new DatasetError(
            name,
            `${h.dtype} element ${i} = ${v} does not fit in int32 (64-bit integers are read as int32)`,
          );
        }
        out[i] = Number(v);
      }
      return out;
    }
  }
  const Ctor = NATIVE[h.dtype]!;
  if (size === 1 || little === LITTLE_ENDIAN_HOST) {
    // Same byte order as the machine: a view when aligned, else one aligned copy.
    if (raw.byteOffset % size === 0) return new Ctor(raw.buffer, raw.byteOffset, n);
    return new Ctor(raw.slice().buffer, 0, n);
  }
  const swapped = new Uint8Array(n * size);
  for (let i = 0; i < n * size; i += size) {
    for (let b = 0; b < size; b++) swapped[i + b] = raw[i + size - 1 - b];
  }
  return new Ctor(swapped.buffer, 0, n);
}

/** Column-major → row-major copy for any rank. */
function fortranToC<T extends NpyData>(src: T, shape: readonly number[]): T {
  const nd = shape.length;
  const n = src.length;
  const out = new (src.constructor as new (n: number) => T)(n);
  if (nd <= 1 || n === 0) {
    out.set(src as never);
    return out;
  }
  // Fortran strides (in elements): the first axis varies fastest.
  const fs = new Array<number>(nd);
  fs[0] = 1;
  for (let k = 1; k < nd; k++) fs[k] = fs[k - 1] * shape[k - 1];
  const idx = new Array<number>(nd).fill(0);
  const last = shape[nd - 1], lastStride = fs[nd - 1];
  let o = 0;
  while (o < n) {
    let base = 0;
    for (let k = 0; k < nd - 1; k++) base += idx[k] * fs[k];
    for (let j = 0; j < last; j++) out[o++] = src[base + j * lastStride];
    for (let k = nd - 2; k >= 0; k--) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

/**
 * Checks the data size a header declares, before anything is allocated: first against the
 * decode `limit` (a {@linkcode SizeLimitError}), then against the `have` bytes after the header.
 * Errors name `file` and the field `shape`; `prefix` leads each problem (e.g. `member "x.npy": `).
 */
export function checkNpyData(h: NpyHeader, have: number, file: string, limit: number, prefix = ""): void {
  const array = `${h.dtype} (${h.shape.join(", ")})`;
  const what = `${prefix}the header declares ${h.dtype} shape (${h.shape.join(", ")}):`;
  checkDeclaredSize(file, what, h.dataBytes, limit, "shape");
  if (have !== h.dataBytes) {
    const problem = have < h.dataBytes
      ? `truncated: ${array} needs ${h.dataBytes} data bytes, the file has ${have}`
      : `${have - h.dataBytes} unexpected bytes after the data of ${array}`;
    throw new DatasetError(file, prefix + problem, { field: "shape" });
  }
}

/**
 * Parses `.npy` bytes into a row-major typed array (see the module docs for the dtype table).
 * Throws a {@linkcode DatasetError} naming `name` on bad magic, an unknown version, a malformed
 * header, an unsupported dtype, or data shorter or longer than the shape needs, and a
 * {@linkcode SizeLimitError} when the shape declares more than the decode limit
 * (`options.maxDecodedBytes`, see `util/limits.ts`). The returned `data` may be a view into
 * `bytes` (native byte order, C order, aligned).
 */
export function parseNpy(bytes: Uint8Array, name = "data", options: DecodeLimitOptions = {}): NpyArray {
  const limit = decodeLimit(options.maxDecodedBytes);
  try {
    const h = parseNpyHeader(bytes, name);
    checkNpyData(h, bytes.length - h.dataOffset, name, limit);
    let data = decodeElements(bytes.subarray(h.dataOffset), h, name);
    if (h.fortranOrder) data = fortranToC(data, h.shape);
    return { dtype: h.dtype, shape: h.shape, data, fortranOrder: h.fortranOrder };
  } catch (err) {
    throw asDatasetError(name, err);
  }
}

async function readPrefix(path: string, n: number): Promise<Uint8Array> {
  const file = await Deno.open(path);
  try {
    const out = new Uint8Array(n);
    let have = 0;
    while (have < n) {
      const got = await file.read(out.subarray(have));
      if (got === null) break;
      have += got;
    }
    return out.subarray(0, have);
  } finally {
    file.close();
  }
}

/**
 * Reads and parses an `.npy` file; errors name the path. A file much larger than the decode
 * limit is refused from its header, before it is read whole.
 */
export async function readNpy(path: string, options: DecodeLimitOptions = {}): Promise<NpyArray> {
  const limit = decodeLimit(options.maxDecodedBytes);
  let bytes: Uint8Array;
  try {
    const size = (await Deno.stat(path)).size;
    if (size > limit + 65536) {
      const h = parseNpyHeader(await readPrefix(path, Math.min(size, MAX_NPY_HEADER_BYTES)), path);
      checkNpyData(h, size - h.dataOffset, path, limit);
    }
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    throw new DatasetError(path, `cannot read the file (${e instanceof Error ? e.message : e})`, { cause: e });
  }
  return parseNpy(bytes, path, { maxDecodedBytes: limit });
}

const WRITE_CODE: Partial<Record<NpyDType, string>> = {
  bool: "|b1",
  uint8: "|u1",
  int8: "|i1",
  uint16: "<u2",
  int16: "<i2",
  uint32: "<u4",
  int32: "<i4",
  int64: "<i8",
  float32: "<f4",
  float64: "<f8",
};

/**
 * Serialises an array as `.npy` bytes the way `numpy.save` does: little-endian, C order,
 * version 1.0 (2.0 when the header needs it), header padded to a multiple of 64 bytes.
 * `int64` is written from integer values in `data`; `float16`/`uint64` cannot be written.
 */
export function encodeNpy(array: { dtype: NpyDType; shape: readonly number[]; data: ArrayLike<number> }): Uint8Array {
  const { dtype, shape, data } = array;
  const descr = WRITE_CODE[dtype];
  if (!descr) {
    throw new TypeError(`encodeNpy: dtype ${dtype} cannot be written (use one of ${Object.keys(WRITE_CODE)})`);
  }
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new RangeError(`encodeNpy: shape must hold non-negative integers, got [${shape.join(", ")}]`);
  }
  const n = numel(shape);
  if (data.length !== n) {
    throw new RangeError(`encodeNpy: data has ${data.length} elements, shape [${shape.join(", ")}] needs ${n}`);
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  let major = 1;
  let total = 10 + dict.length + 1;
  if (Math.ceil(total / 64) * 64 - 10 > 65535) {
    major = 2;
    total += 2;
  }
  const prefix = major === 1 ? 10 : 12;
  const padded = Math.ceil(total / 64) * 64;
  const header = dict + " ".repeat(padded - total) + "\n";
  const size = ITEM_SIZE[dtype];
  const out = new Uint8Array(prefix + header.length + n * size);
  out.set(MAGIC, 0);
  out[6] = major;
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[prefix + i] = header.charCodeAt(i);
  const o = prefix + header.length;
  const Ctor = NATIVE[dtype];
  if (LITTLE_ENDIAN_HOST && Ctor && data instanceof Ctor) {
    const typed = data as NpyData;
    out.set(new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength), o);
    return out;
  }
  for (let i = 0; i < n; i++) {
    const v = Number(data[i]);
    const p = o + i * size;
    switch (dtype) {
      case "bool":
        out[p] = v ? 1 : 0;
        break;
      case "uint8":
        dv.setUint8(p, v);
        break;
      case "int8":
        dv.setInt8(p, v);
        break;
      case "uint16":
        dv.setUint16(p, v, true);
        break;
      case "int16":
        dv.setInt16(p, v, true);
        break;
      case "uint32":
        dv.setUint32(p, v, true);
        break;
      case "int32":
        dv.setInt32(p, v, true);
        break;
      case "int64":
        if (!Number.isSafeInteger(v)) throw new RangeError(`encodeNpy: int64 element ${i} = ${v} is not an integer`);
        dv.setBigInt64(p, BigInt(v), true);
        break;
      case "float32":
        dv.setFloat32(p, v, true);
        break;
      case "float64":
        dv.setFloat64(p, v, true);
        break;
    }
  }
  return out;
}
