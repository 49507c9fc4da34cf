/**
 * Data-parallel training over MPI: the {@linkcode DataParallel} seams of the engine, filled.
 *
 * A process started by `mpirun` / `srun` (see `launchedWorld` in util/mpi.ts) is one rank; a
 * process started any other way is the only one ({@linkcode SINGLE_PROCESS}) and never loads MPI.
 * {@linkcode dataParallel} gives the process's world, made once. The engine then
 *
 * - broadcasts the model's parameters and buffers from rank 0 before training (and after a
 *   resume), so every rank starts from the same weights;
 * - shards every epoch's order over the ranks with one shared seed (`DataLoader.sharded`);
 * - after the last micro-batch's backward, sums the gradients over the ranks and divides by the
 *   world size — flattened into buckets of at most {@linkcode BUCKET_BYTES}, one read-back and
 *   one all-reduce per bucket — so a step on N ranks with batch B each is a step on batch N·B;
 *   the same call carries every rank's "stop requested" flag, so all ranks stop at one step;
 * - validates on rank 0 and shares its metrics (every rank then takes the same decisions);
 * - writes logs, TensorBoard, checkpoints and samples on rank 0 only.
 *
 * BatchNorm running statistics stay per rank (each rank's own batches; rank 0's are saved, which is
 * what DDP's default gives), or with `train.batchNormStats: average` are averaged over the ranks
 * before every validation and checkpoint (timm's `distribute_bn`).
 * @module
 */
import { noGrad } from "../core/autograd.ts";
import { synchronize, writeBuffer } from "../core/device.ts";
import type { Module, Parameter } from "../core/nn/module.ts";
import { cat } from "../core/ops/join.ts";
import { fromWords, zeros } from "../core/ops/creation.ts";
import { keep } from "../core/scope.ts";
import type { Tensor } from "../core/tensor.ts";
import { launchedWorld, Mpi } from "../util/mpi.ts";
import { concatBytes } from "../util/bytes.ts";
import type { InterruptSignal } from "./signals.ts";

/**
 * What the engine asks of the processes it runs in (one process: {@linkcode SINGLE_PROCESS}).
 * Every method is a collective: all ranks call it, in the same order.
 */
export interface DataParallel {
  /** This process's rank (0-based). */
  readonly rank: number;
  /** Number of processes. */
  readonly worldSize: number;
  /** Makes these tensors on every rank equal to rank 0's (float32 or int32, the same shapes everywhere). */
  broadcastTensors(tensors: readonly Tensor[]): Promise<void>;
  /**
   * Averages the gradients of `params` over the ranks (in place) and tells whether any rank was
   * asked to stop (`stop`: the signal, or null), so that all ranks stop after the same step with
   * the same exit code (SIGTERM when any rank got one, else SIGINT).
   */
  allReduceGradients(params: readonly Parameter[], stop: InterruptSignal | null): Promise<InterruptSignal | null>;
  /** Replaces these float32 tensors on every rank by their mean over the ranks (e.g. BatchNorm running statistics). */
  averageTensors(tensors: readonly Tensor[]): Promise<void>;
  /** Waits until every rank has reached it. */
  barrier(): Promise<void>;
  /** Each value summed over the ranks (float64; e.g. loss sums and counts for the log). */
  sumOverRanks(values: readonly number[]): Promise<number[]>;
  /** Every rank's `data` concatenated in rank order, on every rank (`counts[r]`: rank r's length). */
  gatherFloats(data: Float32Array, counts: readonly number[]): Promise<Float32Array>;
  /**
   * Rank 0's `value` (JSON) on every rank; other ranks pass null. They wait for rank 0 without
   * the collective timeout: rank 0 may be validating or making the run folder for a long time.
   */
  shareFromRoot<T>(value: T | null): Promise<T>;
  /** Ends every rank at once with `code` after a failure on this one (a collective would otherwise hang). */
  abort(code: number): never;
}

