/**
 * Typed task configuration: a schema made from a nested object of defaults, a YAML file merged
 * onto it, then `--key.path value` overrides from the command line. Every problem (unknown key,
 * wrong type, value out of range, YAML syntax) is reported before any work starts, naming the
 * key, what was expected, the value given and where it came from (file and line, or the command
 * line).
 *
 * @example
 * ```ts
 * const schema = defineConfig({
 *   model: { arch: "resnet18", channels: [64, 128, 256] },
 *   train: { lr: 1e-4, epochs: 10, amp: false, resume: null as string | null },
 * }, {
 *   "model.arch": { choices: ["resnet18", "resnet50"] },
 *   "train.lr": { min: 0, help: "peak learning rate" },
 *   "train.epochs": { type: "integer", min: 1 },
 *   "train.resume": { type: "string" },
 * });
 * const { config } = await loadConfig(schema, { file: "configs/cls.yaml", overrides: ["--train.lr", "3e-4"] });
 * config.train.lr; // number
 * ```
 *
 * @module
 */
import { Document, isMap, isScalar, LineCounter, parse as parseYaml, parseDocument, type YAMLMap } from "yaml";
import { writeFileAtomic } from "../util/io.ts";
import type { RunDir } from "./run_dir.ts";
import { joinPath } from "../util/path.ts";

/** A value a configuration may hold. */
export type ConfigValue = string | number | boolean | null | ConfigValue[] | { [key: string]: ConfigValue };

/** A section of defaults: a plain object whose values are leaves or further sections. */
export interface ConfigSection {
  /** A leaf value or a nested section. */
  [key: string]: ConfigValue;
}

/** The type of a configuration key. `any` accepts every YAML value unchecked. */
export type ConfigValueType =
  | "number"
  | "integer"
  | "string"
  | "boolean"
  | "number[]"
  | "integer[]"
  | "string[]"
  | "boolean[]"
  | "any";

/** Per-key metadata of {@linkcode defineConfig}, keyed by dotted path (`"train.lr"`). */
export interface KeyMeta {
  /** The key's type; needed when the default is `null` or `[]`; `"integer"` narrows a number default. */
  type?: ConfigValueType;
  /** The allowed values (each element, for a list). */
  choices?: readonly (string | number | boolean)[];
  /** Smallest allowed number (each element, for a list). */
  min?: number;
  /** Largest allowed number (each element, for a list); integers default to {@linkcode MAX_CONFIG_INTEGER}. */
  max?: number;
  /** Whether the number must be greater than 0 (where zero makes no sense, e.g. a learning rate). */
  positive?: boolean;
  /** Whether `null` is allowed (always true when the default is `null`). */
  nullable?: boolean;
  /** One line shown by `--help`. */
  help?: string;
}

/**
 * The largest integer a key takes unless its meta says otherwise (2^31 − 1): counts, steps,
 * seeds and sizes beyond it are typing slips (`1e20`) that would exhaust memory or never end.
 */
export const MAX_CONFIG_INTEGER = 2 ** 31 - 1;

/** The largest configuration file read (1 MiB): a config is a few hundred bytes of YAML. */
export const MAX_CONFIG_FILE_BYTES = 1 << 20;

/** One key of a schema, as {@linkcode defineConfig} resolved it. */
export interface ConfigKey {
  /** Dotted path, e.g. `train.lr`. */
  readonly path: string;
  /** Its type. */
  readonly type: ConfigValueType;
  /** Its default value. */
  readonly default: ConfigValue;
  /** Whether `null` is allowed. */
  readonly nullable: boolean;
  /** Allowed values, if restricted. */
  readonly choices?: readonly (string | number | boolean)[];
  /** Smallest allowed number. */
  readonly min?: number;
  /** Largest allowed number. */
  readonly max?: number;
  /** Whether the number must be greater than 0. */
  readonly positive?: boolean;
  /** Help text. */
  readonly help?: string;
}

/** Widens literal types of a defaults object (`1e-4` → `number`, `"a"` → `string`, tuples → arrays). */
export type Widen<T> = T extends string ? string
  : T extends number ? number
  : T extends boolean ? boolean
  : T extends null ? null
  : T extends readonly (infer U)[] ? Widen<U>[]
  : T extends object ? { -readonly [K in keyof T]: Widen<T[K]> }
  : T;

