/** The classifier of a run, built from its configuration (and optional pretrained weights). */
import type { Module } from "../../core/nn/module.ts";
import { loadSafetensors } from "../../core/nn/safetensors.ts";
import type { Tensor } from "../../core/tensor.ts";
import { efficientnetB0, efficientnetB4 } from "../../models/efficientnet.ts";
import { resnet18, resnet34, resnet50 } from "../../models/resnet.ts";
import { vitS16 } from "../../models/vit.ts";
import type { ClassifierConfig } from "./config.ts";

/** A module mapping (N, C, H, W) images to (N, classes) logits. */
export type Classifier = Module & { forward(x: Tensor): Tensor };

/** The configured architecture for `channels`-channel `imageSize` images and `numClasses` classes. */
export function buildClassifier(
  cfg: ClassifierConfig,
  channels: number,
  imageSize: number,
  numClasses: number,
): Classifier {
  const m = cfg.model, common = { numClasses, inChannels: channels };
  switch (m.arch) {
    case "resnet18":
      return resnet18({ ...common, smallInput: m.smallInput });
    case "resnet34":
      return resnet34({ ...common, smallInput: m.smallInput });
    case "resnet50":
      return resnet50({ ...common, smallInput: m.smallInput });
    case "efficientnetB0":
      return efficientnetB0({ ...common, dropout: m.dropout });
    case "efficientnetB4":
      return efficientnetB4({ ...common, dropout: m.dropout });
    case "vitS16":
      return vitS16({ ...common, imageSize, patchSize: m.patchSize });
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
