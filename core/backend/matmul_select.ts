/**
 * Picks the matmul kernel for a problem: `MEDDIFF_MATMUL` forces one; small products use a
 * simple kernel; otherwise the autotuner's winner for the shape bucket, or the adapter's
 * default while tuning runs (or when `MEDDIFF_AUTOTUNE=0`).
 */
import { autotuneEnabled, bucket, choose, tune, type TuneBench, type TuneResult } from "./autotune.ts";
import { envFlag as envVar } from "../env.ts";
import { gpu } from "../device.ts";
import { autocastActive } from "../amp.ts";
import {
  isMatmulVariant,
  launchMatmul,
  MATMUL_VARIANTS,
  type MatmulOperand,
  type MatmulProblem,
  type MatmulVariant,
  variantApplies,
} from "./matmul.ts";

/** Below this many output elements (all batches) no tuning: the simple kernels win anyway. */
const SMALL_OUTPUTS = 64 * 64;
/** Problems whose bench copies would need more bytes than this are not tuned. */
const MAX_BENCH_BYTES = 512 << 20;

const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** Layout class of an operand: row-major vec4-aligned, row-major, transposed, or general strides. */
function layout(o: MatmulOperand, cols: number): "n" | "r" | "t" | "g" {
  if (o.colStride === 1) {
    return o.offset % 4 === 0 && o.rowStride % 4 === 0 && cols % 4 === 0 && o.batchStrides.every((s) => s % 4 === 0)
      ? "n"
      : "r";
  }
  return o.rowStride === 1 ? "t" : "g";
}

/** The autotune key: power-of-two buckets of M, N, K and the batch, plus both layouts. */
export function matmulShapeKey(p: MatmulProblem): string {
  return `${bucket(p.M)}x${bucket(p.N)}x${bucket(p.K)}b${bucket(prod(p.batch))}:${layout(p.a, p.K)}${layout(p.b, p.N)}`;
}

/**
 * The variant used without tuning: on software adapters the register-blocked kernel over packed
 * textures (fastest measured on llvmpipe; the buffer version when textures do not fit), on
 * real GPUs the workgroup-memory tiled one.
 */
export function defaultMatmulVariants(): MatmulVariant[] {
  return gpu().isSoftware ? ["texdot32", "rb16"] : ["tiled"];
}

/**
 * Variants worth timing on this adapter, defaults first so that far slower ones are pruned
 * after one run (workgroup memory is serialised on software adapters: no tiled kernel there).
 */
export function matmulCandidates(p: MatmulProblem): MatmulVariant[] {
  const soft = gpu().isSoftware;
  const defaults = defaultMatmulVariants();
  const rest = MATMUL_VARIANTS.filter((v) => !defaults.includes(v) && v !== "naive" && !(soft && v === "tiled"));
  return [...defaults, ...rest].filter((v) => variantApplies(v, p));
}

function firstApplicable(p: MatmulProblem, prefer: readonly MatmulVariant[]): MatmulVariant {
  for (const v of [...prefer, "rb4", "rb16", "naive"] as const) if (variantApplies(v, p)) return v;
  throw new RangeError(`matmul: an output of ${p.M}×${p.N} is too large for any kernel's dispatch grid`);
}

/** Below this many multiply-adds (all batches) a software adapter skips the texture packing. */
const SMALL_PRODUCT_MACS = 1 << 23;

/**
 * A product too small for `texdot32`'s two packing dispatches to pay off on a software adapter
 * (measured on llvmpipe: 64×128·128×128 took 1.8 ms with them, 1.3 ms as one `rb8` dispatch; at
 * 256×64·64×784 they were level).
 */
function smallProduct(p: MatmulProblem): boolean {
  return gpu().isSoftware && p.M * p.N * p.K * prod(p.batch) < SMALL_PRODUCT_MACS;
}

