/**
 * The configuration of the conditional DDPM workflow (`deno task train` / `deno task sample`).
 * The defaults are the embedded default run: a small class-conditional U-Net on the procedural
 * fundus-like dataset, sized to finish in a few minutes on a 2-core CPU adapter. `model.arch dit`
 * trains a Diffusion Transformer instead (`model.ditSize`, `model.patchSize`, `model.ditDepth`);
 * the other `model` keys are the U-Net's.
 * @module
 */
import { DATA_DEFAULTS, DATA_META, MAX_IMAGE_SIZE } from "../common/data.ts";
import { defineConfig } from "../../train/config.ts";
import { TRAIN_META, trainSection } from "../../train/options.ts";

/** The DDPM workflow's configuration schema (every key can be overridden with `--key.path value`). */
/** The `diffusion` section's defaults (every diffusion workflow shares its keys and meanings). */
export const DIFFUSION_DEFAULTS = {
  numTrainTimesteps: 1000,
  betaSchedule: "squaredcos_cap_v2",
  predictionType: "v_prediction",
  logSnrShift: 0,
  timeSampling: "discrete",
  lossWeight: "none",
  snrClamp: 5,
  wavelet: false,
};

/** Constraints and help of the `diffusion` keys. */
export const DIFFUSION_META = {
  "diffusion.numTrainTimesteps": { type: "integer", min: 2, max: 100_000 },
  "diffusion.betaSchedule": {
    choices: ["linear", "scaled_linear", "squaredcos_cap_v2", "cosine", "shifted_cosine"],
    help: "β schedule; shifted_cosine: the cosine log-SNR schedule plus diffusion.logSnrShift (simple diffusion)",
  },
  "diffusion.logSnrShift": {
    help: "shifted_cosine: added to the log-SNR, 2·ln(base/imageSize) for a base resolution (0: plain cosine)",
  },
  "diffusion.timeSampling": {
    choices: ["discrete", "continuous"],
    help: "training times: integer timesteps, or t ~ U(0, 1) on the log-SNR schedule (needs shifted_cosine)",
  },
  "diffusion.lossWeight": {
    choices: ["none", "snr-clamped"],
    help: "none: plain MSE on the predicted target; snr-clamped: 1/(1 + min(SNR, snrClamp)) on the ε-error",
  },
  "diffusion.wavelet": {
    help: "diffuse the one-level Haar bands (4× channels, half the side) instead of the pixels",
  },
  "diffusion.snrClamp": { positive: true, help: "the clamp of lossWeight snr-clamped (the paper's 5)" },
  "diffusion.predictionType": { choices: ["epsilon", "v_prediction", "sample"] },
} as const;

export const ddpmSchema = defineConfig({
  name: "ddpm-default",
  seed: 0,
  data: { ...DATA_DEFAULTS },
  model: {
    arch: "unet",
    baseChannels: 32,
    channelMults: [1, 2],
    numResBlocks: 1,
    attentionResolutions: [8],
    numHeads: 4,
    dropout: 0.1,
    ditSize: "S",
    patchSize: 2,
    ditDepth: null as number | null,
  },
  diffusion: { ...DIFFUSION_DEFAULTS },
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
  "model.arch": { choices: ["unet", "dit"], help: "denoiser: the DDPM U-Net, or a Diffusion Transformer (DiT)" },
  "model.channelMults": { type: "integer[]", min: 1, max: 64, help: "U-Net channels per level ÷ baseChannels" },
  "model.numResBlocks": { type: "integer", min: 1, max: 64, help: "U-Net residual blocks per level" },
  "model.attentionResolutions": {
    type: "integer[]",
    min: 1,
    max: MAX_IMAGE_SIZE,
    help: "U-Net feature-map sizes with self-attention",
  },
  "model.numHeads": { type: "integer", min: 1, max: 1024, help: "U-Net attention heads" },
  "model.baseChannels": { type: "integer", min: 1, max: 4096, help: "U-Net channels of the first level" },
  "model.dropout": { min: 0, max: 0.9, help: "U-Net dropout in the residual blocks" },
  "model.ditSize": { choices: ["S", "B"], help: "DiT size: S (384 wide, 6 heads) or B (768 wide, 12 heads)" },
  "model.patchSize": {
    type: "integer",
    min: 1,
    max: MAX_IMAGE_SIZE,
    help: "DiT patch edge in pixels (must divide the diffused side: data.imageSize, halved by diffusion.wavelet)",
  },
  "model.ditDepth": { type: "integer", min: 1, max: 1024, help: "DiT blocks (null: the size's 12)" },
  ...DIFFUSION_META,
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
