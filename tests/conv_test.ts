import { assertClose, dispatchedOps, gpuTest, gradCheck, prod, randomArray, stridesOf } from "./_util.ts";
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import {
  conv1d,
  conv2d,
  conv3d,
  type ConvOptions,
  convTranspose1d,
  convTranspose2d,
  convTranspose3d,
  type ConvTransposeOptions,
} from "../core/ops/conv.ts";
import { type Tensor, tensor } from "../mod.ts";
import { CONV_VARIANTS } from "../core/backend/conv.ts";
import { gpu } from "../core/device.ts";

/** Reference geometry: everything per spatial dim, resolved. */
interface RefGeom {
  stride: number[];
  pad: number[];
  dil: number[];
  groups: number;
}

const tup = (v: number | readonly number[] | undefined, d: number, def: number): number[] =>
  v === undefined ? new Array(d).fill(def) : typeof v === "number" ? new Array(d).fill(v) : [...v];

/** Iterates over every index of `shape` (row-major), passing the flat position too. */
function eachIndex(shape: number[], fn: (idx: number[], flat: number) => void): void {
  const n = prod(shape), idx = new Array(shape.length).fill(0);
  for (let f = 0; f < n; f++) {
    fn(idx, f);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

/** float64 direct convolution (gather form), any number of spatial dims. */
function refConv(
  x: ArrayLike<number>,
  xs: number[],
  w: ArrayLike<number>,
  ws: number[],
  bias: ArrayLike<number> | null,
  opts: ConvOptions,
): [Float64Array, number[]] {
  const d = xs.length - 2;
  const [N, , ...size] = xs, [O, Cg, ...k] = ws;
  const G = opts.groups ?? 1, Og = O / G;
  const stride = tup(opts.stride as number[], d, 1), dil = tup(opts.dilation as number[], d, 1);
  let pad: number[], out: number[];
  if (opts.padding === "same") {
    pad = k.map((kk, i) => Math.floor(dil[i] * (kk - 1) / 2));
    out = [...size];
  } else {
    pad = opts.padding === "valid" ? new Array(d).fill(0) : tup(opts.padding as number[], d, 0);
    out = size.map((s, i) => Math.floor((s + 2 * pad[i] - dil[i] * (k[i] - 1) - 1) / stride[i]) + 1);
  }
  const shape = [N, O, ...out];
  const y = new Float64Array(prod(shape));
  const xst = stridesOf(xs), wst = stridesOf(ws);
  eachIndex(shape, ([n, o, ...p], f) => {
    const g = Math.floor(o / Og);
    let s = bias ? bias[o] : 0;
    for (let ci = 0; ci < Cg; ci++) {
      eachIndex(k, (kk) => {
        let off = n * xst[0] + (g * Cg + ci) * xst[1];
        for (let i = 0; i < d; i++) {
          const q = p[i] * stride[i] - pad[i] + kk[i] * dil[i];
          if (q < 0 || q >= size[i]) return;
          off += q * xst[2 + i];
        }
        let woff = o * wst[0] + ci * wst[1];
        for (let i = 0; i < d; i++) woff += kk[i] * wst[2 + i];
        s += x[off] * w[woff];
      });
    }
    y[f] = s;
  });
  return [y, shape];
}

/** float64 transposed convolution in scatter form (independent of the gather kernels). */
function refConvT(
  x: ArrayLike<number>,
  xs: number[],
  w: ArrayLike<number>,
  ws: number[],
  bias: ArrayLike<number> | null,
  opts: ConvTransposeOptions,
): [Float64Array, number[]] {
  const d = xs.length - 2;
  const [N, Cin, ...size] = xs, [, Og, ...k] = ws;
  const G = opts.groups ?? 1, Cg = Cin / G, O = Og * G;
  const stride = tup(opts.stride, d, 1), dil = tup(opts.dilation, d, 1), pad = tup(opts.padding, d, 0);
  const op = tup(opts.outputPadding, d, 0);
  const out = size.map((s, i) => (s - 1) * stride[i] - 2 * pad[i] + dil[i] * (k[i] - 1) + op[i] + 1);
  const shape = [N, O, ...out];
  const y = new Float64Array(prod(shape));
  const yst = stridesOf(shape), wst = stridesOf(ws);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      if (bias) eachIndex(out, (_, f) => y[(n * O + o) * prod(out) + f] = bias[o]);
    }
  }
  eachIndex(xs, ([n, ci, ...p], f) => {
    const g = Math.floor(ci / Cg);
    for (let j = 0; j < Og; j++) {
      eachIndex(k, (kk) => {
        let off = n * yst[0] + (g * Og + j) * yst[1];
        for (let i = 0; i < d; i++) {
          const q = p[i] * stride[i] - pad[i] + kk[i] * dil[i];
          if (q < 0 || q >= out[i]) return;
          off += q * yst[2 + i];
        }
        let woff = ci * wst[0] + j * wst[1];
        for (let i = 0; i < d; i++) woff += kk[i] * wst[2 + i];
        y[off] += x[f] * w[woff];
      });
    }
  });
  return [y, shape];
}

