/**
 * `quantile` and Imagen's dynamic thresholding (`dynamicThreshold`, what a scheduler with
 * `thresholding: true` runs once per denoising step): per-sample 99.5th percentile of |x̂₀| for
 * a batch of 64 images of 3×28×28 (64 rows of 2,352), and for 4 volumes of 64³ (4 rows of
 * 262,144). Each timed region runs 8 calls and waits once. The PyTorch CPU peer is
 * `bench/quantile_torch.py`.
 */
import { dynamicThreshold, initGpu, quantile, randn, synchronize, type Tensor } from "../mod.ts";
import { atEnd, bestOf, timed } from "./_record.ts";

await initGpu();

const CALLS = 8;
const images = randn([64, 3, 28, 28]).mul(1.5);
const volumes = randn([4, 64 * 64 * 64]);
await synchronize();

async function repeat(fn: () => Tensor): Promise<void> {
  for (let i = 0; i < CALLS; i++) fn().dispose();
  await synchronize();
}

Deno.bench(
  { name: "dynamicThreshold 64×3×28×28 (ratio 0.995)", n: 10, warmup: 2 },
  timed("threshold", () => repeat(() => dynamicThreshold(images, 0.995, 1))),
);
Deno.bench(
  { name: "quantile 4 rows × 262144 (q 0.995)", n: 10, warmup: 2 },
  timed("volumes", () => repeat(() => quantile(volumes, 0.995, 1))),
);

atEnd(() => {
  const per = (name: string) => {
    const ms = bestOf(name);
    return ms === undefined ? "—" : `${(ms / CALLS).toFixed(2)} ms per call`;
  };
  return ["", `dynamicThreshold 64×3×28×28: ${per("threshold")}; quantile 4×262144: ${per("volumes")} (best region)`];
});
