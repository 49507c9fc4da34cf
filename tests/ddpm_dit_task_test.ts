/**
 * `deno task train --model.arch dit`: a tiny DiT (DiT-S width, one block, 4-pixel patches on
 * procedural 8×8 images) trains through the DDPM task exactly as the U-Net does — run folder,
 * checkpoints, sample grids — resumes as a DiT from the run's saved config, refuses a resume
 * into the other architecture, and `deno task sample` rebuilds the DiT from the run. A patch
 * size that does not divide the image size fails before any folder is made.
 */
import { sampleCommand, trainCommand } from "../tasks/ddpm/commands.ts";
import { DiT } from "../models/dit.ts";
import { ConfigError } from "../train/config.ts";
import { assert, assertEquals, assertRejects } from "./_asserts.ts";
import { gpuTest, withTempDir } from "./_util.ts";

const TINY_DIT = [
  "--model.arch=dit",
  "--model.ditSize=S",
  "--model.patchSize=4",
  "--model.ditDepth=1",
  "--data.length=48",
  "--data.imageSize=8",
  "--data.valFraction=0.25",
  "--train.batchSize=12",
  "--train.logEvery=1",
  "--sample.steps=2",
  "--sample.perClass=1",
  "--sample.progressionSteps=2",
];

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

gpuTest(
  "deno task train --model.arch dit: trains, checkpoints, resumes and samples a DiT through the task",
  () =>
    withTempDir("ddpm_dit_", async (root) => {
      const out = await trainCommand([...TINY_DIT, "--train.epochs=1", `--output.root=${root}`], true);
      assert(out, "a result");
      const { run, result, samples } = out;
      assert(result.unet instanceof DiT, "model.arch dit builds a DiT");
      const dit = result.unet as DiT;
      assertEquals([dit.config.hiddenSize, dit.config.numHeads, dit.config.depth, dit.config.patchSize], [
        384,
        6,
        1,
        4,
      ]);
      assertEquals([dit.config.inputSize, dit.config.inChannels, dit.config.numClasses], [8, 3, 4]);
      assertEquals(result.step, 3, "3 batches of 12 in the epoch");
      assert(result.bestValLoss !== null && Number.isFinite(result.bestValLoss), "validated");
      assertEquals(await files(run.checkpointsDir), ["best.safetensors", "ckpt-000003.safetensors"]);
      assertEquals(samples.length, 7, samples.join(", "));
      const log = await Deno.readTextFile(run.logPath);
      assert(log.includes("DiT-S/4 (1 block)"), "the log names the DiT");
      assert((await Deno.readTextFile(run.configPath)).includes("arch: dit"), "the run's config keeps model.arch");

      // The checkpoint holds a DiT: resuming it as a U-Net is refused, resuming as saved continues.
      const ckpt = `${run.checkpointsDir}/ckpt-000003.safetensors`;
      await assertRejects(
        () => trainCommand(["--resume", ckpt, "--model.arch=unet", "--no-sample"], true),
        Error,
        "architecture",
      );
      const resumed = await trainCommand(["--resume", run.path, "--train.epochs=2", "--no-sample"], true);
      assert(resumed && resumed.result.unet instanceof DiT);
      assertEquals(resumed.run.path, run.path);
      assertEquals(resumed.result.step, 6);

      // deno task sample builds the DiT from the run's config and loads its EMA weights.
      const s = await sampleCommand(["--run", run.path, "--steps", "2", "--per-class", "2"], true);
      assert(s && s.checkpoint.endsWith("best.safetensors"));
      assertEquals(s.files.length, 7);

      // Checked against the data before a folder is made: 3-pixel patches do not tile 8×8 images.
      const bad = `${root}/bad`;
      await assertRejects(
        () => trainCommand([...TINY_DIT, "--model.patchSize=3", `--output.root=${bad}`], true),
        ConfigError,
        "model.patchSize 3 cannot work on the data (8×8×3 images, 4 classes): inputSize 8 is not divisible by patchSize 3",
      );
      await assertRejects(() => trainCommand(["--model.arch=vit"], true), ConfigError, "model.arch");
      await assertRejects(() => trainCommand(["--model.ditSize=XL"], true), ConfigError, "model.ditSize");
      assertEquals(await Deno.stat(bad).then(() => true, () => false), false, "no run folder was made");
    }),
);
