/**
 * The neural-network layer: `Module`, `Parameter`, initialisers, containers, simple layers
 * and safetensors I/O.
 * @module
 */
export { Module, Parameter } from "./module.ts";
export type { BufferOptions, LoadStateDictOptions, LoadStateDictResult, StateDict } from "./module.ts";
/** The initialisers as a namespace, like `torch.nn.init`. */
export * as init from "./init.ts";
export {
  calculateFanInAndFanOut,
  calculateGain,
  constant_,
  kaimingNormal_,
  kaimingUniform_,
  normal_,
  ones_,
  truncNormal_,
  uniform_,
  xavierNormal_,
  xavierUniform_,
  zeros_,
} from "./init.ts";
export type { FanMode, InitOptions, KaimingOptions, Nonlinearity } from "./init.ts";
export { chain, ModuleDict, ModuleList, Sequential } from "./containers.ts";
export { packParameters } from "./packed.ts";
export type { ChainStage } from "./containers.ts";
export {
  Dropout,
  Embedding,
  GELU,
  Identity,
  LeakyReLU,
  Linear,
  ReLU,
  Sigmoid,
  SiLU,
  Softmax,
  Softplus,
  StochasticDepth,
  Tanh,
} from "./linear.ts";
export type { DropoutModuleOptions, EmbeddingOptions, LinearOptions } from "./linear.ts";
export { decodeSafetensors, loadSafetensors, saveSafetensors, toHost } from "./safetensors.ts";
export {
  CHECKSUM_KEY,
  encodeSafetensors,
  parseSafetensors,
  readSafetensorsFile,
} from "../../util/formats/safetensors.ts";
export type { HostTensor, SafetensorsContents } from "../../util/formats/safetensors.ts";
export { Conv1d, Conv2d, Conv3d, ConvNd, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d } from "./conv.ts";
export type { ConvModuleOptions, ConvTransposeModuleOptions, PaddingMode } from "./conv.ts";
export {
  BatchNorm1d,
  BatchNorm2d,
  BatchNorm3d,
  BatchNormBase,
  GroupNorm,
  InstanceNorm1d,
  InstanceNorm2d,
  InstanceNorm3d,
  InstanceNormBase,
  LayerNorm,
} from "./norm.ts";
export type { BatchNormModuleOptions, GroupNormOptions, InstanceNormOptions, LayerNormOptions } from "./norm.ts";
export {
  AdaptiveAvgPool1d,
  AdaptiveAvgPool2d,
  AdaptiveAvgPool3d,
  AdaptiveAvgPoolNd,
  AvgPool1d,
  AvgPool2d,
  AvgPool3d,
  AvgPoolNd,
  Flatten,
  MaxPool1d,
  MaxPool2d,
  MaxPool3d,
  MaxPoolNd,
  Unflatten,
  Upsample,
} from "./pool.ts";
export type { AvgPoolModuleOptions, MaxPoolModuleOptions, UpsampleOptions } from "./pool.ts";
export { MultiheadAttention } from "./attention.ts";
export type { MultiheadAttentionForwardOptions, MultiheadAttentionOptions } from "./attention.ts";
