/**
 * How tasks fail: every error becomes one line on stderr with exit code 1 (2 for a bad
 * configuration), the stack only with `--debug`; once a run folder exists the error is in its
 * `train.log` too, and a folder that never reached a checkpoint is removed. A configuration that
 * cannot work on its data (attention at a size the U-Net never reaches, heads that do not divide
 * the channels, a ViT patch that does not divide the image) fails before any folder is made,
 * naming the key — on `--resume` too. (Tests cannot spawn processes: `runTask` gets a stand-in
 * exit and stderr.)
 */
import { zipSync } from "fflate";
import { checkClassifierFits } from "../tasks/classify/model.ts";
import { classifierSchema } from "../tasks/classify/config.ts";
import { openImageData } from "../tasks/common/data.ts";
import { inPreparedRun, prepareRun } from "../tasks/common/run_setup.ts";
import { trainCommand } from "../tasks/ddpm/commands.ts";
import { ddpmSchema } from "../tasks/ddpm/config.ts";
import { checkUNetFits } from "../tasks/ddpm/model.ts";
import { describeTaskError, errorLine, formatTaskHelp, parseTaskArgs, runTask } from "../tasks/lib/args.ts";
import { ConfigError, loadConfig } from "../train/config.ts";
import { CAN_RUN, skippableTest } from "./_skip.ts";
import { hasCheckpoint } from "../train/run_dir.ts";
import { DatasetError } from "../util/errors.ts";
import { encodeNpy } from "../util/formats/npy.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { withTempDir } from "./_util.ts";

/** Runs `main` through runTask with `argv`, returning what it printed and the exit code it asked for. */
async function run(main: () => unknown, argv: string[] = []): Promise<{ printed: string[]; code: number | null }> {
  const printed: string[] = [];
  let code: number | null = null;
  await runTask(main, { argv, print: (t) => printed.push(t), exit: (c) => (code = c) });
  return { printed, code };
}

