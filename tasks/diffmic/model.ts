/**
 * The DiffMIC-v2 networks of a run, built from its configuration: the guidance network (DCG)
 * of a `train-dcg` run, and the denoiser of a `train-diffmic` run. A denoiser run keeps a copy
 * of the frozen DCG it was trained with (`dcg.safetensors` + `dcg.json`), so it evaluates alone.
 * @module
 */
import { loadSafetensors, saveSafetensors } from "../../core/nn/safetensors.ts";
import { Dcg, type GlobalTrunk } from "../../models/dcg.ts";
import { DiffMicDenoiser, type TrunkOptions } from "../../models/diffmic.ts";
import { loadCheckpoint } from "../../train/checkpoint.ts";
import { bestCheckpointPath } from "../../train/checkpoint_files.ts";
import { ConfigError, loadConfig } from "../../train/config.ts";
import { openRunDir, type RunDir } from "../../train/run_dir.ts";
import { writeJsonAtomic } from "../../util/io.ts";
import { dirName, joinPath } from "../../util/path.ts";
import { type DcgConfig, dcgSchema, type DiffmicConfig } from "./config.ts";

/** The DCG of a `model` section for `channels`-channel images of `numClasses` classes. */
export function buildDcg(m: DcgConfig["model"], channels: number, numClasses: number): Dcg {
  const globalTrunk: GlobalTrunk = m.globalArch === "efficientnetB0"
    ? { arch: "efficientnetB0" }
    : { arch: m.globalArch as TrunkOptions["arch"], smallInput: m.smallInput, baseWidth: m.baseWidth };
  return new Dcg({
    numClasses,
    inChannels: channels,
    numK: m.numK,
    cropSize: m.cropSize,
    cropChannels: m.cropChannels as "all" | "first",
    topFraction: m.topFraction,
    globalTrunk,
    localTrunk: { arch: m.localArch as TrunkOptions["arch"], smallInput: m.smallInput, baseWidth: m.localBaseWidth },
    attentionDim: m.attentionDim,
  });
}

/**
 * The denoiser of a DiffMIC-v2 run on top of `prior` (its crop geometry, and with
 * `model.encoders: dcg` its trunk features, replace the denoiser's own trunks).
 */
export function buildDenoiser(
  cfg: DiffmicConfig,
  prior: Pick<LoadedDcg, "dcg" | "model">,
  channels: number,
  numClasses: number,
): DiffMicDenoiser {
  const dcgModel = prior.model;
  return new DiffMicDenoiser({
    numClasses,
    numK: dcgModel.numK,
    featureDim: cfg.model.featureDim,
    timesteps: cfg.diffusion.timesteps,
    inChannels: channels,
    cropChannels: dcgModel.cropChannels === "first" ? 1 : channels,
    encoder: {
      arch: cfg.model.encoderArch as TrunkOptions["arch"],
      smallInput: dcgModel.smallInput,
      baseWidth: cfg.model.encoderBaseWidth,
    },
    dcgFeatures: cfg.model.encoders === "dcg"
      ? { global: prior.dcg.globalChannels, local: prior.dcg.dn_resnet.featureChannels }
      : null,
    guidance: cfg.model.guidance,
  });
}

/** A loaded, frozen guidance network. */
export interface LoadedDcg {
  /** The network, in eval mode. */
  dcg: Dcg;
  /** Its model section. */
  model: DcgConfig["model"];
  /** Where its weights came from. */
  source: string;
}

/**
 * Loads the DCG that `model.dcg` names — a `train-dcg` run folder (its best checkpoint) or a
 * checkpoint file in one — checking that it was trained on data of this shape and classes.
 */
export async function loadDcgFromRun(ref: string, channels: number, classes: readonly string[]): Promise<LoadedDcg> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(ref);
  } catch {
    throw new ConfigError([`model.dcg ${ref}: no such run folder or checkpoint`]);
  }
  const checkpoint = stat.isFile ? ref : bestCheckpointPath(joinPath(ref, "checkpoints"));
  let run: RunDir;
  try {
    run = await openRunDir(stat.isFile ? dirName(dirName(ref)) : ref);
    await Deno.stat(checkpoint);
  } catch {
    throw new ConfigError([`model.dcg ${ref}: expected a train-dcg run folder with checkpoints/best.safetensors`]);
  }
  const dcgCfg = (await loadConfig(dcgSchema, { file: run.configPath })).config;
  const runClasses = JSON.parse(await Deno.readTextFile(joinPath(run.path, "data.json"))).classes as string[];
  if (runClasses.join("\u0000") !== classes.join("\u0000")) {
    throw new ConfigError([
      `model.dcg ${ref} was trained on classes [${runClasses.join(", ")}], this data has [${classes.join(", ")}]`,
    ]);
  }
  const dcg = buildDcg(dcgCfg.model, channels, classes.length);
  await loadCheckpoint(checkpoint, { model: dcg, restoreRng: false });
  dcg.eval();
  return { dcg, model: dcgCfg.model, source: checkpoint };
}

/** Files of the DCG copy inside a denoiser run. */
const DCG_WEIGHTS = "dcg.safetensors", DCG_INFO = "dcg.json";

/** Saves the frozen DCG into the denoiser run (weights and model section). */
export async function saveDcgCopy(run: RunDir, loaded: LoadedDcg): Promise<void> {
  await saveSafetensors(joinPath(run.path, DCG_WEIGHTS), loaded.dcg.stateDict(), { source: loaded.source });
  await writeJsonAtomic(joinPath(run.path, DCG_INFO), { source: loaded.source, model: loaded.model });
}

/** Loads the DCG copy of a denoiser run. */
export async function loadDcgCopy(run: RunDir, channels: number, numClasses: number): Promise<LoadedDcg> {
  const info = JSON.parse(await Deno.readTextFile(joinPath(run.path, DCG_INFO))) as {
    source: string;
    model: DcgConfig["model"];
  };
  const dcg = buildDcg({ ...dcgSchema.defaults.model, ...info.model }, channels, numClasses);
  const weights = await loadSafetensors(joinPath(run.path, DCG_WEIGHTS));
  try {
    dcg.loadStateDict(weights);
  } finally {
    for (const t of Object.values(weights)) t.dispose();
  }
  dcg.eval();
  return { dcg, model: info.model, source: info.source };
}
