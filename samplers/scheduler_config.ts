/**
 * The configuration every scheduler shares (diffusers' `config`, camelCased): the options a
 * constructor takes, their defaults and validation, and the resolved form.
 * @module
 */
import { type BetaSchedule, checkBetaRange, checkNumTrainTimesteps } from "./noise_schedule.ts";
import type { TimestepSpacing } from "./timesteps.ts";

/** What the model predicts: the noise ε, the velocity v = √ᾱ·ε − √(1−ᾱ)·x₀, or x₀ itself. `"v"` is an alias of `"v_prediction"`. */
export type PredictionType = "epsilon" | "v_prediction" | "v" | "sample";

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
  checkNumTrainTimesteps(numTrainTimesteps, name);
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
