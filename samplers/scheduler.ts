/**
 * The scheduler interface a pipeline drives and `BaseScheduler`, what DDPM and DDIM share:
 * the schedule, the timestep list, `addNoise` / `getVelocity`, the conversions between what a
 * model predicts (ε, v or x₀) and x₀ clipping. The formulas follow diffusers.
 * @module
 */
import {
  add,
  clamp,
  clone,
  type Generator,
  indexSelect,
  keep,
  mul,
  reshape,
  scope,
  sub,
  Tensor,
  tensor,
} from "../core/mod.ts";
import { NoiseSchedule } from "./noise_schedule.ts";
import type { SchedulerConfig } from "./scheduler_config.ts";
import { dynamicThreshold } from "./thresholding.ts";
import { axpby, checkTensorArg, sameShape } from "./tensor_helpers.ts";
import { checkTimestepList, spacedTimesteps } from "./timesteps.ts";

/** Options of `step()`. */
export interface StepOptions {
  /** DDIM only: weight of the fresh noise, 0 = deterministic DDIM, 1 = DDPM-like (default 0). */
  eta?: number;
  /** Generator for the step's noise (default: the global one). */
  generator?: Generator;
  /** Use this standard-normal tensor (shaped like the sample) as the step's noise instead of drawing one. */
  varianceNoise?: Tensor;
  /** The sample is these rows of a larger batch: draw the noise as the whole batch's would be (see `randn`'s `rows`). */
  noiseRows?: { start: number; total: number };
  /** DDIM only: recompute ε from the clipped x₀ (diffusers' `use_clipped_model_output`). */
  useClippedModelOutput?: boolean;
}

/** What `step()` returns: two new tensors owned by the caller. */
export interface StepOutput {
  /** x_{t_prev}, the sample at the previous timestep. */
  prevSample: Tensor;
  /** The model's estimate of x₀ at this step (after clipping). */
  predOriginalSample: Tensor;
}

/** What a pipeline needs from a scheduler. */
export interface Scheduler {
  /** Resolved configuration. */
  readonly config: Readonly<SchedulerConfig>;
  /** The current descending timestep list (a copy). */
  readonly timesteps: Int32Array;
  /** Standard deviation of the initial noise (1 for DDPM and DDIM). */
  readonly initNoiseSigma: number;
  /** Chooses `numInferenceSteps` timesteps. */
  setTimesteps(numInferenceSteps: number): void;
  /** Scales the model input at timestep t (identity for DDPM and DDIM). */
  scaleModelInput(sample: Tensor, t?: number): Tensor;
  /** One reverse step from timestep t to the previous timestep in the list. */
  step(modelOutput: Tensor, t: number, sample: Tensor, opts?: StepOptions): StepOutput;
  /** x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·noise (for starting from a noised image). */
  addNoise(originalSamples: Tensor, noise: Tensor, t: Tensor | number): Tensor;
}

/**
 * What DDPM and DDIM share: the schedule, the timestep list (the previous timestep is looked
 * up in it), `addNoise`, `getVelocity` and the prediction-type conversions. Holds no
 * parameters; the only GPU memory it keeps is two float32 tables of length T (√ᾱ and √(1−ᾱ),
 * made on the first `addNoise` / `getVelocity` with a timestep tensor; `dispose()` frees them).
 */
export abstract class BaseScheduler<C extends SchedulerConfig = SchedulerConfig> implements Scheduler {
  /** Resolved configuration. */
  readonly config: Readonly<C>;
  /** Every derived float64 quantity of the β schedule. */
  readonly schedule: NoiseSchedule;
  /** Standard deviation of the initial noise. */
  readonly initNoiseSigma: number = 1;
  #name: string;
  #timesteps: Int32Array;
  #index = new Map<number, number>();
  #numInferenceSteps: number | null = null;
  #tables: { sqrtA: Tensor; sqrtOneMinusA: Tensor } | null = null;

  /** Builds the schedule from a resolved configuration. */
  protected constructor(config: C, name: string) {
    this.#name = name;
    this.config = Object.freeze({ ...config });
    this.schedule = config.trainedBetas
      ? new NoiseSchedule(config.trainedBetas)
      : NoiseSchedule.named(config.betaSchedule, config.numTrainTimesteps, config.betaStart, config.betaEnd);
    const T = config.numTrainTimesteps;
    this.#timesteps = new Int32Array(T);
    for (let i = 0; i < T; i++) this.#timesteps[i] = T - 1 - i;
    this.#reindex();
  }

  /** β_t (float64; read-only). */
  get betas(): Float64Array {
    return this.schedule.betas;
  }

  /** α_t = 1 − β_t (float64; read-only). */
  get alphas(): Float64Array {
    return this.schedule.alphas;
  }

  /** ᾱ_t (float64; read-only). */
  get alphasCumprod(): Float64Array {
    return this.schedule.alphasCumprod;
  }

