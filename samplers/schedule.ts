/**
 * Noise schedules (β, ᾱ and the quantities derived from them, in float64 on the CPU),
 * inference timestep spacings, and the base every scheduler in this folder shares:
 * configuration, the timestep list, `addNoise` / `getVelocity` and the conversions between
 * what a model predicts (ε, v or x₀).
 *
 * The formulas follow the diffusers library (`DDPMScheduler`, `DDIMScheduler`), with its
 * option names in camelCase.
 * @module
 */
import {
  abs,
  add,
  clamp,
  clone,
  div,
  type Generator,
  indexSelect,
  keep,
  maximum,
  minimum,
  mul,
  neg,
  quantile,
  reshape,
  scope,
  sub,
  Tensor,
  tensor,
} from "../core/mod.ts";
import { roundHalfEven } from "../core/numeric.ts";

/** How β grows with t. `"cosine"` is accepted as an alias of `"squaredcos_cap_v2"`. */
export type BetaSchedule = "linear" | "scaled_linear" | "squaredcos_cap_v2" | "cosine";

/** What the model predicts: the noise ε, the velocity v = √ᾱ·ε − √(1−ᾱ)·x₀, or x₀ itself. `"v"` is an alias of `"v_prediction"`. */
export type PredictionType = "epsilon" | "v_prediction" | "v" | "sample";

/** How `setTimesteps(n)` spreads n inference steps over the training timesteps (diffusers' `timestep_spacing`). */
export type TimestepSpacing = "leading" | "trailing" | "linspace";

/** Float64 β_0 … β_{T−1} of a named schedule (NumPy's `linspace` arithmetic, so values match diffusers bit for bit). */
export function makeBetas(
  betaSchedule: BetaSchedule,
  numTrainTimesteps: number,
  betaStart = 0.0001,
  betaEnd = 0.02,
): Float64Array {
  checkT(numTrainTimesteps, "makeBetas");
  switch (betaSchedule) {
    case "linear":
      checkBetaRange(betaStart, betaEnd, "makeBetas");
      return linspace64(betaStart, betaEnd, numTrainTimesteps);
    case "scaled_linear": {
      checkBetaRange(betaStart, betaEnd, "makeBetas");
      const r = linspace64(Math.sqrt(betaStart), Math.sqrt(betaEnd), numTrainTimesteps);
      for (let i = 0; i < r.length; i++) r[i] = r[i] * r[i];
      return r;
    }
    case "squaredcos_cap_v2":
    case "cosine":
      return cosineBetas(numTrainTimesteps);
    default:
      throw new RangeError(
        `makeBetas: betaSchedule must be "linear", "scaled_linear", "squaredcos_cap_v2" or "cosine", got ${
          JSON.stringify(betaSchedule)
        }`,
      );
  }
}

/**
 * β_i = min(1 − ᾱ((i+1)/T) / ᾱ(i/T), maxBeta) for a continuous ᾱ(t) on [0, 1]
 * (diffusers' `betas_for_alpha_bar`).
 */
export function betasForAlphaBar(
  numTrainTimesteps: number,
  alphaBar: (t: number) => number,
  maxBeta = 0.999,
): Float64Array {
  checkT(numTrainTimesteps, "betasForAlphaBar");
  if (typeof alphaBar !== "function") {
    throw new TypeError("betasForAlphaBar: alphaBar must be a function of t in [0, 1]");
  }
  if (!(maxBeta > 0 && maxBeta < 1)) {
    throw new RangeError(`betasForAlphaBar: maxBeta must be in (0, 1), got ${maxBeta}`);
  }
  const out = new Float64Array(numTrainTimesteps);
  for (let i = 0; i < numTrainTimesteps; i++) {
    const t1 = i / numTrainTimesteps, t2 = (i + 1) / numTrainTimesteps;
    out[i] = Math.min(1 - alphaBar(t2) / alphaBar(t1), maxBeta);
  }
  return out;
}

/** Nichol & Dhariwal's cosine schedule: ᾱ(t) = cos²((t + s)/(1 + s)·π/2), β clipped at `maxBeta`. */
export function cosineBetas(numTrainTimesteps: number, s = 0.008, maxBeta = 0.999): Float64Array {
  if (!(s >= 0) || !Number.isFinite(s)) throw new RangeError(`cosineBetas: s must be a non-negative number, got ${s}`);
  return betasForAlphaBar(numTrainTimesteps, (t) => {
    const c = Math.cos((t + s) / (1 + s) * Math.PI / 2);
    return c * c;
  }, maxBeta);
}

