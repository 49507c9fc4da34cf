/** Elementwise ops (forward + backward), expanded from the table in `elementwise_defs.ts`. */
import { passThroughGrad, record } from "../autograd.ts";
import { type DType, promoteTypes, storageType } from "../dtype.ts";
import type { Scalar } from "../kernels/map.ts";
import { Tensor } from "../tensor.ts";
import { BINARY, type BinaryDef, UNARY, type UnaryDef } from "./elementwise_defs.ts";
import { type MapParam, runMap } from "./map.ts";
import { sumToShape } from "./reduce.ts";
import { sameShape } from "../shape.ts";
import { dispatch, grid1d, pipeline } from "../device.ts";
import { flatMain, metaAt, metaDecl, WG } from "../kernels/wgsl.ts";

/** A tensor or a JS number. */
export type TensorOrNumber = Tensor | number;

function checkTensor(x: unknown, op: string, arg = "input"): Tensor {
  if (!(x instanceof Tensor)) throw new TypeError(`${op}: ${arg} must be a Tensor, got ${typeof x}`);
  x.assertLive(op);
  return x;
}

const uses = (expr: string, v: string) => new RegExp(`\\b${v}\\b`).test(expr);

/** Runs a gradient expression over the op's output shape, reduced back to `target`'s shape. */
function gradMap(
  op: string,
  expr: string,
  g: Tensor,
  vars: Record<string, Tensor | number>,
  params: MapParam[],
  targetShape: readonly number[],
): Tensor {
  // The gradient passes through unchanged (add, and sub's first input): no copy, only the sum
  // over broadcast dimensions where there are some.
  if (expr === "g") return sameShape(g.shape, targetShape) ? passThroughGrad(g) : sumToShape(g, targetShape);
  const inputs: Tensor[] = [g];
  const names = ["g"];
  const ps = [...params];
  for (const [name, v] of Object.entries(vars)) {
    if (!uses(expr, name)) continue;
    if (typeof v === "number") ps.push({ name, value: v, type: "f32" });
    else {
      inputs.push(v);
      names.push(name);
    }
  }
  const full = runMap({
    op: `${op}.backward`,
    expr,
    inputs,
    names,
    load: inputs.map(() => "f32" as Scalar),
    params: ps,
    out: "float32",
    compute: "f32",
    shape: g.shape,
  });
  if (sameShape(full.shape, targetShape)) return full;
  const reduced = sumToShape(full, targetShape);
  full.dispose();
  return reduced;
}

/** Applies a unary op from the table. */
export function unary(name: string, x: Tensor, p: number[] = [], def: UnaryDef = UNARY[name]): Tensor {
  checkTensor(x, name);
  const keepInt = def.intOk && x.dtype !== "float32";
  const outDtype: DType = keepInt ? (x.dtype === "bool" ? "int32" : x.dtype) : "float32";
  const compute = storageType[outDtype];
  const params: MapParam[] = p.map((value, i) => ({ name: `p${i}`, value, type: compute }));
  const y = runMap({ op: name, expr: def.fwd, inputs: [x], names: ["x"], load: [compute], params, out: outDtype });
  if (!def.grad) return y;
  const grad = def.grad;
  const needX = uses(grad, "x"), needY = uses(grad, "y");
  const save = [...(needX ? [x] : []), ...(needY ? [y] : [])];
  const fparams: MapParam[] = p.map((value, i) => ({ name: `p${i}`, value, type: "f32" }));
  return record(name, y, [x], (g, saved) => {
    const vars: Record<string, Tensor> = {};
    let k = 0;
    if (needX) vars.x = saved[k++];
    if (needY) vars.y = saved[k++];
    return [gradMap(name, grad, g, vars, fparams, x.shape)];
  }, save);
}

function scalarDType(v: number, other: DType): DType {
  if (!Number.isInteger(v) || !Number.isFinite(v)) return "float32";
  return other === "bool" ? "int32" : other;
}

