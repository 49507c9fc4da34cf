/**
 * `deno task sample-3d --run <dit3d run> [--label k --count n --guidance s --steps n --out dir]`:
 * guided DiT3D samples decoded by the VAE, as NIfTI volumes and mid-slice PNGs (tasks/dit3d/sample.ts).
 * @module
 */
import { runTask } from "./lib/args.ts";
import { sample3dCommand } from "./dit3d/sample.ts";

await runTask(async () => {
  await sample3dCommand(Deno.args);
  return 0;
});
