/**
 * Model zoo: `nn.Module` trees with PyTorch's parameter names, so weights move both ways
 * through safetensors.
 * @module
 */
export { BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50 } from "./resnet.ts";
export type { BlockType, ResidualBlock, ResNetOptions } from "./resnet.ts";
export {
  EfficientNet,
  efficientnetB0,
  efficientnetB4,
  makeDivisible,
  MBConv,
  SqueezeExcitation,
} from "./efficientnet.ts";
export type { EfficientNetOptions } from "./efficientnet.ts";
export {
  BasicConv2d,
  InceptionA,
  InceptionB,
  InceptionC,
  InceptionD,
  InceptionE,
  InceptionV3,
  loadInceptionV3,
} from "./inception.ts";
export type { InceptionV3Options } from "./inception.ts";
export { Encoder, EncoderBlock, resolveViTConfig, VisionTransformer, VIT_S16, vitB16, vitS16 } from "./vit.ts";
export type { VisionTransformerConfig, VisionTransformerOptions } from "./vit.ts";
export { resolveUNetConfig, UNet } from "./unet.ts";
export type { UNetConfig, UNetOptions } from "./unet.ts";
export {
  AttentionBlock2D,
  DownBlock2D,
  Downsample2D,
  ResnetBlock2D,
  TimeShifts,
  UNetMidBlock2D,
  UpBlock2D,
  Upsample2D,
} from "./unet_blocks.ts";
export { TimestepEmbedding, timestepEmbedding, Timesteps } from "./embeddings.ts";
export { batchClassLabels, batchTimesteps } from "./embeddings.ts";
export {
  DiT,
  dit,
  DIT_FREQUENCY_EMBEDDING_SIZE,
  DIT_PRESETS,
  DIT_SIZES,
  DiTAttention,
  ditB2,
  ditB4,
  ditB8,
  DiTBlock,
  DiTMlp,
  ditParameterCount,
  ditS2,
  ditS4,
  ditS8,
  FinalLayer,
  LabelEmbedder,
  PatchEmbed,
  resolveDiTConfig,
  sincosPosEmbed2d,
  TimestepEmbedder,
} from "./dit.ts";
export type { DiTConfig, DiTOptions, DiTPresetName, DiTSize } from "./dit.ts";
export {
  DiT3D,
  dit3d,
  DIT3D_SIZES,
  dit3dKeysFromSeed,
  PatchEmbed3d,
  resolveDiT3DConfig,
  sincosPosEmbed3d,
  WindowAttention3d,
} from "./dit3d.ts";
export type { DiT3DConfig, DiT3DOptions, Triple } from "./dit3d.ts";
export {
  MaisiConv,
  MaisiDecoder,
  MaisiDownsample,
  MaisiEncoder,
  maisiKeysFromCheckpoint,
  MaisiResBlock,
  MaisiUpsample,
  MaisiVAE,
  MonaiConv,
  resolveMaisiVAEConfig,
} from "./vae3d.ts";
export type { LatentDistribution, MaisiVAEConfig, MaisiVAEOptions } from "./vae3d.ts";
export { PatchDiscriminator, patchDiscriminatorOutputSide } from "./patch_discriminator.ts";
export type { PatchDiscriminatorOptions } from "./patch_discriminator.ts";
export { loadFeatureResNet, PerceptualLoss25D } from "./perceptual.ts";
export type { PerceptualNorm, PerceptualOptions } from "./perceptual.ts";
export { slidingWindow } from "./sliding_window.ts";
export type { SlidingWindowOptions } from "./sliding_window.ts";
export { ConditionalConv2d, DiffMicDenoiser, ImageEncoder, RESNET_TRUNKS, resnetTrunk } from "./diffmic.ts";
export type { DiffMicDenoiserOptions, TrunkOptions } from "./diffmic.ts";
export { Dcg, SaliencyHead } from "./dcg.ts";
export type { DcgOptions, DcgOutput, GlobalTrunk } from "./dcg.ts";
export {
  effectiveShift,
  PatchMerging,
  Permute,
  relativePositionIndex,
  resolveSwinConfig,
  ShiftedWindowAttention,
  SWIN_B,
  SWIN_T,
  swinB,
  swinT,
  SwinTransformer,
  SwinTransformerBlock,
} from "./swin.ts";
export type {
  ShiftedWindowAttentionOptions,
  SizePair,
  SwinTransformerBlockOptions,
  SwinTransformerConfig,
  SwinTransformerOptions,
} from "./swin.ts";
