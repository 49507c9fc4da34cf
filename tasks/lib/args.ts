/**
 * Command-line arguments of a task: its own flags and options (`--config`, `--resume`, `--run`,
 * `--help`) are taken out; every other argument is passed on, in order, as configuration
 * overrides for {@linkcode loadConfig}.
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
  /** Each flag: whether it was given. */
  flags: Record<F | "help", boolean>;
  /** Each option's value (its default, or undefined, when absent). */
  options: Record<O, string | undefined>;
  /** Every other argument, in order: the configuration overrides. */
  overrides: string[];
  /** Arguments after a bare `--`. */
  positionals: string[];
  /** Whether `--help` or `-h` was given. */
  help: boolean;
  /** The generated help text (usage, flags, options and every config key). */
  helpText: string;
  /** The names of the task's flags and options, for suggestions in {@linkcode loadConfig}. */
  known: string[];
}

const NAME_RE = /^[A-Za-z][A-Za-z0-9_-]*$/;

function checkSpec(spec: TaskArgsSpec): void {
  const seen = new Map<string, string>([["help", "flag"], ["h", "alias"]]);
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
 * (`--name value`, `--name=value`, `-x value`) and `--help`; everything else stays, in order, in
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
  const flags: Record<string, boolean> = { help: false };
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
    flags: flags as Record<F | "help", boolean>,
    options: options as Record<O, string | undefined>,
    overrides,
    positionals,
    help: flags.help,
    get helpText(): string {
      return formatTaskHelp(spec as TaskArgsSpec);
    },
    known: ["help", ...Object.keys(flagSpecs), ...Object.keys(optionSpecs)],
  };
}

/** The help text of a task: usage line, description, its flags and options, and every config key with its default. */
export function formatTaskHelp(spec: TaskArgsSpec): string {
  const name = spec.name ?? "task";
  const lines: string[] = [`Usage: deno task ${name} [options] [--key.path value ...]`];
  if (spec.description) lines.push("", spec.description);
  const rows: [string, string][] = [["--help, -h", "show this help"]];
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

/**
 * Runs a task's `main`, turning a {@linkcode ConfigError} (bad arguments or configuration) into
 * a one-paragraph message on stderr and exit code 2, without a stack trace. Other errors are
 * thrown on.
 */
export async function runTask(main: () => Promise<void> | void): Promise<void> {
  try {
    await main();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`error: ${e.message}\n(run with --help to list the options and config keys)`);
      Deno.exit(2);
    }
    throw e;
  }
}
