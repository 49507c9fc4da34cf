/**
 * Every elementwise op declared once: its WGSL forward expression, the WGSL expression of
 * each input's gradient, and a plain-JS float64 reference (used by tests).
 *
 * Variables: unary ops read `x`; binary ops `a`, `b`; gradients also see `g` (incoming
 * gradient) and `y` (the op's output). Scalar options arrive as `p0`, `p1`. `T` is the
 * compute type (f32, or i32 for integer-preserving ops).
 */

/** A unary elementwise op. */
export interface UnaryDef {
  /** WGSL expression of x (and p0, p1). */
  fwd: string;
  /** WGSL expression of the input gradient (g, x, y, p…); undefined = not differentiable. */
  grad?: string;
  /** Float64 reference. */
  ref: (x: number, p0: number, p1: number) => number;
  /** Int inputs keep their dtype (otherwise the result is float32). */
  intOk?: boolean;
}

/** A binary elementwise op. */
export interface BinaryDef {
  /** WGSL expression of a, b. */
  fwd: string;
  /** Gradient expressions for a and b (g, a, b, y). */
  grad?: [string, string];
  /** Float64 reference. */
  ref: (a: number, b: number) => number;
  /** Int inputs keep an int result. */
  intOk?: boolean;
  /** Result is bool (comparisons). */
  bool?: boolean;
}

const SQRT1_2 = "0.7071067811865476";
const INV_SQRT_2PI = "0.3989422804014327";
const GELU_K = "0.7978845608028654";

function erfRef(x: number): number {
  // series/continued fraction accurate to ~1e-15 for the reference
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const y = 1 - t * Math.exp(
        -x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
                          t *
                            (0.27886807 +
                              t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
      );
  return x >= 0 ? y : -y;
}

/** Unary ops by name. */
export const UNARY: Record<string, UnaryDef> = {
  neg: { fwd: "-x", grad: "-g", ref: (x) => -x, intOk: true },
  abs: { fwd: "abs(x)", grad: "g * sign(x)", ref: Math.abs, intOk: true },
  square: { fwd: "x * x", grad: "2.0 * g * x", ref: (x) => x * x, intOk: true },
  exp: { fwd: "exp(x)", grad: "g * y", ref: Math.exp },
  log: { fwd: "log(x)", grad: "g / x", ref: Math.log },
  sqrt: { fwd: "sqrt(x)", grad: "g * 0.5 / y", ref: Math.sqrt },
  rsqrt: { fwd: "inverseSqrt(x)", grad: "g * -0.5 * y * y * y", ref: (x) => 1 / Math.sqrt(x) },
  sin: { fwd: "sin(x)", grad: "g * cos(x)", ref: Math.sin },
  cos: { fwd: "cos(x)", grad: "-g * sin(x)", ref: Math.cos },
  tanh: { fwd: "select(tanh(x), sign(x), abs(x) > 15.0)", grad: "g * (1.0 - y * y)", ref: Math.tanh },
  sigmoid: { fwd: "1.0 / (1.0 + exp(-x))", grad: "g * y * (1.0 - y)", ref: (x) => 1 / (1 + Math.exp(-x)) },
  relu: { fwd: "max(x, T(0))", grad: "select(0.0, g, x > 0.0)", ref: (x) => Math.max(x, 0), intOk: true },
  leakyRelu: {
    fwd: "select(x * p0, x, x > 0.0)",
    grad: "select(g * p0, g, x > 0.0)",
    ref: (x, s) => (x > 0 ? x : x * s),
  },
  silu: {
    fwd: "x / (1.0 + exp(-x))",
    grad: "g * (1.0 / (1.0 + exp(-x))) * (1.0 + x * (1.0 - 1.0 / (1.0 + exp(-x))))",
    ref: (x) => x / (1 + Math.exp(-x)),
  },
  gelu: {
    fwd: `0.5 * x * (1.0 + erf_(x * ${SQRT1_2}))`,
    grad: `g * (0.5 * (1.0 + erf_(x * ${SQRT1_2})) + x * ${INV_SQRT_2PI} * exp(-0.5 * x * x))`,
    ref: (x) => 0.5 * x * (1 + erfRef(x / Math.SQRT2)),
  },
  geluTanh: {
    fwd: `0.5 * x * (1.0 + tanh(clamp(${GELU_K} * (x + 0.044715 * x * x * x), -15.0, 15.0)))`,
    grad: `g * (0.5 * (1.0 + tanh(clamp(${GELU_K} * (x + 0.044715 * x * x * x), -15.0, 15.0))) + 0.5 * x * ` +
      `(1.0 - pow(tanh(clamp(${GELU_K} * (x + 0.044715 * x * x * x), -15.0, 15.0)), 2.0)) * ${GELU_K} * ` +
      `(1.0 + 0.134145 * x * x))`,
    ref: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  },
  softplus: {
    fwd: "select(log1p_(exp(p0 * x)) / p0, x, p0 * x > p1)",
    grad: "select(g / (1.0 + exp(-p0 * x)), g, p0 * x > p1)",
    ref: (x, beta, th) => (beta * x > th ? x : Math.log1p(Math.exp(beta * x)) / beta),
  },
  clamp: {
    fwd: "min(max(x, p0), p1)",
    grad: "select(0.0, g, x >= p0 && x <= p1)",
    ref: (x, lo, hi) => Math.min(Math.max(x, lo), hi),
    intOk: true,
  },
  powScalar: {
    fwd: "pow_(x, p0)",
    grad: "g * p0 * pow_(x, p0 - 1.0)",
    ref: (x, e) => Math.pow(x, e),
  },
};

/** Binary ops by name. */
export const BINARY: Record<string, BinaryDef> = {
  add: { fwd: "a + b", grad: ["g", "g"], ref: (a, b) => a + b, intOk: true },
  sub: { fwd: "a - b", grad: ["g", "-g"], ref: (a, b) => a - b, intOk: true },
  mul: { fwd: "a * b", grad: ["g * b", "g * a"], ref: (a, b) => a * b, intOk: true },
  div: { fwd: "a / b", grad: ["g / b", "-g * a / (b * b)"], ref: (a, b) => a / b },
  pow: {
    fwd: "pow_(a, b)",
    grad: ["g * b * pow_(a, b - 1.0)", "select(g * y * log(a), 0.0, a == 0.0 && b >= 0.0)"],
    ref: Math.pow,
  },
  minimum: {
    fwd: "min(a, b)",
    grad: ["select(select(0.0, g * 0.5, a == b), g, a < b)", "select(select(0.0, g * 0.5, a == b), g, b < a)"],
    ref: Math.min,
    intOk: true,
  },
  maximum: {
    fwd: "max(a, b)",
    grad: ["select(select(0.0, g * 0.5, a == b), g, a > b)", "select(select(0.0, g * 0.5, a == b), g, b > a)"],
    ref: Math.max,
    intOk: true,
  },
  eq: { fwd: "a == b", ref: (a, b) => Number(a === b), bool: true, intOk: true },
  ne: { fwd: "a != b", ref: (a, b) => Number(a !== b), bool: true, intOk: true },
  lt: { fwd: "a < b", ref: (a, b) => Number(a < b), bool: true, intOk: true },
  le: { fwd: "a <= b", ref: (a, b) => Number(a <= b), bool: true, intOk: true },
  gt: { fwd: "a > b", ref: (a, b) => Number(a > b), bool: true, intOk: true },
  ge: { fwd: "a >= b", ref: (a, b) => Number(a >= b), bool: true, intOk: true },
};
