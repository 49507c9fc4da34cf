/**
 * The denoiser (the U-Net, or a DiT with `model.arch dit`) and the noise schedulers of a DDPM
 * run, built from its configuration (and checked against its data).
 */
import type { Module } from "../../core/nn/module.ts";
import type { Generator } from "../../core/ops/random.ts";
import type { Tensor } from "../../core/tensor.ts";
import { mul } from "../../core/ops/elementwise.ts";
import { haarDwt2d, haarIdwt2d } from "../../core/ops/wavelet.ts";
import { scope } from "../../core/scope.ts";
import { DiT, DIT_SIZES, type DiTOptions, resolveDiTConfig } from "../../models/dit.ts";
import { resolveUNetConfig, UNet, type UNetOptions } from "../../models/unet.ts";
import { DDIMScheduler } from "../../samplers/ddim.ts";
import { DDPMScheduler } from "../../samplers/ddpm.ts";
import type { BetaSchedule } from "../../samplers/noise_schedule.ts";
import { cosineLogSnr, logSnrBetas } from "../../samplers/log_snr.ts";
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
  /** Number of classes (the denoiser adds one null class for guidance). */
  numClasses: number;
}

/**
 * The space a run diffuses in. By default the images themselves; with `diffusion.wavelet` their
 * one-level Haar bands halved (4× the channels at half the side, every band within [−1, 1] for
 * images in [−1, 1], so x̂₀ clipping still holds), as the diffusion classifier paper does.
 */
export interface DiffusionSpace {
  /** What the denoiser sees: channels and side. */
  channels: number;
  /** Side of the denoiser's input. */
  imageSize: number;
  /** Images (B, C, S, S) → the diffusion space (a new handle). */
  toModel(images: Tensor): Tensor;
  /** The diffusion space → images (a new handle). */
  toImages(x: Tensor): Tensor;
}

/** The run's diffusion space for images of this shape (see {@linkcode DiffusionSpace}). */
export function diffusionSpace(cfg: DdpmConfig, data: { channels: number; imageSize: number }): DiffusionSpace {
  if (!cfg.diffusion.wavelet) {
    return {
      channels: data.channels,
      imageSize: data.imageSize,
      toModel: (x) => x.alias(),
      toImages: (x) => x.alias(),
    };
  }
  if (data.imageSize % 2 !== 0) {
    throw new ConfigError([`diffusion.wavelet needs an even image side, got ${data.imageSize} (set data.imageSize)`]);
  }
  return {
    channels: 4 * data.channels,
    imageSize: data.imageSize / 2,
    toModel: (x) => scope(() => mul(haarDwt2d(x), 0.5)),
    toImages: (x) => scope(() => haarIdwt2d(mul(x, 2))),
  };
}

