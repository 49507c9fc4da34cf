/**
 * One training step of the 3-D VAE as `configs/vae3d-adrenalmnist3d.yaml` builds it (widths
 * 16/32/64, one residual block per level, 8 groups, 4 latent channels, trilinear upsampling) on
 * one random volume: encode, sample, decode, L1 + KL, backward, AdamW (`vae3dWorkload` in
 * bench/_models.ts, which `kernel_profile.ts vae3d` profiles). Its 3×3×3 convolutions of 16
 * channels at 64³ are what the 3-D paths are measured on (im2col spans, then Winograd by depth taps).
 *
 * Run: `XDG_RUNTIME_DIR=/tmp deno run -A bench/vae3d_step.ts [side=64] [steps=2]`
 */
import { dispatchCounters, initGpu, synchronize } from "../mod.ts";
import { adapterDescription } from "./_common.ts";
import { vae3dWorkload } from "./_models.ts";

await initGpu();
const side = Number(Deno.args[0] ?? "64"), steps = Number(Deno.args[1] ?? "2");
const { net, step: record } = vae3dWorkload(1, side);

async function step(): Promise<void> {
  record();
  await synchronize();
}

let t0 = performance.now();
await step();
console.log(`first step (compiles included): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const d0 = dispatchCounters().dispatches;
let best = Infinity;
for (let i = 0; i < steps; i++) {
  t0 = performance.now();
  await step();
  best = Math.min(best, performance.now() - t0);
}
console.log(
  `${adapterDescription()}; 3-D VAE (${net.numParameters()} parameters), x [1, 1, ${side}, ${side}, ${side}]: ` +
    `best step ${(best / 1000).toFixed(2)} s of ${steps}; ${
      (dispatchCounters().dispatches - d0) / steps
    } dispatches per step`,
);