async function entries(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

/** A MedMNIST-layout `.npz` of 28×28 greyscale images (2 classes) in its three splits. */
async function writeMedmnist28(path: string, perSplit = 8): Promise<void> {
  const files: Record<string, Uint8Array> = {};
  for (const split of ["train", "val", "test"]) {
    const n = perSplit, pixels = Uint8Array.from({ length: n * 28 * 28 }, (_, i) => (i * 37) & 255);
    files[`${split}_images.npy`] = encodeNpy({ dtype: "uint8", shape: [n, 28, 28], data: pixels });
    files[`${split}_labels.npy`] = encodeNpy({
      dtype: "uint8",
      shape: [n, 1],
      data: Array.from({ length: n }, (_, i) => i % 2),
    });
  }
  await Deno.writeFile(path, zipSync(files));
}

// --- item: one line, exit code, --debug ------------------------------------------------------

Deno.test("describeTaskError: ConfigError → exit 2 with its problems; other errors → exit 1, one line, stack only with debug", () => {
  const cfg = describeTaskError(new ConfigError(["train.epochs must be ≥ 1, got 0"]));
  assertEquals(cfg.exitCode, 2);
  assertEquals(
    cfg.message,
    "error: train.epochs must be ≥ 1, got 0\n(run with --help to list the options and config keys)",
  );
  const e = new DatasetError("data/x.png", "not a PNG file");
  const plain = describeTaskError(e);
  assertEquals(plain, { message: "error: data/x.png: not a PNG file", exitCode: 1 });
  const debug = describeTaskError(e, true);
  assertEquals(debug.exitCode, 1);
  assert(debug.message.startsWith("error: data/x.png: not a PNG file\n"), debug.message);
  assert(debug.message.includes("task_errors_test.ts"), "the stack names where the error came from");
  // A built-in JavaScript error (a bug) keeps its name and points at --debug.
  const bug = describeTaskError(new TypeError("x.shape is undefined"));
  assertEquals(bug.message, "error: TypeError: x.shape is undefined (run with --debug for the stack trace)");
  assertEquals(describeTaskError("a string").message, "error: a string");
  // The cause is part of the line, once.
  assertEquals(
    errorLine(new Error("cannot save the checkpoint", { cause: new Error("disk full") })),
    "cannot save the checkpoint (disk full)",
  );
  assertEquals(errorLine(new Error("open a: disk full", { cause: new Error("disk full") })), "open a: disk full");
});

Deno.test("runTask: prints the report and exits 1 or 2; --debug adds the stack; success exits 0", async () => {
  const ok = await run(() => {});
  assertEquals(ok, { printed: [], code: 0 });
  const bad = await run(() => {
    throw new ConfigError(["unknown config key --train.epoch"]);
  });
  assertEquals(bad.code, 2);
  assertEquals(bad.printed.length, 1);
  assert(bad.printed[0].startsWith("error: unknown config key --train.epoch\n"), bad.printed[0]);
  const failed = await run(() => Promise.reject(new Error("the GPU was lost")), ["--data.path", "x"]);
  assertEquals(failed, { printed: ["error: the GPU was lost"], code: 1 });
  const debug = await run(() => Promise.reject(new Error("the GPU was lost")), ["--debug", "--train.lr", "1"]);
  assertEquals(debug.code, 1);
  assert(/^error: the GPU was lost\nError: the GPU was lost\n\s+at /.test(debug.printed[0]), debug.printed[0]);
  // After `--` it is an argument, not the flag.
  assertEquals((await run(() => Promise.reject(new Error("x")), ["--", "--debug"])).printed, ["error: x"]);
});

Deno.test("parseTaskArgs: --debug is every task's flag (not a config override) and --help lists it", () => {
  const a = parseTaskArgs(["--debug", "--train.lr", "0.1"], { name: "train" });
  assert(a.debug && a.flags.debug);
  assertEquals(a.overrides, ["--train.lr", "0.1"]);
  assertEquals(a.name, "train");
  assertEquals(parseTaskArgs(["--debug=false"], {}).debug, false);
  assert(/--debug\s+on an error, show its stack trace/.test(formatTaskHelp({ name: "train" })));
  assertThrows(
    () => parseTaskArgs([], { flags: { debug: { description: "" } } }),
    TypeError,
    "flag debug is defined twice",
  );
});

// --- item: train.log and no half-made folder --------------------------------------------------

const TINY = ["--data.length=16", "--data.imageSize=8", "--model.attentionResolutions=[4]", "--train.batchSize=4"];

function prepare(argv: string[]) {
  const args = parseTaskArgs(argv, {
    name: "train",
    options: { config: { description: "" }, resume: { description: "" } },
  });
  return prepareRun(args, ddpmSchema, true);
}

Deno.test("inPreparedRun: a run that fails before its first checkpoint is removed; the error is thrown on", async () => {
  await withTempDir("task_errors_", async (root) => {
    const prepared = await prepare([...TINY, `--output.root=${root}`]);
    assert(prepared.created);
    assertEquals((await entries(root)).length, 1, "prepareRun made the folder");
    await assertRejects(
      () =>
        inPreparedRun(prepared, () => {
          throw new DatasetError(`${root}/img.png`, "truncated PNG");
        }),
      DatasetError,
      "truncated PNG",
    );
    assertEquals(await entries(root), [], "the untrained folder is gone");
  });
});

Deno.test("inPreparedRun: a run with a checkpoint is kept, the error and its stack go to train.log with the resume command", async () => {
  await withTempDir("task_errors_", async (root) => {
    const prepared = await prepare([...TINY, `--output.root=${root}`]);
    const { run } = prepared;
    const out = await inPreparedRun(prepared, () => Promise.resolve(7));
    assertEquals(out, 7, "the work's result");
    const again = await prepare([...TINY, `--output.root=${root}`]);
    await Deno.writeFile(`${again.run.checkpointsDir}/ckpt-000003.safetensors`, new Uint8Array(8));
    assert(await hasCheckpoint(again.run));
    await assertRejects(
      () => inPreparedRun(again, () => Promise.reject(new Error("loss is NaN at step 4"))),
      Error,
      "loss is NaN",
    );
    const log = await Deno.readTextFile(again.run.logPath);
    const lines = log.trimEnd().split("\n");
    assert(lines.some((l) => / ERROR loss is NaN at step 4$/.test(l)), log);
    assert(lines.some((l) => / DEBUG\s+at /.test(l)), `the stack is in the log as DEBUG lines:\n${log}`);
    assert(
      log.includes(`continue it with: deno task train --resume ${again.run.path}`),
      `the log says how to resume:\n${log}`,
    );
    // The first run (it finished) was left alone; a successful run closes its log.
    assert((await entries(root)).includes(run.name));
    assertThrows(() => prepared.log.info("x"), Error, "after close");
  });
});

Deno.test("inPreparedRun: a resumed run is never removed, even without a periodic checkpoint", async () => {
  await withTempDir("task_errors_", async (root) => {
    const first = await prepare([...TINY, `--output.root=${root}`]);
    first.log.close();
    // A checkpoint file given to --resume directly, outside checkpoints/.
    const ckpt = `${first.run.path}/extra/ckpt.safetensors`;
    await Deno.mkdir(`${first.run.path}/extra`);
    await Deno.writeFile(ckpt, new Uint8Array(8));
    const resumed = await prepare(["--resume", ckpt]);
    assertEquals(resumed.created, false);
    await assertRejects(() => inPreparedRun(resumed, () => Promise.reject(new Error("boom"))), Error, "boom");
    assertEquals(await entries(root), [first.run.name]);
    assert((await Deno.readTextFile(first.run.logPath)).includes("ERROR boom"));
  });
});

// --- item: a config that cannot work on its data fails before the folder, naming the key ------

Deno.test("deno task train: attention at a size the U-Net never reaches (28×28 MedMNIST) fails before any folder", async () => {
  await withTempDir("task_errors_", async (root) => {
    const npz = `${root}/tiny.npz`;
    await writeMedmnist28(npz);
    const out = `${root}/runs`;
    const e = await assertRejects(
      () => trainCommand(["--data.dataset=medmnist", `--data.path=${npz}`, `--output.root=${out}`], true),
      ConfigError,
      "model.attentionResolutions [8]",
    );
    assert(e.message.includes("28×28×1 images"), e.message);
    assert(e.message.includes("[28,14]"), `the reachable sizes: ${e.message}`);
    assertEquals(describeTaskError(e).exitCode, 2);
    assertEquals(await entries(root), ["tiny.npz"], "no run folder (not even output.root) was made");
    // With an attention size it reaches, the same data passes the check.
    const { config } = await loadConfig(ddpmSchema, {
      overrides: ["--data.dataset=medmnist", `--data.path=${npz}`, "--model.attentionResolutions=[14]"],
    });
    checkUNetFits(config, await openImageData(config.data, 0));
  });
});

Deno.test("deno task train: heads that do not divide an attention block's channels name model.numHeads", async () => {
  await withTempDir("task_errors_", async (root) => {
    await assertRejects(
      () => trainCommand([...TINY, "--model.numHeads=3", `--output.root=${root}`], true),
      ConfigError,
      "model.numHeads 3 cannot work on the data (8×8×3 images, 4 classes): numHeads 3 must be a positive divisor of 64",
    );
    assertEquals(await entries(root), []);
  });
});

Deno.test("deno task train --resume: the check runs against the run's data too, and leaves the run as it was", async () => {
  await withTempDir("task_errors_", async (root) => {
    const npz = `${root}/tiny.npz`;
    await writeMedmnist28(npz);
    const first = await prepare([
      "--data.dataset=medmnist",
      `--data.path=${npz}`,
      "--model.attentionResolutions=[14]",
      "--train.batchSize=4",
      `--output.root=${root}/runs`,
    ]);
    first.log.close();
    const ckpt = `${first.run.checkpointsDir}/ckpt-000001.safetensors`;
    await Deno.writeFile(ckpt, new Uint8Array(8));
    const before = await entries(first.run.path), log = await Deno.readTextFile(first.run.logPath);
    await assertRejects(
      () => trainCommand(["--resume", first.run.path, "--model.attentionResolutions=[8]"], true),
      ConfigError,
      "model.attentionResolutions [8]",
    );
    assertEquals(await entries(first.run.path), before);
    assertEquals(await Deno.readTextFile(first.run.logPath), log, "nothing was logged: the run did not start");
  });
});

Deno.test("train-classifier: a ViT patch that does not divide the image names model.patchSize", async () => {
  const { config } = await loadConfig(classifierSchema, {
    overrides: ["--model.arch=vitS16", "--model.patchSize=5", "--data.length=16"],
  });
  const data = await openImageData(config.data, 0);
  assertThrows(
    () => checkClassifierFits(config, data),
    ConfigError,
    "model.patchSize 5 cannot work on the data (28×28×3 images, 4 classes): imageSize 28 is not divisible by patchSize 5",
  );
  checkClassifierFits({ ...config, model: { ...config.model, patchSize: 7 } }, data);
  checkClassifierFits({ ...config, model: { ...config.model, arch: "resnet18", patchSize: 5 } }, data);
});

skippableTest({
  name: "meddiff: a command ends through _exit with its code, everything written (no exit-time destructors)",
  skip: !CAN_RUN && "--allow-run",
  fn: async () => {
    await withTempDir("meddiff_exit_", async (dir) => {
      const run = async (...args: string[]) => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", new URL("../meddiff.ts", import.meta.url).pathname, ...args],
          env: { MEDDIFF_AUTOTUNE: "0", XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
          stdout: "piped",
          stderr: "piped",
        }).output();
        return { code: out.code, text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr) };
      };
      const trained = await run(
        "train-classifier",
        "--data.length=24",
        "--data.imageSize=8",
        "--train.epochs=1",
        "--train.batchSize=6",
        `--output.root=${dir}`,
      );
      assertEquals(trained.code, 0, trained.text);
      assert(trained.text.includes("trained 3 steps"), "the last log line reached stdout before _exit");
      const runDir = [...Deno.readDirSync(dir)][0].name;
      const log = await Deno.readTextFile(`${dir}/${runDir}/train.log`);
      assert(log.trimEnd().split("\n").at(-1)!.includes("evaluate with: deno task evaluate"), "and train.log");
      const bad = await run("train-classifier", "--train.epoch=1");
      assertEquals(bad.code, 2, bad.text);
    });
  },
});
