/**
 * Convolutions as in `torch.nn.functional`: conv1d/2d/3d and convTranspose1d/2d/3d (NCL, NCHW,
 * NCDHW; a missing batch dim is accepted), with their gradients. A transposed convolution is
 * the data gradient of a convolution and vice versa, so both share the three kernel passes of
 * `core/kernels/conv_launch.ts`.
 */
import { autocastEnabled, withAutocastState } from "../amp.ts";
import { noGrad, record } from "../autograd.ts";
import {
  addChannelBias,
  convDataGrad,
  convForward,
  type ConvGeom,
  type ConvInput,
  type ConvPass,
  type ConvVariant,
  convWeightGrad,
  type DenseOperand,
} from "../backend/conv.ts";
import { selectConvVariant, tuneConv } from "../backend/conv_select.ts";
import type { TuneResult } from "../backend/autotune.ts";
import { fmtShape, numel } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { contiguous } from "./elementwise.ts";
import { empty } from "./map.ts";
import { sum } from "./reduce.ts";
import { squeeze, unsqueeze } from "./view.ts";
import { zeros } from "./creation.ts";

/** An int for every spatial dim, or one tuple entry per dim. */
export type IntOrTuple = number | readonly number[];

/** Options of `conv1d`/`conv2d`/`conv3d` (PyTorch's keyword arguments). */
export interface ConvOptions {
  /** Stride (default 1). */
  stride?: IntOrTuple;
  /** Zero padding on both sides, or "valid" (none) / "same" (output size = input size; stride 1 only). */
  padding?: IntOrTuple | "same" | "valid";
  /** Spacing between kernel elements (default 1). */
  dilation?: IntOrTuple;
  /** Blocked connections from input to output channels (default 1). */
  groups?: number;
}

/** Options of `convTranspose1d/2d/3d` (PyTorch's keyword arguments). */
export interface ConvTransposeOptions {
  /** Stride (default 1). */
  stride?: IntOrTuple;
  /** `dilation·(k−1) − padding` zeros are added to both sides of the input (default 0). */
  padding?: IntOrTuple;
  /** Extra size added to one side of each output dim (default 0; < stride or dilation). */
  outputPadding?: IntOrTuple;
  /** Blocked connections from input to output channels (default 1). */
  groups?: number;
  /** Spacing between kernel elements (default 1). */
  dilation?: IntOrTuple;
}

/** Tuple of `dims` ints from an int or tuple; throws naming the op and the argument. */
export function intTuple(op: string, name: string, v: IntOrTuple, dims: number, min: number): number[] {
  const t = typeof v === "number" ? new Array<number>(dims).fill(v) : [...v];
  if (t.length !== dims || t.some((x) => !Number.isInteger(x) || x < min)) {
    throw new RangeError(
      `${op}: ${name} must be ${min > 0 ? "a positive" : "a non-negative"} int or a tuple of ${dims}, got ${
        JSON.stringify(v)
      }`,
    );
  }
  return t;
}

/** Left-pads spatial parameters to 3 dims (size-1 leading dims). */
const to3 = (xs: readonly number[], fill: number): number[] => [...new Array(3 - xs.length).fill(fill), ...xs];

interface Checked {
  /** The input with a batch dim. */
  x: Tensor;
  /** Whether the batch dim was added. */
  unbatched: boolean;
}

function checkTensors(op: string, dims: number, x: Tensor, w: Tensor, bias: Tensor | null | undefined): Checked {
  for (const [name, t] of [["input", x], ["weight", w], ["bias", bias]] as const) {
    if (t === undefined || t === null) continue;
    if (!(t instanceof Tensor)) throw new TypeError(`${op}: ${name} must be a Tensor, got ${typeof t}`);
    t.assertLive(op);
    if (t.dtype !== "float32") {
      throw new TypeError(
        `${op}: ${name} must be float32, got ${t.dtype} ${fmtShape(t.shape)} (convert with .float())`,
      );
    }
  }
  if (x.ndim !== dims + 1 && x.ndim !== dims + 2) {
    throw new RangeError(
      `${op}: expected a ${dims + 1}-D (unbatched) or ${dims + 2}-D (batched) input, got shape ${fmtShape(x.shape)}`,
    );
  }
  if (w.ndim !== dims + 2) {
    throw new RangeError(`${op}: expected a ${dims + 2}-D weight, got shape ${fmtShape(w.shape)}`);
  }
  const unbatched = x.ndim === dims + 1;
  return { x: unbatched ? unsqueeze(x, 0) : x, unbatched };
}