/** A configuration schema: the defaults and every key's type and constraints. Made by {@linkcode defineConfig}. */
export class ConfigSchema<T> {
  /** The defaults, as given. */
  readonly defaults: T;
  /** Every leaf key in definition order. */
  readonly keys: readonly ConfigKey[];
  readonly #leaves: Map<string, ConfigKey>;
  readonly #sections: Set<string>;

  /** Use {@linkcode defineConfig}. */
  constructor(defaults: T, keys: ConfigKey[], sections: Set<string>) {
    this.defaults = defaults;
    this.keys = keys;
    this.#leaves = new Map(keys.map((k) => [k.path, k]));
    this.#sections = sections;
  }

  /** The key at dotted `path`, or undefined. */
  key(path: string): ConfigKey | undefined {
    return this.#leaves.get(path);
  }

  /** Whether `path` names a section (an object of keys) rather than a key. */
  isSection(path: string): boolean {
    return this.#sections.has(path);
  }

  /** Every section path, e.g. `train`, `model.unet`. */
  get sections(): readonly string[] {
    return [...this.#sections];
  }
}

/** An error in a configuration or in command-line arguments, found before any work starts. */
export class ConfigError extends Error {
  /** Each problem found, one sentence each. */
  readonly problems: readonly string[];

  /** `problems` are listed one per line in the message. */
  constructor(problems: readonly string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} problems:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) &&
    (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);
}

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number") return Number.isNaN(v) ? "NaN" : String(v);
  if (v === undefined) return "nothing";
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return `${show(v)} (a list)`;
  if (isPlainObject(v)) return `${show(v)} (a mapping)`;
  return `${show(v)} (${typeof v})`;
}

function inferType(path: string, v: unknown): ConfigValueType {
  if (typeof v === "number") return "number";
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "boolean";
  if (Array.isArray(v)) {
    if (v.length === 0) {
      throw new TypeError(`defineConfig: ${path} defaults to [], so its element type is unknown; give meta type`);
    }
    const t = inferType(path, v[0]);
    if (t !== "number" && t !== "string" && t !== "boolean") {
      throw new TypeError(`defineConfig: ${path}: lists may hold numbers, strings or booleans, got ${show(v)}`);
    }
    for (const e of v) {
      if (inferType(path, e) !== t) {
        throw new TypeError(`defineConfig: ${path}: every element must be a ${t} like the first, got ${show(v)}`);
      }
    }
    return `${t}[]` as ConfigValueType;
  }
  if (v === null) throw new TypeError(`defineConfig: ${path} defaults to null; give meta type (e.g. "string")`);
  throw new TypeError(`defineConfig: ${path}: unsupported default ${show(v)}`);
}

/**
 * Makes a configuration schema from nested defaults. Each leaf's type is taken from its
 * default (number, string, boolean, or a list of one of those); `meta` adds per-key constraints
 * and help, keyed by dotted path. A `null` or `[]` default needs `meta[path].type`; write it
 * `null as string | null` so TypeScript knows the type too.
 */
