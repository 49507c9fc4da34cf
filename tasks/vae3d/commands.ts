/**
 * `deno task train-vae` as a function (tasks/train_vae.ts calls it with `Deno.args`; tests call it
 * directly).
 * @module
 */
import { ConfigError } from "../../train/config.ts";
import type { RunDir } from "../../train/run_dir.ts";
import type { InterruptController } from "../../train/signals.ts";
import { OptionError } from "../../util/errors.ts";
import { parseTaskArgs } from "../lib/args.ts";
import { inPreparedRun, prepareRunWith } from "../common/run_setup.ts";
import { openVolumeData, saveVolumeDataInfo, type VolumeData } from "../common/volume_data.ts";
import { resolveMaisiVAEConfig } from "../../models/vae3d.ts";
import { type VaeConfig, vaeSchema } from "./config.ts";
import { trainVae, type VaeTrainResult } from "./trainer.ts";

/** What `deno task train-vae` did. */
export interface TrainVaeResult {
  run: RunDir;
  result: VaeTrainResult;
}

/** The model section must build, and the volumes must divide by its downsampling. */
function checkVaeFits(cfg: VaeConfig, data: VolumeData): void {
  const m = cfg.model;
  let factor: number;
  try {
    factor = resolveMaisiVAEConfig({
      numChannels: m.numChannels,
      numResBlocks: m.numResBlocks,
      normNumGroups: m.normNumGroups,
      latentChannels: m.latentChannels,
    }).downsampleFactor;
  } catch (e) {
    if (e instanceof OptionError) throw new ConfigError([`model.${e.option.replace(/\[\d+\]$/, "")}: ${e.problem}`]);
    throw e;
  }
  if (data.size.some((s) => s % factor !== 0)) {
    throw new ConfigError([
      `model.numChannels: ${m.numChannels.length} levels downsample by ${factor}, which does not divide the ` +
      `volumes' size ${data.size.join("×")}`,
    ]);
  }
}

/** `deno task train-vae [--config f] [--resume r] [--key.path v …]`; null after `--help`. */
export async function trainVaeCommand(
  argv: readonly string[],
  quiet = false,
  interrupts?: InterruptController,
): Promise<TrainVaeResult | null> {
  const args = parseTaskArgs(argv, {
    name: "train-vae",
    description: "Trains the MAISI 3-D VAE (L1 + KL) on volumes; keeps the best checkpoint by validation L1.",
    options: {
      config: {
        description: "YAML configuration file (defaults: a tiny VAE on procedural volumes)",
        valueName: "file",
      },
      resume: { description: "continue a run: its folder or one of its checkpoints", valueName: "run|checkpoint" },
    },
    schema: vaeSchema,
  });
  if (args.help) {
    console.log(args.helpText);
    return null;
  }
  const prepared = await prepareRunWith(args, vaeSchema, quiet, {
    open: (cfg) => openVolumeData(cfg.data, cfg.seed),
    save: saveVolumeDataInfo,
  }, checkVaeFits);
  const { cfg, data, run, log, resumeFrom, onResumed } = prepared;
  return await inPreparedRun(prepared, async () => {
    const result = await trainVae(cfg, data, run, log, { resumeFrom, quiet, interrupts, onResumed });
    log.info(
      `trained ${result.step} steps in ${result.epochsDone} epochs (${result.seconds.toFixed(0)} s); ` +
        `best validation ${cfg.train.selectMetric} ${result.best?.toFixed(4) ?? "n/a"}`,
    );
    return { run, result };
  });
}