/**
 * Every per-timestep quantity of a β schedule, in float64: index t of each array is timestep t.
 * Treat the arrays as read-only.
 */
export class NoiseSchedule {
  /** Number of training timesteps T. */
  readonly numTrainTimesteps: number;
  /** β_t. */
  readonly betas: Float64Array;
  /** α_t = 1 − β_t. */
  readonly alphas: Float64Array;
  /** ᾱ_t = ∏_{s≤t} α_s. */
  readonly alphasCumprod: Float64Array;
  /** ᾱ_{t−1}, with ᾱ_{−1} = 1. */
  readonly alphasCumprodPrev: Float64Array;
  /** √ᾱ_t. */
  readonly sqrtAlphasCumprod: Float64Array;
  /** √(1 − ᾱ_t). */
  readonly sqrtOneMinusAlphasCumprod: Float64Array;
  /** Posterior variance β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) ("fixed_small"; 0 at t = 0). */
  readonly posteriorVariance: Float64Array;
  /** The "fixed_large" variance: β_t. */
  readonly posteriorVarianceLarge: Float64Array;
  /** log β̃_t with β̃_0 replaced by β̃_1 (so it is finite), as in improved DDPM. */
  readonly posteriorLogVarianceClipped: Float64Array;
  /** Coefficient of x₀ in the posterior mean: β_t √ᾱ_{t−1} / (1 − ᾱ_t). */
  readonly posteriorMeanCoef1: Float64Array;
  /** Coefficient of x_t in the posterior mean: (1 − ᾱ_{t−1}) √α_t / (1 − ᾱ_t). */
  readonly posteriorMeanCoef2: Float64Array;

  /** Derives every quantity from β (each 0 < β < 1). */
  constructor(betas: ArrayLike<number>) {
    if (betas === null || typeof betas !== "object" || typeof betas.length !== "number" || betas.length < 1) {
      throw new TypeError("NoiseSchedule: betas must be a non-empty array of numbers");
    }
    const T = betas.length;
    this.numTrainTimesteps = T;
    this.betas = Float64Array.from(betas);
    for (let t = 0; t < T; t++) {
      const b = this.betas[t];
      if (!(b > 0 && b < 1)) throw new RangeError(`NoiseSchedule: betas[${t}] must be in (0, 1), got ${b}`);
    }
    this.alphas = new Float64Array(T);
    this.alphasCumprod = new Float64Array(T);
    this.alphasCumprodPrev = new Float64Array(T);
    this.sqrtAlphasCumprod = new Float64Array(T);
    this.sqrtOneMinusAlphasCumprod = new Float64Array(T);
    this.posteriorVariance = new Float64Array(T);
    this.posteriorVarianceLarge = Float64Array.from(this.betas);
    this.posteriorLogVarianceClipped = new Float64Array(T);
    this.posteriorMeanCoef1 = new Float64Array(T);
    this.posteriorMeanCoef2 = new Float64Array(T);
    let acc = 1;
    for (let t = 0; t < T; t++) {
      const a = 1 - this.betas[t];
      this.alphas[t] = a;
      this.alphasCumprodPrev[t] = acc;
      acc *= a;
      this.alphasCumprod[t] = acc;
      this.sqrtAlphasCumprod[t] = Math.sqrt(acc);
      this.sqrtOneMinusAlphasCumprod[t] = Math.sqrt(1 - acc);
      const prev = this.alphasCumprodPrev[t];
      this.posteriorVariance[t] = this.betas[t] * (1 - prev) / (1 - acc);
      this.posteriorMeanCoef1[t] = this.betas[t] * Math.sqrt(prev) / (1 - acc);
      this.posteriorMeanCoef2[t] = (1 - prev) * Math.sqrt(a) / (1 - acc);
    }
    for (let t = 0; t < T; t++) {
      const v = t === 0 && T > 1 ? this.posteriorVariance[1] : this.posteriorVariance[t];
      this.posteriorLogVarianceClipped[t] = Math.log(Math.max(v, 1e-20));
    }
  }

  /** The schedule of `betaSchedule` with T = `numTrainTimesteps` (see `makeBetas`). */
  static named(
    betaSchedule: BetaSchedule,
    numTrainTimesteps = 1000,
    betaStart = 0.0001,
    betaEnd = 0.02,
  ): NoiseSchedule {
    return new NoiseSchedule(makeBetas(betaSchedule, numTrainTimesteps, betaStart, betaEnd));
  }
}

/**
 * The descending inference timesteps diffusers' `set_timesteps` picks for `numInferenceSteps`
 * out of `numTrainTimesteps` (`leading`: multiples of ⌊T/n⌋ plus `stepsOffset`; `trailing`:
 * round(T − i·T/n) − 1; `linspace`: round(linspace(0, T−1, n)), NumPy's half-to-even rounding).
 */
