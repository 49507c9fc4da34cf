/**
 * DDPM ancestral sampling (Ho et al. 2020) in the shape of diffusers' `DDPMScheduler`: the
 * posterior mean of q(x_{t_prev} | x_t, x̂₀) plus fixed-variance noise, also over a subset of
 * timesteps (the previous timestep is looked up in the list).
 * @module
 */
import { add, mul, randn, scope, type Tensor } from "../core/mod.ts";
import { BaseScheduler, type StepOptions, type StepOutput } from "./scheduler.ts";
import { resolveSchedulerConfig, type SchedulerConfig, type SchedulerOptions } from "./scheduler_config.ts";
import { axpby } from "./tensor_helpers.ts";

/**
 * Variance of the added noise: `fixed_small` is the posterior variance β̃ = (1 − ᾱ_prev)/(1 − ᾱ_t)·β,
 * `fixed_small_log` the same through exp(½·log(·)) (diffusers), `fixed_large` is β itself,
 * with β = 1 − ᾱ_t/ᾱ_prev for the (possibly skipping) step.
 */
export type DDPMVarianceType = "fixed_small" | "fixed_small_log" | "fixed_large";

/** Constructor options of `DDPMScheduler`. */
export interface DDPMSchedulerOptions extends SchedulerOptions {
  /** Variance of the added noise (default `"fixed_small"`). */
  varianceType?: DDPMVarianceType;
}

/** Resolved configuration of `DDPMScheduler`. */
export interface DDPMSchedulerConfig extends SchedulerConfig {
  /** Variance of the added noise. */
  varianceType: DDPMVarianceType;
}

/**
 * The DDPM scheduler. Holds no parameters; `step()` composes GPU ops with per-timestep
 * coefficients computed in float64.
 *
 * @example
 * ```ts
 * const scheduler = new DDPMScheduler({ betaSchedule: "linear" });
 * const xt = scheduler.addNoise(x0, noise, t); // training
 * scheduler.setTimesteps(50);
 * for (const t of scheduler.timesteps) x = scheduler.step(model(x, t), t, x).prevSample; // sampling
 * ```
 */
export class DDPMScheduler extends BaseScheduler<DDPMSchedulerConfig> {
  /** Creates a scheduler; every option is optional (diffusers' defaults). */
  constructor(opts: DDPMSchedulerOptions = {}) {
    const common = resolveSchedulerConfig(opts, ["varianceType"], "DDPMScheduler");
    const varianceType = opts.varianceType ?? "fixed_small";
    if (!["fixed_small", "fixed_small_log", "fixed_large"].includes(varianceType)) {
      throw new RangeError(
        `DDPMScheduler: varianceType must be "fixed_small", "fixed_small_log" or "fixed_large", got ${
          JSON.stringify(varianceType)
        }`,
      );
    }
    super({ ...common, varianceType }, "DDPMScheduler");
  }

  /**
   * The variance of the noise added when stepping from t to the previous timestep in the list
   * (float64; `varianceType` as configured unless given).
   */
  getVariance(t: number, varianceType: DDPMVarianceType = this.config.varianceType): number {
    this.checkTimestep(t, "getVariance");
    const ac = this.alphasCumprod;
    const prev = this.previousTimestep(t);
    const aT = ac[t], aPrev = prev >= 0 ? ac[prev] : 1;
    const beta = 1 - aT / aPrev;
    const small = Math.max((1 - aPrev) / (1 - aT) * beta, 1e-20);
    switch (varianceType) {
      case "fixed_small":
        return small;
      case "fixed_small_log": {
        const std = Math.exp(0.5 * Math.log(small));
        return std * std;
      }
      case "fixed_large":
        return beta;
      default:
        throw new RangeError(
          `DDPMScheduler.getVariance: varianceType must be "fixed_small", "fixed_small_log" or "fixed_large", got ${
            JSON.stringify(varianceType)
          }`,
        );
    }
  }

  /**
   * x_{t_prev} = c₀·x̂₀ + c_t·x_t + σ·z (no noise at t = 0) where x̂₀ comes from the model
   * output per `predictionType` and is clipped when `clipSample`. `opts.generator` draws z
   * (or pass `opts.varianceNoise`); `eta` does not apply to DDPM.
   */
  step(modelOutput: Tensor, t: number, sample: Tensor, opts: StepOptions = {}): StepOutput {
    this.checkStepArgs(modelOutput, t, sample, opts);
    if (opts.eta !== undefined && opts.eta !== 1) {
      throw new RangeError(`DDPMScheduler.step: eta applies to DDIM only (DDPM is eta = 1), got eta = ${opts.eta}`);
    }
    if (opts.useClippedModelOutput !== undefined) {
      throw new TypeError("DDPMScheduler.step: useClippedModelOutput applies to DDIM only");
    }
    const ac = this.alphasCumprod;
    const prev = this.previousTimestep(t);
    const aT = ac[t], aPrev = prev >= 0 ? ac[prev] : 1;
    const bT = 1 - aT, bPrev = 1 - aPrev;
    const curAlpha = aT / aPrev, curBeta = 1 - curAlpha;
    const c0 = Math.sqrt(aPrev) * curBeta / bT;
    const ct = Math.sqrt(curAlpha) * bPrev / bT;
    const std = t > 0 ? Math.sqrt(this.getVariance(t)) : 0;
    return scope(() => {
      const { x0: raw } = this.predictions(modelOutput, sample, aT);
      const x0 = this.clip(raw);
      let prevSample = axpby(c0, x0, ct, sample);
      if (t > 0) {
        const z = opts.varianceNoise ?? randn(sample.shape, { generator: opts.generator, rows: opts.noiseRows });
        prevSample = add(prevSample, mul(z, std));
      }
      return { prevSample, predOriginalSample: this.owned(x0, modelOutput, sample) };
    });
  }
}
