/**
 * DiT3D training step with 3-D window attention in every block vs global attention in every
 * block (`dit3dWorkload` of bench/_models.ts: 512 tokens, 4×4×4 windows of 64): median step time
 * over 3 steps after a warm-up, and peak GPU memory (`memoryStats().peakBytes`) of a step.
 *
 * Run: `XDG_RUNTIME_DIR=/tmp deno run -A bench/dit3d_window_attention.ts`
 */
import { autotuneSettled, gpu, initGpu, memoryStats, releaseGpu, synchronize } from "../mod.ts";
import { adapterDescription } from "./_common.ts";
import { dit3dWorkload } from "./_models.ts";

await initGpu();
const MIB = 1024 * 1024;
console.log(`Adapter: ${adapterDescription()}`);
console.log("| attention | parameters | step s (median of 3) | step peak MiB |");
console.log("|---|---|---|---|");
for (const windowed of [true, false]) {
  const w = dit3dWorkload(windowed);
  w.step();
  await synchronize();
  await autotuneSettled();
  w.step();
  await synchronize();
  gpu().pool.resetPeak();
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    w.step();
    await synchronize();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  console.log(
    `| ${windowed ? "4×4×4 windows, every block" : "global, every block"} | ${w.net.numParameters()} | ${
      times[1].toFixed(2)
    } | ${(memoryStats().peakBytes / MIB).toFixed(1)} |`,
  );
  w.dispose();
  gpu().pool.trim();
}
await releaseGpu();
