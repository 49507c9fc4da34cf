/**
 * TensorBoard event files, written without TensorFlow: TFRecord framing around hand-encoded
 * protobuf `Event` messages (tensorflow/core/util/event.proto, summary.proto).
 *
 * A record is: uint64 length (little endian), masked CRC-32C of those 8 bytes, the data, masked
 * CRC-32C of the data. The first record of a file is an Event with `file_version =
 * "brain.Event:2"`; every later one has `wall_time` (field 1, double), `step` (2, int64) and a
 * `summary` (5) holding `Summary.Value`s (1) with a `tag` (1) and one of `simple_value` (2,
 * float), `image` (4), `histo` (5) or, for text, `metadata` (9) + `tensor` (8).
 *
 * @example
 * ```ts
 * const tb = new SummaryWriter(run.path);
 * tb.addScalar("train/loss", 0.25, step);
 * await tb.addImage("samples", grid, step);
 * tb.close();
 * ```
 *
 * @module
 */
import { crc32c, maskCrc32c } from "./crc.ts";
import { encodePng, type Raster } from "../png.ts";
import { joinPath } from "../path.ts";
import { WriteError } from "../errors.ts";

/** Appends protobuf wire-format values to a growing byte buffer. */
export class ProtoWriter {
  #buf = new Uint8Array(64);
  #len = 0;
  #view = new DataView(this.#buf.buffer);

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < this.#len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  /** Appends an unsigned varint; numbers must be non-negative integers below 2^53, bigints are taken modulo 2^64. */
  varint(v: number | bigint): this {
    if (typeof v === "number") {
      if (!Number.isSafeInteger(v) || v < 0) {
        throw new RangeError(`ProtoWriter.varint: expected a non-negative safe integer, got ${v}`);
      }
      this.#reserve(10);
      while (v >= 0x80) {
        this.#buf[this.#len++] = (v % 0x80) | 0x80;
        v = Math.floor(v / 0x80);
      }
      this.#buf[this.#len++] = v;
      return this;
    }
    let u = BigInt.asUintN(64, v);
    this.#reserve(10);
    while (u >= 0x80n) {
      this.#buf[this.#len++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.#buf[this.#len++] = Number(u);
    return this;
  }

  /** Appends a field key (field number and wire type). */
  tag(field: number, wireType: 0 | 1 | 2 | 5): this {
    return this.varint(field * 8 + wireType);
  }

  /** Appends an int64 field (varint, two's complement for negative values). */
  int64(field: number, v: number | bigint): this {
    this.tag(field, 0);
    return typeof v === "number" && v >= 0 ? this.varint(v) : this.varint(BigInt(v));
  }

  /** Appends a double field (fixed64, little endian). */
  double(field: number, v: number): this {
    this.tag(field, 1);
    this.#reserve(8);
    this.#view.setFloat64(this.#len, v, true);
    this.#len += 8;
    return this;
  }

  /** Appends a float field (fixed32, little endian). */
  float(field: number, v: number): this {
    this.tag(field, 5);
    this.#reserve(4);
    this.#view.setFloat32(this.#len, v, true);
    this.#len += 4;
    return this;
  }

  /** Appends a length-delimited field (bytes, an embedded message, or a UTF-8 string). */
  bytes(field: number, v: Uint8Array | string): this {
    const b = typeof v === "string" ? new TextEncoder().encode(v) : v;
    this.tag(field, 2).varint(b.length);
    this.#reserve(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }

  /** Appends a packed repeated double field. */
  packedDoubles(field: number, values: ArrayLike<number>): this {
    this.tag(field, 2).varint(values.length * 8);
    this.#reserve(values.length * 8);
    for (let i = 0; i < values.length; i++) {
      this.#view.setFloat64(this.#len, values[i], true);
      this.#len += 8;
    }
    return this;
  }

  /** The bytes written so far (a copy). */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/** Frames `data` as one TFRecord: length, masked CRC of the length, data, masked CRC of the data. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 16);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskCrc32c(crc32c(out.subarray(0, 8))), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskCrc32c(crc32c(data)), true);
  return out;
}

/** A TensorBoard histogram (HistogramProto): buckets are `(bucketLimit[i-1], bucketLimit[i]]` with `bucket[i]` values. */
export interface Histogram {
  /** Smallest value. */
  min: number;
  /** Largest value. */
  max: number;
  /** Number of values. */
  num: number;
  /** Sum of the values. */
  sum: number;
  /** Sum of the squared values. */
  sumSquares: number;
  /** Right edge of each bucket. */
  bucketLimit: number[];
  /** Count in each bucket. */
  bucket: number[];
}

/** Metadata of an already-encoded image for {@linkcode SummaryWriter.addEncodedImage}. */
export interface EncodedImageInfo {
  /** Height in pixels. */
  height: number;
  /** Width in pixels. */
  width: number;
  /** 1 grayscale, 2 grayscale + alpha, 3 RGB, 4 RGBA. */
  colorspace: number;
}

/** Options of {@linkcode SummaryWriter}. */
export interface SummaryWriterOptions {
  /** Pending records are written to the file when the oldest is this old (default 5000 ms), checked on each add. */
  flushMillis?: number;
  /** … or when this many bytes are pending (default 1 MiB). */
  maxPendingBytes?: number;
  /** Extra text after the file name (`.0` is always there), e.g. `.train`. */
  filenameSuffix?: string;
  /** Clock in milliseconds (default `Date.now`), for the file name and default wall times. */
  now?: () => number;
}

/** Whether `desc` is granted, without ever prompting. */
function granted(desc: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(desc).state === "granted";
  } catch {
    return false;
  }
}

/** The host name for the file name, from whatever is permitted (never prompts); `localhost` otherwise. */
function hostname(): string {
  try {
    if (granted({ name: "sys", kind: "hostname" })) return Deno.hostname();
    const env = granted({ name: "env", variable: "HOSTNAME" }) ? Deno.env.get("HOSTNAME") : undefined;
    if (env) return env;
    if (granted({ name: "read", path: "/etc/hostname" })) {
      const h = Deno.readTextFileSync("/etc/hostname").trim();
      if (h) return h;
    }
  } catch { /* unreadable: fall through */ }
  return "localhost";
}

/** The Event message with `file_version`, the first record of every event file. */
export function fileVersionEvent(wallTime: number): Uint8Array {
  return new ProtoWriter().double(1, wallTime).bytes(3, "brain.Event:2").finish();
}

function checkTag(op: string, tag: string): void {
  if (typeof tag !== "string" || tag === "") throw new TypeError(`SummaryWriter.${op}: tag must be a non-empty string`);
}

function checkStep(op: string, step: number | bigint): void {
  if (typeof step === "bigint") return;
  if (!Number.isSafeInteger(step)) throw new TypeError(`SummaryWriter.${op}: step must be an integer, got ${step}`);
}

/**
 * Writes TensorBoard event files: `<dir>/events.out.tfevents.<unix seconds>.<hostname>.<pid>.0`
 * (`.1`, `.2`, … instead of `.0` if such a file exists: nothing is ever overwritten). Records are
 * kept in memory and appended to the file by {@linkcode SummaryWriter.flush}, on
 * {@linkcode SummaryWriter.close}, and during an add when the oldest pending record is older than
 * `flushMillis` or more than `maxPendingBytes` are pending (no timers run in the background).
 */
export class SummaryWriter {
  /** The event file's path. */
  readonly path: string;
  #file: Deno.FsFile | undefined;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #oldest = 0;
  #now: () => number;
  #flushMillis: number;
  #maxPending: number;

  /** Creates `dir` if needed and a new event file in it, starting with the file-version record. */
  constructor(dir: string, opts: SummaryWriterOptions = {}) {
    if (typeof dir !== "string" || dir === "") throw new TypeError("SummaryWriter: dir must be a non-empty string");
    this.#now = opts.now ?? Date.now;
    this.#flushMillis = opts.flushMillis ?? 5000;
    this.#maxPending = opts.maxPendingBytes ?? 1 << 20;
    const suffix = opts.filenameSuffix ?? "";
    if (/[\\/]/.test(suffix)) {
      throw new TypeError(`SummaryWriter: filenameSuffix must not contain / or \\, got ${suffix}`);
    }
    try {
      Deno.mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new WriteError(dir, "the folder of the TensorBoard events", e);
    }
    const nowMs = this.#now();
    const secs = Math.floor(nowMs / 1000);
    const host = hostname().replace(/[\\/\s]/g, "_");
    let path = "";
    for (let n = 0;; n++) {
      path = joinPath(dir, `events.out.tfevents.${String(secs).padStart(10, "0")}.${host}.${Deno.pid}.${n}${suffix}`);
      try {
        this.#file = Deno.openSync(path, { write: true, createNew: true });
        break;
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists) || n >= 1000) throw new WriteError(path, "TensorBoard events", e);
      }
    }
    this.path = path;
    this.#push(fileVersionEvent(nowMs / 1000));
    this.flush();
  }

