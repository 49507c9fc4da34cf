/**
 * Reflected 32-bit CRCs, table-driven eight bytes per step (slicing-by-8): CRC-32 (the
 * ZIP/gzip/PNG polynomial 0xEDB88320) and CRC-32C (Castagnoli, 0x82F63B78, TFRecord framing).
 * Both take the result of a previous call as `crc`, to continue a checksum over data given in
 * pieces (a streaming inflate, a file read in chunks).
 *
 * @example
 * ```ts
 * crc32(new TextEncoder().encode("123456789")); // 0xcbf43926
 * crc32c(new TextEncoder().encode("123456789")); // 0xe3069283
 * ```
 * @module
 */

/** 8 tables of 256 entries: table k holds the CRC of byte b followed by k zero bytes. */
function slicingTables(poly: number): Uint32Array {
  const t = new Uint32Array(8 * 256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t[b] = c >>> 0;
  }
  for (let b = 0; b < 256; b++) {
    let c = t[b];
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + b] = c >>> 0;
    }
  }
  return t;
}

function update(t: Uint32Array, bytes: Uint8Array, crc: number): number {
  let c = ~crc >>> 0;
  const n = bytes.length;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const lo = (c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24))) >>> 0;
    c = t[7 * 256 + (lo & 0xff)] ^ t[6 * 256 + ((lo >>> 8) & 0xff)] ^ t[5 * 256 + ((lo >>> 16) & 0xff)] ^
      t[4 * 256 + (lo >>> 24)] ^ t[3 * 256 + bytes[i + 4]] ^ t[2 * 256 + bytes[i + 5]] ^
      t[256 + bytes[i + 6]] ^ t[bytes[i + 7]];
  }
  for (; i < n; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

let crc32Tables: Uint32Array | undefined;
let crc32cTables: Uint32Array | undefined;

/** CRC-32 (ZIP, gzip, PNG) of `bytes`, continuing from `crc` (0 to start). */
export function crc32(bytes: Uint8Array, crc = 0): number {
  return update(crc32Tables ??= slicingTables(0xedb88320), bytes, crc);
}

/** CRC-32C (Castagnoli) of `bytes`, continuing from `crc` (0 to start). */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  return update(crc32cTables ??= slicingTables(0x82f63b78), bytes, crc);
}

/** TensorFlow's masked CRC-32C, as stored in TFRecord files: `((crc >>> 15) | (crc << 17)) + 0xa282ead8`. */
export function maskCrc32c(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** Inverse of {@linkcode maskCrc32c}. */
export function unmaskCrc32c(masked: number): number {
  const rot = (masked - 0xa282ead8) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}
