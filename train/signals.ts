/**
 * Ctrl-C handling for long tasks: the first Ctrl-C (SIGINT) runs the registered handlers (save
 * a checkpoint, close files) and then exits with code 130; a second Ctrl-C exits at once.
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

/** What {@linkcode InterruptController} needs from the runtime; tests pass a fake one. */
export interface SignalHost {
  /** Starts delivering SIGINT to `listener`. */
  addListener(listener: () => void): void;
  /** Stops delivering SIGINT to `listener`. */
  removeListener(listener: () => void): void;
  /** Ends the process with `code`. */
  exit(code: number): void;
  /** Prints a message for the user. */
  message(text: string): void;
}

/** The Deno runtime as a {@linkcode SignalHost}: SIGINT listeners, Deno.exit, messages on stderr. */
export const denoSignalHost: SignalHost = {
  addListener: (listener) => Deno.addSignalListener("SIGINT", listener),
  removeListener: (listener) => Deno.removeSignalListener("SIGINT", listener),
  exit: (code) => Deno.exit(code),
  message: (text) => console.error(text),
};

/** Exit code after an interrupt (128 + SIGINT), as shells report it. */
export const INTERRUPT_EXIT_CODE = 130;

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
  #running = false;
  readonly #listener = (): void => void this.#onSignal();

  /** A controller using `host` (default: the Deno runtime). */
  constructor(host: SignalHost = denoSignalHost) {
    this.#host = host;
  }

  /** Whether Ctrl-C was pressed since the controller was made (or reset). */
  get requested(): boolean {
    return this.#requested;
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
  }

  async #onSignal(): Promise<void> {
    if (this.#requested || this.#running) {
      this.#host.message("\nInterrupted again: exiting now.");
      this.#host.exit(INTERRUPT_EXIT_CODE);
      return;
    }
    this.#requested = true;
    this.#running = true;
    const handlers = [...this.#handlers].reverse();
    const exit = handlers.some((h) => h.exit);
    this.#host.message(
      `\nInterrupted: ${exit ? "saving state before exiting" : "stopping at the next step"}` +
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
    if (exit) this.#host.exit(INTERRUPT_EXIT_CODE);
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
