/**
 * The DDPM workflow end to end on a tiny configuration (procedural 8×8 images, a small U-Net):
 * `deno task train` writes a complete run folder and sample grids, resuming continues the run
 * bit for bit, `deno task sample` writes the PNGs (and an image folder), the shipped configs
 * resolve, and bad input fails before any training starts.
 */
import { sampleCommand, trainCommand } from "../tasks/ddpm/commands.ts";
import { classifyCommand } from "../tasks/ddpm/classify.ts";
import { explainCommand } from "../tasks/ddpm/explain.ts";
import { ddpmSchema } from "../tasks/ddpm/config.ts";
import { ConfigError, loadConfig } from "../train/config.ts";
import { readJsonl } from "../train/run_dir.ts";
import { decodePng } from "../util/png.ts";
import { assert, assertEquals, assertRejects } from "./_asserts.ts";
import { assertSameState, gpuTest, interruptAtFirstStep, TINY_UNET, withFixedKernels, withTempDir } from "./_util.ts";

const TINY = [
  "--data.length=48",
  "--data.imageSize=8",
  "--data.valFraction=0.25",
  ...TINY_UNET,
  "--train.batchSize=12",
  "--train.logEvery=1",
  "--sample.steps=3",
  "--sample.perClass=2",
  "--sample.progressionSteps=3",
];

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