/** Applies a binary op from the table, broadcasting; either side may be a number. */
export function binary(name: string, a: TensorOrNumber, b: TensorOrNumber, def: BinaryDef = BINARY[name]): Tensor {
  if (typeof a === "number" && typeof b === "number") {
    throw new TypeError(`${name}: at least one argument must be a Tensor`);
  }
  if (typeof a !== "number") checkTensor(a, name, "first argument");
  if (typeof b !== "number") checkTensor(b, name, "second argument");
  const da = typeof a === "number" ? scalarDType(a, (b as Tensor).dtype) : a.dtype;
  const db = typeof b === "number" ? scalarDType(b, (a as Tensor).dtype) : b.dtype;
  let common = promoteTypes(da, db);
  if (!def.intOk || (common === "bool" && !def.bool)) common = def.intOk ? "int32" : "float32";
  const compute = storageType[common];
  const outDtype: DType = def.bool ? "bool" : common;
  const inputs: Tensor[] = [];
  const names: string[] = [];
  const params: MapParam[] = [];
  for (const [n, v] of [["a", a], ["b", b]] as const) {
    if (typeof v === "number") params.push({ name: n, value: v, type: compute });
    else {
      inputs.push(v);
      names.push(n);
    }
  }
  const y = runMap({
    op: name,
    expr: def.fwd,
    inputs,
    names,
    load: inputs.map(() => compute),
    params,
    out: outDtype,
    compute,
  });
  if (!def.grad || outDtype !== "float32") return y;
  const [ga, gb] = def.grad;
  const need = (v: string) => uses(ga, v) || uses(gb, v);
  const tensorsToSave = (["a", "b", "y"] as const).filter((v) => need(v));
  const vals: Record<string, TensorOrNumber> = { a, b, y };
  const save = tensorsToSave.map((v) => vals[v]).filter((v): v is Tensor => typeof v !== "number");
  const aShape = typeof a === "number" ? [] : a.shape;
  const bShape = typeof b === "number" ? [] : b.shape;
  return record(name, y, inputs, (g, saved) => {
    const vars: Record<string, Tensor | number> = {};
    let k = 0;
    for (const v of tensorsToSave) vars[v] = typeof vals[v] === "number" ? vals[v] : saved[k++];
    const out: (Tensor | null)[] = [];
    if (typeof a !== "number") out.push(a.requiresGrad ? gradMap(name, ga, g, vars, [], aShape) : null);
    if (typeof b !== "number") out.push(b.requiresGrad ? gradMap(name, gb, g, vars, [], bShape) : null);
    return out;
  }, save);
}

/** a + b. */
export function add(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binary("add", a, b);
}
/** a − b. */
export function sub(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binary("sub", a, b);
}
/** a × b. */
export function mul(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binary("mul", a, b);
}
/** a ÷ b (true division: integer inputs give float32). */
export function div(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binary("div", a, b);
}
/** a ** b; a number exponent uses a cheaper kernel. */
export function pow(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  if (typeof b === "number" && typeof a !== "number") {
    if (b === 1) return clone(a);
    if (b === 2) return unary("square", a);
    return unary("pow", a, [b], UNARY.powScalar);
  }
  return binary("pow", a, b);
}
/** Elementwise minimum (gradient split evenly at ties, as PyTorch). */
export function minimum(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binary("minimum", a, b);
}
/** Elementwise maximum. */
export function maximum(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binary("maximum", a, b);
}
/** a == b (bool). */
export function eq(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binary("eq", a, b);
}
/** a != b (bool). */
export function ne(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binary("ne", a, b);
}
/** a < b (bool). */
export function lt(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binary("lt", a, b);
}
/** a <= b (bool). */
export function le(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binary("le", a, b);
}
/** a > b (bool). */
export function gt(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binary("gt", a, b);
}
/** a >= b (bool). */
export function ge(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binary("ge", a, b);
}