type ConvFn = (x: Tensor, w: Tensor, b?: Tensor | null, o?: ConvOptions) => Tensor;
type ConvTFn = (x: Tensor, w: Tensor, b?: Tensor | null, o?: ConvTransposeOptions) => Tensor;

interface Case {
  name: string;
  fn: ConvFn | ConvTFn;
  transposed?: boolean;
  x: number[];
  w: number[];
  bias?: boolean;
  opts: ConvOptions | ConvTransposeOptions;
}

const CASES: Case[] = [
  { name: "conv2d 3x3 pad 1 bias", fn: conv2d, x: [2, 3, 7, 6], w: [4, 3, 3, 3], bias: true, opts: { padding: 1 } },
  {
    name: "conv2d stride 2, pad tuple, dilation tuple",
    fn: conv2d,
    x: [2, 3, 9, 8],
    w: [5, 3, 3, 2],
    opts: { stride: 2, padding: [1, 0], dilation: [2, 1] },
  },
  {
    name: "conv2d groups 2",
    fn: conv2d,
    x: [1, 4, 7, 5],
    w: [6, 2, 2, 3],
    bias: true,
    opts: { groups: 2, stride: [2, 1] },
  },
  {
    name: "conv2d depthwise same dilation 2",
    fn: conv2d,
    x: [2, 4, 7, 9],
    w: [8, 1, 3, 3],
    bias: true,
    opts: { groups: 4, padding: "same", dilation: 2 },
  },
  { name: "conv2d 1x1", fn: conv2d, x: [2, 5, 5, 3], w: [3, 5, 1, 1], opts: {} },
  // Batch-wide im2col GEMMs with vec4 swaps of [nb, O, L] (L = 16): a ResNet-style stride-2 3×3
  // convolution and 1×1 downsample.
  { name: "conv2d 3x3 stride 2 (L 16)", fn: conv2d, x: [3, 5, 8, 8], w: [6, 5, 3, 3], opts: { stride: 2, padding: 1 } },
  { name: "conv2d 1x1 stride 2 (L 16)", fn: conv2d, x: [2, 4, 8, 8], w: [6, 4, 1, 1], bias: true, opts: { stride: 2 } },
  { name: "conv2d same even kernel", fn: conv2d, x: [1, 2, 6, 5], w: [3, 2, 4, 2], opts: { padding: "same" } },
  { name: "conv2d valid", fn: conv2d, x: [1, 2, 6, 5], w: [3, 2, 3, 3], bias: true, opts: { padding: "valid" } },
  {
    name: "conv1d stride 2 dilation 2 groups 2",
    fn: conv1d,
    x: [2, 4, 11],
    w: [6, 2, 3],
    bias: true,
    opts: { stride: 2, padding: 2, dilation: 2, groups: 2 },
  },
  { name: "conv1d same", fn: conv1d, x: [1, 3, 8], w: [2, 3, 4], opts: { padding: "same" } },
  {
    name: "conv3d stride pad",
    fn: conv3d,
    x: [1, 2, 5, 6, 5],
    w: [3, 2, 3, 3, 2],
    bias: true,
    opts: { stride: [1, 2, 2], padding: 1 },
  },
  { name: "conv3d depthwise", fn: conv3d, x: [2, 3, 4, 5, 4], w: [3, 1, 3, 3, 3], opts: { groups: 3, padding: 1 } },
  {
    name: "convTranspose1d",
    fn: convTranspose1d,
    transposed: true,
    x: [2, 4, 5],
    w: [4, 3, 3],
    bias: true,
    opts: { stride: 2, padding: 1, outputPadding: 1, groups: 2 },
  },
  {
    name: "convTranspose2d stride 2 outpad groups dilation",
    fn: convTranspose2d,
    transposed: true,
    x: [2, 4, 4, 3],
    w: [4, 3, 3, 2],
    bias: true,
    opts: { stride: 2, padding: [1, 0], outputPadding: [1, 0], groups: 2, dilation: [1, 2] },
  },
  {
    name: "convTranspose2d depthwise",
    fn: convTranspose2d,
    transposed: true,
    x: [1, 3, 5, 5],
    w: [3, 1, 3, 3],
    opts: { groups: 3, padding: 1 },
  },
  {
    name: "convTranspose3d",
    fn: convTranspose3d,
    transposed: true,
    x: [1, 2, 3, 4, 3],
    w: [2, 3, 2, 3, 3],
    bias: true,
    opts: { stride: [1, 2, 2], padding: 1, outputPadding: [0, 1, 0] },
  },
];

