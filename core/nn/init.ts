/**
 * Parameter initialisation (torch.nn.init): fills a float32 tensor's storage in place on the
 * GPU from the seeded counter-based generator, with PyTorch's fan and gain formulas.
 */
import { fmtShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { type MapParam, runMap } from "../ops/map.ts";
import { type Generator, rand, randn } from "../ops/random.ts";

/** Options shared by the random initialisers. */
export interface InitOptions {
  /** Generator to draw from (default: the global one). */
  generator?: Generator;
}

/** Non-linearities known to `calculateGain` (PyTorch's names, plus camelCase spellings). */
export type Nonlinearity =
  | "linear"
  | "identity"
  | "conv1d"
  | "conv2d"
  | "conv3d"
  | "conv_transpose1d"
  | "conv_transpose2d"
  | "conv_transpose3d"
  | "convTranspose1d"
  | "convTranspose2d"
  | "convTranspose3d"
  | "sigmoid"
  | "tanh"
  | "relu"
  | "leaky_relu"
  | "leakyRelu"
  | "selu";

/** Which fan Kaiming initialisation preserves: the forward pass's (`fan_in`) or the backward's. */
export type FanMode = "fan_in" | "fan_out" | "fanIn" | "fanOut";

/** Options of `kaimingUniform_` / `kaimingNormal_`. */
export interface KaimingOptions extends InitOptions {
  /** Negative slope of the leaky ReLU after this layer (default 0). */
  a?: number;
  /** Fan to preserve (default `"fan_in"`). */
  mode?: FanMode;
  /** Non-linearity after this layer (default `"leaky_relu"`). */
  nonlinearity?: Nonlinearity;
}

function target(t: Tensor, op: string): Tensor {
  if (!(t instanceof Tensor)) throw new TypeError(`${op}: expected a Tensor, got ${typeof t}`);
  t.assertLive(op);
  if (t.dtype !== "float32") throw new TypeError(`${op}: only float32 tensors can be initialised, got ${t.dtype}`);
  return t;
}

/** Writes `expr` (over the random draw `u` and `params`) into `t`. */
function fillFrom(t: Tensor, op: string, draw: Tensor | null, expr: string, params: MapParam[], pre = ""): Tensor {
  try {
    runMap({
      op,
      expr,
      inputs: draw ? [draw] : [],
      names: draw ? ["u"] : [],
      params,
      out: "float32",
      into: t,
      preamble: pre,
    });
  } finally {
    draw?.dispose();
  }
  return t;
}

const f32 = (name: string, value: number): MapParam => ({ name, value, type: "f32" });

/** Recommended gain for a non-linearity (`param` is the leaky ReLU slope, default 0.01). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case "linear":
    case "identity":
    case "conv1d":
    case "conv2d":
    case "conv3d":
    case "conv_transpose1d":
    case "conv_transpose2d":
    case "conv_transpose3d":
    case "convTranspose1d":
    case "convTranspose2d":
    case "convTranspose3d":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leaky_relu":
    case "leakyRelu": {
      const slope = param ?? 0.01;
      if (typeof slope !== "number" || !Number.isFinite(slope)) {
        throw new TypeError(`calculateGain: negative slope ${slope} is not a valid number`);
      }
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case "selu":
      return 3 / 4;
    default:
      throw new RangeError(`calculateGain: unsupported non-linearity ${JSON.stringify(nonlinearity)}`);
  }
}

/**
 * PyTorch's fans of a weight shape: fan_in = shape[1]·receptive field, fan_out =
 * shape[0]·receptive field, where the receptive field is the product of shape[2:].
 */
export function calculateFanInAndFanOut(tensorOrShape: Tensor | readonly number[]): { fanIn: number; fanOut: number } {
  const shape = tensorOrShape instanceof Tensor ? tensorOrShape.shape : tensorOrShape;
  if (shape.length < 2) {
    throw new RangeError(
      `calculateFanInAndFanOut: fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions ` +
        `(shape ${fmtShape(shape)})`,
    );
  }
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

function fan(t: Tensor, mode: FanMode, op: string): number {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  if (mode === "fan_in" || mode === "fanIn") return fanIn;
  if (mode === "fan_out" || mode === "fanOut") return fanOut;
  throw new RangeError(`${op}: mode must be "fan_in" or "fan_out", got ${JSON.stringify(mode)}`);
}

/** Fills `t` with samples of U(a, b); returns `t`. */
export function uniform_(t: Tensor, a = 0, b = 1, opts: InitOptions = {}): Tensor {
  target(t, "uniform_");
  if (!(a <= b)) throw new RangeError(`uniform_: need a ≤ b, got a=${a} b=${b}`);
  const u = rand(t.shape, { generator: opts.generator });
  return fillFrom(t, "init.uniform", u, "lo + (hi - lo) * u", [f32("lo", a), f32("hi", b)]);
}

/** Fills `t` with samples of N(mean, std²); returns `t`. */
export function normal_(t: Tensor, mean = 0, std = 1, opts: InitOptions = {}): Tensor {
  target(t, "normal_");
  if (!(std >= 0)) throw new RangeError(`normal_: std must be ≥ 0, got ${std}`);
  const z = randn(t.shape, { generator: opts.generator });
  return fillFrom(t, "init.normal", z, "m + s * u", [f32("m", mean), f32("s", std)]);
}

/** Fills `t` with `value`; returns `t`. */
export function constant_(t: Tensor, value: number): Tensor {
  target(t, "constant_");
  return fillFrom(t, "init.constant", null, "v", [f32("v", value)]);
}

/** Fills `t` with zeros; returns `t`. */
export function zeros_(t: Tensor): Tensor {
  return constant_(t, 0);
}

/** Fills `t` with ones; returns `t`. */
export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}

/** Glorot uniform: U(−b, b) with b = gain·√(6/(fan_in + fan_out)); returns `t`. */
export function xavierUniform_(t: Tensor, gain = 1, opts: InitOptions = {}): Tensor {
  target(t, "xavierUniform_");
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -bound, bound, opts);
}

