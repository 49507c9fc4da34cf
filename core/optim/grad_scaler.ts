/**
 * Dynamic loss scaling (PyTorch's `GradScaler`): multiply the loss by a scale before
 * `backward()`, divide the gradients by it before the optimizer step, skip steps whose
 * gradients overflowed and adapt the scale. It keeps small f16 gradients from flushing to
 * zero; in float32 it costs one readback per step, which is why it is opt-in.
 */
import { noGrad } from "../autograd.ts";
import { keep } from "../scope.ts";
import type { Tensor } from "../tensor.ts";
import { abs, add, cast, eq, identity, mul, ne } from "../ops/elementwise.ts";
import { sum } from "../ops/reduce.ts";
import type { BaseHyper, Optimizer } from "./optimizer.ts";

/** Options of `GradScaler` (PyTorch's defaults). */
export interface GradScalerOptions {
  /** Starting scale (default 2¹⁶). */
  initScale?: number;
  /** Factor applied after `growthInterval` steps without overflow (default 2). */
  growthFactor?: number;
  /** Factor applied after an overflow (default 0.5). */
  backoffFactor?: number;
  /** Clean steps between growths (default 2000). */
  growthInterval?: number;
  /** When false every method is a pass-through (default true). */
  enabled?: boolean;
}

/** Serializable state of a `GradScaler`. */
export interface GradScalerState {
  /** Current scale. */
  scale: number;
  /** Clean steps since the last growth or backoff. */
  growthTracker: number;
}

/** Loss scaling with overflow detection on the GPU. */
export class GradScaler {
  #scale: number;
  #tracker = 0;
  #found: Tensor | null = null;
  #unscaled = new Set<Optimizer<BaseHyper>>();
  #stepped = false;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  readonly enabled: boolean;

  constructor(opts: GradScalerOptions = {}) {
    const { initScale = 2 ** 16, growthFactor = 2, backoffFactor = 0.5, growthInterval = 2000, enabled = true } = opts;
    if (!(initScale > 0) || !Number.isFinite(initScale)) throw new RangeError(`GradScaler: initScale must be > 0`);
    if (!(growthFactor > 1)) throw new RangeError(`GradScaler: growthFactor must be > 1, got ${growthFactor}`);
    if (!(backoffFactor > 0 && backoffFactor < 1)) {
      throw new RangeError(`GradScaler: backoffFactor must be in (0, 1), got ${backoffFactor}`);
    }
    if (!Number.isInteger(growthInterval) || growthInterval < 1) {
      throw new RangeError(`GradScaler: growthInterval must be a positive integer, got ${growthInterval}`);
    }
    this.#scale = initScale;
    this.growthFactor = growthFactor;
    this.backoffFactor = backoffFactor;
    this.growthInterval = growthInterval;
    this.enabled = enabled;
  }

  /** The current scale. */
  getScale(): number {
    return this.#scale;
  }

  /** `loss × scale` (a new tensor; call `backward()` on it). */
  scale(loss: Tensor): Tensor {
    return this.enabled ? mul(loss, this.#scale) : identity(loss);
  }

  /** Divides the optimizer's gradients by the scale in place of `.grad` and records overflow. */
  unscale_(optimizer: Optimizer<BaseHyper>): void {
    if (!this.enabled) return;
    if (this.#unscaled.has(optimizer)) {
      throw new Error("GradScaler.unscale_: already called for this optimizer since the last update()");
    }
    this.#unscaled.add(optimizer);
    const inv = 1 / this.#scale;
    noGrad(() => {
      for (const group of optimizer.paramGroups) {
        for (const p of group.params) {
          const g = p.grad;
          if (!g) continue;
          const scaled = keep(mul(g, inv));
          // Non-finite entries: NaN ≠ NaN, and |±∞| == ∞.
          const magnitude = abs(scaled);
          const nan = ne(scaled, scaled), inf = eq(magnitude, Infinity);
          const nanF = cast(nan, "float32"), infF = cast(inf, "float32");
          const both = add(nanF, infF);
          const bad = sum(both);
          const total = this.#found ? keep(add(this.#found, bad)) : keep(bad.alias());
          this.#found?.dispose();
          this.#found = total;
          for (const t of [magnitude, nan, inf, nanF, infF, both, bad]) t.dispose();
          g.dispose();
          p.grad = scaled;
        }
      }
    });
  }

  /**
   * Unscales (if not done yet) and runs `optimizer.step()` unless a gradient overflowed.
   * Resolves to whether the step ran. Reads one number back from the GPU.
   */
  async step(optimizer: Optimizer<BaseHyper>): Promise<boolean> {
    if (!this.enabled) {
      optimizer.step();
      return true;
    }
    if (!this.#unscaled.has(optimizer)) this.unscale_(optimizer);
    const overflow = this.#found ? (await this.#found.item()) > 0 : false;
    this.#stepped = true;
    if (!overflow) optimizer.step();
    return !overflow;
  }

  /** Adapts the scale after the step(s) of this iteration: back off on overflow, grow after a clean run. */
  async update(newScale?: number): Promise<void> {
    if (!this.enabled) return;
    const overflow = this.#found ? (await this.#found.item()) > 0 : false;
    this.#found?.dispose();
    this.#found = null;
    this.#unscaled.clear();
    if (newScale !== undefined) {
      if (!(newScale > 0)) throw new RangeError(`GradScaler.update: newScale must be > 0, got ${newScale}`);
      this.#scale = newScale;
      this.#tracker = 0;
    } else if (overflow) {
      this.#scale *= this.backoffFactor;
      this.#tracker = 0;
    } else if (this.#stepped && ++this.#tracker >= this.growthInterval) {
      this.#scale *= this.growthFactor;
      this.#tracker = 0;
    }
    this.#stepped = false;
  }

  /** State for checkpoints. */
  stateDict(): GradScalerState {
    return { scale: this.#scale, growthTracker: this.#tracker };
  }

  /** Restores `stateDict()`. */
  loadStateDict(s: GradScalerState): void {
    if (!(s.scale > 0) || !Number.isInteger(s.growthTracker) || s.growthTracker < 0) {
      throw new RangeError(`GradScaler.loadStateDict: bad state ${JSON.stringify(s)}`);
    }
    this.#scale = s.scale;
    this.#tracker = s.growthTracker;
  }
}
