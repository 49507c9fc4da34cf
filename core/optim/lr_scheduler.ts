/**
 * Learning-rate schedules (torch.optim.lr_scheduler's formulas, in closed form): each
 * scheduler writes `lr` into every parameter group of its optimizer on `step()`.
 * Like PyTorch, constructing a scheduler applies the step-0 learning rate.
 */
import type { BaseHyper, Optimizer } from "./optimizer.ts";

/** JSON-able state of a scheduler. */
export interface SchedulerStateDict {
  /** Number of `step()` calls since construction (PyTorch's `last_epoch`). */
  lastEpoch: number;
  /** Learning rates each group started from. */
  baseLrs: number[];
  /** Learning rates set by the last step. */
  lastLr: number[];
}

/** Base class: subclasses implement the pure `lrAt(step, group)`. */
export abstract class LRScheduler {
  /** The optimizer whose groups' `lr` is scheduled. */
  readonly optimizer: Optimizer<BaseHyper>;
  /** Initial learning rate of each group. */
  baseLrs: number[];
  /** Current step (PyTorch's `last_epoch`; 0 after construction). */
  lastEpoch: number = -1;
  #lastLr: number[] = [];

  /** Records each group's `initialLr` (its current lr unless already set). */
  constructor(optimizer: Optimizer<BaseHyper>) {
    this.optimizer = optimizer;
    for (const g of optimizer.paramGroups) g.initialLr ??= g.lr;
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr!);
  }

  /** Applies the step-0 values; subclasses call it at the end of their constructor. */
  protected initialStep(): void {
    this.step();
  }

  /** The learning rate of group `group` at step `step` (pure: changes nothing). */
  abstract lrAt(step: number, group?: number): number;

  /** Hook for schedules that set more than `lr` (OneCycleLR's momentum). */
  protected applyExtra(_step: number): void {}

  /** Advances one step and writes the new learning rates into the optimizer. */
  step(): void {
    this.lastEpoch++;
    this.#lastLr = this.optimizer.paramGroups.map((g, i) => {
      g.lr = this.lrAt(this.lastEpoch, i);
      return g.lr;
    });
    this.applyExtra(this.lastEpoch);
  }

  /** Learning rates set by the last `step()`, one per group. */
  getLastLr(): number[] {
    return [...this.#lastLr];
  }

  /** The scheduler's state as plain data. */
  stateDict(): SchedulerStateDict {
    return { lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs], lastLr: this.getLastLr() };
  }

  /** Restores `stateDict()` output (does not touch the optimizer's current lr). */
  loadStateDict(sd: SchedulerStateDict): void {
    if (typeof sd?.lastEpoch !== "number" || !Array.isArray(sd.baseLrs)) {
      throw new TypeError("LRScheduler.loadStateDict: expected {lastEpoch, baseLrs, lastLr}");
    }
    this.lastEpoch = sd.lastEpoch;
    this.baseLrs = [...sd.baseLrs];
    this.#lastLr = [...(sd.lastLr ?? [])];
  }

  /** Base learning rate of `group`. */
  protected base(group = 0): number {
    const b = this.baseLrs[group];
    if (b === undefined) throw new RangeError(`lrAt: no parameter group ${group}`);
    return b;
  }
}

