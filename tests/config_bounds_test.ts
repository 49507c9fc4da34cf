/**
 * Untrusted configuration values and files (issue #13): every number is finite, integers are
 * capped, obvious bounds hold, the batch fits the data (checked before a run folder is made), and
 * every YAML failure — an alias bomb included — is a ConfigError naming the file.
 */
import { classifierSchema } from "../tasks/classify/config.ts";
import { trainClassifierCommand } from "../tasks/classify/commands.ts";
import { trainCommand } from "../tasks/ddpm/commands.ts";
import { ddpmSchema } from "../tasks/ddpm/config.ts";
import { checkUNetFits } from "../tasks/ddpm/model.ts";
import { openImageData } from "../tasks/common/data.ts";
import { describeTaskError } from "../tasks/lib/args.ts";
import {
  ConfigError,
  type ConfigSchema,
  loadConfig,
  MAX_CONFIG_FILE_BYTES,
  parseConfigOption,
  resolveConfig,
} from "../train/config.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { withTempDir } from "./_util.ts";

// deno-lint-ignore no-explicit-any
const SCHEMAS: [string, ConfigSchema<any>][] = [["train", ddpmSchema], ["train-classifier", classifierSchema]];

/** The problems of resolving `overrides` (or `yaml`) under `schema`. */
// deno-lint-ignore no-explicit-any
function problems(schema: ConfigSchema<any>, overrides: string[], yaml?: string): readonly string[] {
  const e = assertThrows(() => resolveConfig(schema, { overrides, yaml, fileName: "x.yaml" }), ConfigError);
  return (e as ConfigError).problems;
}

async function entries(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("config bounds: --train.batchSize 1e20 --train.epochs 1e300 are refused, naming the key and the bound", () => {
  for (const [task, schema] of SCHEMAS) {
    const p = problems(schema, ["--train.batchSize", "1e20", "--train.epochs", "1e300"]);
    assertEquals(p, [
      "train.batchSize: expected an integer <= 2147483647, got 100000000000000000000 " +
      "(from the command line (--train.batchSize 1e20))",
      "train.epochs: expected an integer <= 2147483647, got 1e+300 (from the command line (--train.epochs 1e300))",
    ], task);
  }
});

Deno.test("config bounds: an infinite or NaN number fails at load time (YAML .inf, --x inf), not in the optimizer", () => {
  for (const [task, schema] of SCHEMAS) {
    assertEquals(problems(schema, [], "train:\n  lr: .inf\n"), [
      "train.lr: expected a finite number, got Infinity (from x.yaml line 2)",
    ], task);
    assertEquals(problems(schema, ["--train.clipGradNorm", "inf"]), [
      "train.clipGradNorm: expected a finite number, got Infinity (from the command line (--train.clipGradNorm inf))",
    ]);
    assertEquals(
      problems(schema, [], "train:\n  weightDecay: .nan\n")[0].split(" (from")[0],
      [
        "train.weightDecay: expected a number, got NaN (number)",
      ][0],
    );
    assertEquals(problems(schema, ["--train.epochs", "-inf"]).length, 1);
  }
});

Deno.test("config bounds: integers, positive and [0, 1] where the key needs it; list elements too", () => {
  const cases: [string[], string][] = [
    [["--train.lr", "0"], "train.lr: expected a number > 0, got 0"],
    [["--train.batchSize", "2.5"], "train.batchSize: expected an integer, got 2.5 (number)"],
    [["--train.logEvery", "0"], "train.logEvery: expected an integer >= 1, got 0"],
    [["--train.checkpointEverySteps", "4294967296"], "train.checkpointEverySteps: expected an integer <= 2147483647"],
    [["--train.concurrency", "1e9"], "train.concurrency: expected an integer <= 1024"],
    [["--train.emaDecay", "1.5"], "train.emaDecay: expected a number <= 1, got 1.5"],
    [["--train.labelDropout", "-0.1"], "train.labelDropout: expected a number >= 0, got -0.1"],
    [["--seed", "-1"], "seed: expected an integer >= 0, got -1"],
    [["--seed", "1e20"], "seed: expected an integer <= 2147483647"],
    [["--data.imageSize", "1e6"], "data.imageSize: expected an integer <= 4096, got 1000000"],
    [["--data.length", "1e12"], "data.length: expected an integer <= 10000000"],
    [["--model.channelMults", "1,1e12"], "model.channelMults: expected an integer <= 64, got 1000000000000 (in [1,"],
    [["--train.lrMilestones", "5,1e40"], "train.lrMilestones: expected an integer <= 2147483647"],
    [["--diffusion.numTrainTimesteps", "1e9"], "diffusion.numTrainTimesteps: expected an integer <= 100000"],
    [["--sample.perClass", "1e9"], "sample.perClass: expected an integer <= 4096"],
  ];
  for (const [argv, want] of cases) {
    const p = problems(ddpmSchema, argv);
    assertEquals(p.length, 1, p.join("\n"));
    assert(p[0].startsWith(want), `${argv.join(" ")}: ${p[0]}`);
  }
  const p = problems(classifierSchema, ["--evaluate.eceBins", "1e9", "--evaluate.bootstrap", "1e12"]);
  assert(p[0].startsWith("evaluate.bootstrap: expected an integer <= 1000000") || p[0].startsWith("evaluate.eceBins"));
  assertEquals(p.length, 2);
});

Deno.test("config bounds: task options standing for keys (sample --steps, evaluate --bootstrap) are checked as the key", () => {
  assertEquals(parseConfigOption(ddpmSchema, "sample.steps", "steps", "25"), 25);
  assertEquals(parseConfigOption(ddpmSchema, "sample.guidance", "guidance", "1.5"), 1.5);
  assertThrows(
    () => parseConfigOption(ddpmSchema, "sample.steps", "steps", "1e20"),
    ConfigError,
    "--steps (sample.steps): expected an integer <= 100000, got 100000000000000000000",
  );
  assertThrows(
    () => parseConfigOption(ddpmSchema, "sample.guidance", "guidance", "inf"),
    ConfigError,
    "--guidance (sample.guidance): expected a finite number, got Infinity",
  );
  assertThrows(
    () => parseConfigOption(classifierSchema, "evaluate.bootstrap", "bootstrap", "many"),
    ConfigError,
    "--bootstrap (evaluate.bootstrap): expected an integer",
  );
});

Deno.test("config bounds: sample.steps beyond diffusion.numTrainTimesteps fails before training, not after it", async () => {
  const { config } = resolveConfig(ddpmSchema, {
    overrides: ["--data.length=16", "--data.imageSize=8", "--model.attentionResolutions=[4]", "--sample.steps=2000"],
  });
  const data = await openImageData(config.data, 0);
  assertThrows(
    () => checkUNetFits(config, data),
    ConfigError,
    "sample.steps 2000 exceeds diffusion.numTrainTimesteps 1000",
  );
});

Deno.test("config bounds: a batch larger than the training set fails once the data is open, before any folder", async () => {
  await withTempDir("config_bounds_", async (root) => {
    const out = `${root}/runs`;
    const tiny = ["--data.length=16", "--data.imageSize=8", `--output.root=${out}`];
    const e = await assertRejects(
      () => trainCommand([...tiny, "--model.attentionResolutions=[4]", "--train.batchSize=1000"], true),
      ConfigError,
      "train.batchSize 1000 (from the command line (--train.batchSize 1000)) exceeds the 14 training samples of the data",
    );
    assertEquals(describeTaskError(e).exitCode, 2);
    await assertRejects(
      () => trainClassifierCommand([...tiny, "--train.batchSize=15"], true),
      ConfigError,
      "exceeds the 14 training samples",
    );
    await assertRejects(
      () => trainClassifierCommand([...tiny, "--train.batchSize=4", "--train.gradAccumulation=4"], true),
      ConfigError,
      "exceeds the 3 batches of 4 in an epoch (14 training samples)",
    );
    const file = `${root}/big-batch.yaml`;
    await Deno.writeTextFile(file, "train:\n  batchSize: 64\n");
    await assertRejects(
      () => trainCommand(["--config", file, ...tiny, "--model.attentionResolutions=[4]"], true),
      ConfigError,
      `train.batchSize 64 (from ${file} line 2) exceeds`,
    );
    assertEquals(await entries(root), ["big-batch.yaml"], "no run folder (not even output.root) was made");
  });
});

Deno.test("config YAML: an alias bomb (billion laughs) is a ConfigError naming the file and line", async () => {
  await withTempDir("config_bounds_", async (dir) => {
    const file = `${dir}/lol.yaml`;
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i), name = String.fromCharCode(97 + i);
      lines.push(`${name}: &${name} [${new Array(9).fill(`*${prev}`).join(",")}]`);
    }
    lines.push("train:\n  lr: *i");
    await Deno.writeTextFile(file, lines.join("\n") + "\n");
    const e = await assertRejects(() => loadConfig(ddpmSchema, { file }), ConfigError) as ConfigError;
    const bomb = e.problems.find((p) => p.includes("alias"));
    assert(bomb, e.message);
    assert(bomb.startsWith(`${file} line `), bomb);
    assert(bomb.includes("alias bomb"), bomb);
    assert(!e.problems.some((p) => p.includes("ReferenceError")), e.message);
  });
});

