/**
 * The configuration of `deno task train-dit3d` (DiT3D on VAE latents) and `deno task sample-3d`.
 * @module
 */
import { defineConfig } from "../../train/config.ts";
import { TRAIN_META, trainSection } from "../../train/options.ts";
import { DIFFUSION_DEFAULTS, DIFFUSION_META } from "../ddpm/config.ts";

// Latents are diffused as they are: the wavelet option of the image workflow does not apply.
const { wavelet: _notForLatents, ...diffusion } = DIFFUSION_DEFAULTS;
const { "diffusion.wavelet": _noWaveletKey, ...diffusionMeta } = DIFFUSION_META;

/** The DiT3D workflow's configuration schema. */
export const dit3dSchema = defineConfig({
  name: "dit3d",
  seed: 0,
  latents: {
    path: null as string | null,
  },
  model: {
    size: "S",
    patchSize: [2, 2, 2],
    depth: null as number | null,
    hiddenSize: null as number | null,
    numHeads: null as number | null,
    windowSize: [4, 4, 4],
    windowBlocks: [0, 3, 6, 9],
  },
  diffusion,
  train: trainSection({
    epochs: 20,
    batchSize: 8,
    lr: 1e-4,
    lrSchedule: "warmup-cosine",
    clipGradNorm: 1.0,
    emaDecay: 0.999,
    selectMetric: "loss",
    labelDropout: 0.1,
  }),
  sample: {
    sampler: "ddim",
    steps: 50,
    guidance: 3.0,
    thresholding: false,
  },
  output: {
    root: "runs",
  },
}, {
  "seed": { type: "integer", min: 0 },
  "latents.path": { type: "string", help: "a latent folder of deno task encode-latents (or --latents)" },
  "model.size": { choices: ["S", "B", "L", "XL"], help: "S/B/L/XL: depth 12/12/24/28, width 384/768/1152/1152" },
  "model.patchSize": { type: "integer[]", min: 1, help: "patch (pd, ph, pw) in latent voxels" },
  "model.depth": { type: "integer", min: 1, max: 1024, help: "blocks (null: the size's)" },
  "model.hiddenSize": { type: "integer", min: 6, help: "token width, a multiple of 6 (null: the size's)" },
  "model.numHeads": { type: "integer", min: 1, help: "attention heads (null: the size's)" },
  "model.windowSize": { type: "integer[]", min: 1, help: "3-D attention window in tokens (d, h, w)" },
  "model.windowBlocks": { type: "integer[]", min: 0, help: "blocks that attend within windows (others: global)" },
  ...diffusionMeta,
  ...TRAIN_META,
  "train.labelDropout": {
    min: 0,
    max: 1,
    help: "share of labels replaced by the null class (classifier-free guidance)",
  },
  "sample.sampler": { choices: ["ddim", "ddpm"] },
  "sample.steps": { type: "integer", min: 1, max: 100_000 },
  "sample.guidance": { min: 0, help: "classifier-free guidance scale (applied to every latent channel)" },
  "sample.thresholding": { help: "dynamic thresholding of x̂₀ (off for latents)" },
});

/** The resolved configuration of a DiT3D run. */
export type Dit3dConfig = typeof dit3dSchema.defaults;
