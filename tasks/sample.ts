/**
 * `deno task sample --run <dir> [--guidance 3 --steps 50 --sampler ddim --per-class 16 --seed 0
 * --checkpoint best|latest|<file> --out <dir> --images [<dir>]]`: loads a DDPM run's EMA weights
 * and writes a grid per class, a grid of all classes, an unconditional grid and a
 * denoising-progression grid; `--images` also writes every sample as a PNG in class sub-folders
 * (an image-folder dataset for augmenting a classifier's training set).
 * @module
 */
import { runTask } from "./lib/args.ts";
import { sampleCommand } from "./ddpm/commands.ts";

await runTask(async () => {
  await sampleCommand(Deno.args);
});
