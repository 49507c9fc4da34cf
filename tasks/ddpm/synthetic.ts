/**
 * A DDPM run as the source of synthetic training images for a classifier (`data.syntheticPath:
 * <run>`; see tasks/common/training_mix.ts): `perClass` samples per class with the run's `sample`
 * settings (best checkpoint, EMA weights), written once into `<run>/synthetic/per-class-<n>` and
 * reused by every later run that asks for as many. The folder appears whole or not at all (written
 * beside it, then renamed); under mpirun / srun the processes share the sampling.
 * @module
 */
import { isDirectory } from "../../util/io.ts";
import { loadConfig } from "../../train/config.ts";
import { dataParallel } from "../../train/data_parallel.ts";
import { openRunDir } from "../../train/run_dir.ts";
import { dirName, joinPath } from "../../util/path.ts";
import { loadRunDataInfo } from "../common/run_info.ts";
import { syntheticCacheFolder, type SyntheticSource } from "../common/training_mix.ts";
import { ddpmSchema } from "./config.ts";
import { ddpmCheckpoint, loadRunDenoiser } from "./run_model.ts";
import { generateShared, saveSampleRows } from "./sampling.ts";

/** {@linkcode SyntheticSource} that samples the run when its folder is not there yet. */
export const sampleSyntheticImages: SyntheticSource = async (runPath, perClass) => {
  const folder = syntheticCacheFolder(runPath, perClass);
  if (await isDirectory(folder)) return folder;
  const run = await openRunDir(runPath);
  const cfg = (await loadConfig(ddpmSchema, { file: run.configPath })).config;
  const info = await loadRunDataInfo(run);
  const parallel = dataParallel();
  const partial = joinPath(dirName(folder), `.per-class-${perClass}.partial`);
  if (parallel.rank === 0) await Deno.remove(partial, { recursive: true }).catch(() => {}); // an interrupted attempt
  await parallel.barrier(); // every rank past the clean-up
  const unet = await loadRunDenoiser(cfg, info, await ddpmCheckpoint(run, "best"));
  try {
    const K = info.classes.length;
    const labels = Int32Array.from({ length: K * perClass }, (_, i) => Math.floor(i / perClass));
    const s = cfg.sample;
    const { samples, rows } = await generateShared(unet, cfg, info, {
      labels,
      guidance: s.guidance,
      sampler: s.sampler,
      steps: s.steps,
      seed: s.seed,
      thresholding: s.thresholding,
    }, parallel);
    await saveSampleRows(partial, samples, labels, rows, info);
  } finally {
    unet.dispose();
  }
  await parallel.barrier(); // every rank's images written
  if (parallel.rank === 0) await Deno.rename(partial, folder);
  await parallel.barrier();
  return folder;
};
