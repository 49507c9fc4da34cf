/**
 * The DDPM task's training objective: how a clean batch becomes the network's input x_t, its time
 * input and its target, and how the prediction error becomes a loss. One object serves training
 * and validation, so both measure the same thing.
 *
 * - `diffusion.timeSampling discrete`: integer timesteps t ~ U{0 … T−1}, x_t from the scheduler.
 * - `continuous` (needs `betaSchedule shifted_cosine`): u ~ U(0, 1), ᾱ = logistic(λ(u)) from the
 *   log-SNR schedule, time input u·T − 1 (discrete timestep i is time (i + 1)/T, so the run's
 *   DDPM/DDIM samplers and the diffusion classifier use the model unchanged).
 * - `diffusion.lossWeight snr-clamped`: the squared error of the implied noise, ‖ε̂ − ε‖², weighted
 *   by 1/(1 + min(SNR, snrClamp)) (the diffusion classifier paper's weighting). The model's own
 *   target error is converted exactly: ε̂ − ε = α·(v̂ − v) = −√SNR·(x̂₀ − x₀).
 * @module
 */
import { tensor } from "../../core/ops/creation.ts";
import { add, mul, square, sub } from "../../core/ops/elementwise.ts";
import { indexSelect } from "../../core/ops/join.ts";
import { reshape } from "../../core/ops/view.ts";
import { mseLoss } from "../../core/ops/loss.ts";
import { Generator, randint, randn } from "../../core/ops/random.ts";
import { noGrad } from "../../core/autograd.ts";
import type { DataLoader } from "../../datasets/loader.ts";
import { mean } from "../../core/ops/reduce.ts";
import { keep, scope } from "../../core/scope.ts";
import type { Tensor } from "../../core/tensor.ts";
import { logistic } from "../../samplers/log_snr.ts";
import type { DDPMScheduler } from "../../samplers/ddpm.ts";
import { Rng } from "../../util/rng.ts";
import { type DiffusionSection, runLogSnr } from "./model.ts";

/** One noised batch: the network's inputs, what it should predict, and per-sample loss weights. */
export interface NoisedBatch {
  /** x_t, shaped like x₀. */
  xt: Tensor;
  /** The network's time input, (B) float32 or int32. */
  time: Tensor;
  /** ε, v or x₀, shaped like x₀. */
  target: Tensor;
  /** (B, 1, …, 1) weights of the squared target error, or null for a plain MSE. */
  weight: Tensor | null;
}

/** Where the randomness comes from: a CPU stream for continuous times, the GPU generator for the rest. */
export interface RandomSource {
  /** CPU stream (continuous times). */
  rng: Rng;
  /** GPU generator of discrete timesteps and the noise (default: the global one). */
  generator?: Generator;
}

/** Weight of the target-space squared error for a sample of this SNR (see the module comment). */
export function targetErrorWeight(snr: number, prediction: string, clamp: number): number {
  const onEpsilon = 1 / (1 + Math.min(snr, clamp));
  if (prediction === "epsilon") return onEpsilon;
  if (prediction === "sample") return onEpsilon * snr;
  return onEpsilon * snr / (1 + snr); // v: α² = SNR/(1 + SNR)
}

/** The objective of a DDPM run (see the module comment). Owns one small GPU table; `dispose()` frees it. */
export class DiffusionObjective {
  readonly #sched: DDPMScheduler;
  readonly #prediction: string;
  readonly #continuous: ((t: number) => number) | null;
  readonly #clamp: number | null;
  #table: Tensor | null = null;

  constructor(cfg: DiffusionSection, sched: DDPMScheduler) {
    const d = cfg.diffusion;
    this.#sched = sched;
    this.#prediction = sched.config.predictionType;
    this.#continuous = d.timeSampling === "continuous" ? runLogSnr(cfg) : null;
    if (d.timeSampling === "continuous" && !this.#continuous) {
      throw new RangeError("diffusion.timeSampling continuous needs diffusion.betaSchedule shifted_cosine");
    }
    this.#clamp = d.lossWeight === "snr-clamped" ? d.snrClamp : null;
  }