function checkGroups(op: string, groups: number | undefined): number {
  const g = groups ?? 1;
  if (!Number.isInteger(g) || g < 1) throw new RangeError(`${op}: groups must be a positive int, got ${groups}`);
  return g;
}

function checkBias(op: string, bias: Tensor | null | undefined, channels: number): void {
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== channels)) {
    throw new RangeError(`${op}: bias must have shape [${channels}], got ${fmtShape(bias.shape)}`);
  }
}

/** The kernel-facing view of an input: 3 spatial dims, strides of absent dims 0. */
function inputOperand(x: Tensor): ConvInput {
  const s = x.strides;
  return { buffer: x.storage.buffer, offset: x.offset, strides: [s[0], s[1], ...to3(s.slice(2), 0)] };
}

const dense = (t: Tensor): DenseOperand => ({ buffer: t.storage.buffer, offset: t.offset });

/** Runs `fn` with a scratch allocator whose buffers are released once the work is recorded. */
function withScratch<T>(fn: (alloc: (floats: number) => GPUBuffer) => T): T {
  const held: Tensor[] = [];
  try {
    return fn((floats) => {
      const t = empty([Math.max(1, floats)], "float32", "conv.scratch");
      held.push(t);
      return t.storage.buffer;
    });
  } finally {
    held.forEach((t) => t.dispose());
  }
}

const spatial = (g: ConvGeom, which: "inSize" | "outSize", dims: number): number[] => g[which].slice(3 - dims);

/**
 * conv(x, w) (+ bias) without autograd: x [N, C, …] (any strides), w [O, C/G, k…] → dense
 * [N, O, …]. The bias is added by the convolution kernels (Winograd fuses it).
 */
function forwardRaw(g: ConvGeom, dims: number, x: Tensor, w: Tensor, bias: Tensor | null = null): Tensor {
  const out = empty([g.N, g.O, ...spatial(g, "outSize", dims)], "float32", "conv");
  if (out.size === 0) return out;
  if (numel(x.shape) === 0) {
    const z = zerosInto(out);
    if (bias) addBias(z, bias);
    return z;
  }
  noGrad(() => {
    const wc = contiguous(w);
    const b = bias ? contiguous(bias) : null;
    withScratch((alloc) =>
      convForward(pick("forward", g), g, inputOperand(x), dense(wc), out.storage.buffer, alloc, b ? dense(b) : null)
    );
    if (wc !== w) wc.dispose();
    if (b && b !== bias) b.dispose();
  });
  return out;
}

/** The data gradient of conv without autograd: gy [N, O, …] → dense [N, C, …]. */
function dataGradRaw(g: ConvGeom, dims: number, gy: Tensor, w: Tensor): Tensor {
  const out = empty([g.N, g.C, ...spatial(g, "inSize", dims)], "float32", "conv");
  if (out.size === 0) return out;
  if (numel(gy.shape) === 0) return zerosInto(out);
  noGrad(() => {
    const gc = contiguous(gy), wc = contiguous(w);
    withScratch((alloc) => convDataGrad(pick("dataGrad", g), g, dense(gc), dense(wc), out.storage.buffer, alloc));
    if (gc !== gy) gc.dispose();
    if (wc !== w) wc.dispose();
  });
  return out;
}

/**
 * The weight gradient of conv without autograd: x [N, C, …] (any strides), gy [N, O, …] → [O, C/G, k…];
 * with `withBias`, also the bias gradient (Σ of gy over all but the channel dim): from the
 * weight-gradient kernels where they give it, else by a reduction.
 */
