/**
 * The single WebGPU device of the process, and everything that talks to its queue:
 * pipeline cache, batched command recording, the uniform ring, buffer pool and readback.
 *
 * Importing acquires nothing: WebGPU acquisition is asynchronous but tensor ops are
 * synchronous, so a program awaits {@linkcode initGpu} once before its first GPU operation
 * (the deno tasks, `gpuTest` and the benches do). A data-only program (reading a NIfTI,
 * computing metrics) never takes a device. With no adapter, `initGpu` still resolves and
 * the first GPU operation throws an error that says what to install.
 */
import { BufferPool, type MemoryStats } from "./buffer_pool.ts";
import { envFlag } from "./env.ts";
import { skipNativeTeardownAtExit } from "../util/exit.ts";

export type { MemoryStats } from "./buffer_pool.ts";

/** Error raised for WebGPU validation/out-of-memory errors and device loss. */
export class GpuError extends Error {
  /** Op (kernel) names recorded in the batch that raised the error. */
  readonly ops: string[];
  constructor(message: string, ops: string[]) {
    super(message);
    this.name = "GpuError";
    this.ops = ops;
  }
}

/** What we learned about the adapter and device. */
export interface GpuContext {
  /** The device every kernel runs on. */
  device: GPUDevice;
  /** Adapter info, read before `requestDevice`. */
  adapterInfo: GPUAdapterInfo;
  /** Adapter description: vendor/architecture/device/description joined. */
  adapterKey: string;
  /** True for software adapters (Mesa llvmpipe and friends). */
  isSoftware: boolean;
  /** Features enabled on the device (only those the adapter lists). */
  features: ReadonlySet<string>;
  /** Limits the device was created with. */
  limits: GPUSupportedLimits;
  /** Buffer pool for tensor storage. */
  pool: BufferPool;
}

const NO_ADAPTER_HELP = "No WebGPU adapter is available. Install a GPU driver with Vulkan support, " +
  "or on a CPU-only Linux machine Mesa's software rasteriser: " +
  "`apt-get install mesa-vulkan-drivers libgl1-mesa-dri libegl-mesa0` " +
  "(set XDG_RUNTIME_DIR=/tmp to silence its warning; DENO_WEBGPU_BACKEND=vulkan|gl picks the backend).";

// ---- batched recording --------------------------------------------------------------

const RING_BYTES = 1 << 18;
/** Dispatches recorded per submit (`MEDDIFF_DISPATCH_BUDGET`, a diagnostic: 1 makes every dispatch its own submit). */
const DISPATCH_BUDGET = Math.max(1, Number(envFlag("MEDDIFF_DISPATCH_BUDGET") ?? "256") || 256);
let ring: GPUBuffer;
let ringAlign = 256;
const ringCpu = new Uint8Array(RING_BYTES);
let ringUsed = 0;

let encoder: GPUCommandEncoder | undefined;
let pass: GPUComputePassEncoder | undefined;
let batchOps: string[] = [];
let dispatchesInBatch = 0;
/** The kernel profiler while one runs: per-dispatch timestamps of the current batch, and totals. */
let profiler: KernelProfiler | undefined;
const counters = { dispatches: 0, submits: 0 };
/** Where {@linkcode observeDispatches} sends a copy of every dispatch, while it is set. */
let dispatchObserver: ((spec: DispatchSpec) => void) | undefined;

const NOT_INITIALISED = "No WebGPU device has been acquired yet: `await initGpu()` (exported by meddiff) once " +
  "before the first GPU operation. The deno tasks, the tests' `gpuTest` and the benches do this themselves.";

let ctx: GpuContext | undefined;
let initError: Error | undefined;
let acquiring: Promise<boolean> | undefined;
let pendingError: GpuError | undefined;

