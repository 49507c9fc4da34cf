/**
 * DICOM cases: valid Implicit VR, Explicit VR, Deflated and RLE files written element by
 * element, then truncations, headers that declare gigapixel images, a deflate bomb, unsupported
 * syntaxes and broken element lengths.
 * @module
 */
import { deflateSync } from "fflate";
import { concat, type CorpusWriter } from "./case.ts";
import { deflateBombRaw, deflateBombSize } from "./compress.ts";

const TS = {
  implicit: "1.2.840.10008.1.2",
  explicit: "1.2.840.10008.1.2.1",
  deflated: "1.2.840.10008.1.2.1.99",
  rle: "1.2.840.10008.1.2.5",
  jpeg2000: "1.2.840.10008.1.2.4.90",
};

const LONG_VRS = new Set(["OB", "OW", "OF", "SQ", "UT", "UN"]);

function padEven(bytes: Uint8Array, pad: number): Uint8Array {
  return bytes.length % 2 ? concat(bytes, new Uint8Array([pad])) : bytes;
}

/** One data element; `length` overrides the encoded length (a lying element). */
function element(
  group: number,
  elem: number,
  vr: string,
  value: Uint8Array,
  explicit: boolean,
  length?: number,
): Uint8Array {
  const v = padEven(value, vr === "UI" || vr === "OB" ? 0 : 0x20);
  const len = length ?? v.length;
  if (!explicit) {
    const h = new DataView(new ArrayBuffer(8));
    h.setUint16(0, group, true);
    h.setUint16(2, elem, true);
    h.setUint32(4, len >>> 0, true);
    return concat(new Uint8Array(h.buffer), v);
  }
  const long = LONG_VRS.has(vr);
  const h = new DataView(new ArrayBuffer(long ? 12 : 8));
  h.setUint16(0, group, true);
  h.setUint16(2, elem, true);
  h.setUint8(4, vr.charCodeAt(0));
  h.setUint8(5, vr.charCodeAt(1));
  if (long) h.setUint32(8, len >>> 0, true);
  else h.setUint16(6, len, true);
  return concat(new Uint8Array(h.buffer), v);
}

const text = (s: string) => new TextEncoder().encode(s);
const us = (n: number) => new Uint8Array(new Uint16Array([n]).buffer);

/** The file meta group (always Explicit VR Little Endian) with its group length. */
function meta(ts: string): Uint8Array {
  const body = concat(
    element(0x0002, 0x0001, "OB", new Uint8Array([0, 1]), true),
    element(0x0002, 0x0002, "UI", text("1.2.840.10008.5.1.4.1.1.7"), true),
    element(0x0002, 0x0003, "UI", text("1.2.3.4.5"), true),
    element(0x0002, 0x0010, "UI", text(ts), true),
  );
  const len = new Uint8Array(new Uint32Array([body.length]).buffer);
  return concat(new Uint8Array(128), text("DICM"), element(0x0002, 0x0000, "UL", len, true), body);
}

interface Image {
  rows: number;
  cols: number;
  bits?: number;
  samples?: number;
  frames?: number;
}

/** The image pixel module's elements (without Pixel Data). */
function imageElements(im: Image, explicit: boolean): Uint8Array {
  const bits = im.bits ?? 16;
  const parts = [
    element(0x0008, 0x0060, "CS", text("OT"), explicit),
    element(0x0028, 0x0002, "US", us(im.samples ?? 1), explicit),
    element(0x0028, 0x0004, "CS", text((im.samples ?? 1) === 3 ? "RGB" : "MONOCHROME2"), explicit),
  ];
  if ((im.samples ?? 1) === 3) parts.push(element(0x0028, 0x0006, "US", us(0), explicit));
  if (im.frames) parts.push(element(0x0028, 0x0008, "IS", text(String(im.frames)), explicit));
  parts.push(
    element(0x0028, 0x0010, "US", us(im.rows), explicit),
    element(0x0028, 0x0011, "US", us(im.cols), explicit),
    element(0x0028, 0x0100, "US", us(bits), explicit),
    element(0x0028, 0x0101, "US", us(bits === 16 ? 12 : bits), explicit),
    element(0x0028, 0x0102, "US", us(bits === 16 ? 11 : bits - 1), explicit),
    element(0x0028, 0x0103, "US", us(0), explicit),
  );
  return concat(...parts);
}

function pixels(im: Image): Uint8Array {
  const n = im.rows * im.cols * (im.samples ?? 1) * (im.frames ?? 1);
  if ((im.bits ?? 16) === 8) return new Uint8Array(n).map((_, i) => (i * 7) % 256);
  return new Uint8Array(new Uint16Array(n).map((_, i) => (i * 13) % 4096).buffer);
}

/** A native (uncompressed) file. */
function nativeFile(ts: string, im: Image, pixelData = pixels(im), pixelLength?: number): Uint8Array {
  const explicit = ts !== TS.implicit;
  const vr = (im.bits ?? 16) === 8 ? "OB" : "OW";
  return concat(meta(ts), imageElements(im, explicit), element(0x7fe0, 0x0010, vr, pixelData, explicit, pixelLength));
}