function positiveInt(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${op}: ${name} must be a positive integer, got ${v}`);
}

/** Options of `StepLR`. */
export interface StepLROptions {
  /** Period of the decay, in steps. */
  stepSize: number;
  /** Multiplicative factor (default 0.1). */
  gamma?: number;
}

/** Decays the learning rate by `gamma` every `stepSize` steps: `lr = base·γ^⌊t/stepSize⌋`. */
export class StepLR extends LRScheduler {
  /** Period of the decay. */
  readonly stepSize: number;
  /** Decay factor. */
  readonly gamma: number;

  /** Attaches the schedule to `optimizer` and applies the step-0 learning rate. */
  constructor(optimizer: Optimizer<BaseHyper>, opts: StepLROptions) {
    super(optimizer);
    positiveInt("StepLR", "stepSize", opts.stepSize);
    this.stepSize = opts.stepSize;
    this.gamma = opts.gamma ?? 0.1;
    this.initialStep();
  }

  /** `base·γ^⌊t/stepSize⌋`. */
  lrAt(step: number, group = 0): number {
    return this.base(group) * this.gamma ** Math.floor(step / this.stepSize);
  }
}

/** Options of `MultiStepLR`. */
export interface MultiStepLROptions {
  /** Steps at which the rate is multiplied by `gamma` (increasing). */
  milestones: readonly number[];
  /** Multiplicative factor (default 0.1). */
  gamma?: number;
}

/** Decays the learning rate by `gamma` at each milestone: `lr = base·γ^(milestones ≤ t)` (PyTorch's MultiStepLR). */
export class MultiStepLR extends LRScheduler {
  /** The milestones, in steps. */
  readonly milestones: readonly number[];
  /** Decay factor. */
  readonly gamma: number;

  /** Attaches the schedule to `optimizer` and applies the step-0 learning rate. */
  constructor(optimizer: Optimizer<BaseHyper>, opts: MultiStepLROptions) {
    super(optimizer);
    const m = [...opts.milestones];
    if (m.some((v, i) => !Number.isInteger(v) || v < 0 || (i > 0 && v <= m[i - 1]))) {
      throw new RangeError(`MultiStepLR: milestones must be increasing integers >= 0, got [${m.join(", ")}]`);
    }
    this.milestones = m;
    this.gamma = opts.gamma ?? 0.1;
    this.initialStep();
  }

  /** `base·γ^k`, k = milestones passed by `step`. */
  lrAt(step: number, group = 0): number {
    return this.base(group) * this.gamma ** this.milestones.filter((m) => m <= step).length;
  }
}

/** Options of `CosineAnnealingLR`. */
export interface CosineAnnealingLROptions {
  /** Half-period in steps. */
  tMax: number;
  /** Minimum learning rate (default 0). */
  etaMin?: number;
}

/** Cosine annealing: `lr = ηmin + (base − ηmin)(1 + cos(π t / tMax))/2` (periodic past tMax, as PyTorch). */
export class CosineAnnealingLR extends LRScheduler {
  /** Half-period. */
  readonly tMax: number;
  /** Minimum learning rate. */
  readonly etaMin: number;

  /** Attaches the schedule to `optimizer` and applies the step-0 learning rate. */
  constructor(optimizer: Optimizer<BaseHyper>, opts: CosineAnnealingLROptions) {
    super(optimizer);
    positiveInt("CosineAnnealingLR", "tMax", opts.tMax);
    this.tMax = opts.tMax;
    this.etaMin = opts.etaMin ?? 0;
    this.initialStep();
  }

  /** Closed form of the schedule. */
  lrAt(step: number, group = 0): number {
    return this.etaMin + (this.base(group) - this.etaMin) * (1 + Math.cos(Math.PI * step / this.tMax)) / 2;
  }
}

/** Options of `CosineAnnealingWarmRestarts`. */
export interface CosineAnnealingWarmRestartsOptions {
  /** Length of the first cycle in steps. */
  t0: number;
  /** Factor by which each cycle is longer than the previous (integer ≥ 1, default 1). */
  tMult?: number;
  /** Minimum learning rate (default 0). */
  etaMin?: number;
}

/** SGDR: cosine annealing restarted every cycle; cycle i lasts `t0·tMult^i` steps. */
export class CosineAnnealingWarmRestarts extends LRScheduler {
  /** First cycle length. */
  readonly t0: number;
  /** Cycle growth factor. */
  readonly tMult: number;
  /** Minimum learning rate. */
  readonly etaMin: number;

  /** Attaches the schedule to `optimizer` and applies the step-0 learning rate. */
  constructor(optimizer: Optimizer<BaseHyper>, opts: CosineAnnealingWarmRestartsOptions) {
    super(optimizer);
    positiveInt("CosineAnnealingWarmRestarts", "t0", opts.t0);
    positiveInt("CosineAnnealingWarmRestarts", "tMult", opts.tMult ?? 1);
    this.t0 = opts.t0;
    this.tMult = opts.tMult ?? 1;
    this.etaMin = opts.etaMin ?? 0;
    this.initialStep();
  }

  /** `ηmin + (base − ηmin)(1 + cos(π tCur / tI))/2` with tCur the position in the current cycle. */
  lrAt(step: number, group = 0): number {
    let tCur = this.tMult === 1 ? step % this.t0 : step;
    let tI = this.t0;
    while (tCur >= tI) {
      tCur -= tI;
      tI *= this.tMult;
    }
    return this.etaMin + (this.base(group) - this.etaMin) * (1 + Math.cos(Math.PI * tCur / tI)) / 2;
  }
}

/** Options of `OneCycleLR`. */
export interface OneCycleLROptions {
  /** Peak learning rate (one number, or one per group). */
  maxLr: number | number[];
  /** Total number of steps of the cycle. */
  totalSteps: number;
  /** Fraction of the cycle spent increasing the learning rate (default 0.3). */
  pctStart?: number;
  /** `"cos"` (default) or `"linear"` annealing. */
  annealStrategy?: "cos" | "linear";
  /** Initial lr = maxLr / divFactor (default 25). */
  divFactor?: number;
  /** Final lr = initial lr / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  /** Go back down to the initial lr before annealing to the final one (default false). */
  threePhase?: boolean;
  /** Cycle momentum (SGD's `momentum` or Adam's `betas[0]`) inversely to lr (default true). */
  cycleMomentum?: boolean;
  /** Lowest momentum (default 0.85). */
  baseMomentum?: number;
  /** Highest momentum (default 0.95). */
  maxMomentum?: number;
}

interface Phase {
  endStep: number;
  startLr: "initial" | "max" | "min";
  endLr: "initial" | "max" | "min";
  startM: "base" | "max";
  endM: "base" | "max";
}

/** The 1cycle policy (torch.optim.lr_scheduler.OneCycleLR), learning rate and optional momentum. */
export class OneCycleLR extends LRScheduler {
  /** Total steps. */
  readonly totalSteps: number;
  /** Annealing function. */
  readonly annealStrategy: "cos" | "linear";
  /** Whether momentum is cycled. */
  readonly cycleMomentum: boolean;
  /** Lowest momentum. */
  readonly baseMomentum: number;
  /** Highest momentum. */
  readonly maxMomentum: number;
  /** Per-group initial, peak and final learning rates. */
  readonly lrs: { initial: number; max: number; min: number }[];
  #phases: Phase[];

  /** Attaches the schedule to `optimizer` and applies the step-0 learning rate. */
  constructor(optimizer: Optimizer<BaseHyper>, opts: OneCycleLROptions) {
    super(optimizer);
    positiveInt("OneCycleLR", "totalSteps", opts.totalSteps);
    const pct = opts.pctStart ?? 0.3;
    if (!(pct >= 0 && pct <= 1)) throw new RangeError(`OneCycleLR: pctStart must be in [0, 1], got ${pct}`);
    const strategy = opts.annealStrategy ?? "cos";
    if (strategy !== "cos" && strategy !== "linear") {
      throw new RangeError(`OneCycleLR: annealStrategy must be "cos" or "linear", got ${strategy}`);
    }
    this.totalSteps = opts.totalSteps;
    this.annealStrategy = strategy;
    const groups = optimizer.paramGroups;
    const maxLrs = Array.isArray(opts.maxLr) ? opts.maxLr : groups.map(() => opts.maxLr as number);
    if (maxLrs.length !== groups.length) {
      throw new RangeError(`OneCycleLR: expected ${groups.length} values for maxLr, got ${maxLrs.length}`);
    }
    const div = opts.divFactor ?? 25, finalDiv = opts.finalDivFactor ?? 1e4;
    this.lrs = maxLrs.map((m) => ({ initial: m / div, max: m, min: m / div / finalDiv }));
    this.lrs.forEach((l, i) => (groups[i].initialLr = l.initial));
    this.baseLrs = this.lrs.map((l) => l.initial);
    const t = this.totalSteps;
    this.#phases = opts.threePhase
      ? [
        { endStep: pct * t - 1, startLr: "initial", endLr: "max", startM: "max", endM: "base" },
        { endStep: 2 * pct * t - 2, startLr: "max", endLr: "initial", startM: "base", endM: "max" },
        { endStep: t - 1, startLr: "initial", endLr: "min", startM: "max", endM: "max" },
      ]
      : [
        { endStep: pct * t - 1, startLr: "initial", endLr: "max", startM: "max", endM: "base" },
        { endStep: t - 1, startLr: "max", endLr: "min", startM: "base", endM: "max" },
      ];
    this.cycleMomentum = opts.cycleMomentum ?? true;
    this.baseMomentum = opts.baseMomentum ?? 0.85;
    this.maxMomentum = opts.maxMomentum ?? 0.95;
    if (this.cycleMomentum) {
      for (const g of groups as unknown as Record<string, unknown>[]) {
        if (!("momentum" in g) && !("betas" in g)) {
          throw new TypeError("OneCycleLR: optimizer has no 'momentum' or 'betas'; pass cycleMomentum: false");
        }
      }
    }
    this.initialStep();
  }

  #anneal(start: number, end: number, pct: number): number {
    return this.annealStrategy === "cos"
      ? end + (start - end) / 2 * (Math.cos(Math.PI * pct) + 1)
      : (end - start) * pct + start;
  }

  #locate(step: number): { phase: Phase; pct: number } {
    if (step > this.totalSteps) {
      throw new RangeError(`OneCycleLR: tried to step ${step} times; the total number of steps is ${this.totalSteps}`);
    }
    let start = 0;
    for (let i = 0; i < this.#phases.length; i++) {
      const phase = this.#phases[i];
      if (step <= phase.endStep || i === this.#phases.length - 1) {
        return { phase, pct: (step - start) / (phase.endStep - start) };
      }
      start = phase.endStep;
    }
    throw new Error("internal: OneCycleLR has no phases");
  }

  /** The learning rate at `step` (PyTorch's phase formulas). */
  lrAt(step: number, group = 0): number {
    this.base(group);
    const { phase, pct } = this.#locate(step);
    const l = this.lrs[group];
    return this.#anneal(l[phase.startLr], l[phase.endLr], pct);
  }

  /** The cycled momentum at `step`. */
  momentumAt(step: number): number {
    const { phase, pct } = this.#locate(step);
    const m = { base: this.baseMomentum, max: this.maxMomentum };
    return this.#anneal(m[phase.startM], m[phase.endM], pct);
  }

  /** Writes the cycled momentum into every group. */
  protected override applyExtra(step: number): void {
    if (!this.cycleMomentum) return;
    const m = this.momentumAt(step);
    for (const g of this.optimizer.paramGroups as unknown as Record<string, unknown>[]) {
      if (Array.isArray(g.betas)) g.betas = [m, g.betas[1]];
      else g.momentum = m;
    }
  }
}

/** Options of `LinearWarmupCosine`. */
export interface LinearWarmupCosineOptions {
  /** Steps of linear warmup from 0 to the base lr. */
  warmupSteps: number;
  /** Total steps; after the warmup the lr follows a half cosine down to `minLr` at `totalSteps`. */
  totalSteps: number;
  /** Final learning rate (default 0). */
  minLr?: number;
}

/**
 * Linear warmup then cosine decay (the usual diffusion-training schedule, as diffusers'
 * `get_cosine_schedule_with_warmup` with a floor):
 * `lr(t) = base·t/warmupSteps` for `t < warmupSteps`, then with
 * `p = min(1, (t − warmupSteps)/max(1, totalSteps − warmupSteps))`:
 * `lr(t) = minLr + (base − minLr)·(1 + cos(π p))/2` (constant `minLr` after `totalSteps`).
 */
export class LinearWarmupCosine extends LRScheduler {
  /** Warmup length. */
  readonly warmupSteps: number;
  /** Total steps. */
  readonly totalSteps: number;
  /** Final learning rate. */
  readonly minLr: number;

  /** Attaches the schedule to `optimizer` and applies the step-0 learning rate. */
  constructor(optimizer: Optimizer<BaseHyper>, opts: LinearWarmupCosineOptions) {
    super(optimizer);
    if (!Number.isInteger(opts.warmupSteps) || opts.warmupSteps < 0) {
      throw new RangeError(`LinearWarmupCosine: warmupSteps must be an integer >= 0, got ${opts.warmupSteps}`);
    }
    positiveInt("LinearWarmupCosine", "totalSteps", opts.totalSteps);
    this.warmupSteps = opts.warmupSteps;
    this.totalSteps = opts.totalSteps;
    this.minLr = opts.minLr ?? 0;
    this.initialStep();
  }

  /** The schedule's closed form. */
  lrAt(step: number, group = 0): number {
    const base = this.base(group);
    if (step < this.warmupSteps) return base * step / this.warmupSteps;
    const p = Math.min(1, (step - this.warmupSteps) / Math.max(1, this.totalSteps - this.warmupSteps));
    return this.minLr + (base - this.minLr) * (1 + Math.cos(Math.PI * p)) / 2;
  }
}