function weightGradRaw(
  g: ConvGeom,
  x: Tensor,
  gy: Tensor,
  wShape: readonly number[],
  withBias = false,
): [Tensor, Tensor | null] {
  const out = empty(wShape, "float32", "conv");
  const separateBias = () => (withBias ? biasGrad(gy) : null);
  if (out.size === 0) return [out, separateBias()];
  if (numel(gy.shape) === 0 || numel(x.shape) === 0) return [zerosInto(out), separateBias()];
  let db = withBias ? empty([gy.shape[1]], "float32", "conv.biasGrad") : null;
  noGrad(() => {
    const gc = contiguous(gy);
    const fused = withScratch((alloc) =>
      convWeightGrad(
        pick("weightGrad", g),
        g,
        inputOperand(x),
        dense(gc),
        out.storage.buffer,
        alloc,
        db?.storage.buffer ?? null,
      )
    );
    if (gc !== gy) gc.dispose();
    if (db && !fused) {
      db.dispose();
      db = biasGrad(gy);
    }
  });
  return [out, db];
}

function zerosInto(out: Tensor): Tensor {
  const z = zeros(out.shape);
  out.dispose();
  return z;
}

const pick = (pass: ConvPass, g: ConvGeom): ConvVariant => selectConvVariant(pass, g);

/** out += bias over the channel dim, in place (no graph: the op records one node). */
function addBias(out: Tensor, bias: Tensor): void {
  noGrad(() => {
    const b = contiguous(bias);
    addChannelBias(out.shape[0], out.shape[1], numel(out.shape.slice(2)), dense(b), out.storage.buffer);
    if (b !== bias) b.dispose();
  });
}

/** Sum of g over every dim but the channel dim. */
function biasGrad(g: Tensor): Tensor {
  return sum(g, [0, ...Array.from({ length: g.ndim - 2 }, (_, i) => i + 2)]);
}

/** Records the graph node shared by both directions; `fwd` is the pass that produced `out`. */
function finish(
  op: string,
  transposed: boolean,
  g: ConvGeom,
  dims: number,
  out: Tensor,
  x: Tensor,
  w: Tensor,
  bias: Tensor | null | undefined,
  biasAdded = false,
): Tensor {
  if (bias && out.size > 0 && !biasAdded) addBias(out, bias);
  const inputs = bias ? [x, w, bias] : [x, w];
  const half = autocastEnabled(); // the backward runs in the forward's precision
  return record(op, out, inputs, (gy, [sx, sw]) =>
    withAutocastState(half, () => {
      // conv: gx = dataGrad(gy), gw = weightGrad(x, gy). convT (= dataGrad of conv g):
      // gx = forward(gy), gw = weightGrad(gy as the conv input, x as the conv output grad).
      const gx = !x.requiresGrad ? null : transposed ? forwardRaw(g, dims, gy, sw) : dataGradRaw(g, dims, gy, sw);
      const wantBias = !!bias?.requiresGrad;
      // A convolution's weight-gradient kernels may give its bias gradient as well.
      const [gw, gb] = !w.requiresGrad
        ? [null, wantBias ? biasGrad(gy) : null]
        : transposed
        ? [weightGradRaw(g, gy, sx, sw.shape)[0], wantBias ? biasGrad(gy) : null]
        : weightGradRaw(g, sx, gy, sw.shape, wantBias);
      return [gx, gw, gb];
    }), [x, w]);
}

