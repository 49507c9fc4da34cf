/**
 * NIfTI-1 and NIfTI-2 volumes (`.nii`, `.nii.gz`, and `.hdr`/`.img` pairs), read with
 * `nifti-reader-js` and turned into float arrays in physical units.
 *
 * **Memory layout.** A NIfTI file stores voxels with x (the first dimension, `dim[1]`) varying
 * fastest, then y, z, t. {@linkcode NiftiVolume.data} keeps that order unchanged, and
 * {@linkcode NiftiVolume.shape} lists the dimensions *reversed* — `[z, y, x]` for 3D,
 * `[t, z, y, x]` for 4D, up to 7D — so that `data` is row-major (C order) over `shape`, exactly
 * what a tensor wants: `tensor(v.data, [1, ...v.shape])` is an NCDHW-style `[1, D, H, W]` volume
 * with D = z, H = y, W = x. The element at NIfTI voxel `(i, j, k)` (x, y, z) is
 * `data[(k * ny + j) * nx + i]`. The NIfTI-order sizes are in `meta.dims` (`[x, y, z, (t, ...)]`).
 * RGB24 and RGBA32 volumes get one more, innermost axis for the channel (`[z, y, x, 3]`),
 * interleaved as stored.
 *
 * **Values.** Every datatype below becomes `Float32Array` values; where `scl_slope` is non-zero
 * and finite, `value = scl_slope · stored + scl_inter` (the standard: a slope of 0 means the data
 * are not scaled, whatever the intercept). Both byte orders are read.
 *
 * | code | datatype | | code | datatype |
 * |---|---|---|---|---|
 * | 2 | uint8 | | 256 | int8 |
 * | 4 | int16 | | 512 | uint16 |
 * | 8 | int32 | | 768 | uint32 |
 * | 16 | float32 | | 64 | float64 |
 * | 1024 | int64 (to float, may round) | | 1280 | uint64 (to float, may round) |
 * | 128 | RGB24 (unscaled) | | 2304 | RGBA32 (unscaled) |
 *
 * Complex, float128 and 1-bit data give a {@linkcode DatasetError}. Values that come out NaN or
 * ±Inf (float data holding them, or scaling that overflows float32) are reported per the
 * `nonFinite` option: a warning by default, or an error.
 *
 * **Untrusted files.** The header is read first (from the first decoded bytes of a `.gz`), and the
 * size it declares (voxel bytes up to the end of the data, plus the float32 output) is checked
 * against the decode limit (`maxDecodedBytes`, see `util/limits.ts`) before anything is inflated
 * or allocated; a `.gz` too small to hold what its header declares fails at once, and the gzip
 * stream is inflated under a cap near the declared size, with its CRC-32 and length checked.
 *
 * **Affine.** `meta.affine` maps voxel indices `(i, j, k, 1)` to world millimetres (RAS+, as
 * NIfTI defines it): the sform rows when `sform_code > 0`, else the qform built from the
 * quaternion when `qform_code > 0` ({@linkcode quaternToAffine}, as `nifti1_io.c` does), else
 * the NIfTI "method 1" `diag(pixdim[1], pixdim[2], pixdim[3])` (nibabel instead centres that
 * fallback; both are guesses, as the file says nothing about orientation).
 * @module
 */
import { isNIFTI1, isNIFTI2, NIFTI1, NIFTI2 } from "nifti-reader-js";
import { formatBytes } from "../util/errors.ts";
import { gunzip, gunzipPrefix, isGzip } from "../util/formats/inflate.ts";
import { checkDeclaredSize, decodeLimit, type DecodeLimitOptions } from "../util/limits.ts";
import { DatasetError, SizeLimitError } from "./types.ts";
import { asDatasetError, countNonFinite, type NonFinitePolicy, nonFinitePolicy, reportNonFinite } from "./untrusted.ts";

