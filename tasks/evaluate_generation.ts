/**
 * `deno task evaluate-generation --run <diffusion run> --features <classifier run> [--count 100
 * --guidance s --steps k --seed 0 --out <dir>]`: generation quality (Fréchet and kernel
 * distances, precision/recall, density/coverage in a trained classifier's feature space, with
 * the real training split as the floor) and a memorisation check.
 * @module
 */
import { runTask } from "./lib/args.ts";
import { evaluateGenerationCommand } from "./generation/commands.ts";

await runTask(async () => {
  await evaluateGenerationCommand(Deno.args);
});
