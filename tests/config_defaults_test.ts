/**
 * One source of truth for configuration defaults: the schemas in tasks/<task>/config.ts. Every
 * shipped `configs/*.yaml` must load under exactly one task's schema (so every key it sets is a
 * key of that task), and a file that declares itself a task's default run — its `name` is the
 * schema's default `name`, as `ddpm-default.yaml` does — must set every key to the schema's
 * default, so that it cannot drift from what the task does with no arguments. The defaults are
 * read from the schemas when the test runs, so changing a default in code fails here until the
 * file follows.
 */
import { classifierSchema } from "../tasks/classify/config.ts";
import { ddpmSchema } from "../tasks/ddpm/config.ts";
import { dcgSchema, diffmicSchema } from "../tasks/diffmic/config.ts";
import { dit3dSchema } from "../tasks/dit3d/config.ts";
import { vaeSchema } from "../tasks/vae3d/config.ts";
import { ConfigError, type ConfigSchema, loadConfig, type LoadedConfig } from "../train/config.ts";
import { assert, assertEquals } from "./_asserts.ts";

/** The training tasks and their schemas. */
// deno-lint-ignore no-explicit-any
const TASKS: { task: string; schema: ConfigSchema<any> }[] = [
  { task: "train", schema: ddpmSchema },
  { task: "train-classifier", schema: classifierSchema },
  { task: "train-dcg", schema: dcgSchema },
  { task: "train-diffmic", schema: diffmicSchema },
  { task: "train-vae", schema: vaeSchema },
  { task: "train-dit3d", schema: dit3dSchema },
];

const CONFIGS = new URL("../configs/", import.meta.url);

function shippedConfigs(): string[] {
  return [...Deno.readDirSync(CONFIGS)].filter((e) => e.isFile && /\.ya?ml$/.test(e.name)).map((e) => e.name).sort();
}

function valueAt(obj: unknown, path: string): unknown {
  return path.split(".").reduce((o, k) => (o as Record<string, unknown>)[k], obj);
}

/** Loads `file` under every task; returns the tasks that accept it and why the others refuse it. */
async function loadUnderEachTask(file: string) {
  // deno-lint-ignore no-explicit-any
  const accepted: { task: string; schema: ConfigSchema<any>; loaded: LoadedConfig<any> }[] = [];
  const refused: string[] = [];
  for (const { task, schema } of TASKS) {
    try {
      accepted.push({ task, schema, loaded: await loadConfig(schema, { file }) });
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      refused.push(`${task}: ${e.message}`);
    }
  }
  return { accepted, refused };
}

/**
 * For a file that declares itself a task's default run (its `name` is the schema's default
 * name): each key it sets whose value differs from the schema's default. Null for other files.
 */
async function driftFromDefaults(file: string): Promise<string[] | null> {
  const { accepted } = await loadUnderEachTask(file);
  const own = accepted.find((a) => a.loaded.config.name === a.schema.defaults.name);
  if (!own) return null;
  const { task, schema, loaded } = own;
  return schema.keys
    .filter((k) => loaded.sources[k.path] !== "default")
    .filter((k) => JSON.stringify(valueAt(loaded.config, k.path)) !== JSON.stringify(k.default))
    .map((k) =>
      `${k.path}: the file has ${JSON.stringify(valueAt(loaded.config, k.path))} (${loaded.sources[k.path]}), ` +
      `deno task ${task} uses ${JSON.stringify(k.default)}`
    );
}

Deno.test("shipped configs: each loads under exactly one task's schema (every key it sets is known)", async () => {
  const names = shippedConfigs();
  assert(names.length >= 4, `configs/ holds the shipped files: ${names.join(", ")}`);
  for (const name of names) {
    const { accepted, refused } = await loadUnderEachTask(new URL(name, CONFIGS).pathname);
    const tasks = accepted.map((a) => a.task);
    assertEquals(
      tasks.length,
      1,
      `configs/${name} must load under exactly one task; accepted by [${tasks}], refused by:\n${refused.join("\n")}`,
    );
  }
});

Deno.test("shipped configs: a task's default file (name = the schema's default name) holds exactly the defaults", async () => {
  const checked: string[] = [];
  for (const name of shippedConfigs()) {
    const drift = await driftFromDefaults(new URL(name, CONFIGS).pathname);
    if (drift === null) continue;
    checked.push(name);
    assertEquals(drift, [], `configs/${name} declares itself a task's default run (by its name) but differs`);
  }
  assert(checked.includes("ddpm-default.yaml"), `ddpm-default.yaml is checked as a default (checked: ${checked})`);
});

Deno.test("shipped configs: a default file that drifted from the code is caught, key by key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/ddpm-default.yaml`;
    const text = await Deno.readTextFile(new URL("ddpm-default.yaml", CONFIGS));
    const drifted = text.replace(/^( {2}epochs:) \d+$/m, "$1 999");
    assert(drifted !== text, "the file sets train.epochs");
    await Deno.writeTextFile(file, drifted);
    const drift = await driftFromDefaults(file);
    assertEquals(drift?.length, 1, String(drift));
    assert(drift![0].startsWith("train.epochs: the file has 999 ("), drift![0]);
    // Another name: not a default file, so not held to the defaults.
    await Deno.writeTextFile(file, drifted.replace(/^name: .*$/m, "name: my-run"));
    assertEquals(await driftFromDefaults(file), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
