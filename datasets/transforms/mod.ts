/**
 * Seeded, composable sample transforms: decoding, geometric and photometric augmentation with
 * torchvision's semantics, normalisation, Ben Graham's fundus preprocessing, and 3D volume
 * transforms. Every transform is a factory returning `(sample, rng) => sample`; random ones draw
 * only from the `rng` they are given, so `Rng.derive(seed, epoch, index)` fixes a sample's
 * augmentation wherever and whenever it is computed.
 *
 * @example
 * ```ts
 * const train = compose([
 *   decodeImage({ channels: 3 }),
 *   benGraham(),
 *   resize({ size: 240 }),
 *   randomCrop(224),
 *   randomRotation(15),
 *   randomHorizontalFlip(),
 *   colorJitter({ brightness: 0.2, contrast: 0.2, saturation: 0.2, hue: 0.02 }),
 *   normalize(IMAGENET_MEAN, IMAGENET_STD),
 *   toTensor(),
 * ]);
 * ```
 * @module
 */
export { compose, randomApply, randomChoice, type TransformChain } from "./compose.ts";
export { convertChannels, decodeImage, type DecodeOptions, decodeRaster, type ImageSource } from "./decode.ts";
export {
  centerCrop,
  type CropBox,
  cropImage,
  type CropOptions,
  type Interpolation,
  type PaddingMode,
  randomCrop,
  type RandomCropOptions,
  randomHorizontalFlip,
  randomResizedCrop,
  type RandomResizedCropOptions,
  randomRotation,
  randomVerticalFlip,
  resize,
  resizeImage,
  type ResizeOptions,
  type ResizeTarget,
  rotateImage,
  type RotationOptions,
} from "./geometric.ts";
export {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  adjustSharpness,
  adjustSharpnessImage,
  colorJitter,
  type ColorJitterOptions,
  gaussianBlur,
  gaussianBlurImage,
  grayscale,
  randomAdjustSharpness,
  randomGrayscale,
} from "./color.ts";
export { IMAGENET_MEAN, IMAGENET_STD, normalize, rasterToArray, toTensor } from "./normalize.ts";
export {
  autoCropFundus,
  autoCropFundusImage,
  type AutoCropOptions,
  benGraham,
  benGrahamImage,
  type BenGrahamOptions,
  estimateFundusRadius,
} from "./ben_graham.ts";
export {
  cropOrPadVolume,
  type IntensityWindow,
  intensityWindow,
  type IntensityWindowOptions,
  percentileClip,
  type PercentileClipOptions,
  randomCropVolume,
  randomFlipVolume,
  type RandomFlipVolumeOptions,
  type RandomRot90Options,
  randomRot90Volume,
  resizeVolume,
  type VolumeInterpolation,
  type VolumeShape,
  zScoreNormalize,
  type ZScoreOptions,
} from "./volume.ts";
