/**
 * Dropout: zeroes elements (or whole channels) with probability p and scales the rest by
 * 1/(1 − p). The uniform draws are saved, so the backward mask is the forward's exactly.
 */
import { record } from "../autograd.ts";
import { fmtShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { runMap } from "./map.ts";
import { type Generator, rand } from "./random.ts";

/** Options of the dropout functions. */
export interface DropoutOptions {
  /** Generator to draw the mask from (default: the global one). */
  generator?: Generator;
}

/** y = x·[u ≥ p]/(1 − p) for uniform draws u broadcast over x (p = 1 gives zeros). */
function masked(op: string, x: Tensor, u: Tensor, p: number): Tensor {
  const params = [{ name: "p", value: p, type: "f32" as const }, {
    name: "s",
    value: p < 1 ? 1 / (1 - p) : 0,
    type: "f32" as const,
  }];
  const expr = "select(0.0, v * s, u >= p)";
  const y = runMap({ op, expr, inputs: [x, u], names: ["v", "u"], params, out: "float32", shape: x.shape });
  return record(op, y, [x], (g, [us]) => [
    runMap({ op: `${op}.backward`, expr, inputs: [g, us], names: ["v", "u"], params, out: "float32", shape: g.shape }),
  ], [u]);
}

function check(op: string, x: Tensor, p: number): void {
  if (!(x instanceof Tensor)) throw new TypeError(`${op}: input must be a Tensor, got ${typeof x}`);
  x.assertLive(op);
  if (x.dtype !== "float32") throw new TypeError(`${op}: input must be float32, got ${x.dtype}`);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${op}: p must be in [0, 1], got ${p}`);
}

/** The input itself (a new handle whose gradient passes straight through). */
function identity(op: string, x: Tensor): Tensor {
  return record(op, x.alias(), [x], (g) => [g.alias()]);
}

function run(op: string, x: Tensor, p: number, training: boolean, maskShape: number[], opts: DropoutOptions): Tensor {
  if (!training || p === 0) return identity(op, x);
  const u = rand(maskShape, { generator: opts.generator });
  const y = masked(op, x, u, p);
  u.dispose();
  return y;
}

/** Zeroes each element with probability `p` and scales the others by 1/(1 − p); identity when not training. */
export function dropout(x: Tensor, p = 0.5, training = true, opts: DropoutOptions = {}): Tensor {
  check("dropout", x, p);
  return run("dropout", x, p, training, [...x.shape], opts);
}

/** Channel mask shape: (N, C, 1, …) for batched input, (C, 1, …) for unbatched. */
function channelDropout(
  op: string,
  x: Tensor,
  dims: number,
  p: number,
  training: boolean,
  opts: DropoutOptions,
): Tensor {
  check(op, x, p);
  if (x.ndim !== dims + 1 && x.ndim !== dims + 2) {
    throw new RangeError(`${op}: expected a ${dims + 1}-D or ${dims + 2}-D input, got shape ${fmtShape(x.shape)}`);
  }
  const lead = x.ndim - dims;
  const maskShape = x.shape.map((d, i) => (i < lead ? d : 1));
  return run(op, x, p, training, maskShape, opts);
}

/** Zeroes whole channels of (N, C, H, W) or (C, H, W) with probability `p`, scaling the rest by 1/(1 − p). */
export function dropout2d(x: Tensor, p = 0.5, training = true, opts: DropoutOptions = {}): Tensor {
  return channelDropout("dropout2d", x, 2, p, training, opts);
}

/** Zeroes whole channels of (N, C, D, H, W) or (C, D, H, W) with probability `p`, scaling the rest by 1/(1 − p). */
export function dropout3d(x: Tensor, p = 0.5, training = true, opts: DropoutOptions = {}): Tensor {
  return channelDropout("dropout3d", x, 3, p, training, opts);
}

/** Options of {@linkcode stochasticDepth}. */
export interface StochasticDepthOptions extends DropoutOptions {
  /** `"row"` drops each sample's residual branch on its own (default); `"batch"` the whole batch at once. */
  mode?: "row" | "batch";
}

/**
 * Stochastic depth (drop path, torchvision's `stochastic_depth`): zeroes a residual branch's
 * output per sample (or per batch) with probability `p`, scaling kept ones by 1/(1 − p);
 * identity when not training.
 */
export function stochasticDepth(x: Tensor, p: number, training = true, opts: StochasticDepthOptions = {}): Tensor {
  check("stochasticDepth", x, p);
  const mode = opts.mode ?? "row";
  if (mode !== "row" && mode !== "batch") {
    throw new RangeError(`stochasticDepth: mode must be "row" or "batch", got ${JSON.stringify(mode)}`);
  }
  if (x.ndim === 0) throw new RangeError("stochasticDepth: input needs a batch dimension, got a scalar");
  const maskShape = x.shape.map((d, i) => (i === 0 && mode === "row" ? d : 1));
  return run("stochasticDepth", x, p, training, maskShape, opts);
}