Deno.test("config YAML: syntax errors, duplicate keys, a non-mapping top level and a huge file are ConfigErrors naming the file", async () => {
  await withTempDir("config_bounds_", async (dir) => {
    const cases: [string, string][] = [
      ["train:\n  lr: [1, 2\n", "YAML syntax error"],
      ["train:\n  lr: 0.1\n  lr: 0.2\n", "line 3"],
      ["- 1\n- 2\n", "expected a mapping of keys at the top level"],
      ["\t- x: [\n", "YAML syntax error"],
    ];
    for (const [i, [text, want]] of cases.entries()) {
      const file = `${dir}/c${i}.yaml`;
      await Deno.writeTextFile(file, text);
      const e = await assertRejects(() => loadConfig(ddpmSchema, { file }), ConfigError) as ConfigError;
      assert(e.problems.every((p) => p.startsWith(file)), e.message);
      assert(e.message.includes(want), `${JSON.stringify(text)}: ${e.message}`);
    }
    const dup = await assertRejects(
      () => loadConfig(ddpmSchema, { file: `${dir}/c1.yaml` }),
      ConfigError,
    );
    assert(/unique/i.test(dup.message), dup.message);
    const big = `${dir}/big.yaml`;
    await Deno.writeTextFile(big, "# " + "x".repeat(MAX_CONFIG_FILE_BYTES) + "\n");
    await assertRejects(() => loadConfig(ddpmSchema, { file: big }), ConfigError, `cannot read the config file ${big}`);
    await assertRejects(() => loadConfig(ddpmSchema, { file: dir }), ConfigError, "it is not a file");
  });
});