export function defineConfig<T extends ConfigSection>(
  defaults: T,
  meta: Readonly<Record<string, KeyMeta>> = {},
): ConfigSchema<Widen<T>> {
  if (!isPlainObject(defaults)) throw new TypeError("defineConfig: defaults must be a plain object");
  const keys: ConfigKey[] = [];
  const sections = new Set<string>();
  const used = new Set<string>();
  const walk = (obj: Record<string, unknown>, prefix: string): void => {
    for (const [name, value] of Object.entries(obj)) {
      if (name === "" || name.includes(".") || /\s/.test(name)) {
        throw new TypeError(
          `defineConfig: key ${JSON.stringify(prefix + name)} must be non-empty without dots or spaces`,
        );
      }
      const path = prefix + name;
      const m = meta[path];
      if (isPlainObject(value) && m?.type !== "any") {
        if (m) throw new TypeError(`defineConfig: meta ${path} is for a key, but ${path} is a section`);
        sections.add(path);
        walk(value, path + ".");
        continue;
      }
      if (m) used.add(path);
      const type = m?.type ?? inferType(path, value);
      const key: ConfigKey = {
        path,
        type,
        default: value as ConfigValue,
        nullable: value === null || m?.nullable === true,
        ...(m?.choices !== undefined ? { choices: [...m.choices] } : {}),
        ...(m?.min !== undefined ? { min: m.min } : {}),
        ...(m?.max !== undefined ? { max: m.max } : {}),
        ...(m?.positive ? { positive: true } : {}),
        ...(m?.help !== undefined ? { help: m.help } : {}),
      };
      const err = checkValue(key, value);
      if (err) throw new TypeError(`defineConfig: the default of ${path} does not fit its meta: ${err}`);
      keys.push(key);
    }
  };
  walk(defaults, "");
  for (const path of Object.keys(meta)) {
    if (!used.has(path)) {
      const hint = suggest(path, keys.map((k) => k.path));
      throw new TypeError(`defineConfig: meta names ${path}, which is not a key of the defaults${hint}`);
    }
  }
  return new ConfigSchema(defaults as unknown as Widen<T>, keys, sections);
}

/** Checks `v` against `key`; returns a description of what is wrong, or undefined. */
function checkValue(key: ConfigKey, v: unknown): string | undefined {
  const expected = typeDescription(key);
  if (v === null) return key.nullable ? undefined : `expected ${expected}, got null`;
  if (key.type === "any") return undefined;
  const list = key.type.endsWith("[]");
  const elemType = list ? key.type.slice(0, -2) : key.type;
  if (list && !Array.isArray(v)) return `expected ${expected}, got ${describe(v)}`;
  const elems = list ? (v as unknown[]) : [v];
  for (const e of elems) {
    let ok: boolean;
    switch (elemType) {
      case "number":
        ok = typeof e === "number" && !Number.isNaN(e);
        break;
      case "integer":
        ok = typeof e === "number" && Number.isInteger(e);
        break;
      case "string":
        ok = typeof e === "string";
        break;
      default:
        ok = typeof e === "boolean";
    }
    if (!ok) {
      const quote = elemType === "string" && (typeof e === "number" || typeof e === "boolean")
        ? " (quote it to make it a string)"
        : "";
      return `expected ${expected}, got ${describe(list ? v : e)}${quote}`;
    }
    if (typeof e === "number") {
      const err = checkNumber(key, elemType === "integer", e);
      if (err) return list ? `${err} (in ${show(v)})` : err;
    }
    if (key.choices && !key.choices.includes(e as string | number | boolean)) {
      return `expected one of ${key.choices.map((c) => show(c)).join(", ")}, got ${show(e)}`;
    }
  }
  return undefined;
}

/** Bounds of one number: finite (an infinite lr only fails later, in the optimizer), min/max, integers capped. */
function checkNumber(key: ConfigKey, integer: boolean, e: number): string | undefined {
  const expected = integer ? "an integer" : "a number";
  if (!Number.isFinite(e)) return `expected a finite number, got ${show(e)}`;
  if (key.positive && !(e > 0)) return `expected ${expected} > 0, got ${show(e)}`;
  if (key.min !== undefined && e < key.min) return `expected ${expected} >= ${key.min}, got ${show(e)}`;
  const max = key.max ?? (integer ? MAX_CONFIG_INTEGER : undefined);
  if (max !== undefined && e > max) return `expected ${expected} <= ${max}, got ${show(e)}`;
  if (integer && e < -MAX_CONFIG_INTEGER) return `expected ${expected} >= ${-MAX_CONFIG_INTEGER}, got ${show(e)}`;
  return undefined;
}

function typeDescription(key: ConfigKey): string {
  const base: Record<ConfigValueType, string> = {
    number: "a number",
    integer: "an integer",
    string: "a string",
    boolean: "a boolean",
    "number[]": "a list of numbers",
    "integer[]": "a list of integers",
    "string[]": "a list of strings",
    "boolean[]": "a list of booleans",
    any: "any value",
  };
  return base[key.type] + (key.nullable && key.type !== "any" ? " or null" : "");
}

