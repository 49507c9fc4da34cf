/**
 * Task configuration and arguments: schema inference and metadata, YAML merging with line
 * numbers, command-line overrides, every error kind, the resolved-config round trip, and the
 * task argument parser with its generated help.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { ConfigError, configHelp, defineConfig, loadConfig, resolveConfig, suggest } from "../train/config.ts";
import { formatTaskHelp, parseTaskArgs } from "../tasks/lib/args.ts";

const schema = defineConfig({
  model: { arch: "resnet18", channels: [64, 128, 256], dropout: 0.1 },
  train: {
    lr: 1e-4,
    epochs: 10,
    batch_size: 32,
    amp: false,
    resume: null as string | null,
    milestones: [] as number[],
    tags: ["a", "b"],
  },
  data: { root: "data/medmnist", name: "pathmnist", extra: {} },
  seed: 0,
}, {
  "model.arch": { choices: ["resnet18", "resnet50"], help: "backbone" },
  "model.dropout": { min: 0, max: 1 },
  "train.lr": { min: 0, help: "peak learning rate" },
  "train.epochs": { type: "integer", min: 1 },
  "train.resume": { type: "string" },
  "train.milestones": { type: "integer[]" },
  "data.extra": { type: "any" },
  "seed": { type: "integer", nullable: true },
});

/** Runs `fn`, expects a ConfigError, returns its problems. */
function problems(fn: () => unknown): readonly string[] {
  const e = assertThrows(fn, ConfigError);
  return (e as ConfigError).problems;
}

Deno.test("defineConfig: key types come from the defaults, meta refines them", () => {
  const byPath = Object.fromEntries(schema.keys.map((k) => [k.path, k]));
  assertEquals(schema.keys.map((k) => k.path), [
    "model.arch",
    "model.channels",
    "model.dropout",
    "train.lr",
    "train.epochs",
    "train.batch_size",
    "train.amp",
    "train.resume",
    "train.milestones",
    "train.tags",
    "data.root",
    "data.name",
    "data.extra",
    "seed",
  ]);
  assertEquals(byPath["model.channels"].type, "number[]");
  assertEquals(byPath["train.epochs"].type, "integer");
  assertEquals(byPath["train.amp"].type, "boolean");
  assertEquals(byPath["train.resume"].type, "string");
  assertEquals(byPath["train.resume"].nullable, true);
  assertEquals(byPath["train.tags"].type, "string[]");
  assertEquals(byPath["data.extra"].type, "any");
  assertEquals(byPath["model.arch"].choices, ["resnet18", "resnet50"]);
  assert(schema.isSection("model") && schema.isSection("data") && !schema.isSection("seed"));
  // The static type follows the defaults (deno check fails this file otherwise).
  const { config } = resolveConfig(schema);
  const lr: number = config.train.lr;
  const resume: string | null = config.train.resume;
  const channels: number[] = config.model.channels;
  // @ts-expect-error lr is a number, not a string
  const wrong: string = config.train.lr;
  assertEquals([lr, resume, channels, typeof wrong], [1e-4, null, [64, 128, 256], "number"]);
});

Deno.test("defineConfig: errors for untyped null/[] defaults, bad meta and defaults outside their meta", () => {
  assertThrows(() => defineConfig({ a: null }), TypeError, "a defaults to null; give meta type");
  assertThrows(() => defineConfig({ s: { list: [] } }), TypeError, "s.list defaults to []");
  assertThrows(() => defineConfig({ a: [1, "x"] }), TypeError, "every element must be a number");
  assertThrows(
    () => defineConfig({ train: { lr: 1 } }, { "train.lrr": { min: 0 } }),
    TypeError,
    "did you mean train.lr?",
  );
  assertThrows(() => defineConfig({ train: { lr: 1 } }, { train: { min: 0 } }), TypeError, "is a section");
  assertThrows(() => defineConfig({ lr: -1 }, { lr: { min: 0 } }), TypeError, "expected a number >= 0, got -1");
  assertThrows(() => defineConfig({ a: "x" }, { a: { choices: ["y"] } }), TypeError, 'one of "y"');
  assertThrows(() => defineConfig({ "a.b": 1 }), TypeError, "without dots");
});