function ref(
  c: Case,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | null,
): [Float64Array, number[]] {
  return c.transposed
    ? refConvT(x, c.x, w, c.w, b, c.opts as ConvTransposeOptions)
    : refConv(x, c.x, w, c.w, b, c.opts as ConvOptions);
}

function withConv(v: string | undefined, fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    if (v) Deno.env.set("MEDDIFF_CONV", v);
    try {
      await fn();
    } finally {
      Deno.env.delete("MEDDIFF_CONV");
    }
  };
}

const f32 = (shape: number[], seed: number): Float32Array => Float32Array.from(randomArray(prod(shape), seed));

for (const v of [undefined, ...CONV_VARIANTS]) {
  gpuTest(
    `conv forward matches a float64 reference (${v ?? "default"})`,
    withConv(v, async () => {
      for (const [i, c] of CASES.entries()) {
        const xd = f32(c.x, 10 + i), wd = f32(c.w, 20 + i);
        const oc = c.transposed ? c.w[1] * (c.opts.groups ?? 1) : c.w[0];
        const bd = c.bias ? f32([oc], 30 + i) : null;
        const out = (c.fn as ConvFn)(
          tensor(xd, c.x),
          tensor(wd, c.w),
          bd ? tensor(bd, [oc]) : null,
          c.opts as ConvOptions,
        );
        const [y, shape] = ref(c, xd, wd, bd);
        assertEquals([...out.shape], shape, `${c.name}: shape`);
        assertClose(await out.data(), y, { atol: 1e-5, rtol: 1e-4, msg: c.name });
      }
    }),
  );
}

gpuTest("conv2d reads a non-contiguous input and an unbatched one", async () => {
  const shape = [2, 3, 6, 5];
  const xd = f32(shape, 3), wd = f32([4, 3, 3, 3], 4);
  // NHWC storage permuted to NCHW: a strided view.
  const nhwc = new Float32Array(xd.length);
  const [N, C, H, W] = shape;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let h = 0; h < H; h++) {
        for (let w = 0; w < W; w++) nhwc[((n * H + h) * W + w) * C + c] = xd[((n * C + c) * H + h) * W + w];
      }
    }
  }
  const x = tensor(nhwc, [N, H, W, C]).permute([0, 3, 1, 2]);
  const out = conv2d(x, tensor(wd, [4, 3, 3, 3]), null, { stride: 2, padding: 1 });
  const [y] = refConv(xd, shape, wd, [4, 3, 3, 3], null, { stride: 2, padding: 1 });
  assertClose(await out.data(), y, { msg: "strided input" });
  const one = conv2d(tensor(xd.slice(0, C * H * W), [C, H, W]), tensor(wd, [4, 3, 3, 3]), null, { padding: 1 });
  const [y1, s1] = refConv(xd.slice(0, C * H * W), [1, C, H, W], wd, [4, 3, 3, 3], null, { padding: 1 });
  assertEquals([...one.shape], s1.slice(1));
  assertClose(await one.data(), y1, { msg: "unbatched" });
});

gpuTest("conv GEMM path under each matmul kernel", async () => {
  Deno.env.set("MEDDIFF_CONV", "gemm");
  try {
    for (const mm of ["rb4", "rb16", "texdot32", "naive"]) {
      Deno.env.set("MEDDIFF_MATMUL", mm);
      const c = CASES[2];
      const xd = f32(c.x, 5), wd = f32(c.w, 6);
      const out = conv2d(tensor(xd, c.x), tensor(wd, c.w), null, c.opts as ConvOptions);
      assertClose(await out.data(), ref(c, xd, wd, null)[0], { msg: `matmul ${mm}` });
    }
  } finally {
    Deno.env.delete("MEDDIFF_CONV");
    Deno.env.delete("MEDDIFF_MATMUL");
  }
});

