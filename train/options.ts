/**
 * The `train` section every training task shares: the engine's options with their one set of
 * defaults and their one meaning. A task spreads {@linkcode trainSection} into its schema,
 * overriding the defaults its workflow needs and adding its own keys (loss, label dropout…).
 * @module
 */
import type { KeyMeta } from "./config.ts";

/** Defaults of the engine's `train` keys (a task overrides some with {@linkcode trainSection}). */
export const TRAIN_DEFAULTS = {
  epochs: 10,
  batchSize: 32,
  gradAccumulation: 1,
  optimizer: "adamw",
  lr: 1e-3,
  weightDecay: 0.0,
  momentum: 0.9,
  amsgrad: false,
  lrSchedule: "cosine",
  warmupFraction: 0.1,
  minLrFraction: 0.0,
  lrMilestones: [] as number[],
  lrGamma: 0.1,
  clipGradNorm: 0.0,
  emaDecay: 0.0,
  mixedPrecision: false,
  validateEvery: 1,
  selectMetric: "loss",
  selectMode: "auto",
  checkpointEvery: 1,
  checkpointEverySteps: 0,
  keepCheckpoints: 3,
  batchNormStats: "per-rank",
  logEvery: 20,
  concurrency: 4,
};

/** The engine's `train` options, resolved. */
export type TrainOptions = {
  [K in keyof typeof TRAIN_DEFAULTS]: (typeof TRAIN_DEFAULTS)[K] extends string ? string
    : (typeof TRAIN_DEFAULTS)[K] extends number ? number
    : (typeof TRAIN_DEFAULTS)[K] extends boolean ? boolean
    : (typeof TRAIN_DEFAULTS)[K];
};

/** The learning-rate schedules `train.lrSchedule` names. */
export const LR_SCHEDULES = ["constant", "cosine", "warmup-cosine", "onecycle", "step"] as const;

/**
 * Constraints and help of the engine's keys (prefixed `train.`). Integers are capped at
 * 2^31 − 1 unless a max is given here; `train.batchSize` is checked against the data once it is
 * open (tasks/common/run_setup.ts).
 */
export const TRAIN_META: Record<string, KeyMeta> = {
  "train.epochs": { type: "integer", min: 1 },
  "train.batchSize": { type: "integer", min: 1 },
  "train.gradAccumulation": { type: "integer", min: 1, help: "micro-batches per optimizer step" },
  "train.optimizer": {
    choices: ["adamw", "adam", "sgd"],
    help: "adamw (decoupled weight decay), adam (L2 weight decay) or sgd (Nesterov momentum)",
  },
  "train.lr": { positive: true, help: "base (peak, for onecycle / warmup-cosine) learning rate" },
  "train.weightDecay": { min: 0 },
  "train.momentum": { min: 0, max: 1, help: "SGD momentum" },
  "train.amsgrad": { help: "adam / adamw: the AMSGrad variant" },
  "train.lrSchedule": {
    choices: LR_SCHEDULES,
    help: "per optimizer step: constant, cosine (to lr·minLrFraction), warmup-cosine (linear warmup over " +
      "warmupFraction, then cosine), onecycle (OneCycleLR, warmupFraction rising), step (×lrGamma at lrMilestones)",
  },
  "train.warmupFraction": { min: 0, max: 0.9, help: "share of the steps spent warming up (onecycle, warmup-cosine)" },
  "train.minLrFraction": { min: 0, max: 1, help: "cosine / warmup-cosine floor as a fraction of train.lr" },
  "train.lrMilestones": {
    type: "integer[]",
    min: 1,
    help: "step schedule: epochs after which lr is multiplied by lrGamma",
  },
  "train.lrGamma": { min: 0, max: 1, help: "step schedule: decay factor" },
  "train.clipGradNorm": { min: 0, help: "max global gradient norm (0 = no clipping)" },
  "train.emaDecay": {
    min: 0,
    max: 1,
    help: "EMA of the weights (0 = none); validation and the best checkpoint use the EMA weights",
  },
  "train.mixedPrecision": {
    help: "f16 matmul/conv with dynamic loss scaling where the adapter has shader-f16 (f32 elsewhere)",
  },
  "train.validateEvery": { type: "integer", min: 1, help: "epochs between validations" },
  "train.selectMetric": { type: "string", help: "validation metric that picks best.safetensors" },
  "train.selectMode": {
    choices: ["auto", "min", "max"],
    help: "whether a smaller or larger selectMetric is better (auto: min for losses and errors, else max)",
  },
  "train.checkpointEvery": { type: "integer", min: 1, help: "epochs between periodic checkpoints" },
  "train.checkpointEverySteps": {
    type: "integer",
    min: 0,
    help: "also a checkpoint every N optimizer steps (0 = only per epoch); bounds what a kill -9 loses",
  },
  "train.keepCheckpoints": { type: "integer", min: 0, help: "periodic checkpoints kept (0 = all); best is kept apart" },
  "train.batchNormStats": {
    choices: ["per-rank", "average"],
    help: "data parallel: BatchNorm running statistics kept per process (rank 0's saved, as DDP) or averaged over " +
      "the processes before every validation and checkpoint (timm's distribute_bn reduce; not SyncBatchNorm)",
  },
  "train.logEvery": { type: "integer", min: 1, help: "optimizer steps between loss read-backs and log rows" },
  "train.concurrency": { type: "integer", min: 1, max: 1024, help: "samples the loader prepares at once" },
};

/**
 * The `train` section of a task's schema: the engine's defaults with the task's own values and
 * extra keys laid over them.
 */
export function trainSection<E extends Record<string, unknown>>(
  overrides: Partial<typeof TRAIN_DEFAULTS> & E,
): typeof TRAIN_DEFAULTS & E {
  return { ...TRAIN_DEFAULTS, ...overrides };
}

/** Whether a smaller value of `metric` is better under `mode` (`auto`: losses and errors are). */
export function smallerIsBetter(metric: string, mode: string): boolean {
  if (mode === "min") return true;
  if (mode === "max") return false;
  return /loss|error|mse|mae|ece|nll/i.test(metric);
}