  /** The descending timestep list (a copy): T−1 … 0 until `setTimesteps` is called. */
  get timesteps(): Int32Array {
    return this.#timesteps.slice();
  }

  /** The number of inference steps of the last `setTimesteps`, or null. */
  get numInferenceSteps(): number | null {
    return this.#numInferenceSteps;
  }

  /**
   * Chooses `numInferenceSteps` timesteps with the configured spacing, or uses an explicit
   * strictly descending list `timesteps` (then `numInferenceSteps` must equal its length).
   */
  setTimesteps(numInferenceSteps: number, timesteps?: ArrayLike<number>): void {
    const T = this.config.numTrainTimesteps;
    let ts: Int32Array;
    if (timesteps !== undefined) {
      if (timesteps === null || typeof timesteps !== "object" || typeof timesteps.length !== "number") {
        throw new TypeError(`${this.#name}.setTimesteps: timesteps must be an array of integers`);
      }
      if (numInferenceSteps !== timesteps.length) {
        throw new RangeError(
          `${this.#name}.setTimesteps: numInferenceSteps (${numInferenceSteps}) must equal the length of timesteps (${timesteps.length})`,
        );
      }
      ts = new Int32Array(timesteps.length);
      for (let i = 0; i < ts.length; i++) {
        if (!Number.isInteger(timesteps[i])) {
          throw new RangeError(`${this.#name}.setTimesteps: timesteps[${i}] must be an integer, got ${timesteps[i]}`);
        }
        ts[i] = timesteps[i];
      }
      checkTimestepList(ts, T, `${this.#name}.setTimesteps`);
    } else {
      ts = spacedTimesteps(this.config.timestepSpacing, T, numInferenceSteps, this.config.stepsOffset);
    }
    this.#timesteps = ts;
    this.#numInferenceSteps = ts.length;
    this.#reindex();
  }

  /** The timestep after `t` in the list, or −1 when `t` is the last one (throws when `t` is not in the list). */
  previousTimestep(t: number): number {
    const i = this.#index.get(t);
    if (i === undefined) {
      const ts = this.#timesteps;
      const head = Array.from(ts.subarray(0, 6)).join(", ") + (ts.length > 6 ? ", …" : "");
      throw new RangeError(
        `${this.#name}.step: timestep t = ${t} is not in the scheduler's timesteps [${head}] (call setTimesteps first?)`,
      );
    }
    return i + 1 < this.#timesteps.length ? this.#timesteps[i + 1] : -1;
  }

  /** Identity (diffusers API parity: schedulers such as Euler scale the model input). */
  scaleModelInput(sample: Tensor, _t?: number): Tensor {
    checkTensorArg(sample, `${this.#name}.scaleModelInput`, "sample");
    return sample;
  }

  /**
   * Forward diffusion q(x_t | x₀): √ᾱ_t·x₀ + √(1−ᾱ_t)·noise. `t` is a number or an int32
   * tensor of shape (B) with one timestep per sample (gathered on the GPU, broadcast over the
   * sample dims).
   */
  addNoise(originalSamples: Tensor, noise: Tensor, t: Tensor | number): Tensor {
    return this.#combine("addNoise", originalSamples, "originalSamples", noise, "noise", t, false);
  }

  /** The velocity target v = √ᾱ_t·noise − √(1−ᾱ_t)·sample (t as in `addNoise`). */
  getVelocity(sample: Tensor, noise: Tensor, t: Tensor | number): Tensor {
    return this.#combine("getVelocity", noise, "noise", sample, "sample", t, true);
  }

  /** One reverse step from timestep t to the previous timestep in the list. */
  abstract step(modelOutput: Tensor, t: number, sample: Tensor, opts?: StepOptions): StepOutput;

  /** Frees the GPU lookup tables (they are rebuilt when needed). */
  dispose(): void {
    this.#tables?.sqrtA.dispose();
    this.#tables?.sqrtOneMinusA.dispose();
    this.#tables = null;
  }

  /** Checks that t is an integer training timestep. */
  protected checkTimestep(t: number, op: string): void {
    const T = this.config.numTrainTimesteps;
    if (!Number.isInteger(t) || t < 0 || t >= T) {
      throw new RangeError(`${this.#name}.${op}: t must be an integer in [0, ${T}), got ${t}`);
    }
  }

