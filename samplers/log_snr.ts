/**
 * Noise schedules written as a log signal-to-noise ratio λ(t) over continuous time t ∈ [0, 1]
 * (Kingma et al. 2021; Hoogeboom et al. 2023, "simple diffusion"): ᾱ(t) = σ(λ(t)) (the logistic function),
 * α = √ᾱ, σ = √(1 − ᾱ). The shifted cosine schedule moves the cosine schedule's λ by
 * 2·ln(base/resolution), so that an image larger than `base` pixels gets as much noise, per
 * its information, as a `base`-pixel image would (the diffusion classifier paper's schedule).
 *
 * Discrete samplers use the same schedule through {@linkcode logSnrBetas}: discrete timestep i
 * of T is continuous time (i + 1)/T, so a model trained in continuous time with the time input
 * t·T − 1 is sampled and classified by the ordinary DDPM/DDIM schedulers.
 * @module
 */
import { betasForAlphaBar } from "./noise_schedule.ts";

/** Options of {@linkcode cosineLogSnr}. */
export interface CosineLogSnrOptions {
  /** Added to λ everywhere (default 0; see {@linkcode resolutionShift}). */
  shift?: number;
  /** λ at t = 1 before the shift (default −15). */
  logSnrMin?: number;
  /** λ at t = 0 before the shift (default 15). */
  logSnrMax?: number;
}

/** The logistic function 1/(1 + e^−x), written to stay finite for large |x|. */
export function logistic(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/**
 * The cosine schedule as a log-SNR: λ(t) = −2·ln tan(a + t·(b − a)) + shift, with a and b chosen
 * so that λ(0) = logSnrMax and λ(1) = logSnrMin before the shift (the unclipped cosine schedule
 * reaches ±∞ at the ends).
 */
export function cosineLogSnr(t: number, opts: CosineLogSnrOptions = {}): number {
  const { shift = 0, logSnrMin = -15, logSnrMax = 15 } = opts;
  if (!(t >= 0 && t <= 1)) throw new RangeError(`cosineLogSnr: t must be in [0, 1], got ${t}`);
  if (!Number.isFinite(shift)) throw new RangeError(`cosineLogSnr: shift must be finite, got ${shift}`);
  if (!(logSnrMin < logSnrMax) || !Number.isFinite(logSnrMin) || !Number.isFinite(logSnrMax)) {
    throw new RangeError(`cosineLogSnr: need finite logSnrMin < logSnrMax, got ${logSnrMin} and ${logSnrMax}`);
  }
  const a = Math.atan(Math.exp(-0.5 * logSnrMax)), b = Math.atan(Math.exp(-0.5 * logSnrMin));
  return -2 * Math.log(Math.tan(a + t * (b - a))) + shift;
}

/** The shift of the shifted cosine schedule for images of `resolution` pixels: 2·ln(base/resolution). */
export function resolutionShift(base: number, resolution: number): number {
  if (!(base > 0) || !(resolution > 0)) {
    throw new RangeError(`resolutionShift: base and resolution must be positive, got ${base} and ${resolution}`);
  }
  return 2 * Math.log(base / resolution);
}

/** Float64 β_0 … β_{T−1} of a log-SNR schedule: ᾱ_i = logistic(λ((i + 1)/T)) / logistic(λ(0)). */
export function logSnrBetas(numTrainTimesteps: number, logSnr: (t: number) => number): Float64Array {
  return betasForAlphaBar(numTrainTimesteps, (t) => logistic(logSnr(t)));
}
