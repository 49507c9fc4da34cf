/** Which workflow made a run folder, read from its saved configuration (`config.yaml`). */
import { parse } from "yaml";
import type { RunDir } from "../../train/run_dir.ts";

/** The workflows whose runs `deno task evaluate` accepts. */
export type RunKind = "classifier" | "dcg" | "diffmic" | "vae";

/**
 * A DiffMIC-v2 denoiser run has a `diffusion` section and `model.dcg`; a DCG run has
 * `model.numK`; a 3-D VAE run has `loss.klWeight`; any other run is a classifier's.
 */
export async function runKind(run: RunDir): Promise<RunKind> {
  let cfg: unknown;
  try {
    cfg = parse(await Deno.readTextFile(run.configPath));
  } catch (e) {
    throw new Error(`${run.configPath}: cannot read the run's configuration (${e instanceof Error ? e.message : e})`);
  }
  const c = (cfg ?? {}) as { diffusion?: unknown; model?: Record<string, unknown>; loss?: Record<string, unknown> };
  if (c.loss && "klWeight" in c.loss) return "vae";
  if (c.diffusion !== undefined && c.model && "dcg" in c.model) return "diffmic";
  if (c.model && "numK" in c.model) return "dcg";
  return "classifier";
}
