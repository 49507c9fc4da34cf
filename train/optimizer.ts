/**
 * The optimizer and learning-rate schedule a `train` section names, built the same way for
 * every task. Schedules advance once per optimizer step.
 * @module
 */
import type { Parameter } from "../core/nn/module.ts";
import { Adam, AdamW } from "../core/optim/adam.ts";
import {
  CosineAnnealingLR,
  LinearWarmupCosine,
  type LRScheduler,
  MultiStepLR,
  OneCycleLR,
} from "../core/optim/lr_scheduler.ts";
import type { BaseHyper, Optimizer } from "../core/optim/optimizer.ts";
import { SGD } from "../core/optim/sgd.ts";
import type { TrainOptions } from "./options.ts";

/** The optimizer `t.optimizer` names over `params`. */
export function buildOptimizer(params: Parameter[], t: TrainOptions): Optimizer<BaseHyper> {
  switch (t.optimizer) {
    case "sgd":
      return new SGD(params, { lr: t.lr, momentum: t.momentum, weightDecay: t.weightDecay, nesterov: t.momentum > 0 });
    case "adam":
      return new Adam(params, { lr: t.lr, weightDecay: t.weightDecay, amsgrad: t.amsgrad }) as unknown as Optimizer<
        BaseHyper
      >;
    case "adamw":
      return new AdamW(params, { lr: t.lr, weightDecay: t.weightDecay, amsgrad: t.amsgrad }) as unknown as Optimizer<
        BaseHyper
      >;
  }
  throw new RangeError(`train.optimizer: unknown optimizer "${t.optimizer}" (adamw, adam or sgd)`);
}

/** The schedule `t.lrSchedule` names for a run of `stepsPerEpoch × t.epochs` optimizer steps (null: constant). */
export function buildSchedule(
  opt: Optimizer<BaseHyper>,
  t: TrainOptions,
  stepsPerEpoch: number,
): LRScheduler | null {
  const totalSteps = stepsPerEpoch * t.epochs;
  const minLr = t.lr * t.minLrFraction;
  switch (t.lrSchedule) {
    case "constant":
      return null;
    case "cosine":
      return new CosineAnnealingLR(opt, { tMax: totalSteps, etaMin: minLr });
    case "warmup-cosine":
      return new LinearWarmupCosine(opt, {
        warmupSteps: Math.round(t.warmupFraction * totalSteps),
        totalSteps,
        minLr,
      });
    case "onecycle":
      return new OneCycleLR(opt, { maxLr: t.lr, totalSteps, pctStart: t.warmupFraction, cycleMomentum: false });
    case "step":
      return new MultiStepLR(opt, { milestones: t.lrMilestones.map((e) => e * stepsPerEpoch), gamma: t.lrGamma });
  }
  throw new RangeError(`train.lrSchedule: unknown schedule "${t.lrSchedule}"`);
}
