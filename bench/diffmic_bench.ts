/**
 * DiffMIC-v2's denoiser (`models/diffmic.ts`) in the RetinaMNIST configuration of
 * configs/diffmic-retinamnist.yaml's network shape — 5 classes, a 6×6 label map (6 crops per
 * image), feature dim 512, 1000 timesteps, images 3×28×28, crops 3×8×8, two ResNet-18 encoders
 * (small-input stem, width 64), guidance on — at batch 32:
 *   - a training step: forward in training mode, the diffusion focal loss, backward, Adam step;
 *   - 10-step DDIM label inference (`sampleLabelMap`, η = 0, x̂₀ clipped) with the image feature
 *     computed once per batch, as the framework's inference does.
 * The PyTorch CPU peer is `bench/diffmic_torch.py` (the twin from scripts/make_diffmic_fixture.py):
 *   /usr/bin/python3 bench/diffmic_torch.py
 *
 * Run: `XDG_RUNTIME_DIR=/tmp deno bench -A bench/diffmic_bench.ts` (`DIFFMIC_BENCH_BATCH=n` for another batch).
 */
import {
  Adam,
  autotuneSettled,
  cat,
  DDIMScheduler,
  diffusionFocalLoss,
  initGpu,
  manualSeed,
  noGrad,
  rand,
  randint,
  randn,
  sampleLabelMap,
  scope,
  synchronize,
} from "../mod.ts";
import { DiffMicDenoiser } from "../models/diffmic.ts";
import { adapterDescription } from "./_common.ts";
import { atEnd, bestOf, timed } from "./_record.ts";

await initGpu();

const B = Number(Deno.env.get("DIFFMIC_BENCH_BATCH") ?? "32"), C = 5, K = 6, IMAGE = 28, CROP = 8;
manualSeed(0);
const net = new DiffMicDenoiser({
  numClasses: C,
  numK: K,
  featureDim: 512,
  timesteps: 1000,
  inChannels: 3,
  cropChannels: 3,
  encoder: { arch: "resnet18", smallInput: true, baseWidth: 64 },
});
const opt = new Adam(net.parameters(), { lr: 1e-4 });
const x = randn([B, 3, IMAGE, IMAGE]), crops = randn([B * K, 3, CROP, CROP]);
const priorMap = rand([B, C, K, K]), noisy = randn([B, C, K, K]), eps = randn([B, C, K, K]);
const t = randint(0, 1000, [B * K * K]), priorLogits = randn([B, C]), labels = randint(0, C, [B]);
const scheduler = new DDIMScheduler({ numTrainTimesteps: 1000 });

async function trainStep(): Promise<void> {
  net.train();
  scope(() => {
    const loss = diffusionFocalLoss(net.call(x, cat([priorMap, noisy], 1), t, { crops }), eps, priorLogits, labels);
    loss.backward();
    opt.step();
    opt.zeroGrad();
  });
  await synchronize();
}

async function inference(): Promise<void> {
  net.eval();
  await scope(async () => {
    const r = noGrad(() => {
      const feature = net.imageFeature(x, { crops });
      return sampleLabelMap((yIn, tt) => net.denoise(yIn, tt, feature), scheduler, priorMap, { steps: 10 });
    });
    await r.logits.data();
  });
}

const tuneStart = performance.now();
await trainStep();
await inference();
await autotuneSettled();
const tuneMs = performance.now() - tuneStart;

Deno.bench(
  { name: `meddiff DiffMIC denoiser train step (batch ${B}, ${IMAGE}×${IMAGE}, ${K}×${K} map)`, n: 3, warmup: 1 },
  timed("step", trainStep),
);
Deno.bench(
  { name: `meddiff DiffMIC 10-step DDIM label inference, image feature once (batch ${B})`, n: 3, warmup: 1 },
  timed("infer", inference),
);

atEnd(() => {
  const row = (name: string, ms: number | undefined) =>
    `| ${name} | ${ms ? ms.toFixed(0) : "—"} | ${ms ? ((B * 1000) / ms).toFixed(1) : "—"} |`;
  return [
    "",
    `Adapter: ${adapterDescription()}; DiffMIC-v2 denoiser (${net.parameters().reduce((s, p) => s + p.size, 0)} ` +
    `parameters), batch ${B}; warm-up incl. autotuning ${(tuneMs / 1000).toFixed(1)} s`,
    "| run | best ms | images/s |",
    "|---|---|---|",
    row("meddiff denoiser train step", bestOf("step")),
    row("meddiff 10-step label inference", bestOf("infer")),
  ];
});
