/**
 * DiffMIC-v2 inference over a loader: the frozen DCG gives the prior and the crops, the
 * denoiser recovers the label map by DDIM (10 steps by default, η = 0), the cell mean is the
 * prediction and its softmax the probability. The same pass records the DCG's own prediction
 * (softmax of y_fusion) on the same images, so every report compares the two.
 * @module
 */
import { noGrad } from "../../core/autograd.ts";
import { crossEntropy } from "../../core/ops/loss.ts";
import { add, mul } from "../../core/ops/elementwise.ts";
import { Generator } from "../../core/ops/random.ts";
import { softmax } from "../../core/ops/softmax.ts";
import { scope } from "../../core/scope.ts";
import type { Tensor } from "../../core/tensor.ts";
import type { DataLoader } from "../../datasets/loader.ts";
import type { Dcg, DcgOutput } from "../../models/dcg.ts";
import type { DiffMicDenoiser } from "../../models/diffmic.ts";
import { DDIMScheduler } from "../../samplers/ddim.ts";
import { guidedPriorMap, type LabelStartNoise, sampleLabelMap } from "../../samplers/label_diffusion.ts";
import { type Predictions, PredictionSink } from "../classify/predict.ts";
import type { DiffmicConfig } from "./config.ts";

/** The DDIM scheduler of a run's `diffusion` section. */
export function labelScheduler(d: DiffmicConfig["diffusion"]): DDIMScheduler {
  return new DDIMScheduler({
    numTrainTimesteps: d.timesteps,
    betaStart: d.betaStart,
    betaEnd: d.betaEnd,
    betaSchedule: d.betaSchedule as "linear",
    clipSample: d.clipSample,
    predictionType: d.prediction as "epsilon" | "sample",
  });
}

/** How inference runs (the `diffusion` keys it reads, and the seed). */
export interface InferenceSettings {
  /** DDIM steps. */
  steps: number;
  /** DDIM η. */
  eta: number;
  /** Start noise. */
  start: LabelStartNoise;
  /** Seeded samples averaged per image. */
  samples: number;
  /** Base seed of the start noise (per batch and sample derived from it). */
  seed: number;
}

/** The inference settings of a run's configuration. */
export function inferenceSettings(cfg: DiffmicConfig): InferenceSettings {
  const d = cfg.diffusion;
  return { steps: d.inferenceSteps, eta: d.eta, start: d.start as LabelStartNoise, samples: d.samples, seed: cfg.seed };
}

/** One batch's DiffMIC-v2 outputs (tensors owned by the caller). */
export interface BatchInference {
  /** Everything the DCG computed. */
  dcg: DcgOutput;
  /** Cell mean of the denoised map, averaged over the samples (B, C). */
  logits: Tensor;
  /** Class probabilities at the start and after each step (first sample), when asked for. */
  trajectory?: Tensor[];
}

/** The seed of sample `s` of batch `b`: the same start noise for the same image on any run and adapter. */
function batchSeed(seed: number, batch: number, s: number): number {
  return (seed * 1_000_003 + batch * 7919 + s * 104_729) >>> 0;
}

/** DiffMIC-v2 on one batch (no gradients; both networks in eval mode). */
export function inferBatch(
  dcg: Dcg,
  denoiser: DiffMicDenoiser,
  scheduler: DDIMScheduler,
  images: Tensor,
  batchIndex: number,
  s: InferenceSettings,
  trajectory = false,
): BatchInference {
  return noGrad(() =>
    scope(() => {
      const o = dcg.call(images);
      const prior = guidedPriorMap(o.yGlobal, o.yLocal, dcg.options.numK);
      const feature = denoiser.imageFeature(images, o);
      const eps = (yIn: Tensor, t: Tensor) => denoiser.denoise(yIn, t, feature);
      let sum: Tensor | null = null;
      let traj: Tensor[] | undefined;
      for (let k = 0; k < s.samples; k++) {
        const r = sampleLabelMap(eps, scheduler, prior, {
          steps: s.steps,
          eta: s.eta,
          start: s.start,
          generator: new Generator(batchSeed(s.seed, batchIndex, k)),
          trajectory: trajectory && k === 0,
          guidance: denoiser.options.guidance,
        });
        if (k === 0) traj = r.trajectory;
        sum = sum ? add(sum, r.logits) : r.logits;
      }
      const logits = s.samples > 1 ? mul(sum!, 1 / s.samples) : sum!;
      return { dcg: o, logits, ...(traj ? { trajectory: traj } : {}) };
    })
  );
}

/** DiffMIC-v2's predictions and its DCG's, on the same images. */
export interface DiffmicPredictions {
  /** The label diffusion's predictions (probabilities: softmax of the cell mean). */
  diffmic: Predictions;
  /** The DCG alone (softmax of y_fusion). */
  dcg: Predictions;
  /** Images per second of the whole inference (DCG + denoising, read-back included). */
  imagesPerSecond: number;
}

/** Runs DiffMIC-v2 over every batch of `loader` (see the module doc). */
export async function predictDiffmic(
  dcg: Dcg,
  denoiser: DiffMicDenoiser,
  scheduler: DDIMScheduler,
  loader: DataLoader,
  s: InferenceSettings,
): Promise<DiffmicPredictions> {
  const wasTraining = denoiser.training;
  denoiser.eval();
  dcg.eval();
  const ours = new PredictionSink(), prior = new PredictionSink();
  const t0 = performance.now();
  let n = 0, b = 0;
  try {
    for await (const batch of loader.iterate(0)) {
      const r = await scope(async () => {
        const out = inferBatch(dcg, denoiser, scheduler, batch.images, b++, s);
        const read = async (logits: Tensor) => ({
          probs: await softmax(logits, 1).data() as Float32Array,
          loss: await crossEntropy(logits, batch.labels, { reduction: "sum" }).item(),
        });
        const [a, d] = await Promise.all([read(out.logits), read(out.dcg.yFusion)]);
        return { a, d };
      });
      const labels = await batch.labels.data();
      ours.add(r.a.probs, labels, batch.ids, r.a.loss);
      prior.add(r.d.probs, labels, batch.ids, r.d.loss);
      n += batch.ids.length;
      batch.dispose();
    }
  } finally {
    if (wasTraining) denoiser.train();
  }
  const seconds = (performance.now() - t0) / 1000;
  return { diffmic: ours.result(), dcg: prior.result(), imagesPerSecond: n / Math.max(seconds, 1e-9) };
}
