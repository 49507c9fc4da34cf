/**
 * `deno task train-dit3d --config configs/dit3d-<dataset>.yaml --latents <dir>`: trains DiT3D on
 * the latents of a 3-D VAE (see tasks/dit3d/trainer.ts) into a new run folder.
 * @module
 */
import { runTask } from "./lib/args.ts";
import { exitCodeFor } from "../train/signals.ts";
import { trainDit3dCommand } from "./dit3d/commands.ts";

await runTask(async () => {
  const out = await trainDit3dCommand(Deno.args);
  return out?.result.interrupted ? exitCodeFor(out.result.interrupted) : 0;
});