export function spacedTimesteps(
  timestepSpacing: TimestepSpacing,
  numTrainTimesteps: number,
  numInferenceSteps: number,
  stepsOffset = 0,
): Int32Array {
  checkT(numTrainTimesteps, "spacedTimesteps");
  const T = numTrainTimesteps, n = numInferenceSteps;
  if (!Number.isInteger(n) || n < 1 || n > T) {
    throw new RangeError(
      `setTimesteps: numInferenceSteps must be an integer in [1, numTrainTimesteps = ${T}], got ${n}`,
    );
  }
  if (!Number.isInteger(stepsOffset) || stepsOffset < 0) {
    throw new RangeError(`setTimesteps: stepsOffset must be a non-negative integer, got ${stepsOffset}`);
  }
  const out = new Int32Array(n);
  switch (timestepSpacing) {
    case "leading": {
      const ratio = Math.floor(T / n);
      for (let i = 0; i < n; i++) out[i] = (n - 1 - i) * ratio + stepsOffset;
      break;
    }
    case "trailing": {
      // np.arange(T, 0, -T/n): NumPy steps by (T − T/n) − T, not by −T/n.
      const delta = (T - T / n) - T;
      for (let i = 0; i < n; i++) out[i] = roundHalfEven(T + i * delta) - 1;
      break;
    }
    case "linspace": {
      const ls = linspace64(0, T - 1, n);
      for (let i = 0; i < n; i++) out[i] = roundHalfEven(ls[n - 1 - i]);
      break;
    }
    default:
      throw new RangeError(
        `setTimesteps: timestepSpacing must be "leading", "trailing" or "linspace", got ${
          JSON.stringify(timestepSpacing)
        }`,
      );
  }
  checkTimestepList(out, T, "setTimesteps");
  return out;
}

/** Resolved configuration shared by the schedulers (diffusers' `config`, camelCased). */
export interface SchedulerConfig {
  /** Number of training timesteps T. */
  numTrainTimesteps: number;
  /** First β of the linear and scaled-linear schedules. */
  betaStart: number;
  /** Last β of the linear and scaled-linear schedules. */
  betaEnd: number;
  /** The β schedule (`"cosine"` resolved to `"squaredcos_cap_v2"`). */
  betaSchedule: "linear" | "scaled_linear" | "squaredcos_cap_v2";
  /** Explicit β values, overriding `betaSchedule`, or null. */
  trainedBetas: Float64Array | null;
  /** What the model predicts (`"v"` resolved to `"v_prediction"`). */
  predictionType: "epsilon" | "v_prediction" | "sample";
  /** Clamp the predicted x₀ to ±`clipSampleRange`. */
  clipSample: boolean;
  /** Bound of `clipSample`. */
  clipSampleRange: number;
  /** Dynamic thresholding of x̂₀ (Imagen), used instead of `clipSample` when on. */
  thresholding: boolean;
  /** Quantile of |x̂₀| per sample that sets the dynamic threshold. */
  dynamicThresholdingRatio: number;
  /** Largest dynamic threshold. */
  sampleMaxValue: number;
  /** Added to every `leading` timestep. */
  stepsOffset: number;
  /** How inference timesteps are spread. */
  timestepSpacing: TimestepSpacing;
}

/** Constructor options shared by the schedulers (diffusers' names, camelCased); every field is optional. */
export interface SchedulerOptions {
  /** Number of training timesteps T (default 1000, or the length of `trainedBetas`). */
  numTrainTimesteps?: number;
  /** First β of the linear and scaled-linear schedules (default 0.0001). */
  betaStart?: number;
  /** Last β of the linear and scaled-linear schedules (default 0.02). */
  betaEnd?: number;
  /** The β schedule (default `"linear"`). */
  betaSchedule?: BetaSchedule;
  /** Explicit β values (length T), overriding `betaSchedule`. */
  trainedBetas?: ArrayLike<number> | null;
  /** What the model predicts (default `"epsilon"`). */
  predictionType?: PredictionType;
  /** Clamp the predicted x₀ to ±`clipSampleRange` (default true, as diffusers). */
  clipSample?: boolean;
  /** Bound of `clipSample` (default 1). */
  clipSampleRange?: number;
  /**
   * Dynamic thresholding (Saharia et al. 2022, diffusers' `thresholding`): per sample,
   * s = clamp(quantile(|x̂₀|, `dynamicThresholdingRatio`), 1, `sampleMaxValue`) and
   * x̂₀ ← clamp(x̂₀, −s, s)/s; replaces `clipSample` when on (default false). Keeps strongly
   * guided samples from saturating; meant for pixel-space models.
   */
  thresholding?: boolean;
  /** Quantile of |x̂₀| for `thresholding` (default 0.995). */
  dynamicThresholdingRatio?: number;
  /** Upper bound of the dynamic threshold (default 1, as diffusers). */
  sampleMaxValue?: number;
  /** Added to every `leading` timestep (default 0). */
  stepsOffset?: number;
  /** How inference timesteps are spread (default `"leading"`). */
  timestepSpacing?: TimestepSpacing;
}

