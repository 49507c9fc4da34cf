/**
 * The configuration of the conditional DDPM workflow (`deno task train` / `deno task sample`).
 * The defaults are the embedded default run: a small class-conditional U-Net on the procedural
 * fundus-like dataset, sized to finish in a few minutes on a 2-core CPU adapter.
 * @module
 */
import { DATA_DEFAULTS, DATA_META, MAX_IMAGE_SIZE } from "../common/data.ts";
import { defineConfig } from "../../train/config.ts";
import { TRAIN_META, trainSection } from "../../train/options.ts";

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
  train: trainSection({
    epochs: 4,
    batchSize: 32,
    lr: 2e-3,
    lrSchedule: "onecycle",
    clipGradNorm: 1.0,
    emaDecay: 0.995,
    selectMetric: "loss",
    labelDropout: 0.1,
  }),
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
  "model.channelMults": { type: "integer[]", min: 1, max: 64 },
  "model.numResBlocks": { type: "integer", min: 1, max: 64 },
  "model.attentionResolutions": {
    type: "integer[]",
    min: 1,
    max: MAX_IMAGE_SIZE,
    help: "feature-map sizes with self-attention",
  },
  "model.numHeads": { type: "integer", min: 1, max: 1024 },
  "model.baseChannels": { type: "integer", min: 1, max: 4096 },
  "model.dropout": { min: 0, max: 0.9 },
  "diffusion.numTrainTimesteps": { type: "integer", min: 2, max: 100_000 },
  "diffusion.betaSchedule": { choices: ["linear", "scaled_linear", "squaredcos_cap_v2", "cosine"] },
  "diffusion.predictionType": { choices: ["epsilon", "v_prediction", "sample"] },
  ...TRAIN_META,
  "train.selectMetric": { choices: ["loss"], help: "validation metric that picks best.safetensors (EMA v/ε-MSE)" },
  "train.labelDropout": { min: 0, max: 1, help: "share of labels replaced by the null class (for CFG)" },
  "sample.sampler": { choices: ["ddim", "ddpm"] },
  "sample.steps": { type: "integer", min: 1, max: 100_000, help: "denoising steps (at most numTrainTimesteps)" },
  "sample.guidance": { min: 0, help: "classifier-free guidance scale (1 = none)" },
  "sample.perClass": { type: "integer", min: 1, max: 4096 },
  "sample.seed": { type: "integer", min: 0 },
  "sample.progressionSteps": {
    type: "integer",
    min: 2,
    max: 256,
    help: "columns of the denoising-progression grid",
  },
  "sample.thresholding": { help: "dynamic thresholding of x̂₀ instead of clipping (Imagen; for strong guidance)" },
});

/** The resolved configuration of a DDPM run. */
export type DdpmConfig = typeof ddpmSchema.defaults;
