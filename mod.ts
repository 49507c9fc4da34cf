/**
 * meddiff — GPU-native deep learning for medical imaging on Deno's WebGPU. Importing it acquires
 * no GPU device: a program awaits {@linkcode initGpu} once before its first tensor.
 * @module
 */
export * from "./core/mod.ts";
export * as nn from "./core/nn/mod.ts";
export { Module, Parameter } from "./core/nn/module.ts";
export { loadSafetensors, saveSafetensors } from "./core/nn/safetensors.ts";
export * as models from "./models/mod.ts";
export { latestCheckpoint, loadCheckpoint, saveCheckpoint } from "./train/checkpoint.ts";
export * from "./samplers/mod.ts";
export * from "./metrics/mod.ts";
export * from "./plots/mod.ts";
export * from "./datasets/mod.ts";
export { UNet } from "./models/unet.ts";
export type { UNetOptions } from "./models/unet.ts";
export { efficientnetB0, efficientnetB4, resnet18, resnet34, resnet50, vitS16 } from "./models/mod.ts";
