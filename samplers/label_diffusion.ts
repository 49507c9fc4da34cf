/**
 * Label diffusion (DiffMIC-v2): the *label* is diffused, not the image. A one-hot label is
 * tiled over a K×K map whose cells each carry their own timestep and noise; the guided prior
 * map interpolates the guidance network's global and local logits by the distance to the
 * diagonal; training weights the noise error by a focal weight from the prior's confidence;
 * inference runs DDIM on the map (η = 0) and averages the cells.
 *
 * Cell order everywhere is row-major within an image: cell (i, j) of image b has index
 * b·K·K + i·K + j (the per-cell timesteps follow it).
 * @module
 */
import { noGrad } from "../core/autograd.ts";
import { full, tensor } from "../core/ops/creation.ts";
import { add, mul, pow, sub } from "../core/ops/elementwise.ts";
import { cat, gather, oneHot } from "../core/ops/join.ts";
import { type Generator, rand, randint, randn } from "../core/ops/random.ts";
import { mean } from "../core/ops/reduce.ts";
import { softmax } from "../core/ops/softmax.ts";
import { permute, reshape, unsqueeze } from "../core/ops/view.ts";
import { scope } from "../core/scope.ts";
import type { Tensor } from "../core/tensor.ts";
import type { Scheduler } from "./scheduler.ts";

/** The (K, K) weight of the local logits per cell: |i − j| / (K − 1) (0 everywhere when K = 1). */
export function localWeights(K: number): Float32Array {
  const w = new Float32Array(K * K);
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) w[i * K + j] = K > 1 ? Math.abs(i - j) / (K - 1) : 0;
  return w;
}

/**
 * The guided prior map (B, C, K, K): cell (i, j) holds (1 − d)·yGlobal + d·yLocal with
 * d = |i − j| / (K − 1) — the global prediction on the diagonal, the local one in the two far
 * corners (the official code also writes those two explicitly; the formula already gives them).
 */
export function guidedPriorMap(yGlobal: Tensor, yLocal: Tensor, K: number): Tensor {
  if (yGlobal.ndim !== 2 || yLocal.ndim !== 2 || yGlobal.shape.some((d, i) => d !== yLocal.shape[i])) {
    throw new RangeError(
      `guidedPriorMap: yGlobal and yLocal must both be (B, C), got (${yGlobal.shape}) and (${yLocal.shape})`,
    );
  }
  if (!Number.isInteger(K) || K < 1) throw new RangeError(`guidedPriorMap: K must be a positive integer, got ${K}`);
  return scope(() => {
    const wl = reshape(tensor(localWeights(K)), [1, 1, K, K]);
    const g = unsqueeze(unsqueeze(yGlobal, 2), 3), l = unsqueeze(unsqueeze(yLocal, 2), 3);
    return add(g, mul(sub(l, g), wl)); // g + d·(l − g) = (1 − d)·g + d·l
  });
}

/** The one-hot labels (B) tiled over the K×K map: (B, C, K, K). */
export function labelMap(labels: Tensor, numClasses: number, K: number): Tensor {
  return scope(() => {
    const oh = oneHot(labels, numClasses); // (B, C) float32
    return unsqueeze(unsqueeze(oh, 2), 3).expand([labels.shape[0], numClasses, K, K]).contiguous();
  });
}

/** (B, C, K, K) → (B·K·K, C): one row per cell, in cell order. */
export function mapToCells(map: Tensor): Tensor {
  const [B, C, H, W] = map.shape;
  return reshape(permute(map, [0, 2, 3, 1]).contiguous(), [B * H * W, C]);
}

/** (B·K·K, C) → (B, C, K, K): the inverse of {@linkcode mapToCells}. */
export function cellsToMap(cells: Tensor, B: number, K: number): Tensor {
  const C = cells.shape[1];
  return permute(reshape(cells, [B, K, K, C]), [0, 3, 1, 2]).contiguous();
}

/** A noised training example of the label map. */
export interface NoisedLabels {
  /** The noised map y_t (B, C, K, K). */
  noisy: Tensor;
  /** The noise ε (B, C, K, K). */
  noise: Tensor;
  /** One timestep per cell, int32 (B·K·K). */
  timesteps: Tensor;
}

/**
 * Noises the clean map `y0` (B, C, K, K): a timestep drawn uniformly from [0, T) for every
 * cell and a standard normal ε, y_t = √ᾱ_t·y0 + √(1 − ᾱ_t)·ε per cell.
 */
export function noiseLabelMap(
  scheduler: Pick<Scheduler, "config"> & { addNoise(x: Tensor, n: Tensor, t: Tensor): Tensor },
  y0: Tensor,
  generator?: Generator,
): NoisedLabels {
  const [B, , K] = y0.shape;
  return scope(() => {
    const T = scheduler.config.numTrainTimesteps;
    const timesteps = randint(0, T, [B * K * K], { generator, dtype: "int32" });
    const noise = randn(y0.shape, { generator });
    const noisyCells = scheduler.addNoise(mapToCells(y0), mapToCells(noise), timesteps);
    return { noisy: cellsToMap(noisyCells, B, K), noise, timesteps };
  });
}