async function acquire(): Promise<void> {
  if (typeof navigator === "undefined" || !("gpu" in navigator) || !navigator.gpu) {
    initError = new Error(`navigator.gpu is missing in this runtime. ${NO_ADAPTER_HELP}`);
    return;
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) {
    initError = new Error(NO_ADAPTER_HELP);
    return;
  }
  const info = adapter.info;
  const wanted: GPUFeatureName[] = ["shader-f16", "subgroups" as GPUFeatureName, "timestamp-query"];
  const features = wanted.filter((f) => adapter.features.has(f));
  const al = adapter.limits;
  const device = await adapter.requestDevice({
    label: "meddiff",
    requiredFeatures: features,
    requiredLimits: {
      maxStorageBufferBindingSize: al.maxStorageBufferBindingSize,
      maxBufferSize: al.maxBufferSize,
      maxStorageBuffersPerShaderStage: al.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: al.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: al.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: al.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: al.maxComputeWorkgroupSizeY,
      maxComputeWorkgroupsPerDimension: al.maxComputeWorkgroupsPerDimension,
    },
  });
  device.addEventListener("uncapturederror", (ev) => {
    const msg = (ev as GPUUncapturedErrorEvent).error.message;
    pendingError ??= new GpuError(
      `WebGPU error in a batch running [${batchOps.join(", ")}]: ${msg}`,
      [...batchOps],
    );
  });
  device.lost.then((lost) => {
    if (lost.reason === "destroyed") return;
    pendingError = new GpuError(
      `WebGPU device lost (${lost.reason}): ${lost.message}; last ops: [${batchOps.join(", ")}]`,
      [...batchOps],
    );
  });
  const adapterKey = [info.vendor, info.architecture, info.device, info.description].join("|");
  ctx = {
    device,
    adapterInfo: info,
    adapterKey,
    isSoftware: info.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader|softpipe/i.test(adapterKey),
    features: new Set(features),
    limits: device.limits,
    pool: new BufferPool(device),
  };
  ring = device.createBuffer({
    size: RING_BYTES,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    label: "meddiff-uniforms",
  });
  ringAlign = Math.max(16, device.limits.minUniformBufferOffsetAlignment);
  // The adapter's native libraries are loaded now: from here on the process exits without their
  // exit-time destructors, which race Mesa's exiting threads (util/exit.ts, issue #12).
  skipNativeTeardownAtExit();
}

/**
 * Acquires the process's WebGPU device. Idempotent: every call returns the first call's promise.
 * Resolves to whether a device is available; it never rejects, and without an adapter the first
 * GPU operation (see {@linkcode gpu}) throws an error that says what to install.
 *
 * @example
 * ```ts
 * import { initGpu, tensor } from "@meddiff/meddiff";
 * await initGpu();
 * const x = tensor([1, 2, 3]);
 * ```
 */
export function initGpu(): Promise<boolean> {
  acquiring ??= acquire().then(
    () => ctx !== undefined,
    (e) => {
      initError = new Error(`Requesting a WebGPU device failed: ${(e as Error).message}. ${NO_ADAPTER_HELP}`);
      return false;
    },
  );
  return acquiring;
}

/**
 * The GPU context; throws a pending GPU error, the acquisition error (no adapter), or, before
 * {@linkcode initGpu} has resolved, an error that says to await it.
 */
export function gpu(): GpuContext {
  if (!ctx) throw initError ?? new Error(NOT_INITIALISED);
  throwPendingError();
  return ctx;
}

/**
 * Finishes pending work, frees the pooled buffers and destroys the device, for a program that
 * goes on without the GPU. No GPU operation may follow. A no-op without a device. (Exiting needs
 * no release: the process ends without the native teardown, see util/exit.ts.)
 */
export async function releaseGpu(): Promise<void> {
  if (!ctx) return;
  await synchronize();
  ctx.pool.trim();
  ctx.device.destroy();
}

/** True when {@linkcode initGpu} has acquired a WebGPU device. */
export function hasGpu(): boolean {
  return ctx !== undefined;
}

function throwPendingError(): void {
  if (pendingError) {
    const e = pendingError;
    pendingError = undefined;
    throw e;
  }
}

// ---- pipelines -------------------------------------------------------------------

const pipelines = new Map<string, GPUComputePipeline>();