/** The U-Net options of the configuration for data of this shape (the images; the diffusion space is derived). */
function unetOptions(cfg: DdpmConfig, images: DataShape): UNetOptions {
  const m = cfg.model, data = { ...images, ...diffusionSpace(cfg, images) };
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

/** The class-conditional U-Net of the configuration (whatever `model.arch` says; see {@linkcode buildDenoiser}). */
export function buildUNet(cfg: DdpmConfig, data: DataShape, generator?: Generator): UNet {
  return new UNet({ ...unetOptions(cfg, data), generator });
}

/**
 * The DiT options of the configuration for data of this shape: the `model.ditSize` preset
 * (`model.ditDepth` blocks when set), `model.patchSize`, predicting the noise (or v, or x₀) only.
 */
export function ditOptions(cfg: DdpmConfig, images: DataShape): DiTOptions {
  const m = cfg.model, data = { ...images, ...diffusionSpace(cfg, images) };
  const size = DIT_SIZES[m.ditSize as keyof typeof DIT_SIZES];
  if (!size) throw new ConfigError([`model.ditSize: expected one of ${Object.keys(DIT_SIZES).join(", ")}`]);
  return {
    hiddenSize: size.hiddenSize,
    numHeads: size.numHeads,
    depth: m.ditDepth ?? size.depth,
    patchSize: m.patchSize,
    inputSize: data.imageSize,
    inChannels: data.channels,
    numClasses: data.numClasses,
    learnSigma: false,
  };
}

/**
 * A denoising network of the DDPM task: `call(x, t, classLabels?)` → a tensor shaped like x, with
 * class labels in [0, numClasses] (numClasses the null class). `UNet` and `DiT` both are one.
 */
export type Denoiser = Module & { forward(x: Tensor, t: Tensor | number, classLabels?: Tensor | null): Tensor };

/** The class-conditional denoiser `model.arch` names: the U-Net (`unet`) or a DiT (`dit`). */
export function buildDenoiser(cfg: DdpmConfig, data: DataShape, generator?: Generator): Denoiser {
  switch (cfg.model.arch) {
    case "unet":
      return buildUNet(cfg, data, generator);
    case "dit":
      return new DiT({ ...ditOptions(cfg, data), generator });
    default:
      throw new ConfigError([`model.arch: unknown architecture ${JSON.stringify(cfg.model.arch)} (unet or dit)`]);
  }
}

/** The denoiser's name for the log, e.g. `U-Net` or `DiT-S/2 (12 blocks)`. */
export function describeDenoiser(cfg: DdpmConfig): string {
  const m = cfg.model;
  if (m.arch !== "dit") return "U-Net";
  const depth = m.ditDepth ?? DIT_SIZES[m.ditSize as keyof typeof DIT_SIZES]?.depth;
  return `DiT-${m.ditSize}/${m.patchSize} (${depth} block${depth === 1 ? "" : "s"})`;
}

/**
 * Checks, without building it, that the configuration's denoiser works on the opened data (the
 * model's own validation): for the U-Net every `model.attentionResolutions` entry must be a
 * feature-map size the network reaches from the data's image size; for a DiT `model.patchSize`
 * must divide the image size. A {@linkcode ConfigError} names the key.
 */
export function checkDenoiserFits(cfg: DdpmConfig, data: ImageData): void {
  const shape = { channels: data.channels, imageSize: data.imageSize, numClasses: data.classes.length };
  if (cfg.model.arch === "dit") checkModelFits(cfg, data, () => resolveDiTConfig(ditOptions(cfg, shape)));
  else if (cfg.model.arch === "unet") checkModelFits(cfg, data, () => resolveUNetConfig(unetOptions(cfg, shape)));
  else throw new ConfigError([`model.arch: unknown architecture ${JSON.stringify(cfg.model.arch)} (unet or dit)`]);
  if (cfg.diffusion.timeSampling === "continuous" && cfg.diffusion.betaSchedule !== "shifted_cosine") {
    throw new ConfigError([
      `diffusion.timeSampling continuous needs diffusion.betaSchedule shifted_cosine (got ${cfg.diffusion.betaSchedule})`,
    ]);
  }
  // The sampler refuses this only after training, when the sample grids are made.
  if (cfg.sample.steps > cfg.diffusion.numTrainTimesteps) {
    throw new ConfigError([
      `sample.steps ${cfg.sample.steps} exceeds diffusion.numTrainTimesteps ${cfg.diffusion.numTrainTimesteps}`,
    ]);
  }
}

/** The former name of {@linkcode checkDenoiserFits} (it checks whichever denoiser `model.arch` names). */
export function checkUNetFits(cfg: DdpmConfig, data: ImageData): void {
  checkDenoiserFits(cfg, data);
}

/**
 * The log-SNR λ(t) of a `shifted_cosine` run (`diffusion.logSnrShift` added to the cosine
 * schedule's), or null for the named β schedules.
 */
export function runLogSnr(cfg: DiffusionSection): ((t: number) => number) | null {
  const d = cfg.diffusion;
  return d.betaSchedule === "shifted_cosine" ? (t) => cosineLogSnr(t, { shift: d.logSnrShift }) : null;
}

/** The part of a configuration the schedulers and the objective read (DDPM's and DiT3D's share it). */
export type DiffusionSection = { diffusion: Omit<DdpmConfig["diffusion"], "wavelet"> };

function common(cfg: DiffusionSection, clipSample: boolean) {
  const d = cfg.diffusion, logSnr = runLogSnr(cfg);
  return {
    numTrainTimesteps: d.numTrainTimesteps,
    ...(logSnr
      ? { trainedBetas: logSnrBetas(d.numTrainTimesteps, logSnr) }
      : { betaSchedule: d.betaSchedule as BetaSchedule }),
    predictionType: d.predictionType as PredictionType,
    clipSample,
  };
}

/** The training scheduler: DDPM over the configured schedule (its `addNoise` makes x_t). */
export function buildTrainScheduler(cfg: DiffusionSection): DDPMScheduler {
  return new DDPMScheduler(common(cfg, true));
}

/**
 * The sampler the configuration names: DDIM (trailing spacing, ᾱ_final = 1) or DDPM, with
 * x̂₀ clipped to [−1, 1] or, with `thresholding` (default `sample.thresholding`), dynamically
 * thresholded.
 */
export function buildSampler(
  cfg: DiffusionSection & { sample: { thresholding: boolean } },
  kind: "ddpm" | "ddim",
  thresholding: boolean = cfg.sample.thresholding,
  clipSample = true,
): DDPMScheduler | DDIMScheduler {
  const opts = { ...common(cfg, clipSample), thresholding };
  return kind === "ddim"
    ? new DDIMScheduler({ ...opts, timestepSpacing: "trailing", setAlphaToOne: true })
    : new DDPMScheduler(opts);
}