/** What a NIfTI header says, besides the voxels. */
export interface NiftiMeta {
  /** 1 for NIfTI-1 (348-byte header), 2 for NIfTI-2 (540-byte header). */
  version: 1 | 2;
  /** Byte order of the file. */
  endianness: "little" | "big";
  /** Datatype code (`datatype` field). */
  datatypeCode: number;
  /** Datatype name: `"uint8"`, `"int16"`, `"float32"`, `"rgb24"`, ... */
  datatype: string;
  /** Bits per voxel as the header states (`bitpix`). */
  bitpix: number;
  /** Dimension sizes in NIfTI order, `[x, y, z, (t, ...)]` (`dim[1..dim[0]]`). */
  dims: number[];
  /** The 8 `pixdim` values as stored (`pixdim[0]` is qfac). */
  pixdim: number[];
  /** Voxel size `[dx, dy, dz]` (absolute `pixdim[1..3]`), in `spatialUnit`. */
  voxelSize: [number, number, number];
  /** Time between volumes (`pixdim[4]`) for 4D data, in `temporalUnit`; 0 when not set. */
  timeStep: number;
  /** `qform_code`: 0 unknown, 1 scanner, 2 aligned, 3 Talairach, 4 MNI152, 5 template. */
  qformCode: number;
  /** `sform_code`, same codes as `qformCode`. */
  sformCode: number;
  /** 4×4 voxel-to-world matrix, row-major rows (see the module notes for which form it is). */
  affine: number[][];
  /** Which transform `affine` comes from. */
  affineSource: "sform" | "qform" | "pixdim";
  /** The qform matrix built from the quaternion (even when `qformCode` is 0). */
  qform: number[][];
  /** The sform rows as stored (even when `sformCode` is 0). */
  sform: number[][];
  /** `scl_slope` as stored (0 or NaN means "no scaling"). */
  sclSlope: number;
  /** `scl_inter` as stored. */
  sclInter: number;
  /** Whether `data` had the slope/intercept applied. */
  scaled: boolean;
  /** `cal_min`/`cal_max`: the display range the writer suggests (both 0 when unset). */
  calMin: number;
  /** See `calMin`. */
  calMax: number;
  /** `descrip` text. */
  description: string;
  /** `aux_file` text. */
  auxFile: string;
  /** `intent_code` (0 none). */
  intentCode: number;
  /** `intent_name` text. */
  intentName: string;
  /** Unit of `voxelSize` and the affine: `"m"`, `"mm"`, `"um"` or `"unknown"`. */
  spatialUnit: string;
  /** Unit of `timeStep`: `"s"`, `"ms"`, `"us"`, `"Hz"`, `"ppm"`, `"rad/s"` or `"unknown"`. */
  temporalUnit: string;
  /** Byte offset of the voxel data (`vox_offset`) in the file holding it. */
  voxOffset: number;
  /** Channels of RGB24 (3) / RGBA32 (4) data; 1 otherwise. */
  channels: number;
}

/** A decoded NIfTI image: values in physical units, row-major over `shape` (reversed NIfTI order). */
export interface NiftiVolume {
  /** `[z, y, x]`, `[t, z, y, x]`, ... (NIfTI dims reversed), with a trailing channel axis for RGB. */
  shape: number[];
  /** Voxel values, row-major over `shape` (NIfTI's x-fastest order), scaled by `scl_slope`/`scl_inter`. */
  data: Float32Array;
  /** Header facts. */
  meta: NiftiMeta;
}

/** Options of {@linkcode parseNifti}. */
export interface ParseNiftiOptions extends NiftiReadOptions {
  /**
   * The voxel bytes of a two-file `.hdr`/`.img` pair (the `.img` contents, gunzipped). Without it a
   * `"ni1"`/`"ni2"` header is an error, since its voxels live in another file.
   */
  image?: Uint8Array;
}

interface DatatypeInfo {
  name: string;
  bytes: number;
  channels: number;
}

const DATATYPES: Record<number, DatatypeInfo> = {
  2: { name: "uint8", bytes: 1, channels: 1 },
  4: { name: "int16", bytes: 2, channels: 1 },
  8: { name: "int32", bytes: 4, channels: 1 },
  16: { name: "float32", bytes: 4, channels: 1 },
  64: { name: "float64", bytes: 8, channels: 1 },
  128: { name: "rgb24", bytes: 1, channels: 3 },
  256: { name: "int8", bytes: 1, channels: 1 },
  512: { name: "uint16", bytes: 2, channels: 1 },
  768: { name: "uint32", bytes: 4, channels: 1 },
  1024: { name: "int64", bytes: 8, channels: 1 },
  1280: { name: "uint64", bytes: 8, channels: 1 },
  2304: { name: "rgba32", bytes: 1, channels: 4 },
};

const UNSUPPORTED_DATATYPES: Record<number, string> = {
  0: "unknown (0)",
  1: "binary (1 bit per voxel)",
  32: "complex64",
  1536: "float128",
  1792: "complex128",
  2048: "complex256",
};

