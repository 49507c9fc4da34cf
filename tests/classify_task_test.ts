/**
 * The classifier workflow end to end on a tiny configuration: `deno task train-classifier`
 * (focal loss, class weights, balanced sampling, SGD) writes a run with a best checkpoint, and
 * `deno task evaluate` writes metrics with bootstrap intervals, the report, the predictions CSV
 * and the figures; bad input fails before training.
 */
import { evaluateCommand, trainClassifierCommand } from "../tasks/classify/commands.ts";
import { classifierSchema } from "../tasks/classify/config.ts";
import { ConfigError, loadConfig } from "../train/config.ts";
import { assert, assertEquals, assertRejects } from "./_asserts.ts";
import { assertSameState, gpuTest, interruptAtFirstStep, withFixedKernels, withTempDir } from "./_util.ts";

gpuTest("train-classifier + evaluate: a tiny ResNet-18 run, its metrics, report, predictions and figures", async () => {
  const root = await Deno.makeTempDir();
  try {
    const out = await trainClassifierCommand([
      "--data.length=64",
      "--data.imageSize=8",
      "--data.valFraction=0.25",
      "--train.epochs=1",
      "--train.batchSize=16",
      "--train.loss=focal",
      "--train.classWeights=balanced",
      "--train.balancedSampling=true",
      "--train.optimizer=sgd",
      "--train.lr=0.01",
      "--train.logEvery=1",
      `--output.root=${root}`,
    ], true);
    assert(out);
    assertEquals(out.result.step, 3, "48 training images, batches of 16");
    assert(out.result.best !== null, "validated once");
    const names = [...Deno.readDirSync(out.run.checkpointsDir)].map((e) => e.name).sort();
    assertEquals(names, ["best.safetensors", "ckpt-000003.safetensors"]);

    const ev = await evaluateCommand(["--run", out.run.path, "--bootstrap", "50"], true);
    assert(ev);
    assertEquals(ev.files, [
      "metrics.json",
      "report.txt",
      "predictions.csv",
      "roc.png",
      "confusion.png",
      "curves.png",
    ]);
    const m = ev.metrics;
    for (const k of ["accuracy", "macro_f1", "auroc", "qwk", "ece"]) {
      const lo = k === "qwk" ? -1 : 0; // kappa can be below chance
      assert(m[k].value >= lo && m[k].value <= 1, `${k} in [${lo}, 1]: ${m[k].value}`);
      assert(m[k].lower! <= m[k].value + 1e-12 && m[k].value <= m[k].upper! + 1e-12, `${k} inside its interval`);
    }
    const csv = (await Deno.readTextFile(`${ev.outDir}/predictions.csv`)).trim().split("\n");
    assertEquals(csv[0], "id,true,predicted,p_normal,p_microaneurysms,p_exudates,p_laser scars");
    assertEquals(csv.length, 1 + 64, "one row per test image (procedural test set: 64)");
    const json = JSON.parse(await Deno.readTextFile(`${ev.outDir}/metrics.json`));
    assertEquals(json.split, "test");
    assertEquals(json.confusion_matrix.flat().reduce((a: number, b: number) => a + b, 0), 64);
    assert(json.seconds_per_image > 0 && Number.isFinite(json.seconds_per_image), "the prediction pass is timed");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

gpuTest("train-classifier: shipped configs resolve; bad input fails before training", async () => {
  for await (const e of Deno.readDir(new URL("../configs/", import.meta.url))) {
    if (/^(ddpm|dcg|diffmic|vae3d|dit3d)-/.test(e.name)) continue; // other workflows' configs (tests/config_defaults_test.ts)
    const { config } = await loadConfig(classifierSchema, {
      file: new URL(`../configs/${e.name}`, import.meta.url).pathname,
    });
    assert(config.model.arch.length > 0, `${e.name} resolves`);
  }
  const root = await Deno.makeTempDir();
  try {
    await assertRejects(() => trainClassifierCommand(["--model.arch=resnet99"], true), ConfigError, "model.arch");
    await assertRejects(
      () => trainClassifierCommand([`--model.pretrained=${root}/none.safetensors`, `--output.root=${root}`], true),
      ConfigError,
      "model.pretrained",
    );
    await assertRejects(() => evaluateCommand(["--run", root, "--split", "dev"], true), ConfigError, "--split");
    assertEquals([...Deno.readDirSync(root)], [], "no run folder was made");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

gpuTest(
  "train-classifier (OneCycle): interrupted mid-epoch and resumed, it ends bit-identical to an uninterrupted run",
  () =>
    withFixedKernels(() =>
      withTempDir("classify_resume_", async (root) => {
        const args = [
          "--data.length=48",
          "--data.imageSize=8",
          "--data.valFraction=0.25",
          "--train.epochs=2",
          "--train.batchSize=16",
          "--train.lrSchedule=onecycle",
          `--output.root=${root}`,
        ];
        const straight = await trainClassifierCommand(args, true);
        // SIGTERM as soon as training watches for it: the loop stops after step 1 of 2 in epoch 1.
        const cut = await trainClassifierCommand(args, true, interruptAtFirstStep("SIGTERM"));
        assert(straight && cut);
        assertEquals(cut.result.interrupted, "SIGTERM");
        assertEquals(cut.result.step, 1);
        const resumed = await trainClassifierCommand(["--resume", cut.run.path], true);
        assert(resumed);
        assertEquals(resumed.result.step, 4, "OneCycle's 4 steps, not more");
        await assertSameState(straight.result.model, resumed.result.model, "after resuming");
      })
    ),
);
