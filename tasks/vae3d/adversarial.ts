/**
 * The adversarial half of MAISI's VAE loss: a {@linkcode PatchDiscriminator} (3-D, instance norm)
 * judging reconstructions against the real volumes with MONAI's least-squares patch loss.
 *
 * One optimizer step trains both, exactly as MAISI's alternating updates do within a step (the
 * generator's step uses the discriminator before its update, and the discriminator's step the
 * reconstruction before the generator's): the generator term sees the discriminator with its
 * parameters frozen, so its gradient reaches the VAE only; the discriminator term sees the
 * reconstruction detached, so its gradient reaches the discriminator only. The discriminator is
 * a child of the VAE during training (`discriminator.*` in the run's checkpoints), so resume,
 * EMA and data parallelism need nothing else; with the same optimizer settings for both, as
 * MAISI's recipe has (Adam, one learning rate).
 * @module
 */
import type { Module } from "../../core/nn/module.ts";
import { mul } from "../../core/ops/elementwise.ts";
import { fullLike } from "../../core/ops/creation.ts";
import { mseLoss } from "../../core/ops/loss.ts";
import type { Tensor } from "../../core/tensor.ts";
import { PatchDiscriminator } from "../../models/patch_discriminator.ts";

/** The `loss` keys of the adversarial term. */
export interface AdversarialConfig {
  /** Weight of both adversarial terms (0: none; MAISI: 0.1). */
  advWeight: number;
  /** Channels of the discriminator's first convolution (MAISI: 32). */
  discChannels: number;
  /** The discriminator's middle convolutions (MAISI: 3). */
  discLayers: number;
}

/** MAISI's discriminator for volumes of `channels` channels. */
export function buildDiscriminator(c: AdversarialConfig, channels: number): PatchDiscriminator {
  return new PatchDiscriminator({
    spatialDims: 3,
    channels: c.discChannels,
    inChannels: channels,
    numLayersD: c.discLayers,
    norm: "instance",
  });
}

/** Mean of (logits − target)², MONAI's least-squares patch loss (an MSE against a constant map). */
function leastSquares(logits: Tensor, target: number): Tensor {
  return mseLoss(logits, fullLike(logits, target));
}

/** Runs `fn` with `module`'s parameters treated as constants (no gradient recorded for them). */
function withFrozen<T>(module: Module, fn: () => T): T {
  const params = module.parameters();
  const before = params.map((p) => p.requiresGrad);
  params.forEach((p) => (p.requiresGrad = false));
  try {
    return fn();
  } finally {
    params.forEach((p, i) => (p.requiresGrad = before[i]));
  }
}

/**
 * The generator's and the discriminator's least-squares losses for one batch (see the module
 * doc for how their gradients stay apart): `generator` = mean((D(fake) − 1)²) with D frozen,
 * `discriminator` = ½·(mean((D(real) − 1)²) + mean(D(fake.detach())²)).
 */
export function adversarialLosses(
  discriminator: PatchDiscriminator,
  real: Tensor,
  fake: Tensor,
): { generator: Tensor; discriminator: Tensor } {
  const generator = withFrozen(discriminator, () => leastSquares(discriminator.call(fake), 1));
  const onReal = leastSquares(discriminator.call(real.detach()), 1);
  const onFake = leastSquares(discriminator.call(fake.detach()), 0);
  return { generator, discriminator: mul(onReal.add(onFake), 0.5) };
}