const SPATIAL_UNITS: Record<number, string> = { 0: "unknown", 1: "m", 2: "mm", 3: "um" };
const TEMPORAL_UNITS: Record<number, string> = {
  0: "unknown",
  8: "s",
  16: "ms",
  24: "us",
  32: "Hz",
  40: "ppm",
  48: "rad/s",
};

/**
 * The qform voxel-to-world matrix from the NIfTI-1 quaternion fields, as `nifti_quatern_to_mat44`
 * in `nifti1_io.c` computes it: `a = sqrt(1 − b² − c² − d²)` (if `b² + c² + d²` exceeds 1 the
 * quaternion (b, c, d) is normalised and `a = 0`), rotation
 * `R = [[a²+b²−c²−d², 2(bc−ad), 2(bd+ac)], [2(bc+ad), a²+c²−b²−d², 2(cd−ab)], [2(bd−ac), 2(cd+ab), a²+d²−c²−b²]]`,
 * columns scaled by the voxel sizes (a size ≤ 0 counts as 1) with the third negated when
 * `qfac < 0`, and the offsets as the last column.
 */
export function quaternToAffine(
  quatern: [number, number, number],
  offset: [number, number, number],
  voxelSize: [number, number, number],
  qfac: number,
): number[][] {
  let [b, c, d] = quatern;
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    const s = 1 / Math.sqrt(b * b + c * c + d * d);
    b *= s;
    c *= s;
    d *= s;
    a = 0;
  } else {
    a = Math.sqrt(a);
  }
  const [dx, dy, dz] = voxelSize.map((v) => (v > 0 ? v : 1));
  const zs = qfac < 0 ? -dz : dz;
  return [
    [(a * a + b * b - c * c - d * d) * dx, 2 * (b * c - a * d) * dy, 2 * (b * d + a * c) * zs, offset[0]],
    [2 * (b * c + a * d) * dx, (a * a + c * c - b * b - d * d) * dy, 2 * (c * d - a * b) * zs, offset[1]],
    [2 * (b * d - a * c) * dx, 2 * (c * d + a * b) * dy, (a * a + d * d - c * c - b * b) * zs, offset[2]],
    [0, 0, 0, 1],
  ];
}

/** The most DEFLATE can inflate one compressed byte to (a 258-byte match in 2 bits): 1032. */
const MAX_DEFLATE_RATIO = 1032;
/** Decoded bytes a gzipped file may hold past the end of its voxels (padding some writers add). */
const TRAILING_SLACK = 1 << 20;

/** A copy in a fresh, aligned ArrayBuffer (the header reader needs one). */
function ownBuffer(bytes: Uint8Array, start = 0, end = bytes.length): ArrayBuffer {
  const out = new Uint8Array(end - start);
  out.set(bytes.subarray(start, end));
  return out.buffer;
}

function readSrows(view: DataView, version: 1 | 2, little: boolean): number[][] {
  const rows: number[][] = [];
  for (let r = 0; r < 3; r++) {
    const row: number[] = [];
    for (let c = 0; c < 4; c++) {
      row.push(
        version === 1 ? view.getFloat32(280 + (r * 4 + c) * 4, little) : view.getFloat64(400 + (r * 4 + c) * 8, little),
      );
    }
    rows.push(row);
  }
  rows.push([0, 0, 0, 1]);
  return rows;
}

function magicOf(bytes: Uint8Array, at: number): string {
  let s = "";
  for (let i = at; i < at + 4 && i < bytes.length; i++) {
    const ch = bytes[i];
    s += ch >= 32 && ch < 127 ? String.fromCharCode(ch) : `\\x${ch.toString(16).padStart(2, "0")}`;
  }
  return s;
}

/** A NUL-terminated Latin-1 string of at most `len` bytes at `at`, trailing spaces dropped. */
function cString(bytes: Uint8Array, at: number, len: number): string {
  let s = "";
  for (let i = at; i < at + len && bytes[i] !== 0; i++) s += String.fromCharCode(bytes[i]);
  return s.trimEnd();
}

/** Which NIfTI version and byte order `sizeof_hdr` announces, or null. */
function sniff(bytes: Uint8Array): { version: 1 | 2; little: boolean } | null {
  if (bytes.length < 4) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, 4);
  for (const little of [true, false]) {
    const n = v.getInt32(0, little);
    if (n === 348) return { version: 1, little };
    if (n === 540) return { version: 2, little };
  }
  return null;
}

