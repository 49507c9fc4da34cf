/**
 * Configuration of the DiffMIC-v2 workflow: `deno task train-dcg` (the guidance network) and
 * `deno task train-diffmic` (the label denoiser on a frozen DCG). The defaults are a tiny run on
 * the embedded procedural set; configs/dcg-*.yaml and configs/diffmic-*.yaml set real data.
 * @module
 */
import { DATA_DEFAULTS, DATA_META } from "../common/data.ts";
import { defineConfig, type KeyMeta } from "../../train/config.ts";
import { TRAIN_META, trainSection } from "../../train/options.ts";
import { SELECT_METRICS } from "../classify/config.ts";

/** Trunks of the DCG's global pathway. */
export const GLOBAL_ARCHS = ["resnet18", "resnet34", "resnet50", "efficientnetB0"];
/** ResNet trunks (local pathway, denoiser encoders). */
export const RESNET_ARCHS = ["resnet18", "resnet34", "resnet50"];

const EVALUATE = { bootstrap: 1000, eceBins: 15 };
const EVALUATE_META: Record<string, KeyMeta> = {
  "evaluate.bootstrap": {
    type: "integer",
    min: 0,
    max: 1_000_000,
    help: "bootstrap resamples for confidence intervals (0 = none)",
  },
  "evaluate.eceBins": { type: "integer", min: 2, max: 10_000 },
};

/** `deno task train-dcg`'s schema. */
export const dcgSchema = defineConfig({
  name: "dcg-default",
  seed: 0,
  data: { ...DATA_DEFAULTS, imageSize: 28 },
  model: {
    globalArch: "resnet18",
    localArch: "resnet18",
    smallInput: true,
    baseWidth: 64,
    localBaseWidth: 64,
    numK: 6,
    cropSize: 8,
    cropChannels: "all",
    topFraction: 1.0,
    attentionDim: 128,
  },
  train: trainSection({
    epochs: 10,
    batchSize: 64,
    optimizer: "adam",
    amsgrad: true,
    lr: 2e-4,
    weightDecay: 0.0,
    lrSchedule: "cosine",
    selectMetric: "macro_f1",
    logEvery: 10,
    auxWeight: 0.0,
    balancedSampling: false,
  }),
  evaluate: EVALUATE,
  output: { root: "runs" },
}, {
  "seed": { type: "integer", min: 0 },
  ...DATA_META,
  "model.globalArch": { choices: GLOBAL_ARCHS, help: "global pathway trunk (saliency maps from its last stage)" },
  "model.localArch": { choices: RESNET_ARCHS, help: "local pathway trunk (on the crops)" },
  "model.smallInput": { help: "ResNet trunks: 3×3 stride-1 stem without max-pool (28–64 px images)" },
  "model.baseWidth": { type: "integer", min: 1, max: 1024, help: "global ResNet trunk: channels of its first stage" },
  "model.localBaseWidth": { type: "integer", min: 1, max: 1024, help: "local trunk: channels of its first stage" },
  "model.numK": { type: "integer", min: 1, max: 64, help: "crops per image K (the label map is K×K)" },
  "model.cropSize": { type: "integer", min: 1, max: 4096, help: "crop side in image pixels (paper: 32 on 224 px)" },
  "model.cropChannels": { choices: ["all", "first"], help: "crop every channel, or channel 0 (the official code)" },
  "model.topFraction": { min: 0.0001, max: 1, help: "y_global = mean of this fraction of the largest map cells" },
  "model.attentionDim": { type: "integer", min: 1, max: 4096, help: "gated attention width" },
  ...TRAIN_META,
  "train.selectMetric": { choices: SELECT_METRICS, help: "validation metric that picks best.safetensors" },
  "train.auxWeight": { min: 0, max: 100, help: "weight of the auxiliary cross-entropies on y_global and y_local" },
  "train.balancedSampling": { help: "draw training batches class-balanced (inverse-frequency sampler)" },
  ...EVALUATE_META,
});

