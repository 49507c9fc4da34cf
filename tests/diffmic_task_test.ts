/**
 * The DiffMIC-v2 workflow end to end on the tiny shipped configs (procedural fundus images,
 * 16 px, 3 classes): `train-dcg` → `train-diffmic --model.dcg` → `evaluate` (DiffMIC-v2 beside
 * its DCG on the same images) → `explain-diffmic`; a denoiser run interrupted and resumed ends
 * bit-identical to an uninterrupted one; bad input fails before a folder is made.
 */
import { evaluateCommand } from "../tasks/classify/commands.ts";
import { trainDcgCommand, trainDiffmicCommand } from "../tasks/diffmic/commands.ts";
import { explainDiffmicCommand } from "../tasks/diffmic/explain.ts";
import { ConfigError } from "../train/config.ts";
import { joinPath } from "../util/path.ts";
import { assert, assertEquals, assertRejects } from "./_asserts.ts";
import { assertSameState, gpuTest, interruptAtFirstStep, withTempDir } from "./_util.ts";

const DCG = new URL("../configs/dcg-tiny.yaml", import.meta.url).pathname;
const DIFFMIC = new URL("../configs/diffmic-tiny.yaml", import.meta.url).pathname;

gpuTest(
  "DiffMIC-v2 workflow: train-dcg → train-diffmic → evaluate (with the DCG row) → explain",
  () =>
    withTempDir("diffmic_e2e_", async (root) => {
      const dcg = await trainDcgCommand(["--config", DCG, `--output.root=${root}`], true);
      assert(dcg);
      // The tiny DCG learns the procedural lesions: validation macro F1 0.95 after its 4 epochs (measured).
      assert(dcg.result.best! >= 0.8, `DCG validation macro F1 ${dcg.result.best}`);
      const den = await trainDiffmicCommand(
        ["--config", DIFFMIC, "--model.dcg", dcg.run.path, "--train.epochs=2", `--output.root=${root}`],
        true,
      );
      assert(den);
      assertEquals(den.result.epochsDone, 2);
      const ev = await evaluateCommand(["--run", den.run.path, "--bootstrap", "20"], true);
      assert(ev);
      for (const f of ["metrics.json", "predictions.csv", "comparison.md", "comparison.json", "dcg/metrics.json"]) {
        assert(ev.files.includes(f), `${f} written`);
      }
      const cmp = JSON.parse(await Deno.readTextFile(joinPath(ev.outDir, "comparison.json")));
      assertEquals(cmp.samples, 96);
      // The DCG row is the same network's prediction on the same images as its own run's evaluation.
      const own = await evaluateCommand(["--run", dcg.run.path, "--bootstrap", "0"], true);
      assertEquals(cmp.dcgAlone.accuracy.value, own!.metrics.accuracy.value);
      assert(own!.metrics.accuracy.value >= 0.8, `DCG test accuracy ${own!.metrics.accuracy.value}`);
      assert(cmp.imagesPerSecond > 0);
      const ex = await explainDiffmicCommand(["--run", den.run.path, "--count", "2"], true);
      assertEquals(ex!.files.length, 2);
      for (const f of ex!.files) assert((await Deno.stat(joinPath(ex!.outDir, f))).size > 1000, `${f} is a figure`);
      await assertRejects(
        () => trainDiffmicCommand(["--config", DIFFMIC, `--output.root=${root}`], true),
        ConfigError,
        "model.dcg",
      );
      await assertRejects(
        () => trainDiffmicCommand(["--config", DIFFMIC, "--model.dcg", root, `--output.root=${root}`], true),
        ConfigError,
        "model.dcg",
      );
    }),
);

gpuTest(
  "train-diffmic: interrupted and resumed, it ends bit-identical to an uninterrupted run",
  () =>
    withTempDir("diffmic_resume_", async (root) => {
      const small = ["--data.length=96", "--train.batchSize=16"];
      const dcg = await trainDcgCommand(["--config", DCG, ...small, "--train.epochs=1", `--output.root=${root}`], true);
      assert(dcg);
      const args = [
        "--config",
        DIFFMIC,
        ...small,
        "--model.dcg",
        dcg.run.path,
        "--train.epochs=2",
        `--output.root=${root}`,
      ];
      const straight = await trainDiffmicCommand(args, true);
      const cut = await trainDiffmicCommand(args, true, interruptAtFirstStep("SIGTERM"));
      assert(straight && cut);
      assertEquals(cut.result.interrupted, "SIGTERM");
      assertEquals(cut.result.step, 1);
      const resumed = await trainDiffmicCommand(["--resume", cut.run.path], true);
      assert(resumed);
      assertEquals(resumed.result.step, straight.result.step);
      await assertSameState(straight.result.model, resumed.result.model, "after resuming");
    }),
);
