/**
 * Classification by denoising (Li et al. 2023; Favero et al., MIDL 2025): a class-conditional
 * diffusion model, trained only to generate, labels an image with the class whose condition
 * predicts the added noise best. For each trial an image gets one timestep and one noise, the
 * same for every class; every class's error `‖ε̂(x_t, t, c) − ε‖²` (the ε-equivalent of a v or
 * x₀ prediction) is measured, the trial votes for the lowest, and the votes (or the mean errors)
 * decide. Staged elimination drops the worst classes after the first trials, so many-class
 * problems pay less.
 *
 * Timesteps and noise come from a CPU bank keyed by (seed, image id, trial), not from the GPU's
 * generator: the same seed draws the same noise on every adapter and for every batch layout.
 * Every (image, trial, class) row of a chunk goes through the network in one batch.
 * @module
 */
import { noGrad, scope, type Tensor, tensor } from "../core/mod.ts";
import { Rng } from "../util/rng.ts";
import type { DiffusionModel } from "./pipeline.ts";
import type { PredictionType } from "./scheduler_config.ts";
import type { NoiseSchedule } from "./noise_schedule.ts";
import { checkTensorArg } from "./tensor_helpers.ts";

/** One stage of staged elimination: run `trials` more trials, then keep the `keep` best classes. */
export interface EliminationStage {
  /** Trials in this stage. */
  trials: number;
  /** Classes kept after it (the last stage may keep any number ≥ 1). */
  keep: number;
}

/** What the classifier needs of a trained diffusion model. */
export interface DiffusionClassifierOptions {
  /** The conditional model, `(x_t, t, labels) => prediction` (EMA weights, eval mode, no guidance). */
  model: DiffusionModel;
  /** The training noise schedule (ᾱ_t) and what the model predicts. */
  schedule: Pick<NoiseSchedule, "sqrtAlphasCumprod" | "sqrtOneMinusAlphasCumprod" | "numTrainTimesteps">;
  /** `epsilon`, `v_prediction` or `sample`. */
  predictionType: PredictionType;
  /** Number of classes K (labels 0..K−1). */
  numClasses: number;
  /** Trials per image (default 51; odd, so two-class votes cannot tie). Ignored with `stages`. */
  trials?: number;
  /** `majority` vote over trials (default) or lowest `mean` error. */
  decision?: "majority" | "mean";
  /** Staged elimination; the stages' trials add up to the trial count. */
  stages?: readonly EliminationStage[];
  /** Most network rows (image × trial × class) per forward pass (default 256). */
  maxBatch?: number;
  /** Seed of the timestep and noise bank (default 0). */
  seed?: number;
  /** Timesteps are drawn uniformly from [lo, hi) (default the whole schedule). */
  timestepRange?: readonly [number, number];
  /** Run one class per forward pass (the slow way; for comparisons). */
  oneClassPerPass?: boolean;
}

/** The classifier's answer for a batch of images (B images, K classes, N trials). */
export interface DiffusionClassification {
  /** Predicted class per image [B]. */
  predictions: Int32Array;
  /** Votes per image and class [B·K] (row-major). */
  votes: Int32Array;
  /** Mean error per image and class over the trials it took part in [B·K]. */
  meanErrors: Float64Array;
  /** Trials each class took part in [B·K] (fewer for classes eliminated early). */
  trialsRun: Int32Array;
  /** Error of every (image, trial, class) [B·N·K]; NaN where a class had been eliminated. */
  trialErrors: Float32Array;
  /** Timestep of every (image, trial) [B·N]. */
  timesteps: Int32Array;
  /** Number of classes K. */
  numClasses: number;
  /** Number of trials N. */
  numTrials: number;
  /** Network rows evaluated (for cost accounting). */
  rows: number;
}