/** Chooses the kernel variant for `p` (see the module comment). */
export function selectMatmulVariant(p: MatmulProblem): MatmulVariant {
  if (autocastActive() && variantApplies("half", p)) return "half";
  const forced = envVar("MEDDIFF_MATMUL");
  if (forced) {
    if (!isMatmulVariant(forced)) {
      throw new RangeError(
        `MEDDIFF_MATMUL=${forced} is not a matmul variant; use one of ${MATMUL_VARIANTS.join(", ")}`,
      );
    }
    return firstApplicable(p, [forced]);
  }
  // Small outputs and matrix·vector shapes: a simple kernel, no tuning (big blocks would idle).
  if (p.M < 4 || p.N < 4) return firstApplicable(p, ["naive"]);
  if (p.M * p.N * prod(p.batch) < SMALL_OUTPUTS) return firstApplicable(p, ["rb4"]);
  const def = firstApplicable(
    p,
    Math.min(p.M, p.N) < 32 ? ["rb4"] : smallProduct(p) ? ["rb8"] : defaultMatmulVariants(),
  );
  if (!autotuneEnabled() || benchBytes(p) > MAX_BENCH_BYTES) return def;
  const candidates = matmulCandidates(p);
  if (candidates.length < 2) return def;
  const won = choose("matmul", matmulShapeKey(p), candidates, () => matmulBench(p));
  return won && isMatmulVariant(won) ? won : def;
}

function benchBytes(p: MatmulProblem): number {
  const nb = prod(p.batch);
  return 4 * nb * (p.M * p.K + p.K * p.N + p.M * p.N);
}

/** A bench problem of `p`'s sizes and layouts on fresh zeroed buffers (data does not change the timing). */
export function matmulBench(p: MatmulProblem): TuneBench {
  const { device } = gpu();
  const nb = prod(p.batch);
  const buffers: GPUBuffer[] = [];
  const buffer = (floats: number): GPUBuffer => {
    const b = device.createBuffer({ size: Math.max(16, floats * 4), usage: GPUBufferUsage.STORAGE, label: "tune" });
    buffers.push(b);
    return b;
  };
  const operand = (o: MatmulOperand, rows: number, cols: number): MatmulOperand => {
    // A stride on a size-1 dim selects nothing: only strides of dims > 1 make the operand batched.
    const batched = o.batchStrides.some((s, i) => s !== 0 && p.batch[i] > 1);
    const size = rows * cols;
    const l = layout(o, cols);
    const transposed = l === "t";
    return {
      buffer: buffer((batched ? nb : 1) * size + (l === "r" ? 1 : 0)),
      offset: l === "r" ? 1 : 0, // keep an unaligned operand unaligned
      rowStride: transposed ? 1 : cols,
      colStride: transposed ? rows : 1,
      batchStrides: [0, 0, 0, batched ? size : 0],
    };
  };
  const bp: MatmulProblem = {
    M: p.M,
    N: p.N,
    K: p.K,
    batch: [1, 1, 1, nb],
    a: operand(p.a, p.M, p.K),
    b: operand(p.b, p.K, p.N),
    out: buffer(nb * p.M * p.N),
  };
  return {
    run: (c) => launchMatmul(c as MatmulVariant, bp),
    dispose: () => buffers.forEach((b) => b.destroy()),
  };
}

/** Tunes (now, awaiting the measurement) row-major [batch, M, K] @ [batch, K, N] products on this adapter. */
export function tuneMatmul(M: number, N: number, K: number, batch = 1): Promise<TuneResult> {
  const dummy = gpu().device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE, label: "tune-shape" });
  const strides = [0, 0, 0, batch > 1 ? 1 : 0];
  const p: MatmulProblem = {
    M,
    N,
    K,
    batch: [1, 1, 1, batch],
    a: { buffer: dummy, offset: 0, rowStride: K, colStride: 1, batchStrides: strides.map((s) => s * M * K) },
    b: { buffer: dummy, offset: 0, rowStride: N, colStride: 1, batchStrides: strides.map((s) => s * K * N) },
    out: dummy,
  };
  dummy.destroy(); // only the geometry is used: the bench allocates its own buffers
  return tune("matmul", matmulShapeKey(p), matmulCandidates(p), () => matmulBench(p));
}
