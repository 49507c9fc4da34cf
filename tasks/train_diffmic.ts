/**
 * `deno task train-diffmic [--config configs/diffmic-<dataset>.yaml] --model.dcg <dcg run> [--resume <run|checkpoint>] [--key.path value …]`:
 * trains DiffMIC-v2's label denoiser on a frozen DCG (tasks/diffmic/trainers.ts) into a new run folder;
 * `deno task evaluate --run <dir>` then reports DiffMIC-v2 beside its DCG.
 * @module
 */
import { runTask } from "./lib/args.ts";
import { exitCodeFor } from "../train/signals.ts";
import { trainDiffmicCommand } from "./diffmic/commands.ts";

await runTask(async () => {
  const out = await trainDiffmicCommand(Deno.args);
  return out?.result.interrupted ? exitCodeFor(out.result.interrupted) : 0;
});
