/**
 * `deno task train-dit3d` as a function (tasks/train_dit3d.ts calls it with `Deno.args`; tests
 * call it directly).
 * @module
 */
import { ConfigError } from "../../train/config.ts";
import type { RunDir } from "../../train/run_dir.ts";
import type { InterruptController } from "../../train/signals.ts";
import { writeJsonAtomic } from "../../util/io.ts";
import { joinPath } from "../../util/path.ts";
import { parseTaskArgs } from "../lib/args.ts";
import { checkModelFits, inPreparedRun, prepareRunWith } from "../common/run_setup.ts";
import { LatentDataset } from "../vae3d/latents.ts";
import { type Dit3dConfig, dit3dSchema } from "./config.ts";
import { dit3dOptions, type Dit3dTrainResult, trainDit3d } from "./trainer.ts";
import { resolveDiT3DConfig } from "../../models/dit3d.ts";

/** What `deno task train-dit3d` did. */
export interface TrainDit3dResult {
  run: RunDir;
  result: Dit3dTrainResult;
}

type Latents = { train: LatentDataset; val: LatentDataset };

async function openLatents(cfg: Dit3dConfig): Promise<Latents> {
  const path = cfg.latents.path;
  if (!path) {
    throw new ConfigError(["--latents <dir> (or latents.path) is required: a folder of deno task encode-latents"]);
  }
  try {
    return { train: await LatentDataset.open(path, "train"), val: await LatentDataset.open(path, "val") };
  } catch (e) {
    throw new ConfigError([`latents.path ${path}: ${e instanceof Error ? e.message : e}`]);
  }
}

/** The model section must build on the latents (patches dividing the grid, width, heads, windows). */
function checkDit3dFits(cfg: Dit3dConfig, data: Latents): void {
  const info = data.train.info;
  checkModelFits(cfg, `latents of shape ${info.shape.join("×")}`, () => resolveDiT3DConfig(dit3dOptions(cfg, info)));
}

/** `deno task train-dit3d [--config f] [--latents dir] [--resume r] [--key.path v …]`; null after `--help`. */
export async function trainDit3dCommand(
  argv: readonly string[],
  quiet = false,
  interrupts?: InterruptController,
): Promise<TrainDit3dResult | null> {
  const args = parseTaskArgs(argv, {
    name: "train-dit3d",
    description: "Trains a DiT3D (3-D window attention, classifier-free guidance) on the latents of a 3-D VAE.",
    options: {
      config: { description: "YAML configuration file", valueName: "file" },
      latents: { description: "the latent folder (deno task encode-latents); sets latents.path", valueName: "dir" },
      resume: { description: "continue a run: its folder or one of its checkpoints", valueName: "run|checkpoint" },
    },
    schema: dit3dSchema,
  });
  if (args.help) {
    console.log(args.helpText);
    return null;
  }
  const withLatents = args.options.latents
    ? { ...args, overrides: [...args.overrides, `--latents.path=${args.options.latents}`] }
    : args;
  const prepared = await prepareRunWith(withLatents, dit3dSchema, quiet, {
    open: openLatents,
    // The latents' statistics and shape travel with the run: sample-3d undoes the standardisation.
    save: (run, d) => writeJsonAtomic(joinPath(run.path, "latents.json"), d.train.info),
  }, checkDit3dFits);
  const { cfg, data, run, log, resumeFrom, onResumed } = prepared;
  return await inPreparedRun(prepared, async () => {
    const result = await trainDit3d(cfg, data, run, log, { resumeFrom, quiet, interrupts, onResumed });
    log.info(
      `trained ${result.step} steps in ${result.epochsDone} epochs (${result.seconds.toFixed(0)} s); ` +
        `best validation loss ${result.best?.toFixed(4) ?? "n/a"}`,
    );
    return { run, result };
  });
}
