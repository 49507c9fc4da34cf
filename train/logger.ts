/**
 * A run's log: timestamped lines appended to `train.log` in the run folder and echoed to the
 * console. While a {@linkcode ProgressBar} is active, set it as the logger's `console` so log
 * lines appear above the bar instead of breaking it.
 *
 * @example
 * ```ts
 * const log = new Logger(run);
 * log.info(`run folder ${run.path}`);
 * log.console = bar;     // lines now go above the progress bar
 * log.warn("loss is NaN at step 120");
 * log.console = undefined; // back to stdout
 * log.close();
 * ```
 *
 * @module
 */
import type { LineSink } from "./progress.ts";
import type { RunDir } from "./run_dir.ts";
import { joinPath } from "../util/path.ts";
import { WriteError } from "../util/errors.ts";

/** Log levels, least to most severe. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Options of {@linkcode Logger}. */
export interface LoggerOptions {
  /** Log file (default `<run folder>/train.log`; null: no file, the console only — a data-parallel run's other ranks). */
  file?: string | null;
  /** Put before every console line (e.g. `[rank 1] `). */
  prefix?: string;
  /** Least level echoed to the console (default `info`); the file gets every level. */
  consoleLevel?: LogLevel;
  /** Console sink (default stdout; `null`: no echo). Can be changed later through `logger.console`. */
  console?: LineSink | null;
  /** Clock (default `() => new Date()`), for the timestamps. */
  clock?: () => Date;
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, "0");
}

/** `YYYY-mm-dd HH:MM:SS.mmm` in local time. */
export function logTimestamp(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

const stdoutLines: LineSink = {
  println(line: string): void {
    const b = new TextEncoder().encode(line + "\n");
    for (let done = 0; done < b.length;) done += Deno.stdout.writeSync(b.subarray(done));
  },
};

/**
 * Appends `<timestamp> <LEVEL> <message>` lines to a log file (one write per line, no buffering in
 * this process) and echoes them to a console sink.
 */
export class Logger {
  /** The log file. */
  readonly path: string;
  /** Where lines are echoed: stdout by default, a ProgressBar while one is active, null for none. */
  console: LineSink | null | undefined;
  #file: Deno.FsFile | undefined;
  #closed = false;
  #prefix: string;
  #consoleLevel: number;
  #clock: () => Date;
  #enc = new TextEncoder();

  /** Opens `<run>/train.log` (or `opts.file`) for appending. `run` is a run folder or its path. */
  constructor(run: RunDir | string, opts: LoggerOptions = {}) {
    const file = opts.file === null
      ? ""
      : opts.file ?? (typeof run === "string" ? joinPath(run, "train.log") : run.logPath);
    if (typeof file !== "string" || (file === "" && opts.file !== null)) {
      throw new TypeError("Logger: run must be a RunDir or a folder path");
    }
    this.#prefix = opts.prefix ?? "";
    const level = opts.consoleLevel ?? "info";
    if (!(level in ORDER)) throw new TypeError(`Logger: consoleLevel must be debug, info, warn or error, got ${level}`);
    this.path = file;
    this.#consoleLevel = ORDER[level];
    this.console = opts.console === undefined ? undefined : opts.console;
    this.#clock = opts.clock ?? (() => new Date());
    if (opts.file === null) return; // console only
    try {
      this.#file = Deno.openSync(file, { append: true, create: true });
    } catch (e) {
      throw new WriteError(file, "the log", e);
    }
  }

  /** Logs `message` at `level`; each line of a multi-line message gets the prefix. */
  log(level: LogLevel, message: string): void {
    if (!(level in ORDER)) throw new TypeError(`Logger.log: level must be debug, info, warn or error, got ${level}`);
    if (this.#closed) throw new Error(`Logger ${this.path}: log() after close()`);
    const prefix = `${logTimestamp(this.#clock())} ${level.toUpperCase().padEnd(5)} `;
    const lines = String(message).split("\n").map((l) => prefix + l);
    const bytes = this.#enc.encode(lines.join("\n") + "\n");
    try {
      for (let done = 0; this.#file && done < bytes.length;) done += this.#file.writeSync(bytes.subarray(done));
    } catch (e) {
      throw new WriteError(this.path, "the log", e); // a full disk: say which file
    }
    if (ORDER[level] >= this.#consoleLevel && this.console !== null) {
      const sink = this.console ?? stdoutLines;
      for (const l of lines) sink.println(this.#prefix + l);
    }
  }

  /** Logs at level debug (file only, unless consoleLevel is debug). */
  debug(message: string): void {
    this.log("debug", message);
  }

  /** Logs at level info. */
  info(message: string): void {
    this.log("info", message);
  }

  /** Logs at level warn. */
  warn(message: string): void {
    this.log("warn", message);
  }

  /** Logs at level error. */
  error(message: string): void {
    this.log("error", message);
  }

  /** Closes the file; later calls to log throw. */
  close(): void {
    this.#file?.close();
    this.#file = undefined;
    this.#closed = true;
  }

  /** Same as {@linkcode Logger.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