/** Shared body of conv1d/2d/3d. */
function convNd(
  op: string,
  dims: number,
  input: Tensor,
  weight: Tensor,
  bias: Tensor | null | undefined,
  opts: ConvOptions,
): Tensor {
  const { x, unbatched } = checkTensors(op, dims, input, weight, bias);
  const groups = checkGroups(op, opts.groups);
  const [N, C, ...size] = x.shape;
  const [O, Cg, ...kernel] = weight.shape;
  if (Cg * groups !== C || O % groups !== 0) {
    throw new RangeError(
      `${op}: input ${fmtShape(input.shape)} has ${C} channels but weight ${
        fmtShape(weight.shape)
      } with groups=${groups} expects ${Cg * groups} (and ${O} output channels divisible by ${groups})`,
    );
  }
  checkBias(op, bias, O);
  const stride = intTuple(op, "stride", opts.stride ?? 1, dims, 1);
  const dilation = intTuple(op, "dilation", opts.dilation ?? 1, dims, 1);
  const p = opts.padding ?? 0;
  let padding: number[], outSize: number[];
  if (p === "same") {
    if (stride.some((s) => s !== 1)) {
      throw new RangeError(`${op}: padding="same" is not supported for strided convolutions`);
    }
    // PyTorch puts the odd extra zero on the far side.
    padding = kernel.map((k, i) => Math.floor((dilation[i] * (k - 1)) / 2));
    outSize = [...size];
  } else {
    padding = p === "valid" ? new Array(dims).fill(0) : intTuple(op, "padding", p, dims, 0);
    outSize = size.map((s, i) => {
      const eff = dilation[i] * (kernel[i] - 1) + 1;
      if (s + 2 * padding[i] < eff) {
        throw new RangeError(
          `${op}: kernel size ${eff} (after dilation) is larger than the padded input size ${
            s + 2 * padding[i]
          } in spatial dim ${i} (input ${fmtShape(input.shape)}, weight ${fmtShape(weight.shape)})`,
        );
      }
      return Math.floor((s + 2 * padding[i] - eff) / stride[i]) + 1;
    });
  }
  const g: ConvGeom = {
    N,
    C,
    O,
    G: groups,
    inSize: to3(size, 1),
    outSize: to3(outSize, 1),
    kernel: to3(kernel, 1),
    stride: to3(stride, 1),
    padding: to3(padding, 0),
    dilation: to3(dilation, 1),
  };
  const out = finish(op, false, g, dims, forwardRaw(g, dims, x, weight, bias ?? null), x, weight, bias, true);
  return unbatched ? dropBatch(out, x) : out;
}

/** Removes the batch dim added to an unbatched input (and the temporary view). */
function dropBatch(out: Tensor, x: Tensor): Tensor {
  const r = squeeze(out, 0);
  out.dispose();
  x.dispose();
  return r;
}

/** Shared body of convTranspose1d/2d/3d. */
function convTransposeNd(
  op: string,
  dims: number,
  input: Tensor,
  weight: Tensor,
  bias: Tensor | null | undefined,
  opts: ConvTransposeOptions,
): Tensor {
  const { x, unbatched } = checkTensors(op, dims, input, weight, bias);
  const groups = checkGroups(op, opts.groups);
  const [N, Cin, ...size] = x.shape;
  const [Cw, Og, ...kernel] = weight.shape;
  if (Cw !== Cin || Cin % groups !== 0) {
    throw new RangeError(
      `${op}: input ${fmtShape(input.shape)} has ${Cin} channels but weight ${
        fmtShape(weight.shape)
      } expects ${Cw} (divisible by groups=${groups})`,
    );
  }
  const Cout = Og * groups;
  checkBias(op, bias, Cout);
  const stride = intTuple(op, "stride", opts.stride ?? 1, dims, 1);
  const dilation = intTuple(op, "dilation", opts.dilation ?? 1, dims, 1);
  const padding = intTuple(op, "padding", opts.padding ?? 0, dims, 0);
  const outPad = intTuple(op, "outputPadding", opts.outputPadding ?? 0, dims, 0);
  const outSize = size.map((s, i) => {
    if (outPad[i] >= stride[i] && outPad[i] >= dilation[i]) {
      throw new RangeError(
        `${op}: outputPadding must be smaller than either stride or dilation, got outputPadding=${
          JSON.stringify(opts.outputPadding)
        } stride=${JSON.stringify(opts.stride ?? 1)} dilation=${JSON.stringify(opts.dilation ?? 1)}`,
      );
    }
    const o = (s - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1) + outPad[i] + 1;
    if (o <= 0) {
      throw new RangeError(
        `${op}: the output size would be ${o} in spatial dim ${i} (input ${fmtShape(input.shape)}, weight ${
          fmtShape(weight.shape)
        }, padding ${JSON.stringify(opts.padding ?? 0)})`,
      );
    }
    return o;
  });
  // The convolution whose data gradient this is: input = our output, output = our input.
  const g: ConvGeom = {
    N,
    C: Cout,
    O: Cin,
    G: groups,
    inSize: to3(outSize, 1),
    outSize: to3(size, 1),
    kernel: to3(kernel, 1),
    stride: to3(stride, 1),
    padding: to3(padding, 0),
    dilation: to3(dilation, 1),
  };
  const out = finish(op, true, g, dims, dataGradRaw(g, dims, x, weight), x, weight, bias);
  return unbatched ? dropBatch(out, x) : out;
}

