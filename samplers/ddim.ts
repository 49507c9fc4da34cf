/**
 * DDIM sampling (Song et al. 2021) in the shape of diffusers' `DDIMScheduler`: deterministic
 * at η = 0, DDPM-like at η = 1; the previous timestep is looked up in the list.
 * @module
 */
import { add, mul, randn, scope, type Tensor } from "../core/mod.ts";
import { BaseScheduler, type StepOptions, type StepOutput } from "./scheduler.ts";
import { resolveSchedulerConfig, type SchedulerConfig, type SchedulerOptions } from "./scheduler_config.ts";
import { axpby } from "./tensor_helpers.ts";

/** Constructor options of `DDIMScheduler`. */
export interface DDIMSchedulerOptions extends SchedulerOptions {
  /** ᾱ used after the last step: 1 when true (default), else ᾱ_0. */
  setAlphaToOne?: boolean;
}

/** Resolved configuration of `DDIMScheduler`. */
export interface DDIMSchedulerConfig extends SchedulerConfig {
  /** ᾱ used after the last step: 1 when true, else ᾱ_0. */
  setAlphaToOne: boolean;
}

/**
 * The DDIM scheduler. Holds no parameters; `step()` composes GPU ops with per-timestep
 * coefficients computed in float64. Call `setTimesteps(n)` before stepping.
 *
 * @example
 * ```ts
 * const scheduler = new DDIMScheduler({ timestepSpacing: "trailing", predictionType: "v" });
 * scheduler.setTimesteps(10);
 * for (const t of scheduler.timesteps) x = scheduler.step(model(x, t), t, x, { eta: 0 }).prevSample;
 * ```
 */
export class DDIMScheduler extends BaseScheduler<DDIMSchedulerConfig> {
  /** ᾱ after the last step (1 with `setAlphaToOne`, else ᾱ_0). */
  readonly finalAlphaCumprod: number;

  /** Creates a scheduler; every option is optional (diffusers' defaults). */
  constructor(opts: DDIMSchedulerOptions = {}) {
    const common = resolveSchedulerConfig(opts, ["setAlphaToOne"], "DDIMScheduler");
    const setAlphaToOne = opts.setAlphaToOne ?? true;
    if (typeof setAlphaToOne !== "boolean") {
      throw new TypeError(`DDIMScheduler: setAlphaToOne must be a boolean, got ${setAlphaToOne}`);
    }
    super({ ...common, setAlphaToOne }, "DDIMScheduler");
    this.finalAlphaCumprod = setAlphaToOne ? 1 : this.alphasCumprod[0];
  }

  /** σ_t² / η² for the step from t to the previous timestep: (1 − ᾱ_prev)/(1 − ᾱ_t)·(1 − ᾱ_t/ᾱ_prev) (float64). */
  getVariance(t: number): number {
    this.checkTimestep(t, "getVariance");
    const { aT, aPrev } = this.#alphas(t);
    return (1 - aPrev) / (1 - aT) * (1 - aT / aPrev);
  }

  /**
   * x_{t_prev} = √ᾱ_prev·x̂₀ + √(1 − ᾱ_prev − σ²)·ε̂ + σ·z with σ = η·√(getVariance(t)); x̂₀
   * and ε̂ come from the model output per `predictionType`, x̂₀ clipped when `clipSample`.
   * `opts.eta` (default 0), `opts.generator` or `opts.varianceNoise` for z (used when η > 0),
   * `opts.useClippedModelOutput`.
   */
  step(modelOutput: Tensor, t: number, sample: Tensor, opts: StepOptions = {}): StepOutput {
    this.checkStepArgs(modelOutput, t, sample, opts);
    if (this.numInferenceSteps === null) {
      throw new Error("DDIMScheduler.step: call setTimesteps(numInferenceSteps) before step()");
    }
    const eta = opts.eta ?? 0;
    if (typeof eta !== "number" || !(eta >= 0) || !Number.isFinite(eta)) {
      throw new RangeError(`DDIMScheduler.step: eta must be a non-negative number, got ${eta}`);
    }
    const { aT, aPrev } = this.#alphas(t);
    const bT = 1 - aT;
    const std = eta * Math.sqrt(this.getVariance(t));
    let dirCoef2 = 1 - aPrev - std * std;
    if (dirCoef2 < 0) {
      if (dirCoef2 < -1e-12) {
        throw new RangeError(`DDIMScheduler.step: eta = ${eta} is too large (1 − ᾱ_prev − σ² < 0 at t = ${t})`);
      }
      dirCoef2 = 0;
    }
    return scope(() => {
      const p = this.predictions(modelOutput, sample, aT);
      const x0 = this.clip(p.x0);
      const eps = opts.useClippedModelOutput
        ? axpby(1 / Math.sqrt(bT), sample, -Math.sqrt(aT) / Math.sqrt(bT), x0)
        : p.eps;
      let prevSample = axpby(Math.sqrt(aPrev), x0, Math.sqrt(dirCoef2), eps);
      if (eta > 0) {
        const z = opts.varianceNoise ?? randn(sample.shape, { generator: opts.generator, rows: opts.noiseRows });
        prevSample = add(prevSample, mul(z, std));
      }
      return { prevSample, predOriginalSample: this.owned(x0, modelOutput, sample) };
    });
  }

  #alphas(t: number): { aT: number; aPrev: number } {
    const prev = this.previousTimestep(t);
    const ac = this.alphasCumprod;
    return { aT: ac[t], aPrev: prev >= 0 ? ac[prev] : this.finalAlphaCumprod };
  }
}