/** One process: nothing to communicate. */
export const SINGLE_PROCESS: DataParallel = {
  rank: 0,
  worldSize: 1,
  broadcastTensors: () => Promise.resolve(),
  allReduceGradients: (_params, stop) => Promise.resolve(stop),
  averageTensors: () => Promise.resolve(),
  barrier: () => Promise.resolve(),
  sumOverRanks: (values) => Promise.resolve([...values]),
  gatherFloats: (data) => Promise.resolve(data),
  shareFromRoot: <T>(value: T | null) => Promise.resolve(value as T),
  abort: (code) => Deno.exit(code),
};

/** Largest gradient bucket: one read-back and one all-reduce each (PyTorch DDP's default size). */
export const BUCKET_BYTES = 25 * 1024 * 1024;

/** Where the gradient all-reduces spent their time, for the scaling figures (milliseconds, summed). */
export interface CommunicationStats {
  /** Gradient all-reduces (optimizer steps). */
  reductions: number;
  /** Waiting for the GPU to finish the backward pass (compute, not communication). */
  waitMs: number;
  /** Flattening the gradients into buckets and reading them back. */
  readMs: number;
  /** MPI all-reduce. */
  mpiMs: number;
  /** Averaging and uploading the reduced gradients. */
  writeMs: number;
  /** Bytes all-reduced. */
  bytes: number;
}

/** The engine's seams over MPI. */
export class MpiDataParallel implements DataParallel {
  readonly rank: number;
  readonly worldSize: number;
  readonly #mpi: Mpi;
  #stats: CommunicationStats = { reductions: 0, waitMs: 0, readMs: 0, mpiMs: 0, writeMs: 0, bytes: 0 };

  /** Wraps an initialised MPI. */
  constructor(mpi: Mpi) {
    this.#mpi = mpi;
    this.rank = mpi.rank;
    this.worldSize = mpi.size;
  }