Deno.test("resolveConfig: YAML deep-merges onto the defaults; sources name file and line", () => {
  const yaml = [
    "# a comment",
    "model:",
    "  arch: resnet50",
    "train:",
    "  lr: 3e-4",
    "  milestones: [30, 60]",
    "train.epochs: 20", // dotted keys work at any level
    "data:",
    "  extra: {flip: true, crop: [32, 32]}",
    "seed: null",
  ].join("\n");
  const r = resolveConfig(schema, { yaml, fileName: "cfg.yaml" });
  assertEquals(r.config.model, { arch: "resnet50", channels: [64, 128, 256], dropout: 0.1 });
  assertEquals(r.config.train.lr, 3e-4);
  assertEquals(r.config.train.epochs, 20);
  assertEquals(r.config.train.milestones, [30, 60]);
  assertEquals(r.config.train.batch_size, 32);
  assertEquals(r.config.data.extra, { flip: true, crop: [32, 32] });
  assertEquals(r.config.seed, null);
  assertEquals(r.sources["model.arch"], "cfg.yaml line 3");
  assertEquals(r.sources["train.epochs"], "cfg.yaml line 7");
  assertEquals(r.sources["train.batch_size"], "default");
  // The schema's defaults are not changed.
  assertEquals(schema.defaults.train.lr, 1e-4);
  assertEquals(schema.defaults.train.milestones, []);
});

Deno.test("resolveConfig: YAML problems name the key, expected type, value and line; all are reported", () => {
  const yaml = [
    "model:",
    "  arch: resnet34",
    "  chanels: [1, 2]",
    "train:",
    "  lr: fast",
    "  epochs: 2.5",
    "  amp: 1",
    "data: 3",
    "sed: 1",
  ].join("\n");
  const p = problems(() => resolveConfig(schema, { yaml, fileName: "bad.yaml" }));
  assertEquals(p, [
    'model.arch: expected one of "resnet18", "resnet50", got "resnet34" (from bad.yaml line 2)',
    "unknown config key model.chanels (from bad.yaml line 3) (did you mean model.channels?)",
    'train.lr: expected a number, got "fast" (string) (from bad.yaml line 5)',
    "train.epochs: expected an integer, got 2.5 (number) (from bad.yaml line 6)",
    "train.amp: expected a boolean, got 1 (number) (from bad.yaml line 7)",
    "data is a section: expected a mapping of its keys, got 3 (number) (from bad.yaml line 8)",
    "unknown config key sed (from bad.yaml line 9) (did you mean seed?)",
  ]);
  const quoted = problems(() => resolveConfig(schema, { yaml: "data:\n  name: 123\n", fileName: "q.yaml" }));
  assertEquals(quoted, [
    "data.name: expected a string, got 123 (number) (quote it to make it a string) (from q.yaml line 2)",
  ]);
});

Deno.test("resolveConfig: YAML syntax errors and a non-mapping document give the line", () => {
  const p = problems(() => resolveConfig(schema, { yaml: "train:\n  lr: [1, 2\nmodel: x\n", fileName: "s.yaml" }));
  assert(p.length >= 1 && p[0].startsWith("s.yaml line "), p.join("\n"));
  assert(p[0].includes("YAML syntax error"), p[0]);
  const dup = problems(() => resolveConfig(schema, { yaml: "seed: 1\nseed: 2\n", fileName: "d.yaml" }));
  assert(dup[0].startsWith("d.yaml line 2") && /unique/i.test(dup[0]), dup[0]);
  const list = problems(() => resolveConfig(schema, { yaml: "- 1\n- 2\n", fileName: "l.yaml" }));
  assertEquals(list, ["l.yaml line 1: expected a mapping of keys at the top level, got [1,2] (a list)"]);
  // An empty file, or one with only comments, changes nothing.
  assertEquals(resolveConfig(schema, { yaml: "# nothing\n" }).config, resolveConfig(schema).config);
  assertEquals(resolveConfig(schema, { yaml: "" }).config.train.lr, 1e-4);
});

