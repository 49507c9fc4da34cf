/**
 * Shared test helpers: GPU test wrapper, closeness checks, seeded data, float64 gradient checks.
 * Importing this module acquires the WebGPU device (top-level `await initGpu()`), so a test file
 * that imports it may make tensors at its top level.
 */
import { gpu, hasGpu, initGpu, type QuantileInterpolation, scope, type Tensor, tensor } from "../mod.ts";
import type { Raster } from "../datasets/types.ts";
import { envFlag } from "../core/env.ts";
import { observeDispatches } from "../core/device.ts";
import { ignoredTests, skippableTest } from "./_skip.ts";
import type { Module } from "../core/nn/module.ts";
import { InterruptController, type InterruptSignal } from "../train/signals.ts";

/** The skip reason of {@linkcode gpuTest} on a machine without a WebGPU adapter. */
export const NEEDS_GPU = "a WebGPU adapter";

await initGpu();

// CI sets MEDDIFF_REQUIRE_GPU=1: there, a missing adapter fails the run instead of ignoring half of it.
if (!hasGpu() && envFlag("MEDDIFF_REQUIRE_GPU") === "1") {
  Deno.test("MEDDIFF_REQUIRE_GPU=1: a WebGPU adapter is required", () => {
    const n = ignoredTests().filter((t) => t.reason === NEEDS_GPU).length;
    try {
      gpu();
    } catch (e) {
      throw new Error(`MEDDIFF_REQUIRE_GPU=1, and the ${n} tests that need WebGPU cannot run. ${(e as Error).message}`);
    }
  });
}

/** Registers a test that needs WebGPU (ignored, with {@linkcode NEEDS_GPU} recorded, when there is no adapter). */
export function gpuTest(name: string, fn: () => void | Promise<void>): void {
  skippableTest({
    name,
    skip: !hasGpu() && NEEDS_GPU,
    // WebGPU keeps device-level promises (device.lost, error scopes) pending across tests.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => scope(fn) as void | Promise<void>,
  });
}

/** Deterministic JS PRNG (mulberry32) for test data. */
export function rng(seed = 1): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` uniform values in [lo, hi). */
export function randomArray(n: number, seed = 1, lo = -1, hi = 1): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => lo + (hi - lo) * r());
}

/** Product of a shape. */
export function prod(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Asserts elementwise |a − b| ≤ atol + rtol·|b|, reporting the worst element. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  opts: { atol?: number; rtol?: number; msg?: string } = {},
): void {
  const { atol = 1e-5, rtol = 1e-4, msg = "" } = opts;
  if (actual.length !== expected.length) {
    throw new Error(`${msg} length mismatch: got ${actual.length}, expected ${expected.length}`);
  }
  let worst = -1, worstErr = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], b = expected[i];
    if (Number.isNaN(b) && Number.isNaN(a)) continue;
    if (a === b) continue; // also equal infinities
    const err = Math.abs(a - b) - (atol + rtol * Math.abs(b));
    if (!(err <= 0) && (worst < 0 || err > worstErr || Number.isNaN(err))) {
      worst = i;
      worstErr = Number.isNaN(err) ? Infinity : err;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${msg} mismatch at ${worst}: got ${actual[worst]}, expected ${expected[worst]} (atol ${atol}, rtol ${rtol})`,
    );
  }
}

/** Row-major strides. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Reference broadcasting of a flat float64 array from `shape` to `target`. */
export function broadcastRef(x: ArrayLike<number>, shape: readonly number[], target: readonly number[]): Float64Array {
  const out = new Float64Array(prod(target));
  const lead = target.length - shape.length;
  const xs = stridesOf(shape);
  const ts = stridesOf(target);
  for (let i = 0; i < out.length; i++) {
    let off = 0;
    for (let d = 0; d < target.length; d++) {
      const c = Math.floor(i / ts[d]) % target[d];
      if (d >= lead && shape[d - lead] !== 1) off += c * xs[d - lead];
    }
    out[i] = x[off];
  }
  return out;
}

