/**
 * Where a training step's dispatches come from: one step recorded with `observeDispatches`,
 * each dispatch counted by op and the first call sites outside the device layer (a stack trace
 * per dispatch), printed most frequent first. Counts do not depend on the machine's load, so
 * this is the tool for dispatch work on a busy machine; `kernel_profile.ts` gives the times.
 *
 * Run: `XDG_RUNTIME_DIR=/tmp MEDDIFF_AUTOTUNE=0 deno run -A bench/dispatch_sites.ts [unet|resnet|swin|vae3d] [batch] [frames]`
 * (the workloads of `kernel_profile.ts`; default: the U-Net step at batch 64, 4 frames of call site).
 */
import { initGpu, synchronize } from "../mod.ts";
import { observeDispatches } from "../core/device.ts";
import { namedWorkload } from "./_models.ts";

await initGpu();
const [model = "unet", batchArg, framesArg = "4"] = Deno.args;
const { batch, workload: w } = namedWorkload(model, batchArg);
const frames = Number(framesArg);
w.step();
await synchronize();

const root = new URL("../", import.meta.url).href;
const counts = new Map<string, number>();
let total = 0;
observeDispatches((spec) => {
  total++;
  const sites = (new Error().stack ?? "").split("\n").slice(2)
    .filter((line) => !line.includes("core/device.ts"))
    .slice(0, frames)
    .map((line) => line.trim().replace(/^at /, "").replace(root, "").replace(/:\d+\)?$/, ")"));
  const key = `${spec.op} ← ${sites.join(" ← ")}`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
});
w.step();
await synchronize();
observeDispatches();
console.log(`${model} training step, batch ${batch}: ${total} dispatches`);
for (const [site, n] of [...counts].sort((a, b) => b[1] - a[1])) console.log(`${String(n).padStart(5)}  ${site}`);
w.dispose();
