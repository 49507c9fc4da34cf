/**
 * Writes NIfTI-1 volumes (float32, single file `.nii`, gzipped when the name ends in `.gz`) that
 * any viewer opens in the right place: the voxel-to-world affine goes into the sform
 * (`sform_code` 1, scanner) and, as a quaternion with offsets and voxel sizes, into the qform
 * (`qform_code` 1), as `nifti_mat44_to_quatern` of `nifti1_io.c` derives it, so viewers that read
 * either agree. Units are millimetres. The file is written atomically.
 * @module
 */
import { gzipSync } from "fflate";
import { writeFileAtomic } from "../util/io.ts";

/** A volume to write: values row-major over `shape` = `[z, y, x]` (x fastest, as NIfTI stores them). */
export interface NiftiWriteVolume {
  data: Float32Array;
  /** `[z, y, x]` (the reverse of NIfTI's `dim` order), or `[t, z, y, x]`. */
  shape: readonly number[];
  /** 4×4 voxel-to-world matrix in mm (rows; the last row 0 0 0 1). Default: identity (1 mm voxels). */
  affine?: readonly (readonly number[])[];
  /** `descrip` text (at most 79 bytes kept). */
  description?: string;
}

const HEADER = 348, VOX_OFFSET = 352;

/** The quaternion, offsets, voxel sizes and qfac of an affine (nifti1_io.c's `nifti_mat44_to_quatern`). */
export function affineToQuaternion(affine: readonly (readonly number[])[]): {
  b: number;
  c: number;
  d: number;
  offset: [number, number, number];
  voxelSize: [number, number, number];
  qfac: 1 | -1;
} {
  const col = (j: number) => [affine[0][j], affine[1][j], affine[2][j]];
  const voxelSize = [0, 1, 2].map((j) => Math.hypot(...col(j)) || 1) as [number, number, number];
  // Normalised columns of the rotation part.
  const r = [0, 1, 2].map((j) => col(j).map((v) => v / voxelSize[j]));
  const R = [[r[0][0], r[1][0], r[2][0]], [r[0][1], r[1][1], r[2][1]], [r[0][2], r[1][2], r[2][2]]];
  const det = R[0][0] * (R[1][1] * R[2][2] - R[2][1] * R[1][2]) -
    R[0][1] * (R[1][0] * R[2][2] - R[2][0] * R[1][2]) +
    R[0][2] * (R[1][0] * R[2][1] - R[2][0] * R[1][1]);
  const qfac: 1 | -1 = det > 0 ? 1 : -1;
  if (qfac < 0) { for (const row of R) row[2] = -row[2]; }
  // Quaternion from the proper rotation (R is row-major: R[i][j] = rotation row i, column j).
  let a = R[0][0] + R[1][1] + R[2][2] + 1, b: number, c: number, d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = 0.25 * (R[2][1] - R[1][2]) / a;
    c = 0.25 * (R[0][2] - R[2][0]) / a;
    d = 0.25 * (R[1][0] - R[0][1]) / a;
  } else {
    const xd = 1 + R[0][0] - (R[1][1] + R[2][2]);
    const yd = 1 + R[1][1] - (R[0][0] + R[2][2]);
    const zd = 1 + R[2][2] - (R[0][0] + R[1][1]);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = 0.25 * (R[0][1] + R[1][0]) / b;
      d = 0.25 * (R[0][2] + R[2][0]) / b;
      a = 0.25 * (R[2][1] - R[1][2]) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = 0.25 * (R[0][1] + R[1][0]) / c;
      d = 0.25 * (R[1][2] + R[2][1]) / c;
      a = 0.25 * (R[0][2] - R[2][0]) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = 0.25 * (R[0][2] + R[2][0]) / d;
      c = 0.25 * (R[1][2] + R[2][1]) / d;
      a = 0.25 * (R[1][0] - R[0][1]) / d;
    }
    if (a < 0) [b, c, d] = [-b, -c, -d];
  }
  return { b, c, d, offset: [affine[0][3], affine[1][3], affine[2][3]], voxelSize, qfac };
}