// Gradient checks on tiny shapes (the finite differences cost inputs × outputs).
const GRAD_CASES: Case[] = [
  { name: "conv1d", fn: conv1d, x: [2, 2, 6], w: [4, 1, 3], bias: true, opts: { stride: 2, padding: 1, groups: 2 } },
  {
    name: "conv2d",
    fn: conv2d,
    x: [2, 2, 5, 4],
    w: [3, 2, 3, 2],
    bias: true,
    opts: { stride: [2, 1], padding: 1, dilation: [1, 2] },
  },
  {
    name: "conv2d depthwise",
    fn: conv2d,
    x: [1, 2, 4, 4],
    w: [4, 1, 3, 3],
    bias: true,
    opts: { groups: 2, padding: "same" },
  },
  {
    name: "conv3d",
    fn: conv3d,
    x: [1, 2, 3, 4, 3],
    w: [2, 2, 2, 3, 2],
    bias: true,
    opts: { padding: [0, 1, 1], stride: [1, 2, 1] },
  },
  {
    name: "convTranspose2d",
    fn: convTranspose2d,
    transposed: true,
    x: [2, 2, 3, 3],
    w: [2, 2, 3, 2],
    bias: true,
    opts: { stride: 2, padding: 1, outputPadding: 1, groups: 2 },
  },
  {
    name: "convTranspose3d",
    fn: convTranspose3d,
    transposed: true,
    x: [1, 2, 2, 3, 2],
    w: [2, 2, 2, 2, 3],
    bias: true,
    opts: { stride: [1, 2, 1], padding: [0, 1, 1] },
  },
];

// 3×3 stride-1 cases, where the Winograd variants apply (the others run their gemm fallback).
GRAD_CASES.push(
  { name: "conv2d 3x3 pad 1", fn: conv2d, x: [2, 3, 5, 6], w: [2, 3, 3, 3], bias: true, opts: { padding: 1 } },
  { name: "conv2d 3x3 pad 0", fn: conv2d, x: [1, 2, 6, 5], w: [3, 2, 3, 3], bias: true, opts: {} },
  { name: "conv2d 3x3 pad 2", fn: conv2d, x: [1, 5, 3, 4], w: [2, 5, 3, 3], opts: { padding: 2 } },
);
// Stride 2 with 4×4 outputs: the batch-wide im2col route with vec4 swaps of the gradient.
GRAD_CASES.push({
  name: "conv2d 3x3 stride 2 (L 16)",
  fn: conv2d,
  x: [2, 2, 8, 8],
  w: [3, 2, 3, 3],
  bias: true,
  opts: { stride: 2, padding: 1 },
});

for (const v of CONV_VARIANTS) {
  gpuTest(
    `conv gradients (x, weight, bias) match finite differences (${v})`,
    withConv(v, async () => {
      for (const c of GRAD_CASES) {
        const oc = c.transposed ? c.w[1] * (c.opts.groups ?? 1) : c.w[0];
        await gradCheck(
          `${c.name} [${v}]`,
          [{ shape: c.x }, { shape: c.w }, { shape: [oc] }],
          (x, w, b) => (c.fn as ConvFn)(x, w, b, c.opts as ConvOptions),
          (x, w, b) => ref(c, x, w, b)[0],
        );
      }
    }),
  );
}

gpuTest("conv validation errors name the op and the shapes", () => {
  const x = tensor(f32([1, 4, 5, 5], 1), [1, 4, 5, 5]);
  const w = tensor(f32([2, 3, 3, 3], 2), [2, 3, 3, 3]);
  assertThrows(() => conv2d(x, w), RangeError, "conv2d: input [1, 4, 5, 5] has 4 channels");
  const w2 = tensor(f32([2, 2, 3, 3], 2), [2, 2, 3, 3]);
  assertThrows(() => conv2d(x, w2, null, { groups: 3 }), RangeError, "conv2d");
  assertThrows(() => conv2d(x, tensor(f32([2, 4, 7, 7], 3), [2, 4, 7, 7])), RangeError, "larger than the padded input");
  assertThrows(() => conv2d(x, tensor(f32([2, 4, 3, 3], 3), [2, 4, 3, 3]), null, { stride: 0 }), RangeError, "stride");
  assertThrows(
    () => conv2d(x, tensor(f32([2, 4, 3, 3], 3), [2, 4, 3, 3]), null, { stride: 2, padding: "same" }),
    RangeError,
    "strided",
  );
  assertThrows(() => conv1d(x, w), RangeError, "conv1d: expected a 2-D (unbatched) or 3-D (batched) input");
  assertThrows(() => conv2d(x.int(), tensor(f32([2, 4, 3, 3], 3), [2, 4, 3, 3])), TypeError, "float32");
  assertThrows(() => conv2d(x, tensor(f32([2, 4, 3, 3], 3), [2, 4, 3, 3]), tensor([1, 2, 3])), RangeError, "bias");
  assertThrows(
    () => convTranspose2d(x, tensor(f32([4, 2, 3, 3], 3), [4, 2, 3, 3]), null, { outputPadding: 1 }),
    RangeError,
    "outputPadding",
  );
});