/** Edit distance between two strings (insertions, deletions, substitutions, adjacent swaps). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/**
 * " (did you mean X?)" for the candidates closest to `name`, or "". A candidate qualifies when
 * its edit distance is small for its length, or when its last path segment equals `name`'s.
 */
export function suggest(name: string, candidates: readonly string[], prefix = ""): string {
  const last = (s: string) => s.slice(s.lastIndexOf(".") + 1).toLowerCase();
  const n = name.toLowerCase();
  const scored: [string, number][] = [];
  for (const c of candidates) {
    const cl = c.toLowerCase();
    let score = editDistance(n, cl);
    const limit = Math.max(2, Math.floor(Math.max(n.length, cl.length) / 3));
    if (last(c) === last(name) || cl.endsWith("." + n)) score = Math.min(score, 1);
    else if (editDistance(last(name), last(c)) <= 1 && last(name).length > 2) score = Math.min(score, 2);
    if (score <= limit) scored.push([c, score]);
  }
  if (scored.length === 0) return "";
  scored.sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
  const best = scored.filter((s) => s[1] === scored[0][1]).slice(0, 3).map((s) => prefix + s[0]);
  return ` (did you mean ${best.join(" or ")}?)`;
}

const NUMBER_RE = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function parseNumber(raw: string): number | undefined {
  const s = raw.trim();
  if (NUMBER_RE.test(s)) return Number(s);
  if (/^[-+]?\.?inf(inity)?$/i.test(s)) return s.startsWith("-") ? -Infinity : Infinity;
  return undefined;
}

function parseBoolean(raw: string): boolean | undefined {
  const s = raw.trim().toLowerCase();
  if (["true", "yes", "on", "1"].includes(s)) return true;
  if (["false", "no", "off", "0"].includes(s)) return false;
  return undefined;
}

/** Parses one scalar command-line value by the element type; returns the raw string when it does not parse. */
function parseScalar(raw: string, type: string): unknown {
  const s = raw.trim();
  if (s === "null" || s === "~") return null;
  if (
    (s.startsWith('"') && s.endsWith('"') && s.length >= 2) || (s.startsWith("'") && s.endsWith("'") && s.length >= 2)
  ) {
    try {
      return parseYaml(s);
    } catch {
      return raw;
    }
  }
  if (type === "number" || type === "integer") return parseNumber(s) ?? raw;
  if (type === "boolean") return parseBoolean(s) ?? raw;
  if (type === "string") return raw;
  try {
    return parseYaml(s);
  } catch {
    return raw;
  }
}

/** Parses a command-line value for `key`: numbers, booleans, null, comma lists, YAML flow `[1,2,4]`. */
function parseCliValue(key: ConfigKey, raw: string): unknown {
  const s = raw.trim();
  if (s.startsWith("[") || s.startsWith("{")) {
    try {
      return parseYaml(s);
    } catch (e) {
      throw new Error(`it is not valid YAML flow syntax (${(e as Error).message.split("\n")[0]})`);
    }
  }
  if (key.type.endsWith("[]")) {
    if (s === "null" || s === "~") return null;
    if (s === "") return [];
    const elem = key.type.slice(0, -2);
    return s.split(",").map((p) => parseScalar(p.trim(), elem));
  }
  return parseScalar(raw, key.type);
}

/** Input of {@linkcode resolveConfig}. */
export interface ResolveConfigOptions {
  /** YAML text to merge onto the defaults. */
  yaml?: string;
  /** Name of the YAML source in messages (default `"config"`). */
  fileName?: string;
  /** Command-line overrides: `--key.path value`, `--key.path=value`, `--flag`, `--no-flag`. */
  overrides?: readonly string[];
  /** Task option names (without `--`) offered as suggestions for an unknown `--name`. */
  taskOptions?: readonly string[];
}

/** Input of {@linkcode loadConfig}. */
export interface LoadConfigOptions {
  /** Path to a YAML file to merge onto the defaults. */
  file?: string;
  /** Command-line overrides: `--key.path value`, `--key.path=value`, `--flag`, `--no-flag`. */
  overrides?: readonly string[];
  /** Task option names (without `--`) offered as suggestions for an unknown `--name`. */
  taskOptions?: readonly string[];
}

