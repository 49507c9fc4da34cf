/**
 * DICOM RLE Lossless (transfer syntax 1.2.840.10008.1.2.5), as PS3.5 Annex G defines it.
 *
 * An encoded frame is a 64-byte header — the number of segments (1 to 15) and 15 segment
 * offsets, all uint32 little-endian, the first offset being 64 — followed by the segments.
 * Each segment holds one byte plane of one sample across the whole frame: for every sample
 * (colour component) in turn, the most significant byte plane first. A 16-bit RGB frame has six
 * segments: R high, R low, G high, G low, B high, B low. A segment is a PackBits byte stream: a
 * header byte `n` followed by `n + 1` literal bytes (0 ≤ n ≤ 127), by one byte to repeat
 * `1 − n` times (−127 ≤ n ≤ −1), or by nothing (n = −128); an encoder restarts its runs at
 * every image row, and pads an odd-length segment with one byte.
 *
 * {@linkcode decodeRleFrame} turns an encoded frame into the bytes an uncompressed little-endian
 * frame would hold (samples interleaved pixel by pixel, least significant byte first), so the
 * DICOM reader interprets both the same way. {@linkcode encodeRleFrame} does the reverse.
 * @module
 */

/** The geometry of one frame, as the DICOM attributes give it. */
export interface RleFrameInfo {
  /** Rows (0028,0010). */
  rows: number;
  /** Columns (0028,0011). */
  columns: number;
  /** Samples per pixel (0028,0002): 1 (grey) or 3 (colour). */
  samplesPerPixel: number;
  /** Bits allocated per sample (0028,0100): 8, 16 or 32. */
  bitsAllocated: number;
}

/** Thrown for an RLE stream that breaks PS3.5 Annex G; the DICOM reader adds the file name. */
export class RleError extends Error {
  /** Makes an error with the given message. */
  constructor(message: string) {
    super(message);
    this.name = "RleError";
  }
}

