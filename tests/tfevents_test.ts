/**
 * TensorBoard event files: CRC-32C known answers, protobuf encoding, byte-for-byte agreement with
 * a fixture written by TensorBoard's own protobuf classes and RecordWriter
 * (scripts/check_tfevents.py --make-fixture), and a round trip through an independent reader
 * written here (bitwise CRC, its own protobuf decoding).
 */
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { crc32c, maskCrc32c, unmaskCrc32c } from "../util/formats/crc.ts";
import { histogram, ProtoWriter, SummaryWriter, tfRecord } from "../util/formats/tfevents.ts";
import { decodePng, type Raster } from "../util/png.ts";

const enc = new TextEncoder();
const fixtureDir = new URL("./fixtures/tfevents/", import.meta.url);

// ---------------------------------------------------------------- an independent reader

function crcBitwise(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

function masked(data: Uint8Array): number {
  const c = crcBitwise(data);
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;
}

function readRecords(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  let off = 0;
  while (off < bytes.length) {
    const len = Number(view.getBigUint64(off, true));
    if (view.getUint32(off + 8, true) !== masked(bytes.subarray(off, off + 8))) throw new Error(`length CRC at ${off}`);
    const data = bytes.subarray(off + 12, off + 12 + len);
    if (view.getUint32(off + 12 + len, true) !== masked(data)) throw new Error(`data CRC at ${off}`);
    out.push(data);
    off += 16 + len;
  }
  return out;
}

type Field = { field: number; wire: number; int?: bigint; bytes?: Uint8Array };

function readFields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let r = 0n, shift = 0n;
    for (;;) {
      const b = buf[i++];
      r |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return r;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const field = key >> 3, wire = key & 7;
    if (wire === 0) out.push({ field, wire, int: varint() });
    else if (wire === 1) out.push({ field, wire, bytes: buf.subarray(i, i += 8) });
    else if (wire === 5) out.push({ field, wire, bytes: buf.subarray(i, i += 4) });
    else if (wire === 2) {
      const n = Number(varint());
      out.push({ field, wire, bytes: buf.subarray(i, i += n) });
    } else throw new Error(`wire type ${wire}`);
  }
  return out;
}

const f64 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, true);
const f32 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

interface DecodedEvent {
  wallTime: number;
  step: bigint;
  fileVersion?: string;
  values: Record<string, unknown>[];
}

function decodeEvent(buf: Uint8Array): DecodedEvent {
  const ev: DecodedEvent = { wallTime: 0, step: 0n, values: [] };
  for (const f of readFields(buf)) {
    if (f.field === 1) ev.wallTime = f64(f.bytes!);
    else if (f.field === 2) ev.step = BigInt.asIntN(64, f.int!);
    else if (f.field === 3) ev.fileVersion = str(f.bytes!);
    else if (f.field === 5) {
      for (const v of readFields(f.bytes!)) {
        const value: Record<string, unknown> = {};
        for (const g of readFields(v.bytes!)) {
          if (g.field === 1) value.tag = str(g.bytes!);
          else if (g.field === 2) value.simple = f32(g.bytes!);
          else if (g.field === 4) {
            const img: Record<string, unknown> = {};
            for (const h of readFields(g.bytes!)) {
              if (h.field === 4) img.encoded = h.bytes!.slice();
              else img[["", "height", "width", "colorspace"][h.field]] = Number(h.int!);
            }
            value.image = img;
          } else if (g.field === 5) {
            const hist: Record<string, number | number[]> = {
              min: 0,
              max: 0,
              num: 0,
              sum: 0,
              sumSquares: 0,
              bucketLimit: [],
              bucket: [],
            }; // proto3 leaves out zeros
            for (const h of readFields(g.bytes!)) {
              if (h.field <= 5) hist[["", "min", "max", "num", "sum", "sumSquares"][h.field]] = f64(h.bytes!);
              else {
                const list = hist[h.field === 6 ? "bucketLimit" : "bucket"] as number[];
                for (let k = 0; k < h.bytes!.length; k += 8) list.push(f64(h.bytes!.subarray(k)));
              }
            }
            value.histo = hist;
          } else if (g.field === 8) {
            for (const t of readFields(g.bytes!)) if (t.field === 8) value.text = str(t.bytes!);
          } else if (g.field === 9) value.metadata = g.bytes!.slice();
        }
        ev.values.push(value);
      }
    }
  }
  return ev;
}

