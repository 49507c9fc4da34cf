/** Pieces of the training loop: the per-epoch progress bar and the interrupt (Ctrl-C / SIGTERM) watch. */
import type { Logger } from "./logger.ts";
import { ProgressBar } from "./progress.ts";
import { type InterruptController, type InterruptSignal, sharedInterrupts } from "./signals.ts";

/** A progress bar for one epoch that the log prints above (a silent one when `quiet`). */
export function epochBar(
  log: Logger,
  o: { total: number; batchSize: number; epoch: number; epochs: number; quiet?: boolean },
): ProgressBar {
  const bar = new ProgressBar({
    total: o.total,
    label: "train",
    itemsPerStep: o.batchSize,
    epoch: o.epoch,
    epochs: o.epochs,
    ...(o.quiet ? { writer: { write: () => {} } } : {}),
  });
  if (!o.quiet) {
    consoleBefore.set(bar, log.console);
    log.console = bar;
  }
  return bar;
}

/** The log's console sink before a bar took it over (a log with no console keeps none). */
const consoleBefore = new WeakMap<ProgressBar, Logger["console"]>();

/** Ends an epoch's bar and gives the console back to the log. */
export function endEpochBar(log: Logger, bar: ProgressBar): void {
  bar.finish();
  if (log.console === bar) log.console = consoleBefore.get(bar);
}

/** Whether an interrupt asked the loop to stop (at the next step boundary); `dispose()` unregisters. */
export interface StopWatch {
  /** True once Ctrl-C or SIGTERM arrived while watching. */
  readonly stopped: boolean;
  /** The signal that stopped the loop (SIGINT when it is not known), or null. */
  readonly signal: InterruptSignal | null;
  /** Stops watching. */
  dispose(): void;
}

/** Watches `interrupts` (default: the process's SIGINT) without exiting: the loop saves and returns. */
export function watchInterrupts(interrupts: InterruptController = sharedInterrupts()): StopWatch {
  let stopped = false;
  const handler = () => {
    stopped = true;
  };
  interrupts.add(handler, { exit: false });
  return {
    get stopped() {
      return stopped || interrupts.requested;
    },
    get signal() {
      return interrupts.signal ?? (stopped || interrupts.requested ? "SIGINT" : null);
    },
    dispose: () => void interrupts.remove(handler),
  };
}
