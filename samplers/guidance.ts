/**
 * Classifier-free guidance (Ho & Salimans 2022) as its own small component: the conditional
 * and unconditional predictions come from ONE batched forward pass, combined as
 * ε̃ = ε_u + s·(ε_c − ε_u), with diffusers' optional guidance rescale (Lin et al. 2023).
 * @module
 */
import { add, cat, full, mul, narrow, scope, std, sub, Tensor } from "../core/mod.ts";
import { checkTensorArg } from "./tensor_helpers.ts";

/** A conditional model: sample batch, int32 timesteps (B), conditioning with a leading batch dim (B, …). */
export type ConditionalModel = (x: Tensor, t: Tensor, cond: Tensor) => Tensor;

/** Options of `ClassifierFreeGuidance`. */
export interface ClassifierFreeGuidanceOptions {
  /** Guidance scale s: 1 = conditional only, 0 = unconditional only, > 1 = stronger conditioning. */
  guidanceScale: number;
  /** φ of guidance rescale in [0, 1] (default 0 = off; diffusers' `guidance_rescale`). */
  guidanceRescale?: number;
}

/**
 * Classifier-free guidance.
 *
 * @example
 * ```ts
 * const cfg = new ClassifierFreeGuidance({ guidanceScale: 3 });
 * const eps = cfg.predict((x, t, y) => unet.call(x, t, y), x, t, labels, nullClass);
 * ```
 */
export class ClassifierFreeGuidance {
  /** Guidance scale s. */
  readonly guidanceScale: number;
  /** Rescale factor φ (0 = off). */
  readonly guidanceRescale: number;

  /** Validates the options. */
  constructor(opts: ClassifierFreeGuidanceOptions) {
    if (opts === null || typeof opts !== "object") {
      throw new TypeError("ClassifierFreeGuidance: options must be an object such as { guidanceScale: 3 }");
    }
    for (const k of Object.keys(opts)) {
      if (k !== "guidanceScale" && k !== "guidanceRescale") {
        throw new TypeError(
          `ClassifierFreeGuidance: unknown option "${k}"; expected guidanceScale, guidanceRescale`,
        );
      }
    }
    const { guidanceScale, guidanceRescale = 0 } = opts;
    if (typeof guidanceScale !== "number" || !Number.isFinite(guidanceScale)) {
      throw new RangeError(`ClassifierFreeGuidance: guidanceScale must be a finite number, got ${guidanceScale}`);
    }
    if (typeof guidanceRescale !== "number" || !(guidanceRescale >= 0 && guidanceRescale <= 1)) {
      throw new RangeError(`ClassifierFreeGuidance: guidanceRescale must be in [0, 1], got ${guidanceRescale}`);
    }
    this.guidanceScale = guidanceScale;
    this.guidanceRescale = guidanceRescale;
  }

  /** Whether `predict` needs the conditional pass (false only at s = 0 without rescale). */
  get needsConditional(): boolean {
    return this.guidanceScale !== 0 || this.guidanceRescale > 0;
  }

  /** Whether `predict` needs the unconditional pass (false at s = 1). */
  get needsUnconditional(): boolean {
    return this.guidanceScale !== 1;
  }

  /**
   * ε̃ = ε_u + s·(ε_c − ε_u), then, when φ > 0, blended with its rescaled form
   * ε̃·std(ε_c)/std(ε̃) (std over every non-batch dim, unbiased, as torch): φ·rescaled + (1 − φ)·ε̃.
   */
  combine(condOutput: Tensor, uncondOutput: Tensor): Tensor {
    checkTensorArg(condOutput, "ClassifierFreeGuidance.combine", "condOutput");
    checkTensorArg(uncondOutput, "ClassifierFreeGuidance.combine", "uncondOutput");
    if (!sameShape(condOutput.shape, uncondOutput.shape)) {
      throw new RangeError(
        `ClassifierFreeGuidance.combine: condOutput shape [${condOutput.shape}] must equal uncondOutput shape [${uncondOutput.shape}]`,
      );
    }
    const s = this.guidanceScale, phi = this.guidanceRescale;
    return scope(() => {
      const guided = add(uncondOutput, mul(sub(condOutput, uncondOutput), s));
      if (phi === 0) return guided;
      if (condOutput.ndim < 2) {
        throw new RangeError(
          `ClassifierFreeGuidance: guidance rescale needs outputs with a batch dim and sample dims, got shape [${condOutput.shape}]`,
        );
      }
      const dims = Array.from({ length: condOutput.ndim - 1 }, (_, i) => i + 1);
      const ratio = std(condOutput, dims, true).div(std(guided, dims, true));
      const rescaled = mul(guided, ratio);
      return add(mul(rescaled, phi), mul(guided, 1 - phi));
    });
  }

