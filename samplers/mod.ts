/**
 * Diffusion samplers in the diffusers shape: noise schedules, the DDPM and DDIM schedulers
 * (no parameters; `setTimesteps`, `step`, `addNoise`), classifier-free guidance, and a
 * pipeline that owns the denoising loop.
 * @module
 */
export {
  axpby,
  BaseScheduler,
  betasForAlphaBar,
  cosineBetas,
  dynamicThreshold,
  makeBetas,
  NoiseSchedule,
  resolveSchedulerConfig,
  spacedTimesteps,
} from "./schedule.ts";
export type {
  BetaSchedule,
  PredictionType,
  Scheduler,
  SchedulerConfig,
  SchedulerOptions,
  StepOptions,
  StepOutput,
  TimestepSpacing,
} from "./schedule.ts";
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