/** Options of {@linkcode diffusionFocalLoss}. */
export interface FocalWeightOptions {
  /** Scale of the extra weight (default 10). */
  alpha?: number;
  /** Exponent of (1 − p_y) (default 1). */
  gamma?: number;
}

/** The focal weight w = 1 + α·(1 − p_y)^γ per image, p = softmax(priorLogits), no gradient (B). */
export function focalWeights(priorLogits: Tensor, labels: Tensor, opts: FocalWeightOptions = {}): Tensor {
  const alpha = opts.alpha ?? 10, gamma = opts.gamma ?? 1;
  return noGrad(() =>
    scope(() => {
      const p = gather(softmax(priorLogits, 1), 1, reshape(labels, [-1, 1])); // (B, 1)
      return reshape(add(1, mul(alpha, pow(sub(1, p), gamma))), [-1]);
    })
  );
}

/**
 * DiffMIC-v2's loss: mean over every element of w·(ε̂ − ε)², w the per-image
 * {@linkcode focalWeights} of the guidance network's prior (a detached weight: the prior is
 * frozen while the denoiser trains). With x₀ prediction, `pred` and `target` are the label maps.
 */
export function diffusionFocalLoss(
  pred: Tensor,
  target: Tensor,
  priorLogits: Tensor,
  labels: Tensor,
  opts: FocalWeightOptions = {},
): Tensor {
  return scope(() => {
    const w = reshape(focalWeights(priorLogits, labels, opts), [-1, 1, 1, 1]);
    const d = sub(pred, target);
    return mean(mul(w, mul(d, d)));
  });
}

/** How inference starts: the official code's guided map of U[0, 1) draws, or the paper's N(prior, I). */
export type LabelStartNoise = "uniform" | "gaussian";

/** Options of {@linkcode sampleLabelMap}. */
export interface SampleLabelOptions {
  /** Inference steps (default 10). */
  steps?: number;
  /** DDIM η (default 0: deterministic). */
  eta?: number;
  /** Start noise (default "uniform", as the official code). */
  start?: LabelStartNoise;
  /** Generator of the start noise (and of the step noise when η > 0). */
  generator?: Generator;
  /** Also return the class probabilities after each step (softmax of the cell mean of x̂₀). */
  trajectory?: boolean;
  /** Feed [prior, y_t] to the model (default true); false feeds y_t alone. */
  guidance?: boolean;
}

/** What {@linkcode sampleLabelMap} returns (tensors owned by the caller). */
export interface LabelSample {
  /** The denoised map (B, C, K, K). */
  map: Tensor;
  /** Its cell mean (B, C): the prediction (argmax) and, through softmax, the probabilities. */
  logits: Tensor;
  /** (B, C) probabilities at the start and after every step, when asked for. */
  trajectory?: Tensor[];
}

/**
 * Runs the reverse process on the label map from the start noise to t = 0 with `scheduler`
 * (a DDIM scheduler; its clipping of x̂₀ applies). `eps(yIn, t)` predicts the noise for the
 * model input (B, 2C, K, K) = [prior, y_t] (or y_t alone without guidance) and per-cell
 * timesteps t (int32, B·K·K). The caller's prior (B, C, K, K) is read, not freed.
 */
export function sampleLabelMap(
  eps: (yIn: Tensor, t: Tensor) => Tensor,
  scheduler: Scheduler,
  prior: Tensor,
  opts: SampleLabelOptions = {},
): LabelSample {
  const [B, C, K] = prior.shape;
  const steps = opts.steps ?? 10, guidance = opts.guidance ?? true, start = opts.start ?? "uniform";
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`sampleLabelMap: steps must be ≥ 1, got ${steps}`);
  if (start !== "uniform" && start !== "gaussian") {
    throw new RangeError(`sampleLabelMap: start must be "uniform" or "gaussian", got ${JSON.stringify(start)}`);
  }
  const g = opts.generator;
  scheduler.setTimesteps(steps);
  const cellMeanProbs = (m: Tensor) => softmax(mean(m, [2, 3]), 1);
  return noGrad(() => {
    let y = scope(() =>
      start === "uniform"
        ? guidedPriorMap(rand([B, C], { generator: g }), rand([B, C], { generator: g }), K)
        : add(prior, randn(prior.shape, { generator: g }))
    );
    const trajectory: Tensor[] | undefined = opts.trajectory ? [scope(() => cellMeanProbs(y))] : undefined;
    try {
      for (const t of scheduler.timesteps) {
        const cur = y;
        const out = scope(() => {
          const tt = full([B * K * K], t, { dtype: "int32" });
          const e = eps(guidance ? cat([prior, cur], 1) : cur, tt);
          const s = scheduler.step(e, t, cur, { eta: opts.eta ?? 0, generator: g });
          const probs = trajectory ? cellMeanProbs(s.predOriginalSample) : null;
          return { next: s.prevSample, probs };
        });
        y.dispose();
        y = out.next;
        if (trajectory && out.probs) trajectory.push(out.probs);
      }
    } catch (e) {
      y.dispose();
      for (const t of trajectory ?? []) t.dispose();
      throw e;
    }
    return { map: y, logits: mean(y, [2, 3]), ...(trajectory ? { trajectory } : {}) };
  });
}
