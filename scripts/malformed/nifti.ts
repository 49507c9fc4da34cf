/**
 * NIfTI cases (`.nii`, `.nii.gz`, `.hdr`/`.img`): valid NIfTI-1 and NIfTI-2 files, then lying
 * headers, truncations, gzip trailers that do not match, bombs and scaling that overflows.
 * @module
 */
import { concat, type CorpusWriter, flip } from "./case.ts";
import { deflateBombRaw, deflateBombSize, gzip, gzipMember, zerosCrc32 } from "./compress.ts";

interface Nifti1 {
  dims: number[];
  datatype?: number;
  bitpix?: number;
  slope?: number;
  inter?: number;
  voxOffset?: number;
  magic?: string;
  sizeofHdr?: number;
}

/** A NIfTI-1 header (348 bytes) plus the 4-byte extension flag. */
function header1(h: Nifti1): Uint8Array {
  const b = new Uint8Array(352);
  const v = new DataView(b.buffer);
  v.setInt32(0, h.sizeofHdr ?? 348, true);
  v.setInt16(40, h.dims.length, true);
  h.dims.forEach((d, i) => v.setInt16(42 + 2 * i, d, true));
  v.setInt16(70, h.datatype ?? 4, true); // int16
  v.setInt16(72, h.bitpix ?? 16, true);
  for (let i = 0; i < 8; i++) v.setFloat32(76 + 4 * i, 1, true);
  v.setFloat32(108, h.voxOffset ?? 352, true);
  v.setFloat32(112, h.slope ?? 1, true);
  v.setFloat32(116, h.inter ?? 0, true);
  v.setInt16(252, 0, true);
  v.setInt16(254, 0, true);
  b.set(new TextEncoder().encode(h.magic ?? "n+1\0"), 344);
  return b;
}

/** int16 voxels 0, 1, 2, … for `dims`. */
function voxels(dims: number[]): Uint8Array {
  const n = dims.reduce((a, d) => a * d, 1);
  const data = new Int16Array(n).map((_, i) => (i * 13) % 1000);
  return new Uint8Array(data.buffer);
}

/** A NIfTI-2 single file (540-byte header + extension flag) of int16 voxels. */
function nifti2(dims: number[]): Uint8Array {
  const b = new Uint8Array(544);
  const v = new DataView(b.buffer);
  v.setInt32(0, 540, true);
  b.set([0x6e, 0x2b, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a], 4);
  v.setInt16(12, 4, true);
  v.setInt16(14, 16, true);
  v.setBigInt64(16, BigInt(dims.length), true);
  dims.forEach((d, i) => v.setBigInt64(24 + 8 * i, BigInt(d), true));
  for (let i = 0; i < 8; i++) v.setFloat64(104 + 8 * i, 1, true);
  v.setBigInt64(168, 544n, true);
  v.setFloat64(176, 1, true);
  return concat(b, voxels(dims));
}

