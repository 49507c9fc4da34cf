/**
 * `deno task train-vae [--config configs/vae3d-<dataset>.yaml] [--resume <run|checkpoint>] [--key.path value …]`:
 * trains the MAISI 3-D VAE (see tasks/vae3d/trainer.ts) into a new run folder.
 * @module
 */
import { runTask } from "./lib/args.ts";
import { exitCodeFor } from "../train/signals.ts";
import { trainVaeCommand } from "./vae3d/commands.ts";

await runTask(async () => {
  const out = await trainVaeCommand(Deno.args);
  return out?.result.interrupted ? exitCodeFor(out.result.interrupted) : 0;
});