// Winograd: odd sizes, padding 0/1/2, batch 1, more channels than one texel, and batches
// larger than one texture chunk (128×128 images: 8 per chunk at F(4×4), 2 at F(2×2)).
const WINOGRAD_CASES: { x: number[]; w: number[]; padding: number }[] = [
  { x: [1, 3, 7, 5], w: [5, 3, 3, 3], padding: 1 },
  { x: [2, 9, 9, 11], w: [6, 9, 3, 3], padding: 0 },
  { x: [3, 4, 6, 6], w: [7, 4, 3, 3], padding: 2 },
  { x: [1, 17, 13, 10], w: [10, 17, 3, 3], padding: 1 },
  { x: [9, 1, 128, 128], w: [2, 1, 3, 3], padding: 1 },
];

for (const v of ["winograd4", "winograd2"]) {
  gpuTest(
    `conv2d ${v}: forward and gradients match float64 / the gemm variant`,
    async () => {
      for (const [i, c] of WINOGRAD_CASES.entries()) {
        const xd = f32(c.x, 40 + i), wd = f32(c.w, 50 + i);
        const opts = { padding: c.padding };
        const [ref64, shape] = refConv(xd, c.x, wd, c.w, null, opts);
        const gyd = f32(shape, 60 + i);
        const run = async (variant: string) => {
          Deno.env.set("MEDDIFF_CONV", variant);
          try {
            const x = tensor(xd, c.x, { requiresGrad: true }), w = tensor(wd, c.w, { requiresGrad: true });
            const y = conv2d(x, w, null, opts);
            y.mul(tensor(gyd, shape)).sum().backward();
            return { y: await y.data(), gx: await x.grad!.data(), gw: await w.grad!.data() };
          } finally {
            Deno.env.delete("MEDDIFF_CONV");
          }
        };
        const got = await run(v), want = await run("gemm");
        const name = `${v} x ${JSON.stringify(c.x)} pad ${c.padding}`;
        // F(4×4) loses about 3 bits in float32 (max error ~1.3e-5 at unit-scale data, measured).
        assertClose(got.y, ref64, { atol: v === "winograd4" ? 4e-5 : 1e-5, rtol: 1e-4, msg: `${name} out` });
        assertClose(got.gx, want.gx, { atol: 1e-4, rtol: 1e-4, msg: `${name} grad x` });
        // The weight gradient sums over every position of the batch: scale the tolerance with it.
        const terms = c.x[0] * shape[2] * shape[3];
        assertClose(got.gw, want.gw, { atol: 1e-5 * terms, rtol: 1e-4, msg: `${name} grad w` });
      }
    },
  );
}

// The Winograd forward adds the bias in its output transform, and its vec4 paths (input rows
// read as vec4 when W % 4 = 0, pairs of tiles per thread with an odd tile count per row;
// output rows stored as vec4 when OW % 4 = 0) cover the data-gradient pass too, which runs the
// same kernels with flipped weights and must not pick up the bias.
const FUSED_CASES: { x: number[]; w: number[]; padding: number }[] = [
  { x: [2, 6, 8, 12], w: [5, 6, 3, 3], padding: 1 }, // 3 tiles a row, vec4 in and out, both passes
  { x: [2, 6, 10, 8], w: [9, 6, 3, 3], padding: 0 }, // vec4 in (pad 0), scalar out
  { x: [1, 3, 6, 10], w: [4, 3, 3, 3], padding: 0 }, // data gradient: vec4 in with pad 2
  { x: [1, 4, 8, 8], w: [3, 4, 3, 3], padding: 2 }, // vec4 in with pad 2, scalar out
];