/** What the header says about the size and place of the voxels. */
interface Layout {
  version: 1 | 2;
  little: boolean;
  headerSize: number;
  /** A `ni1`/`ni2` header, whose voxels are in a separate `.img` file. */
  pair: boolean;
  magic: string;
  code: number;
  dt: DatatypeInfo;
  dims: number[];
  voxels: number;
  dataBytes: number;
  /** `vox_offset`, rounded (raised past the header and extension flag for a single file). */
  offset: number;
}

/**
 * Reads the fields that size the decode (sizeof_hdr, magic, datatype, dim, vox_offset) from the
 * first bytes of the decoded file, so that the size is checked before anything is inflated.
 */
function readLayout(head: Uint8Array, name: string): Layout {
  const kind = sniff(head);
  if (!kind) {
    throw new DatasetError(
      name,
      head.length < 4
        ? `not a NIfTI file: only ${head.length} bytes`
        : "not a NIfTI file: the first 4 bytes (sizeof_hdr) are neither 348 (NIfTI-1) nor 540 (NIfTI-2) in either byte order",
    );
  }
  const { version, little } = kind;
  const headerSize = version === 1 ? 348 : 540;
  if (head.length < headerSize) {
    throw new DatasetError(
      name,
      `truncated NIfTI-${version} header: ${head.length} bytes, the header alone needs ${headerSize}`,
    );
  }
  const magicAt = version === 1 ? 344 : 4;
  const magic = magicOf(head, magicAt);
  const pair = magic.startsWith(`ni${version}`);
  if (!pair && !magic.startsWith(`n+${version}`)) {
    throw new DatasetError(
      name,
      `wrong NIfTI-${version} magic "${magic}" at byte ${magicAt} (expected "n+${version}" or "ni${version}")`,
      { field: "magic" },
    );
  }
  const v = new DataView(head.buffer, head.byteOffset, headerSize);
  const code = v.getInt16(version === 1 ? 70 : 12, little);
  const dt = DATATYPES[code];
  if (!dt) {
    const what = UNSUPPORTED_DATATYPES[code] ?? `code ${code}`;
    throw new DatasetError(
      name,
      `NIfTI datatype ${what} is not supported (readable: uint8..uint64, float32/64, RGB)`,
      { field: "datatype" },
    );
  }
  const dim = (i: number): number =>
    version === 1 ? v.getInt16(40 + 2 * i, little) : Number(v.getBigInt64(16 + 8 * i, little));
  const ndim = dim(0);
  if (!Number.isInteger(ndim) || ndim < 1 || ndim > 7) {
    throw new DatasetError(name, `bad dim[0] = ${ndim} (expected 1..7 dimensions)`, { field: "dim[0]" });
  }
  const dims: number[] = [];
  for (let i = 1; i <= ndim; i++) {
    const d = dim(i);
    if (!Number.isSafeInteger(d) || d < 1) {
      throw new DatasetError(name, `bad dim[${i}] = ${d} (sizes must be positive integers)`, { field: `dim[${i}]` });
    }
    dims.push(d);
  }
  const rawOffset = version === 1 ? v.getFloat32(108, little) : Number(v.getBigInt64(168, little));
  let offset = Math.round(rawOffset);
  if (!(offset >= 0) || !Number.isSafeInteger(offset)) {
    throw new DatasetError(name, `bad vox_offset = ${rawOffset}`, { field: "vox_offset" });
  }
  // Single-file NIfTI puts data after the header and the 4 extension bytes at the least.
  if (!pair && offset < headerSize + 4) offset = headerSize + 4;
  const voxels = dims.reduce((p, d) => p * d, 1);
  return {
    version,
    little,
    headerSize,
    pair,
    magic,
    code,
    dt,
    dims,
    voxels,
    dataBytes: voxels * dt.bytes * dt.channels,
    offset,
  };
}

/**
 * Gunzips the file holding the voxels, whose header declares `need` decoded bytes (up to the end
 * of the voxels; 0 for a `.hdr`). A file too small to inflate to `need` fails before inflating;
 * the output is capped at `need` plus a little slack, so a stream that inflates to much more than
 * declared stops there.
 */