Deno.test("resolveConfig: --key value and --key=value overrides, parsed by the key's type", () => {
  const r = resolveConfig(schema, {
    yaml: "train:\n  lr: 0.5\n",
    fileName: "f.yaml",
    overrides: [
      "--train.lr",
      "2e-3",
      "--train.epochs=3",
      "--train.amp",
      "--model.channels",
      "[8, 16]",
      "--train.milestones=5,10,15",
      "--train.tags",
      "x,y z",
      "--train.resume",
      "runs/a b",
      "--data.name=bloodmnist",
      "--seed",
      "null",
      "--data.extra",
      "{a: 1}",
      "--train.batch-size", // dashes for underscores
      "-1",
    ],
  });
  const t = r.config.train;
  assertEquals([t.lr, t.epochs, t.amp, t.milestones, t.tags, t.resume, t.batch_size], [
    2e-3,
    3,
    true,
    [5, 10, 15],
    ["x", "y z"],
    "runs/a b",
    -1,
  ]);
  assertEquals(r.config.model.channels, [8, 16]);
  assertEquals(r.config.data.name, "bloodmnist");
  assertEquals(r.config.seed, null);
  assertEquals(r.config.data.extra, { a: 1 });
  assertEquals(r.sources["train.lr"], "command line (--train.lr 2e-3)");
  // Booleans: bare, --no-, explicit words.
  const b = (o: string[]) => resolveConfig(schema, { overrides: o }).config.train.amp;
  assertEquals([b(["--train.amp"]), b(["--no-train.amp"]), b(["--train.amp", "false"]), b(["--train.amp=no"])], [
    true,
    false,
    false,
    false,
  ]);
  assertEquals(b(["--train.amp", "--train.lr", "1"]), true);
  // Strings stay strings, a single list element is a list, the empty string an empty list.
  assertEquals(resolveConfig(schema, { overrides: ["--data.name", "123"] }).config.data.name, "123");
  assertEquals(resolveConfig(schema, { overrides: ["--train.milestones", "7"] }).config.train.milestones, [7]);
  assertEquals(resolveConfig(schema, { overrides: ["--train.milestones="] }).config.train.milestones, []);
  assertEquals(resolveConfig(schema, { overrides: ["--data.name", '"null"'] }).config.data.name, "null");
});

Deno.test("resolveConfig: override problems name the key, the expectation and the command line", () => {
  const p = problems(() =>
    resolveConfig(schema, {
      overrides: [
        "--train.lr",
        "abc",
        "--train.lrr",
        "1",
        "--train.epochs",
        "0",
        "--model.arch=vgg",
        "--train",
        "--model.dropout",
        "1.5",
        "stray",
        "--seed",
        "1.5",
        "--train.milestones",
        "1,x",
        "--model.channels=[1,",
        "--resum",
        "--train.resume",
      ],
      taskOptions: ["resume", "config"],
    })
  );
  assertEquals(p, [
    'train.lr: expected a number, got "abc" (string) (from the command line (--train.lr abc))',
    "unknown config key --train.lrr (from the command line) (did you mean --train.lr?)",
    "train.epochs: expected an integer >= 1, got 0 (from the command line (--train.epochs 0))",
    'model.arch: expected one of "resnet18", "resnet50", got "vgg" (from the command line (--model.arch vgg))',
    "--train is a section, not a key: give a key inside it, e.g. --train.lr, --train.epochs, --train.batch_size, --train.amp",
    "model.dropout: expected a number <= 1, got 1.5 (from the command line (--model.dropout 1.5))",
    'unexpected argument "stray" (config overrides are written --key.path value)',
    "seed: expected an integer or null, got 1.5 (number) (from the command line (--seed 1.5))",
    'train.milestones: expected a list of integers, got [1,"x"] (a list) (from the command line (--train.milestones 1,x))',
    p[9], // YAML flow error text comes from the yaml package; checked below
    "unknown config key --resum (from the command line) (did you mean --resume?)",
    "--train.resume needs a value: a string or null",
  ]);
  assert(
    p[9].startsWith('model.channels: expected a list of numbers, got "[1,": it is not valid YAML flow syntax'),
    p[9],
  );
  const e = assertThrows(() => resolveConfig(schema, { overrides: ["--x", "1"] }), ConfigError);
  assert(e.message.startsWith("unknown config key --x"), e.message);
});

Deno.test("suggest: close names, same last segment, nothing for far-off names", () => {
  const keys = ["train.lr", "train.epochs", "model.arch", "data.root"];
  assertEquals(suggest("train.epoch", keys), " (did you mean train.epochs?)");
  assertEquals(suggest("lr", keys), " (did you mean train.lr?)");
  assertEquals(suggest("model.arhc", keys), " (did you mean model.arch?)");
  assertEquals(suggest("completely.different", keys), "");
});