for (const v of ["winograd4", "winograd2"]) {
  gpuTest(
    `conv2d ${v}: fused bias matches the reference, with and without bias; data gradient unaffected`,
    async () => {
      for (const [i, c] of FUSED_CASES.entries()) {
        const xd = f32(c.x, 70 + i), wd = f32(c.w, 80 + i), bd = f32([c.w[0]], 90 + i);
        const opts = { padding: c.padding };
        for (const withBias of [false, true]) {
          const [ref64, shape] = refConv(xd, c.x, wd, c.w, withBias ? bd : null, opts);
          const gyd = f32(shape, 100 + i);
          const run = async (variant: string) => {
            Deno.env.set("MEDDIFF_CONV", variant);
            try {
              const x = tensor(xd, c.x, { requiresGrad: true }), w = tensor(wd, c.w, { requiresGrad: true });
              const b = withBias ? tensor(bd, [c.w[0]], { requiresGrad: true }) : null;
              const y = conv2d(x, w, b, opts);
              const loss = y.mul(tensor(gyd, shape)).sum();
              const ops = dispatchedOps(() => loss.backward());
              // On CPU adapters the Winograd weight-gradient chain also gives the bias gradient.
              const reductions = ops.filter((op) => op === "sum").length;
              if (withBias && variant !== "gemm" && gpu().isSoftware) {
                assertEquals(reductions, 0, "no separate bias-gradient reduction");
              }
              const gb = b ? await b.grad!.data() : null;
              return { y: await y.data(), gx: await x.grad!.data(), gw: await w.grad!.data(), gb };
            } finally {
              Deno.env.delete("MEDDIFF_CONV");
            }
          };
          const got = await run(v), want = await run("gemm");
          const name = `${v} x ${JSON.stringify(c.x)} pad ${c.padding} bias ${withBias}`;
          assertClose(got.y, ref64, { atol: v === "winograd4" ? 4e-5 : 1e-5, rtol: 1e-4, msg: `${name} out` });
          // gx does not depend on the bias: the flipped-weight pass must match gemm's (and itself without bias).
          assertClose(got.gx, want.gx, { atol: 1e-4, rtol: 1e-4, msg: `${name} grad x` });
          const terms = c.x[0] * shape[2] * shape[3];
          assertClose(got.gw, want.gw, { atol: 1e-5 * terms, rtol: 1e-4, msg: `${name} grad w` });
          if (withBias) assertClose(got.gb!, want.gb!, { atol: 1e-4, rtol: 1e-4, msg: `${name} grad b` });
        }
      }
    },
  );
}

// 3×3×3 convolutions run as three 2-D Winograd convolutions over depth slices, one per kernel
// depth tap, the first writing and the others adding: odd sizes, several samples and channel
// texels, a depth of 3 (the outer taps read one slice fewer), vec4 rows (W % 4 = 0), a
// channels-last input view, and depth padding 0 (forward and weight gradient by Winograd, the
// data gradient, whose depth padding is then 2, by gemm). The taps share one transform of the
// input slices (the last case's 20,480 tiles at F(4×4) wrap into bands of rows past the texture
// limit); with MEDDIFF_WINOGRAD_SHARED=0 each tap transforms its own, and both must agree.
const WINOGRAD_3D_CASES: { x: number[]; w: number[]; padding: number | number[]; channelsLast?: boolean }[] = [
  { x: [2, 5, 4, 7, 6], w: [6, 5, 3, 3, 3], padding: 1 },
  { x: [1, 3, 3, 8, 8], w: [4, 3, 3, 3, 3], padding: 1 },
  { x: [2, 6, 5, 6, 9], w: [9, 6, 3, 3, 3], padding: [0, 1, 2] },
  { x: [1, 4, 6, 8, 4], w: [5, 4, 3, 3, 3], padding: 1, channelsLast: true },
  { x: [2, 1, 10, 128, 128], w: [2, 1, 3, 3, 3], padding: 1 },
];

for (const v of ["winograd4", "winograd2"]) {
  gpuTest(`conv3d ${v}: 3×3×3 by depth taps matches float64 and the gemm variant's gradients`, async () => {
    for (const [i, c] of WINOGRAD_3D_CASES.entries()) {
      const xd = f32(c.x, 140 + i), wd = f32(c.w, 150 + i), bd = f32([c.w[0]], 160 + i);
      const opts = { padding: c.padding };
      const [ref64, shape] = refConv(xd, c.x, wd, c.w, bd, opts);
      const gyd = f32(shape, 170 + i);
      const run = async (variant: string, shared = true) => {
        Deno.env.set("MEDDIFF_CONV", variant);
        if (!shared) Deno.env.set("MEDDIFF_WINOGRAD_SHARED", "0");
        try {
          const [N, C, D, H, W] = c.x;
          const x = c.channelsLast
            ? tensor(channelsLast(xd, c.x), [N, D, H, W, C], { requiresGrad: true })
            : tensor(xd, c.x, { requiresGrad: true });
          const input = c.channelsLast ? x.permute([0, 4, 1, 2, 3]) : x;
          const w = tensor(wd, c.w, { requiresGrad: true }), b = tensor(bd, [c.w[0]], { requiresGrad: true });
          let y: Tensor | undefined;
          const forward = dispatchedOps(() => y = conv3d(input, w, b, opts));
          const ops = dispatchedOps(() => y!.mul(tensor(gyd, shape)).sum().backward());
          const gx = await x.grad!.data();
          return {
            forward,
            y: await y!.data(),
            gx: c.channelsLast ? channelsFirst(gx, c.x) : gx,
            gw: await w.grad!.data(),
            gb: await b.grad!.data(),
            ops,
          };
        } finally {
          Deno.env.delete("MEDDIFF_CONV");
          Deno.env.delete("MEDDIFF_WINOGRAD_SHARED");
        }
      };
      const got = await run(v), perTap = await run(v, false), want = await run("gemm");
      const name = `${v} x ${JSON.stringify(c.x)} pad ${JSON.stringify(c.padding)}`;
      assert(got.ops.includes("conv.winograd.wgemm"), `${name}: the weight gradient ran Winograd`);
      const transforms = (ops: string[]) => ops.filter((op) => op === "conv.winograd.input").length;
      assertEquals(transforms(got.forward), 1, `${name}: one shared input transform in the forward`);
      assert(transforms(perTap.forward) >= 3, `${name}: an input transform per tap without sharing`);
      for (const k of ["y", "gx", "gw", "gb"] as const) {
        assertClose(got[k], perTap[k], { atol: 1e-5, rtol: 1e-5, msg: `${name}: ${k} shared = per tap` });
      }
      assert(!got.ops.includes("conv.im2col") || c.padding !== 1, `${name}: no im2col at depth padding 1`);
      assertClose(got.y, ref64, { atol: v === "winograd4" ? 6e-5 : 2e-5, rtol: 1e-4, msg: `${name} out` });
      assertClose(got.gx, want.gx, { atol: 2e-4, rtol: 1e-4, msg: `${name} grad x` });
      const terms = c.x[0] * shape[2] * shape[3] * shape[4];
      assertClose(got.gw, want.gw, { atol: 1e-5 * terms, rtol: 1e-4, msg: `${name} grad w` });
      assertClose(got.gb, want.gb, { atol: 1e-4, rtol: 1e-4, msg: `${name} grad b` });
    }
  });
}

