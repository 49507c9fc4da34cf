/**
 * The configuration of the classifier workflow (`deno task train-classifier` / `deno task
 * evaluate`). The defaults train a small-input ResNet-18 on the embedded procedural dataset.
 * @module
 */
import { DATA_DEFAULTS, DATA_META, MAX_IMAGE_SIZE } from "../common/data.ts";
import { defineConfig } from "../../train/config.ts";
import { TRAIN_META, trainSection } from "../../train/options.ts";

/** Model names `model.arch` accepts. */
export const CLASSIFIER_ARCHS = [
  "resnet18",
  "resnet34",
  "resnet50",
  "efficientnetB0",
  "efficientnetB4",
  "vitS16",
  "swinT",
  "swinB",
];

/** Metrics `train.selectMetric` can choose the best checkpoint by (higher is better, except loss). */
export const SELECT_METRICS = ["macro_f1", "accuracy", "balanced_accuracy", "auroc", "qwk", "kappa", "loss"];

/** The classifier workflow's configuration schema. */
export const classifierSchema = defineConfig({
  name: "classifier-default",
  seed: 0,
  data: { ...DATA_DEFAULTS, imageSize: 28 },
  model: {
    arch: "resnet18",
    smallInput: true,
    baseWidth: 64,
    dropout: 0.2,
    patchSize: 4,
    windowSize: 7,
    stochasticDepth: null as number | null,
    pretrained: null as string | null,
  },
  train: trainSection({
    epochs: 10,
    batchSize: 64,
    lr: 1e-3,
    weightDecay: 1e-4,
    lrSchedule: "cosine",
    selectMetric: "macro_f1",
    logEvery: 10,
    loss: "ce",
    focalGamma: 2.0,
    classWeights: "none",
    balancedSampling: false,
    labelSmoothing: 0.0,
  }),
  evaluate: {
    bootstrap: 1000,
    eceBins: 15,
  },
  output: {
    root: "runs",
  },
}, {
  "seed": { type: "integer", min: 0 },
  ...DATA_META,
  "model.arch": { choices: CLASSIFIER_ARCHS },
  "model.smallInput": { help: "ResNet: 3×3 stride-1 stem without max-pool, for 28–64 px images" },
  "model.baseWidth": {
    type: "integer",
    min: 1,
    max: 1024,
    help: "ResNet: channels of the stem and first stage, doubled per stage (torchvision's 64; less for 3-D volumes)",
  },
  "model.dropout": { min: 0, max: 0.9, help: "EfficientNet classifier dropout" },
  "model.patchSize": { type: "integer", min: 1, max: MAX_IMAGE_SIZE, help: "ViT / Swin patch size" },
  "model.windowSize": { type: "integer", min: 1, max: MAX_IMAGE_SIZE, help: "Swin attention window" },
  "model.stochasticDepth": {
    type: "number",
    min: 0,
    max: 0.99,
    help: "Swin stochastic depth of the last block (null: the preset's, swinT 0.2, swinB 0.5)",
  },
  "model.pretrained": {
    type: "string",
    help: "safetensors weights (e.g. exported from torchvision); a head of another size is skipped",
  },
  ...TRAIN_META,
  "train.selectMetric": { choices: SELECT_METRICS, help: "validation metric that picks best.safetensors" },
  "train.loss": { choices: ["ce", "focal"], help: "cross-entropy or focal loss" },
  "train.focalGamma": { min: 0 },
  "train.classWeights": { choices: ["none", "balanced"], help: "inverse-frequency class weights in the loss" },
  "train.balancedSampling": { help: "draw training batches class-balanced (inverse-frequency sampler)" },
  "train.labelSmoothing": { min: 0, max: 0.5 },
  "evaluate.bootstrap": {
    type: "integer",
    min: 0,
    max: 1_000_000,
    help: "bootstrap resamples for confidence intervals (0 = none)",
  },
  "evaluate.eceBins": { type: "integer", min: 2, max: 10_000 },
});

/** The resolved configuration of a classifier run. */
export type ClassifierConfig = typeof classifierSchema.defaults;
