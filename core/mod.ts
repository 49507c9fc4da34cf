/**
 * The tensor core: device, tensors, autograd, scopes, random numbers and ops.
 * @module
 */
export {
  dispatchCounters,
  flush,
  gpu,
  GpuError,
  hasGpu,
  initGpu,
  memoryStats,
  releaseGpu,
  startKernelProfile,
  stopKernelProfile,
  synchronize,
} from "./device.ts";
export type { GpuContext, KernelProfileRow, MemoryStats } from "./device.ts";
export type { DType, TensorData } from "./dtype.ts";
export { leakedTensors, Tensor } from "./tensor.ts";
export type { Dims, TensorLike } from "./tensor.ts";
export { backward, isGradEnabled, Node, noGrad, WindowGrad } from "./autograd.ts";
export type { BackwardOptions } from "./autograd.ts";
export { keep, scope, tidy } from "./scope.ts";
export { autocast, autocastActive, f16Supported } from "./amp.ts";
export type { AutocastOptions } from "./amp.ts";
export * from "./ops/creation.ts";
export * from "./ops/random.ts";
export {
  abs,
  add,
  cast,
  clamp,
  clone,
  contiguous,
  cos,
  div,
  eq,
  exp,
  ge,
  gelu,
  gt,
  identity,
  le,
  leakyRelu,
  log,
  lt,
  maximum,
  minimum,
  mul,
  ne,
  neg,
  pow,
  relu,
  rsqrt,
  sigmoid,
  silu,
  sin,
  softplus,
  sqrt,
  square,
  sub,
  tanh,
  where,
} from "./ops/elementwise.ts";
export { argmax, argmin, logsumexp, max, mean, min, std, sum, sumToShape, variance } from "./ops/reduce.ts";
export { quantile, type QuantileInterpolation, type QuantileOptions } from "./ops/quantile.ts";
export { cropPatches, type CropPatchesOptions, roiSelect, topFractionMean, topKMask } from "./ops/roi.ts";
export {
  expand,
  flatten,
  narrow,
  permute,
  reshape,
  slice,
  squeeze,
  t,
  transpose,
  unsqueeze,
  view,
} from "./ops/view.ts";
export { cat, gather, indexSelect, oneHot, pad, repeat, stack } from "./ops/join.ts";
export { binaryCrossEntropyWithLogits, crossEntropy, mseLoss, nllLoss } from "./ops/loss.ts";
export type { CrossEntropyOptions, Reduction } from "./ops/loss.ts";
export { matmul, tuneMatmul } from "./ops/matmul.ts";
export { autotuneSettled } from "./backend/autotune.ts";
export type { TuneResult } from "./backend/autotune.ts";
export { logSoftmax, softmax } from "./ops/softmax.ts";
export { batchNorm, groupNorm, instanceNorm, layerNorm } from "./ops/norm.ts";
export type { BatchNormOptions, NormActivation, NormOptions } from "./ops/norm.ts";
export {
  adaptiveAvgPool1d,
  adaptiveAvgPool2d,
  adaptiveAvgPool3d,
  adaptiveMaxPool1d,
  adaptiveMaxPool2d,
  adaptiveMaxPool3d,
  avgPool1d,
  avgPool2d,
  avgPool3d,
  maxPool1d,
  maxPool2d,
  maxPool3d,
} from "./ops/pool.ts";
export type { AdaptiveMaxPoolOptions, AvgPoolOptions, MaxPoolOptions, PoolSize } from "./ops/pool.ts";
export { interpolate } from "./ops/interpolate.ts";
export type { InterpolateMode, InterpolateOptions } from "./ops/interpolate.ts";
export { dropout, dropout2d, dropout3d, stochasticDepth } from "./ops/dropout.ts";
export type { DropoutOptions, StochasticDepthOptions } from "./ops/dropout.ts";
export { conv1d, conv2d, conv3d, convTranspose1d, convTranspose2d, convTranspose3d, tuneConv2d } from "./ops/conv.ts";
export type { ConvOptions, ConvTransposeOptions, IntOrTuple } from "./ops/conv.ts";
export * from "./optim/mod.ts";
export { focalLoss } from "./ops/focal_loss.ts";
export type { FocalLossOptions } from "./ops/focal_loss.ts";
export { scaledDotProductAttention } from "./ops/attention.ts";
export type { AttentionImpl, AttentionOptions } from "./ops/attention.ts";
export {
  cyclicShift,
  paddedSizes,
  roll,
  shiftedWindowMask,
  shiftedWindowMask2d,
  shiftedWindowMask3d,
  windowPartition2d,
  windowPartition3d,
  windowReverse2d,
  windowReverse3d,
} from "./ops/window.ts";
export { haarDwt2d, haarIdwt2d } from "./ops/wavelet.ts";
export { type NearestNeighbours, nearestNeighbours, type NearestNeighboursOptions } from "./ops/knn.ts";
export type { ShiftedWindowMaskOptions, WindowSize } from "./ops/window.ts";