function inflateDeclared(gz: Uint8Array, file: string, need: number, what: string, limit: number): Uint8Array {
  const most = gz.length * MAX_DEFLATE_RATIO + 1024;
  if (need > most) {
    throw new DatasetError(
      file,
      `the header declares ${what}: ${formatBytes(need)} of decoded data, but ${formatBytes(gz.length)} of gzip ` +
        `data inflates to ${formatBytes(most)} at most (${MAX_DEFLATE_RATIO}× its size): the file is truncated or ` +
        `its header is wrong`,
      { field: "dim" },
    );
  }
  const cap = need > 0 ? Math.min(limit, need + TRAILING_SLACK) : limit;
  try {
    return gunzip(gz, { file, limit: cap });
  } catch (e) {
    if (!(e instanceof SizeLimitError) || cap >= limit) throw e;
    throw new DatasetError(
      file,
      `the gzip data inflates to more than the ${need} bytes its header declares (${what}) plus ` +
        `${TRAILING_SLACK} bytes of slack: the file is corrupt or a decompression bomb`,
      { cause: e, field: "dim" },
    );
  }
}

/** Stored voxel bytes to floats: `raw` is little-endian and aligned to the item size. */
function toFloat(raw: Uint8Array, dt: DatatypeInfo, n: number): Float32Array {
  const data = new Float32Array(n);
  const buf = raw.buffer;
  const at = raw.byteOffset;
  switch (dt.name) {
    case "uint8":
    case "rgb24":
    case "rgba32":
      data.set(raw);
      break;
    case "int8":
      data.set(new Int8Array(buf, at, n));
      break;
    case "int16":
      data.set(new Int16Array(buf, at, n));
      break;
    case "uint16":
      data.set(new Uint16Array(buf, at, n));
      break;
    case "int32":
      data.set(new Int32Array(buf, at, n));
      break;
    case "uint32":
      data.set(new Uint32Array(buf, at, n));
      break;
    case "float32":
      data.set(new Float32Array(buf, at, n));
      break;
    case "float64":
      data.set(new Float64Array(buf, at, n));
      break;
    case "int64": {
      const a = new BigInt64Array(buf, at, n);
      for (let i = 0; i < n; i++) data[i] = Number(a[i]);
      break;
    }
    case "uint64": {
      const a = new BigUint64Array(buf, at, n);
      for (let i = 0; i < n; i++) data[i] = Number(a[i]);
      break;
    }
  }
  return data;
}

/** Options of {@linkcode readNifti} (and {@linkcode parseNifti}). */
export interface NiftiReadOptions extends DecodeLimitOptions {
  /**
   * Voxels that come out NaN or ±Inf (float data holding them, or `scl_slope`/`scl_inter`
   * scaling that overflows float32): `"warn"` (default) one console line, `"error"` a
   * {@linkcode DatasetError}, `"ignore"` nothing.
   */
  nonFinite?: NonFinitePolicy;
}

/** The `.img` half of a pair, as read. */
interface ImageFile {
  bytes: Uint8Array;
  file: string;
  gzipped: boolean;
}

function decodeNifti(bytes: Uint8Array, name: string, options: NiftiReadOptions, image?: ImageFile): NiftiVolume {
  const limit = decodeLimit(options.maxDecodedBytes);
  const policy = nonFinitePolicy(options.nonFinite);
  try {
    return decode(bytes, name, limit, policy, image);
  } catch (e) {
    throw asDatasetError(name, e); // e.g. an allocation failure, or nifti-reader-js's own error
  }
}

