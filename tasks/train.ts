/**
 * `deno task train [--config configs/<name>.yaml] [--resume <run|checkpoint>] [--key.path value …]`:
 * trains a class-conditional DDPM (see tasks/ddpm/trainer.ts) into a new run folder under
 * `output.root`, then writes sample grids with the EMA weights. With no arguments it trains the
 * embedded default (procedural data, a small U-Net) in a few minutes on a CPU adapter.
 * @module
 */
import { runTask } from "./lib/args.ts";
import { exitCodeFor } from "../train/signals.ts";
import { trainCommand } from "./ddpm/commands.ts";

await runTask(async () => {
  const out = await trainCommand(Deno.args);
  // A run stopped by Ctrl-C / SIGTERM saved a checkpoint; exit 130 / 143 so schedulers see it did not finish.
  return out?.result.interrupted ? exitCodeFor(out.result.interrupted) : 0;
});