/** 1-D convolution over [N, C, L] (or [C, L]) with weight [O, C/groups, k]; as `torch.nn.functional.conv1d`. */
export function conv1d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvOptions = {}): Tensor {
  return convNd("conv1d", 1, x, weight, bias, opts);
}

/** 2-D convolution over [N, C, H, W] (or [C, H, W]) with weight [O, C/groups, kh, kw]; as `F.conv2d`. */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvOptions = {}): Tensor {
  return convNd("conv2d", 2, x, weight, bias, opts);
}

/** 3-D convolution over [N, C, D, H, W] (or [C, D, H, W]) with weight [O, C/groups, kd, kh, kw]; as `F.conv3d`. */
export function conv3d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvOptions = {}): Tensor {
  return convNd("conv3d", 3, x, weight, bias, opts);
}

/** 1-D transposed convolution with weight [C_in, C_out/groups, k]; as `F.conv_transpose1d`. */
export function convTranspose1d(
  x: Tensor,
  weight: Tensor,
  bias?: Tensor | null,
  opts: ConvTransposeOptions = {},
): Tensor {
  return convTransposeNd("convTranspose1d", 1, x, weight, bias, opts);
}

/** 2-D transposed convolution with weight [C_in, C_out/groups, kh, kw]; as `F.conv_transpose2d`. */
export function convTranspose2d(
  x: Tensor,
  weight: Tensor,
  bias?: Tensor | null,
  opts: ConvTransposeOptions = {},
): Tensor {
  return convTransposeNd("convTranspose2d", 2, x, weight, bias, opts);
}

/** 3-D transposed convolution with weight [C_in, C_out/groups, kd, kh, kw]; as `F.conv_transpose3d`. */
export function convTranspose3d(
  x: Tensor,
  weight: Tensor,
  bias?: Tensor | null,
  opts: ConvTransposeOptions = {},
): Tensor {
  return convTransposeNd("convTranspose3d", 3, x, weight, bias, opts);
}

/**
 * Measures (now) which kernel runs each pass of a conv2d fastest on this adapter, for the shape
 * of `x` [N, C, H, W] and `weight` [O, C/groups, kh, kw] with stride 1 and the given padding.
 */
export async function tuneConv2d(
  xShape: readonly number[],
  wShape: readonly number[],
  opts: { padding?: number; groups?: number; passes?: readonly ConvPass[] } = {},
): Promise<TuneResult[]> {
  const [N, C, H, W] = xShape, [O, , kh, kw] = wShape;
  const p = opts.padding ?? 0;
  const g: ConvGeom = {
    N,
    C,
    O,
    G: opts.groups ?? 1,
    inSize: [1, H, W],
    outSize: [1, H + 2 * p - kh + 1, W + 2 * p - kw + 1],
    kernel: [1, kh, kw],
    stride: [1, 1, 1],
    padding: [0, p, p],
    dilation: [1, 1, 1],
  };
  const passes = opts.passes ?? ["forward", "dataGrad", "weightGrad"];
  // One pass at a time: concurrent measurements would time each other's kernels.
  const results: TuneResult[] = [];
  for (const pass of passes) results.push(await tuneConv(pass, g));
  return results;
}