/** A resolved configuration. */
export interface LoadedConfig<T> {
  /** The configuration: defaults, then the file, then the overrides. */
  readonly config: T;
  /** Where each key's value came from: `default`, `<file> line <n>` or `command line (--key)`. */
  readonly sources: Readonly<Record<string, string>>;
  /** The configuration as YAML, with a comment on every value that is not the default. */
  toYaml(): string;
  /** Writes {@linkcode LoadedConfig.toYaml} to `<runDir>/config.yaml` atomically; returns that path. */
  saveResolvedConfig(runDir: string | RunDir): Promise<string>;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split(".");
  let o = obj;
  for (let i = 0; i < parts.length - 1; i++) o = o[parts[i]] as Record<string, unknown>;
  o[parts[parts.length - 1]] = value;
}

function cloneValue<V>(v: V): V {
  return v === null || typeof v !== "object" ? v : structuredClone(v);
}

/** A problem for YAML the library refused to turn into values (`where`: the file, and the line when known). */
function yamlFailure(where: string, e: unknown): string {
  const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0];
  const hint = /alias/i.test(msg) ? " (too many aliases: an alias bomb?)" : "";
  return `${where}: cannot read the YAML: ${msg}${hint}`;
}

/** Flattens the YAML mapping `node` against the schema, recording problems and line numbers. */
function mergeYaml<T>(
  schema: ConfigSchema<T>,
  text: string,
  fileName: string,
  out: Record<string, unknown>,
  sources: Record<string, string>,
  problems: string[],
): void {
  const lc = new LineCounter();
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  } catch (e) {
    problems.push(yamlFailure(fileName, e)); // e.g. nesting deep enough to overflow the stack
    return;
  }
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const pos = e.linePos?.[0] ?? (e.pos ? lc.linePos(e.pos[0]) : undefined);
      const where = pos ? ` line ${pos.line}, column ${pos.col}` : "";
      problems.push(
        `${fileName}${where}: YAML syntax error: ${e.message.split("\n")[0].replace(/ at line \d+.*$/, "")}`,
      );
    }
    return;
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return; // empty file
  if (!isMap(root)) {
    const line = root.range ? lc.linePos(root.range[0]).line : 1;
    let got: string;
    try {
      got = describe(root.toJS(doc));
    } catch (e) {
      problems.push(yamlFailure(`${fileName} line ${line}`, e));
      return;
    }
    problems.push(`${fileName} line ${line}: expected a mapping of keys at the top level, got ${got}`);
    return;
  }
  const allPaths = [...schema.keys.map((k) => k.path), ...schema.sections];
  // `node` is the value's YAML node, when there is one (not inside an alias).
  const visit = (path: string, value: unknown, where: string, node: unknown): void => {
    const key = schema.key(path);
    if (key) {
      const err = checkValue(key, value);
      if (err) problems.push(`${path}: ${err} (from ${where})`);
      else {
        setPath(out, path, value);
        sources[path] = where;
      }
    } else if (schema.isSection(path)) {
      if (isMap(node)) visitMap(node as YAMLMap, path + ".");
      else if (isPlainObject(value)) {
        for (const [name, v] of Object.entries(value)) visit(`${path}.${name}`, v, where, undefined);
      } else if (value !== null) {
        problems.push(`${path} is a section: expected a mapping of its keys, got ${describe(value)} (from ${where})`);
      }
    } else {
      problems.push(`unknown config key ${path} (from ${where})${suggest(path, allPaths)}`);
    }
  };
  const visitMap = (map: YAMLMap, prefix: string): void => {
    for (const pair of map.items) {
      const keyNode = pair.key;
      const line = isScalar(keyNode) && keyNode.range ? lc.linePos(keyNode.range[0]).line : 0;
      const where = `${fileName} line ${line}`;
      if (!isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === "object") {
        problems.push(`${where}: keys must be plain names`);
        continue;
      }
      const valueNode = pair.value as { toJS?: (d: Document) => unknown } | null;
      let value: unknown;
      try {
        // The yaml library stops alias bombs ("billion laughs") here, with a ReferenceError.
        value = valueNode && typeof valueNode.toJS === "function" ? valueNode.toJS(doc) : null;
      } catch (e) {
        problems.push(yamlFailure(where, e));
        continue;
      }
      visit(prefix + String(keyNode.value), value, where, pair.value);
    }
  };
  visitMap(root as YAMLMap, "");
}

