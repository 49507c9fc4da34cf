/**
 * NumPy readers: `.npy` for every dtype in both byte orders, Fortran order, header versions 1-3
 * and malformed files; `.npz` with stored and deflated members, header peeks, corrupt and
 * truncated archives; latents from safetensors (`TensorDataset`, `SafetensorsDataset`).
 * Every test array is built here byte by byte, independently of the reader.
 */
import { zipSync } from "fflate";
import { encodeNpy, type NpyArray, parseNpy, parseNpyHeader, readNpy } from "../util/formats/npy.ts";
import { crc32, NpzArchive, parseNpz, readNpz } from "../util/formats/npz.ts";
import { SafetensorsDataset, TensorDataset } from "../datasets/tensor_dataset.ts";
import { DatasetError } from "../datasets/types.ts";
import { encodeSafetensors } from "../util/formats/safetensors.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";

/** Item size and DataView writer for a NumPy type code (kind + size). */
const WRITERS: Record<string, [number, (dv: DataView, o: number, v: number, le: boolean) => void]> = {
  b1: [1, (dv, o, v) => dv.setUint8(o, v)],
  u1: [1, (dv, o, v) => dv.setUint8(o, v)],
  i1: [1, (dv, o, v) => dv.setInt8(o, v)],
  u2: [2, (dv, o, v, le) => dv.setUint16(o, v, le)],
  i2: [2, (dv, o, v, le) => dv.setInt16(o, v, le)],
  u4: [4, (dv, o, v, le) => dv.setUint32(o, v, le)],
  i4: [4, (dv, o, v, le) => dv.setInt32(o, v, le)],
  u8: [8, (dv, o, v, le) => dv.setBigUint64(o, BigInt(v), le)],
  i8: [8, (dv, o, v, le) => dv.setBigInt64(o, BigInt(v), le)],
  f2: [2, (dv, o, v, le) => dv.setUint16(o, v, le)], // v is the raw half-float bit pattern
  f4: [4, (dv, o, v, le) => dv.setFloat32(o, v, le)],
  f8: [8, (dv, o, v, le) => dv.setFloat64(o, v, le)],
};

interface NpyOpts {
  fortran?: boolean;
  version?: 1 | 2 | 3;
  /** Header dict text to use instead of the generated one. */
  dict?: string;
  /** Elements already in file order (for Fortran files); default `values`. */
  fileOrder?: number[];
}

/** An `.npy` file as NumPy lays it out: magic, version, length, padded dict, data in `descr`'s byte order. */
function npy(descr: string, shape: number[], values: number[], opts: NpyOpts = {}): Uint8Array {
  const { fortran = false, version = 1 } = opts;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = opts.dict ??
    `{'descr': '${descr}', 'fortran_order': ${fortran ? "True" : "False"}, 'shape': ${shapeText}, }`;
  const prefix = version === 1 ? 10 : 12;
  const total = prefix + dict.length + 1;
  const header = dict + " ".repeat(Math.ceil(total / 64) * 64 - total) + "\n";
  const [size, write] = WRITERS[descr.slice(1)] ?? [1, () => {}];
  const elems = opts.fileOrder ?? values;
  const out = new Uint8Array(prefix + header.length + elems.length * size);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  out.set(new TextEncoder().encode(header), prefix);
  const base = prefix + header.length;
  elems.forEach((v, i) => write(dv, base + i * size, v, descr[0] !== ">"));
  return out;
}

function arr(a: NpyArray): number[] {
  return Array.from(a.data as ArrayLike<number>);
}

