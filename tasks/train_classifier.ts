/**
 * `deno task train-classifier [--config configs/<name>.yaml] [--resume <run|checkpoint>] [--key.path value …]`:
 * trains a ResNet / EfficientNet / ViT baseline (see tasks/classify/trainer.ts) into a new run
 * folder; `deno task evaluate --run <dir>` then reports its test metrics and figures.
 * @module
 */
import { runTask } from "./lib/args.ts";
import { trainClassifierCommand } from "./classify/commands.ts";

await runTask(async () => {
  await trainClassifierCommand(Deno.args);
});
