/**
 * Where a training step's GPU time goes, kernel by kernel: one warm-up step, one timed plain step, then one step under
 * the kernel profiler (`startKernelProfile`: every dispatch timed with `timestamp-query`), printed
 * as a table by op name with counts, milliseconds and shares. The profiled step is slower than a
 * plain one (one compute pass per dispatch); read the shares, not the wall time.
 *
 * Run: `XDG_RUNTIME_DIR=/tmp deno run -A bench/kernel_profile.ts [unet|resnet|swin] [batch] [--forward]`
 * (default: the U-Net training step of `unet_bench.ts` at batch 64).
 */
import { initGpu, noGrad, scope, startKernelProfile, stopKernelProfile, synchronize } from "../mod.ts";
import { adapterDescription } from "./_common.ts";
import { resnetWorkload, swinWorkload, unetWorkload } from "./_models.ts";

await initGpu();
const args = Deno.args.filter((a) => !a.startsWith("--"));
const forwardOnly = Deno.args.includes("--forward");
const model = args[0] ?? "unet";
const batch = Number(args[1] ?? "64");
const workloads = { unet: unetWorkload, resnet: (n: number) => resnetWorkload(1, n), swin: swinWorkload };
if (!(model in workloads)) throw new Error(`unknown model "${model}": expected unet, resnet or swin`);
if (!Number.isInteger(batch) || batch < 1) throw new Error(`batch must be a positive integer, got ${args[1]}`);
const w = workloads[model as keyof typeof workloads](batch);
const run = forwardOnly ? () => scope(() => void noGrad(() => w.forward())) : () => w.step();

run();
await synchronize();
const plain0 = performance.now();
run();
await synchronize();
const plain = performance.now() - plain0;
startKernelProfile();
const t0 = performance.now();
run();
const rows = await stopKernelProfile();
const wall = performance.now() - t0;
const total = rows.reduce((s, r) => s + r.ms, 0);
const count = rows.reduce((s, r) => s + r.count, 0);
console.log(
  `${model} ${forwardOnly ? "forward" : "training step"}, batch ${batch}; adapter ${adapterDescription()}; ` +
    `${count} dispatches, ${total.toFixed(0)} ms of kernel time (${wall.toFixed(0)} ms wall while profiled; ${
      plain.toFixed(0)
    } ms unprofiled)`,
);
console.log("| kernel | dispatches | ms | share |\n|---|---|---|---|");
for (const r of rows) {
  console.log(`| ${r.op} | ${r.count} | ${r.ms.toFixed(1)} | ${(100 * r.ms / total).toFixed(1)} % |`);
}
