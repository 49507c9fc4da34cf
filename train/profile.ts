/**
 * Where a training epoch's time goes, by phase (data, forward + backward, optimizer, log
 * read-back, progress bar, validation, checkpoint), for `MEDDIFF_PROFILE=1` runs.
 *
 * GPU work is queued, not run, when an op returns, so a phase's time only means something if
 * the GPU has finished that phase's work before the next one starts: a profiling run waits for
 * the GPU at every phase boundary (`synchronize`, ≈ 11 ms on llvmpipe, a few per step). A run
 * without profiling takes none of these waits; its throughput is the figure to quote, the
 * profile's split the one to read.
 * @module
 */
import { dispatchCounters, synchronize } from "../core/device.ts";
import { envFlag } from "../core/env.ts";

/** The phases of a training loop, in the order they are reported. */
export const PHASES = [
  "data",
  "forward+backward",
  "optimizer",
  "log read-back",
  "progress bar",
  "validation",
  "checkpoint",
] as const;

/** One phase of {@linkcode PHASES}. */
export type Phase = typeof PHASES[number];

/** One epoch's profile: milliseconds per phase, steps and dispatches. */
export interface EpochProfile {
  /** Epoch (1-based). */
  epoch: number;
  /** Optimizer steps in the epoch. */
  steps: number;
  /** Images trained on. */
  images: number;
  /** Wall time of the epoch, ms (the phases sum to it, up to the loop's own bookkeeping). */
  totalMs: number;
  /** Milliseconds per phase. */
  ms: Record<Phase, number>;
  /** GPU dispatches issued during the epoch. */
  dispatches: number;
}

/** Whether `MEDDIFF_PROFILE` asks for a phase profile. */
export function profileRequested(): boolean {
  const v = envFlag("MEDDIFF_PROFILE");
  return v !== undefined && /^(1|true|on|yes)$/i.test(v.trim());
}

/**
 * Times the phases of one epoch at a time. Disabled, every call is a no-op (no waits).
 * `lap(phase)` charges the time since the previous lap to `phase`, after the GPU is idle.
 */
export class PhaseProfiler {
  readonly enabled: boolean;
  #last = 0;
  #start = 0;
  #dispatches = 0;
  #ms = emptyPhases();

  constructor(enabled: boolean) {
    this.enabled = enabled;
  }

  /** Starts an epoch (after waiting for the GPU). */
  async begin(): Promise<void> {
    if (!this.enabled) return;
    await synchronize();
    this.#ms = emptyPhases();
    this.#start = this.#last = performance.now();
    this.#dispatches = dispatchCounters().dispatches;
  }

  /** Charges the time since the last lap (GPU work included) to `phase`. */
  async lap(phase: Phase): Promise<void> {
    if (!this.enabled) return;
    await synchronize();
    const now = performance.now();
    this.#ms[phase] += now - this.#last;
    this.#last = now;
  }

  /** Ends the epoch and returns its profile (null when disabled). */
  end(epoch: number, steps: number, images: number): EpochProfile | null {
    if (!this.enabled) return null;
    return {
      epoch,
      steps,
      images,
      totalMs: this.#last - this.#start,
      ms: { ...this.#ms },
      dispatches: dispatchCounters().dispatches - this.#dispatches,
    };
  }
}

function emptyPhases(): Record<Phase, number> {
  return Object.fromEntries(PHASES.map((p) => [p, 0])) as Record<Phase, number>;
}

/** A profile as markdown table lines: phase, seconds, share of the epoch, ms per step. */
export function profileTable(p: EpochProfile): string[] {
  const perStep = (ms: number) => (p.steps > 0 ? (ms / p.steps).toFixed(0) : "—");
  const lines = [
    `epoch ${p.epoch}: ${p.steps} steps, ${p.images} images in ${(p.totalMs / 1000).toFixed(1)} s ` +
    `(${(p.images / Math.max(p.totalMs / 1000, 1e-9)).toFixed(2)} images/s with profiling waits), ` +
    `${Math.round(p.dispatches / Math.max(p.steps, 1))} dispatches per step`,
    "| phase | s | share | ms per step |",
    "|---|---|---|---|",
  ];
  for (const phase of PHASES) {
    const ms = p.ms[phase];
    lines.push(
      `| ${phase} | ${(ms / 1000).toFixed(2)} | ${(100 * ms / Math.max(p.totalMs, 1e-9)).toFixed(1)} % | ${
        perStep(ms)
      } |`,
    );
  }
  return lines;
}
