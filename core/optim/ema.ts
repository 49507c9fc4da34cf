/**
 * Exponential moving average of weights (PyTorch-EMA / timm style), with shadow copies on the
 * GPU updated by one fused kernel per tensor.
 */
import { copyBuffer } from "../device.ts";
import { noGrad } from "../autograd.ts";
import { keep } from "../scope.ts";
import { fmtShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { clone } from "../ops/elementwise.ts";
import { emaKernel } from "../kernels/optim.ts";
import { UpdateBatch } from "./optimizer.ts";

const KERNEL = emaKernel();

/** Named tensors: a Map, a record, or [name, tensor] pairs. */
export type NamedTensors = Map<string, Tensor> | Record<string, Tensor> | Iterable<[string, Tensor]>;

/** What `EMA` tracks: tensors (named "0", "1", …) or a getter of named tensors, called on each use. */
export type EMASource = Iterable<Tensor> | (() => NamedTensors);

/** Options of `EMA`. */
export interface EMAOptions {
  /** Decay of the average (default 0.9999). */
  decay?: number;
  /** Use `min(decay, (1 + t) / (10 + t))` at the t-th EMA update (t from 1); default false. */
  warmup?: boolean;
  /** Average only every `updateEvery`-th step (default 1). */
  updateEvery?: number;
  /** Before this step the shadow copies the weights instead of averaging (default 0). */
  startStep?: number;
}

/** The JSON-able part of an EMA plus its shadow tensors. */
export interface EMAStateDict {
  /** Decay. */
  decay: number;
  /** Warmup on or off. */
  warmup: boolean;
  /** Update period. */
  updateEvery: number;
  /** First averaging step. */
  startStep: number;
  /** Last step seen by `update`. */
  step: number;
  /** Number of averaging updates done (the warmup's t). */
  numUpdates: number;
  /** Shadow tensors by name (the live buffers, not copies). */
  shadow: Record<string, Tensor>;
}

function toEntries(named: NamedTensors): [string, Tensor][] {
  if (named instanceof Map) return [...named.entries()];
  if (Symbol.iterator in (named as object)) return [...(named as Iterable<[string, Tensor]>)];
  return Object.entries(named as Record<string, Tensor>);
}

function copyInto(dst: Tensor, src: Tensor, what: string): void {
  if (dst.size !== src.size || dst.dtype !== src.dtype) {
    throw new RangeError(
      `EMA: cannot copy ${what}: shape ${fmtShape(src.shape)} (${src.dtype}) into ${
        fmtShape(dst.shape)
      } (${dst.dtype})`,
    );
  }
  if (!dst.isContiguous || !src.isContiguous) throw new TypeError(`EMA: ${what} must be a dense (contiguous) tensor`);
  copyBuffer(src.storage.buffer, src.offset * 4, dst.storage.buffer, dst.offset * 4, src.size * 4);
}

/**
 * Exponential moving average of parameters: after `update(step)`, each float32 shadow tensor
 * holds `d·shadow + (1 − d)·param` (other dtypes are copied). Semantics of a call:
 * `step` defaults to the last step + 1; for `step < startStep` the shadow is set to the weights;
 * otherwise it averages when `(step − startStep) % updateEvery == 0`, with
 * `d = min(decay, (1 + t)/(10 + t))` when `warmup` is on (t = number of averaging updates so far,
 * this one included) and `d = decay` otherwise.
 *
 * @example
 * ```ts
 * const ema = new EMA(params, { decay: 0.999, warmup: true });
 * // after each optimizer step:
 * ema.update();
 * // evaluate with the averaged weights:
 * ema.store(); ema.copyTo(); evaluate(); ema.restore();
 * ```
 */
export class EMA {
  /** Decay of the average. */
  decay: number;
  /** Whether the decay warms up. */
  warmup: boolean;
  /** Update period in steps. */
  updateEvery: number;
  /** First averaging step. */
  startStep: number;
  /** Last step passed to (or counted by) `update`. */
  step: number = 0;
  /** Number of averaging updates done. */
  numUpdates: number = 0;
  /** Shadow tensors by name. */
  readonly shadow: Map<string, Tensor> = new Map();
  #source: () => [string, Tensor][];
  #stored: Map<string, Tensor> | null = null;

  /** Starts shadows as copies of the tensors of `source`. */
  constructor(source: EMASource, opts: EMAOptions = {}) {
    if (typeof source === "function") {
      this.#source = () => toEntries(source());
    } else {
      const list = [...source];
      this.#source = () => list.map((t, i) => [String(i), t]);
    }
    this.decay = opts.decay ?? 0.9999;
    this.warmup = opts.warmup ?? false;
    this.updateEvery = opts.updateEvery ?? 1;
    this.startStep = opts.startStep ?? 0;
    if (!(this.decay >= 0 && this.decay <= 1)) throw new RangeError(`EMA: decay must be in [0, 1], got ${this.decay}`);
    if (!Number.isInteger(this.updateEvery) || this.updateEvery < 1) {
      throw new RangeError(`EMA: updateEvery must be an integer >= 1, got ${this.updateEvery}`);
    }
    for (const [name, t] of this.#source()) this.shadow.set(name, this.#newShadow(name, t));
  }

  #newShadow(name: string, t: Tensor): Tensor {
    if (!(t instanceof Tensor)) throw new TypeError(`EMA: '${name}' is not a Tensor`);
    t.assertLive("EMA");
    if (!t.isContiguous) throw new TypeError(`EMA: '${name}' of shape ${fmtShape(t.shape)} is not contiguous`);
    return keep(noGrad(() => clone(t)));
  }

  #entries(params?: EMASource): [string, Tensor][] {
    if (params === undefined) return this.#source();
    if (typeof params === "function") return toEntries(params());
    return [...params].map((t, i) => [String(i), t]);
  }

  #shadowOf(name: string): Tensor {
    const s = this.shadow.get(name);
    if (!s) throw new RangeError(`EMA: no shadow for '${name}' (the EMA tracks ${[...this.shadow.keys()].join(", ")})`);
    return s;
  }

  /** The decay used at the `t`-th averaging update. */
  decayAt(t: number): number {
    return this.warmup ? Math.min(this.decay, (1 + t) / (10 + t)) : this.decay;
  }

  /** Folds the current weights into the average (see the class doc for `step`). */
  update(step?: number): void {
    const s = step ?? this.step + 1;
    this.step = s;
    const entries = this.#source();
    if (s < this.startStep) {
      for (const [name, t] of entries) copyInto(this.#shadowOf(name), t, `'${name}'`);
      return;
    }
    if ((s - this.startStep) % this.updateEvery !== 0) return;
    this.numUpdates++;
    const d = this.decayAt(this.numUpdates);
    const updates = new UpdateBatch();
    for (const [name, t] of entries) {
      const sh = this.#shadowOf(name);
      if (sh.size !== t.size || !t.isContiguous) {
        throw new RangeError(`EMA: '${name}' has shape ${fmtShape(t.shape)}, its shadow ${fmtShape(sh.shape)}`);
      }
      if (t.dtype === "float32") updates.add("ema_update", KERNEL, [sh, t], [d, 1 - d]);
      else copyInto(sh, t, `'${name}'`);
    }
    updates.flush();
  }

  /** Copies the averaged weights into `params` (default: the tracked tensors), in place. */
  copyTo(params?: EMASource): void {
    for (const [name, t] of this.#entries(params)) copyInto(t, this.#shadowOf(name), `the shadow of '${name}'`);
  }

  /** Saves copies of `params` (default: the tracked tensors) for a later `restore`. */
  store(params?: EMASource): void {
    this.#disposeStored();
    this.#stored = new Map(this.#entries(params).map(([name, t]) => [name, keep(noGrad(() => clone(t)))]));
  }

  /** Copies the weights saved by `store` back into `params` (default: the tracked tensors). */
  restore(params?: EMASource): void {
    if (!this.#stored) throw new Error("EMA.restore: nothing stored; call store() first");
    for (const [name, t] of this.#entries(params)) {
      const saved = this.#stored.get(name);
      if (!saved) throw new RangeError(`EMA.restore: nothing stored for '${name}'`);
      copyInto(t, saved, `the stored '${name}'`);
    }
    this.#disposeStored();
  }

  #disposeStored(): void {
    if (this.#stored) { for (const t of this.#stored.values()) t.dispose(); }
    this.#stored = null;
  }

  /** Hyper-parameters, counters and the shadow tensors (live buffers). */
  stateDict(): EMAStateDict {
    return {
      decay: this.decay,
      warmup: this.warmup,
      updateEvery: this.updateEvery,
      startStep: this.startStep,
      step: this.step,
      numUpdates: this.numUpdates,
      shadow: Object.fromEntries(this.shadow),
    };
  }

  /** Loads `stateDict()` output (shadow tensors are copied into the existing shadows). */
  loadStateDict(sd: EMAStateDict): void {
    for (const name of this.shadow.keys()) {
      if (!(sd.shadow?.[name] instanceof Tensor)) throw new RangeError(`EMA.loadStateDict: missing shadow '${name}'`);
    }
    for (const [name, t] of Object.entries(sd.shadow)) copyInto(this.#shadowOf(name), t, `shadow '${name}'`);
    this.decay = sd.decay;
    this.warmup = sd.warmup;
    this.updateEvery = sd.updateEvery;
    this.startStep = sd.startStep;
    this.step = sd.step;
    this.numUpdates = sd.numUpdates;
  }

  /** Frees the shadow (and stored) tensors. */
  dispose(): void {
    for (const t of this.shadow.values()) t.dispose();
    this.shadow.clear();
    this.#disposeStored();
  }
}