function checkInfo(info: RleFrameInfo): { bytes: number; segments: number; pixels: number } {
  const { rows, columns, samplesPerPixel, bitsAllocated } = info;
  for (const [k, v] of [["rows", rows], ["columns", columns], ["samplesPerPixel", samplesPerPixel]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RleError(`RLE: ${k} must be a positive integer, got ${v}`);
  }
  if (bitsAllocated !== 8 && bitsAllocated !== 16 && bitsAllocated !== 32) {
    throw new RleError(`RLE: BitsAllocated must be 8, 16 or 32, got ${bitsAllocated}`);
  }
  const bytes = bitsAllocated / 8;
  const segments = bytes * samplesPerPixel;
  if (segments > 15) {
    throw new RleError(
      `RLE: ${samplesPerPixel} samples × ${bytes} bytes needs ${segments} segments; the standard allows at most 15`,
    );
  }
  return { bytes, segments, pixels: rows * columns };
}

/**
 * The fewest bytes an encoded frame of this geometry can have: the 64-byte header and, in every
 * segment, 2 bytes per 128 decoded bytes (a replicate run is PackBits' densest code). A shorter
 * frame cannot decode, so readers reject it before allocating the output.
 */
export function rleMinFrameBytes(info: RleFrameInfo): number {
  const { segments, pixels } = checkInfo(info);
  return 64 + segments * 2 * Math.ceil(pixels / 128);
}

/** Decodes one PackBits segment into `out[start + k * stride]` for k < count; returns how many it wrote. */
function decodeSegment(
  src: Uint8Array,
  begin: number,
  end: number,
  out: Uint8Array,
  start: number,
  stride: number,
  count: number,
): number {
  let p = begin;
  let k = 0;
  let o = start;
  while (p < end && k < count) {
    const h = src[p++];
    if (h < 128) {
      // literal run of h + 1 bytes
      const n = h + 1;
      if (p + n > end) {
        throw new RleError(`RLE: a literal run of ${n} bytes at byte ${p - 1} runs past the end of its segment`);
      }
      const take = Math.min(n, count - k);
      for (let i = 0; i < take; i++, o += stride) out[o] = src[p + i];
      k += take;
      p += n;
    } else if (h > 128) {
      // replicate run: next byte 257 - h times
      if (p >= end) throw new RleError(`RLE: a replicate run at byte ${p - 1} has no byte to repeat`);
      const v = src[p++];
      const take = Math.min(257 - h, count - k);
      for (let i = 0; i < take; i++, o += stride) out[o] = v;
      k += take;
    }
    // h === 128 (-128): no operation
  }
  return k;
}

/**
 * Decodes one RLE Lossless frame into little-endian, pixel-interleaved bytes
 * (`rows × columns × samplesPerPixel × bitsAllocated/8` of them), the layout of uncompressed
 * Explicit VR Little Endian data with PlanarConfiguration 0. Throws {@linkcode RleError} for a
 * bad header, a segment count that does not match the geometry, or a segment that decodes to
 * fewer bytes than a frame needs (extra bytes, such as padding, are ignored). `out`, when given,
 * receives the bytes instead of a new array (it must hold exactly that many).
 */
export function decodeRleFrame(frame: Uint8Array, info: RleFrameInfo, out?: Uint8Array): Uint8Array {
  const { bytes, segments, pixels } = checkInfo(info);
  if (frame.length < 64) throw new RleError(`RLE: the frame has ${frame.length} bytes, less than its 64-byte header`);
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const count = dv.getUint32(0, true);
  if (count !== segments) {
    throw new RleError(
      `RLE: the header lists ${count} segments, but ${info.samplesPerPixel} sample(s) of ${info.bitsAllocated} bits ` +
        `need ${segments}`,
    );
  }
  const least = rleMinFrameBytes(info);
  if (frame.length < least) {
    throw new RleError(
      `RLE: the frame has ${frame.length} bytes; ${count} segments of ${pixels} bytes need at least ${least}`,
    );
  }
  const offsets: number[] = [];
  for (let s = 0; s < count; s++) offsets.push(dv.getUint32(4 + 4 * s, true));
  for (let s = 0; s < count; s++) {
    const lo = s === 0 ? 64 : offsets[s - 1];
    if (offsets[s] < lo || offsets[s] > frame.length) {
      throw new RleError(`RLE: segment ${s + 1} starts at byte ${offsets[s]}, outside ${lo}..${frame.length}`);
    }
  }
  const stride = bytes * info.samplesPerPixel;
  if (out && out.length !== pixels * stride) {
    throw new RleError(`RLE: the output holds ${out.length} bytes, the frame decodes to ${pixels * stride}`);
  }
  out ??= new Uint8Array(pixels * stride);
  for (let s = 0; s < count; s++) {
    const sample = Math.floor(s / bytes);
    const plane = bytes - 1 - (s % bytes); // segments run most significant byte first
    const end = s + 1 < count ? offsets[s + 1] : frame.length;
    const got = decodeSegment(frame, offsets[s], end, out, sample * bytes + plane, stride, pixels);
    if (got < pixels) {
      throw new RleError(`RLE: segment ${s + 1} of ${count} decodes to ${got} bytes, expected ${pixels}`);
    }
  }
  return out;
}

/** PackBits-encodes `n` bytes read from `src[start + k * stride]`, appending to `out`. */
function encodeRow(src: Uint8Array, start: number, stride: number, n: number, out: number[]): void {
  let i = 0;
  while (i < n) {
    // length of the run of equal bytes starting at i (at most 128)
    const v = src[start + i * stride];
    let run = 1;
    while (i + run < n && run < 128 && src[start + (i + run) * stride] === v) run++;
    if (run >= 2) {
      out.push(257 - run, v);
      i += run;
      continue;
    }
    // literal: extend until a run of 2+ equal bytes starts, or 128 bytes
    let len = 1;
    while (i + len < n && len < 128) {
      const a = src[start + (i + len) * stride];
      const b = i + len + 1 < n ? src[start + (i + len + 1) * stride] : -1;
      if (a === b) break;
      len++;
    }
    out.push(len - 1);
    for (let k = 0; k < len; k++) out.push(src[start + (i + k) * stride]);
    i += len;
  }
}

/**
 * Encodes one frame of little-endian, pixel-interleaved bytes (the output layout of
 * {@linkcode decodeRleFrame}) as RLE Lossless: one segment per byte plane per sample, runs
 * restarted at every row, odd segments padded to even length.
 */
export function encodeRleFrame(data: Uint8Array, info: RleFrameInfo): Uint8Array {
  const { bytes, segments, pixels } = checkInfo(info);
  const stride = bytes * info.samplesPerPixel;
  if (data.length !== pixels * stride) {
    throw new RleError(`RLE: expected ${pixels * stride} bytes for the frame, got ${data.length}`);
  }
  const body: number[] = [];
  const offsets: number[] = [];
  for (let s = 0; s < segments; s++) {
    offsets.push(64 + body.length);
    const sample = Math.floor(s / bytes);
    const plane = bytes - 1 - (s % bytes);
    for (let r = 0; r < info.rows; r++) {
      encodeRow(data, (r * info.columns) * stride + sample * bytes + plane, stride, info.columns, body);
    }
    if (body.length % 2) body.push(0);
  }
  const out = new Uint8Array(64 + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, segments, true);
  offsets.forEach((o, s) => dv.setUint32(4 + 4 * s, o, true));
  out.set(body, 64);
  return out;
}