/** The resolved configuration of a DCG run. */
export type DcgConfig = typeof dcgSchema.defaults;

/** `deno task train-diffmic`'s schema. */
export const diffmicSchema = defineConfig({
  name: "diffmic-default",
  seed: 0,
  data: { ...DATA_DEFAULTS, imageSize: 28 },
  model: {
    dcg: null as string | null,
    featureDim: 512,
    encoderArch: "resnet18",
    encoderBaseWidth: 64,
    encoders: "own",
    guidance: true,
  },
  diffusion: {
    timesteps: 1000,
    betaStart: 1e-4,
    betaEnd: 0.02,
    betaSchedule: "linear",
    clipSample: true,
    prediction: "epsilon",
    inferenceSteps: 10,
    eta: 0.0,
    start: "uniform",
    samples: 1,
    focalAlpha: 10.0,
    focalGamma: 1.0,
  },
  train: trainSection({
    epochs: 20,
    batchSize: 32,
    optimizer: "adam",
    lr: 1e-3,
    weightDecay: 0.0,
    lrSchedule: "cosine",
    minLrFraction: 0.01,
    validateEvery: 5,
    selectMetric: "macro_f1",
    logEvery: 10,
    balancedSampling: false,
  }),
  evaluate: EVALUATE,
  output: { root: "runs" },
}, {
  "seed": { type: "integer", min: 0 },
  ...DATA_META,
  "model.dcg": {
    type: "string",
    help: "the trained guidance network: a train-dcg run folder or one of its checkpoints",
  },
  "model.featureDim": {
    type: "integer",
    min: 1,
    max: 16384,
    help: "width of the label path and image features (paper: 6144; see README for the default)",
  },
  "model.encoderArch": { choices: RESNET_ARCHS, help: "trunk of the denoiser's image and crop encoders" },
  "model.encoderBaseWidth": { type: "integer", min: 1, max: 1024, help: "encoders: channels of the first stage" },
  "model.encoders": {
    choices: ["own", "dcg"],
    help: "image features from the denoiser's own trunks (official), or projected from the frozen DCG's " +
      "pooled trunk features (no trunks to train; encoderArch/encoderBaseWidth unused)",
  },
  "model.guidance": { help: "feed the guided prior map beside y_t (2C input channels)" },
  "diffusion.timesteps": { type: "integer", min: 2, max: 100_000 },
  "diffusion.betaStart": { positive: true, max: 1 },
  "diffusion.betaEnd": { positive: true, max: 1 },
  "diffusion.betaSchedule": { choices: ["linear", "scaled_linear", "squaredcos_cap_v2"] },
  "diffusion.clipSample": { help: "clip x̂₀ to [−1, 1] in each DDIM step (diffusers' default)" },
  "diffusion.prediction": {
    choices: ["epsilon", "sample"],
    help: "what the denoiser predicts: the noise ε (official) or the clean label map x₀ (faster to learn)",
  },
  "diffusion.inferenceSteps": { type: "integer", min: 1, max: 100_000, help: "DDIM steps at inference" },
  "diffusion.eta": { min: 0, max: 1, help: "DDIM η (0 = deterministic)" },
  "diffusion.start": {
    choices: ["uniform", "gaussian"],
    help: "start map: guided map of U[0,1) draws (official code) or N(prior, I) (paper)",
  },
  "diffusion.samples": {
    type: "integer",
    min: 1,
    max: 1000,
    help: "seeded samples averaged per image at inference",
  },
  "diffusion.focalAlpha": { min: 0, help: "focal weight 1 + α(1 − p_y)^γ of the loss" },
  "diffusion.focalGamma": { min: 0 },
  ...TRAIN_META,
  "train.selectMetric": { choices: SELECT_METRICS, help: "validation metric that picks best.safetensors" },
  "train.balancedSampling": { help: "draw training batches class-balanced (inverse-frequency sampler)" },
  ...EVALUATE_META,
});

/** The resolved configuration of a DiffMIC-v2 denoiser run. */
export type DiffmicConfig = typeof diffmicSchema.defaults;