/** Options of `step()`. */
export interface StepOptions {
  /** DDIM only: weight of the fresh noise, 0 = deterministic DDIM, 1 = DDPM-like (default 0). */
  eta?: number;
  /** Generator for the step's noise (default: the global one). */
  generator?: Generator;
  /** Use this standard-normal tensor (shaped like the sample) as the step's noise instead of drawing one. */
  varianceNoise?: Tensor;
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
}

const COMMON_KEYS = [
  "numTrainTimesteps",
  "betaStart",
  "betaEnd",
  "betaSchedule",
  "trainedBetas",
  "predictionType",
  "clipSample",
  "clipSampleRange",
  "thresholding",
  "dynamicThresholdingRatio",
  "sampleMaxValue",
  "stepsOffset",
  "timestepSpacing",
];

/** Validates common options (rejecting unknown keys other than `extraKeys`) and fills in defaults. */
export function resolveSchedulerConfig(
  opts: SchedulerOptions,
  extraKeys: readonly string[],
  name: string,
): SchedulerConfig {
  if (opts === null || typeof opts !== "object") throw new TypeError(`${name}: options must be an object`);
  const allowed = new Set([...COMMON_KEYS, ...extraKeys]);
  for (const k of Object.keys(opts)) {
    if (!allowed.has(k)) {
      throw new TypeError(`${name}: unknown option "${k}"; expected one of ${[...allowed].join(", ")}`);
    }
  }
  let trainedBetas: Float64Array | null = null;
  if (opts.trainedBetas !== undefined && opts.trainedBetas !== null) {
    const tb = opts.trainedBetas;
    if (typeof tb !== "object" || typeof tb.length !== "number" || tb.length < 1) {
      throw new TypeError(`${name}: trainedBetas must be a non-empty array of numbers`);
    }
    trainedBetas = Float64Array.from(tb);
  }
  const numTrainTimesteps = opts.numTrainTimesteps ?? trainedBetas?.length ?? 1000;
  checkT(numTrainTimesteps, name);
  if (trainedBetas && trainedBetas.length !== numTrainTimesteps) {
    throw new RangeError(
      `${name}: trainedBetas has ${trainedBetas.length} values but numTrainTimesteps is ${numTrainTimesteps}`,
    );
  }
  const betaStart = opts.betaStart ?? 0.0001, betaEnd = opts.betaEnd ?? 0.02;
  checkBetaRange(betaStart, betaEnd, name);
  const bs = opts.betaSchedule ?? "linear";
  if (!["linear", "scaled_linear", "squaredcos_cap_v2", "cosine"].includes(bs)) {
    throw new RangeError(
      `${name}: betaSchedule must be "linear", "scaled_linear", "squaredcos_cap_v2" or "cosine", got ${
        JSON.stringify(bs)
      }`,
    );
  }
  const pt = opts.predictionType ?? "epsilon";
  if (!["epsilon", "v_prediction", "v", "sample"].includes(pt)) {
    throw new RangeError(
      `${name}: predictionType must be "epsilon", "v_prediction" (or "v") or "sample", got ${JSON.stringify(pt)}`,
    );
  }
  const clipSample = opts.clipSample ?? true;
  if (typeof clipSample !== "boolean") throw new TypeError(`${name}: clipSample must be a boolean, got ${clipSample}`);
  const clipSampleRange = opts.clipSampleRange ?? 1;
  if (!(clipSampleRange > 0) || !Number.isFinite(clipSampleRange)) {
    throw new RangeError(`${name}: clipSampleRange must be a positive number, got ${clipSampleRange}`);
  }
  const thresholding = opts.thresholding ?? false;
  if (typeof thresholding !== "boolean") {
    throw new TypeError(`${name}: thresholding must be a boolean, got ${thresholding}`);
  }
  const dynamicThresholdingRatio = opts.dynamicThresholdingRatio ?? 0.995;
  if (
    typeof dynamicThresholdingRatio !== "number" || !(dynamicThresholdingRatio > 0 && dynamicThresholdingRatio <= 1)
  ) {
    throw new RangeError(`${name}: dynamicThresholdingRatio must be in (0, 1], got ${dynamicThresholdingRatio}`);
  }
  const sampleMaxValue = opts.sampleMaxValue ?? 1;
  if (typeof sampleMaxValue !== "number" || !(sampleMaxValue >= 1) || !Number.isFinite(sampleMaxValue)) {
    throw new RangeError(`${name}: sampleMaxValue must be a finite number ≥ 1, got ${sampleMaxValue}`);
  }
  const stepsOffset = opts.stepsOffset ?? 0;
  if (!Number.isInteger(stepsOffset) || stepsOffset < 0 || stepsOffset >= numTrainTimesteps) {
    throw new RangeError(
      `${name}: stepsOffset must be an integer in [0, numTrainTimesteps), got ${stepsOffset}`,
    );
  }
  const timestepSpacing = opts.timestepSpacing ?? "leading";
  if (!["leading", "trailing", "linspace"].includes(timestepSpacing)) {
    throw new RangeError(
      `${name}: timestepSpacing must be "leading", "trailing" or "linspace", got ${JSON.stringify(timestepSpacing)}`,
    );
  }
  return {
    numTrainTimesteps,
    betaStart,
    betaEnd,
    betaSchedule: bs === "cosine" ? "squaredcos_cap_v2" : bs,
    trainedBetas,
    predictionType: pt === "v" ? "v_prediction" : pt,
    clipSample,
    clipSampleRange,
    thresholding,
    dynamicThresholdingRatio,
    sampleMaxValue,
    stepsOffset,
    timestepSpacing,
  };
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

/**
 * Imagen's dynamic thresholding of a batch of predicted x₀ (diffusers' `_threshold_sample`):
 * per sample s = clamp(quantile(|x₀|, ratio), 1, maxValue), then clamp(x₀, −s, s)/s.
 */
export function dynamicThreshold(x0: Tensor, ratio: number, maxValue: number): Tensor {
  checkTensorArg(x0, "dynamicThreshold", "x0");
  if (x0.ndim < 2) {
    throw new RangeError(`dynamicThreshold: x0 needs a batch dim and sample dims, got shape [${x0.shape}]`);
  }
  return scope(() => {
    const rows = reshape(abs(x0), [x0.shape[0], -1]);
    const s = clamp(quantile(rows, ratio, 1), 1, maxValue);
    const b = reshape(s, [x0.shape[0], ...x0.shape.slice(1).map(() => 1)]);
    return div(minimum(maximum(x0, neg(b)), b), b);
  });
}

/** a·x + b·y with plain-number coefficients (skips a term whose coefficient is 0). */
export function axpby(a: number, x: Tensor, b: number, y: Tensor): Tensor {
  if (b === 0) return mul(x, a);
  if (a === 0) return mul(y, b);
  return scope(() => add(mul(x, a), mul(y, b)));
}

/** Throws a TypeError naming `arg` unless `x` is a live Tensor. */
export function checkTensorArg(x: unknown, op: string, arg: string): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new TypeError(`${op}: ${arg} must be a Tensor, got ${typeof x}`);
  x.assertLive(op);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function checkT(T: number, op: string): void {
  if (!Number.isInteger(T) || T < 1) {
    throw new RangeError(`${op}: numTrainTimesteps must be a positive integer, got ${T}`);
  }
}

function checkBetaRange(betaStart: number, betaEnd: number, op: string): void {
  if (!(betaStart > 0 && betaStart < 1)) throw new RangeError(`${op}: betaStart must be in (0, 1), got ${betaStart}`);
  if (!(betaEnd > 0 && betaEnd < 1)) throw new RangeError(`${op}: betaEnd must be in (0, 1), got ${betaEnd}`);
}

function checkTimestepList(ts: Int32Array, T: number, op: string): void {
  for (let i = 0; i < ts.length; i++) {
    if (ts[i] < 0 || ts[i] >= T) {
      throw new RangeError(`${op}: timestep ${ts[i]} (index ${i}) is outside [0, ${T}); lower stepsOffset?`);
    }
    if (i > 0 && ts[i] >= ts[i - 1]) {
      throw new RangeError(`${op}: timesteps must be strictly descending, got ${ts[i - 1]} then ${ts[i]}`);
    }
  }
}

/** NumPy's `linspace(start, stop, num)`: start + i·step, last value exactly `stop`. */
function linspace64(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  if (num === 1) {
    out[0] = start;
    return out;
  }
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  out[num - 1] = stop;
  return out;
}