/** An encapsulated Pixel Data element: empty offset table, one fragment per frame. */
function encapsulated(fragments: Uint8Array[]): Uint8Array {
  const item = (data: Uint8Array) => {
    const d = padEven(data, 0);
    const h = new DataView(new ArrayBuffer(8));
    h.setUint16(0, 0xfffe, true);
    h.setUint16(2, 0xe000, true);
    h.setUint32(4, d.length, true);
    return concat(new Uint8Array(h.buffer), d);
  };
  const end = new Uint8Array([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
  return concat(
    element(0x7fe0, 0x0010, "OB", new Uint8Array(0), true, 0xffffffff),
    item(new Uint8Array(0)),
    ...fragments.map(item),
    end,
  );
}

/** One RLE frame of 8-bit single-sample pixels: a 64-byte header, one PackBits segment of literal runs. */
function rleFrame(plane: Uint8Array, segments = 1): Uint8Array {
  const seg: number[] = [];
  for (let i = 0; i < plane.length; i += 128) {
    const run = plane.subarray(i, i + 128);
    seg.push(run.length - 1, ...run);
  }
  const segment = new Uint8Array(seg);
  const head = new Uint8Array(64);
  const v = new DataView(head.buffer);
  v.setUint32(0, segments, true);
  for (let s = 0; s < segments; s++) v.setUint32(4 + 4 * s, 64 + s * segment.length, true);
  return concat(head, ...Array.from({ length: segments }, () => segment));
}

/** Writes the DICOM cases under `dicom/`. */
export async function dicomCases(w: CorpusWriter, bombBytes: number): Promise<void> {
  const im = { rows: 16, cols: 12 };
  const d = (path: string, bytes: Uint8Array, defect: string, expect: "ok" | "DatasetError" | "SizeLimitError") =>
    w.file(`dicom/${path}`, bytes, { reader: "dicom", defect, expect });
  const explicitValid = nativeFile(TS.explicit, im);
  await d("implicit_valid.dcm", nativeFile(TS.implicit, im), "valid Implicit VR Little Endian", "ok");
  await d("explicit_valid.dcm", explicitValid, "valid Explicit VR Little Endian", "ok");
  const dataset = concat(imageElements(im, true), element(0x7fe0, 0x0010, "OW", pixels(im), true));
  await d("deflated_valid.dcm", concat(meta(TS.deflated), deflateSync(dataset)), "valid Deflated Explicit VR", "ok");
  const im8 = { rows: 16, cols: 12, bits: 8 };
  await d(
    "rle_valid.dcm",
    concat(meta(TS.rle), imageElements(im8, true), encapsulated([rleFrame(pixels(im8))])),
    "valid RLE Lossless, 8-bit",
    "ok",
  );
  await d("empty.dcm", new Uint8Array(0), "zero bytes", "DatasetError");
  await d("random.dcm", new Uint8Array(4096).map((_, i) => (i * 2654435761) >>> 24), "random bytes", "DatasetError");
  await d("truncated_meta.dcm", explicitValid.subarray(0, 150), "cut inside the meta group", "DatasetError");
  await d(
    "truncated_pixels.dcm",
    explicitValid.subarray(0, explicitValid.length - 100),
    "Pixel Data cut short",
    "DatasetError",
  );
  await d(
    "no_pixel_data.dcm",
    concat(meta(TS.explicit), imageElements(im, true)),
    "no Pixel Data element",
    "DatasetError",
  );
  await d("rows_zero.dcm", nativeFile(TS.explicit, { rows: 0, cols: 12 }, pixels(im)), "Rows = 0", "DatasetError");
  await d(
    "bits_allocated_7.dcm",
    nativeFile(TS.explicit, { rows: 16, cols: 12, bits: 7 }, pixels(im8)),
    "BitsAllocated 7",
    "DatasetError",
  );
  await d(
    "pixel_length_past_eof.dcm",
    nativeFile(TS.explicit, im, pixels(im), 0x7ffffff0),
    "Pixel Data length 2 GiB in a 500-byte file",
    "DatasetError",
  );
  await d(
    "unsupported_jpeg2000.dcm",
    concat(meta(TS.jpeg2000), imageElements(im, true), encapsulated([new Uint8Array(32)])),
    "JPEG 2000 syntax",
    "DatasetError",
  );
  await d(
    "declares_gigapixels.dcm",
    nativeFile(TS.explicit, { rows: 65535, cols: 65535, frames: 100 }, pixels(im)),
    "Rows 65535 × Columns 65535 × 100 frames declared, 384 bytes present",
    "SizeLimitError",
  );
  await d(
    "rle_declares_65535x65535x3.dcm",
    concat(
      meta(TS.rle),
      imageElements({ rows: 65535, cols: 65535, bits: 8, samples: 3 }, true),
      encapsulated([rleFrame(pixels(im8), 3)]),
    ),
    "RLE, 65535 × 65535 × 3 samples declared",
    "SizeLimitError",
  );
  await d(
    "rle_bad_segment_count.dcm",
    concat(meta(TS.rle), imageElements(im8, true), encapsulated([rleFrame(pixels(im8), 9)])),
    "RLE header declares 9 segments for 1 sample",
    "DatasetError",
  );
  await d(
    "rle_truncated_segment.dcm",
    concat(meta(TS.rle), imageElements(im8, true), encapsulated([rleFrame(pixels(im8)).subarray(0, 100)])),
    "RLE segment cut short",
    "DatasetError",
  );
  await d(
    "deflate_bomb.dcm",
    concat(meta(TS.deflated), deflateBombRaw(bombBytes)),
    `deflated data set inflating to ${deflateBombSize(bombBytes)} zero bytes`,
    "SizeLimitError",
  );
  await d(
    "deflate_corrupt.dcm",
    concat(meta(TS.deflated), new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x12])),
    "deflated data set is not DEFLATE",
    "DatasetError",
  );
}
