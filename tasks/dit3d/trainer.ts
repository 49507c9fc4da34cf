/**
 * DiT3D on VAE latents, behind `deno task train-dit3d`, on the training engine: the latent folder's
 * training split (a fresh standardised draw z per epoch), label dropout to the null class for
 * classifier-free guidance, the diffusion objective of the image workflow (ε/v/x₀ prediction,
 * MSE), EMA, mixed precision and resume from the engine. Validation: the loss on the validation
 * latents with fixed timesteps and noise (EMA weights); best.safetensors is kept by it.
 * @module
 */
import { tensor } from "../../core/ops/creation.ts";
import { manualSeed } from "../../core/ops/random.ts";
import { DataLoader } from "../../datasets/loader.ts";
import { DiT3D, DIT3D_SIZES, type DiT3DOptions, type Triple } from "../../models/dit3d.ts";
import { fit, type FitResult, type TrainStart } from "../../train/engine.ts";
import type { Logger } from "../../train/logger.ts";
import type { RunDir } from "../../train/run_dir.ts";
import { buildTrainScheduler } from "../ddpm/model.ts";
import { DiffusionObjective, validationLoss } from "../ddpm/objective.ts";
import { drawLatent, type LatentDataset, type LatentInfo } from "../vae3d/latents.ts";
import type { Dit3dConfig } from "./config.ts";

/** The DiT3D options the configuration gives for latents of `info.shape` and its classes. */
export function dit3dOptions(cfg: Dit3dConfig, info: Pick<LatentInfo, "shape" | "classes">): DiT3DOptions {
  const m = cfg.model, size = DIT3D_SIZES[m.size as keyof typeof DIT3D_SIZES];
  const [C, ...grid] = info.shape;
  const triple = (v: number[]) => v as unknown as Triple; // resolveDiT3DConfig checks the length
  const depth = m.depth ?? size.depth;
  return {
    inputSize: triple(grid),
    patchSize: triple(m.patchSize),
    inChannels: C,
    depth,
    hiddenSize: m.hiddenSize ?? size.hiddenSize,
    numHeads: m.numHeads ?? size.numHeads,
    numClasses: info.classes.length,
    windowSize: triple(m.windowSize),
    windowBlocks: m.windowBlocks.filter((b) => b < depth),
  };
}

/** The configured DiT3D for latents of `info.shape` and its classes. */
export function buildDit3d(cfg: Dit3dConfig, info: Pick<LatentInfo, "shape" | "classes">): DiT3D {
  return new DiT3D(dit3dOptions(cfg, info));
}

/** What a DiT3D training run reports. */
export interface Dit3dTrainResult extends FitResult {
  model: DiT3D;
}

/** Trains (or resumes) a DiT3D run on the latent splits `train` and `val`. */
export async function trainDit3d(
  cfg: Dit3dConfig,
  data: { train: LatentDataset; val: LatentDataset },
  run: RunDir,
  log: Logger,
  start: TrainStart = {},
): Promise<Dit3dTrainResult> {
  manualSeed(cfg.seed);
  const t = cfg.train, info = data.train.info, numClasses = info.classes.length;
  const model = buildDit3d(cfg, info);
  const sched = buildTrainScheduler(cfg);
  const objective = new DiffusionObjective(cfg, sched);
  const common = {
    batchSize: t.batchSize,
    seed: cfg.seed,
    cache: false,
    concurrency: t.concurrency,
    transform: drawLatent(info),
  };
  const loader = new DataLoader(data.train, { ...common, shuffle: true, dropLast: data.train.length > t.batchSize });
  const valLoader = new DataLoader(data.val, common);
  const labels = data.train.labels();
  log.info(
    `latents: ${info.shape.join("×")}, ${data.train.length} train / ${data.val.length} val, classes ` +
      `${info.classes.join(", ")}; DiT3D grid ${
        model.config.gridSize.join("×")
      } (${model.config.numPatches} tokens), ` +
      `window ${model.config.windowSize.join("×")} in blocks [${model.config.windowBlocks}]`,
  );
  try {
    const out = await fit({
      model,
      loader,
      describe: "DiT3D",
      metricNames: ["loss"],
      loss: (batch, ctx) => {
        const y = new Int32Array(batch.indices.length);
        batch.indices.forEach((idx, i) => y[i] = ctx.rng.random() < t.labelDropout ? numClasses : labels[idx]);
        const yt = tensor(y, [y.length], { dtype: "int32" });
        const noised = objective.noised(batch.images, { rng: ctx.rng });
        return { loss: objective.loss(model.call(noised.xt, noised.time, yt), noised) };
      },
      validate: async () => {
        const loss = await validationLoss((x, t, y) => model.call(x, t, y), objective, (x) => x, valLoader, cfg.seed);
        return loss === null ? null : { metrics: { loss }, summary: `val loss ${loss.toFixed(4)}` };
      },
    }, { train: t, seed: cfg.seed, run, log, ...start });
    return { ...out, model };
  } finally {
    objective.dispose();
    sched.dispose();
  }
}
