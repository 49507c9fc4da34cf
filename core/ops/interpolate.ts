/**
 * `interpolate`: nearest, linear, bilinear and trilinear resampling of (N, C, L),
 * (N, C, H, W) and (N, C, D, H, W) with PyTorch's coordinate conventions, forward and backward.
 */
import { noGrad, record } from "../autograd.ts";
import { dispatch, grid1d, pipeline } from "../device.ts";
import { INTERP_META_WORDS, interpSource } from "../kernels/interpolate.ts";
import { WG } from "../kernels/wgsl.ts";
import { fmtShape, numel } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { fromWords } from "./creation.ts";
import { contiguous } from "./elementwise.ts";
import { empty } from "./map.ts";

/** Resampling modes. */
export type InterpolateMode = "nearest" | "linear" | "bilinear" | "trilinear";

/** Options of `interpolate`: exactly one of `size` and `scaleFactor`. */
export interface InterpolateOptions {
  /** Output spatial size (one for all dims, or one per dim). */
  size?: number | readonly number[];
  /** Multiplier of the spatial size (one for all dims, or one per dim). */
  scaleFactor?: number | readonly number[];
  /** Sampling mode (default "nearest"). */
  mode?: InterpolateMode;
  /** Linear modes: map corner pixel centres onto each other (default false). */
  alignCorners?: boolean;
  /** Map coordinates with input/output sizes instead of the given `scaleFactor` (default false). */
  recomputeScaleFactor?: boolean;
}

const f = Math.fround;

/** PyTorch's `area_pixel_compute_scale` in float32. */
function pixelScale(I: number, O: number, alignCorners: boolean, sf: number | undefined): number {
  if (alignCorners) return O > 1 ? f((I - 1) / (O - 1)) : 0;
  return sf !== undefined && sf > 0 ? f(1 / sf) : f(I / O);
}

/** Forward (i0, i1, λ) per output and backward [lo, hi) per input of one dim. */
function dimTable(I: number, O: number, linear: boolean, alignCorners: boolean, sf: number | undefined) {
  const a = new Uint32Array(O), b = new Uint32Array(O), l = new Float32Array(O);
  if (!linear) {
    const scale = sf !== undefined && sf > 0 ? f(1 / sf) : f(I / O);
    for (let o = 0; o < O; o++) {
      a[o] = b[o] = O === I ? o : O === 2 * I ? o >> 1 : Math.min(Math.floor(f(o * scale)), I - 1);
    }
  } else {
    const scale = pixelScale(I, O, alignCorners, sf);
    for (let o = 0; o < O; o++) {
      const src = alignCorners ? f(scale * o) : Math.max(f(f(scale * f(o + 0.5)) - 0.5), 0);
      const i0 = Math.min(Math.floor(src), I - 1);
      a[o] = i0;
      b[o] = i0 + (i0 < I - 1 ? 1 : 0);
      l[o] = Math.min(Math.max(f(src - i0), 0), 1);
    }
  }
  // Indices are non-decreasing in o, so the outputs reading input i are contiguous.
  const lo = new Uint32Array(I), hi = new Uint32Array(I);
  for (let o = O - 1; o >= 0; o--) {
    for (const i of a[o] === b[o] ? [a[o]] : [a[o], b[o]]) {
      if (hi[i] === 0) hi[i] = o + 1;
      lo[i] = o;
    }
  }
  return { a, b, l, lo, hi };
}

/** Packs the three dims' tables into one u32 buffer; returns it with the per-dim offsets. */
function buildTable(I: number[], O: number[], linear: boolean[], alignCorners: boolean, sf: (number | undefined)[]) {
  const tabs = I.map((n, j) => dimTable(n, O[j], linear[j], alignCorners, sf[j]));
  const size = tabs.reduce((acc, _, j) => acc + 3 * O[j] + 2 * I[j], 0);
  const words = new Uint32Array(size);
  const lbits = (v: number) => new Uint32Array(new Float32Array([v]).buffer)[0];
  const fwdOff: number[] = [], bwdOff: number[] = [];
  let w = 0;
  tabs.forEach((t, j) => {
    fwdOff.push(w);
    for (let o = 0; o < O[j]; o++) words.set([t.a[o], t.b[o], lbits(t.l[o])], w + 3 * o);
    w += 3 * O[j];
    bwdOff.push(w);
    for (let i = 0; i < I[j]; i++) words.set([t.lo[i], t.hi[i]], w + 2 * i);
    w += 2 * I[j];
  });
  return { words, fwdOff, bwdOff };
}

const MODE_DIMS: Record<InterpolateMode, number | null> = { nearest: null, linear: 1, bilinear: 2, trilinear: 3 };

