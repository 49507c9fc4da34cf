/**
 * Window helpers of Swin / Video Swin style attention on channels-last grids:
 * partition into non-overlapping windows (padding the grid up to a multiple of the window),
 * the reverse (cropping that padding away), cyclic shifts (`roll`) and the shifted-window
 * attention mask.
 *
 * Padding contract: `windowPartition*` pads the spatial dims at their end with zeros up to
 * the next multiple of the window; `windowReverse*` takes the ORIGINAL spatial sizes, recomputes
 * the padded ones (`paddedSizes`) and crops back. Everything is differentiable.
 */
import { record } from "../autograd.ts";
import { fmtShape, normDim, numel } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { tensor } from "./creation.ts";
import { contiguous } from "./elementwise.ts";
import { pad } from "./join.ts";
import { empty, runMap } from "./map.ts";
import { permute, reshape, slice } from "./view.ts";

/** A window size: one number for every spatial dim, or one per dim. */
export type WindowSize = number | readonly number[];

function windowSizes(ws: WindowSize, n: number, op: string): number[] {
  const out = typeof ws === "number" ? new Array<number>(n).fill(ws) : [...ws];
  if (out.length !== n || !out.every((w) => Number.isInteger(w) && w > 0)) {
    throw new RangeError(`${op}: windowSize must be a positive integer or ${n} of them, got ${JSON.stringify(ws)}`);
  }
  return out;
}

function checkGrid(x: unknown, n: number, op: string): Tensor {
  if (!(x instanceof Tensor)) throw new TypeError(`${op}: input must be a Tensor, got ${typeof x}`);
  x.assertLive(op);
  if (x.ndim !== n + 2) {
    const names = n === 2 ? "(B, H, W, C)" : "(B, D, H, W, C)";
    throw new RangeError(`${op}: expected a ${n + 2}-D channels-last input ${names}, got ${fmtShape(x.shape)}`);
  }
  return x;
}

/** Spatial sizes rounded up to multiples of the window (what `windowPartition*` pads to). */
export function paddedSizes(spatial: readonly number[], windowSize: WindowSize): number[] {
  const ws = windowSizes(windowSize, spatial.length, "paddedSizes");
  return spatial.map((s, i) => Math.ceil(s / ws[i]) * ws[i]);
}

/** Runs (at least one of) `steps` in order, disposing intermediate results (the graph keeps what it needs). */
function chain(x: Tensor, steps: ((t: Tensor) => Tensor)[]): Tensor {
  let cur = x;
  for (const step of steps) {
    const next = step(cur);
    if (cur !== x) cur.dispose();
    cur = next;
  }
  return cur;
}

function partition(x: Tensor, windowSize: WindowSize, n: number, op: string): Tensor {
  checkGrid(x, n, op);
  const ws = windowSizes(windowSize, n, op);
  const B = x.shape[0], C = x.shape[n + 1], sp = x.shape.slice(1, n + 1);
  const P = paddedSizes(sp, ws);
  const counts = P.map((p, i) => p / ws[i]);
  const padList = [0, 0, ...sp.map((s, i) => [0, P[i] - s]).reverse().flat()];
  const grid = [B, ...counts.flatMap((c, i) => [c, ws[i]]), C];
  const perm = [0, ...counts.map((_, i) => 1 + 2 * i), ...ws.map((_, i) => 2 + 2 * i), 2 * n + 1];
  const steps = P.some((p, i) => p !== sp[i]) ? [(t: Tensor) => pad(t, padList)] : [];
  return chain(x, [
    ...steps,
    (t) => reshape(t, grid),
    (t) => permute(t, perm),
    (t) => reshape(t, [B * numel(counts), ...ws, C]),
  ]);
}

