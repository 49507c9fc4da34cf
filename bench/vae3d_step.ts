/**
 * One training step of the 3-D VAE as `configs/vae3d-adrenalmnist3d.yaml` builds it (widths
 * 16/32/64, one residual block per level, 8 groups, 4 latent channels, trilinear upsampling) on
 * one random 64³ volume: encode, sample, decode, L1 + KL, backward, Adam. Full-resolution 3×3×3
 * convolutions of 16 channels have 432 MiB of im2col columns per volume, over llvmpipe's 128 MiB
 * binding limit, so this times how the convolutions handle columns too large for one binding.
 *
 * Run: `XDG_RUNTIME_DIR=/tmp deno run -A bench/vae3d_step.ts [side=64] [steps=2]`
 */
import { abs, Adam, dispatchCounters, initGpu, randn, scope, sub, synchronize } from "../mod.ts";
import { MaisiVAE } from "../models/vae3d.ts";
import { adapterDescription } from "./_common.ts";

await initGpu();
const side = Number(Deno.args[0] ?? "64"), steps = Number(Deno.args[1] ?? "2");
const vae = new MaisiVAE({
  inChannels: 1,
  outChannels: 1,
  latentChannels: 4,
  numChannels: [16, 32, 64],
  numResBlocks: 1,
  normNumGroups: 8,
  upsample: "trilinear",
});
vae.train();
const opt = new Adam(vae.parameters(), { lr: 1e-4 });
const x = randn([1, 1, side, side, side]);

async function step(): Promise<void> {
  scope(() => {
    const { reconstruction, mu, logVar } = vae.call(x);
    const kl = mu.square().add(logVar.exp()).sub(logVar).sub(1).mean().mul(0.5e-6);
    abs(sub(reconstruction, x)).mean().add(kl).backward();
    opt.step();
    opt.zeroGrad();
  });
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
  `${adapterDescription()}; 3-D VAE (${vae.numParameters()} parameters), x [1, 1, ${side}, ${side}, ${side}]: ` +
    `best step ${(best / 1000).toFixed(2)} s of ${steps}; ${
      (dispatchCounters().dispatches - d0) / steps
    } dispatches per step`,
);