Deno.test("npy: every dtype, little- and big-endian, gives the matching typed array", () => {
  const cases: [string, string, string, number[]][] = [
    ["|u1", "uint8", "Uint8Array", [0, 7, 255]],
    ["|i1", "int8", "Int8Array", [-128, 0, 127]],
    ["<u2", "uint16", "Uint16Array", [0, 258, 65535]],
    ["<i2", "int16", "Int16Array", [-32768, -2, 32767]],
    ["<u4", "uint32", "Uint32Array", [0, 16909060, 4294967295]],
    ["<i4", "int32", "Int32Array", [-2147483648, -5, 2147483647]],
    ["<f4", "float32", "Float32Array", [1.5, -0.25, 2 ** 100]],
    ["<f8", "float64", "Float64Array", [Math.PI, -1e-300, 2 ** 60]],
    ["<i8", "int64", "Int32Array", [-2147483648, -1, 2147483647]],
    ["<u8", "uint64", "Int32Array", [0, 1, 2147483647]],
  ];
  for (const [descr, dtype, ctor, values] of cases) {
    for (const order of descr[0] === "|" ? ["|"] : ["<", ">"]) {
      const d = order + descr.slice(1);
      const a = parseNpy(npy(d, [3], values), `x${d}.npy`);
      assertEquals(a.dtype, dtype, d);
      assertEquals(a.data.constructor.name, ctor, d);
      assertEquals(a.shape, [3], d);
      assertEquals(arr(a), values, d);
      assertEquals(a.fortranOrder, false);
    }
  }
});

Deno.test("npy: bool becomes 0/1 bytes; float16 converts to float32 in both byte orders", () => {
  const b = parseNpy(npy("|b1", [2, 2], [1, 0, 0, 2]));
  assertEquals(b.dtype, "bool");
  assert(b.data instanceof Uint8Array);
  assertEquals(arr(b), [1, 0, 0, 1]);
  // 1.0, -2.0, smallest subnormal, +inf, 65504 (largest half)
  const halves = [0x3c00, 0xc000, 0x0001, 0x7c00, 0x7bff];
  for (const d of ["<f2", ">f2"]) {
    const h = parseNpy(npy(d, [5], halves));
    assertEquals(h.dtype, "float16");
    assert(h.data instanceof Float32Array);
    assertEquals(arr(h), [1, -2, 2 ** -24, Infinity, 65504], d);
  }
});

Deno.test("npy: scalar, empty and multi-dimensional shapes; Python 2 long literals", () => {
  const s = parseNpy(npy("<f8", [], [2.5]));
  assertEquals(s.shape, []);
  assertEquals(arr(s), [2.5]);
  const e = parseNpy(npy("<f4", [0, 3], []));
  assertEquals(e.shape, [0, 3]);
  assertEquals(e.data.length, 0);
  const old = npy("<i2", [2, 3], [1, 2, 3, 4, 5, 6], {
    dict: `{'descr': '<i2', 'fortran_order': False, 'shape': (2L, 3L), }`,
  });
  assertEquals(parseNpy(old).shape, [2, 3]);
  const dq = npy("<i2", [2], [1, 2], { dict: `{"shape": (2,), "fortran_order": False, "descr": "<i2"}` });
  assertEquals(arr(parseNpy(dq)), [1, 2], "keys in any order, double quotes");
});

Deno.test("npy: Fortran order is transposed to C order (2D and 3D, both byte orders)", () => {
  // C-order values of a 2×3 array: [[0, 1, 2], [3, 4, 5]]; column-major file order 0 3 1 4 2 5.
  for (const d of ["<i4", ">i4"]) {
    const a = parseNpy(npy(d, [2, 3], [], { fortran: true, fileOrder: [0, 3, 1, 4, 2, 5] }));
    assertEquals(a.fortranOrder, true);
    assertEquals(a.shape, [2, 3]);
    assertEquals(arr(a), [0, 1, 2, 3, 4, 5], d);
  }
  // 2×3×4 with value = 100i + 10j + k; the file lists i fastest, then j, then k.
  const shape = [2, 3, 4];
  const fileOrder: number[] = [];
  for (let k = 0; k < 4; k++) {
    for (let j = 0; j < 3; j++) for (let i = 0; i < 2; i++) fileOrder.push(100 * i + 10 * j + k);
  }
  const c: number[] = [];
  for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) c.push(100 * i + 10 * j + k);
  const a = parseNpy(npy("<f8", shape, [], { fortran: true, fileOrder }));
  assertEquals(arr(a), c);
  const one = parseNpy(npy("|u1", [4], [], { fortran: true, fileOrder: [9, 8, 7, 6] }));
  assertEquals(arr(one), [9, 8, 7, 6], "1-D Fortran order is C order");
});

