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
export { Encoder, EncoderBlock, resolveViTConfig, VisionTransformer, VIT_S16, vitB16, vitS16 } from "./vit.ts";
export type { VisionTransformerConfig, VisionTransformerOptions } from "./vit.ts";
export { resolveUNetConfig, UNet } from "./unet.ts";
export type { UNetConfig, UNetOptions } from "./unet.ts";
export {
  AttentionBlock2D,
  DownBlock2D,
  Downsample2D,
  ResnetBlock2D,
  UNetMidBlock2D,
  UpBlock2D,
  Upsample2D,
} from "./unet_blocks.ts";
export { TimestepEmbedding, timestepEmbedding, Timesteps } from "./embeddings.ts";
export { ConditionalConv2d, DiffMicDenoiser, ImageEncoder, RESNET_TRUNKS, resnetTrunk } from "./diffmic.ts";
export type { DiffMicDenoiserOptions, TrunkOptions } from "./diffmic.ts";
export { Dcg, SaliencyHead } from "./dcg.ts";
export type { DcgOptions, DcgOutput, GlobalTrunk } from "./dcg.ts";