/** [N, C, …] → [N, …, C] (row-major float data). */
function channelsLast(data: ArrayLike<number>, shape: number[]): Float32Array {
  const [N, C] = shape, S = prod(shape.slice(2)), out = new Float32Array(data.length);
  for (let n = 0; n < N; n++) {
    for (let ch = 0; ch < C; ch++) for (let s = 0; s < S; s++) out[(n * S + s) * C + ch] = data[(n * C + ch) * S + s];
  }
  return out;
}

/** [N, …, C] → [N, C, …], `shape` the channels-first one. */
function channelsFirst(data: ArrayLike<number>, shape: number[]): Float32Array {
  const [N, C] = shape, S = prod(shape.slice(2)), out = new Float32Array(data.length);
  for (let n = 0; n < N; n++) {
    for (let ch = 0; ch < C; ch++) for (let s = 0; s < S; s++) out[(n * C + ch) * S + s] = data[(n * S + s) * C + ch];
  }
  return out;
}

// 1×1 stride-1 convolutions skip im2col/col2im (the GEMMs read x and write dx directly): values
// against float64, gradients against the direct kernel, for dense and strided inputs, 2-D and 3-D.
gpuTest("conv 1×1: the GEMM path without im2col matches float64 and the direct kernel's gradients", async () => {
  const cases: { x: number[]; w: number[]; permute: boolean }[] = [
    { x: [3, 5, 6, 4], w: [7, 5, 1, 1], permute: false },
    { x: [2, 8, 3, 9], w: [4, 8, 1, 1], permute: true }, // a channels-last view: strided, takes im2col
    { x: [2, 3, 2, 3, 4], w: [6, 3, 1, 1, 1], permute: false },
  ];
  for (const [i, c] of cases.entries()) {
    const xd = f32(c.x, 200 + i), wd = f32(c.w, 210 + i), bd = f32([c.w[0]], 220 + i);
    // With `permute`, xd is stored channels-last and x is the NCHW view of it.
    const [N, C, H, W] = c.x;
    const leafShape = c.permute ? [N, H, W, C] : c.x;
    const nchw = c.permute ? await tensor(xd, leafShape).permute([0, 3, 1, 2]).contiguous().data() : xd;
    const [ref64, shape] = refConv(nchw, c.x, wd, c.w, bd, {});
    const gyd = f32(shape, 230 + i);
    const run = async (variant: string) => {
      Deno.env.set("MEDDIFF_CONV", variant);
      try {
        const leaf = tensor(xd, leafShape, { requiresGrad: true });
        const x = c.permute ? leaf.permute([0, 3, 1, 2]) : leaf;
        const w = tensor(wd, c.w, { requiresGrad: true }), b = tensor(bd, [c.w[0]], { requiresGrad: true });
        const y = c.x.length === 5 ? conv3d(x, w, b) : conv2d(x, w, b);
        y.mul(tensor(gyd, shape)).sum().backward();
        return { y: await y.data(), gx: await leaf.grad!.data(), gw: await w.grad!.data(), gb: await b.grad!.data() };
      } finally {
        Deno.env.delete("MEDDIFF_CONV");
      }
    };
    const got = await run("gemm"), want = await run("direct");
    const name = `1×1 ${JSON.stringify(c.x)}${c.permute ? " strided" : ""}`;
    assertClose(got.y, ref64, { atol: 1e-5, rtol: 1e-4, msg: `${name} out` });
    for (const k of ["gx", "gw", "gb"] as const) {
      assertClose(got[k], want[k], { atol: 1e-4, rtol: 1e-4, msg: `${name} ${k}` });
    }
  }
});