  /** x_t, time input, target and weights for the clean batch `x0`: draws the times, then the noise. */
  noised(x0: Tensor, source: RandomSource): NoisedBatch {
    const B = x0.shape[0], T = this.#sched.config.numTrainTimesteps;
    const ones = x0.shape.slice(1).map(() => 1);
    if (!this.#continuous) {
      const ts = randint(0, T, [B], { generator: source.generator });
      const noise = randn(x0.shape, { generator: source.generator });
      const xt = this.#sched.addNoise(x0, noise, ts);
      const target = this.#prediction === "epsilon"
        ? noise.alias()
        : this.#prediction === "sample"
        ? x0.alias()
        : this.#sched.getVelocity(x0, noise, ts);
      noise.dispose();
      const weight = this.#clamp === null
        ? null
        : scope(() => reshape(indexSelect(this.#weights(), 0, ts), [B, ...ones]));
      return { xt, time: ts, target, weight };
    }
    const a = new Float32Array(B), s = new Float32Array(B), time = new Float32Array(B), w = new Float32Array(B);
    for (let i = 0; i < B; i++) {
      const u = source.rng.random(), lambda = this.#continuous(u);
      a[i] = Math.sqrt(logistic(lambda));
      s[i] = Math.sqrt(logistic(-lambda));
      time[i] = u * T - 1;
      if (this.#clamp !== null) w[i] = targetErrorWeight(Math.exp(lambda), this.#prediction, this.#clamp);
    }
    return scope(() => {
      const noise = randn(x0.shape, { generator: source.generator });
      const alpha = tensor(a, [B, ...ones]), sigma = tensor(s, [B, ...ones]);
      const xt = add(mul(x0, alpha), mul(noise, sigma));
      const target = this.#prediction === "epsilon"
        ? noise.alias()
        : this.#prediction === "sample"
        ? x0.alias()
        : sub(mul(noise, alpha), mul(x0, sigma));
      const weight = this.#clamp === null ? null : tensor(w, [B, ...ones]);
      return { xt, time: tensor(time, [B]), target, weight };
    });
  }

  /** The loss of a prediction for a noised batch: MSE, or the weighted mean squared error. */
  loss(pred: Tensor, batch: NoisedBatch): Tensor {
    if (!batch.weight) return mseLoss(pred, batch.target);
    return scope(() => mean(mul(square(sub(pred, batch.target)), batch.weight!)));
  }

  /** Frees the weight table. */
  dispose(): void {
    this.#table?.dispose();
    this.#table = null;
  }

  /** Per-timestep weights of the discrete schedule, made once. */
  #weights(): Tensor {
    if (!this.#table) {
      const ac = this.#sched.schedule.alphasCumprod;
      const w = Float32Array.from(ac, (v) => targetErrorWeight(v / (1 - v), this.#prediction, this.#clamp!));
      this.#table = keep(tensor(w)); // outlives the step's scope
    }
    return this.#table;
  }
}

/**
 * The mean validation loss of `model` (x, t, labels → prediction) over `loader`, its images taken
 * to the diffusion space by `toModel`, with timesteps and noise drawn from `seed` (the same every
 * validation); the caller sets the weights (the engine: EMA, eval mode). Null for an empty loader.
 */
export async function validationLoss(
  model: (x: Tensor, t: Tensor, labels: Tensor) => Tensor,
  objective: DiffusionObjective,
  toModel: (images: Tensor) => Tensor,
  loader: DataLoader,
  seed: number,
): Promise<number | null> {
  if (loader.length === 0) return null;
  const source = { generator: new Generator(seed + 1), rng: new Rng(seed + 1) };
  const sums: Tensor[] = [];
  let count = 0;
  try {
    for await (const batch of loader.iterate(0)) {
      const B = batch.images.shape[0];
      sums.push(scope(() =>
        noGrad(() => {
          const noised = objective.noised(toModel(batch.images), source);
          return objective.loss(model(noised.xt, noised.time, batch.labels), noised).mul(B);
        })
      ));
      count += B;
      batch.dispose();
    }
    const values = await Promise.all(sums.map((s) => s.item()));
    return values.reduce((a, b) => a + b, 0) / count;
  } finally {
    sums.forEach((s) => s.dispose());
  }
}