function decode(
  bytes: Uint8Array,
  name: string,
  limit: number,
  policy: NonFinitePolicy,
  image: ImageFile | undefined,
): NiftiVolume {
  const gz = isGzip(bytes);
  const layout = readLayout(gz ? gunzipPrefix(bytes, 540, name) : bytes, name);
  const { version, headerSize, pair, magic, code, dt, dims, voxels, dataBytes, offset } = layout;
  const n = voxels * dt.channels;
  const what = `${dims.join("×")} ${dt.name} voxels`;
  // The size check comes before anything is inflated or allocated: the stored bytes, then floats.
  checkDeclaredSize(
    name,
    `the header declares ${what} (${pair ? "in the .img file" : `at vox_offset ${offset}`}, then as float32):`,
    offset + dataBytes + 4 * n,
    limit,
    offset > dataBytes ? "vox_offset" : "dim",
  );
  if (n > 2 ** 31 - 1) {
    throw new DatasetError(name, `the volume has ${voxels} voxels, too many for one Float32Array`, { field: "dim" });
  }
  if (pair && !image) {
    throw new DatasetError(
      name,
      `a "${magic.slice(0, 3)}" header keeps its voxels in a separate .img file; read the pair with ` +
        `readNifti(<.hdr path>)`,
    );
  }
  if (gz) bytes = inflateDeclared(bytes, name, pair ? 0 : offset + dataBytes, what, limit);
  let source = bytes;
  if (pair && image) {
    source = image.gzipped ? inflateDeclared(image.bytes, image.file, offset + dataBytes, what, limit) : image.bytes;
  }
  if (offset + dataBytes > source.length) {
    throw new DatasetError(
      name,
      `truncated voxel data: the header announces ${dims.join("×")} ${dt.name} voxels (${dataBytes} bytes at offset ` +
        `${offset}), but ${pair ? "the .img file" : "the file"} has ${Math.max(0, source.length - offset)} bytes there`,
    );
  }

  // The library wants the header and its extensions (up to vox_offset) in one ArrayBuffer.
  const headerEnd = pair ? bytes.length : Math.min(bytes.length, offset);
  const headerBuf = ownBuffer(bytes, 0, Math.max(headerEnd, headerSize));
  const ok = version === 1 ? isNIFTI1(headerBuf, true) : isNIFTI2(headerBuf, true);
  if (!ok) throw new DatasetError(name, `nifti-reader-js does not recognise the NIfTI-${version} header`);
  const header = version === 1 ? new NIFTI1() : new NIFTI2();
  try {
    header.readHeader(headerBuf);
  } catch (e) {
    throw new DatasetError(name, `bad NIfTI header: ${(e as Error).message}`, { cause: e });
  }
  const little = header.littleEndian;

  // Stored bytes, little-endian and aligned; copied only when they are not already.
  const w = dt.bytes;
  let raw = source.subarray(offset, offset + dataBytes);
  if (w > 1 && (!little || raw.byteOffset % w !== 0)) {
    raw = raw.slice();
    if (!little) {
      for (let p = 0; p < raw.length; p += w) {
        for (let i = 0, j = w - 1; i < j; i++, j--) {
          const t = raw[p + i];
          raw[p + i] = raw[p + j];
          raw[p + j] = t;
        }
      }
    }
  }
  const data = toFloat(raw, dt, n);
  if (dt.name === "float32" || dt.name === "float64") {
    const how = dt.name === "float32" ? "as stored" : "as stored or once rounded to float32";
    reportNonFinite(name, "datatype", `${how} (${dt.name} data)`, countNonFinite(data), n, policy);
  }

  const slope = Number(header.scl_slope);
  const inter = Number(header.scl_inter);
  const scaled = dt.channels === 1 && Number.isFinite(slope) && slope !== 0 &&
    !(slope === 1 && (inter === 0 || !Number.isFinite(inter)));
  if (scaled) {
    const b = Number.isFinite(inter) ? inter : 0;
    let overflowed = 0;
    for (let i = 0; i < n; i++) {
      const x = data[i];
      data[i] = slope * x + b;
      if (data[i] - data[i] !== 0 && x - x === 0) overflowed++; // finite before, NaN/±Inf as float32 after
    }
    reportNonFinite(
      name,
      "scl_slope",
      `after scaling by scl_slope = ${slope}, scl_inter = ${inter} (float32 holds ±3.4e38 at most)`,
      overflowed,
      n,
      policy,
    );
  }

  const view = new DataView(headerBuf);
  const ndim = dims.length;
  const pixdim = header.pixDims.slice(0, 8).map(Number);
  while (pixdim.length < 8) pixdim.push(0);
  const voxelSize: [number, number, number] = [
    Math.abs(pixdim[1]) || 1,
    ndim >= 2 ? Math.abs(pixdim[2]) || 1 : 1,
    ndim >= 3 ? Math.abs(pixdim[3]) || 1 : 1,
  ];
  const qform = quaternToAffine(
    [header.quatern_b, header.quatern_c, header.quatern_d].map(Number) as [number, number, number],
    [header.qoffset_x, header.qoffset_y, header.qoffset_z].map(Number) as [number, number, number],
    [pixdim[1], pixdim[2], pixdim[3]],
    pixdim[0],
  );
  const sform = readSrows(view, version, little);
  const qformCode = Number(header.qform_code);
  const sformCode = Number(header.sform_code);
  let affine: number[][];
  let affineSource: NiftiMeta["affineSource"];
  if (sformCode > 0) {
    affine = sform.map((r) => r.slice());
    affineSource = "sform";
  } else if (qformCode > 0) {
    affine = qform.map((r) => r.slice());
    affineSource = "qform";
  } else {
    affine = [[voxelSize[0], 0, 0, 0], [0, voxelSize[1], 0, 0], [0, 0, voxelSize[2], 0], [0, 0, 0, 1]];
    affineSource = "pixdim";
  }
  const units = Number(header.xyzt_units);
  const shape = dims.slice().reverse();
  if (dt.channels > 1) shape.push(dt.channels);
  const meta: NiftiMeta = {
    version,
    endianness: little ? "little" : "big",
    datatypeCode: code,
    datatype: dt.name,
    bitpix: Number(header.numBitsPerVoxel),
    dims,
    pixdim,
    voxelSize,
    timeStep: ndim >= 4 ? pixdim[4] : 0,
    qformCode,
    sformCode,
    affine,
    affineSource,
    qform,
    sform,
    sclSlope: slope,
    sclInter: inter,
    scaled,
    calMin: Number(header.cal_min),
    calMax: Number(header.cal_max),
    description: cString(bytes, version === 1 ? 148 : 240, 80),
    auxFile: cString(bytes, version === 1 ? 228 : 320, 24),
    intentCode: Number(header.intent_code),
    intentName: cString(bytes, version === 1 ? 328 : 508, 16),
    spatialUnit: SPATIAL_UNITS[units & 0x07] ?? "unknown",
    temporalUnit: TEMPORAL_UNITS[units & 0x38] ?? "unknown",
    voxOffset: offset,
    channels: dt.channels,
  };
  return { shape, data, meta };
}

