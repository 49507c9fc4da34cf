/**
 * Diffusion samplers in the diffusers shape: noise schedules, the DDPM and DDIM schedulers
 * (no parameters; `setTimesteps`, `step`, `addNoise`), classifier-free guidance, and a
 * pipeline that owns the denoising loop.
 * @module
 */
export { betasForAlphaBar, cosineBetas, makeBetas, NoiseSchedule } from "./noise_schedule.ts";
export { cosineLogSnr, type CosineLogSnrOptions, logSnrBetas, resolutionShift } from "./log_snr.ts";
export type { BetaSchedule } from "./noise_schedule.ts";
export { spacedTimesteps } from "./timesteps.ts";
export type { TimestepSpacing } from "./timesteps.ts";
export { resolveSchedulerConfig } from "./scheduler_config.ts";
export type { PredictionType, SchedulerConfig, SchedulerOptions } from "./scheduler_config.ts";
export { BaseScheduler } from "./scheduler.ts";
export type { Scheduler, StepOptions, StepOutput } from "./scheduler.ts";
export { dynamicThreshold } from "./thresholding.ts";
export { axpby } from "./tensor_helpers.ts";
export { DDPMScheduler } from "./ddpm.ts";
export type { DDPMSchedulerConfig, DDPMSchedulerOptions, DDPMVarianceType } from "./ddpm.ts";
export { DDIMScheduler } from "./ddim.ts";
export type { DDIMSchedulerConfig, DDIMSchedulerOptions } from "./ddim.ts";
export { ClassifierFreeGuidance } from "./guidance.ts";
export type { ClassifierFreeGuidanceOptions, ConditionalModel } from "./guidance.ts";
export { DiffusionPipeline } from "./pipeline.ts";
export type {
  DiffusionModel,
  DiffusionPipelineOptions,
  GenerateOptions,
  GenerateResult,
  PipelineStepInfo,
} from "./pipeline.ts";
export { classifierNoise, diffusionClassify, rankClasses, voteUncertainty } from "./diffusion_classifier.ts";
export type { DiffusionClassification, DiffusionClassifierOptions, EliminationStage } from "./diffusion_classifier.ts";
export {
  cellsToMap,
  diffusionFocalLoss,
  focalWeights,
  guidedPriorMap,
  labelMap,
  localWeights,
  mapToCells,
  noiseLabelMap,
  sampleLabelMap,
} from "./label_diffusion.ts";
export type {
  FocalWeightOptions,
  LabelSample,
  LabelStartNoise,
  NoisedLabels,
  SampleLabelOptions,
} from "./label_diffusion.ts";
