/**
 * Sampling speed: 50 DDIM steps (η = 0, no guidance) of the DDPM U-Net of `unet_bench.ts`
 * (the generation seed's configuration, 3,941,315 parameters) at batch 64 of 28×28×3, through
 * `DiffusionPipeline.generate`, from seeded noise to the final samples, then `await
 * synchronize()`. With `SAMPLING_BENCH_GUIDED=1` a second row adds classifier-free guidance
 * (scale 3, one batched pass of 2×64), as `deno task sample` runs it. The PyTorch CPU peer is
 * `bench/sampling_torch.py`.
 *
 * Before timing, one short generation runs and the autotuner's measurements are awaited.
 *
 * Run: `XDG_RUNTIME_DIR=/tmp deno bench -A bench/sampling_bench.ts`
 * (`SAMPLING_BENCH_BATCH=n`, `SAMPLING_BENCH_STEPS=k` change the batch and the step count.)
 */
import { autotuneSettled, dispatchCounters, initGpu, synchronize } from "../mod.ts";
import { ClassifierFreeGuidance, DDIMScheduler, DiffusionPipeline } from "../samplers/mod.ts";
import { adapterDescription } from "./_common.ts";
import { unetWorkload } from "./_models.ts";
import { atEnd, bestOf, timed } from "./_record.ts";

await initGpu();

const N = Number(Deno.env.get("SAMPLING_BENCH_BATCH") ?? "64");
const STEPS = Number(Deno.env.get("SAMPLING_BENCH_STEPS") ?? "50");
const GUIDED = Deno.env.get("SAMPLING_BENCH_GUIDED") === "1";
const w = unetWorkload(N);
w.net.eval();
const { c: C, hw: HW, classes: CLASSES } = w.dims;
const labels = Array.from({ length: N }, (_, i) => i % CLASSES);
const scheduler = new DDIMScheduler({ betaSchedule: "squaredcos_cap_v2", predictionType: "v_prediction" });
const plain = new DiffusionPipeline({ model: (x, t, y) => w.net.call(x, t, y), scheduler });
const guided = new DiffusionPipeline({
  model: (x, t, y) => w.net.call(x, t, y),
  scheduler,
  guider: new ClassifierFreeGuidance({ guidanceScale: 3 }),
});

async function sample(pipe: DiffusionPipeline, steps: number): Promise<void> {
  const { samples } = await pipe.generate({
    shape: [N, C, HW, HW],
    classLabels: labels,
    ...(pipe === guided ? { nullClass: CLASSES } : {}),
    numInferenceSteps: steps,
    seed: 0,
  });
  await synchronize();
  samples.dispose();
}

const tuneStart = performance.now();
await sample(plain, 2);
if (GUIDED) await sample(guided, 2);
await autotuneSettled();
const tuneMs = performance.now() - tuneStart;
const d0 = dispatchCounters().dispatches;
await sample(plain, 1);
const stepDispatches = dispatchCounters().dispatches - d0;

Deno.bench(
  { name: `meddiff ${STEPS} DDIM steps, U-Net, batch ${N}`, group: "sampling", baseline: true, n: 1, warmup: 0 },
  timed("plain", () => sample(plain, STEPS)),
);
if (GUIDED) {
  Deno.bench(
    { name: `meddiff ${STEPS} DDIM steps with guidance 3 (2×${N} per pass)`, group: "sampling", n: 1, warmup: 0 },
    timed("guided", () => sample(guided, STEPS)),
  );
}

atEnd(() => {
  const row = (name: string, ms: number | undefined) =>
    `| ${name} | ${ms ? ms.toFixed(0) : "—"} | ${ms ? (ms / STEPS).toFixed(0) : "—"} | ${
      ms ? ((N * 1000) / ms).toFixed(2) : "—"
    } |`;
  return [
    "",
    `Adapter: ${adapterDescription()}; DDPM U-Net (${w.net.numParameters()} parameters), samples [${N}, ${C}, ${HW}, ${HW}], ` +
    `${STEPS} DDIM steps; ${stepDispatches} dispatches per unguided step; warm-up incl. autotuning ${
      (tuneMs / 1000).toFixed(1)
    } s`,
    "| run | ms | ms per step | samples/s |",
    "|---|---|---|---|",
    row("meddiff DDIM, no guidance", bestOf("plain")),
    ...(GUIDED ? [row("meddiff DDIM, guidance 3", bestOf("guided"))] : []),
  ];
});
