/**
 * The conditional DDPM task behind `deno task train`, on the training engine (train/engine.ts):
 * ε- (or v-/x₀-) prediction with MSE (or the weighted objective of objective.ts), label dropout to the null class (for classifier-free
 * guidance). Validation is the MSE with fixed timesteps and noise (the engine applies the EMA
 * weights); best.safetensors is kept by it.
 * @module
 */
import { manualSeed } from "../../core/ops/random.ts";
import { tensor } from "../../core/ops/creation.ts";
import type { Tensor } from "../../core/tensor.ts";
import { DataLoader } from "../../datasets/loader.ts";
import type { Rng } from "../../util/rng.ts";
import { fit, type FitResult, type TrainStart } from "../../train/engine.ts";
import type { Logger } from "../../train/logger.ts";
import type { RunDir } from "../../train/run_dir.ts";
import type { DdpmConfig } from "./config.ts";
import type { ImageData } from "../common/data.ts";
import { buildDenoiser, buildTrainScheduler, type Denoiser, describeDenoiser, diffusionSpace } from "./model.ts";
import { DiffusionObjective, validationLoss } from "./objective.ts";

/** What a finished (or interrupted) training run reports: the engine's summary, the denoiser and its best loss. */
export interface TrainResult extends FitResult {
  /** The denoiser (a U-Net, or a DiT with `model.arch dit`), with its training weights (the EMA holds the averaged ones). */
  unet: Denoiser;
  /** Best validation loss (EMA weights), or null when never validated. */
  bestValLoss: number | null;
}

/** Labels of a batch with each replaced by the null class with probability `p` (seeded per batch). */
function droppedLabels(labels: Int32Array, indices: Int32Array, nullClass: number, p: number, rng: Rng): Tensor {
  const out = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = rng.random() < p ? nullClass : labels[indices[i]];
  return tensor(out, [out.length], { dtype: "int32" });
}

/**
 * Trains (or resumes) a run: `run` holds the resolved config already; `data` the opened data.
 * Returns when the epochs are done or an interrupt stopped it (after saving a checkpoint).
 */
export async function trainDdpm(
  cfg: DdpmConfig,
  data: ImageData,
  run: RunDir,
  log: Logger,
  start: TrainStart = {},
): Promise<TrainResult> {
  const t = cfg.train;
  manualSeed(cfg.seed);
  const numClasses = data.classes.length;
  const unet = buildDenoiser(cfg, { channels: data.channels, imageSize: data.imageSize, numClasses });
  const sched = buildTrainScheduler(cfg);
  const objective = new DiffusionObjective(cfg, sched);
  const space = diffusionSpace(cfg, data);
  const loaderOptions = { batchSize: t.batchSize, seed: cfg.seed, cache: cfg.data.cache, concurrency: t.concurrency };
  const loader = new DataLoader(data.train, {
    ...loaderOptions,
    shuffle: true,
    dropLast: data.train.length >= t.batchSize,
    transform: data.trainTransform,
  });
  const valLoader = new DataLoader(data.val, { ...loaderOptions, transform: data.evalTransform });
  const trainLabels = await data.train.labels?.();
  if (!trainLabels) throw new Error("the training set does not expose its labels (needed for label dropout)");
  log.info(`data: ${data.description}`);
  try {
    const out = await fit({
      model: unet,
      loader,
      describe: describeDenoiser(cfg),
      metricNames: ["loss"],
      loss: (batch, ctx) => {
        const y = droppedLabels(trainLabels, batch.indices, numClasses, t.labelDropout, ctx.rng);
        const noised = objective.noised(space.toModel(batch.images), { rng: ctx.rng });
        return { loss: objective.loss(unet.call(noised.xt, noised.time, y), noised) };
      },
      validate: async () => {
        const loss = await validationLoss(
          (x, t, y) => unet.call(x, t, y),
          objective,
          (x) => space.toModel(x),
          valLoader,
          cfg.seed,
        );
        return loss === null ? null : { metrics: { loss }, summary: `val loss ${loss.toFixed(4)}` };
      },
    }, { train: t, seed: cfg.seed, run, log, ...start });
    return { ...out, unet, bestValLoss: out.best };
  } finally {
    objective.dispose();
    sched.dispose();
  }
}
