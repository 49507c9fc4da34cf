/**
 * `deno task classify` end to end on a tiny DDPM run (procedural 8×8 images, 4 classes): τ is
 * fitted on validation images, the evaluation files and the classifier's own outputs are
 * written and agree with each other, `deno task explain` writes counterfactual panels, and bad
 * options fail with a ConfigError naming them.
 */
import { classifyCommand, type ClassifyCommandResult } from "../tasks/ddpm/classify.ts";
import { trainCommand } from "../tasks/ddpm/commands.ts";
import { explainCommand } from "../tasks/ddpm/explain.ts";
import { ConfigError } from "../train/config.ts";
import { assert, assertEquals, assertRejects } from "./_asserts.ts";
import { captureWarnings, gpuTest, TINY_UNET, withTempDir } from "./_util.ts";

const TINY = [
  "--data.length=48",
  "--data.imageSize=8",
  "--data.valFraction=0.25",
  ...TINY_UNET,
  "--train.batchSize=12",
  "--train.epochs=1",
];

gpuTest("deno task classify and explain: calibrated probabilities, uncertainty, counterfactual panels", async () => {
  await withTempDir("meddiff-classify-", async (root) => {
    const trained = await trainCommand([...TINY, `--output.root=${root}`, "--no-sample"], true);
    const run = trained!.run.path;
    const out = `${root}/classify`;
    const common = ["--run", run, "--trials", "3", "--limit", "6", "--val-limit", "8", "--bootstrap", "10"];
    // Six images cannot hold every class: the bootstrap's balanced accuracy warns about that.
    const classify = async (argv: string[]) => {
      const box: { r?: ClassifyCommandResult | null } = {};
      await captureWarnings(async () => box.r = await classifyCommand(argv, true));
      assert(box.r, "a result");
      return box.r;
    };
    const r = await classify([...common, "--out", out]);
    for (
      const f of [
        "metrics.json",
        "report.txt",
        "predictions.csv",
        "confusion.png",
        "diffusion_classifier.json",
        "trials.csv",
        "calibration.png",
        "risk_coverage.png",
      ]
    ) assert(r.files.includes(f), `${f} written (${r.files.join(", ")})`);
    const info = JSON.parse(await Deno.readTextFile(`${out}/diffusion_classifier.json`));
    assertEquals(info.images, 6);
    assertEquals(info.trials, 3);
    assertEquals(info.calibration.images, 8);
    assert(info.calibration.val_nll_after <= info.calibration.val_nll_before + 1e-12, "τ does not raise the val NLL");
    assert(info.temperature > 0 && Number.isFinite(info.temperature), `τ ${info.temperature}`);
    assert(info.seconds_per_image > 0, "timed");
    const trials = (await Deno.readTextFile(`${out}/trials.csv`)).trim().split("\n");
    assertEquals(trials.length, 7, "header and one row per image");
    const header = trials[0].split(",");
    const predictions = (await Deno.readTextFile(`${out}/predictions.csv`)).trim().split("\n").slice(1);
    trials.slice(1).forEach((line, i) => {
      const cells = line.split(",");
      const votes = header.flatMap((h, k) => (h.startsWith("votes_") ? [Number(cells[k])] : []));
      assertEquals(votes.reduce((a, b) => a + b, 0), 3, "three votes per image");
      assertEquals(predictions[i].split(",")[2], cells[2], "the same prediction in both files");
    });
    // The same seed gives the same decisions; options are checked.
    const again = await classify([...common, "--no-calibration", "--out", `${root}/again`]);
    assertEquals(again.temperature, 1);
    const predAgain = (await Deno.readTextFile(`${root}/again/predictions.csv`)).trim().split("\n").slice(1);
    assertEquals(predAgain.map((l) => l.split(",")[2]), predictions.map((l) => l.split(",")[2]));
    // deno task explain: counterfactual panels for the first images, steered to the runner-up.
    const ex = await explainCommand(
      ["--run", run, "--count", "3", "--trials", "3", "--steps", "8", "--out", `${root}/explain`],
      true,
    );
    assertEquals(ex!.files.length, 4, "three panels and explain.json");
    const exInfo = JSON.parse(await Deno.readTextFile(`${root}/explain/explain.json`));
    assertEquals(exInfo.denoising_steps, 4, "t 0.5 of 8 steps");
    for (const row of exInfo.images) {
      assert(row.target !== row.predicted, "steered to another class");
      assert(Number.isFinite(row.mean_abs_difference) && row.mean_abs_difference > 0, "the image changed");
    }
    await assertRejects(() => explainCommand(["--run", run, "--t", "0"], true), ConfigError, "--t");
    await assertRejects(() => classifyCommand(["--run", run, "--vote", "best"], true), ConfigError, "--vote");
    await assertRejects(() => classifyCommand(["--run", run, "--stages", "2:9"], true), ConfigError, "--stages");
    await assertRejects(() => classifyCommand(["--run", run, "--trials", "0"], true), ConfigError, "--trials");
    await assertRejects(() => classifyCommand([], true), ConfigError, "--run");
  });
});