/** One input of a gradient check. */
export interface GradInput {
  /** Shape of the input. */
  shape: number[];
  /** Values (default: seeded uniform in [lo, hi)). */
  data?: number[];
  /** Range of generated values. */
  lo?: number;
  /** Range of generated values. */
  hi?: number;
  /** Whether this input is differentiated (default true). */
  grad?: boolean;
}

/**
 * Checks an op's forward output against a float64 reference and its gradients against
 * central finite differences of that reference, through a random projection of the output.
 */
export async function gradCheck(
  name: string,
  inputs: GradInput[],
  gpuFn: (...xs: Tensor[]) => Tensor,
  refFn: (...xs: Float64Array[]) => ArrayLike<number>,
  opts: { atol?: number; rtol?: number; gradAtol?: number; gradRtol?: number; eps?: number; seed?: number } = {},
): Promise<void> {
  const { atol = 1e-5, rtol = 1e-4, gradAtol = 1e-3, gradRtol = 1e-2, eps = 1e-6, seed = 7 } = opts;
  const data = inputs.map((inp, i) =>
    inp.data ?? randomArray(prod(inp.shape), seed + 31 * i, inp.lo ?? -1, inp.hi ?? 1)
  );
  await scope(async () => {
    const xs = inputs.map((inp, i) =>
      tensor(Float32Array.from(data[i]), inp.shape, { requiresGrad: inp.grad !== false })
    );
    // The reference sees the float32-rounded inputs the GPU sees.
    const x64 = data.map((d) => Float64Array.from(Float32Array.from(d)));
    const out = gpuFn(...xs);
    const expected = Array.from(refFn(...x64));
    assertClose(await out.data(), expected, { atol, rtol, msg: `${name} forward` });
    const w = randomArray(expected.length, seed + 999);
    const wt = tensor(Float32Array.from(w), [...out.shape]);
    out.mul(wt).sum().backward();
    for (let i = 0; i < inputs.length; i++) {
      if (inputs[i].grad === false) continue;
      const g = xs[i].grad;
      if (!g) throw new Error(`${name}: input ${i} got no gradient`);
      const num = new Float64Array(x64[i].length);
      for (let j = 0; j < num.length; j++) {
        const plus = x64.map((a) => a.slice()), minus = x64.map((a) => a.slice());
        plus[i][j] += eps;
        minus[i][j] -= eps;
        const fp = refFn(...plus), fm = refFn(...minus);
        let s = 0;
        for (let k = 0; k < w.length; k++) s += w[k] * (fp[k] - fm[k]);
        num[j] = s / (2 * eps);
      }
      assertClose(await g.data(), num, { atol: gradAtol, rtol: gradRtol, msg: `${name} grad of input ${i}` });
      g.dispose();
    }
  });
}

/** Runs `fn` with a fresh temporary folder (named with `prefix`), removed afterwards. */
export async function withTempDir(prefix: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A uint8 HWC raster whose value at (y, x, c) is `f(y, x, c)`. */
export function makeRaster(
  width: number,
  height: number,
  channels: number,
  f: (y: number, x: number, c: number) => number,
): Raster {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = f(y, x, c);
    }
  }
  return { data, width, height, channels };
}

/** torch.quantile of one row, float64 apart from the float32 rank. */
export function quantileReference(
  row: number[],
  q: number,
  mode: QuantileInterpolation = "linear",
): number {
  if (row.some((v) => Number.isNaN(v))) return NaN;
  const s = [...row].sort((a, b) => a - b);
  const n = s.length;
  const rank = Math.fround(Math.fround(q) * (n - 1));
  const k = Math.floor(rank), w = Math.fround(rank - k);
  const lo = s[k], hi = s[Math.min(k + 1, n - 1)];
  switch (mode) {
    case "lower":
      return lo;
    case "higher":
      return w > 0 ? hi : lo;
    case "midpoint":
      return hi - (hi - lo) * 0.5;
    case "nearest": {
      const f = Math.floor(rank), d = rank - f;
      const r = d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
      return r > k ? hi : lo;
    }
    default:
      return w < 0.5 ? lo + w * (hi - lo) : hi - (hi - lo) * (1 - w);
  }
}