gpuTest(
  "conv gemm with its columns split into spans of output positions matches float64 and the direct kernel's gradients",
  async () => {
    // MEDDIFF_CONV_COLUMN_FLOATS stands in for the binding limit that a large volume exceeds (a
    // 3×3×3 convolution of 16 channels at 64³ has 432 MiB of columns per image): here a span
    // holds 7 output positions, which divides none of the output sizes.
    const cases: { x: number[]; w: number[]; opts: ConvOptions }[] = [
      {
        x: [2, 4, 5, 6, 5],
        w: [6, 2, 3, 2, 3],
        opts: { groups: 2, stride: [1, 2, 1], padding: [1, 0, 2], dilation: [1, 1, 2] },
      },
      { x: [3, 3, 9, 8], w: [4, 3, 5, 3], opts: { padding: 2 } },
    ];
    for (const [i, c] of cases.entries()) {
      const groups = c.opts.groups ?? 1;
      const kg = (c.w[1] * prod(c.w.slice(2))) * groups;
      const xd = f32(c.x, 300 + i), wd = f32(c.w, 310 + i), bd = f32([c.w[0]], 320 + i);
      const [ref64, shape] = refConv(xd, c.x, wd, c.w, bd, c.opts);
      const gyd = f32(shape, 330 + i);
      const run = async (variant: string) => {
        Deno.env.set("MEDDIFF_CONV", variant);
        Deno.env.set("MEDDIFF_CONV_COLUMN_FLOATS", String(kg * 7));
        try {
          const x = tensor(xd, c.x, { requiresGrad: true });
          const w = tensor(wd, c.w, { requiresGrad: true }), b = tensor(bd, [c.w[0]], { requiresGrad: true });
          const y = c.x.length === 5 ? conv3d(x, w, b, c.opts) : conv2d(x, w, b, c.opts);
          y.mul(tensor(gyd, shape)).sum().backward();
          return { y: await y.data(), gx: await x.grad!.data(), gw: await w.grad!.data(), gb: await b.grad!.data() };
        } finally {
          Deno.env.delete("MEDDIFF_CONV");
          Deno.env.delete("MEDDIFF_CONV_COLUMN_FLOATS");
        }
      };
      const got = await run("gemm"), want = await run("direct");
      const name = `spans ${JSON.stringify(c.x)} * ${JSON.stringify(c.w)}`;
      assertClose(got.y, ref64, { atol: 1e-5, rtol: 1e-4, msg: `${name} out` });
      for (const k of ["gx", "gw", "gb"] as const) {
        assertClose(got[k], want[k], { atol: 1e-4, rtol: 1e-4, msg: `${name} ${k}` });
      }
    }
  },
);

gpuTest(
  "conv2d stride 2: batch-wide im2col GEMMs in several chunks match the direct kernels (values, dx, dw)",
  async () => {
    // 40 images of 30×30 outputs (L = 900): on a software adapter the batch-wide data gradient runs
    // in chunks of 9 images and the weight gradient in chunks of 36 (the packing textures' side).
    const xs = [40, 2, 60, 60], ws = [3, 2, 3, 3];
    const xd = f32(xs, 71), wd = f32(ws, 72), opts = { stride: 2, padding: 1 };
    const run = async (v: string) => {
      Deno.env.set("MEDDIFF_CONV", v);
      try {
        const x = tensor(xd, xs, { requiresGrad: true }), w = tensor(wd, ws, { requiresGrad: true });
        const y = conv2d(x, w, null, opts);
        y.mul(tensor(f32([...y.shape], 73), y.shape)).sum().backward();
        return [await y.data(), await x.grad!.data(), await w.grad!.data()];
      } finally {
        Deno.env.delete("MEDDIFF_CONV");
      }
    };
    const gemm = await run("gemm"), direct = await run("direct");
    ["y", "dx", "dw"].forEach((name, i) =>
      assertClose(gemm[i], direct[i], { atol: i === 2 ? 2e-2 : 1e-4, rtol: 1e-4, msg: `gemm vs direct ${name}` })
    );
  },
);
