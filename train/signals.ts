/**
 * Ctrl-C and SIGTERM handling for long tasks: the first interrupt — Ctrl-C (SIGINT), or SIGTERM
 * as Slurm, `timeout` and `kill` send — runs the registered handlers (save a checkpoint, close
 * files) and then exits with code 130 (SIGINT) or 143 (SIGTERM), so that schedulers see the run
 * did not finish; a second interrupt exits at once.
 *
 * Two ways to use it:
 * - `onInterrupt(async () => { await saveCheckpoint(…); })`: the handler does the work and the
 *   process exits after it (the loop is not waited for).
 * - `onInterrupt(() => {}, { exit: false })` and, in the loop, `if (interruptRequested()) { save;
 *   break; }`: the loop stops at a step boundary and the task ends normally.
 *
 * @module
 */

/** A function run on the first Ctrl-C. */
export type InterruptHandler = () => void | Promise<void>;

/** Options of {@linkcode onInterrupt}. */
export interface InterruptOptions {
  /** Exit with code 130 once every handler has run (default true). With false, the task ends itself. */
  exit?: boolean;
}

/** The signals that interrupt a task. */
export type InterruptSignal = "SIGINT" | "SIGTERM";

/** What {@linkcode InterruptController} needs from the runtime; tests pass a fake one. */
export interface SignalHost {
  /** Starts delivering SIGINT and SIGTERM to `listener` (called without a signal, SIGINT is meant). */
  addListener(listener: (signal?: InterruptSignal) => void): void;
  /** Stops delivering the signals to `listener`. */
  removeListener(listener: (signal?: InterruptSignal) => void): void;
  /** Ends the process with `code`. */
  exit(code: number): void;
  /** Prints a message for the user. */
  message(text: string): void;
}

const INTERRUPT_SIGNALS: readonly InterruptSignal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
const denoListeners = new Map<(signal?: InterruptSignal) => void, (() => void)[]>();

/** The Deno runtime as a {@linkcode SignalHost}: SIGINT/SIGTERM listeners, Deno.exit, messages on stderr. */
export const denoSignalHost: SignalHost = {
  addListener: (listener) => {
    const bound = INTERRUPT_SIGNALS.map((signal) => {
      const f = () => listener(signal);
      Deno.addSignalListener(signal, f);
      return f;
    });
    denoListeners.set(listener, bound);
  },
  removeListener: (listener) => {
    const bound = denoListeners.get(listener) ?? [];
    INTERRUPT_SIGNALS.forEach((signal, i) => bound[i] && Deno.removeSignalListener(signal, bound[i]));
    denoListeners.delete(listener);
  },
  exit: (code) => Deno.exit(code),
  message: (text) => console.error(text),
};

/** Exit code after a Ctrl-C (128 + SIGINT), as shells report it. */
export const INTERRUPT_EXIT_CODE = 130;

/** Exit code after SIGTERM (128 + 15), as shells and Slurm report it. */
export const TERMINATE_EXIT_CODE = 143;

/** The exit code a task ends with after `signal`: 130 for SIGINT, 143 for SIGTERM. */
export function exitCodeFor(signal: InterruptSignal): number {
  return signal === "SIGTERM" ? TERMINATE_EXIT_CODE : INTERRUPT_EXIT_CODE;
}

/**
 * Keeps the interrupt handlers and the SIGINT listener. The SIGINT listener is installed while
 * at least one handler is registered, so without handlers Ctrl-C behaves as usual. The module
 * functions use one shared instance.
 */
export class InterruptController {
  readonly #host: SignalHost;
  readonly #handlers: { handler: InterruptHandler; exit: boolean }[] = [];
  #installed = false;
  #requested = false;
  #signal: InterruptSignal | null = null;
  #running = false;
  readonly #listener = (signal?: InterruptSignal): void => void this.#onSignal(signal ?? "SIGINT");

  /** A controller using `host` (default: the Deno runtime). */
  constructor(host: SignalHost = denoSignalHost) {
    this.#host = host;
  }

  /** Whether Ctrl-C (or SIGTERM) arrived since the controller was made (or reset). */
  get requested(): boolean {
    return this.#requested;
  }

  /** The first interrupt's signal since the controller was made (or reset), or null. */
  get signal(): InterruptSignal | null {
    return this.#signal;
  }

  /** Number of registered handlers. */
  get size(): number {
    return this.#handlers.length;
  }

  /** Registers `handler` (run in reverse order of registration, each awaited). */
  add(handler: InterruptHandler, opts: InterruptOptions = {}): void {
    if (typeof handler !== "function") throw new TypeError("onInterrupt: handler must be a function");
    this.#handlers.push({ handler, exit: opts.exit ?? true });
    if (!this.#installed) {
      this.#host.addListener(this.#listener);
      this.#installed = true;
    }
  }

  /** Unregisters `handler`; returns whether it was registered. Removes the SIGINT listener after the last one. */
  remove(handler: InterruptHandler): boolean {
    const i = this.#handlers.findLastIndex((h) => h.handler === handler);
    if (i < 0) return false;
    this.#handlers.splice(i, 1);
    if (this.#handlers.length === 0 && this.#installed && !this.#running) {
      this.#host.removeListener(this.#listener);
      this.#installed = false;
    }
    return true;
  }

  /** Forgets the interrupt request (`requested` becomes false again). */
  reset(): void {
    this.#requested = false;
    this.#signal = null;
  }

  async #onSignal(signal: InterruptSignal): Promise<void> {
    if (this.#requested || this.#running) {
      this.#host.message(`\nInterrupted again (${signal}): exiting now.`);
      this.#host.exit(exitCodeFor(signal));
      return;
    }
    this.#requested = true;
    this.#signal = signal;
    this.#running = true;
    const handlers = [...this.#handlers].reverse();
    const exit = handlers.some((h) => h.exit);
    this.#host.message(
      `\nInterrupted (${signal}): ${exit ? "saving state before exiting" : "stopping at the next step"}` +
        " (press Ctrl-C again to exit immediately).",
    );
    for (const h of handlers) {
      try {
        await h.handler();
      } catch (e) {
        this.#host.message(`An interrupt handler failed: ${e instanceof Error ? e.message : e}`);
      }
    }
    this.#running = false;
    if (this.#handlers.length === 0 && this.#installed) {
      this.#host.removeListener(this.#listener);
      this.#installed = false;
    }
    if (exit) this.#host.exit(exitCodeFor(signal));
  }
}

const shared = new InterruptController();

/** The shared controller behind {@linkcode onInterrupt} (training loops take a controller so tests can inject one). */
export function sharedInterrupts(): InterruptController {
  return shared;
}

/**
 * Runs `handler` on the first Ctrl-C (after it, the process exits with code 130 unless every
 * handler was registered with `exit: false`); a second Ctrl-C exits immediately.
 */
export function onInterrupt(handler: InterruptHandler, opts: InterruptOptions = {}): void {
  shared.add(handler, opts);
}

/** Unregisters a handler given to {@linkcode onInterrupt}; returns whether it was registered. */
export function removeInterruptHandler(handler: InterruptHandler): boolean {
  return shared.remove(handler);
}

/** Whether Ctrl-C was pressed while a handler was registered (for loops that stop at a step boundary). */
export function interruptRequested(): boolean {
  return shared.requested;
}
