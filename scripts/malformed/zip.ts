/**
 * A small ZIP writer whose directory can lie: members stored or deflated, with the sizes and
 * CRC-32 the directory declares overridable and ZIP64 size records on request. NumPy's `.npz`
 * is a ZIP of `.npy` members.
 * @module
 */
import { deflateSync } from "fflate";
import { crc32 } from "../../util/formats/crc.ts";
import { concat } from "./case.ts";

/** One member to write. */
export interface ZipMember {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
  /** Raw compressed bytes to store instead of deflating `data` (a bomb). */
  raw?: Uint8Array;
  /** Uncompressed size the directory declares (default: `data.length`). */
  declaredSize?: number;
  /** CRC-32 the directory declares (default: the data's). */
  declaredCrc?: number;
  /** Write the sizes as ZIP64 extra fields. */
  zip64?: boolean;
}

/** A ZIP archive of `members`. */
export function zip(members: readonly ZipMember[]): Uint8Array {
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const m of members) {
    const name = new TextEncoder().encode(m.name);
    const body = m.raw ?? (m.deflate ? deflateSync(m.data) : m.data);
    const size = m.declaredSize ?? m.data.length;
    const crc = m.declaredCrc ?? crc32(m.data);
    const method = m.raw || m.deflate ? 8 : 0;
    const extra = m.zip64 ? new Uint8Array(4 + 16) : new Uint8Array(0);
    if (m.zip64) {
      const v = new DataView(extra.buffer);
      v.setUint16(0, 1, true);
      v.setUint16(2, 16, true);
      v.setBigUint64(4, BigInt(size), true);
      v.setBigUint64(12, BigInt(body.length), true);
    }
    const u32Size = m.zip64 ? 0xffffffff : size;
    const u32Comp = m.zip64 ? 0xffffffff : body.length;
    const local = new Uint8Array(30 + name.length + extra.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, m.zip64 ? 45 : 20, true);
    lv.setUint16(8, method, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, u32Comp, true);
    lv.setUint32(22, u32Size, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, extra.length, true);
    local.set(name, 30);
    local.set(extra, 30 + name.length);
    const central = new Uint8Array(46 + name.length + extra.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 45, true);
    cv.setUint16(6, m.zip64 ? 45 : 20, true);
    cv.setUint16(10, method, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, u32Comp, true);
    cv.setUint32(24, u32Size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, extra.length, true);
    cv.setUint32(42, offset, true);
    central.set(name, 46);
    central.set(extra, 46 + name.length);
    locals.push(local, body);
    centrals.push(central);
    offset += local.length + body.length;
  }
  const dir = concat(...centrals);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, members.length, true);
  ev.setUint16(10, members.length, true);
  ev.setUint32(12, dir.length, true);
  ev.setUint32(16, offset, true);
  return concat(...locals, dir, eocd);
}