function reverse(windows: Tensor, windowSize: WindowSize, spatial: readonly number[], n: number, op: string): Tensor {
  checkGrid(windows, n, op);
  const ws = windowSizes(windowSize, n, op);
  if (spatial.length !== n || !spatial.every((s) => Number.isInteger(s) && s > 0)) {
    throw new RangeError(`${op}: expected ${n} positive spatial sizes, got ${JSON.stringify(spatial)}`);
  }
  if (windows.shape.slice(1, n + 1).some((w, i) => w !== ws[i])) {
    throw new RangeError(`${op}: windows ${fmtShape(windows.shape)} do not match windowSize ${JSON.stringify(ws)}`);
  }
  const P = paddedSizes(spatial, ws);
  const counts = P.map((p, i) => p / ws[i]);
  const nW = numel(counts), C = windows.shape[n + 1];
  if (windows.shape[0] % nW !== 0) {
    throw new RangeError(
      `${op}: ${windows.shape[0]} windows is not a multiple of the ${nW} windows per sample of a ${
        fmtShape(spatial)
      } grid`,
    );
  }
  const B = windows.shape[0] / nW;
  const perm = [0, ...counts.flatMap((_, i) => [1 + i, 1 + n + i]), 2 * n + 1];
  const steps = [
    (t: Tensor) => reshape(t, [B, ...counts, ...ws, C]),
    (t: Tensor) => permute(t, perm),
    (t: Tensor) => reshape(t, [B, ...P, C]),
  ];
  if (P.some((p, i) => p !== spatial[i])) {
    spatial.forEach((s, i) => steps.push((t) => slice(t, 1 + i, 0, s)));
    steps.push((t) => contiguous(t));
  }
  return chain(windows, steps);
}

/** (B, H, W, C) → (B·nW, wh, ww, C) windows, zero-padding H and W up to multiples of the window. */
export function windowPartition2d(x: Tensor, windowSize: WindowSize): Tensor {
  return partition(x, windowSize, 2, "windowPartition2d");
}

/** (B·nW, wh, ww, C) windows → (B, H, W, C); H, W are the sizes before padding (padding is cropped). */
export function windowReverse2d(windows: Tensor, windowSize: WindowSize, H: number, W: number): Tensor {
  return reverse(windows, windowSize, [H, W], 2, "windowReverse2d");
}

/** (B, D, H, W, C) → (B·nW, wd, wh, ww, C) windows, zero-padding D, H, W up to multiples of the window. */
export function windowPartition3d(x: Tensor, windowSize: WindowSize): Tensor {
  return partition(x, windowSize, 3, "windowPartition3d");
}

/** (B·nW, wd, wh, ww, C) windows → (B, D, H, W, C); D, H, W are the sizes before padding. */
export function windowReverse3d(windows: Tensor, windowSize: WindowSize, D: number, H: number, W: number): Tensor {
  return reverse(windows, windowSize, [D, H, W], 3, "windowReverse3d");
}

/** Copies of `x` rolled by `shifts` along `dims`, without autograd. */
function rollRaw(x: Tensor, shifts: number[], dims: number[]): Tensor {
  const out = empty(x.shape, x.dtype, "roll");
  if (x.size === 0) return out;
  // Each dim splits into at most two blocks; copy every combination of blocks once.
  let blocks: { src: number[]; dst: number[]; len: number[] }[] = [{ src: [], dst: [], len: [] }];
  x.shape.forEach((n, d) => {
    const k = dims.indexOf(d);
    const s = k < 0 ? 0 : ((shifts[k] % n) + n) % n;
    const parts = s === 0 ? [[0, 0, n]] : [[0, s, n - s], [n - s, 0, s]];
    blocks = blocks.flatMap((b) =>
      parts.map(([src, dst, len]) => ({ src: [...b.src, src], dst: [...b.dst, dst], len: [...b.len, len] }))
    );
  });
  const at = (t: Tensor, starts: number[]) => starts.reduce((o, s, d) => o + s * t.strides[d], t.offset);
  for (const b of blocks) {
    const src = x.viewAs(b.len, x.strides, at(x, b.src)), dst = out.viewAs(b.len, out.strides, at(out, b.dst));
    runMap({ op: "roll", expr: "x", inputs: [src], names: ["x"], out: x.dtype, into: dst });
    src.dispose();
    dst.dispose();
  }
  return out;
}

/** `torch.roll(x, shifts, dims)`: element i moves to i + shift (mod size) along each dim. */
export function roll(x: Tensor, shifts: number | readonly number[], dims: number | readonly number[]): Tensor {
  if (!(x instanceof Tensor)) throw new TypeError(`roll: input must be a Tensor, got ${typeof x}`);
  x.assertLive("roll");
  const s = typeof shifts === "number" ? [shifts] : [...shifts];
  const d = (typeof dims === "number" ? [dims] : [...dims]).map((v) => normDim(v, x.ndim, "roll"));
  if (s.length !== d.length || !s.every(Number.isInteger)) {
    throw new RangeError(`roll: shifts ${JSON.stringify(shifts)} and dims ${JSON.stringify(dims)} must pair up`);
  }
  const out = rollRaw(x, s, d);
  if (x.dtype !== "float32") return out;
  return record("roll", out, [x], (g) => [rollRaw(g, s.map((v) => -v), d)]);
}