function applyOverrides<T>(
  schema: ConfigSchema<T>,
  argv: readonly string[],
  taskOptions: readonly string[],
  out: Record<string, unknown>,
  sources: Record<string, string>,
  problems: string[],
): void {
  const allPaths = [...schema.keys.map((k) => k.path), ...schema.sections];
  const lookup = (name: string): ConfigKey | undefined =>
    schema.key(name) ?? schema.key(name.replaceAll("-", "_")) ?? schema.key(name.replaceAll("_", "-"));
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i];
    if (!tok.startsWith("--") || tok === "--") {
      problems.push(`unexpected argument ${show(tok)} (config overrides are written --key.path value)`);
      continue;
    }
    const body = tok.slice(2);
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    let key = lookup(name);
    let raw: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
    if (!key && eq < 0 && name.startsWith("no-")) {
      const k = lookup(name.slice(3));
      if (k && k.type === "boolean") {
        key = k;
        raw = "false";
      }
    }
    if (!key) {
      if (schema.isSection(name)) {
        const inside = schema.keys.filter((k) => k.path.startsWith(name + ".")).slice(0, 4).map((k) => "--" + k.path);
        problems.push(`--${name} is a section, not a key: give a key inside it, e.g. ${inside.join(", ")}`);
      } else {
        const hint = suggest(name, [...allPaths, ...taskOptions], "--");
        problems.push(`unknown config key --${name} (from the command line)${hint}`);
      }
      // Skip its value, if it has one, so it is not reported as a second problem.
      if (eq < 0 && i + 1 < argv.length && !argv[i + 1].startsWith("--")) i++;
      continue;
    }
    if (raw === undefined) {
      const next = argv[i + 1];
      if (key.type === "boolean") {
        if (next !== undefined && parseBoolean(next) !== undefined) {
          raw = next;
          i++;
        } else raw = "true";
      } else if (next === undefined || (next.startsWith("--") && next.length > 2)) {
        problems.push(`--${key.path} needs a value: ${typeDescription(key)}`);
        continue;
      } else {
        raw = next;
        i++;
      }
    }
    const where = `command line (--${key.path} ${raw})`;
    let value: unknown;
    try {
      value = parseCliValue(key, raw);
    } catch (e) {
      problems.push(
        `${key.path}: expected ${typeDescription(key)}, got ${show(raw)}: ${(e as Error).message} (from the ${where})`,
      );
      continue;
    }
    const err = checkValue(key, value);
    if (err) problems.push(`${key.path}: ${err} (from the ${where})`);
    else {
      setPath(out, key.path, value);
      sources[key.path] = where;
    }
  }
}

function toYamlText<T>(schema: ConfigSchema<T>, config: T, sources: Record<string, string>): string {
  const doc = new Document(config);
  doc.commentBefore = " Resolved configuration written by meddiff " + new Date().toISOString() +
    "\n Run again with: --config <this file>";
  for (const key of schema.keys) {
    const src = sources[key.path];
    if (!src || src === "default") continue;
    const node = doc.getIn(key.path.split("."), true) as { comment?: string | null } | undefined;
    if (node && typeof node === "object") node.comment = ` ${src}`;
  }
  return doc.toString({ lineWidth: 0 });
}

/**
 * Resolves a configuration from YAML text and overrides without touching the file system:
 * defaults, deep-merged with `yaml`, then the overrides. Throws a {@linkcode ConfigError} that
 * lists every problem found.
 */
