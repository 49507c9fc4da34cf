/**
 * The configuration of the conditional DDPM workflow (`deno task train` / `deno task sample`).
 * The defaults are the embedded default run: a small class-conditional U-Net on the procedural
 * fundus-like dataset, sized to finish in a few minutes on a 2-core CPU adapter.
 * @module
 */
import { DATA_DEFAULTS, DATA_META } from "../common/data.ts";
import { defineConfig } from "../../train/config.ts";

/** The DDPM workflow's configuration schema (every key can be overridden with `--key.path value`). */
export const ddpmSchema = defineConfig({
  name: "ddpm-default",
  seed: 0,
  data: { ...DATA_DEFAULTS },
  model: {
    baseChannels: 32,
    channelMults: [1, 2],
    numResBlocks: 1,
    attentionResolutions: [8],
    numHeads: 4,
    dropout: 0.1,
  },
  diffusion: {
    numTrainTimesteps: 1000,
    betaSchedule: "squaredcos_cap_v2",
    predictionType: "v_prediction",
  },
  train: {
    epochs: 4,
    batchSize: 32,
    gradAccumulation: 1,
    lr: 2e-3,
    weightDecay: 0.0,
    lrSchedule: "onecycle",
    warmupFraction: 0.1,
    clipGradNorm: 1.0,
    emaDecay: 0.995,
    labelDropout: 0.1,
    mixedPrecision: false,
    validateEvery: 1,
    checkpointEvery: 1,
    logEvery: 20,
    concurrency: 4,
  },
  sample: {
    sampler: "ddim",
    steps: 25,
    guidance: 3.0,
    perClass: 8,
    seed: 0,
    progressionSteps: 5,
    thresholding: false,
  },
  output: {
    root: "runs",
  },
}, {
  "seed": { type: "integer", min: 0, help: "seed of weights, data order, augmentation, noise" },
  ...DATA_META,
  "model.channelMults": { type: "integer[]", min: 1 },
  "model.numResBlocks": { type: "integer", min: 1 },
  "model.attentionResolutions": { type: "integer[]", min: 1, help: "feature-map sizes with self-attention" },
  "model.numHeads": { type: "integer", min: 1 },
  "model.baseChannels": { type: "integer", min: 1 },
  "model.dropout": { min: 0, max: 0.9 },
  "diffusion.numTrainTimesteps": { type: "integer", min: 2 },
  "diffusion.betaSchedule": { choices: ["linear", "scaled_linear", "squaredcos_cap_v2", "cosine"] },
  "diffusion.predictionType": { choices: ["epsilon", "v_prediction", "sample"] },
  "train.epochs": { type: "integer", min: 1 },
  "train.batchSize": { type: "integer", min: 1 },
  "train.gradAccumulation": { type: "integer", min: 1, help: "micro-batches per optimizer step" },
  "train.lr": { min: 0, help: "peak learning rate (AdamW)" },
  "train.weightDecay": { min: 0 },
  "train.lrSchedule": { choices: ["onecycle", "cosine", "constant"] },
  "train.warmupFraction": { min: 0, max: 0.9, help: "OneCycle's rising share of the steps" },
  "train.clipGradNorm": { min: 0, help: "max global gradient norm (0 = no clipping)" },
  "train.emaDecay": { min: 0, max: 1 },
  "train.labelDropout": { min: 0, max: 1, help: "share of labels replaced by the null class (for CFG)" },
  "train.mixedPrecision": { help: "f16 matmul/conv where the adapter has shader-f16 (f32 elsewhere)" },
  "train.validateEvery": { type: "integer", min: 1, help: "epochs between validations (EMA weights)" },
  "train.checkpointEvery": { type: "integer", min: 1, help: "epochs between checkpoints" },
  "train.logEvery": { type: "integer", min: 1, help: "optimizer steps between loss read-backs" },
  "train.concurrency": { type: "integer", min: 1, help: "samples the loader prepares at once" },
  "sample.sampler": { choices: ["ddim", "ddpm"] },
  "sample.steps": { type: "integer", min: 1 },
  "sample.guidance": { min: 0, help: "classifier-free guidance scale (1 = none)" },
  "sample.perClass": { type: "integer", min: 1 },
  "sample.seed": { type: "integer", min: 0 },
  "sample.progressionSteps": { type: "integer", min: 2, help: "columns of the denoising-progression grid" },
  "sample.thresholding": { help: "dynamic thresholding of x̂₀ instead of clipping (Imagen; for strong guidance)" },
});

/** The resolved configuration of a DDPM run. */
export type DdpmConfig = typeof ddpmSchema.defaults;
