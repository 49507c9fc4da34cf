/** The U-Net and the noise schedulers of a DDPM run, built from its configuration (and checked against its data). */
import type { Generator } from "../../core/ops/random.ts";
import { resolveUNetConfig, UNet, type UNetOptions } from "../../models/unet.ts";
import { DDIMScheduler } from "../../samplers/ddim.ts";
import { DDPMScheduler } from "../../samplers/ddpm.ts";
import type { BetaSchedule } from "../../samplers/noise_schedule.ts";
import type { PredictionType } from "../../samplers/scheduler_config.ts";
import type { DdpmConfig } from "./config.ts";
import type { ImageData } from "../common/data.ts";
import { checkModelFits } from "../common/run_setup.ts";
import { ConfigError } from "../../train/config.ts";

/** What the model needs to know about the data. */
export interface DataShape {
  /** Image channels. */
  channels: number;
  /** Image side. */
  imageSize: number;
  /** Number of classes (the U-Net adds one null class for guidance). */
  numClasses: number;
}

/** The U-Net options of the configuration for data of this shape. */
function unetOptions(cfg: DdpmConfig, data: DataShape): UNetOptions {
  const m = cfg.model;
  return {
    inChannels: data.channels,
    outChannels: data.channels,
    baseChannels: m.baseChannels,
    channelMults: m.channelMults,
    numResBlocks: m.numResBlocks,
    attentionResolutions: m.attentionResolutions,
    numHeads: m.numHeads,
    dropout: m.dropout,
    numClasses: data.numClasses,
    imageSize: data.imageSize,
  };
}

/** The class-conditional U-Net of the configuration. */
export function buildUNet(cfg: DdpmConfig, data: DataShape, generator?: Generator): UNet {
  return new UNet({ ...unetOptions(cfg, data), generator });
}

/**
 * Checks, without building it, that the configuration's U-Net works on the opened data (the
 * U-Net's own validation): e.g. every `model.attentionResolutions` entry must be a feature-map
 * size the network reaches from the data's image size. A {@linkcode ConfigError} names the key.
 */
export function checkUNetFits(cfg: DdpmConfig, data: ImageData): void {
  const shape = { channels: data.channels, imageSize: data.imageSize, numClasses: data.classes.length };
  checkModelFits(cfg, data, () => resolveUNetConfig(unetOptions(cfg, shape)));
  // The sampler refuses this only after training, when the sample grids are made.
  if (cfg.sample.steps > cfg.diffusion.numTrainTimesteps) {
    throw new ConfigError([
      `sample.steps ${cfg.sample.steps} exceeds diffusion.numTrainTimesteps ${cfg.diffusion.numTrainTimesteps}`,
    ]);
  }
}

function common(cfg: DdpmConfig) {
  const d = cfg.diffusion;
  return {
    numTrainTimesteps: d.numTrainTimesteps,
    betaSchedule: d.betaSchedule as BetaSchedule,
    predictionType: d.predictionType as PredictionType,
    clipSample: true,
  };
}

/** The training scheduler: DDPM over the configured schedule (its `addNoise` makes x_t). */
export function buildTrainScheduler(cfg: DdpmConfig): DDPMScheduler {
  return new DDPMScheduler(common(cfg));
}

/**
 * The sampler the configuration names: DDIM (trailing spacing, ᾱ_final = 1) or DDPM, with
 * x̂₀ clipped to [−1, 1] or, with `thresholding` (default `sample.thresholding`), dynamically
 * thresholded.
 */
export function buildSampler(
  cfg: DdpmConfig,
  kind: "ddpm" | "ddim",
  thresholding: boolean = cfg.sample.thresholding,
): DDPMScheduler | DDIMScheduler {
  const opts = { ...common(cfg), thresholding };
  return kind === "ddim"
    ? new DDIMScheduler({ ...opts, timestepSpacing: "trailing", setAlphaToOne: true })
    : new DDPMScheduler(opts);
}
