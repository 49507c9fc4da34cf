/**
 * WGSL generators for fused in-place update kernels (optimizers, gradient clipping, EMA), and
 * the two reductions of gradient clipping's total norm.
 *
 * An update kernel walks the elements of up to `groups` tensor groups (one per parameter) in one
 * dispatch, as PyTorch's multi-tensor ("foreach") optimizers do; every bound buffer has its own
 * element offset, so dense views that start inside a larger storage work too. Uniform layout:
 * word 0 = all elements, words 1..G = where each group's elements end, then G × B buffer
 * offsets, then the f32 scalars, then the u32 flags. The body reads `NAME[i_NAME]` (the
 * element of buffer NAME at the current index) and `o_NAME` (the offset of its view).
 */
import { flatMain, metaAt, metaDecl, WG } from "./wgsl.ts";

/** One storage buffer of a fused update kernel. */
export interface UpdateBuffer {
  /** Name in the body; the element at the current index is `NAME[i_NAME]`. */
  name: string;
  /** Whether the kernel writes it. */
  write: boolean;
}

/** Description of a fused elementwise update kernel. */
export interface UpdateKernel {
  /** Buffers of one group, bound at 1..B (group g at g·B + 1..), in order. */
  buffers: readonly UpdateBuffer[];
  /** Names of f32 scalars in the uniform block (shared by every group). */
  scalars: readonly string[];
  /** Names of boolean flags (u32, non-zero = true) in the uniform block. */
  flags: readonly string[];
  /** WGSL statements run per element. */
  body: string;
}

/** Number of u32 words in the uniform block of an update kernel over `groups` groups. */
export function updateMetaWords(k: UpdateKernel, groups = 1): number {
  return 1 + groups * (1 + k.buffers.length) + k.scalars.length + k.flags.length;
}

/** The buffers a kernel's body reads element by element (`NAME[i_NAME]`), not at a fixed offset. */
export function elementwiseBuffers(k: UpdateKernel): Set<string> {
  return new Set(k.buffers.filter((b) => new RegExp(`\\b${b.name}\\[i_${b.name}\\]`).test(k.body)).map((b) => b.name));
}

/**
 * WGSL source of a fused update kernel over `groups` tensor groups. With `vec4` (every group's
 * size and its element-wise buffers' offsets multiples of 4; those sizes, ends and offsets then
 * in vec4s in the uniform block) a thread updates four neighbouring elements: CPU adapters pay
 * per thread and gather each lane's loads, and AdamW over 15.7 M parameters took 780 ms scalar.
 * A buffer marked in `shared` is one storage for every group (an optimizer's state packed in one
 * buffer, each group at its own offset): bound once, so more groups fit the adapter's bindings.
 * Bindings: group 0's buffers at 1..B, then each later group's unshared ones, in order.
 */
