/**
 * `deno task evaluate --run <dir> [--split test] [--checkpoint best] [--bootstrap 1000]`: loads a
 * classifier run's best checkpoint and writes `metrics.json` (with bootstrap CIs), `report.txt`,
 * `predictions.csv`, `roc.png`, `confusion.png` and `curves.png` into `<run>/eval-<split>`.
 * @module
 */
import { runTask } from "./lib/args.ts";
import { evaluateCommand } from "./classify/commands.ts";

await runTask(async () => {
  await evaluateCommand(Deno.args);
});