/** Compiles (once per source) a compute pipeline with entry point `main`. */
export function pipeline(op: string, code: string): GPUComputePipeline {
  let p = pipelines.get(code);
  if (p) return p;
  const { device } = gpu();
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code, label: op });
  p = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" }, label: op });
  device.popErrorScope().then((err) => {
    if (err) {
      pendingError ??= new GpuError(`Compiling the '${op}' kernel failed: ${err.message}\n${code}`, [op]);
    }
  });
  pipelines.set(code, p);
  return p;
}

function currentEncoder(): GPUCommandEncoder {
  if (!encoder) {
    encoder = gpu().device.createCommandEncoder({ label: "meddiff-batch" });
    batchOps = [];
  }
  return encoder;
}

function endPass(): void {
  if (pass) {
    pass.end();
    pass = undefined;
  }
}

/** A resource bound at bindings 1, 2, … of a kernel (binding 0 is its uniform block). */
export type Binding = GPUBuffer | GPUBufferBinding | GPUTextureView;

/** One kernel launch. */
export interface DispatchSpec {
  /** Op name, used in error messages and labels. */
  op: string;
  /** The compiled pipeline. */
  pipeline: GPUComputePipeline;
  /** Resources at bindings 1..n. */
  bindings: Binding[];
  /** Uniform block at binding 0 (any 4-byte-aligned bytes), if the kernel has one. */
  uniforms?: Uint32Array | Int32Array | Float32Array;
  /** Workgroup counts. */
  workgroups: [number, number?, number?];
}

const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

/** Records a dispatch into the current batch; submits when the batch budget is reached. */
export function dispatch(spec: DispatchSpec): void {
  const { device } = gpu();
  const entries: GPUBindGroupEntry[] = [];
  if (spec.uniforms) {
    const bytes = new Uint8Array(spec.uniforms.buffer, spec.uniforms.byteOffset, spec.uniforms.byteLength);
    const size = Math.max(16, Math.ceil(bytes.byteLength / 16) * 16);
    if (ringUsed + size > RING_BYTES) flush();
    ringCpu.set(bytes, ringUsed);
    ringCpu.fill(0, ringUsed + bytes.byteLength, ringUsed + size);
    entries.push({ binding: 0, resource: { buffer: ring, offset: ringUsed, size } });
    ringUsed = Math.ceil((ringUsed + size) / ringAlign) * ringAlign;
  }
  const limit = ctx!.limits.maxStorageBufferBindingSize;
  spec.bindings.forEach((b, i) => {
    const resource = b instanceof GPUBuffer ? { buffer: b } : b;
    // Checked here, where the op is known: WebGPU reports it later, without naming the op.
    if ("buffer" in resource) {
      const bytes = resource.size ?? resource.buffer.size - (resource.offset ?? 0);
      if (bytes > limit) {
        throw new RangeError(
          `${spec.op}: binding ${i + 1} is ${mib(bytes)} MiB, over this adapter's storage binding limit of ` +
            `${mib(limit)} MiB; a smaller batch or input size keeps it under`,
        );
      }
    }
    entries.push({ binding: i + 1, resource });
  });
  const bindGroup = device.createBindGroup({
    layout: spec.pipeline.getBindGroupLayout(0),
    entries,
    label: spec.op,
  });
  currentEncoder();
  const timed = profiler?.open(spec.op);
  if (timed) endPass();
  pass ??= encoder!.beginComputePass({ label: "meddiff-pass", ...(timed ? { timestampWrites: timed } : {}) });
  pass.setPipeline(spec.pipeline);
  pass.setBindGroup(0, bindGroup);
  const [x, y = 1, z = 1] = spec.workgroups;
  pass.dispatchWorkgroups(x, y, z);
  if (timed) endPass();
  batchOps.push(spec.op);
  counters.dispatches++;
  dispatchObserver?.({ ...spec, uniforms: spec.uniforms?.slice() });
  if (++dispatchesInBatch >= DISPATCH_BUDGET || profiler?.full()) flush();
}