/**
 * Rolls the spatial dims of a channels-last (B, …spatial, C) grid: Swin shifts with negative
 * amounts (`cyclicShift(x, -s)`) before window attention and shifts back with positive ones.
 */
export function cyclicShift(x: Tensor, shift: number | readonly number[]): Tensor {
  if (!(x instanceof Tensor)) throw new TypeError(`cyclicShift: input must be a Tensor, got ${typeof x}`);
  const n = x.ndim - 2;
  if (n < 1) throw new RangeError(`cyclicShift: expected (B, …spatial, C), got ${fmtShape(x.shape)}`);
  const s = typeof shift === "number" ? new Array<number>(n).fill(shift) : [...shift];
  if (s.length !== n) throw new RangeError(`cyclicShift: expected ${n} shifts, got ${JSON.stringify(shift)}`);
  return roll(x, s, s.map((_, i) => i + 1));
}

/** Options of the shifted-window masks. */
export interface ShiftedWindowMaskOptions {
  /** Score added between tokens of different regions (Swin: −100; −Infinity masks exactly). */
  value?: number;
}

/**
 * Swin's shifted-window attention mask for a grid of `spatial` sizes (before padding):
 * (nW, N, N) with 0 inside a region and `value` across regions, N = Π window. Add it to
 * per-window scores viewed as (B, nW, heads, N, N), e.g. as the SDPA mask (nW, 1, N, N).
 * A dim with shift 0 is one region, as in Swin's slicing.
 */
export function shiftedWindowMask(
  spatial: readonly number[],
  windowSize: WindowSize,
  shiftSize: WindowSize,
  opts: ShiftedWindowMaskOptions = {},
): Tensor {
  const n = spatial.length;
  const ws = windowSizes(windowSize, n, "shiftedWindowMask");
  const ss = typeof shiftSize === "number" ? new Array<number>(n).fill(shiftSize) : [...shiftSize];
  if (ss.length !== n || ss.some((s, i) => !Number.isInteger(s) || s < 0 || s >= ws[i])) {
    throw new RangeError(
      `shiftedWindowMask: shiftSize must be in [0, window) per dim, got ${JSON.stringify(shiftSize)}`,
    );
  }
  const value = opts.value ?? -100;
  const P = paddedSizes(spatial, ws);
  const counts = P.map((p, i) => p / ws[i]);
  const nW = numel(counts), N = numel(ws);
  const region = (c: number, i: number) => (ss[i] === 0 ? 0 : c < P[i] - ws[i] ? 0 : c < P[i] - ss[i] ? 1 : 2);
  // ids[w][t]: region id of token t of window w (windows and tokens row-major).
  const ids = new Int32Array(nW * N);
  for (let w = 0; w < nW; w++) {
    for (let t = 0; t < N; t++) {
      let id = 0, wr = w, tr = t;
      const g: number[] = new Array(n), o: number[] = new Array(n);
      for (let i = n - 1; i >= 0; i--) {
        g[i] = wr % counts[i];
        wr = Math.floor(wr / counts[i]);
        o[i] = tr % ws[i];
        tr = Math.floor(tr / ws[i]);
      }
      for (let i = 0; i < n; i++) id = id * 3 + region(g[i] * ws[i] + o[i], i);
      ids[w * N + t] = id;
    }
  }
  const mask = new Float32Array(nW * N * N);
  for (let w = 0; w < nW; w++) {
    for (let a = 0; a < N; a++) {
      for (let b = 0; b < N; b++) if (ids[w * N + a] !== ids[w * N + b]) mask[(w * N + a) * N + b] = value;
    }
  }
  return tensor(mask, [nW, N, N]);
}

/** `shiftedWindowMask` for an (H, W) grid. */
export function shiftedWindowMask2d(
  H: number,
  W: number,
  windowSize: WindowSize,
  shiftSize: WindowSize,
  opts: ShiftedWindowMaskOptions = {},
): Tensor {
  return shiftedWindowMask([H, W], windowSize, shiftSize, opts);
}

/** `shiftedWindowMask` for a (D, H, W) grid. */
export function shiftedWindowMask3d(
  D: number,
  H: number,
  W: number,
  windowSize: WindowSize,
  shiftSize: WindowSize,
  opts: ShiftedWindowMaskOptions = {},
): Tensor {
  return shiftedWindowMask([D, H, W], windowSize, shiftSize, opts);
}