/** Writes the NIfTI cases under `nifti/`. */
export async function niftiCases(w: CorpusWriter, bombBytes: number): Promise<void> {
  const dims = [16, 16, 8];
  const valid = concat(header1({ dims }), voxels(dims));
  const gz = gzip(valid);
  const n = (
    path: string,
    bytes: Uint8Array | string,
    defect: string,
    expect: "ok" | "warn" | "DatasetError" | "SizeLimitError",
  ) => w.file(`nifti/${path}`, bytes, { reader: "nifti", defect, expect });
  await n("valid.nii", valid, "valid NIfTI-1, int16", "ok");
  await n("valid.nii.gz", gz, "valid NIfTI-1, gzipped", "ok");
  await n("valid_nifti2.nii", nifti2(dims), "valid NIfTI-2", "ok");
  await n(
    "valid_multimember.nii.gz",
    concat(gzip(valid.subarray(0, 1000)), gzip(valid.subarray(1000))),
    "valid, two gzip members",
    "ok",
  );
  await n("gz_bad_crc.nii.gz", flip(gz, -6), "gzip trailer CRC-32 wrong", "DatasetError");
  await n("gz_bad_isize.nii.gz", flip(gz, -3), "gzip trailer ISIZE wrong", "DatasetError");
  await n("gz_bitflip_data.nii.gz", flip(gz, gz.length >> 1, 0x04), "bit flipped in the DEFLATE data", "DatasetError");
  await n("gz_truncated.nii.gz", gz.subarray(0, gz.length - 200), "gzip cut short", "DatasetError");
  await n(
    "gz_trailing_garbage.nii.gz",
    concat(gz, new TextEncoder().encode("garbage!")),
    "bytes after the gzip member",
    "DatasetError",
  );
  await n("empty.nii.gz", new Uint8Array(0), "zero bytes", "DatasetError");
  await n("text.nii", "this is not a NIfTI file, it is a note".repeat(20), "text named .nii", "DatasetError");
  await n("truncated_header.nii", valid.subarray(0, 100), "header cut at 100 bytes", "DatasetError");
  await n("truncated_data.nii", valid.subarray(0, valid.length - 500), "voxel data cut short", "DatasetError");
  await n("bad_magic.nii", concat(header1({ dims, magic: "xyz\0" }), voxels(dims)), "magic 'xyz'", "DatasetError");
  await n(
    "bad_sizeof_hdr.nii",
    concat(header1({ dims, sizeofHdr: 349 }), voxels(dims)),
    "sizeof_hdr 349",
    "DatasetError",
  );
  await n("dim_zero.nii", concat(header1({ dims: [16, 0, 8] }), voxels(dims)), "dim[2] = 0", "DatasetError");
  await n("dim_negative.nii", concat(header1({ dims: [16, -16, 8] }), voxels(dims)), "dim[2] = −16", "DatasetError");
  await n(
    "bad_datatype.nii",
    concat(header1({ dims, datatype: 1792, bitpix: 128 }), voxels(dims)),
    "complex128 datatype",
    "DatasetError",
  );
  await n(
    "unknown_datatype.nii",
    concat(header1({ dims, datatype: 9999, bitpix: 16 }), voxels(dims)),
    "datatype 9999",
    "DatasetError",
  );
  await n(
    "vox_offset_past_eof.nii",
    concat(header1({ dims, voxOffset: 1e6 }), voxels(dims)),
    "vox_offset 1,000,000",
    "DatasetError",
  );
  await n(
    "bomb_declared.nii.gz",
    gzip(concat(header1({ dims: [1024, 1024, 1024], datatype: 16, bitpix: 32 }), new Uint8Array(4096))),
    "4 KB of data, header declares 1024³ float32 voxels (4 GiB)",
    "SizeLimitError",
  );
  await n(
    "bomb_declared.nii",
    concat(header1({ dims: [32767, 32767, 32767], datatype: 64, bitpix: 64 }), new Uint8Array(4096)),
    "header declares 32767³ float64 voxels",
    "SizeLimitError",
  );
  const head = header1({ dims: [8, 8, 8] });
  const bomb = gzipMember(
    // The header, then zeros far past the 1 KiB of voxels it declares.
    deflateConcat(head, bombBytes),
    zerosCrc32(0),
    0,
  );
  await n(
    "bomb_inflate.nii.gz",
    bomb,
    `header declares 1 KiB of voxels, gzip inflates to ${deflateBombSize(bombBytes)} bytes more`,
    "DatasetError",
  );
  await n(
    "scl_slope_overflow.nii",
    concat(header1({ dims, slope: 3e38 }), voxels(dims)),
    "scl_slope 3e38 on int16: Inf voxels",
    "warn",
  );
  const nan = new Float32Array(16 * 16 * 8).fill(1);
  nan[5] = NaN;
  await n(
    "float_nan.nii",
    concat(header1({ dims, datatype: 16, bitpix: 32 }), new Uint8Array(nan.buffer)),
    "float32 volume holding a NaN",
    "warn",
  );
  await n(
    "hdr_without_img.hdr",
    header1({ dims, magic: "ni1\0", voxOffset: 0 }),
    ".hdr whose .img is missing",
    "DatasetError",
  );
}

/** Raw DEFLATE of `head` followed by about `zeros` zero bytes: a stored block, then the bomb. */
function deflateConcat(head: Uint8Array, zeros: number): Uint8Array {
  const stored = new Uint8Array(5 + head.length);
  const v = new DataView(stored.buffer);
  stored[0] = 0; // BFINAL 0, BTYPE 00 (stored), padded to the byte
  v.setUint16(1, head.length, true);
  v.setUint16(3, ~head.length & 0xffff, true);
  stored.set(head, 5);
  return concat(stored, deflateBombRaw(zeros));
}