/** Resolved stages of a run: the plain classifier is one stage that keeps one class. */
function resolveStages(opts: DiffusionClassifierOptions, op: string): EliminationStage[] {
  const K = opts.numClasses;
  if (opts.stages === undefined) {
    const n = opts.trials ?? 51;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`${op}: trials must be a positive integer, got ${n}`);
    return [{ trials: n, keep: 1 }];
  }
  if (!Array.isArray(opts.stages) || opts.stages.length === 0) {
    throw new RangeError(`${op}: stages must be a non-empty array of { trials, keep }`);
  }
  let active = K;
  const out: EliminationStage[] = [];
  for (const [i, s] of opts.stages.entries()) {
    if (!Number.isInteger(s?.trials) || s.trials < 1) {
      throw new RangeError(`${op}: stages[${i}].trials must be a positive integer, got ${s?.trials}`);
    }
    if (!Number.isInteger(s.keep) || s.keep < 1 || s.keep > active) {
      throw new RangeError(`${op}: stages[${i}].keep must be an integer in [1, ${active}], got ${s.keep}`);
    }
    active = s.keep;
    out.push({ trials: s.trials, keep: s.keep });
  }
  if (opts.trials !== undefined && opts.trials !== out.reduce((a, s) => a + s.trials, 0)) {
    throw new RangeError(`${op}: trials ${opts.trials} differs from the stages' sum of trials`);
  }
  return out;
}

/**
 * The timestep and noise of one (image, trial): the same for every class, every batch layout
 * and every adapter (CPU Box–Muller from `Rng.derive(seed, imageId, trial)`).
 */
export function classifierNoise(
  seed: number,
  imageId: number,
  trial: number,
  size: number,
  range: readonly [number, number],
): { t: number; noise: Float32Array } {
  const rng = Rng.derive(seed, imageId, trial);
  const t = range[0] + rng.int(range[1] - range[0]);
  const noise = new Float32Array(size);
  for (let i = 0; i < size; i++) noise[i] = rng.normal();
  return { t, noise };
}

/**
 * Ranks the active classes of one image: by votes (ties by lower mean error, then lower index)
 * for `majority`, by mean error (ties by lower index) for `mean`. Returns class indices, best first.
 */
export function rankClasses(
  active: readonly number[],
  votes: ArrayLike<number>,
  meanErrors: ArrayLike<number>,
  decision: "majority" | "mean",
): number[] {
  return [...active].sort((a, b) => {
    if (decision === "majority" && votes[a] !== votes[b]) return votes[b] - votes[a];
    if (meanErrors[a] !== meanErrors[b]) return meanErrors[a] - meanErrors[b];
    return a - b;
  });
}

/**
 * Classifies `images` (B, C, H, W — in the model's data range, usually [−1, 1]) by denoising.
 * `imageIds` key the noise bank (default 0..B−1; pass dataset indices so an image gets the
 * same noise in any batch).
 *
 * @example
 * ```ts
 * const sched = new DDPMScheduler({ betaSchedule: "squaredcos_cap_v2", predictionType: "v_prediction" });
 * const res = await diffusionClassify({
 *   model: (x, t, y) => unet.call(x, t, y), schedule: sched.schedule,
 *   predictionType: "v_prediction", numClasses: 2, trials: 51,
 * }, images);
 * ```
 */