/**
 * Decodes a NIfTI-1 or NIfTI-2 image held in memory (gzipped or not). `name` is used in error
 * messages. Throws a {@linkcode DatasetError} naming `name` for a truncated header, a wrong magic
 * string, an unsupported datatype, impossible dimensions, fewer voxel bytes than the header
 * announces, or gzip data that fails its CRC-32 or length check; a {@linkcode SizeLimitError}
 * when the header declares more than `options.maxDecodedBytes` (see `util/limits.ts`), before
 * anything is inflated or allocated.
 */
export function parseNifti(bytes: Uint8Array, name = "<nifti>", options: ParseNiftiOptions = {}): NiftiVolume {
  const image = options.image ? { bytes: options.image, file: name, gzipped: false } : undefined;
  return decodeNifti(bytes, name, options, image);
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new DatasetError(path, "file not found", { cause: e });
    throw new DatasetError(path, `cannot read the file: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Reads a NIfTI file: `.nii`, `.nii.gz`, or a `.hdr` (`.hdr.gz`) whose voxels are in the
 * `.img` (`.img.gz`) file beside it. See the module notes for the layout of the result, and
 * {@linkcode parseNifti} for the errors.
 *
 * @example
 * ```ts
 * const v = await readNifti("ch2.nii.gz"); // v.shape [181, 217, 181] = [z, y, x]
 * const x = tensor(v.data, [1, 1, ...v.shape]); // [N, C, D, H, W]
 * ```
 */
export async function readNifti(path: string, options: NiftiReadOptions = {}): Promise<NiftiVolume> {
  const bytes = await readBytes(path);
  const lower = path.toLowerCase();
  if (lower.endsWith(".hdr") || lower.endsWith(".hdr.gz")) {
    const base = path.slice(0, path.length - (lower.endsWith(".gz") ? 7 : 4));
    let image: ImageFile | undefined;
    for (const ext of [".img", ".img.gz", ".IMG", ".IMG.GZ"]) {
      try {
        image = {
          bytes: await Deno.readFile(base + ext),
          file: base + ext,
          gzipped: ext.toLowerCase().endsWith(".gz"),
        };
        break;
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) {
          throw new DatasetError(base + ext, `cannot read the file: ${(e as Error).message}`, { cause: e });
        }
      }
    }
    if (!image) throw new DatasetError(path, `the image file ${base}.img (or .img.gz) beside this header is missing`);
    return decodeNifti(bytes, path, options, image);
  }
  return decodeNifti(bytes, path, options);
}
