/**
 * `deno task train-vae` and `deno task encode-latents` as functions (tasks/train_vae.ts and
 * tasks/encode_latents.ts call them with `Deno.args`; tests call them directly).
 * @module
 */
import { patchDiscriminatorOutputSide } from "../../models/patch_discriminator.ts";
import { ConfigError } from "../../train/config.ts";
import type { RunDir } from "../../train/run_dir.ts";
import type { InterruptController } from "../../train/signals.ts";
import { parseTaskArgs } from "../lib/args.ts";
import { checkModelFits, inPreparedRun, prepareRunWith } from "../common/run_setup.ts";
import { openVolumeData, saveVolumeDataInfo, type VolumeData } from "../common/volume_data.ts";
import { resolveMaisiVAEConfig } from "../../models/vae3d.ts";
import { type VaeConfig, vaeSchema } from "./config.ts";
import { buildVae, trainVae, type VaeTrainResult } from "./trainer.ts";
import { encodeLatents, type LatentInfo } from "./latents.ts";
import { loadCheckpoint } from "../../train/checkpoint.ts";
import { loadConfig } from "../../train/config.ts";
import { openRunDir } from "../../train/run_dir.ts";
import { joinPath } from "../../util/path.ts";
import { evaluationCheckpoint } from "../common/evaluation.ts";

/** What `deno task encode-latents` wrote. */
export interface EncodeLatentsResult {
  dir: string;
  info: LatentInfo;
}

/**
 * `deno task encode-latents --vae <run> [--out <dir>] [--checkpoint best|latest|file] [--data.key v …]`:
 * encodes every split of the VAE run's data (or the data the overrides name) into a latent folder
 * (default `<run>/latents`) and prints it; null after `--help`.
 */
export async function encodeLatentsCommand(
  argv: readonly string[],
  quiet = false,
): Promise<EncodeLatentsResult | null> {
  const args = parseTaskArgs(argv, {
    name: "encode-latents",
    description: "Encodes volumes with a trained 3-D VAE into a latent folder (means, log-variances, labels, " +
      "per-channel statistics) for deno task train-dit3d.",
    options: {
      vae: { description: "the VAE run folder (required)", valueName: "dir" },
      out: { description: "output folder (default: <vae run>/latents)", valueName: "dir" },
      checkpoint: { description: "best (default), latest, or a checkpoint file", valueName: "which", default: "best" },
    },
    schema: vaeSchema,
  });
  if (args.help) {
    console.log(args.helpText);
    return null;
  }
  if (!args.options.vae) throw new ConfigError(["--vae <dir> is required (a run of deno task train-vae)"]);
  const run = await openRunDir(args.options.vae);
  const cfg =
    (await loadConfig(vaeSchema, { file: run.configPath, overrides: args.overrides, taskOptions: args.known }))
      .config;
  const data = await openVolumeData(cfg.data, cfg.seed);
  const checkpoint = await evaluationCheckpoint(run, args.options.checkpoint!);
  const vae = buildVae(cfg, data.channels);
  try {
    await loadCheckpoint(checkpoint, { model: vae, restoreRng: false });
    vae.eval();
    const dir = args.options.out ?? joinPath(run.path, "latents");
    const info = await encodeLatents(vae, data, dir, { run: run.path, checkpoint }, cfg.train.batchSize);
    if (!quiet) {
      console.log(
        `latents ${info.shape.join("×")} of ${Object.entries(info.counts).map(([k, n]) => `${n} ${k}`).join(", ")} ` +
          `volumes in ${dir}`,
      );
    }
    return { dir, info };
  } finally {
    vae.dispose();
  }
}

/** What `deno task train-vae` did. */
export interface TrainVaeResult {
  run: RunDir;
  result: VaeTrainResult;
}

/** The model section must build, and the volumes must divide by its downsampling. */
function checkVaeFits(cfg: VaeConfig, data: VolumeData): void {
  const m = cfg.model, shape = `${data.size.join("×")} volumes`;
  const resolve = () =>
    resolveMaisiVAEConfig({
      numChannels: m.numChannels,
      numResBlocks: m.numResBlocks,
      normNumGroups: m.normNumGroups,
      latentChannels: m.latentChannels,
    });
  checkModelFits(cfg, shape, resolve);
  const factor = resolve().downsampleFactor, patch = cfg.train.patchSize;
  if (patch.length !== 0 && (patch.length !== 3 || patch.some((p, i) => p > data.size[i] || p % factor !== 0))) {
    throw new ConfigError([
      `train.patchSize [${patch}]: expected [] or three sides (D, H, W), each at most the ${shape}' side and a ` +
      `multiple of the levels' downsampling, ${factor}`,
    ]);
  }
  const trainSide = Math.min(...(patch.length ? patch : data.size));
  if (cfg.loss.advWeight > 0 && patchDiscriminatorOutputSide(trainSide, cfg.loss.discLayers) < 1) {
    throw new ConfigError([
      `loss.discLayers ${cfg.loss.discLayers}: the discriminator downsamples the ${
        patch.length ? `[${patch}] training crops` : shape
      } to nothing (fewer layers, or loss.advWeight 0)`,
    ]);
  }
  const { perceptualWeight, perceptualNetwork } = cfg.loss;
  if ((perceptualWeight > 0) !== (perceptualNetwork !== "")) {
    throw new ConfigError([
      perceptualWeight > 0
        ? `loss.perceptualWeight ${perceptualWeight} needs loss.perceptualNetwork: a safetensors file of a 2-D ResNet ` +
          `in torchvision's names (no pretrained network can be downloaded here)`
        : `loss.perceptualNetwork ${perceptualNetwork} is set but loss.perceptualWeight is 0: give the term a weight, ` +
          `or drop the network`,
    ]);
  }
  if (data.size.some((s) => s % factor !== 0)) {
    throw new ConfigError([
      `model.numChannels: ${m.numChannels.length} levels downsample by ${factor}, which does not divide the ${shape}`,
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
    description:
      "Trains the MAISI 3-D VAE (L1 + KL, optionally adversarial) on volumes; keeps the best checkpoint by " +
      "validation L1.",
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