export async function diffusionClassify(
  opts: DiffusionClassifierOptions,
  images: Tensor,
  imageIds?: ArrayLike<number>,
): Promise<DiffusionClassification> {
  const op = "diffusionClassify";
  if (opts === null || typeof opts !== "object") throw new TypeError(`${op}: options must be an object`);
  if (typeof opts.model !== "function") throw new TypeError(`${op}: model must be a function (x, t, labels) => Tensor`);
  const K = opts.numClasses;
  if (!Number.isInteger(K) || K < 2) throw new RangeError(`${op}: numClasses must be an integer ≥ 2, got ${K}`);
  const decision = opts.decision ?? "majority";
  if (decision !== "majority" && decision !== "mean") {
    throw new RangeError(`${op}: decision must be "majority" or "mean", got ${JSON.stringify(decision)}`);
  }
  if (!["epsilon", "v_prediction", "sample"].includes(opts.predictionType)) {
    throw new RangeError(`${op}: predictionType must be epsilon, v_prediction or sample, got ${opts.predictionType}`);
  }
  const stages = resolveStages(opts, op);
  const N = stages.reduce((a, s) => a + s.trials, 0);
  const maxBatch = opts.maxBatch ?? 256;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) {
    throw new RangeError(`${op}: maxBatch must be a positive integer, got ${maxBatch}`);
  }
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed)) throw new RangeError(`${op}: seed must be an integer, got ${seed}`);
  const sched = opts.schedule;
  const T = sched.numTrainTimesteps;
  const range = opts.timestepRange ?? [0, T];
  if (
    !Number.isInteger(range[0]) || !Number.isInteger(range[1]) || range[0] < 0 || range[1] > T || range[0] >= range[1]
  ) {
    throw new RangeError(`${op}: timestepRange must be integers lo < hi within [0, ${T}], got [${range}]`);
  }
  checkTensorArg(images, op, "images");
  if (images.ndim < 2) throw new RangeError(`${op}: images must be (B, …), got shape [${images.shape}]`);
  const B = images.shape[0];
  const sampleShape = images.shape.slice(1);
  const size = sampleShape.reduce((a, b) => a * b, 1);
  const ids = imageIds === undefined ? Array.from({ length: B }, (_, i) => i) : Array.from(imageIds);
  if (ids.length !== B || ids.some((v) => !Number.isInteger(v))) {
    throw new RangeError(`${op}: imageIds must hold ${B} integers (one per image)`);
  }

  const votes = new Int32Array(B * K);
  const errSum = new Float64Array(B * K);
  const trialsRun = new Int32Array(B * K);
  const trialErrors = new Float32Array(B * N * K).fill(NaN);
  const timesteps = new Int32Array(B * N);
  const meanErrors = () => Float64Array.from(errSum, (s, k) => (trialsRun[k] > 0 ? s / trialsRun[k] : Infinity));
  // Classes still in the running, per image (all images keep the same number).
  const active: number[][] = Array.from({ length: B }, () => Array.from({ length: K }, (_, c) => c));
  let rows = 0;

  let trial0 = 0;
  for (const stage of stages) {
    const Ka = active[0].length;
    const perPass = opts.oneClassPerPass ? 1 : Ka;
    const imagesPerChunk = Math.max(1, Math.min(B, Math.floor(maxBatch / perPass)));
    for (let i0 = 0; i0 < B; i0 += imagesPerChunk) {
      const bc = Math.min(imagesPerChunk, B - i0);
      const trialsPerPass = Math.max(1, Math.floor(maxBatch / (bc * perPass)));
      for (let j0 = trial0; j0 < trial0 + stage.trials; j0 += trialsPerPass) {
        const m = Math.min(trialsPerPass, trial0 + stage.trials - j0);
        // The (image, trial) pairs of this pass, their timesteps and noise.
        const pairImage: number[] = [], pairT: number[] = [];
        const noise = new Float32Array(bc * m * size);
        for (let b = 0; b < bc; b++) {
          for (let j = 0; j < m; j++) {
            const i = i0 + b, trial = j0 + j;
            const drawn = classifierNoise(seed, ids[i], trial, size, range);
            noise.set(drawn.noise, (b * m + j) * size);
            timesteps[i * N + trial] = drawn.t;
            pairImage.push(i);
            pairT.push(drawn.t);
          }
        }
        for (let c0 = 0; c0 < Ka; c0 += perPass) {
          const kc = Math.min(perPass, Ka - c0);
          // Rows: pair p × class slot k → label active[image][c0 + k].
          const rowPair: number[] = [], rowLabel: number[] = [];
          pairImage.forEach((i, p) => {
            for (let k = 0; k < kc; k++) {
              rowPair.push(p);
              rowLabel.push(active[i][c0 + k]);
            }
          });
          const errs = await rowErrors(opts, images, noise, pairImage, pairT, rowPair, rowLabel, sampleShape);
          rows += rowLabel.length;
          rowLabel.forEach((c, r) => {
            const p = rowPair[r], i = pairImage[p], trial = j0 + (p % m);
            trialErrors[(i * N + trial) * K + c] = errs[r];
            errSum[i * K + c] += errs[r];
            trialsRun[i * K + c]++;
          });
        }
        // Each (image, trial) votes for its lowest error among the active classes.
        for (let b = 0; b < bc; b++) {
          const i = i0 + b;
          for (let j = 0; j < m; j++) {
            const base = (i * N + j0 + j) * K;
            let best = -1;
            for (const c of active[i]) {
              if (best < 0 || trialErrors[base + c] < trialErrors[base + best]) best = c;
            }
            votes[i * K + best]++;
          }
        }
      }
    }
    trial0 += stage.trials;
    const means = meanErrors();
    for (let i = 0; i < B; i++) {
      active[i] = rankClasses(active[i], votes.subarray(i * K), means.subarray(i * K), decision).slice(0, stage.keep);
      active[i].sort((a, b) => a - b);
    }
  }
  const means = meanErrors();
  const predictions = Int32Array.from(
    { length: B },
    (_, i) => rankClasses(active[i], votes.subarray(i * K), means.subarray(i * K), decision)[0],
  );
  return {
    predictions,
    votes,
    meanErrors: means,
    trialsRun,
    trialErrors,
    timesteps,
    numClasses: K,
    numTrials: N,
    rows,
  };
}