export function updateSource(
  k: UpdateKernel,
  groups = 1,
  vec4 = false,
  shared: readonly boolean[] = [],
): string {
  const B = k.buffers.length;
  const scalarsAt = 1 + groups * (1 + B);
  const wide = vec4 ? elementwiseBuffers(k) : new Set<string>();
  const isShared = new Set(k.buffers.filter((_, i) => shared[i]).map((b) => b.name));
  const bound = (name: string, g: number) => (groups === 1 ? name : `${name}_${isShared.has(name) ? 0 : g}`);
  let s = metaDecl(updateMetaWords(k, groups));
  let binding = 1;
  for (let g = 0; g < groups; g++) {
    for (const b of k.buffers) {
      if (g > 0 && isShared.has(b.name)) continue;
      const type = wide.has(b.name) ? "vec4<f32>" : "f32";
      s += `@group(0) @binding(${binding++}) var<storage, ${b.write ? "read_write" : "read"}> ${
        bound(b.name, g)
      }: array<${type}>;
`;
    }
  }
  s += `${flatMain()}
  if (gi >= ${metaAt(0)}) { return; }
`;
  k.scalars.forEach((n, j) => (s += `  let ${n} = bitcast<f32>(${metaAt(scalarsAt + j)});
`));
  k.flags.forEach((n, j) => (s += `  let ${n} = ${metaAt(scalarsAt + k.scalars.length + j)} != 0u;
`));
  for (let g = 0; g < groups; g++) {
    const rename = (body: string) => {
      if (groups === 1) return body;
      for (const b of k.buffers) body = body.replace(new RegExp(`\\b${b.name}\\[`, "g"), `${bound(b.name, g)}[`);
      return body;
    };
    const start = g === 0 ? "0u" : metaAt(g);
    s += `  if (gi < ${metaAt(1 + g)}) {
    let li = gi - ${start};
`;
    k.buffers.forEach((b, i) => {
      s += `    let o_${b.name} = ${metaAt(1 + groups + g * B + i)};
    let i_${b.name} = o_${b.name} + li;
`;
    });
    if (!vec4) {
      s += `${rename(k.body)}    return;
  }
`;
      continue;
    }
    // Four elements: load each element-wise buffer's vec4, run the body per component on it
    // (its lets live in a block per component), store the written ones back.
    for (const n of wide) s += `    var ${n}_v = ${bound(n, g)}[i_${n}];\n`;
    for (let c = 0; c < 4; c++) {
      let body = k.body;
      for (const n of wide) body = body.replace(new RegExp(`\\b${n}\\[i_${n}\\]`, "g"), `${n}_v[${c}]`);
      s += `    {\n${rename(body)}    }\n`;
    }
    for (const b of k.buffers) {
      if (b.write && wide.has(b.name)) s += `    ${bound(b.name, g)}[i_${b.name}] = ${b.name}_v;\n`;
    }
    s += `    return;
  }
`;
  }
  return s + "}\n";
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
    body: `  let coef = min(maxNorm / (norm[o_norm] + 1e-6), 1.0);
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

/** Partial sums each gradient writes for the total norm (one per workgroup, the rest zero). */
export const NORM_PARTS = 16;

/** How a p-norm accumulates |g|: a sum of |g|ᵖ (p = 1, 2 or another p), or a max (p = ∞). */
function normTerms(p: number): { term: string; combine: (a: string, b: string) => string } {
  const term = p === 2 ? "v * v" : p === 1 || p === Infinity ? "v" : `pow(v, bitcast<f32>(${metaAt(3)}))`;
  return { term, combine: (a, b) => (p === Infinity ? `max(${a}, ${b})` : `${a} + ${b}`) };
}

const TREE = (combine: (a: string, b: string) => string) =>
  `  acc[lid.x] = s;
  workgroupBarrier();
  for (var w = ${WG / 2}u; w > 0u; w = w >> 1u) {
    if (lid.x < w) { acc[lid.x] = ${combine("acc[lid.x]", "acc[lid.x + w]")}; }
    workgroupBarrier();
  }
`;

/**
 * One gradient's share of a total p-norm: up to {@linkcode NORM_PARTS} workgroups each reduce a
 * strided part of `g` (|g|ᵖ summed, or max |g| for p = ∞) and write it to `parts[slot + workgroup]`;
 * workgroup 0 zeroes the slots no workgroup ran for. Uniforms: n, g's offset, slot, p (f32 bits).
 */
export function gradNormPartsSource(p: number): string {
  const { term, combine } = normTerms(p);
  return `${metaDecl(4)}@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> parts: array<f32>;
var<workgroup> acc: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let n = ${metaAt(0)};
  let off = ${metaAt(1)};
  let slot = ${metaAt(2)};
  var s = 0.0;
  for (var i = wid.x * ${WG}u + lid.x; i < n; i = i + nwg.x * ${WG}u) {
    let v = abs(g[off + i]);
    s = ${combine("s", term)};
  }
${TREE(combine)}  if (lid.x == 0u) { parts[slot + wid.x] = acc[0]; }
  if (wid.x == 0u && lid.x >= nwg.x && lid.x < ${NORM_PARTS}u) { parts[slot + lid.x] = 0.0; }
}
`;
}

/**
 * The total p-norm from the parts of {@linkcode gradNormPartsSource}: one workgroup sums (or
 * maxes) `parts[0..count)` and writes the p-th root to `total[0]`. Uniforms: count, _, _, p.
 */
export function gradNormTotalSource(p: number): string {
  const { combine } = normTerms(p);
  const root = p === 2
    ? "sqrt(acc[0])"
    : p === 1 || p === Infinity
    ? "acc[0]"
    : `pow(acc[0], 1.0 / bitcast<f32>(${metaAt(3)}))`;
  return `${metaDecl(4)}@group(0) @binding(1) var<storage, read> parts: array<f32>;
@group(0) @binding(2) var<storage, read_write> total: array<f32>;
var<workgroup> acc: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  var s = 0.0;
  for (var i = lid.x; i < ${metaAt(0)}; i = i + ${WG}u) {
    s = ${combine("s", "parts[i]")};
  }
${TREE(combine)}  if (lid.x == 0u) { total[0] = ${root}; }
}
`;
}
