/**
 * Compressed streams for the corpus: gzip members built around any raw DEFLATE data (so the
 * trailer can lie), and a hand-made DEFLATE bomb (fixed-Huffman matches of 258 zero bytes at
 * distance 1, 13 bits each: about 160:1, generated in milliseconds instead of compressing
 * hundreds of megabytes).
 * @module
 */
import { deflateSync } from "fflate";
import { crc32 } from "../../util/formats/crc.ts";
import { concat } from "./case.ts";

/** A gzip member around raw DEFLATE `raw`, with trailer CRC-32 and ISIZE as given. */
export function gzipMember(raw: Uint8Array, crc: number, isize: number): Uint8Array {
  const head = new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  const tail = new Uint8Array(8);
  const v = new DataView(tail.buffer);
  v.setUint32(0, crc >>> 0, true);
  v.setUint32(4, isize >>> 0, true);
  return concat(head, raw, tail);
}

/** A correct gzip file of `data`. */
export function gzip(data: Uint8Array): Uint8Array {
  return gzipMember(deflateSync(data, { level: 6 }), crc32(data), data.length);
}

/** Raw DEFLATE data that inflates to `bytes` zero bytes (rounded up to whole 258-byte matches). */
export function deflateBombRaw(bytes: number): Uint8Array {
  const matches = Math.ceil(Math.max(0, bytes - 1) / 258);
  const out = new Uint8Array(Math.ceil((3 + 8 + matches * 13 + 7) / 8) + 1);
  let bit = 0;
  const put = (code: number, len: number): void => {
    // Huffman codes go most-significant bit first into DEFLATE's LSB-first bit stream.
    for (let i = len - 1; i >= 0; i--, bit++) if ((code >> i) & 1) out[bit >> 3] |= 1 << (bit & 7);
  };
  const putBits = (v: number, len: number): void => {
    for (let i = 0; i < len; i++, bit++) if ((v >> i) & 1) out[bit >> 3] |= 1 << (bit & 7);
  };
  putBits(1, 1); // BFINAL
  putBits(1, 2); // BTYPE 01: fixed Huffman
  put(0x30, 8); // literal 0
  for (let m = 0; m < matches; m++) {
    put(0xc5, 8); // length code 285: 258 bytes
    put(0, 5); // distance code 0: distance 1
  }
  put(0, 7); // end of block
  return out.subarray(0, (bit + 7) >> 3);
}

/** The size {@linkcode deflateBombRaw} inflates to for a request of `bytes`. */
export function deflateBombSize(bytes: number): number {
  return 1 + Math.ceil(Math.max(0, bytes - 1) / 258) * 258;
}

/** CRC-32 of `n` zero bytes, computed a chunk at a time. */
export function zerosCrc32(n: number): number {
  const chunk = new Uint8Array(1 << 20);
  let crc = 0;
  for (let left = n; left > 0; left -= chunk.length) crc = crc32(chunk.subarray(0, Math.min(left, chunk.length)), crc);
  return crc;
}