export function resolveConfig<T>(schema: ConfigSchema<T>, opts: ResolveConfigOptions = {}): LoadedConfig<T> {
  const out = cloneValue(schema.defaults) as unknown as Record<string, unknown>;
  const sources: Record<string, string> = {};
  for (const k of schema.keys) sources[k.path] = "default";
  const problems: string[] = [];
  if (opts.yaml !== undefined) mergeYaml(schema, opts.yaml, opts.fileName ?? "config", out, sources, problems);
  applyOverrides(schema, opts.overrides ?? [], opts.taskOptions ?? [], out, sources, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  const config = out as unknown as T;
  return {
    config,
    sources,
    toYaml: () => toYamlText(schema, config, sources),
    saveResolvedConfig: async (runDir: string | RunDir): Promise<string> => {
      const path = typeof runDir === "string" ? joinPath(runDir, "config.yaml") : runDir.configPath;
      await writeFileAtomic(path, toYamlText(schema, config, sources), { what: "the resolved configuration" });
      return path;
    },
  };
}

/** The text of a config file: a regular file of at most {@linkcode MAX_CONFIG_FILE_BYTES}. */
async function readConfigFile(file: string): Promise<string> {
  const fail = (why: string): never => {
    throw new ConfigError([`cannot read the config file ${file}: ${why}`]);
  };
  try {
    const info = await Deno.stat(file);
    if (!info.isFile) fail("it is not a file");
    if (info.size > MAX_CONFIG_FILE_BYTES) {
      fail(`it is ${info.size} bytes, more than a config can be (${MAX_CONFIG_FILE_BYTES})`);
    }
    return await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    return fail(e instanceof Deno.errors.NotFound ? "it does not exist" : (e as Error).message);
  }
}

/**
 * Loads a configuration: the schema's defaults, deep-merged with the YAML file `file` (if
 * given), then the command-line `overrides`. Throws a {@linkcode ConfigError} listing every
 * problem (unknown key with a suggestion, wrong type, YAML syntax error with its line, missing
 * file) before any work starts.
 */
export async function loadConfig<T>(schema: ConfigSchema<T>, opts: LoadConfigOptions = {}): Promise<LoadedConfig<T>> {
  let yaml: string | undefined;
  if (opts.file !== undefined) yaml = await readConfigFile(opts.file);
  return resolveConfig(schema, {
    yaml,
    fileName: opts.file,
    overrides: opts.overrides,
    taskOptions: opts.taskOptions,
  });
}

/**
 * The value of a task option that stands for a config key (`--steps` for `sample.steps`),
 * parsed and checked as that key is; a {@linkcode ConfigError} names the option and the key.
 */
export function parseConfigOption<T>(schema: ConfigSchema<T>, path: string, option: string, raw: string): ConfigValue {
  const key = schema.key(path);
  if (!key) throw new TypeError(`parseConfigOption: ${path} is not a key of the schema`);
  let value: unknown;
  try {
    value = parseCliValue(key, raw);
  } catch (e) {
    throw new ConfigError([
      `--${option} (${path}): expected ${typeDescription(key)}, got ${show(raw)}: ${(e as Error).message}`,
    ]);
  }
  const err = checkValue(key, value);
  if (err) throw new ConfigError([`--${option} (${path}): ${err}`]);
  return value as ConfigValue;
}

function formatDefault(v: ConfigValue): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return `[${v.map((e) => formatDefault(e)).join(",")}]`;
  if (typeof v === "string") return v === "" ? '""' : v;
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/**
 * Help text listing every key of `schema`: `--path <type>`, its default, constraints and help,
 * aligned in columns.
 */
export function configHelp<T>(schema: ConfigSchema<T>): string {
  const rows = schema.keys.map((k) => {
    const type = k.type === "boolean" ? "[bool]" : `<${k.type}${k.nullable ? "|null" : ""}>`;
    const extras: string[] = [];
    if (k.choices) extras.push(`one of ${k.choices.join("|")}`);
    if (k.min !== undefined) extras.push(`>= ${k.min}`);
    if (k.max !== undefined) extras.push(`<= ${k.max}`);
    if (k.positive) extras.push("> 0");
    const desc = [k.help, `default ${formatDefault(k.default)}`, ...extras].filter(Boolean).join("; ");
    return [`--${k.path} ${type}`, desc];
  });
  const width = Math.min(44, Math.max(0, ...rows.map((r) => r[0].length)));
  return rows.map(([a, b]) => a.length > width ? `  ${a}\n  ${" ".repeat(width)}  ${b}` : `  ${a.padEnd(width)}  ${b}`)
    .join("\n");
}