/** −x. */
export function neg(x: Tensor): Tensor {
  return unary("neg", x);
}
/** |x|. */
export function abs(x: Tensor): Tensor {
  return unary("abs", x);
}
/** x². */
export function square(x: Tensor): Tensor {
  return unary("square", x);
}
/** eˣ. */
export function exp(x: Tensor): Tensor {
  return unary("exp", x);
}
/** ln x. */
export function log(x: Tensor): Tensor {
  return unary("log", x);
}
/** √x. */
export function sqrt(x: Tensor): Tensor {
  return unary("sqrt", x);
}
/** 1/√x. */
export function rsqrt(x: Tensor): Tensor {
  return unary("rsqrt", x);
}
/** sin x. */
export function sin(x: Tensor): Tensor {
  return unary("sin", x);
}
/** cos x. */
export function cos(x: Tensor): Tensor {
  return unary("cos", x);
}
/** tanh x. */
export function tanh(x: Tensor): Tensor {
  return unary("tanh", x);
}
/** Logistic sigmoid. */
export function sigmoid(x: Tensor): Tensor {
  return unary("sigmoid", x);
}
/** max(x, 0). */
export function relu(x: Tensor): Tensor {
  return unary("relu", x);
}
/** Leaky ReLU with `negativeSlope` (PyTorch default 0.01). */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return unary("leakyRelu", x, [negativeSlope]);
}
/** x·σ(x) (a.k.a. swish). */
export function silu(x: Tensor): Tensor {
  return unary("silu", x);
}
/** GELU, exact (erf) by default or the tanh approximation. */
export function gelu(x: Tensor, approximate: "none" | "tanh" = "none"): Tensor {
  if (approximate !== "none" && approximate !== "tanh") {
    throw new TypeError(`gelu: approximate must be "none" or "tanh", got ${JSON.stringify(approximate)}`);
  }
  return approximate === "tanh" ? unary("geluTanh", x) : unary("gelu", x);
}
/** Softplus: log(1 + e^(βx))/β, reverting to x when βx > threshold. */
export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  return unary("softplus", x, [beta, threshold]);
}
/** Clamps into [min, max]; either bound may be undefined. */
export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  if (min === undefined && max === undefined) throw new TypeError("clamp: at least one of min or max must be given");
  const int = x.dtype !== "float32";
  const lo = min ?? (int ? -2147483648 : -3.4028234663852886e38);
  const hi = max ?? (int ? 2147483647 : 3.4028234663852886e38);
  if (int && (!Number.isInteger(lo) || !Number.isInteger(hi))) return unary("clamp", cast(x, "float32"), [lo, hi]);
  return unary("clamp", x, [lo, hi]);
}

/** where(cond, a, b): a where cond is non-zero, else b (broadcasting). */
export function where(cond: Tensor, a: TensorOrNumber, b: TensorOrNumber): Tensor {
  checkTensor(cond, "where", "condition");
  if (typeof a !== "number") checkTensor(a, "where", "first value");
  if (typeof b !== "number") checkTensor(b, "where", "second value");
  const da = typeof a === "number" ? (typeof b === "number" ? "float32" : scalarDType(a, b.dtype)) : a.dtype;
  const db = typeof b === "number" ? scalarDType(b, da) : b.dtype;
  const common = promoteTypes(da, db);
  const compute = storageType[common];
  const cs = storageType[cond.dtype];
  const inputs: Tensor[] = [cond];
  const names = ["c"];
  const load: Scalar[] = [cs];
  const params: MapParam[] = [];
  for (const [n, v] of [["a", a], ["b", b]] as const) {
    if (typeof v === "number") params.push({ name: n, value: v, type: compute });
    else {
      inputs.push(v);
      names.push(n);
      load.push(compute);
    }
  }
  const y = runMap({
    op: "where",
    expr: `select(b, a, c != ${cs}(0))`,
    inputs,
    names,
    load,
    params,
    out: common,
    compute,
  });
  if (common !== "float32") return y;
  const diffInputs = inputs.slice(1);
  return record("where", y, diffInputs, (g, [c]) => {
    const out: (Tensor | null)[] = [];
    if (typeof a !== "number") {
      out.push(a.requiresGrad ? gradMap("where", `select(0.0, g, c != 0.0)`, g, { c }, [], a.shape) : null);
    }
    if (typeof b !== "number") {
      out.push(b.requiresGrad ? gradMap("where", `select(g, 0.0, c != 0.0)`, g, { c }, [], b.shape) : null);
    }
    return out;
  }, [cond]);
}