gpuTest(
  "deno task train: a tiny run writes config, log, metrics, TensorBoard events, checkpoints and samples",
  async () => {
    const root = await Deno.makeTempDir();
    try {
      const out = await trainCommand([...TINY, "--train.epochs=2", `--output.root=${root}`], true);
      assert(out, "a result");
      const { run, result, samples } = out;
      assertEquals(result.step, 6, "3 batches of 12 per epoch × 2 epochs");
      assert(result.bestValLoss !== null && Number.isFinite(result.bestValLoss), "validated");
      const names = await files(run.path);
      for (
        const f of ["config.yaml", "data.json", "split.json", "metrics.jsonl", "train.log", "checkpoints", "samples"]
      ) {
        assert(names.includes(f), `${f} in the run folder (${names.join(", ")})`);
      }
      assert(names.some((n) => n.startsWith("events.out.tfevents.")), "a TensorBoard event file");
      assertEquals(await files(run.checkpointsDir), [
        "best.safetensors",
        "ckpt-000003.safetensors",
        "ckpt-000006.safetensors",
      ]);
      assertEquals(samples, [
        "class-0-normal.png",
        "class-1-microaneurysms.png",
        "class-2-exudates.png",
        "class-3-laser_scars.png",
        "grid-all-classes.png",
        "progression.png",
        "unconditional.png",
      ]);
      const metrics = await readJsonl(run.metricsPath);
      assertEquals(metrics.filter((m) => "train_loss" in m).length, 6, "a loss per step at logEvery 1");
      assertEquals(metrics.filter((m) => "val_loss" in m).length, 2);
      const log = await Deno.readTextFile(run.logPath);
      assert(log.includes("epoch 2/2"), "the log has the epoch summaries");

      // deno task sample: the grids from the best checkpoint (x̂₀ dynamically thresholded), and the
      // images as a class-folder dataset.
      const images = `${root}/generated`;
      const s = await sampleCommand(
        ["--run", run.path, "--steps", "2", "--per-class", "3", "--images", images, "--thresholding"],
        true,
      );
      assert(s && s.checkpoint.endsWith("best.safetensors"));
      assertEquals(s.files.length, 7);
      assertEquals(await files(images), ["exudates", "laser_scars", "microaneurysms", "normal"]);
      assertEquals((await files(`${images}/normal`)).length, 3);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
);

gpuTest(
  "deno task train --resume continues the run exactly (same weights as an uninterrupted run)",
  () =>
    withFixedKernels(() =>
      withTempDir("ddpm_resume_", async (root) => {
        const args = [...TINY, `--output.root=${root}`, "--no-sample"];
        const straight = await trainCommand([...args, "--train.epochs=2"], true);
        const first = await trainCommand([...args, "--train.epochs=2", "--train.checkpointEvery=1"], true);
        assert(straight && first);
        // Cut the second run back to its first checkpoint, then resume it to the end.
        await Deno.remove(`${first.run.checkpointsDir}/ckpt-000006.safetensors`);
        await Deno.remove(`${first.run.checkpointsDir}/best.safetensors`);
        const ckpt = first.run.checkpointsDir + "/ckpt-000003.safetensors";
        await assertRejects(
          () => trainCommand(["--resume", ckpt, "--model.baseChannels=16", "--no-sample"], true),
          Error,
          "architecture",
        );
        const resumed = await trainCommand(["--resume", ckpt, "--no-sample"], true);
        assert(resumed);
        assertEquals(resumed.run.path, first.run.path, "the same run folder");
        assertEquals(resumed.result.step, 6);
        await assertSameState(straight.result.unet, resumed.result.unet, "after resuming");
      })
    ),
);

gpuTest(
  "deno task train: Ctrl-C saves a checkpoint mid-epoch, and --resume finishes the run exactly",
  () =>
    withFixedKernels(() =>
      withTempDir("ddpm_ctrlc_", async (root) => {
        const args = [...TINY, `--output.root=${root}`, "--no-sample", "--train.epochs=2"];
        const straight = await trainCommand(args, true);
        // A Ctrl-C that arrives as soon as training registers its handler: the loop stops after one step.
        const cut = await trainCommand(args, true, interruptAtFirstStep());
        assert(straight && cut);
        assert(cut.result.interrupted, "stopped by the interrupt");
        assertEquals(cut.result.step, 1);
        assertEquals([...Deno.readDirSync(cut.run.checkpointsDir)].map((e) => e.name), ["ckpt-000001.safetensors"]);
        const resumed = await trainCommand(["--resume", cut.run.path, "--no-sample"], true);
        assert(resumed);
        assertEquals(resumed.result.step, 6);
        await assertSameState(straight.result.unet, resumed.result.unet, "after an interrupted run is resumed");
      })
    ),
);

gpuTest("shipped configs resolve; bad keys, types and data paths fail before training", async () => {
  for await (const e of Deno.readDir(new URL("../configs/", import.meta.url))) {
    if (!e.name.startsWith("ddpm-")) continue;
    const file = new URL(`../configs/${e.name}`, import.meta.url).pathname;
    const { config } = await loadConfig(ddpmSchema, { file });
    assert(config.name.startsWith("ddpm-"), `${e.name} resolves`);
  }
  const root = await Deno.makeTempDir();
  try {
    await assertRejects(() => trainCommand(["--train.epoch=3"], true), ConfigError, "train.epochs");
    await assertRejects(() => trainCommand(["--train.batchSize=big"], true), ConfigError, "train.batchSize");
    await assertRejects(
      () => trainCommand(["--data.dataset=medmnist", `--data.path=${root}/missing.npz`, `--output.root=${root}`], true),
      ConfigError,
      "does not exist",
    );
    assertEquals(await files(root), [], "no run folder was made");
    await assertRejects(() => sampleCommand(["--run", `${root}/nope`], true), Error, "nope");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

gpuTest(
  "deno task train with the diffusion classifier paper's options: shifted cosine, continuous time, SNR weight",
  async () => {
    const root = await Deno.makeTempDir();
    try {
      const paper = [
        "--diffusion.betaSchedule=shifted_cosine",
        "--diffusion.logSnrShift=1.5",
        "--diffusion.timeSampling=continuous",
        "--diffusion.lossWeight=snr-clamped",
        "--train.labelDropout=0.15",
      ];
      const out = await trainCommand([...TINY, ...paper, "--train.epochs=1", `--output.root=${root}`], true);
      assert(out && out.result.bestValLoss !== null && Number.isFinite(out.result.bestValLoss), "validated");
      const resolved = await Deno.readTextFile(`${out.run.path}/config.yaml`);
      assert(resolved.includes("timeSampling: continuous"), "the run records its objective");
      // The run's DDIM sampler uses the same log-SNR schedule (as trained betas).
      const s = await sampleCommand(["--run", out.run.path, "--steps", "2", "--per-class", "1"], true);
      assertEquals(s?.files.length, 7);
      // Continuous time is defined on the log-SNR schedule only: refused before a run folder exists.
      const bad = `${root}/bad`;
      await assertRejects(
        () => trainCommand([...TINY, "--diffusion.timeSampling=continuous", `--output.root=${bad}`], true),
        ConfigError,
        "diffusion.timeSampling continuous needs diffusion.betaSchedule shifted_cosine",
      );
      assert(!(await Deno.stat(bad).then(() => true, () => false)), "no run folder was made");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
);

gpuTest("diffusion.wavelet: train, sample, classify and explain run on the Haar bands and return images", async () => {
  await withTempDir("meddiff-wavelet-", async (root) => {
    const out = await trainCommand(
      [...TINY, "--diffusion.wavelet=true", "--train.epochs=1", `--output.root=${root}`],
      true,
    );
    assert(out && Number.isFinite(out.result.bestValLoss ?? NaN), "validated");
    const run = out.run.path;
    // The model diffuses 4×4 bands with 4× the channels; what comes out is 8×8 pixels.
    await sampleCommand(["--run", run, "--steps", "2", "--per-class", "1", "--images", `${root}/gen`], true);
    const classDir = `${root}/gen/${(await files(`${root}/gen`))[0]}`;
    const img = await decodePng(`${classDir}/${(await files(classDir))[0]}`);
    assertEquals([img.width, img.height], [8, 8], "samples come back in pixel space");
    const c = await classifyCommand(
      ["--run", run, "--trials", "2", "--limit", "4", "--no-calibration", "--bootstrap", "0", "--out", `${root}/c`],
      true,
    );
    assertEquals(c!.temperature, 1);
    const rows = (await Deno.readTextFile(`${root}/c/predictions.csv`)).trim().split("\n");
    assertEquals(rows.length, 5, "header and four images");
    const ex = await explainCommand(
      ["--run", run, "--count", "1", "--trials", "2", "--steps", "4", "--out", `${root}/e`],
      true,
    );
    assertEquals(ex!.files.length, 2, "one panel and explain.json");
  });
});
