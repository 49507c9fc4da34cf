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
export { ModuleDict, ModuleList, Sequential } from "./containers.ts";
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
  Tanh,
} from "./linear.ts";
export type { DropoutModuleOptions, EmbeddingOptions, LinearOptions } from "./linear.ts";
export {
  decodeSafetensors,
  encodeSafetensors,
  loadSafetensors,
  parseSafetensors,
  saveSafetensors,
  toHost,
} from "./safetensors.ts";
export type { HostTensor, SafetensorsContents } from "./safetensors.ts";
