/**
 * One full ResNet-18 training step: small-input stem, input [64, 3, 28, 28], 10 classes,
 * AdamW — forward, cross-entropy, backward, optimizer step, then `await synchronize()`, all
 * inside the timed region. A forward-only row (training mode, graph recorded, no backward)
 * shows how the step splits. The PyTorch CPU peer is `bench/resnet18_torch.py`.
 *
 * Before timing, one step runs and every kernel choice the autotuner started measuring is
 * awaited (`autotuneSettled`), so the timed steps use tuned kernels (the first run on a machine
 * spends minutes tuning; the choices are cached for later runs).
 *
 * `RESNET_BENCH_MICRO=k` (default 1) splits the batch into k micro-batches whose gradients are
 * accumulated before the one AdamW step — the same arithmetic, except that batch norm sees
 * 64/k images at a time. It exists because a batch-64 step can exceed an adapter's
 * `maxStorageBufferBindingSize` (llvmpipe: 128 MiB) in one of conv2d's weight gradients.
 * `RESNET_BENCH_BATCH=n` (default 64) changes the batch, e.g. for a quick look.
 *
 * Run: `XDG_RUNTIME_DIR=/tmp deno bench -A bench/resnet_bench.ts`
 */
import { autotuneSettled, cat, crossEntropy, initGpu, scope, synchronize } from "../mod.ts";
import { adapterDescription } from "./_common.ts";
import { resnetWorkload } from "./_models.ts";
import { atEnd, bestOf, figuresAtEnd, timed } from "./_record.ts";

await initGpu();

const MICRO = Number(Deno.env.get("RESNET_BENCH_MICRO") ?? "1");
const { net, x, y, dims, step } = resnetWorkload(MICRO, Number(Deno.env.get("RESNET_BENCH_BATCH") ?? "64"));
const { n: N, c: C, hw: HW, classes: CLASSES } = dims;

/** Forward, loss, backward (per micro-batch) and the AdamW step, then a wait for the GPU. */
async function trainStep(): Promise<void> {
  step();
  await synchronize();
}

/** The training-mode forward pass and loss alone (the graph is recorded, then freed). */
async function forward(): Promise<void> {
  scope(() => {
    const parts = [];
    for (let i = 0; i < MICRO; i++) parts.push(net.call(MICRO === 1 ? x : x.narrow(0, i * (N / MICRO), N / MICRO)));
    crossEntropy(MICRO === 1 ? parts[0] : cat(parts, 0), y);
  });
  await synchronize();
}

const tuneStart = performance.now();
await trainStep();
await autotuneSettled();
await trainStep();
const tuneMs = performance.now() - tuneStart;

Deno.bench(
  { name: `meddiff ResNet-18 train step (batch ${N}, 28×28)`, group: "resnet18", baseline: true, n: 3, warmup: 1 },
  timed("step", trainStep),
);
Deno.bench(
  { name: "meddiff ResNet-18 forward + loss (training mode)", group: "resnet18", n: 3, warmup: 1 },
  timed("fwd", forward),
);

figuresAtEnd(() => ({
  [`ResNet-18 train step (batch ${N})`]: bestOf("step"),
  [`ResNet-18 forward + loss (batch ${N})`]: bestOf("fwd"),
}));
atEnd(() => {
  const step = bestOf("step"), fwd = bestOf("fwd");
  const params = net.numParameters();
  const row = (name: string, ms: number | undefined) =>
    `| ${name} | ${ms ? ms.toFixed(0) : "—"} | ${ms ? ((N * 1000) / ms).toFixed(1) : "—"} |`;
  return [
    "",
    `Adapter: ${adapterDescription()}; ResNet-18 (small-input stem, ${params} parameters), x [${N}, ${C}, ${HW}, ${HW}], ` +
    `${CLASSES} classes, AdamW${MICRO > 1 ? `, ${MICRO} micro-batches of ${N / MICRO}` : ""}; ` +
    `warm-up incl. autotuning ${(tuneMs / 1000).toFixed(1)} s`,
    "| run | best ms | images/s |",
    "|---|---|---|",
    row("meddiff train step", step),
    row("meddiff forward + loss", fwd),
    ...(step && fwd ? [`backward + AdamW ≈ ${(step - fwd).toFixed(0)} ms`] : []),
  ];
});