/** Records a buffer-to-buffer copy into the current batch. */
export function copyBuffer(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
  if (bytes === 0) return;
  currentEncoder();
  endPass();
  encoder!.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  batchOps.push("copy");
}

/** Writes CPU data into a buffer (ordered before the current batch's commands). */
export function writeBuffer(dst: GPUBuffer, offset: number, data: ArrayBufferView): void {
  gpu().device.queue.writeBuffer(dst, offset, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
}

/**
 * Hands a copy of every later dispatch (pipeline, bindings, uniforms, workgroups) to `observer`
 * until called without one: a profiler replays them one at a time and times each on the CPU,
 * where the adapter's timestamps cannot be trusted (llvmpipe).
 */
export function observeDispatches(observer?: (spec: DispatchSpec) => void): void {
  dispatchObserver = observer;
}

/** Submits everything recorded so far. */
export function flush(): void {
  if (!ctx) return;
  if (ringUsed > 0) {
    ctx.device.queue.writeBuffer(ring, 0, ringCpu.buffer, 0, ringUsed);
    ringUsed = 0;
  }
  if (encoder) {
    endPass();
    profiler?.resolve(encoder);
    ctx.device.queue.submit([encoder.finish()]);
    profiler?.collect();
    encoder = undefined;
    counters.submits++;
  }
  dispatchesInBatch = 0;
  ctx.pool.onSubmitted();
}

/** Submits pending work and waits until the GPU has finished it. */
export async function synchronize(): Promise<void> {
  const { device } = gpu();
  flush();
  await device.queue.onSubmittedWorkDone();
  throwPendingError();
}

/** Copies `bytes` bytes of `src` starting at `offset` back to the CPU. */
export async function readBuffer(src: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
  const { device } = gpu();
  const size = Math.max(4, Math.ceil(bytes / 4) * 4);
  const staging = device.createBuffer({
    size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    label: "meddiff-readback",
  });
  if (bytes > 0) {
    currentEncoder();
    endPass();
    encoder!.copyBufferToBuffer(src, offset, staging, 0, size);
  }
  flush();
  try {
    await staging.mapAsync(GPUMapMode.READ);
    throwPendingError();
    return staging.getMappedRange().slice(0, bytes);
  } finally {
    staging.destroy();
  }
}

/** Live/peak bytes held by tensors (and what the pool keeps for reuse). */
export function memoryStats(): MemoryStats {
  return gpu().pool.stats();
}

/** Dispatch and submit counters since start (for benchmarks and tests). */
export function dispatchCounters(): { dispatches: number; submits: number } {
  return { ...counters };
}

// ---- kernel profiler ----------------------------------------------------------------

/** Time spent in one kernel (op name) while the profiler ran. */
export interface KernelProfileRow {
  /** Op name the dispatches were recorded under. */
  op: string;
  /** Dispatches of it. */
  count: number;
  /** GPU time summed over them, ms (pass begin to pass end). */
  ms: number;
}

const PROFILE_QUERIES = 512;

/**
 * Puts every dispatch in its own compute pass with begin/end timestamps (the `timestamp-query`
 * feature), resolves them at each submit and reads them back without blocking the recording.
 */
class KernelProfiler {
  readonly totals = new Map<string, { count: number; ns: bigint }>();
  readonly pending: Promise<void>[] = [];
  private querySet: GPUQuerySet | undefined;
  private ops: string[] = [];
  private resolved: GPUBuffer | undefined;
  private staging: GPUBuffer | undefined;

  constructor(private readonly device: GPUDevice) {}

  open(op: string): GPUComputePassTimestampWrites {
    this.querySet ??= this.device.createQuerySet({ type: "timestamp", count: PROFILE_QUERIES });
    const k = this.ops.length;
    this.ops.push(op);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * k, endOfPassWriteIndex: 2 * k + 1 };
  }

  full(): boolean {
    return 2 * this.ops.length >= PROFILE_QUERIES;
  }

  resolve(enc: GPUCommandEncoder): void {
    if (!this.querySet || this.ops.length === 0) return;
    const bytes = this.ops.length * 16;
    const resolved = this.resolved = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    this.staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    enc.resolveQuerySet(this.querySet, 0, 2 * this.ops.length, resolved, 0);
    enc.copyBufferToBuffer(resolved, 0, this.staging, 0, bytes);
  }

  collect(): void {
    const { staging, resolved, ops, querySet } = this;
    if (!staging || !resolved || !querySet) return;
    this.staging = this.resolved = undefined;
    this.querySet = undefined;
    this.ops = [];
    this.pending.push(
      staging.mapAsync(GPUMapMode.READ).then(() => {
        const t = new BigUint64Array(staging.getMappedRange());
        ops.forEach((op, k) => {
          const row = this.totals.get(op) ?? { count: 0, ns: 0n };
          row.count++;
          if (t[2 * k + 1] > t[2 * k]) row.ns += t[2 * k + 1] - t[2 * k];
          this.totals.set(op, row);
        });
        staging.destroy();
        resolved.destroy();
        querySet.destroy();
      }),
    );
  }
}