function checkAffine(affine: readonly (readonly number[])[]): void {
  const ok = Array.isArray(affine) && affine.length >= 3 &&
    affine.slice(0, 3).every((row) => Array.isArray(row) && row.length === 4 && row.every(Number.isFinite));
  if (!ok) throw new RangeError("encodeNifti: affine must be a 4×4 (or 3×4) matrix of finite numbers");
  const m = affine;
  const det = m[0][0] * (m[1][1] * m[2][2] - m[2][1] * m[1][2]) - m[0][1] * (m[1][0] * m[2][2] - m[2][0] * m[1][2]) +
    m[0][2] * (m[1][0] * m[2][1] - m[2][0] * m[1][1]);
  if (det === 0) throw new RangeError("encodeNifti: the affine's 3×3 part is singular");
}

/** The bytes of a single-file NIfTI-1 image (uncompressed). */
export function encodeNifti(volume: NiftiWriteVolume): Uint8Array {
  const { data, shape } = volume;
  if (shape.length < 3 || shape.length > 4 || !shape.every((s) => Number.isInteger(s) && s > 0)) {
    throw new RangeError(`encodeNifti: shape must be [z, y, x] or [t, z, y, x] of positive integers, got [${shape}]`);
  }
  const n = shape.reduce((a, b) => a * b, 1);
  if (!(data instanceof Float32Array) || data.length !== n) {
    throw new RangeError(`encodeNifti: data must be a Float32Array of ${n} values for shape [${shape}]`);
  }
  const affine = volume.affine ?? [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
  checkAffine(affine);
  const bytes = new Uint8Array(VOX_OFFSET + 4 * n);
  const v = new DataView(bytes.buffer);
  const dims = [...shape].reverse();
  v.setInt32(0, HEADER, true);
  bytes[38] = "r".charCodeAt(0);
  v.setInt16(40, dims.length, true);
  dims.forEach((d, i) => v.setInt16(42 + 2 * i, d, true));
  for (let i = dims.length; i < 7; i++) v.setInt16(42 + 2 * i, 1, true);
  v.setInt16(70, 16, true); // NIFTI_TYPE_FLOAT32
  v.setInt16(72, 32, true);
  const q = affineToQuaternion(affine);
  v.setFloat32(76, q.qfac, true);
  q.voxelSize.forEach((s, i) => v.setFloat32(80 + 4 * i, s, true));
  for (let i = 4; i < 8; i++) v.setFloat32(76 + 4 * i, 1, true);
  v.setFloat32(108, VOX_OFFSET, true);
  v.setFloat32(112, 1, true); // scl_slope: values as stored
  bytes[123] = 2 | 8; // mm, seconds
  let lo = Infinity, hi = -Infinity;
  for (const x of data) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  if (Number.isFinite(lo) && Number.isFinite(hi)) {
    v.setFloat32(124, hi, true);
    v.setFloat32(128, lo, true);
  }
  const descrip = new TextEncoder().encode(volume.description ?? "meddiff").subarray(0, 79);
  bytes.set(descrip, 148);
  v.setInt16(252, 1, true); // qform_code: scanner
  v.setInt16(254, 1, true); // sform_code: scanner
  [q.b, q.c, q.d, ...q.offset].forEach((x, i) => v.setFloat32(256 + 4 * i, x, true));
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) v.setFloat32(280 + 16 * r + 4 * c, affine[r][c], true);
  bytes.set(new TextEncoder().encode("n+1\0"), 344);
  // Bytes 348–351: no extensions. Then the voxels, little-endian float32.
  new Float32Array(bytes.buffer, VOX_OFFSET, n).set(data);
  return bytes;
}

/** Writes `volume` to `path` (`.nii`, or `.nii.gz` gzipped) atomically. */
export async function writeNifti(path: string, volume: NiftiWriteVolume): Promise<void> {
  if (!/\.nii(\.gz)?$/i.test(path)) throw new RangeError(`writeNifti: ${path} must end in .nii or .nii.gz`);
  const raw = encodeNifti(volume);
  // mtime 0: the same volume gives the same bytes (reproducible outputs, comparable across processes).
  await writeFileAtomic(path, /\.gz$/i.test(path) ? gzipSync(raw, { level: 6, mtime: 0 }) : raw);
}
