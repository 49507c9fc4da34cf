/**
 * meddiff — GPU-native deep learning for medical imaging on Deno's WebGPU.
 * @module
 */
export * from "./core/mod.ts";
