/**
 * Command-line arguments of a task: its own flags and options (`--config`, `--resume`, `--run`,
 * `--help`, `--debug`) are taken out; every other argument is passed on, in order, as
 * configuration overrides for {@linkcode loadConfig}. {@linkcode runTask} runs a task's `main`
 * and turns any error into one line on stderr and an exit code (2 for a bad configuration, 1
 * otherwise; the stack trace only with `--debug`).
 *
 * @example
 * ```ts
 * const args = parseTaskArgs(Deno.args, {
 *   name: "train",
 *   description: "Trains a classifier.",
 *   flags: { "dry-run": { description: "resolve the config and stop" } },
 *   options: {
 *     config: { description: "YAML config file", valueName: "path" },
 *     resume: { description: "run folder to resume (bare: the latest run)", valueName: "run", bare: "latest" },
 *   },
 *   schema,
 * });
 * if (args.help) { console.log(args.helpText); return; }
 * const { config } = await loadConfig(schema, { file: args.options.config, overrides: args.overrides, taskOptions: args.known });
 * ```
 *
 * @module
 */
import { ConfigError, configHelp, type ConfigSchema } from "../../train/config.ts";
import { autotuneSettled } from "../../core/backend/autotune.ts";
import { initGpu } from "../../core/device.ts";
import { activeDataParallel, finalizeDataParallel } from "../../train/data_parallel.ts";
import { exitNow } from "../../util/exit.ts";

/** A boolean task flag. */
export interface FlagSpec {
  /** One line for `--help`. */
  description: string;
  /** One-letter alias, used as `-x`. */
  alias?: string;
}

/** A task option that takes a value. */
export interface OptionSpec {
  /** One line for `--help`. */
  description: string;
  /** Name of the value in `--help` (default `value`). */
  valueName?: string;
  /** One-letter alias, used as `-x value`. */
  alias?: string;
  /** Value when the option is given without one (at the end, or before another `--option`); without it that is an error. */
  bare?: string;
  /** Value when the option is absent. */
  default?: string;
}

/** What a task accepts on its command line. */
export interface TaskArgsSpec<F extends string = string, O extends string = string> {
  /** Task name for the usage line, e.g. `train`. */
  name?: string;
  /** One paragraph shown under the usage line. */
  description?: string;
  /** The task's boolean flags (`--help`/`-h` is always there). */
  flags?: Record<F, FlagSpec>;
  /** The task's options with values. */
  options?: Record<O, OptionSpec>;
  /** The configuration schema whose keys `--help` lists. */
  // deno-lint-ignore no-explicit-any
  schema?: ConfigSchema<any>;
}

/** The result of {@linkcode parseTaskArgs}. */
export interface ParsedTaskArgs<F extends string = string, O extends string = string> {
  /** The task's name (the spec's `name`, default `task`), for messages such as how to resume. */
  name: string;
  /** Each flag: whether it was given (`help` and `debug` are always there). */
  flags: Record<F | "help" | "debug", boolean>;
  /** Each option's value (its default, or undefined, when absent). */
  options: Record<O, string | undefined>;
  /** Every other argument, in order: the configuration overrides. */
  overrides: string[];
  /** Arguments after a bare `--`. */
  positionals: string[];
  /** Whether `--help` or `-h` was given. */
  help: boolean;
  /** Whether `--debug` was given: errors show their stack trace. */
  debug: boolean;
  /** The generated help text (usage, flags, options and every config key). */
  helpText: string;
  /** The names of the task's flags and options, for suggestions in {@linkcode loadConfig}. */
  known: string[];
}

const NAME_RE = /^[A-Za-z][A-Za-z0-9_-]*$/;

function checkSpec(spec: TaskArgsSpec): void {
  const seen = new Map<string, string>([["help", "flag"], ["h", "alias"], ["debug", "flag"]]);
  const add = (name: string, what: string) => {
    if (seen.has(name)) {
      throw new TypeError(`parseTaskArgs: ${what} ${name} is defined twice (also as ${seen.get(name)})`);
    }
    seen.set(name, what);
  };
  for (const [kind, entries] of [["flag", spec.flags ?? {}], ["option", spec.options ?? {}]] as const) {
    for (const [name, s] of Object.entries(entries as Record<string, FlagSpec | OptionSpec>)) {
      if (!NAME_RE.test(name)) {
        throw new TypeError(`parseTaskArgs: ${kind} name ${JSON.stringify(name)} must be letters, digits, - or _`);
      }
      add(name, kind);
      if (s.alias !== undefined) {
        if (!/^[A-Za-z]$/.test(s.alias)) {
          throw new TypeError(`parseTaskArgs: alias of --${name} must be one letter, got ${JSON.stringify(s.alias)}`);
        }
        add(s.alias, "alias");
      }
    }
  }
}

