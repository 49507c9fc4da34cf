/**
 * Optimizers (SGD, Adam, AdamW) as fused in-place WGSL update kernels, gradient clipping,
 * weight EMA and learning-rate schedules.
 * @module
 */
export { Optimizer, UpdateBatch } from "./optimizer.ts";
export type {
  BaseHyper,
  HyperValue,
  OptimizerStateDict,
  ParamGroup,
  ParamGroupInput,
  ParamsInput,
  ParamState,
} from "./optimizer.ts";
export { SGD } from "./sgd.ts";
export type { SGDHyper, SGDOptions } from "./sgd.ts";
export { Adam, AdamW } from "./adam.ts";
export type { AdamHyper, AdamOptions } from "./adam.ts";
export { clipGradNorm } from "./clip.ts";
export { EMA } from "./ema.ts";
export type { EMAOptions, EMASource, EMAStateDict, NamedTensors } from "./ema.ts";
export {
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  LinearWarmupCosine,
  LRScheduler,
  MultiStepLR,
  OneCycleLR,
  StepLR,
} from "./lr_scheduler.ts";
export type {
  CosineAnnealingLROptions,
  CosineAnnealingWarmRestartsOptions,
  LinearWarmupCosineOptions,
  MultiStepLROptions,
  OneCycleLROptions,
  SchedulerStateDict,
  StepLROptions,
} from "./lr_scheduler.ts";
export { GradScaler } from "./grad_scaler.ts";
export type { GradScalerOptions, GradScalerState } from "./grad_scaler.ts";