function perDim(op: string, name: string, v: number | readonly number[], n: number, int: boolean): number[] {
  const arr = typeof v === "number" ? new Array<number>(n).fill(v) : [...v];
  if (arr.length !== n || arr.some((e) => !(e > 0) || !Number.isFinite(e) || (int && !Number.isInteger(e)))) {
    throw new RangeError(
      `${op}: ${name} must be ${int ? "a positive integer" : "a positive number"} or ${n} of them, got ${
        JSON.stringify(v)
      }`,
    );
  }
  return arr;
}

/** Resamples the spatial dims of (N, C, L), (N, C, H, W) or (N, C, D, H, W) to `size` or by `scaleFactor`. */
export function interpolate(x: Tensor, opts: InterpolateOptions): Tensor {
  const op = "interpolate";
  if (!(x instanceof Tensor)) throw new TypeError(`${op}: input must be a Tensor, got ${typeof x}`);
  x.assertLive(op);
  if (x.dtype !== "float32") throw new TypeError(`${op}: input must be float32, got ${x.dtype}`);
  const mode = opts.mode ?? "nearest";
  if (!(mode in MODE_DIMS)) throw new RangeError(`${op}: unknown mode ${JSON.stringify(mode)}`);
  const dims = x.ndim - 2;
  if (dims < 1 || dims > 3) {
    throw new RangeError(`${op}: expected a 3-D, 4-D or 5-D input (N, C, *spatial), got shape ${fmtShape(x.shape)}`);
  }
  const want = MODE_DIMS[mode];
  if (want !== null && want !== dims) {
    throw new RangeError(`${op}: mode "${mode}" needs a ${want + 2}-D input, got shape ${fmtShape(x.shape)}`);
  }
  if (mode === "nearest" && opts.alignCorners) {
    throw new RangeError(`${op}: alignCorners can only be set with the linear modes, not "nearest"`);
  }
  if ((opts.size === undefined) === (opts.scaleFactor === undefined)) {
    throw new RangeError(`${op}: give exactly one of size and scaleFactor`);
  }
  const I = x.shape.slice(2);
  let O: number[];
  let sf: (number | undefined)[] = I.map(() => undefined);
  if (opts.size !== undefined) O = perDim(op, "size", opts.size, dims, true);
  else {
    const s = perDim(op, "scaleFactor", opts.scaleFactor!, dims, false);
    O = I.map((n, j) => Math.floor(n * s[j]));
    if (O.some((n) => n < 1)) {
      throw new RangeError(
        `${op}: scaleFactor ${JSON.stringify(opts.scaleFactor)} turns input ${fmtShape(x.shape)} into an empty output`,
      );
    }
    if (!opts.recomputeScaleFactor) sf = s;
  }
  const pad = 3 - dims;
  const I3 = [...new Array<number>(pad).fill(1), ...I];
  const O3 = [...new Array<number>(pad).fill(1), ...O];
  const sf3 = [...new Array<undefined>(pad).fill(undefined), ...sf];
  const lin = mode !== "nearest";
  const linear = [0, 1, 2].map((j) => lin && j >= pad) as [boolean, boolean, boolean];
  const table = buildTable(I3, O3, linear, !!opts.alignCorners, sf3);
  const tab = fromWords(table.words, [table.words.length], "int32");
  const [N, C] = x.shape;
  const outShape = [N, C, ...O];
  const out = empty(outShape, "float32", op);
  const meta = new Uint32Array(INTERP_META_WORDS);
  meta.set([numel(outShape), C, ...I3, ...O3, ...table.fwdOff, ...table.bwdOff]);
  const sp = [...new Array<number>(pad).fill(0), ...x.strides.slice(2)];
  meta.set([x.offset, x.strides[0], x.strides[1], ...sp], 14);
  if (out.size > 0) {
    dispatch({
      op,
      pipeline: pipeline(op, interpSource({ linear, backward: false })),
      bindings: [x.storage.buffer, tab.storage.buffer, out.storage.buffer],
      uniforms: meta,
      workgroups: grid1d(Math.ceil(out.size / WG)),
    });
  }
  const inShape = x.shape;
  const y = record(op, out, [x], (g, [t]) => {
    const dx = empty(inShape, "float32", `${op}.backward`);
    if (dx.size === 0) return [dx];
    const gc = noGrad(() => contiguous(g));
    const m = meta.slice();
    m[0] = dx.size;
    m[20] = gc.offset;
    dispatch({
      op: `${op}.backward`,
      pipeline: pipeline(`${op}.backward`, interpSource({ linear, backward: true })),
      bindings: [gc.storage.buffer, t.storage.buffer, dx.storage.buffer],
      uniforms: m,
      workgroups: grid1d(Math.ceil(dx.size / WG)),
    });
    gc.dispose();
    return [dx];
  }, [tab]);
  tab.dispose();
  return y;
}