Deno.test("toYaml / saveResolvedConfig: atomic, commented, and read back to the same configuration", async () => {
  const dir = await Deno.makeTempDir({ prefix: "config_save_" });
  try {
    const file = `${dir}/in.yaml`;
    await Deno.writeTextFile(file, "train:\n  lr: 0.25\n  tags: ['1e-4', 'true', 'x: y']\n");
    const loaded = await loadConfig(schema, {
      file,
      overrides: ["--model.arch", "resnet50", "--data.extra", "{k: [1, 2]}", "--train.resume", "runs/x"],
    });
    const path = await loaded.saveResolvedConfig(dir);
    assertEquals(path, `${dir}/config.yaml`);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assertEquals(names, ["config.yaml", "in.yaml"]); // no temporary file left
    const text = await Deno.readTextFile(path);
    assert(text.startsWith("# Resolved configuration written by meddiff"), text);
    assert(/arch: resnet50 # command line \(--model\.arch resnet50\)/.test(text), text);
    assert(text.includes(`lr: 0.25 # ${file} line 2`), text);
    const again = await loadConfig(schema, { file: path });
    assertEquals(again.config, loaded.config);
    assertEquals(again.config.train.tags, ["1e-4", "true", "x: y"]);
    assertEquals(resolveConfig(schema, { yaml: resolveConfig(schema).toYaml() }).config, resolveConfig(schema).config);
    await assertRejects(
      () => loadConfig(schema, { file: `${dir}/missing.yaml` }),
      ConfigError,
      "missing.yaml: it does not exist",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseTaskArgs: task flags and options out, everything else kept in order as overrides", () => {
  const spec = {
    name: "train",
    flags: { "dry-run": { description: "stop after resolving the config", alias: "n" } },
    options: {
      config: { description: "YAML config", valueName: "path", alias: "c" },
      resume: { description: "run to resume", valueName: "run", bare: "latest" },
      device: { description: "adapter", default: "auto" },
    },
    schema,
  };
  const a = parseTaskArgs(
    ["-c", "cfg.yaml", "--train.lr", "0.1", "--dry-run", "--train.amp", "--resume", "--model.arch=resnet50", "--", "x"],
    spec,
  );
  assertEquals(a.options, { config: "cfg.yaml", resume: "latest", device: "auto" });
  assertEquals(a.flags, { help: false, debug: false, "dry-run": true });
  assertEquals(a.overrides, ["--train.lr", "0.1", "--train.amp", "--model.arch=resnet50"]);
  assertEquals(a.positionals, ["x"]);
  assertEquals(a.known, ["help", "debug", "dry-run", "config", "resume", "device"]);
  const b = parseTaskArgs(["--resume", "runs/r1", "--config=c.yaml", "-n", "--dry-run=false", "-h"], spec);
  assertEquals(b.options.resume, "runs/r1");
  assertEquals(b.options.config, "c.yaml");
  assertEquals(b.flags["dry-run"], false);
  assert(b.help && b.flags.help);
  assertEquals(parseTaskArgs(["--resume"], spec).options.resume, "latest");
  const p = problems(() => parseTaskArgs(["--config", "--dry-run=maybe"], spec));
  assertEquals(p, [
    "--config needs a value (path): YAML config",
    '--dry-run is a flag: give it alone or as --dry-run=true|false, got "maybe"',
  ]);
  assertThrows(
    () =>
      parseTaskArgs([], {
        flags: { x: { description: "", alias: "c" } },
        options: { y: { description: "", alias: "c" } },
      }),
    TypeError,
    "alias c is defined twice",
  );
  assertThrows(
    () => parseTaskArgs([], { flags: { help: { description: "" } } }),
    TypeError,
    "flag help is defined twice",
  );
});

Deno.test("formatTaskHelp: usage, options and every config key with type and default", () => {
  const help = parseTaskArgs(["--help"], {
    name: "train",
    description: "Trains a classifier.",
    options: { config: { description: "YAML config", valueName: "path" } },
    schema,
  }).helpText;
  assert(help.startsWith("Usage: meddiff train [options]"), help);
  assert(help.includes("Trains a classifier."), help);
  assert(/--config <path>\s+YAML config/.test(help), help);
  for (const k of schema.keys) assert(help.includes(`--${k.path} `), `help lists ${k.path}`);
  assert(/--train\.lr <number>\s+peak learning rate; default 0\.0001; >= 0/.test(help), help);
  assert(/--train\.resume <string\|null>\s+default null/.test(help), help);
  assert(/--train\.amp \[bool\]\s+default false/.test(help), help);
  assert(/--model\.arch <string>\s+backbone; default resnet18; one of resnet18\|resnet50/.test(help), help);
  assertEquals(configHelp(schema).split("\n").length, schema.keys.length);
  assert(!formatTaskHelp({ name: "x" }).includes("Configuration"));
});