/**
 * One forward pass: x_t of every (image, trial) pair, repeated for its rows' classes, through
 * the model; returns each row's mean squared ε-error.
 */
async function rowErrors(
  opts: DiffusionClassifierOptions,
  images: Tensor,
  noise: Float32Array,
  pairImage: readonly number[],
  pairT: readonly number[],
  rowPair: readonly number[],
  rowLabel: readonly number[],
  sampleShape: readonly number[],
): Promise<Float32Array> {
  const s = opts.schedule;
  const P = pairImage.length, R = rowPair.length;
  const ones = sampleShape.map(() => 1);
  // Per row: x_t = a·x₀ + s·ε, and ε̂ = u·pred + w·x_t for the prediction type.
  const a = Float32Array.from(pairT, (t) => s.sqrtAlphasCumprod[t]);
  const sg = Float32Array.from(pairT, (t) => s.sqrtOneMinusAlphasCumprod[t]);
  const u = new Float32Array(R), w = new Float32Array(R);
  rowPair.forEach((p, r) => {
    switch (opts.predictionType) {
      case "epsilon":
        u[r] = 1;
        w[r] = 0;
        break;
      case "v_prediction": // ε = √ᾱ·v + √(1−ᾱ)·x_t
        u[r] = a[p];
        w[r] = sg[p];
        break;
      case "sample": // ε = (x_t − √ᾱ·x̂₀) / √(1−ᾱ)
        u[r] = -a[p] / sg[p];
        w[r] = 1 / sg[p];
        break;
    }
  });
  const errs = scope(() =>
    noGrad(() => {
      const x0 = images.indexSelect(0, tensor(Int32Array.from(pairImage)));
      const eps = tensor(noise, [P, ...sampleShape]);
      const xt = x0.mul(tensor(a, [P, ...ones])).add(eps.mul(tensor(sg, [P, ...ones])));
      const rowIndex = tensor(Int32Array.from(rowPair));
      const xtRows = xt.indexSelect(0, rowIndex);
      const tRows = tensor(Int32Array.from(rowPair, (p) => pairT[p]));
      const pred = opts.model(xtRows, tRows, tensor(Int32Array.from(rowLabel)));
      if (pred.shape.length !== sampleShape.length + 1 || pred.shape[0] !== R) {
        throw new RangeError(
          `diffusionClassify: the model returned shape [${pred.shape}], expected [${R}, ${sampleShape}]`,
        );
      }
      const epsHat = pred.mul(tensor(u, [R, ...ones])).add(xtRows.mul(tensor(w, [R, ...ones])));
      const diff = epsHat.sub(eps.indexSelect(0, rowIndex));
      return diff.square().reshape([R, -1]).mean(1);
    })
  );
  try {
    return Float32Array.from(await errs.toArray());
  } finally {
    errs.dispose();
  }
}

/** Per-image uncertainty of the votes: entropy (nats) of the vote shares, and top-1 − top-2 share. */
export function voteUncertainty(res: Pick<DiffusionClassification, "votes" | "numClasses">): {
  entropy: Float64Array;
  margin: Float64Array;
} {
  const K = res.numClasses, B = res.votes.length / K;
  const entropy = new Float64Array(B), margin = new Float64Array(B);
  for (let i = 0; i < B; i++) {
    const v = Array.from(res.votes.subarray(i * K, (i + 1) * K));
    const total = v.reduce((a, b) => a + b, 0);
    for (const n of v) if (n > 0) entropy[i] -= (n / total) * Math.log(n / total);
    v.sort((a, b) => b - a);
    margin[i] = (v[0] - v[1]) / total;
  }
  return { entropy, margin };
}
