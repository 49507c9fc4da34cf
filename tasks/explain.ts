/**
 * `deno task explain --run <ddpm run> [--count 16 --target-class k --t 0.5 --guidance 4.5 --steps 100
 * --trials 51 --split test --out <dir>]`: counterfactual explanations from a class-conditional
 * diffusion model — each image classified by denoising, then pushed towards another class, and
 * the difference map.
 * @module
 */
import { runTask } from "./lib/args.ts";
import { explainCommand } from "./ddpm/explain.ts";

await runTask(async () => {
  await explainCommand(Deno.args);
});
