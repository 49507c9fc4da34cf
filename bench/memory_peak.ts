/**
 * Peak GPU memory (`memoryStats().peakBytes`: bytes held by tensors, in pool buckets) of the
 * ResNet-18 and U-Net training steps of `resnet_bench.ts` / `unet_bench.ts`, and of one eval
 * forward under `noGrad`. The peak depends only on the order of allocations and frees, not on
 * timing, so one run gives the figure. Each model is measured after a warm-up step and
 * `autotuneSettled()` (the autotuner's trial buffers are not part of a step), then disposed
 * before the next, with the peak reset in between.
 *
 * Run: `XDG_RUNTIME_DIR=/tmp deno run -A bench/memory_peak.ts [resnet] [unet]` (default: both)
 */
import { autotuneSettled, gpu, initGpu, memoryStats, noGrad, scope, synchronize } from "../mod.ts";
import { adapterDescription } from "./_common.ts";
import { resnetWorkload, type TrainWorkload, unetWorkload } from "./_models.ts";
import type { Module } from "../core/nn/module.ts";

await initGpu();

const MIB = 1024 * 1024;
const WORKLOADS: Record<string, () => TrainWorkload<Module>> = {
  resnet: () => resnetWorkload(),
  unet: () => unetWorkload(),
};

const names = Deno.args.length ? Deno.args : Object.keys(WORKLOADS);
for (const n of names) {
  if (!(n in WORKLOADS)) throw new RangeError(`memory_peak: unknown model "${n}"; expected resnet or unet`);
}

const mib = (b: number) => (b / MIB).toFixed(1);
const exact = (b: number) => `${mib(b)} (${b.toLocaleString("en")} B)`;
console.log(`Adapter: ${adapterDescription()}`);
console.log("| model | parameters | resident MiB | train step peak MiB | step − resident | eval forward peak MiB |");
console.log("|---|---|---|---|---|---|");
for (const name of names) {
  const w = WORKLOADS[name]();
  w.step();
  await synchronize();
  await autotuneSettled();
  w.step(); // AdamW state now exists, so `resident` below includes it
  await synchronize();

  const resident = memoryStats().liveBytes;
  gpu().pool.resetPeak();
  for (let i = 0; i < 2; i++) {
    w.step();
    await synchronize();
  }
  const stepPeak = memoryStats().peakBytes;
  const leaked = memoryStats().liveBytes - resident;

  w.net.eval();
  gpu().pool.resetPeak();
  noGrad(() => scope(() => void w.forward()));
  await synchronize();
  const evalPeak = memoryStats().peakBytes;
  w.net.train();

  console.log(
    `| ${name} | ${w.net.numParameters()} | ${mib(resident)} | ${exact(stepPeak)} | ${mib(stepPeak - resident)} | ${
      exact(evalPeak)
    } |`,
  );
  if (leaked !== 0) console.log(`  (${name}: ${leaked} bytes more live after the steps than before)`);
  w.dispose();
  gpu().pool.trim();
}