/** Glorot normal: N(0, σ²) with σ = gain·√(2/(fan_in + fan_out)); returns `t`. */
export function xavierNormal_(t: Tensor, gain = 1, opts: InitOptions = {}): Tensor {
  target(t, "xavierNormal_");
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  return normal_(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)), opts);
}

function kaimingStd(t: Tensor, opts: KaimingOptions, op: string): number {
  target(t, op);
  const f = fan(t, opts.mode ?? "fan_in", op);
  const gain = calculateGain(opts.nonlinearity ?? "leaky_relu", opts.a ?? 0);
  return gain / Math.sqrt(f);
}

/** He uniform: U(−b, b) with b = gain·√(3/fan); returns `t` (a zero-element tensor is left alone). */
export function kaimingUniform_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  target(t, "kaimingUniform_");
  if (t.size === 0) return t;
  const bound = Math.sqrt(3) * kaimingStd(t, opts, "kaimingUniform_");
  return uniform_(t, -bound, bound, opts);
}

/** He normal: N(0, σ²) with σ = gain/√fan; returns `t` (a zero-element tensor is left alone). */
export function kaimingNormal_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  target(t, "kaimingNormal_");
  if (t.size === 0) return t;
  return normal_(t, 0, kaimingStd(t, opts, "kaimingNormal_"), opts);
}

/** erf(x) in float64: Maclaurin series for |x| < 2.5, erfc's continued fraction beyond. */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let sum = x, term = x;
    const x2 = x * x;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc by continued fraction (Lentz), accurate for |x| ≥ 2.5.
  let f = ax, c = ax, d = 0;
  for (let n = 1; n < 200; n++) {
    const an = n / 2;
    d = ax + an * d;
    d = d === 0 ? 1e-300 : 1 / d;
    c = ax + an / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / (f * Math.sqrt(Math.PI));
  return Math.sign(x) * (1 - erfc);
}

// Mike Giles' single-precision erfinv ("Approximating the erfinv function", 2010).
const ERFINV_WGSL = `
fn erfinv_(x: f32) -> f32 {
  var w = -log((1.0 - x) * (1.0 + x));
  var p: f32;
  if (w < 5.0) {
    w = w - 2.5;
    p = 2.81022636e-08;
    p = 3.43273939e-07 + p * w;
    p = -3.5233877e-06 + p * w;
    p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
  } else {
    w = sqrt(w) - 3.0;
    p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
  }
  return p * x;
}`;

/**
 * Samples N(mean, std²) truncated to [a, b] (PyTorch's inverse-CDF method: uniform draws
 * between Φ(α) and Φ(β), mapped back through erfinv, then clamped); returns `t`.
 */
export function truncNormal_(t: Tensor, mean = 0, std = 1, a = -2, b = 2, opts: InitOptions = {}): Tensor {
  target(t, "truncNormal_");
  if (!(std > 0)) throw new RangeError(`truncNormal_: std must be > 0, got ${std}`);
  if (!(a < b)) throw new RangeError(`truncNormal_: need a < b, got a=${a} b=${b}`);
  if (mean < a - 2 * std || mean > b + 2 * std) {
    console.warn("truncNormal_: mean is more than 2 std from [a, b]; the distribution of values may be incorrect");
  }
  const cdf = (x: number) => (1 + erf(x / Math.SQRT2)) / 2;
  const l = cdf((a - mean) / std), u = cdf((b - mean) / std);
  const draw = rand(t.shape, { generator: opts.generator });
  return fillFrom(
    t,
    "init.truncNormal",
    draw,
    "clamp(erfinv_(clamp(2.0 * (l + (h - l) * u) - 1.0, -0.99999994, 0.99999994)) * s * 1.4142135623730951 + m, lo, hi)",
    [f32("l", l), f32("h", u), f32("s", std), f32("m", mean), f32("lo", a), f32("hi", b)],
    ERFINV_WGSL,
  );
}

/**
 * PyTorch's default initialisation of `Linear` and `Conv*` layers: weight
 * kaiming_uniform(a = √5), bias U(−1/√fan_in, 1/√fan_in) with fan_in from the weight.
 */
export function linearLayerInit_(weight: Tensor, bias: Tensor | null, generator?: Generator): void {
  kaimingUniform_(weight, { a: Math.sqrt(5), generator });
  if (bias) {
    const { fanIn } = calculateFanInAndFanOut(weight);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniform_(bias, -bound, bound, { generator });
  }
}
