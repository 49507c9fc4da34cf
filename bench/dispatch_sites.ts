/**
 * Where a training step's dispatches come from: one step recorded with `observeDispatches`,
 * each dispatch counted by op and the first call sites outside the device layer (a stack trace
 * per dispatch), printed most frequent first. Counts do not depend on the machine's load, so
 * this is the tool for dispatch work on a busy machine; `kernel_profile.ts` gives the times.
 *
 * Run: `XDG_RUNTIME_DIR=/tmp MEDDIFF_AUTOTUNE=0 deno run -A bench/dispatch_sites.ts [unet|resnet] [batch] [frames]`
 * (default: the U-Net step of `unet_bench.ts` at batch 64, 4 frames of call site).
 */
import { initGpu, synchronize } from "../mod.ts";
import { observeDispatches } from "../core/device.ts";
import { resnetWorkload, unetWorkload } from "./_models.ts";

await initGpu();
const [model = "unet", batchArg = "64", framesArg = "4"] = Deno.args;
const workloads = { unet: (n: number) => unetWorkload(n), resnet: (n: number) => resnetWorkload(1, n) };
if (!(model in workloads)) throw new Error(`unknown model "${model}": expected unet or resnet`);
const w = workloads[model as keyof typeof workloads](Number(batchArg));
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
console.log(`${model} training step, batch ${batchArg}: ${total} dispatches`);
for (const [site, n] of [...counts].sort((a, b) => b[1] - a[1])) console.log(`${String(n).padStart(5)}  ${site}`);
w.dispose();