  #push(event: Uint8Array): void {
    if (!this.#file) throw new Error(`SummaryWriter ${this.path}: written to after close()`);
    if (this.#pending.length === 0) this.#oldest = this.#now();
    const rec = tfRecord(event);
    this.#pending.push(rec);
    this.#pendingBytes += rec.length;
    if (this.#pendingBytes >= this.#maxPending || this.#now() - this.#oldest >= this.#flushMillis) this.flush();
  }

  #summaryEvent(value: Uint8Array, step: number | bigint, wallTime: number | undefined): Uint8Array {
    const w = new ProtoWriter();
    const wall = wallTime ?? this.#now() / 1000;
    if (wall !== 0) w.double(1, wall); // proto3: fields at their default (0) are not written
    if (step !== 0 && step !== 0n) w.int64(2, step);
    return w.bytes(5, new ProtoWriter().bytes(1, value).finish()).finish();
  }

  /** Adds one Event holding a pre-encoded `Summary.Value` message (for summary kinds not covered here). */
  addSummaryValue(value: Uint8Array, step: number | bigint, wallTime?: number): void {
    checkStep("addSummaryValue", step);
    this.#push(this.#summaryEvent(value, step, wallTime));
  }

  /** Adds a scalar (stored as a 32-bit float, as TensorBoard does). `wallTime` is in seconds (default: now). */
  addScalar(tag: string, value: number, step: number | bigint, wallTime?: number): void {
    checkTag("addScalar", tag);
    checkStep("addScalar", step);
    if (typeof value !== "number") throw new TypeError(`SummaryWriter.addScalar ${tag}: value must be a number`);
    this.#push(this.#summaryEvent(new ProtoWriter().bytes(1, tag).float(2, value).finish(), step, wallTime));
  }

  /** Adds several scalars at one step, as `<prefix>/<name>` tags (one Event each). */
  addScalars(prefix: string, values: Record<string, number>, step: number | bigint, wallTime?: number): void {
    for (const [name, v] of Object.entries(values)) {
      this.addScalar(prefix ? `${prefix}/${name}` : name, v, step, wallTime);
    }
  }

  /** Adds an image already encoded as PNG (or JPEG) bytes. */
  addEncodedImage(
    tag: string,
    encoded: Uint8Array,
    info: EncodedImageInfo,
    step: number | bigint,
    wallTime?: number,
  ): void {
    checkTag("addEncodedImage", tag);
    checkStep("addEncodedImage", step);
    for (const k of ["height", "width", "colorspace"] as const) {
      if (!Number.isInteger(info[k]) || info[k] <= 0) {
        throw new TypeError(
          `SummaryWriter.addEncodedImage ${tag}: info.${k} must be a positive integer, got ${info[k]}`,
        );
      }
    }
    const image = new ProtoWriter().int64(1, info.height).int64(2, info.width).int64(3, info.colorspace)
      .bytes(4, encoded).finish();
    this.#push(this.#summaryEvent(new ProtoWriter().bytes(1, tag).bytes(4, image).finish(), step, wallTime));
  }

  /** Adds an 8-bit image (e.g. from `imageGrid`), encoded as PNG. */
  async addImage(tag: string, raster: Raster, step: number | bigint, wallTime?: number): Promise<void> {
    checkTag("addImage", tag);
    const wall = wallTime ?? this.#now() / 1000;
    const png = await encodePng(raster);
    this.addEncodedImage(
      tag,
      png,
      { height: raster.height, width: raster.width, colorspace: raster.channels },
      step,
      wall,
    );
  }

  /** Adds a histogram given as its buckets (see {@linkcode histogram} to compute one from values). */
  addHistogramRaw(tag: string, h: Histogram, step: number | bigint, wallTime?: number): void {
    checkTag("addHistogramRaw", tag);
    checkStep("addHistogramRaw", step);
    if (h.bucket.length !== h.bucketLimit.length) {
      throw new TypeError(
        `SummaryWriter.addHistogramRaw ${tag}: bucket (${h.bucket.length}) and bucketLimit (${h.bucketLimit.length}) differ in length`,
      );
    }
    const w = new ProtoWriter();
    if (h.min !== 0) w.double(1, h.min);
    if (h.max !== 0) w.double(2, h.max);
    if (h.num !== 0) w.double(3, h.num);
    if (h.sum !== 0) w.double(4, h.sum);
    if (h.sumSquares !== 0) w.double(5, h.sumSquares);
    if (h.bucketLimit.length) w.packedDoubles(6, h.bucketLimit);
    if (h.bucket.length) w.packedDoubles(7, h.bucket);
    this.#push(this.#summaryEvent(new ProtoWriter().bytes(1, tag).bytes(5, w.finish()).finish(), step, wallTime));
  }

  /** Adds a histogram of `values` with `bins` equal-width buckets (default 30). */
  addHistogram(tag: string, values: ArrayLike<number>, step: number | bigint, bins = 30, wallTime?: number): void {
    this.addHistogramRaw(tag, histogram(values, bins), step, wallTime);
  }

  /** Adds text (Markdown, shown in TensorBoard's Text tab), e.g. the resolved configuration. */
  addText(tag: string, text: string, step: number | bigint, wallTime?: number): void {
    checkTag("addText", tag);
    checkStep("addText", step);
    const pluginData = new ProtoWriter().bytes(1, "text").finish();
    const metadata = new ProtoWriter().bytes(1, pluginData).finish();
    // TensorProto: dtype DT_STRING (7), shape [1], string_val (the layout torch.utils.tensorboard writes).
    const shape = new ProtoWriter().bytes(2, new ProtoWriter().int64(1, 1).finish()).finish();
    const tensor = new ProtoWriter().int64(1, 7).bytes(2, shape).bytes(8, text).finish();
    const value = new ProtoWriter().bytes(1, tag).bytes(8, tensor).bytes(9, metadata).finish();
    this.#push(this.#summaryEvent(value, step, wallTime));
  }

  /** Appends every pending record to the file. */
  flush(): void {
    if (!this.#file || this.#pending.length === 0) return;
    const all = new Uint8Array(this.#pendingBytes);
    let o = 0;
    for (const r of this.#pending) {
      all.set(r, o);
      o += r.length;
    }
    this.#pending = [];
    this.#pendingBytes = 0;
    try {
      for (let done = 0; done < all.length;) done += this.#file.writeSync(all.subarray(done));
    } catch (e) {
      throw new WriteError(this.path, "TensorBoard events", e); // e.g. a full disk
    }
  }

  /** Flushes and closes the file (closed even when the flush fails); later adds throw. */
  close(): void {
    if (!this.#file) return;
    try {
      this.flush();
    } finally {
      this.#file.close();
      this.#file = undefined;
    }
  }

  /** Same as {@linkcode SummaryWriter.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Equal-width histogram of `values` in `bins` buckets between their min and max (NaN values are skipped). */
export function histogram(values: ArrayLike<number>, bins = 30): Histogram {
  if (!Number.isInteger(bins) || bins < 1) {
    throw new RangeError(`histogram: bins must be a positive integer, got ${bins}`);
  }
  let min = Infinity, max = -Infinity, num = 0, sum = 0, sumSquares = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    num++;
    sum += v;
    sumSquares += v * v;
  }
  if (num === 0) return { min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit: [], bucket: [] };
  const width = (max - min) / bins;
  if (!(width > 0) || !Number.isFinite(width)) {
    return { min, max, num, sum, sumSquares, bucketLimit: [max], bucket: [num] };
  }
  const bucket = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) continue;
    bucket[Math.min(bins - 1, Math.max(0, Math.floor((v - min) / width)))]++;
  }
  const bucketLimit = Array.from({ length: bins }, (_, i) => (i === bins - 1 ? max : min + (i + 1) * width));
  return { min, max, num, sum, sumSquares, bucketLimit, bucket };
}
