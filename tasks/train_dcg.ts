/**
 * `deno task train-dcg [--config configs/dcg-<dataset>.yaml] [--resume <run|checkpoint>] [--key.path value …]`:
 * pretrains DiffMIC-v2's guidance network (tasks/diffmic/trainers.ts) into a new run folder.
 * Its run is the `--model.dcg` of `deno task train-diffmic`.
 * @module
 */
import { runTask } from "./lib/args.ts";
import { exitCodeFor } from "../train/signals.ts";
import { trainDcgCommand } from "./diffmic/commands.ts";

await runTask(async () => {
  const out = await trainDcgCommand(Deno.args);
  return out?.result.interrupted ? exitCodeFor(out.result.interrupted) : 0;
});
