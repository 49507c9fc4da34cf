/**
 * WGSL generators for fused in-place update kernels (optimizers, gradient clipping, EMA).
 *
 * Every kernel walks `n` elements; each bound buffer has its own element offset in the
 * uniform block, so dense views that start inside a larger storage work too. Uniform layout:
 * word 0 = n, words 1..B = buffer offsets, then the f32 scalars, then the u32 flags.
 */
import { flatMain, metaAt, metaDecl } from "./wgsl.ts";

/** One storage buffer of a fused update kernel. */
export interface UpdateBuffer {
  /** Name in the body; the element at the current index is `NAME[i_NAME]`. */
  name: string;
  /** Whether the kernel writes it. */
  write: boolean;
}

/** Description of a fused elementwise update kernel. */
export interface UpdateKernel {
  /** Buffers bound at 1..B, in order. */
  buffers: readonly UpdateBuffer[];
  /** Names of f32 scalars in the uniform block. */
  scalars: readonly string[];
  /** Names of boolean flags (u32, non-zero = true) in the uniform block. */
  flags: readonly string[];
  /** WGSL statements run per element. */
  body: string;
}

/** Number of u32 words in the uniform block of an update kernel. */
export function updateMetaWords(k: UpdateKernel): number {
  return 1 + k.buffers.length + k.scalars.length + k.flags.length;
}

/** WGSL source of a fused update kernel. */
export function updateSource(k: UpdateKernel): string {
  const B = k.buffers.length;
  let s = metaDecl(updateMetaWords(k));
  k.buffers.forEach((b, i) => {
    s += `@group(0) @binding(${i + 1}) var<storage, ${b.write ? "read_write" : "read"}> ${b.name}: array<f32>;\n`;
  });
  s += `${flatMain()}\n  if (gi >= ${metaAt(0)}) { return; }\n`;
  k.buffers.forEach((b, i) => (s += `  let i_${b.name} = ${metaAt(1 + i)} + gi;\n`));
  k.scalars.forEach((n, j) => (s += `  let ${n} = bitcast<f32>(${metaAt(1 + B + j)});\n`));
  k.flags.forEach((n, j) => (s += `  let ${n} = ${metaAt(1 + B + k.scalars.length + j)} != 0u;\n`));
  return s + k.body + "}\n";
}

/** SGD with optional momentum, dampening, Nesterov, L2 weight decay and maximize (torch.optim.SGD). */
export function sgdKernel(withMomentum: boolean): UpdateKernel {
  const momentumPart = withMomentum
    ? `  var buf = d;
  if (!first) { buf = buf_[i_buf_] * momentum + d * oneMinusDampening; }
  buf_[i_buf_] = buf;
  if (nesterov) { d = d + momentum * buf; } else { d = buf; }
`
    : "";
  return {
    buffers: [
      { name: "param", write: true },
      { name: "grad", write: false },
      ...(withMomentum ? [{ name: "buf_", write: true }] : []),
    ],
    scalars: ["lr", "weightDecay", "momentum", "oneMinusDampening"],
    flags: ["maximize", "nesterov", "first"],
    body: `  let p = param[i_param];
  var d = grad[i_grad];
  if (maximize) { d = -d; }
  if (weightDecay != 0.0) { d = d + weightDecay * p; }
${momentumPart}  param[i_param] = p - lr * d;
`,
  };
}

/**
 * Adam / AdamW (torch.optim.Adam and AdamW): `l2` is Adam's coupled weight decay (added to the
 * gradient), `decay` AdamW's decoupled factor `1 − lr·wd` applied to the parameter first.
 */
export function adamKernel(amsgrad: boolean): UpdateKernel {
  return {
    buffers: [
      { name: "param", write: true },
      { name: "grad", write: false },
      { name: "expAvg", write: true },
      { name: "expAvgSq", write: true },
      ...(amsgrad ? [{ name: "maxExpAvgSq", write: true }] : []),
    ],
    scalars: ["l2", "decay", "beta1", "oneMinusBeta1", "beta2", "oneMinusBeta2", "stepSize", "bc2Sqrt", "eps"],
    flags: ["maximize"],
    body: `  var p = param[i_param];
  var g = grad[i_grad];
  if (maximize) { g = -g; }
  if (l2 != 0.0) { g = g + l2 * p; }
  if (decay != 1.0) { p = p * decay; }
  let m = expAvg[i_expAvg] * beta1 + g * oneMinusBeta1;
  var v = expAvgSq[i_expAvgSq] * beta2 + (g * g) * oneMinusBeta2;
  expAvg[i_expAvg] = m;
  expAvgSq[i_expAvgSq] = v;
${
      amsgrad
        ? "  v = max(maxExpAvgSq[i_maxExpAvgSq], v);\n  maxExpAvgSq[i_maxExpAvgSq] = v;\n"
        : ""
    }  let denom = sqrt(v) / bc2Sqrt + eps;
  param[i_param] = p - stepSize * (m / denom);
`,
  };
}

/** In-place gradient scaling by `min(1, maxNorm / (norm + 1e-6))`, the norm read from a GPU buffer. */
export function clipKernel(): UpdateKernel {
  return {
    buffers: [{ name: "grad", write: true }, { name: "norm", write: false }],
    scalars: ["maxNorm"],
    flags: [],
    body: `  let coef = min(maxNorm / (norm[${metaAt(2)}] + 1e-6), 1.0);
  grad[i_grad] = grad[i_grad] * coef;
`,
  };
}

/** EMA update `shadow = d·shadow + (1 − d)·param` in place. */
export function emaKernel(): UpdateKernel {
  return {
    buffers: [{ name: "shadow", write: true }, { name: "param", write: false }],
    scalars: ["decay", "oneMinusDecay"],
    flags: [],
    body: `  shadow[i_shadow] = decay * shadow[i_shadow] + oneMinusDecay * param[i_param];\n`,
  };
}
