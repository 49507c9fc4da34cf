/**
 * `deno task evaluate-3d --volumes <dir> --features <slice classifier run>`: per-slice Fréchet and
 * kernel distances of generated volumes along each axis, with the real floor (tasks/generation/volumes.ts).
 * @module
 */
import { runTask } from "./lib/args.ts";
import { evaluate3dCommand } from "./generation/volumes.ts";

await runTask(async () => {
  await evaluate3dCommand(Deno.args);
  return 0;
});
