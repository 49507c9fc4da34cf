/**
 * The DiffMIC-v2 workflow end to end on the tiny shipped configs (procedural fundus images,
 * 16 px, 3 classes): `train-dcg` → `train-diffmic --model.dcg` → `evaluate` (DiffMIC-v2 beside
 * its DCG on the same images; both must reach test accuracy 0.8) → `explain-diffmic`; the same on the DCG's
 * features (`model.encoders: dcg`); a denoiser run interrupted and resumed ends
 * bit-identical to an uninterrupted one; bad input fails before a folder is made.
 */
import { evaluateCommand } from "../tasks/classify/commands.ts";
import { trainDcgCommand, trainDiffmicCommand } from "../tasks/diffmic/commands.ts";
import { explainDiffmicCommand } from "../tasks/diffmic/explain.ts";
import { ConfigError } from "../train/config.ts";
import { joinPath } from "../util/path.ts";
import { assert, assertEquals, assertRejects } from "./_asserts.ts";
import { gpuTest, withTempDir } from "./_util.ts";

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
        ["--config", DIFFMIC, "--model.dcg", dcg.run.path, `--output.root=${root}`],
        true,
      );
      assert(den);
      assertEquals(den.result.epochsDone, 4);
      // Predicting x₀ (the config's diffusion.prediction), the denoiser reaches validation macro F1 0.93 in its
      // 4 epochs (measured; ε-prediction stays near chance that long).
      assert(den.result.best! >= 0.8, `denoiser validation macro F1 ${den.result.best}`);
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
      assert(cmp.diffmic.accuracy.value >= 0.8, `DiffMIC-v2 test accuracy ${cmp.diffmic.accuracy.value}`);
      assert(cmp.imagesPerSecond > 0);
      const ex = await explainDiffmicCommand(["--run", den.run.path, "--count", "2"], true);
      assertEquals(ex!.files.length, 2);
      for (const f of ex!.files) assert((await Deno.stat(joinPath(ex!.outDir, f))).size > 1000, `${f} is a figure`);
      // model.encoders: dcg — no trunks of its own, the frozen DCG's features projected: validation macro F1 0.97
      // after 4 epochs (measured); its run evaluates alone (the trunk-less denoiser is rebuilt from the run).
      const shared = await trainDiffmicCommand(
        ["--config", DIFFMIC, "--model.dcg", dcg.run.path, "--model.encoders", "dcg", `--output.root=${root}`],
        true,
      );
      assert(
        shared && shared.result.best! >= 0.8,
        `denoiser on DCG features: validation macro F1 ${shared?.result.best}`,
      );
      const evShared = await evaluateCommand(["--run", shared.run.path, "--bootstrap", "0"], true);
      assert(
        evShared!.metrics.accuracy.value >= 0.8,
        `on DCG features: test accuracy ${evShared!.metrics.accuracy.value}`,
      );
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

// In a fresh process, as a resumed run is: in this long-lived test process the comparison failed in
// 2 of 5 full-suite runs (1-ulp differences; never in 20+ runs of this file alone) — a cross-test effect
// not yet explained.
gpuTest(
  "train-diffmic: interrupted and resumed, it ends bit-identical to an uninterrupted run",
  () =>
    withTempDir("diffmic_resume_", async (root) => {
      const child = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL("./_diffmic_resume_child.ts", import.meta.url).pathname, root],
        env: { MEDDIFF_AUTOTUNE: "0", XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(child.stdout);
      const line = out.split("\n").find((l) => l.startsWith("RESUME "));
      assert(child.success && line, `child failed (${child.code}):\n${out}\n${new TextDecoder().decode(child.stderr)}`);
      const r = JSON.parse(line.slice(7));
      assertEquals(r.interrupted, "SIGTERM");
      assertEquals(r.cutStep, 1);
      assertEquals(r.resumedStep, r.straightStep);
      assertEquals(r.differ, [], `${r.differ.length} of ${r.tensors} tensors differ after resuming`);
    }),
);
