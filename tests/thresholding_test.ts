/**
 * Dynamic thresholding (Imagen; diffusers' `thresholding=True`) against a float64 reference:
 * the per-sample threshold from the sorted |x̂₀|, its clamp to [1, sampleMaxValue], and its use
 * in DDPM and DDIM steps in place of `clipSample`.
 */
import { assertThrows } from "./_asserts.ts";
import { assertClose, gpuTest, quantileReference, randomArray } from "./_util.ts";
import { tensor } from "../mod.ts";
import { DDIMScheduler, DDPMScheduler, dynamicThreshold } from "../samplers/mod.ts";

/** diffusers' `_threshold_sample` in float64 (torch.quantile's float32 rank). */
function reference(x: number[], batch: number, ratio: number, maxValue: number): number[] {
  const n = x.length / batch;
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    const row = x.slice(b * n, (b + 1) * n);
    const q = quantileReference(row.map(Math.abs), ratio);
    const s = Math.min(Math.max(q, 1), maxValue);
    for (const v of row) out.push(Math.min(Math.max(v, -s), s) / s);
  }
  return out;
}

// Three samples: one inside [−1, 1] (threshold 1: a plain clip), one a little beyond (s in
// (1, max)), one far beyond (s = max).
function batchValues(): number[] {
  const n = 2 * 4 * 4;
  return [
    ...randomArray(n, 1, -0.9, 0.9),
    ...randomArray(n, 2, -1.6, 1.6),
    ...randomArray(n, 3, -8, 8),
  ];
}

gpuTest("dynamicThreshold: per-sample quantile threshold, clamped to [1, sampleMaxValue]", async () => {
  const x = batchValues();
  const got = await dynamicThreshold(tensor(Float32Array.from(x), [3, 2, 4, 4]), 0.9, 2.5).data();
  assertClose(got, reference(Array.from(Float32Array.from(x)), 3, 0.9, 2.5), {
    atol: 1e-6,
    rtol: 1e-6,
    msg: "thresholded x0",
  });
  assertThrows(() => dynamicThreshold(tensor(Float32Array.of(1, 2)), 0.9, 1), RangeError, "batch dim");
});

gpuTest("schedulers: thresholding replaces clipSample in DDPM and DDIM steps", async () => {
  const x = Float32Array.from(batchValues());
  const sample = Float32Array.from(randomArray(x.length, 4));
  const opts = {
    predictionType: "sample" as const,
    thresholding: true,
    dynamicThresholdingRatio: 0.8,
    sampleMaxValue: 3,
  };
  const want = reference(Array.from(x), 3, 0.8, 3);
  for (const s of [new DDPMScheduler(opts), new DDIMScheduler(opts)]) {
    s.setTimesteps(10);
    const t = s.timesteps[3];
    const out = s.step(tensor(x, [3, 2, 4, 4]), t, tensor(sample, [3, 2, 4, 4]), {
      eta: s instanceof DDIMScheduler ? 0 : undefined,
    });
    assertClose(await out.predOriginalSample.data(), want, { atol: 1e-6, rtol: 1e-6, msg: `${s.constructor.name} x̂₀` });
  }
  assertThrows(() => new DDIMScheduler({ thresholding: 1 as unknown as boolean }), TypeError, "thresholding");
  assertThrows(() => new DDIMScheduler({ dynamicThresholdingRatio: 0 }), RangeError, "dynamicThresholdingRatio");
  assertThrows(() => new DDPMScheduler({ sampleMaxValue: 0.5 }), RangeError, "sampleMaxValue");
});