/**
 * Splits a task's command line: its flags (`--name`, `--name=true|false`, `-x`), its options
 * (`--name value`, `--name=value`, `-x value`), `--help` and `--debug`; everything else stays, in order, in
 * `overrides` for {@linkcode loadConfig}. Throws a {@linkcode ConfigError} for an option without
 * its value or a flag with a value that is not a boolean.
 */
export function parseTaskArgs<F extends string = never, O extends string = never>(
  argv: readonly string[],
  spec: TaskArgsSpec<F, O>,
): ParsedTaskArgs<F, O> {
  checkSpec(spec as TaskArgsSpec);
  const flagSpecs = (spec.flags ?? {}) as Record<string, FlagSpec>;
  const optionSpecs = (spec.options ?? {}) as Record<string, OptionSpec>;
  const flags: Record<string, boolean> = { help: false, debug: false };
  for (const name of Object.keys(flagSpecs)) flags[name] = false;
  const options: Record<string, string | undefined> = {};
  for (const [name, s] of Object.entries(optionSpecs)) options[name] = s.default;
  const aliases = new Map<string, string>([["h", "help"]]);
  for (const [name, s] of [...Object.entries(flagSpecs), ...Object.entries(optionSpecs)]) {
    if (s.alias) aliases.set(s.alias, name);
  }
  const overrides: string[] = [];
  const positionals: string[] = [];
  const problems: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i];
    if (typeof tok !== "string") throw new TypeError(`parseTaskArgs: argv[${i}] must be a string`);
    if (tok === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let value: string | undefined;
    if (tok.startsWith("--")) {
      const eq = tok.indexOf("=");
      name = eq >= 0 ? tok.slice(2, eq) : tok.slice(2);
      value = eq >= 0 ? tok.slice(eq + 1) : undefined;
    } else if (/^-[A-Za-z]$/.test(tok) && aliases.has(tok[1])) {
      name = aliases.get(tok[1]);
    }
    if (name === undefined || (!(name in flags) && !(name in optionSpecs))) {
      overrides.push(tok);
      continue;
    }
    if (name in flags) {
      if (value === undefined) flags[name] = true;
      else if (/^(true|yes|1)$/i.test(value)) flags[name] = true;
      else if (/^(false|no|0)$/i.test(value)) flags[name] = false;
      else problems.push(`--${name} is a flag: give it alone or as --${name}=true|false, got ${JSON.stringify(value)}`);
      continue;
    }
    const s = optionSpecs[name];
    if (value === undefined) {
      const next = argv[i + 1];
      if (next !== undefined && !(next.startsWith("-") && next.length > 1 && !/^-[\d.]/.test(next))) {
        value = next;
        i++;
      } else if (s.bare !== undefined) value = s.bare;
      else {
        problems.push(`--${name} needs a value (${s.valueName ?? "value"}): ${s.description}`);
        continue;
      }
    }
    options[name] = value;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    name: spec.name ?? "task",
    flags: flags as Record<F | "help" | "debug", boolean>,
    options: options as Record<O, string | undefined>,
    overrides,
    positionals,
    help: flags.help,
    debug: flags.debug,
    get helpText(): string {
      return formatTaskHelp(spec as TaskArgsSpec);
    },
    known: ["help", "debug", ...Object.keys(flagSpecs), ...Object.keys(optionSpecs)],
  };
}

/** The value of integer option `--name` (≥ 1), or `fallback` when it was not given; a ConfigError names it otherwise. */
export function positiveInt(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError([`--${name} must be a positive integer, got ${v}`]);
  return n;
}

/** The help text of a task: usage line, description, its flags and options, and every config key with its default. */
export function formatTaskHelp(spec: TaskArgsSpec): string {
  const name = spec.name ?? "task";
  const lines: string[] = [`Usage: meddiff ${name} [options] [--key.path value ...]   (or: deno task ${name} …)`];
  if (spec.description) lines.push("", spec.description);
  const rows: [string, string][] = [
    ["--help, -h", "show this help"],
    ["--debug", "on an error, show its stack trace (train.log always has it)"],
  ];
  for (const [n, s] of Object.entries((spec.flags ?? {}) as Record<string, FlagSpec>)) {
    rows.push([`--${n}${s.alias ? `, -${s.alias}` : ""}`, s.description]);
  }
  for (const [n, s] of Object.entries((spec.options ?? {}) as Record<string, OptionSpec>)) {
    const v = `<${s.valueName ?? "value"}>`;
    const extra = [s.default !== undefined ? `default ${s.default}` : "", s.bare !== undefined ? `bare: ${s.bare}` : ""]
      .filter(Boolean).join("; ");
    rows.push([
      `--${n} ${s.bare !== undefined ? `[${v}]` : v}${s.alias ? `, -${s.alias}` : ""}`,
      s.description + (extra ? ` (${extra})` : ""),
    ]);
  }
  const width = Math.max(...rows.map((r) => r[0].length));
  lines.push("", "Options:", ...rows.map(([a, b]) => `  ${a.padEnd(width)}  ${b}`));
  if (spec.schema && spec.schema.keys.length > 0) {
    lines.push("", "Configuration (set in the YAML file, or override with --key value or --key=value):");
    lines.push(configHelp(spec.schema));
  }
  return lines.join("\n");
}

