/**
 * `deno task encode-latents --vae <run> [--out <dir>] [--data.path …]`: encodes volumes with a
 * trained 3-D VAE into a latent folder (see tasks/vae3d/latents.ts) and prints where.
 * @module
 */
import { runTask } from "./lib/args.ts";
import { encodeLatentsCommand } from "./vae3d/commands.ts";

await runTask(async () => {
  await encodeLatentsCommand(Deno.args);
  return 0;
});
