/**
 * `deno task classify --run <ddpm run> [--split test --trials 51 --vote majority|mean --stages 5:2,46:1
 * --seed 0 --limit n --no-calibration --out <dir>]`: classifies a split with a trained
 * class-conditional diffusion model (the class whose condition denoises best), with
 * temperature-calibrated probabilities, vote uncertainty, and the evaluation report.
 * @module
 */
import { runTask } from "./lib/args.ts";
import { classifyCommand } from "./ddpm/classify.ts";

await runTask(async () => {
  await classifyCommand(Deno.args);
});
