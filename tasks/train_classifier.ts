/**
 * `deno task train-classifier [--config configs/<name>.yaml] [--resume <run|checkpoint>] [--key.path value …]`:
 * trains a ResNet / EfficientNet / ViT baseline (see tasks/classify/trainer.ts) into a new run
 * folder; `deno task evaluate --run <dir>` then reports its test metrics and figures.
 * @module
 */
import { runTask } from "./lib/args.ts";
import { exitCodeFor } from "../train/signals.ts";
import { trainClassifierCommand } from "./classify/commands.ts";

await runTask(async () => {
  const out = await trainClassifierCommand(Deno.args);
  // A run stopped by Ctrl-C / SIGTERM saved a checkpoint; exit 130 / 143 so schedulers see it did not finish.
  return out?.result.interrupted ? exitCodeFor(out.result.interrupted) : 0;
});