// ---------------------------------------------------------------- tests

Deno.test("crc32c: known answers (RFC 3720 vectors) and TensorFlow's mask", () => {
  assertEquals(crc32c(enc.encode("123456789")), 0xe3069283);
  assertEquals(crc32c(new Uint8Array(0)), 0);
  assertEquals(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assertEquals(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assertEquals(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  // masked values from tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c
  assertEquals(maskCrc32c(crc32c(new Uint8Array(0))), 0xa282ead8);
  assertEquals(maskCrc32c(crc32c(enc.encode("123456789"))), 0xc78ab0e5);
  assertEquals(maskCrc32c(crc32c(new Uint8Array(32))), 0x0fd7fffa);
  assertEquals(maskCrc32c(crc32c(new Uint8Array(32).fill(0xff))), 0xf909b029);
  for (const c of [0, 1, 0xe3069283, 0xffffffff, 0x80000000]) assertEquals(unmaskCrc32c(maskCrc32c(c)), c);
});

Deno.test("crc32c: slicing-by-8 equals the bitwise definition at every length and offset, and continues", () => {
  let s = 12345;
  const data = Uint8Array.from({ length: 300 }, () => (s = (s * 1103515245 + 12345) >>> 0) >>> 24);
  for (let start = 0; start < 9; start++) {
    for (let len = 0; len < 70; len++) {
      const part = data.subarray(start, start + len);
      assertEquals(crc32c(part), crcBitwise(part), `start ${start} length ${len}`);
    }
  }
  assertEquals(crc32c(data.subarray(100), crc32c(data.subarray(0, 100))), crcBitwise(data));
});

Deno.test("ProtoWriter: varints, negative int64, doubles, floats, strings", () => {
  assertEquals([...new ProtoWriter().varint(300).finish()], [0xac, 0x02]);
  assertEquals([...new ProtoWriter().varint(0).finish()], [0]);
  assertEquals([...new ProtoWriter().varint(2 ** 53 - 1).finish()], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]);
  assertEquals([...new ProtoWriter().varint(2n ** 64n - 1n).finish()], [...new Array(9).fill(0xff), 0x01]);
  assertEquals([...new ProtoWriter().int64(2, -1).finish()], [0x10, ...new Array(9).fill(0xff), 0x01]);
  assertEquals([...new ProtoWriter().double(1, 1.5).finish()], [0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f]);
  assertEquals([...new ProtoWriter().float(2, -2).finish()], [0x15, 0, 0, 0, 0xc0]);
  assertEquals([...new ProtoWriter().bytes(1, "ab").finish()], [0x0a, 2, 0x61, 0x62]);
  assertThrows(() => new ProtoWriter().varint(-1), RangeError, "non-negative");
  assertThrows(() => new ProtoWriter().varint(0.5), RangeError, "safe integer");
  // A long message grows the buffer.
  const big = new ProtoWriter().bytes(3, new Uint8Array(1000).fill(7)).finish();
  assertEquals(big.length, 1 + 2 + 1000);
  assertEquals(big[3], 7);
  assertEquals(big[1002], 7);
});

Deno.test("tfRecord: framing read back by the independent reader; a flipped byte is caught", () => {
  const data = enc.encode("hello tensorboard");
  const rec = tfRecord(data);
  assertEquals(rec.length, data.length + 16);
  assertEquals(readRecords(rec).map(str), ["hello tensorboard"]);
  const bad = rec.slice();
  bad[14] ^= 1;
  assertThrows(() => readRecords(bad), Error, "data CRC");
  const bad2 = rec.slice();
  bad2[0] ^= 1;
  assertThrows(() => readRecords(bad2), Error, "length CRC");
});

interface FixtureEvent {
  kind: "scalar" | "image" | "histogram" | "text";
  tag: string;
  step: number;
  wall_time: number;
  value?: number;
  png_base64?: string;
  height?: number;
  width?: number;
  colorspace?: number;
  min?: number;
  max?: number;
  num?: number;
  sum?: number;
  sum_squares?: number;
  bucket_limit?: number[];
  bucket?: number[];
  text?: string;
}

Deno.test("SummaryWriter: byte-identical to the file TensorBoard's own protobuf + RecordWriter wrote", async () => {
  const spec = JSON.parse(await Deno.readTextFile(new URL("reference.json", fixtureDir))) as {
    file_version_wall_time: number;
    events: FixtureEvent[];
  };
  const expected = await Deno.readFile(new URL("reference.tfevents", fixtureDir));
  const dir = await Deno.makeTempDir({ prefix: "tfevents_ref_" });
  try {
    const w = new SummaryWriter(dir, { now: () => spec.file_version_wall_time * 1000 });
    for (const e of spec.events) {
      if (e.kind === "scalar") w.addScalar(e.tag, e.value!, e.step, e.wall_time);
      else if (e.kind === "image") {
        const png = Uint8Array.from(atob(e.png_base64!), (c) => c.charCodeAt(0));
        w.addEncodedImage(
          e.tag,
          png,
          { height: e.height!, width: e.width!, colorspace: e.colorspace! },
          e.step,
          e.wall_time,
        );
      } else if (e.kind === "histogram") {
        w.addHistogramRaw(
          e.tag,
          {
            min: e.min!,
            max: e.max!,
            num: e.num!,
            sum: e.sum!,
            sumSquares: e.sum_squares!,
            bucketLimit: e.bucket_limit!,
            bucket: e.bucket!,
          },
          e.step,
          e.wall_time,
        );
      } else w.addText(e.tag, e.text!, e.step, e.wall_time);
    }
    w.close();
    const got = await Deno.readFile(w.path);
    const gotRecords = readRecords(got);
    const wantRecords = readRecords(expected);
    assertEquals(gotRecords.length, wantRecords.length);
    for (let i = 0; i < wantRecords.length; i++) {
      assertEquals(
        [...gotRecords[i]],
        [...wantRecords[i]],
        `record ${i} (${spec.events[i - 1]?.tag ?? "file_version"})`,
      );
    }
    assertEquals(got.length, expected.length);
    assert(got.every((b, i) => b === expected[i]), "file bytes differ");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SummaryWriter: scalars, image, histogram and text read back by the independent reader", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tfevents_rt_" });
  try {
    let t = 1_700_000_000_000;
    const w = new SummaryWriter(dir, { now: () => t });
    assert(
      /\/events\.out\.tfevents\.1700000000\.[^/.]+(\.[^/]+)*\.\d+\.0$/.test(w.path),
      `file name ${w.path}`,
    );
    assert(w.path.includes(`.${Deno.pid}.0`), `pid in ${w.path}`);
    for (let step = 0; step < 5; step++) {
      t += 1000;
      w.addScalar("loss", 1 / (step + 1), step);
    }
    w.addScalars("lr", { g0: 0.5, g1: 0.25 }, 7, 1234.5);
    const raster: Raster = { width: 3, height: 2, channels: 1, data: Uint8Array.from([0, 50, 100, 150, 200, 255]) };
    await w.addImage("grid", raster, 9);
    w.addHistogram("weights", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 9, 5);
    w.addText("config", "a: 1", 0);
    w.close();
    assertThrows(() => w.addScalar("late", 1, 1), Error, "after close");

    const events = readRecords(await Deno.readFile(w.path)).map(decodeEvent);
    assertEquals(events[0].fileVersion, "brain.Event:2");
    assertEquals(events[0].wallTime, 1_700_000_000);
    const loss = events.filter((e) => e.values[0]?.tag === "loss");
    assertEquals(loss.map((e) => e.step), [0n, 1n, 2n, 3n, 4n]);
    assertEquals(loss.map((e) => e.wallTime), [
      1_700_000_001,
      1_700_000_002,
      1_700_000_003,
      1_700_000_004,
      1_700_000_005,
    ]);
    assertEquals(loss.map((e) => e.values[0].simple), [1, 0.5, 1 / 3, 0.25, 0.2].map((v) => Math.fround(v)));
    const lr = events.filter((e) => String(e.values[0]?.tag).startsWith("lr/"));
    assertEquals(lr.map((e) => [e.values[0].tag, e.values[0].simple, e.step, e.wallTime]), [
      ["lr/g0", 0.5, 7n, 1234.5],
      ["lr/g1", 0.25, 7n, 1234.5],
    ]);
    const img = events.find((e) => e.values[0]?.tag === "grid")!.values[0].image as Record<string, unknown>;
    assertEquals([img.height, img.width, img.colorspace], [2, 3, 1]);
    const decoded = await decodePng(img.encoded as Uint8Array);
    assertEquals([decoded.width, decoded.height, decoded.channels], [3, 2, 1]);
    assertEquals([...decoded.data], [...raster.data]);
    const histo = events.find((e) => e.values[0]?.tag === "weights")!.values[0].histo as Record<string, unknown>;
    assertEquals(histo, {
      min: 0,
      max: 9,
      num: 10,
      sum: 45,
      sumSquares: 285,
      bucketLimit: [1.8, 3.6, 5.4, 7.2, 9],
      bucket: [2, 2, 2, 2, 2],
    });
    const text = events.find((e) => e.values[0]?.tag === "config")!;
    assertEquals(text.step, 0n);
    assertEquals(text.values[0].text, "a: 1");
    assertEquals(str(readFields(readFields(text.values[0].metadata as Uint8Array)[0].bytes!)[0].bytes!), "text");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SummaryWriter: records wait in memory until flushMillis or maxPendingBytes, never overwrite a file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tfevents_flush_" });
  try {
    let t = 5_000_000;
    const w = new SummaryWriter(dir, { now: () => t, flushMillis: 1000 });
    const size = () => Deno.statSync(w.path).size;
    const afterHeader = size();
    assert(afterHeader > 0, "the file-version record is written at once");
    w.addScalar("a", 1, 1);
    t += 500;
    w.addScalar("a", 2, 2);
    assertEquals(size(), afterHeader, "pending, not yet written");
    t += 600; // the oldest pending record is now 1100 ms old
    w.addScalar("a", 3, 3);
    assert(size() > afterHeader, "flushed on an add after flushMillis");
    const before = size();
    w.addScalar("a", 4, 4);
    assertEquals(size(), before);
    w.flush();
    assert(size() > before, "flush() writes");

    // A second writer in the same second and process gets the next number.
    const w2 = new SummaryWriter(dir, { now: () => 5_000_999, maxPendingBytes: 1 });
    assert(w2.path.endsWith(".1"), w2.path);
    const s2 = Deno.statSync(w2.path).size;
    w2.addScalar("b", 1, 1); // over maxPendingBytes: written at once
    assert(Deno.statSync(w2.path).size > s2);
    w2.close();
    w.close();
    const events = readRecords(await Deno.readFile(w.path)).map(decodeEvent);
    assertEquals(events.slice(1).map((e) => e.values[0].simple), [1, 2, 3, 4]);
    assertEquals(readRecords(await Deno.readFile(w2.path)).length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SummaryWriter: argument errors name the argument", () => {
  assertThrows(() => new SummaryWriter(""), TypeError, "dir");
  const dir = Deno.makeTempDirSync({ prefix: "tfevents_err_" });
  try {
    const w = new SummaryWriter(dir);
    assertThrows(() => w.addScalar("", 1, 0), TypeError, "tag");
    assertThrows(() => w.addScalar("x", 1, 1.5), TypeError, "step must be an integer");
    assertThrows(
      () => w.addEncodedImage("x", new Uint8Array(1), { height: 0, width: 1, colorspace: 1 }, 0),
      TypeError,
      "info.height",
    );
    assertThrows(
      () => w.addHistogramRaw("h", { min: 0, max: 1, num: 1, sum: 0, sumSquares: 0, bucketLimit: [1], bucket: [] }, 0),
      TypeError,
      "differ in length",
    );
    w.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("histogram: equal-width buckets, NaN skipped, constant and empty inputs", () => {
  const h = histogram([0, 0.5, 1, 2, NaN, 4], 4);
  assertEquals(h.num, 5);
  assertEquals([h.min, h.max, h.sum, h.sumSquares], [0, 4, 7.5, 21.25]);
  assertEquals(h.bucketLimit, [1, 2, 3, 4]);
  assertEquals(h.bucket, [2, 1, 1, 1]);
  assertEquals(histogram([3, 3, 3]).bucket, [3]);
  assertEquals(histogram([3, 3, 3]).bucketLimit, [3]);
  assertEquals(histogram([]).num, 0);
  assertThrows(() => histogram([1], 0), RangeError, "bins");
});
