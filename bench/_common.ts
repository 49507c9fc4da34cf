/** Shared benchmark helpers: operands, timing and the TensorFlow.js peers. */
import { add, gpu, matmul, randn, sum, synchronize, type Tensor } from "../mod.ts";
import { tuneMatmul } from "../core/ops/matmul.ts";
import type * as TF from "@tensorflow/tfjs-core";

/** Matmul sizes (square n×n·n×n) measured by the benches and the report. */
export const MATMUL_SIZES: readonly number[] = [256, 512, 1024, 2048];
/** Elements of the large elementwise/reduction benches (64 MiB per operand). */
export const STREAM_ELEMENTS = 16 * 1024 * 1024;

/** Floating-point operations of an n×n·n×n product. */
export function matmulFlops(n: number): number {
  return 2 * n ** 3;
}

/** Two random n×n operands, with the autotuner's choice for this shape measured beforehand. */
export async function matmulOperands(n: number): Promise<[Tensor, Tensor]> {
  const a = randn([n, n]), b = randn([n, n]);
  await tuneMatmul(n, n, n);
  await synchronize();
  return [a, b];
}

/**
 * Products per timed region: small products are recorded back to back and waited for once,
 * since one submit-and-wait costs ~10 ms on llvmpipe's GL path (more than a 256² product).
 */
export function matmulBatch(n: number): number {
  return Math.max(1, Math.min(32, Math.round(2 ** 30 / matmulFlops(n))));
}

/** `k` matmuls recorded back to back, then one wait for the GPU. */
export async function runMatmul(a: Tensor, b: Tensor, k = 1): Promise<void> {
  for (let i = 0; i < k; i++) matmul(a, b).dispose();
  await synchronize();
}

/** One timed elementwise add of two large vectors. */
export async function runAdd(x: Tensor, y: Tensor): Promise<void> {
  const z = add(x, y);
  await synchronize();
  z.dispose();
}

/** One timed full sum reduction. */
export async function runSum(x: Tensor): Promise<void> {
  const s = sum(x);
  await synchronize();
  s.dispose();
}

/** Best wall time (ms) of `reps` runs after `warmup` runs. */
export async function bestMs(fn: () => Promise<void>, reps: number, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** The adapter we run on, in words. */
export function adapterDescription(): string {
  const info = gpu().adapterInfo;
  return [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(" / ");
}

/** A TensorFlow.js backend ready for matmuls, or the reason it is not. */
export interface TfPeer {
  /** Backend name ("webgpu" or "wasm"). */
  name: string;
  /** The tfjs-core module (shared by both backends). */
  tf: typeof TF;
  /** Runs `k` n×n products on this backend, waiting until they are done. */
  matmul(a: TF.Tensor, b: TF.Tensor, k?: number): Promise<void>;
  /** Random n×n operands created on this backend. */
  operands(n: number): Promise<[TF.Tensor, TF.Tensor]>;
}

/**
 * Loads tfjs and the backend `name`; returns a string explaining why when it cannot, or when
 * `BENCH_TFJS` leaves it out: `0` leaves out every TensorFlow.js peer, a list such as `webgpu`
 * keeps only the backends it names (unset or `1`: all).
 */
export async function tfPeer(name: "webgpu" | "wasm"): Promise<TfPeer | string> {
  const want = Deno.env.get("BENCH_TFJS")?.trim().toLowerCase();
  if (want && !/^(1|true|on|yes)$/.test(want) && !want.split(",").includes(name)) {
    return `tfjs ${name}: left out (BENCH_TFJS=${want})`;
  }
  try {
    const tf = await import("@tensorflow/tfjs-core");
    if (name === "webgpu") await import("@tensorflow/tfjs-backend-webgpu");
    else await import("@tensorflow/tfjs-backend-wasm");
    const use = async () => {
      if (tf.getBackend() !== name && !(await tf.setBackend(name))) throw new Error(`tfjs backend ${name} failed`);
    };
    await use();
    return {
      name,
      tf,
      async operands(n) {
        await use();
        return [tf.randomUniform([n, n]), tf.randomUniform([n, n])];
      },
      async matmul(a, b, k = 1) {
        await use();
        for (let i = 1; i < k; i++) tf.matMul(a, b).dispose();
        const c = tf.matMul(a, b);
        await c.data(); // the only portable way to wait for the backend; the readback is n² floats
        c.dispose();
      },
    };
  } catch (e) {
    return `tfjs ${name} unavailable: ${(e as Error).message}`;
  }
}
