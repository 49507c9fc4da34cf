/** The classifier of a run, built from its configuration (and optional pretrained weights), and checked against its data. */
import type { Module } from "../../core/nn/module.ts";
import { loadSafetensors } from "../../core/nn/safetensors.ts";
import type { Tensor } from "../../core/tensor.ts";
import { efficientnetB0, efficientnetB4 } from "../../models/efficientnet.ts";
import { resnet18, resnet34, resnet50 } from "../../models/resnet.ts";
import { resolveSwinConfig, SWIN_B, SWIN_T, SwinTransformer, type SwinTransformerOptions } from "../../models/swin.ts";
import { resolveViTConfig, VisionTransformer, type VisionTransformerOptions, VIT_S16 } from "../../models/vit.ts";
import type { ImageData } from "../common/data.ts";
import { checkModelFits } from "../common/run_setup.ts";
import type { ClassifierConfig } from "./config.ts";
import { ConfigError } from "../../train/config.ts";

/** A module mapping (N, C, H, W) images to (N, classes) logits. */
export type Classifier = Module & {
  forward(x: Tensor): Tensor;
  /** The penultimate features (what the final Linear reads): the generation metrics' feature space. */
  embed(x: Tensor): Tensor;
};

/** ViT-S/16 with the configured patch size, for this data. */
function vitOptions(
  cfg: ClassifierConfig,
  channels: number,
  imageSize: number,
  numClasses: number,
): VisionTransformerOptions {
  return { ...VIT_S16, numClasses, inChannels: channels, imageSize, patchSize: cfg.model.patchSize };
}

/** Swin-T or Swin-B with the configured patch, window and stochastic depth, for this data. */
function swinOptions(
  cfg: ClassifierConfig,
  channels: number,
  imageSize: number,
  numClasses: number,
): SwinTransformerOptions {
  const m = cfg.model, preset = m.arch === "swinB" ? SWIN_B : SWIN_T;
  return {
    ...preset,
    numClasses,
    inChannels: channels,
    imageSize,
    patchSize: m.patchSize,
    windowSize: m.windowSize,
    stochasticDepthProb: m.stochasticDepth ?? preset.stochasticDepthProb,
  };
}

/**
 * Checks, without building it, that the configured architecture works on the opened data (the
 * model's own validation): a ViT's `model.patchSize` must divide the image size; a Swin's must
 * not exceed it (smaller feature maps than `model.windowSize` are padded, as torchvision does).
 * ResNet and EfficientNet take any image of the data's minimum size; volumes take ResNets only.
 * A {@linkcode ConfigError} names the key.
 */
export function checkClassifierFits(cfg: ClassifierConfig, data: ImageData): void {
  const { channels, imageSize, classes } = data;
  if (data.spatialDims === 3 && !cfg.model.arch.startsWith("resnet")) {
    throw new ConfigError([
      `model.arch ${cfg.model.arch} takes images; for volumes use resnet18, resnet34 or resnet50`,
    ]);
  }
  if (cfg.model.arch === "vitS16") {
    checkModelFits(cfg, data, () => resolveViTConfig(vitOptions(cfg, channels, imageSize, classes.length)));
  } else if (cfg.model.arch === "swinT" || cfg.model.arch === "swinB") {
    checkModelFits(cfg, data, () => resolveSwinConfig(swinOptions(cfg, channels, imageSize, classes.length)));
  }
}

/**
 * The configured architecture for `channels`-channel `imageSize` images (or, with `spatialDims`
 * 3, `imageSize`³ volumes: ResNets only) and `numClasses` classes.
 */
export function buildClassifier(
  cfg: ClassifierConfig,
  channels: number,
  imageSize: number,
  numClasses: number,
  spatialDims: 2 | 3 = 2,
): Classifier {
  const m = cfg.model, common = { numClasses, inChannels: channels };
  const resnet = { ...common, smallInput: m.smallInput, spatialDims, baseWidth: m.baseWidth };
  if (spatialDims === 3 && !m.arch.startsWith("resnet")) {
    throw new ConfigError([`model.arch ${m.arch} takes images; for volumes use resnet18, resnet34 or resnet50`]);
  }
  switch (m.arch) {
    case "resnet18":
      return resnet18(resnet);
    case "resnet34":
      return resnet34(resnet);
    case "resnet50":
      return resnet50(resnet);
    case "efficientnetB0":
      return efficientnetB0({ ...common, dropout: m.dropout });
    case "efficientnetB4":
      return efficientnetB4({ ...common, dropout: m.dropout });
    case "vitS16":
      return new VisionTransformer(vitOptions(cfg, channels, imageSize, numClasses));
    case "swinT":
    case "swinB":
      return new SwinTransformer(swinOptions(cfg, channels, imageSize, numClasses));
    default:
      throw new Error(`model.arch: unknown architecture ${m.arch}`);
  }
}

/**
 * Loads pretrained weights (safetensors, PyTorch names) into `model`; tensors whose shape
 * differs (a head for another number of classes) are skipped. Returns the skipped names.
 */
export async function loadPretrained(model: Module, path: string): Promise<string[]> {
  const weights = await loadSafetensors(path);
  const own = model.stateDict();
  const use: Record<string, Tensor> = {}, skipped: string[] = [];
  for (const [name, t] of Object.entries(weights)) {
    const mine = own[name];
    if (mine && mine.shape.length === t.shape.length && mine.shape.every((d, i) => d === t.shape[i])) use[name] = t;
    else skipped.push(name);
  }
  const missing = Object.keys(own).filter((k) => !(k in use) && !skipped.includes(k));
  model.loadStateDict(use, { strict: false });
  for (const t of Object.values(weights)) t.dispose();
  return [...skipped, ...missing.map((k) => `${k} (not in the file)`)];
}
