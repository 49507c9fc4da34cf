/**
 * Size-bucketed pool of GPU storage buffers.
 *
 * A released buffer is parked until the command buffer that last used it has been
 * submitted: `queue.writeBuffer` runs before the pending encoder's commands, so reusing
 * a buffer inside the same unsubmitted batch could clobber data those commands still read.
 */

import { envFlag } from "./env.ts";

const MIN_BUCKET = 256;
const MAX_FREE_PER_BUCKET = 64;

/** Live and peak byte counts of the pool. */
export interface MemoryStats {
  /** Bytes held by tensors right now (bucket sizes, not requested sizes). */
  liveBytes: number;
  /** Highest `liveBytes` seen since start or the last `resetPeak()`. */
  peakBytes: number;
  /** Bytes sitting in free lists, ready for reuse. */
  pooledBytes: number;
  /** Number of live buffers. */
  liveBuffers: number;
}

/** Rounds a byte size up to its bucket: powers of two split into quarter steps. */
export function bucketSize(bytes: number): number {
  if (bytes <= MIN_BUCKET) return MIN_BUCKET;
  const p = 2 ** Math.ceil(Math.log2(bytes));
  const q = p / 8; // eighths of the next power, so waste stays under 12.5%
  return Math.ceil(bytes / q) * q;
}

let poisonWords = new Uint32Array(0);

/** Pool of `STORAGE | COPY_SRC | COPY_DST` buffers. */
export class BufferPool {
  #free = new Map<number, GPUBuffer[]>();
  #parked: GPUBuffer[] = [];
  #live = 0;
  #peak = 0;
  #pooled = 0;
  #liveBuffers = 0;

  /**
   * `MEDDIFF_POISON_BUFFERS=1` (read when the pool is made): every buffer handed out is first
   * filled with NaN, so that a kernel reading elements it never wrote (stale pool memory, bucket
   * padding) poisons its results instead of passing by chance.
   */
  readonly poison: boolean = envFlag("MEDDIFF_POISON_BUFFERS") === "1";

  constructor(private readonly device: GPUDevice) {}

  /** Takes a buffer of at least `bytes` bytes. */
  acquire(bytes: number, label: string): GPUBuffer {
    const size = bucketSize(Math.max(bytes, 4));
    const list = this.#free.get(size);
    let buf = list?.pop();
    if (buf) {
      this.#pooled -= size;
    } else {
      buf = this.device.createBuffer({
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
        label,
      });
    }
    if (this.poison) this.#fillNaN(buf);
    this.#live += size;
    this.#liveBuffers++;
    if (this.#live > this.#peak) this.#peak = this.#live;
    return buf;
  }

  /** Fills `buf` with NaN (a debugging aid: a kernel reading memory it never wrote shows up). */
  #fillNaN(buf: GPUBuffer): void {
    if (poisonWords.length * 4 < buf.size) poisonWords = new Uint32Array(buf.size / 4).fill(0x7fc00000);
    this.device.queue.writeBuffer(buf, 0, poisonWords.buffer, 0, buf.size);
  }

  /** Returns a buffer; it becomes reusable after the next submit. */
  release(buf: GPUBuffer): void {
    this.#live -= buf.size;
    this.#liveBuffers--;
    this.#parked.push(buf);
  }

  /** Called right after a submit: parked buffers become reusable. */
  onSubmitted(): void {
    for (const buf of this.#parked) {
      const list = this.#free.get(buf.size) ?? [];
      if (list.length >= MAX_FREE_PER_BUCKET) {
        buf.destroy();
        continue;
      }
      list.push(buf);
      this.#free.set(buf.size, list);
      this.#pooled += buf.size;
    }
    this.#parked = [];
  }

  /** Destroys every pooled (free) buffer. */
  trim(): void {
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    this.#pooled = 0;
  }

  /** Current statistics. */
  stats(): MemoryStats {
    return {
      liveBytes: this.#live,
      peakBytes: this.#peak,
      pooledBytes: this.#pooled,
      liveBuffers: this.#liveBuffers,
    };
  }

  /** Sets the peak to the current live size. */
  resetPeak(): void {
    this.#peak = this.#live;
  }
}
