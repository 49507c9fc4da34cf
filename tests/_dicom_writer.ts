/**
 * A tiny DICOM writer for tests: explicit-VR little-endian elements, sequences, encapsulated
 * pixel data and Part-10 files, built byte by byte.
 */

import { concatBytes } from "../util/bytes.ts";

const LONG_VRS = new Set(["OB", "OD", "OF", "OL", "OW", "SQ", "UN", "UT", "UC", "UR"]);
/** UTF-8 encoder. */
export const te = new TextEncoder();

/** The parts, end to end. */
export function concat(parts: Uint8Array[]): Uint8Array {
  return concatBytes(...parts);
}

/** One explicit-VR little-endian element (value padded to even length). */
export function el(group: number, element: number, vr: string, value: Uint8Array | string | number[]): Uint8Array {
  let v: Uint8Array;
  if (typeof value === "string") {
    v = te.encode(value.length % 2 ? value + (vr === "UI" ? "\0" : " ") : value);
  } else if (Array.isArray(value)) {
    // US values
    v = new Uint8Array(value.length * 2);
    value.forEach((x, i) => new DataView(v.buffer).setUint16(2 * i, x, true));
  } else {
    v = value.length % 2 ? concat([value, new Uint8Array(1)]) : value;
  }
  const long = LONG_VRS.has(vr);
  const head = new Uint8Array(long ? 12 : 8);
  const dv = new DataView(head.buffer);
  dv.setUint16(0, group, true);
  dv.setUint16(2, element, true);
  head[4] = vr.charCodeAt(0);
  head[5] = vr.charCodeAt(1);
  if (long) dv.setUint32(8, v.length, true);
  else dv.setUint16(6, v.length, true);
  return concat([head, v]);
}

/** An item (E000), item delimiter (E00D) or sequence delimiter (E0DD) tag with its length. */
export function itemTag(element: number, length: number): Uint8Array {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, 0xfffe, true);
  dv.setUint16(2, element, true);
  dv.setUint32(4, length, true);
  return b;
}

/** A sequence of defined length holding data-set items. */
export function sq(group: number, element: number, items: Uint8Array[]): Uint8Array {
  return el(group, element, "SQ", concat(items.map((it) => concat([itemTag(0xe000, it.length), it]))));
}

/** Encapsulated Pixel Data: offset table (or empty), one fragment per frame, delimiter. */
export function encapsulated(frames: Uint8Array[], withTable: boolean): Uint8Array {
  const padded = frames.map((f) => (f.length % 2 ? concat([f, new Uint8Array(1)]) : f));
  const table = new Uint8Array(withTable ? 4 * frames.length : 0);
  let off = 0;
  padded.forEach((f, i) => {
    if (withTable) new DataView(table.buffer).setUint32(4 * i, off, true);
    off += 8 + f.length;
  });
  const head = new Uint8Array(12);
  const dv = new DataView(head.buffer);
  dv.setUint16(0, 0x7fe0, true);
  dv.setUint16(2, 0x0010, true);
  head.set([0x4f, 0x42], 4); // OB
  dv.setUint32(8, 0xffffffff, true);
  return concat([
    head,
    itemTag(0xe000, table.length),
    table,
    ...padded.flatMap((f) => [itemTag(0xe000, f.length), f]),
    itemTag(0xe0dd, 0),
  ]);
}

/** A Part-10 file: preamble, "DICM", file meta group (with group length), then `body`. */
export function part10(syntax: string, body: Uint8Array[], preamble = true): Uint8Array {
  const meta = concat([
    el(2, 1, "OB", new Uint8Array([0, 1])),
    el(2, 2, "UI", "1.2.840.10008.5.1.4.1.1.7"),
    el(2, 3, "UI", "1.2.3.4.5.6.7"),
    el(2, 0x10, "UI", syntax),
  ]);
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, meta.length, true);
  const head = preamble ? [new Uint8Array(128), te.encode("DICM"), el(2, 0, "UL", len), meta] : [];
  return concat([...head, ...body]);
}

/** The usual image attributes. */
export function imageAttrs(o: {
  rows: number;
  columns: number;
  frames?: number;
  spp?: number;
  bits: number;
  stored?: number;
  signed?: boolean;
  photometric?: string;
}): Uint8Array[] {
  return [
    el(8, 0x60, "CS", "OT"),
    el(0x10, 0x10, "PN", "Secret^Patient"),
    el(0x28, 2, "US", [o.spp ?? 1]),
    el(0x28, 4, "CS", o.photometric ?? (o.spp === 3 ? "RGB" : "MONOCHROME2")),
    ...(o.spp === 3 ? [el(0x28, 6, "US", [0])] : []),
    ...(o.frames ? [el(0x28, 8, "IS", String(o.frames))] : []),
    el(0x28, 0x10, "US", [o.rows]),
    el(0x28, 0x11, "US", [o.columns]),
    el(0x28, 0x100, "US", [o.bits]),
    el(0x28, 0x101, "US", [o.stored ?? o.bits]),
    el(0x28, 0x102, "US", [(o.stored ?? o.bits) - 1]),
    el(0x28, 0x103, "US", [o.signed ? 1 : 0]),
  ];
}

/** Little-endian bytes of integer samples. */
export function leBytes(values: ArrayLike<number>, bits: 8 | 16 | 32): Uint8Array {
  const out = new Uint8Array(values.length * bits / 8);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) {
    if (bits === 8) dv.setUint8(i, values[i] & 0xff);
    else if (bits === 16) dv.setUint16(2 * i, values[i] & 0xffff, true);
    else dv.setUint32(4 * i, values[i] >>> 0, true);
  }
  return out;
}
