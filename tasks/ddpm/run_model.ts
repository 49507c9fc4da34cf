/** The denoiser of a finished DDPM run, with the weights `deno task sample` and `deno task classify` use. */
import { isFile } from "../../util/io.ts";
import { latestCheckpoint } from "../../train/checkpoint.ts";
import { bestCheckpointPath } from "../../train/checkpoint_files.ts";
import { loadInferenceWeights } from "../common/evaluation.ts";
import type { RunDir } from "../../train/run_dir.ts";
import type { RunDataInfo } from "../common/run_info.ts";
import type { DdpmConfig } from "./config.ts";
import { buildDenoiser, type Denoiser } from "./model.ts";

/**
 * The checkpoint `which` names in a DDPM run: `best` (falling back to the latest when the run
 * kept none), `latest`, or a file.
 */
export async function ddpmCheckpoint(run: RunDir, which: string): Promise<string> {
  let ckpt: string | undefined;
  if (which === "best") {
    ckpt = (await isFile(bestCheckpointPath(run.checkpointsDir))) ? bestCheckpointPath(run.checkpointsDir) : undefined;
  } else if (which !== "latest") ckpt = which;
  ckpt ??= await latestCheckpoint(run.checkpointsDir);
  if (!ckpt) throw new Error(`${run.path}: no checkpoint to load (checkpoints/ is empty)`);
  return ckpt;
}

/**
 * Builds the run's network and loads `checkpoint` into it — the EMA weights when the run kept an
 * EMA (`train.emaDecay` > 0), as generation and classification should use — in eval mode.
 */
export async function loadRunDenoiser(cfg: DdpmConfig, info: RunDataInfo, checkpoint: string): Promise<Denoiser> {
  // The run's own architecture (model.arch of its saved config), so DiT runs load as DiTs.
  const net = buildDenoiser(cfg, {
    channels: info.channels,
    imageSize: info.imageSize,
    numClasses: info.classes.length,
  });
  await loadInferenceWeights(net, checkpoint, cfg.train.emaDecay);
  return net;
}
