/** Refcounted GPU storage shared by tensor views. */
import { gpu } from "./device.ts";

/** A pooled GPU buffer plus a count of the tensor handles that use it. */
export class Storage {
  #refs = 1;
  /** The buffer (released to the pool when the last handle goes). */
  readonly buffer: GPUBuffer;
  /** Requested size in bytes (the buffer may be larger). */
  readonly bytes: number;

  constructor(bytes: number, label: string) {
    this.bytes = bytes;
    this.buffer = gpu().pool.acquire(bytes, label);
  }

  /** Adds a handle. */
  retain(): this {
    if (this.#refs <= 0) throw new Error("internal: retain() on freed storage");
    this.#refs++;
    return this;
  }

  /** Drops a handle; frees the buffer with the last one. */
  release(): void {
    if (--this.#refs === 0) gpu().pool.release(this.buffer);
  }

  /** Number of live handles. */
  get refs(): number {
    return this.#refs;
  }
}