  /**
   * Runs `model` once on the batch [x; x] with timesteps [t; t] and conditioning
   * [cond; nullCond] and combines the two halves. `nullCond` is a tensor shaped like `cond`
   * or a number (the null class index, for int32 class labels of shape (B)). At s = 1 only
   * the conditional pass runs (batch B), at s = 0 without rescale only the unconditional one.
   */
  predict(model: ConditionalModel, x: Tensor, t: Tensor, cond: Tensor, nullCond: Tensor | number): Tensor {
    const op = "ClassifierFreeGuidance.predict";
    if (typeof model !== "function") throw new TypeError(`${op}: model must be a function (x, t, cond) => Tensor`);
    checkTensorArg(x, op, "x");
    checkTensorArg(t, op, "t");
    checkTensorArg(cond, op, "cond");
    if (x.ndim < 1) throw new RangeError(`${op}: x needs a batch dimension, got shape [${x.shape}]`);
    const B = x.shape[0];
    if (t.dtype !== "int32" || t.ndim !== 1 || t.shape[0] !== B) {
      throw new RangeError(`${op}: t must be an int32 tensor of shape [${B}], got ${t.dtype} [${t.shape}]`);
    }
    if (cond.ndim < 1 || cond.shape[0] !== B) {
      throw new RangeError(`${op}: cond must have batch size ${B} in dim 0, got shape [${cond.shape}]`);
    }
    if (typeof nullCond === "number") {
      if (cond.ndim !== 1 || cond.dtype !== "int32" || !Number.isInteger(nullCond)) {
        throw new TypeError(
          `${op}: a number nullCond (the null class index) needs int32 class labels of shape [${B}] as cond and an integer, got cond ${cond.dtype} [${cond.shape}] and ${nullCond}`,
        );
      }
    } else {
      checkTensorArg(nullCond, op, "nullCond");
      if (!sameShape(nullCond.shape, cond.shape) || nullCond.dtype !== cond.dtype) {
        throw new RangeError(
          `${op}: nullCond must match cond (${cond.dtype} [${cond.shape}]), got ${nullCond.dtype} [${nullCond.shape}]`,
        );
      }
    }
    return scope(() => {
      const nullT = () => typeof nullCond === "number" ? full([B], nullCond, { dtype: "int32" }) : nullCond;
      if (!this.needsUnconditional) return checked(model(x, t, cond), x, op);
      if (!this.needsConditional) return checked(model(x, t, nullT()), x, op);
      const out = model(cat([x, x]), cat([t, t]), cat([cond, nullT()]));
      if (!(out instanceof Tensor) || out.ndim < 1 || out.shape[0] !== 2 * B) {
        throw new RangeError(
          `${op}: the model must return a batch of ${2 * B} for the batched pass, got ${
            out instanceof Tensor ? `shape [${out.shape}]` : typeof out
          }`,
        );
      }
      return this.combine(narrow(out, 0, 0, B), narrow(out, 0, B, B));
    });
  }
}

function checked(out: Tensor, x: Tensor, op: string): Tensor {
  if (!(out instanceof Tensor) || out.ndim < 1 || out.shape[0] !== x.shape[0]) {
    throw new RangeError(
      `${op}: the model must return a batch of ${x.shape[0]}, got ${
        out instanceof Tensor ? `shape [${out.shape}]` : typeof out
      }`,
    );
  }
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
