/**
 * `deno task explain-diffmic --run <diffmic run> [--count 8] [--split test]`: explanation PNGs of
 * DiffMIC-v2 predictions (saliency, crops and attention, DDIM trajectory) into
 * `<run>/explain-<split>` (see tasks/diffmic/explain.ts).
 * @module
 */
import { runTask } from "./lib/args.ts";
import { explainDiffmicCommand } from "./diffmic/explain.ts";

await runTask(async () => {
  await explainDiffmicCommand(Deno.args);
});