/** The input as a new handle that stays in the autograd graph (`alias()` cuts it from the graph). */
export function identity(x: Tensor): Tensor {
  checkTensor(x, "identity");
  return record("identity", x.alias(), [x], (g) => [g.alias()]);
}

/** Converts to `dtype` (bool: non-zero → true). Returns a new handle if already that dtype. */
export function cast(x: Tensor, dtype: DType): Tensor {
  checkTensor(x, "to");
  if (x.dtype === dtype) return identity(x);
  const src = storageType[x.dtype];
  const expr = dtype === "bool" ? `select(0u, 1u, x != ${src}(0))` : `x`;
  const y = runMap({
    op: `to(${dtype})`,
    expr,
    inputs: [x],
    names: ["x"],
    load: [dtype === "bool" ? src : storageType[dtype]],
    out: dtype,
  });
  return y;
}

/** A dense copy of a view (a new handle on the same storage when already dense). */
export function contiguous(x: Tensor): Tensor {
  checkTensor(x, "contiguous");
  if (x.isContiguous) {
    const al = x.alias();
    return record("contiguous", al, [x], (g) => [g.alias()]);
  }
  return clone(x);
}

/** A copy in fresh storage. */
export function clone(x: Tensor): Tensor {
  checkTensor(x, "clone");
  const y = runMap({ op: "clone", expr: "x", inputs: [x], names: ["x"], out: x.dtype });
  return record("clone", y, [x], (g) => [g.alias()]);
}

/**
 * Adds `value` to every element of the dense int32 or float32 tensor `x` in place (PyTorch's
 * `x.add_(value)` outside autograd), in one dispatch that binds x's storage once, read-write
 * (`runMap` reads its inputs from read-only bindings, so an update through it needs a temporary
 * and a copy back: two dispatches, as batch norm's batch counters took).
 */
export function addScalarInPlace(x: Tensor, value: number): void {
  checkTensor(x, "addScalarInPlace");
  if ((x.dtype !== "int32" && x.dtype !== "float32") || !x.isContiguous) {
    throw new TypeError(
      `addScalarInPlace: expected a dense int32 or float32 tensor, got a ${
        x.isContiguous ? "" : "non-dense "
      }${x.dtype} one`,
    );
  }
  if (x.dtype === "int32" && !Number.isInteger(value)) {
    throw new RangeError(`addScalarInPlace: an int32 tensor takes an integer, got ${value}`);
  }
  if (x.size === 0) return;
  const type = x.dtype === "int32" ? "i32" : "f32";
  const src = `${metaDecl(3)}@group(0) @binding(1) var<storage, read_write> x: array<${type}>;
${flatMain()}
  if (gi >= ${metaAt(0)}) { return; }
  let i = ${metaAt(1)} + gi;
  x[i] = x[i] + bitcast<${type}>(${metaAt(2)});
}
`;
  const words = new Uint32Array(3);
  words.set([x.size, x.offset]);
  if (type === "i32") new Int32Array(words.buffer)[2] = value;
  else new Float32Array(words.buffer)[2] = value;
  dispatch({
    op: "addScalarInPlace",
    pipeline: pipeline("addScalarInPlace", src),
    bindings: [x.storage.buffer],
    uniforms: words,
    workgroups: grid1d(Math.ceil(x.size / WG)),
  });
}