/**
 * Starts timing every kernel on the GPU, by op name, until {@linkcode stopKernelProfile}. Each
 * dispatch then runs in its own compute pass (slower: for finding where the time goes, not for
 * timing steps). Throws when the device lacks `timestamp-query`.
 */
export function startKernelProfile(): void {
  const c = gpu();
  if (!c.features.has("timestamp-query")) {
    throw new Error("startKernelProfile: this WebGPU device lacks the 'timestamp-query' feature");
  }
  flush();
  profiler = new KernelProfiler(c.device);
}

/** Stops the profiler, waits for the GPU, and returns the kernels by total time, largest first. */
export async function stopKernelProfile(): Promise<KernelProfileRow[]> {
  const p = profiler;
  if (!p) throw new Error("stopKernelProfile: no profile is running (call startKernelProfile first)");
  flush();
  profiler = undefined;
  await gpu().device.queue.onSubmittedWorkDone();
  await Promise.all(p.pending);
  throwPendingError();
  return [...p.totals].map(([op, { count, ns }]) => ({ op, count, ms: Number(ns) / 1e6 }))
    .sort((a, b) => b.ms - a.ms);
}

/**
 * Loop iterations one shader invocation may run on a software adapter, all its loops together.
 * Mesa's llvmpipe and lavapipe (gallivm) count an invocation's loop iterations and, after
 * 65,535, end every loop it enters, a guard against endless shaders: the invocation then goes
 * on with a silently wrong result (measured: a 100,000-step loop ran 65,535 times, two loops of
 * 40,000 ran 65,534 together). The margin leaves room for a kernel's short fixed loops.
 */
const SOFTWARE_LOOP_BUDGET = 65_000;

/**
 * The loop iterations a kernel may plan per invocation on this adapter (see
 * `SOFTWARE_LOOP_BUDGET`; unbounded on hardware): kernels whose loops grow with the problem
 * split their work across dispatches or threads to stay within it.
 */
export function loopBudget(): number {
  return gpu().isSoftware ? SOFTWARE_LOOP_BUDGET : Infinity;
}

/**
 * Throws a RangeError naming `op` when a kernel would loop `loops` times per invocation, past
 * {@linkcode loopBudget} (`what`: the oversized thing; `advice`: how to stay under).
 */
export function checkLoopBudget(op: string, loops: number, what: string, advice: string): void {
  if (loops <= loopBudget()) return;
  throw new RangeError(
    `${op}: ${what} is too large for this adapter's shader loop limit (${loops} iterations per thread, ` +
      `over ${loopBudget()}): ${advice}`,
  );
}

/** Largest number of threads per workgroup dimension we launch in one dispatch. */
export const MAX_WORKGROUPS_X = 65535;

/** Splits `n` workgroups into an (x, y) grid that respects the per-dimension limit. */
export function grid1d(n: number): [number, number] {
  if (n <= MAX_WORKGROUPS_X) return [Math.max(n, 1), 1];
  const y = Math.ceil(n / MAX_WORKGROUPS_X);
  return [Math.ceil(n / y), y];
}
