/**
 * Picks the convolution kernel for a pass: `MEDDIFF_CONV=gemm|direct|winograd4|winograd2`
 * forces one (a Winograd variant runs `gemm` where it does not apply); small problems and
 * depthwise convolutions default to `direct`, 3×3(×3) stride-1 ones to `winograd4`, the rest to
 * `gemm`; shapes big enough to matter are timed by the autotuner, keyed by a bucketed shape.
 * The candidates are the variants that apply, less `direct` on large problems (it is orders
 * of magnitude slower there, and one timed run of it costs seconds). Columns too large for one
 * binding are split (conv.ts `columnChunks`), so every variant runs at any size.
 */
import { autotuneEnabled, bucket, choose, tune, type TuneBench, type TuneResult } from "./autotune.ts";
import { gpu } from "../device.ts";
import { autocastActive } from "../amp.ts";
import { envFlag } from "../env.ts";
import {
  CONV_VARIANTS,
  convDataGrad,
  convFlops,
  convForward,
  type ConvGeom,
  type ConvPass,
  type ConvVariant,
  convWeightGrad,
  sizes,
  winogradPlan,
} from "./conv.ts";

/** Below this many FLOPs a pass is not tuned: launch overhead dominates. */
const SMALL_FLOPS = 1 << 22;
/** Above this many FLOPs `direct` is not timed (unless it is the default): ~4.5 s at 3.7 GFLOP on llvmpipe. */
const DIRECT_MAX_FLOPS = 1 << 28;
/** Problems whose bench buffers would exceed this are not tuned. */
const MAX_BENCH_BYTES = 512 << 20;

/** True when `name` is a convolution variant. */
export function isConvVariant(name: string): name is ConvVariant {
  return (CONV_VARIANTS as readonly string[]).includes(name);
}

/** The autotune key: pass, buckets of batch, channels and output size, kernel volume, groups class, strided. */
export function convShapeKey(pass: ConvPass, g: ConvGeom): string {
  const { Cg, KK, L } = sizes(g);
  const groups = g.G === 1 ? "g1" : Cg === 1 ? "dw" : `g${bucket(g.G)}`;
  const strided = g.stride.some((s) => s > 1) ? "s" : "";
  // Winograd applies to exact shapes only (3×3, stride 1, …): they get their own keys.
  const wino = winogradPlan("winograd4", pass, g) ? "w" : "";
  return `${pass}:${g.inSize.filter((d) => d > 1).length}d:n${bucket(g.N)}c${bucket(g.C)}o${bucket(g.O)}l${
    bucket(L)
  }k${KK}${groups}${strided}${wino}`;
}

/**
 * The variant used for `pass` without tuning. Depthwise means groups of one channel (G > 1): a
 * convolution of one input channel (a grayscale stem, a 3-D VAE's first layer) takes Winograd
 * or the GEMM like any other (direct ran them 1.6–3× slower on llvmpipe).
 */
export function defaultConvVariant(g: ConvGeom, pass: ConvPass = "forward"): ConvVariant {
  if ((g.G > 1 && sizes(g).Cg === 1) || convFlops(g) < SMALL_FLOPS) return "direct";
  return winogradPlan("winograd4", pass, g) ? "winograd4" : "gemm";
}

/** The variants worth timing for `pass` of `g`, the default first. */
export function convCandidates(pass: ConvPass, g: ConvGeom): ConvVariant[] {
  const def = defaultConvVariant(g, pass);
  return [def, ...CONV_VARIANTS.filter((v) => v !== def)].filter((v) =>
    v === def ||
    (v === "direct" ? convFlops(g) <= DIRECT_MAX_FLOPS : v === "gemm" || winogradPlan(v, pass, g) !== null)
  );
}

/** Chooses the kernel variant for `pass` of `g` (see the module comment). */
export function selectConvVariant(pass: ConvPass, g: ConvGeom): ConvVariant {
  // Under autocast every pass is im2col + GEMM, whose GEMM then runs the f16 matmul.
  if (autocastActive()) return "gemm";
  const forced = envFlag("MEDDIFF_CONV");
  if (forced) {
    if (!isConvVariant(forced)) {
      throw new RangeError(
        `MEDDIFF_CONV=${forced} is not a convolution variant; use one of ${CONV_VARIANTS.join(", ")}`,
      );
    }
    return forced;
  }
  const def = defaultConvVariant(g, pass);
  if (!autotuneEnabled() || convFlops(g) < SMALL_FLOPS || benchBytes(g) > MAX_BENCH_BYTES) return def;
  const candidates = convCandidates(pass, g);
  if (candidates.length < 2) return def;
  const won = choose("conv", convShapeKey(pass, g), candidates, () => convBench(pass, g));
  return won && isConvVariant(won) ? won : def;
}

function benchBytes(g: ConvGeom): number {
  const { Kg, L, S } = sizes(g);
  return 4 * (g.N * g.C * S + g.O * Kg + g.N * g.O * L + Math.min(g.N, 64) * g.G * Kg * L);
}

/** A bench of `pass` on fresh zeroed buffers of `g`'s sizes (data does not change the timing). */
export function convBench(pass: ConvPass, g: ConvGeom): TuneBench {
  const { device } = gpu();
  const buffers: GPUBuffer[] = [];
  const buffer = (floats: number): GPUBuffer => {
    const b = device.createBuffer({ size: Math.max(16, floats * 4), usage: GPUBufferUsage.STORAGE, label: "tune" });
    buffers.push(b);
    return b;
  };
  const { Kg, L, S } = sizes(g);
  const [, H, W] = g.inSize;
  const x = { buffer: buffer(g.N * g.C * S), offset: 0, strides: [g.C * S, S, H * W, W, 1] };
  const w = { buffer: buffer(g.O * Kg), offset: 0 };
  const y = buffer(g.N * g.O * L);
  // Each allocation of one run gets its own buffer (two scratch areas of equal size must not
  // alias: one is read while the other is written); later runs reuse them in the same order.
  const scratch = new Map<string, GPUBuffer>();
  let calls = 0;
  const alloc = (floats: number): GPUBuffer => {
    const key = `${calls++}:${floats}`;
    let b = scratch.get(key);
    if (!b) scratch.set(key, b = buffer(floats));
    return b;
  };
  return {
    run(c) {
      calls = 0;
      const v = c as ConvVariant;
      if (pass === "forward") convForward(v, g, x, w, y, alloc);
      else if (pass === "dataGrad") convDataGrad(v, g, { buffer: y, offset: 0 }, w, x.buffer, alloc);
      else convWeightGrad(v, g, x, { buffer: y, offset: 0 }, w.buffer, alloc);
    },
    dispose: () => buffers.forEach((b) => b.destroy()),
  };
}

/** Tunes (now, awaiting the measurement) one pass of a convolution geometry on this adapter. */
export function tuneConv(pass: ConvPass, g: ConvGeom): Promise<TuneResult> {
  return tune("conv", convShapeKey(pass, g), convCandidates(pass, g), () => convBench(pass, g));
}