/**
 * An interrupt source that delivers `signal` as soon as a training loop starts watching it:
 * the loop stops after its first optimizer step, and must not exit the process.
 */
export function interruptAtFirstStep(signal: InterruptSignal = "SIGINT"): InterruptController {
  return new InterruptController({
    addListener: (listener) => queueMicrotask(() => listener(signal)),
    removeListener: () => {},
    exit: () => {
      throw new Error("a training loop must not exit the process");
    },
    message: () => {},
  });
}

/**
 * Runs `fn` with `MEDDIFF_AUTOTUNE=0`: fixed kernel choices, so that figures and bit-exact resumes do
 * not depend on what background tuning picked in between (`deno task test` sets it too; this keeps
 * a test right when run alone with `deno test`).
 */
export async function withFixedKernels<T>(fn: () => Promise<T>): Promise<T> {
  const before = Deno.env.get("MEDDIFF_AUTOTUNE");
  Deno.env.set("MEDDIFF_AUTOTUNE", "0");
  try {
    return await fn();
  } finally {
    if (before === undefined) Deno.env.delete("MEDDIFF_AUTOTUNE");
    else Deno.env.set("MEDDIFF_AUTOTUNE", before);
  }
}

/** Which state-dict tensors of `a` that `b` lacks or holds with other bits, out of how many. */
export async function differingTensors(a: Module, b: Module): Promise<{ differ: string[]; total: number }> {
  const sa = a.stateDict(), sb = b.stateDict();
  try {
    const differ: string[] = [];
    for (const [k, t] of Object.entries(sa)) {
      const y = sb[k] ? await sb[k].data() : undefined;
      const x = await t.data();
      if (!y || x.length !== y.length || x.some((v, i) => !Object.is(v, y[i]))) differ.push(k);
    }
    return { differ, total: Object.keys(sa).length };
  } finally {
    for (const t of [...Object.values(sa), ...Object.values(sb)]) t.dispose();
  }
}

/** Asserts two modules hold bit-identical state dicts (same names, same values). */
export async function assertSameState(a: Module, b: Module, what: string): Promise<void> {
  const { differ, total } = await differingTensors(a, b);
  if (differ.length) {
    throw new Error(
      `${what}: ${differ.length} of ${total} tensors differ or are missing (${differ.slice(0, 8).join(", ")}, …)`,
    );
  }
}

/** Runs `fn` (sync or async), returning what it printed with console.warn. */
export async function captureWarnings(fn: () => unknown): Promise<string[]> {
  const seen: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => void seen.push(args.map(String).join(" "));
  try {
    await fn();
  } finally {
    console.warn = warn;
  }
  return seen;
}

/** The tiny class-conditional U-Net of the DDPM workflow tests (8×8 images: attention at the 4×4 level). */
export const TINY_UNET: readonly string[] = [
  "--model.baseChannels=8",
  "--model.channelMults=[1,2]",
  "--model.attentionResolutions=[4]",
  "--model.numHeads=2",
];

/** Largest |v|. */
export function maxAbsOf(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** A gradient against a PyTorch twin's: present, and within `rel` of the largest expected entry. */
export async function assertGradMatches(name: string, got: Tensor | null, expected: Tensor, rel = 2e-4): Promise<void> {
  if (!got) throw new Error(`${name}: no gradient`);
  const e = await expected.data();
  assertClose(await got.data(), e, { atol: rel * maxAbsOf(e), rtol: 0, msg: name });
}

/** The ops of the dispatches `fn` records, in order (what a fused path saves is visible here). */
export function dispatchedOps(fn: () => void): string[] {
  const ops: string[] = [];
  observeDispatches((d) => ops.push(d.op));
  try {
    fn();
  } finally {
    observeDispatches();
  }
  return ops;
}