  /** Validates the tensors of a `step()` call. */
  protected checkStepArgs(modelOutput: Tensor, t: number, sample: Tensor, opts: StepOptions): void {
    const op = `${this.#name}.step`;
    checkTensorArg(modelOutput, op, "modelOutput");
    checkTensorArg(sample, op, "sample");
    if (!sameShape(modelOutput.shape, sample.shape)) {
      throw new RangeError(
        `${op}: modelOutput shape [${modelOutput.shape}] must equal sample shape [${sample.shape}]`,
      );
    }
    this.checkTimestep(t, "step");
    if (opts === null || typeof opts !== "object") throw new TypeError(`${op}: options must be an object`);
    if (opts.varianceNoise !== undefined) {
      checkTensorArg(opts.varianceNoise, op, "varianceNoise");
      if (!sameShape(opts.varianceNoise.shape, sample.shape)) {
        throw new RangeError(
          `${op}: varianceNoise shape [${opts.varianceNoise.shape}] must equal sample shape [${sample.shape}]`,
        );
      }
      if (opts.generator !== undefined) throw new TypeError(`${op}: pass either varianceNoise or generator, not both`);
    }
  }

  /**
   * x₀ and ε implied by the model output at a timestep with cumulative ᾱ = `alphaProd`
   * (ε is computed before any clipping, as diffusers does).
   */
  protected predictions(modelOutput: Tensor, sample: Tensor, alphaProd: number): { x0: Tensor; eps: Tensor } {
    const a = Math.sqrt(alphaProd), s = Math.sqrt(1 - alphaProd);
    switch (this.config.predictionType) {
      case "epsilon":
        return { x0: axpby(1 / a, sample, -s / a, modelOutput), eps: modelOutput };
      case "sample":
        return { x0: modelOutput, eps: axpby(1 / s, sample, -a / s, modelOutput) };
      case "v_prediction":
        return { x0: axpby(a, sample, -s, modelOutput), eps: axpby(a, modelOutput, s, sample) };
    }
  }

  /** Applies `thresholding`, else `clipSample`, to a predicted x₀. */
  protected clip(x0: Tensor): Tensor {
    if (this.config.thresholding) {
      return dynamicThreshold(x0, this.config.dynamicThresholdingRatio, this.config.sampleMaxValue);
    }
    const r = this.config.clipSampleRange;
    return this.config.clipSample ? clamp(x0, -r, r) : x0;
  }

  /** A fresh tensor for the caller (clones `x` when it is one of the step's inputs). */
  protected owned(x: Tensor, ...inputs: Tensor[]): Tensor {
    return inputs.includes(x) ? clone(x) : x;
  }

  #reindex(): void {
    this.#index.clear();
    this.#timesteps.forEach((t, i) => this.#index.set(t, i));
  }

  /** √ᾱ_t·x + (neg ? −1 : 1)·√(1−ᾱ_t)·y with t a number or a per-sample int32 tensor. */
  #combine(op: string, x: Tensor, xName: string, y: Tensor, yName: string, t: Tensor | number, neg: boolean): Tensor {
    const name = `${this.#name}.${op}`;
    checkTensorArg(x, name, xName);
    checkTensorArg(y, name, yName);
    if (!sameShape(x.shape, y.shape)) {
      throw new RangeError(`${name}: ${xName} shape [${x.shape}] must equal ${yName} shape [${y.shape}]`);
    }
    const sign = neg ? -1 : 1;
    if (typeof t === "number") {
      this.checkTimestep(t, op);
      return axpby(this.schedule.sqrtAlphasCumprod[t], x, sign * this.schedule.sqrtOneMinusAlphasCumprod[t], y);
    }
    if (!(t instanceof Tensor)) {
      throw new TypeError(`${name}: t must be a number or an int32 Tensor of shape (B), got ${typeof t}`);
    }
    t.assertLive(name);
    if (t.dtype !== "int32") throw new TypeError(`${name}: t must be an int32 tensor, got ${t.dtype}`);
    if (x.ndim < 1) throw new RangeError(`${name}: ${xName} needs a batch dimension to take a timestep tensor`);
    const B = x.shape[0];
    if (t.ndim !== 1 || (t.shape[0] !== B && t.shape[0] !== 1)) {
      throw new RangeError(`${name}: t must have shape [${B}] (one timestep per sample), got [${t.shape}]`);
    }
    const tables = this.#gpuTables();
    return scope(() => {
      const bshape = [t.shape[0], ...x.shape.slice(1).map(() => 1)];
      const a = reshape(indexSelect(tables.sqrtA, 0, t), bshape);
      const s = reshape(indexSelect(tables.sqrtOneMinusA, 0, t), bshape);
      return neg ? sub(mul(x, a), mul(y, s)) : add(mul(x, a), mul(y, s));
    });
  }

  #gpuTables(): { sqrtA: Tensor; sqrtOneMinusA: Tensor } {
    if (!this.#tables || this.#tables.sqrtA.isDisposed || this.#tables.sqrtOneMinusA.isDisposed) {
      this.#tables = {
        sqrtA: keep(tensor(Float32Array.from(this.schedule.sqrtAlphasCumprod))),
        sqrtOneMinusA: keep(tensor(Float32Array.from(this.schedule.sqrtOneMinusAlphasCumprod))),
      };
    }
    return this.#tables;
  }
}
