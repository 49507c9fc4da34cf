/**
 * One DDPM U-Net training step: `models/unet.ts` at the config of the class-conditional
 * MedMNIST generator (base 32 channels, multipliers 1/2/4, 2 residual blocks per level,
 * attention at 7×7 and in the mid block, one head, 5 classes, 3,941,315 parameters), input
 * [64, 3, 28, 28], int32 timesteps and labels, AdamW — forward, MSE against a fixed noise
 * target, backward, optimizer step, then `await synchronize()`, all inside the timed region.
 * A forward-only row (training mode, graph recorded, no backward) shows how the step splits.
 * The PyTorch CPU peer is `bench/unet_step_torch.py` (the same network, from
 * scripts/make_unet_fixture.py).
 *
 * Before timing, one step runs and every kernel choice the autotuner started measuring is
 * awaited (`autotuneSettled`), so the timed steps use tuned kernels.
 *
 * Run: `XDG_RUNTIME_DIR=/tmp deno bench -A bench/unet_bench.ts`
 * (`UNET_BENCH_BATCH=n` changes the batch, e.g. for a quick look; `UNET_BENCH_NET=task` times the
 * network `configs/ddpm-retinamnist.yaml` trains: 4 attention heads and dropout 0.1, against
 * which `deno task train`'s own throughput is compared in BENCHMARKS.md.)
 */
import { autotuneSettled, dispatchCounters, initGpu, mseLoss, scope, synchronize } from "../mod.ts";
import { adapterDescription } from "./_common.ts";
import { RETINAMNIST_TASK_UNET, unetWorkload } from "./_models.ts";
import { atEnd, bestOf, figuresAtEnd, timed } from "./_record.ts";

await initGpu();

const taskNet = Deno.env.get("UNET_BENCH_NET") === "task";
const { net, eps, dims, forward: netForward, step } = unetWorkload(
  Number(Deno.env.get("UNET_BENCH_BATCH") ?? "64"),
  taskNet ? RETINAMNIST_TASK_UNET : undefined,
);
const { n: N, c: C, hw: HW, classes: CLASSES } = dims;

/** Forward, loss, backward and the AdamW step, then a wait for the GPU. */
async function trainStep(): Promise<void> {
  step();
  await synchronize();
}

/** The training-mode forward pass and loss alone (the graph is recorded, then freed). */
async function forward(): Promise<void> {
  scope(() => {
    mseLoss(netForward(), eps);
  });
  await synchronize();
}

const tuneStart = performance.now();
await trainStep();
await autotuneSettled();
await trainStep();
const tuneMs = performance.now() - tuneStart;
const d0 = dispatchCounters().dispatches;
await trainStep();
const stepDispatches = dispatchCounters().dispatches - d0;

Deno.bench(
  { name: `meddiff U-Net train step (batch ${N}, 28×28)`, group: "unet", baseline: true, n: 3, warmup: 1 },
  timed("step", trainStep),
);
Deno.bench(
  { name: "meddiff U-Net forward + loss (training mode)", group: "unet", n: 3, warmup: 1 },
  timed("fwd", forward),
);

figuresAtEnd(() => ({
  [`U-Net train step (batch ${N})`]: bestOf("step"),
  [`U-Net forward + loss (batch ${N})`]: bestOf("fwd"),
}));
atEnd(() => {
  const step = bestOf("step"), fwd = bestOf("fwd");
  const row = (name: string, ms: number | undefined) =>
    `| ${name} | ${ms ? ms.toFixed(0) : "—"} | ${ms ? ((N * 1000) / ms).toFixed(1) : "—"} |`;
  return [
    "",
    `Adapter: ${adapterDescription()}; DDPM U-Net${taskNet ? " (the RetinaMNIST task's: 4 heads, dropout 0.1)" : ""} ` +
    `(${net.numParameters()} parameters), x [${N}, ${C}, ${HW}, ${HW}], ` +
    `${CLASSES} classes, AdamW; ${stepDispatches} dispatches per step; warm-up incl. autotuning ${
      (tuneMs / 1000).toFixed(1)
    } s`,
    "| run | best ms | images/s |",
    "|---|---|---|",
    row("meddiff train step", step),
    row("meddiff forward + loss", fwd),
    ...(step && fwd ? [`backward + AdamW ≈ ${(step - fwd).toFixed(0)} ms`] : []),
  ];
});