/** The built-in JavaScript errors whose message means little without their name (likely a bug). */
const INTERNAL_ERRORS = new Set(["TypeError", "ReferenceError", "SyntaxError", "EvalError", "URIError"]);

/**
 * One line describing `e` for the terminal and the run's log: the message of an error (with
 * its name for a built-in JavaScript error such as a TypeError, and the message of its `cause`),
 * or the thrown value as text.
 */
export function errorLine(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const line = INTERNAL_ERRORS.has(e.name) ? `${e.name}: ${e.message}` : e.message;
  const cause = e.cause === undefined ? "" : errorLine(e.cause);
  return cause && !line.includes(cause) ? `${line} (${cause})` : line;
}

/** The stack trace of `e` and of its causes (empty when it has none). */
export function errorStack(e: unknown): string {
  if (!(e instanceof Error) || !e.stack) return "";
  const cause = e.cause !== undefined ? errorStack(e.cause) : "";
  return cause ? `${e.stack}\nCaused by: ${cause}` : e.stack;
}

/** What a failed task reports: the text for stderr and the exit code. */
export interface TaskErrorReport {
  /** `error: <one line>` (a ConfigError: its problems, then a hint at `--help`); the stack with `debug`. */
  message: string;
  /** 2 for a {@linkcode ConfigError} (bad arguments or configuration), 1 for any other error. */
  exitCode: number;
}

/**
 * How a task reports the error `e` that ended it: exit code 2 and the problems for a
 * {@linkcode ConfigError}, exit code 1 and {@linkcode errorLine} for anything else; with `debug`
 * the stack trace follows.
 */
export function describeTaskError(e: unknown, debug = false): TaskErrorReport {
  const config = e instanceof ConfigError;
  let message = `error: ${config ? e.message : errorLine(e)}`;
  if (config) message += "\n(run with --help to list the options and config keys)";
  else if (!debug && e instanceof Error && INTERNAL_ERRORS.has(e.name)) {
    message += " (run with --debug for the stack trace)";
  }
  const stack = debug ? errorStack(e) : "";
  if (stack) message += `\n${stack}`;
  return { message, exitCode: config ? 2 : 1 };
}

/** Options of {@linkcode runTask} (tests replace the process's exit and stderr). */
export interface RunTaskOptions {
  /** The command line, read for `--debug` (default `Deno.args`). */
  argv?: readonly string[];
  /** Ends the process with the exit code, 0 included (default {@linkcode exitNow}: `_exit`, see util/exit.ts). */
  exit?: (code: number) => void;
  /** Prints the error report (default `console.error`, i.e. stderr). */
  print?: (text: string) => void;
}

/** Whether `argv` asks for `--debug` (as {@linkcode parseTaskArgs} reads it; false if it cannot be read). */
function debugRequested(argv: readonly string[]): boolean {
  try {
    return parseTaskArgs(argv, {}).debug;
  } catch {
    return false;
  }
}

/**
 * Runs a task's `main`; when it throws, prints {@linkcode describeTaskError}'s report on stderr
 * (the stack trace only with `--debug` in `argv`) and exits with its code: 2 for a
 * {@linkcode ConfigError}, 1 otherwise. A task that made a run folder has written the error to
 * its `train.log` already (see tasks/common/run_setup.ts). When `main` returns a non-zero number
 * (a run stopped by SIGINT / SIGTERM), the process exits with it. It first acquires the WebGPU device
 * ({@linkcode initGpu}: importing meddiff acquires none) and releases it at the end
 * and, before it exits, lets background kernel tuning finish so that its measurements are saved.
 */
export async function runTask(main: () => Promise<unknown> | unknown, opts: RunTaskOptions = {}): Promise<void> {
  let code = 0;
  try {
    await initGpu();
    const out = await main();
    // A task that ends early on purpose (an interrupt: 130 / 143) returns its exit code.
    if (typeof out === "number") code = out;
  } catch (e) {
    const report = describeTaskError(e, debugRequested(opts.argv ?? Deno.args));
    const world = activeDataParallel();
    const multi = world !== null && world.worldSize > 1;
    (opts.print ?? console.error)(multi ? `[rank ${world.rank}] ${report.message}` : report.message);
    code = report.exitCode;
    // The other ranks would wait for this one in their next collective: end them all now.
    if (multi) world.abort(code);
  }
  // Best effort: after a GPU failure the device may be lost and a measurement with it.
  await autotuneSettled().catch(() => {});
  finalizeDataParallel();
  // Everything is written and closed: end without the native libraries' exit-time destructors
  // (util/exit.ts says why).
  (opts.exit ?? exitNow)(code);
}