Deno.test("npy: header versions 2.0 and 3.0 (4-byte length; 3.0 is UTF-8)", () => {
  for (const version of [2, 3] as const) {
    const bytes = npy("<u2", [2], [5, 6], { version });
    const h = parseNpyHeader(bytes);
    assertEquals(h.version, [version, 0]);
    assertEquals(h.dataOffset % 64, 0);
    assertEquals(arr(parseNpy(bytes)), [5, 6]);
  }
});

Deno.test("npy: data stays a view of the input when aligned, and is copied when not", () => {
  const bytes = npy("<f4", [2], [1, 2]);
  const a = parseNpy(bytes);
  assert(a.data.buffer === bytes.buffer, "aligned little-endian float32 is a view");
  const shifted = new Uint8Array(bytes.length + 1);
  shifted.set(bytes, 1);
  const b = parseNpy(shifted.subarray(1));
  assertEquals(arr(b), [1, 2]);
});

Deno.test("npy: malformed files throw DatasetError naming the file and the problem", () => {
  const good = npy("<f4", [4], [1, 2, 3, 4]);
  const bad = good.slice();
  bad[1] = 0x58;
  assertThrows(
    () => parseNpy(bad, "bad.npy"),
    DatasetError,
    "bad.npy: not an .npy array: the file does not start with the magic",
  );
  assertThrows(
    () => parseNpy(good.subarray(0, good.length - 3), "cut.npy"),
    DatasetError,
    "cut.npy: truncated: float32 (4) needs 16 data bytes, the file has 13",
  );
  assertThrows(() => parseNpy(good.subarray(0, 40), "head.npy"), DatasetError, "head.npy: truncated: the header needs");
  assertThrows(() => parseNpy(good.subarray(0, 5), "tiny.npy"), DatasetError, "tiny.npy: truncated");
  const extra = new Uint8Array(good.length + 4);
  extra.set(good);
  assertThrows(() => parseNpy(extra, "long.npy"), DatasetError, "long.npy: 4 unexpected bytes after the data");
  const v9 = good.slice();
  v9[6] = 9;
  assertThrows(() => parseNpy(v9, "v9.npy"), DatasetError, "v9.npy: unsupported .npy format version 9.0");
  for (const descr of ["<c8", "|S5", "<U3", "|O", "<f16"]) {
    assertThrows(() => parseNpy(npy(descr, [1], [0]), "t.npy"), DatasetError, `t.npy: unsupported dtype '${descr}'`);
  }
  const structured = npy("<f4", [1], [0], {
    dict: `{'descr': [('x', '<f4'), ('y', '<f4')], 'fortran_order': False, 'shape': (1,), }`,
  });
  assertThrows(() => parseNpy(structured, "s.npy"), DatasetError, "structured arrays are not supported");
  const noShape = npy("<f4", [1], [0], { dict: `{'descr': '<f4', 'fortran_order': False}` });
  assertThrows(() => parseNpy(noShape, "n.npy"), DatasetError, "n.npy: the header has no 'shape' key");
  const garbage = npy("<f4", [1], [0], { dict: `{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}` });
  assertThrows(() => parseNpy(garbage, "g.npy"), DatasetError, "g.npy: the header is not a valid Python literal");
  const big = npy("<i8", [2], [1, 0]);
  new DataView(big.buffer).setBigInt64(big.length - 8, 2n ** 40n, true);
  assertThrows(
    () => parseNpy(big, "i64.npy"),
    DatasetError,
    "i64.npy: int64 element 1 = 1099511627776 does not fit in int32",
  );
});

