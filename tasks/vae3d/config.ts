/**
 * The configuration of `deno task train-vae` (the MAISI 3-D autoencoder). The defaults train a
 * tiny VAE on the built-in procedural volumes; `configs/vae3d-adrenalmnist3d.yaml` is the real one.
 * @module
 */
import { defineConfig } from "../../train/config.ts";
import { TRAIN_META, trainSection } from "../../train/options.ts";
import { VOLUME_DATA_DEFAULTS, VOLUME_DATA_META } from "../common/volume_data.ts";

/** Validation metrics `train.selectMetric` can choose from (l1 and loss smaller is better). */
export const VAE_METRICS = ["l1", "psnr", "ssim", "loss"];

/** The VAE workflow's configuration schema. */
export const vaeSchema = defineConfig({
  name: "vae3d",
  seed: 0,
  data: { ...VOLUME_DATA_DEFAULTS },
  model: {
    numChannels: [16, 32, 64],
    numResBlocks: 1,
    normNumGroups: 8,
    latentChannels: 4,
    upsample: "trilinear",
  },
  loss: {
    klWeight: 1e-6,
    advWeight: 0,
    discChannels: 32,
    discLayers: 3,
    perceptualWeight: 0,
    perceptualNetwork: "",
    perceptualSliceFraction: 0.5,
    perceptualNorm: "imagenet",
  },
  train: trainSection({
    epochs: 10,
    batchSize: 4,
    lr: 1e-4,
    lrSchedule: "constant",
    optimizer: "adam",
    selectMetric: "l1",
    selectMode: "min",
    logEvery: 10,
    patchSize: [] as number[],
  }),
  sample: {
    previewEvery: 1,
  },
  output: {
    root: "runs",
  },
}, {
  "seed": { type: "integer", min: 0 },
  ...VOLUME_DATA_META,
  "model.numChannels": { type: "integer[]", min: 1, help: "width per level (MAISI: 64, 128, 256)" },
  "model.numResBlocks": { type: "integer", min: 1, max: 16, help: "residual blocks per level (MAISI: 2)" },
  "model.normNumGroups": { type: "integer", min: 1, help: "GroupNorm groups (MAISI: 32)" },
  "model.latentChannels": { type: "integer", min: 1, max: 64 },
  "model.upsample": {
    choices: ["trilinear", "nearest"],
    help: "decoder upsampling before its conv (MAISI: trilinear)",
  },
  "loss.klWeight": { min: 0, max: 1, help: "weight of the KL term beside the L1 reconstruction (MAISI: 1e-7)" },
  "loss.advWeight": {
    min: 0,
    max: 10,
    help: "weight of the adversarial terms against a 3-D PatchGAN discriminator (0: none; MAISI: 0.1)",
  },
  "loss.discChannels": { type: "integer", min: 1, max: 1024, help: "the discriminator's first width (MAISI: 32)" },
  "loss.discLayers": {
    type: "integer",
    min: 1,
    max: 8,
    help: "the discriminator's middle convolutions (MAISI: 3; needs volumes of at least 24 voxels a side)",
  },
  "loss.perceptualWeight": {
    min: 0,
    max: 10,
    help: "weight of the 2.5-D perceptual term (0: none; MAISI: 0.3); needs loss.perceptualNetwork",
  },
  "loss.perceptualNetwork": {
    help: "safetensors of a 2-D ResNet in torchvision's names for the perceptual term (e.g. ImageNet ResNet-50, or a " +
      "classifier this framework trained; nothing is downloaded)",
  },
  "loss.perceptualSliceFraction": {
    min: 0.001,
    max: 1,
    help: "share of each axis's slices the perceptual term uses per step (MONAI's fake_3d_ratio; MAISI: 0.2)",
  },
  "loss.perceptualNorm": {
    choices: ["imagenet", "none"],
    help: "input scaling of the perceptual network: ImageNet z-score (3-channel networks) or none",
  },
  ...TRAIN_META,
  "train.patchSize": {
    type: "integer[]",
    min: 1,
    help: "train on random crops of this size, [D, H, W] (MAISI's patch_size; [] = whole volumes); validation, " +
      "evaluation and encode-latents take whole volumes (the VAE is fully convolutional)",
  },
  "train.selectMetric": { choices: VAE_METRICS, help: "validation metric that picks best.safetensors" },
  "sample.previewEvery": {
    type: "integer",
    min: 1,
    help: "validations between mid-slice reconstruction PNGs (samples/recon_epoch_<n>.png)",
  },
});

/** The resolved configuration of a VAE run. */
export type VaeConfig = typeof vaeSchema.defaults;
