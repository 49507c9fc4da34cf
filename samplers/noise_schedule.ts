/**
 * β schedules (linear, scaled-linear, cosine, any continuous ᾱ(t)) and `NoiseSchedule`, every
 * per-timestep quantity derived from β in float64 on the CPU. The formulas follow diffusers
 * (`betas_for_alpha_bar`, `DDPMScheduler.__init__`), with NumPy's `linspace` arithmetic.
 * @module
 */

/** How β grows with t. `"cosine"` is accepted as an alias of `"squaredcos_cap_v2"`. */
export type BetaSchedule = "linear" | "scaled_linear" | "squaredcos_cap_v2" | "cosine";

/** Float64 β_0 … β_{T−1} of a named schedule (NumPy's `linspace` arithmetic, so values match diffusers bit for bit). */
export function makeBetas(
  betaSchedule: BetaSchedule,
  numTrainTimesteps: number,
  betaStart = 0.0001,
  betaEnd = 0.02,
): Float64Array {
  checkNumTrainTimesteps(numTrainTimesteps, "makeBetas");
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
  checkNumTrainTimesteps(numTrainTimesteps, "betasForAlphaBar");
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

/** Throws a RangeError naming `op` unless T is a positive integer. */
export function checkNumTrainTimesteps(T: number, op: string): void {
  if (!Number.isInteger(T) || T < 1) {
    throw new RangeError(`${op}: numTrainTimesteps must be a positive integer, got ${T}`);
  }
}

/** Throws a RangeError naming `op` unless both linear-schedule bounds lie in (0, 1). */
export function checkBetaRange(betaStart: number, betaEnd: number, op: string): void {
  if (!(betaStart > 0 && betaStart < 1)) throw new RangeError(`${op}: betaStart must be in (0, 1), got ${betaStart}`);
  if (!(betaEnd > 0 && betaEnd < 1)) throw new RangeError(`${op}: betaEnd must be in (0, 1), got ${betaEnd}`);
}

/** NumPy's `linspace(start, stop, num)`: start + i·step, last value exactly `stop`. */
export function linspace64(start: number, stop: number, num: number): Float64Array {
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