  /** What the gradient all-reduces cost so far. */
  stats(): CommunicationStats {
    return { ...this.#stats };
  }

  async broadcastTensors(tensors: readonly Tensor[]): Promise<void> {
    for (const t of tensors) {
      if (t.dtype !== "float32" && t.dtype !== "int32") {
        throw new TypeError(`broadcastTensors: only float32 and int32 tensors can be broadcast, got ${t.dtype}`);
      }
    }
    const bytes = this.rank === 0
      ? await readTensors(tensors)
      : new Uint8Array(tensors.reduce((n, t) => n + t.size * 4, 0));
    await this.#mpi.broadcast(bytes);
    if (this.rank !== 0) writeTensors(tensors, bytes);
  }

  async allReduceGradients(
    params: readonly Parameter[],
    stop: InterruptSignal | null,
  ): Promise<InterruptSignal | null> {
    const st = this.#stats;
    let t = performance.now();
    const lap = (): number => {
      const now = performance.now(), ms = now - t;
      t = now;
      return ms;
    };
    await synchronize(); // the backward pass finishes: timed apart from the communication
    st.waitMs += lap();
    const trained = params.filter((p) => p.requiresGrad);
    const buckets = bucketsOf(trained, BUCKET_BYTES / 4);
    // Every bucket's read-back is queued before the first all-reduce waits on the network.
    const host = await Promise.all(buckets.map((b) => flatGradients(b)));
    // The stop requests ride in two extra elements of the last bucket: [SIGINT, SIGTERM] counts.
    const last = new Float32Array(host[host.length - 1].length + 2);
    last.set(host[host.length - 1]);
    last[last.length - 2] = stop === "SIGINT" ? 1 : 0;
    last[last.length - 1] = stop === "SIGTERM" ? 1 : 0;
    host[host.length - 1] = last;
    st.readMs += lap();
    for (const h of host) {
      await this.#mpi.allReduceSum(h);
      st.bytes += h.byteLength;
    }
    st.mpiMs += lap();
    const stopAll = last[last.length - 1] > 0 ? "SIGTERM" : last[last.length - 2] > 0 ? "SIGINT" : null;
    const scale = 1 / this.worldSize;
    buckets.forEach((bucket, i) => {
      let at = 0;
      for (const p of bucket) {
        const slice = host[i].subarray(at, at + p.size);
        at += p.size;
        if (!p.grad && slice.every((v) => v === 0)) continue; // unused on every rank: stays without a gradient
        for (let k = 0; k < slice.length; k++) slice[k] *= scale;
        const g = keep(fromWords(slice, p.shape, "float32")); // one upload, no per-element copy
        p.grad?.dispose();
        p.grad = g;
      }
    });
    st.reductions++;
    st.writeMs += lap();
    return stopAll;
  }

  async averageTensors(tensors: readonly Tensor[]): Promise<void> {
    if (tensors.some((t) => t.dtype !== "float32" || !t.isContiguous)) {
      throw new TypeError("averageTensors: the tensors must be contiguous float32");
    }
    const host = new Float32Array((await readTensors(tensors)).buffer);
    await this.#mpi.allReduceSum(host);
    for (let i = 0; i < host.length; i++) host[i] /= this.worldSize;
    writeTensors(tensors, new Uint8Array(host.buffer));
  }

  barrier(): Promise<void> {
    return this.#mpi.barrier();
  }

  async sumOverRanks(values: readonly number[]): Promise<number[]> {
    const x = Float64Array.from(values);
    await this.#mpi.allReduceSum(x);
    return Array.from(x);
  }

  async gatherFloats(data: Float32Array, counts: readonly number[]): Promise<Float32Array> {
    if (counts.length !== this.worldSize || counts[this.rank] !== data.length) {
      throw new RangeError(
        `gatherFloats: rank ${this.rank} has ${data.length} values, counts say ${counts[this.rank]}`,
      );
    }
    const most = Math.max(...counts); // MPI_Allgather takes equal parts: pad to the largest
    const padded = new Float32Array(most);
    padded.set(data);
    const all = new Float32Array((await this.#mpi.allGather(new Uint8Array(padded.buffer))).buffer);
    const out = new Float32Array(counts.reduce((a, b) => a + b, 0));
    let at = 0;
    counts.forEach((c, r) => {
      out.set(all.subarray(r * most, r * most + c), at);
      at += c;
    });
    return out;
  }

  async shareFromRoot<T>(value: T | null): Promise<T> {
    const text = this.rank === 0 ? new TextEncoder().encode(JSON.stringify(value)) : new Uint8Array(0);
    const length = new Uint32Array([text.length]);
    await this.#mpi.broadcast(new Uint8Array(length.buffer), 0, false);
    const bytes = this.rank === 0 ? text : new Uint8Array(length[0]);
    await this.#mpi.broadcast(bytes);
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  }

  abort(code: number): never {
    return this.#mpi.abort(code);
  }

  /** Shuts MPI down (at the end of the process; a launcher counts a rank that exits without it as failed). */
  finalize(): void {
    this.#mpi.finalize();
  }
}

/** The tensors' elements (4-byte dtypes), end to end, in one host array. */
async function readTensors(tensors: readonly Tensor[]): Promise<Uint8Array> {
  return concatBytes(...await Promise.all(tensors.map((t) => t.data())));
}

/** Overwrites the tensors (contiguous, 4-byte dtypes) with `bytes`, in order: {@linkcode readTensors}' inverse. */
function writeTensors(tensors: readonly Tensor[], bytes: Uint8Array): void {
  if (tensors.some((t) => !t.isContiguous)) {
    throw new TypeError("broadcastTensors: a tensor to overwrite must be contiguous");
  }
  let at = 0;
  for (const t of tensors) {
    writeBuffer(t.storage.buffer, t.offset * 4, bytes.subarray(at, at + t.size * 4));
    at += t.size * 4;
  }
}

/** Parameters in order, grouped into runs of at most `maxElements` (a larger parameter alone). */
function bucketsOf(params: readonly Parameter[], maxElements: number): Parameter[][] {
  const out: Parameter[][] = [[]];
  let size = 0;
  for (const p of params) {
    if (size > 0 && size + p.size > maxElements) {
      out.push([]);
      size = 0;
    }
    out[out.length - 1].push(p);
    size += p.size;
  }
  return out;
}

/** The bucket's gradients flattened into one host array (zeros where a parameter has none). */
async function flatGradients(bucket: readonly Parameter[]): Promise<Float32Array> {
  if (bucket.length === 0) return new Float32Array(0);
  const flat = noGrad(() => {
    const parts = bucket.map((p) => p.grad ? p.grad.reshape([p.size]) : zeros([p.size]));
    const joined = cat(parts);
    parts.forEach((x, i) => x !== bucket[i].grad && x.dispose());
    return joined;
  });
  try {
    return await flat.data() as Float32Array;
  } finally {
    flat.dispose();
  }
}

/** Makes the model's parameters and persistent buffers on every rank equal to rank 0's. */
export async function broadcastModel(parallel: DataParallel, model: Module): Promise<void> {
  if (parallel.worldSize === 1) return;
  const state = Object.values(model.stateDict()).filter((t) => t.dtype === "float32" || t.dtype === "int32");
  try {
    await parallel.broadcastTensors(state);
  } finally {
    state.forEach((t) => t.dispose());
  }
}

let world: DataParallel | null = null;

/**
 * This process's data-parallel world, made on first use: {@linkcode SINGLE_PROCESS} unless an
 * MPI launcher started the process with more than one rank (then MPI is loaded and initialised;
 * `MEDDIFF_DISTRIBUTED=0` keeps a launched process alone).
 */
export function dataParallel(): DataParallel {
  if (world) return world;
  const launched = Deno.env.get("MEDDIFF_DISTRIBUTED") === "0" ? null : launchedWorld();
  world = launched && launched.size > 1 ? new MpiDataParallel(Mpi.init()) : SINGLE_PROCESS;
  return world;
}

/** Rank `rank`'s contiguous share `[start, end)` of `total` items (sizes differ by at most one, lower ranks first). */
export function shareOf(total: number, rank: number, worldSize: number): { start: number; end: number } {
  const base = Math.floor(total / worldSize), extra = total % worldSize;
  const start = rank * base + Math.min(rank, extra);
  return { start, end: start + base + (rank < extra ? 1 : 0) };
}

/**
 * Rank `rank`'s rows when `total` items are made in batches of `batchSize` and whole batches are
 * shared out ({@linkcode shareOf}): each batch is the same whichever process makes it, so N
 * processes give exactly what one gives.
 */
export function batchRows(
  total: number,
  batchSize: number,
  rank: number,
  worldSize: number,
): { start: number; end: number } {
  const b = shareOf(Math.ceil(total / batchSize), rank, worldSize);
  return { start: Math.min(total, b.start * batchSize), end: Math.min(total, b.end * batchSize) };
}

/**
 * Every rank's rows under {@linkcode batchRows} (`parts`: this rank's batches, `rowSize` floats
 * a row), gathered in order on every rank.
 */
export function gatherBatchRows(
  parallel: DataParallel,
  parts: readonly Float32Array[],
  total: number,
  batchSize: number,
  rowSize: number,
): Promise<Float32Array> {
  const counts = Array.from({ length: parallel.worldSize }, (_, r) => {
    const rows = batchRows(total, batchSize, r, parallel.worldSize);
    return (rows.end - rows.start) * rowSize;
  });
  const mine = parts.length === 1 ? parts[0] : new Float32Array(concatBytes(...parts).buffer);
  return parallel.gatherFloats(mine, counts);
}

/** Averages the model's BatchNorm running statistics (`running_mean`, `running_var`) over the ranks. */
export async function averageBatchNormStats(parallel: DataParallel, model: Module): Promise<void> {
  if (parallel.worldSize === 1) return;
  const state = model.stateDict();
  const stats = Object.entries(state).filter(([k]) => /(^|\.)running_(mean|var)$/.test(k)).map(([, t]) => t);
  try {
    if (stats.length) await parallel.averageTensors(stats);
  } finally {
    Object.values(state).forEach((t) => t.dispose());
  }
}

/** The world if {@linkcode dataParallel} has made one (nothing is loaded by asking). */
export function activeDataParallel(): DataParallel | null {
  return world;
}

/** Shuts down the process's MPI, if it started one (the last thing a launched process does). */
export function finalizeDataParallel(): void {
  if (world instanceof MpiDataParallel) world.finalize();
}

/** Rank 0 of the world (or the only process): the one that writes files. */
export function isWriter(): boolean {
  return dataParallel().rank === 0;
}