Deno.test("npy: encodeNpy writes what parseNpy (and NumPy's layout rules) expect", () => {
  const a = encodeNpy({ dtype: "int16", shape: [2, 2], data: [1, -2, 3, -4] });
  assertEquals(Array.from(a.subarray(0, 8)), [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const h = parseNpyHeader(a);
  assertEquals(h.dataOffset % 64, 0, "data aligned to 64 bytes like numpy.save");
  assertEquals(h.descr, "<i2");
  const header = new TextDecoder().decode(a.subarray(10, h.dataOffset));
  assertEquals(header.trimEnd(), "{'descr': '<i2', 'fortran_order': False, 'shape': (2, 2), }");
  assertEquals(header.at(-1), "\n");
  for (const dtype of ["bool", "uint8", "int8", "uint16", "uint32", "int32", "int64", "float32", "float64"] as const) {
    const values = dtype === "bool" ? [1, 0, 1] : [0, 1, 100];
    const back = parseNpy(encodeNpy({ dtype, shape: [3], data: values }));
    assertEquals(back.dtype, dtype);
    assertEquals(arr(back), values, dtype);
  }
  const one = parseNpy(encodeNpy({ dtype: "float32", shape: [1], data: new Float32Array([0.5]) }));
  assertEquals(parseNpyHeader(encodeNpy({ dtype: "float32", shape: [1], data: [0] })).shape, [1]);
  assertEquals(arr(one), [0.5]);
  assertThrows(() => encodeNpy({ dtype: "float32", shape: [2], data: [1] }), RangeError, "data has 1 elements");
  assertThrows(() => encodeNpy({ dtype: "float16", shape: [1], data: [1] }), TypeError, "float16 cannot be written");
});

Deno.test("npy: readNpy reads a file and names a missing one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meddiff-npy-" });
  try {
    await Deno.writeFile(`${dir}/a.npy`, npy("<f8", [2], [1.25, -3]));
    const a = await readNpy(`${dir}/a.npy`);
    assertEquals(arr(a), [1.25, -3]);
    await assertRejects(() => readNpy(`${dir}/missing.npy`), DatasetError, `${dir}/missing.npy: cannot read the file`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// --- npz -------------------------------------------------------------------------------------

/** An archive with one stored and one deflated member, as numpy.savez / savez_compressed write them. */
function sampleZip(): Uint8Array {
  const images = npy("|u1", [3, 2, 2], Array.from({ length: 12 }, (_, i) => i * 20));
  const labels = npy("<i8", [3, 1], [2, 0, 1]);
  const big = npy("<f4", [64, 64], Array.from({ length: 4096 }, (_, i) => i % 7)); // compressible
  return zipSync({
    "images.npy": [images, { level: 0 }],
    "labels.npy": [labels, { level: 6 }],
    "big.npy": [big, { level: 6 }],
  });
}

Deno.test("npz: stored and deflated members, names without .npy, subsets and header peeks", async () => {
  const zip = sampleZip();
  const arch = NpzArchive.fromBytes(zip, "mem.npz");
  assertEquals(arch.names, ["images", "labels", "big"]);
  assertEquals(arch.entries.map((e) => e.compression), ["stored", "deflated", "deflated"]);
  assert(arch.entries[2].compressedSize < arch.entries[2].size / 4, "big.npy is actually compressed");
  assert(arch.has("labels") && !arch.has("labels.npy"));
  const all = parseNpz(zip, "mem.npz");
  assertEquals(Object.keys(all), ["images", "labels", "big"]);
  assertEquals(all.images.shape, [3, 2, 2]);
  assertEquals(arr(all.images), Array.from({ length: 12 }, (_, i) => i * 20));
  assertEquals(all.labels.dtype, "int64");
  assertEquals(arr(all.labels), [2, 0, 1]);
  assertEquals(arr(all.big).slice(0, 9), [0, 1, 2, 3, 4, 5, 6, 0, 1]);
  const some = parseNpz(zip, "mem.npz", { names: ["labels"] });
  assertEquals(Object.keys(some), ["labels"]);
  const h = arch.header("big");
  assertEquals([h.dtype, h.shape], ["float32", [64, 64]]);
  assertEquals(arch.header("images").shape, [3, 2, 2]);

  const dir = await Deno.makeTempDir({ prefix: "meddiff-npz-" });
  try {
    await Deno.writeFile(`${dir}/x.npz`, zip);
    const fromFile = await readNpz(`${dir}/x.npz`, { names: ["images", "labels"] });
    assertEquals(arr(fromFile.labels), [2, 0, 1]);
    assertEquals((await NpzArchive.open(`${dir}/x.npz`)).source, `${dir}/x.npz`);
    await assertRejects(() => readNpz(`${dir}/nope.npz`), DatasetError, `${dir}/nope.npz: cannot read the file`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("npz: crc32 matches known check values", () => {
  assertEquals(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assertEquals(crc32(new Uint8Array()), 0);
  const long = new Uint8Array(1000).map((_, i) => (i * 31) & 255);
  let bitwise = 0xffffffff; // reference: one bit at a time
  for (const byte of long) {
    bitwise ^= byte;
    for (let k = 0; k < 8; k++) bitwise = bitwise & 1 ? 0xedb88320 ^ (bitwise >>> 1) : bitwise >>> 1;
  }
  assertEquals(crc32(long), (bitwise ^ 0xffffffff) >>> 0);
});

Deno.test("npz: corrupt, truncated and foreign archives throw DatasetError naming the file", async () => {
  const zip = sampleZip();
  const dir = await Deno.makeTempDir({ prefix: "meddiff-npz-bad-" });
  try {
    const write = async (name: string, bytes: Uint8Array) => {
      await Deno.writeFile(`${dir}/${name}`, bytes);
      return `${dir}/${name}`;
    };
    // Cut short: the directory at the end is gone.
    const cut = await write("cut.npz", zip.subarray(0, zip.length - 40));
    await assertRejects(() => readNpz(cut), DatasetError, `${cut}: truncated ZIP archive`);
    // Not a zip at all.
    const text = await write("text.npz", new TextEncoder().encode("hello, this is not a zip file at all"));
    await assertRejects(() => readNpz(text), DatasetError, `${text}: not an .npz (ZIP) archive`);
    // A flipped byte inside the stored member's data: only the CRC can tell.
    const arch = NpzArchive.fromBytes(zip, "probe");
    const stored = arch.entries[0];
    const flipped = zip.slice();
    const local = new DataView(zip.buffer, zip.byteOffset + stored.localOffset);
    const dataStart = stored.localOffset + 30 + local.getUint16(26, true) + local.getUint16(28, true);
    assert(stored.size > 130);
    flipped[dataStart + 130] ^= 0xff; // a pixel byte (the header is 128 bytes)
    const crcBad = await write("crc.npz", flipped);
    await assertRejects(() => readNpz(crcBad), DatasetError, `${crcBad}: member "images.npy": CRC-32 mismatch`);
    // Garbage inside a deflated member.
    const deflated = arch.entries[2];
    const mangled = zip.slice();
    const dl = new DataView(zip.buffer, zip.byteOffset + deflated.localOffset);
    const start = deflated.localOffset + 30 + dl.getUint16(26, true) + dl.getUint16(28, true);
    for (let i = 0; i < 40; i++) mangled[start + 10 + i] = 0xff;
    const inflBad = await write("deflate.npz", mangled);
    await assertRejects(() => readNpz(inflBad), DatasetError, `${inflBad}: member "big.npy"`);
    // The directory promises more data than the file holds.
    const directoryLies = zip.slice();
    const dv = new DataView(directoryLies.buffer);
    const cdOffset = dv.getUint32(directoryLies.length - 22 + 16, true);
    dv.setUint32(cdOffset + 20, 10_000_000, true); // first member's compressed size
    const lies = await write("lies.npz", directoryLies);
    await assertRejects(
      () => readNpz(lies, { names: ["images"] }),
      DatasetError,
      "truncated: its 10000000 bytes run past",
    );
    // A member that is not an .npy array.
    const notNpy = await write("notnpy.npz", zipSync({ "a.npy": new TextEncoder().encode("plain text, no magic") }));
    await assertRejects(() => readNpz(notNpy), DatasetError, `${notNpy}: member "a.npy": not an .npy array`);
    // A missing array is named along with the ones present.
    assertThrows(
      () => arch.read("weights"),
      DatasetError,
      'probe: no array "weights" in the archive (it has: images, labels, big)',
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A stored-only ZIP written the way a ZIP64 writer does for huge members: every size and offset
 * in the central directory is 0xFFFFFFFF with the real values in a ZIP64 extra field, and the
 * end record points to a ZIP64 end record through a locator.
 */
function zip64(members: Record<string, Uint8Array>): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(members)) {
    const n = enc.encode(name);
    const local = new Uint8Array(30 + n.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 45, true);
    lv.setUint32(14, crc32(data), true);
    lv.setUint32(18, data.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, n.length, true);
    local.set(n, 30);
    const c = new Uint8Array(46 + n.length + 28);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(6, 45, true);
    cv.setUint32(16, crc32(data), true);
    cv.setUint32(20, 0xffffffff, true);
    cv.setUint32(24, 0xffffffff, true);
    cv.setUint16(28, n.length, true);
    cv.setUint16(30, 28, true);
    cv.setUint32(42, 0xffffffff, true);
    c.set(n, 46);
    const x = 46 + n.length;
    cv.setUint16(x, 0x0001, true);
    cv.setUint16(x + 2, 24, true);
    cv.setBigUint64(x + 4, BigInt(data.length), true); // uncompressed
    cv.setBigUint64(x + 12, BigInt(data.length), true); // compressed
    cv.setBigUint64(x + 20, BigInt(offset), true); // local header offset
    parts.push(local, data);
    central.push(c);
    offset += local.length + data.length;
  }
  const cdOffset = offset;
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  const tail = new Uint8Array(56 + 20 + 22);
  const tv = new DataView(tail.buffer);
  tv.setUint32(0, 0x06064b50, true);
  tv.setBigUint64(4, 44n, true);
  tv.setBigUint64(24, BigInt(central.length), true);
  tv.setBigUint64(32, BigInt(central.length), true);
  tv.setBigUint64(40, BigInt(cdSize), true);
  tv.setBigUint64(48, BigInt(cdOffset), true);
  tv.setUint32(56, 0x07064b50, true);
  tv.setBigUint64(64, BigInt(cdOffset + cdSize), true);
  tv.setUint32(72, 1, true);
  tv.setUint32(76, 0x06054b50, true);
  tv.setUint16(86, 0xffff, true);
  tv.setUint32(88, 0xffffffff, true);
  tv.setUint32(92, 0xffffffff, true);
  const all = [...parts, ...central, tail];
  const out = new Uint8Array(all.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of all) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

Deno.test("npz: ZIP64 directories (sizes and offsets in extra fields, ZIP64 end record)", () => {
  const bytes = zip64({ "a.npy": npy("<i4", [2], [7, -7]), "b.npy": npy("|u1", [3], [1, 2, 3]) });
  const arch = NpzArchive.fromBytes(bytes, "z64.npz");
  assertEquals(arch.names, ["a", "b"]);
  assertEquals(arch.entries[1].size, arch.entries[1].compressedSize);
  assertEquals(arr(arch.read("a")), [7, -7]);
  assertEquals(arr(arch.read("b")), [1, 2, 3]);
  const broken = bytes.slice();
  const loc = broken.length - 22 - 20;
  new DataView(broken.buffer).setUint32(loc, 0, true);
  assertThrows(
    () => NpzArchive.fromBytes(broken, "z64.npz"),
    DatasetError,
    "z64.npz: corrupt ZIP64 archive: no ZIP64 locator",
  );
});

// --- latents ---------------------------------------------------------------------------------

Deno.test("TensorDataset: rows as ArrayImages, labels, copies, range checks", async () => {
  const data = Float32Array.from({ length: 3 * 2 * 2 }, (_, i) => i);
  const ds = new TensorDataset({ data, shape: [3, 2, 2] }, Int32Array.from([1, 0, 1]), { classes: ["a", "b"] });
  assertEquals(ds.length, 3);
  assertEquals(ds.sampleShape, [2, 2]);
  assertEquals(ds.classes, ["a", "b"]);
  assertEquals(Array.from(ds.labels!()), [1, 0, 1]);
  const s = await ds.get(2);
  assertEquals(s.image.shape, [2, 2]);
  assertEquals(Array.from(s.image.data), [8, 9, 10, 11]);
  assertEquals([s.label, s.id], [1, "2"]);
  s.image.data[0] = -1;
  assertEquals((await ds.get(2)).image.data[0], 8, "samples are copies");
  const unlabelled = new TensorDataset({ data, shape: [3, 4] });
  assertEquals(unlabelled.labels, undefined);
  assertEquals((await unlabelled.get(0)).label, -1);
  await assertRejects(() => ds.get(3), RangeError, "index 3 is outside [0, 3)");
  assertThrows(
    () => new TensorDataset({ data, shape: [3, 4] }, Int32Array.from([0, 2, 1]), { classes: ["a", "b"], source: "z" }),
    DatasetError,
    "z: label 1 is 2, outside 0..1",
  );
  assertThrows(
    () => new TensorDataset({ data, shape: [3, 4] }, Int32Array.from([0, 1])),
    DatasetError,
    "3 latents but 2 labels",
  );
  assertThrows(
    () => new TensorDataset({ data, shape: [2, 4] }),
    DatasetError,
    "latents have 12 elements, shape [2, 4] needs 8",
  );
});

Deno.test("SafetensorsDataset: latents + labels by name, metadata, F16 latents, bad files", async () => {
  const latents = Float32Array.from({ length: 4 * 2 * 3 }, (_, i) => i / 2);
  const bytes = encodeSafetensors(
    {
      latents: { dtype: "float32", shape: [4, 2, 3], data: latents },
      labels: { dtype: "int32", shape: [4], data: Int32Array.from([0, 1, 1, 0]) },
      y: { dtype: "int32", shape: [4, 1], data: Int32Array.from([3, 3, 3, 3]) },
    },
    { scaling_factor: "0.18215" },
  );
  const dir = await Deno.makeTempDir({ prefix: "meddiff-latents-" });
  try {
    const path = `${dir}/latents.safetensors`;
    await Deno.writeFile(path, bytes);
    const ds = await SafetensorsDataset.open(path);
    assertEquals([ds.length, ds.sampleShape], [4, [2, 3]]);
    assertEquals(ds.metadata, { scaling_factor: "0.18215" });
    assertEquals(Array.from(ds.labels!()), [0, 1, 1, 0]);
    assertEquals(ds.classes, ["0", "1"]);
    const s = await ds.get(1);
    assertEquals(Array.from(s.image.data), [3, 3.5, 4, 4.5, 5, 5.5]);
    assertEquals(s.meta.source, path);
    const other = SafetensorsDataset.fromBytes(bytes, "b", { labelsKey: "y", classes: ["a", "b", "c", "d"] });
    assertEquals(Array.from(other.labels!()), [3, 3, 3, 3]);
    assertEquals(SafetensorsDataset.fromBytes(bytes, "b", { labelsKey: null }).labels, undefined);
    assertThrows(
      () => SafetensorsDataset.fromBytes(bytes, "b", { latentsKey: "z" }),
      DatasetError,
      'b: no tensor "z" (it has: latents, labels, y)',
    );
    assertThrows(
      () => SafetensorsDataset.fromBytes(bytes, "b", { labelsKey: "nope" }),
      DatasetError,
      'no labels tensor "nope"',
    );
    assertThrows(
      () => SafetensorsDataset.fromBytes(bytes, "b", { latentsKey: "labels", labelsKey: null }),
      DatasetError,
      '"labels" must be a float tensor',
    );
    assertThrows(
      () => SafetensorsDataset.fromBytes(bytes, "b", { latentsKey: "latents", labelsKey: "latents" }),
      DatasetError,
      '"latents" must be an integer tensor',
    );
    assertThrows(
      () => SafetensorsDataset.fromBytes(bytes, "b", { labelsKey: "y", classes: ["a"] }),
      DatasetError,
      "b: label 0 is 3, outside 0..0",
    );
    await Deno.writeFile(`${dir}/cut.safetensors`, bytes.subarray(0, bytes.length - 5));
    await assertRejects(
      () => SafetensorsDataset.open(`${dir}/cut.safetensors`),
      DatasetError,
      `${dir}/cut.safetensors: not a valid safetensors file`,
    );
    await assertRejects(() => SafetensorsDataset.open(`${dir}/none.safetensors`), DatasetError, "cannot read the file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // F16 latents (as a VAE might save them) arrive as float32.
  const header = new TextEncoder().encode(
    JSON.stringify({ latents: { dtype: "F16", shape: [2, 1], data_offsets: [0, 4] } }),
  );
  const f16 = new Uint8Array(8 + header.length + 4);
  new DataView(f16.buffer).setBigUint64(0, BigInt(header.length), true);
  f16.set(header, 8);
  f16.set(new Uint8Array(Uint16Array.from([0x3c00, 0xb800]).buffer), 8 + header.length);
  const half = SafetensorsDataset.fromBytes(f16, "f16");
  assertEquals(Array.from((await half.get(1)).image.data), [-0.5]);
  assertEquals(half.labels, undefined);
});
