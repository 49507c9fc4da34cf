/**
 * Log-SNR schedules (samplers/log_snr.ts) against closed forms in float64, and the DDPM task's
 * weighted, continuous-time objective (tasks/ddpm/objective.ts) against a float64 recomputation
 * of the same batch on the CPU.
 */
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./_asserts.ts";
import { gpuTest } from "./_util.ts";
import { cosineLogSnr, logSnrBetas, NoiseSchedule, resolutionShift } from "../samplers/mod.ts";
import { logistic } from "../samplers/log_snr.ts";
import { ddpmSchema } from "../tasks/ddpm/config.ts";
import { buildTrainScheduler } from "../tasks/ddpm/model.ts";
import { DiffusionObjective, targetErrorWeight } from "../tasks/ddpm/objective.ts";
import { Rng } from "../util/rng.ts";
import { manualSeed, randn, tensor } from "../mod.ts";

Deno.test("log-SNR: the cosine schedule hits its bounds, crosses 0 at t = ½, falls monotonically; the shift adds", () => {
  assertAlmostEquals(cosineLogSnr(0), 15, 1e-9);
  assertAlmostEquals(cosineLogSnr(1), -15, 1e-9);
  assertAlmostEquals(cosineLogSnr(0.5), 0, 1e-12, "atan(x) + atan(1/x) = π/2: tan of the midpoint is 1");
  // Between the bounds it is the unclipped cosine schedule −2·ln tan(πt/2), up to the tiny end offsets
  // (the angle runs over [atan e^−7.5, atan e^7.5] instead of [0, π/2]).
  assertAlmostEquals(cosineLogSnr(0.25), -2 * Math.log(Math.tan(Math.PI / 8)), 5e-3);
  const a = Math.atan(Math.exp(-7.5)), b = Math.PI / 2 - a;
  assertAlmostEquals(cosineLogSnr(0.25), -2 * Math.log(Math.tan(a + 0.25 * (b - a))), 1e-12);
  let prev = Infinity;
  for (let i = 0; i <= 100; i++) {
    const v = cosineLogSnr(i / 100);
    assert(v < prev, `decreasing at t = ${i / 100}`);
    prev = v;
  }
  const shift = resolutionShift(64, 28);
  assertAlmostEquals(shift, 2 * Math.log(64 / 28), 1e-15);
  assertAlmostEquals(cosineLogSnr(0.3, { shift }), cosineLogSnr(0.3) + shift, 1e-12);
  assertAlmostEquals(cosineLogSnr(1, { logSnrMin: -10, logSnrMax: 10 }), -10, 1e-9);
  assertThrows(() => cosineLogSnr(1.5), RangeError, "t must be in [0, 1]");
  assertThrows(() => cosineLogSnr(0.5, { logSnrMin: 3, logSnrMax: 2 }), RangeError, "logSnrMin < logSnrMax");
  assertThrows(() => resolutionShift(0, 28), RangeError, "positive");
  assertAlmostEquals(logistic(800), 1, 0);
  assertAlmostEquals(logistic(-800), 0, 0);
  assertAlmostEquals(logistic(0.7), 1 / (1 + Math.exp(-0.7)), 1e-16);
});

Deno.test("log-SNR: the discrete schedule's ᾱ_i is σ(λ((i+1)/T)) / σ(λ(0)), unclipped, for shifts either way", () => {
  for (const shift of [0, resolutionShift(64, 28), resolutionShift(32, 256)]) {
    const T = 1000, logSnr = (t: number) => cosineLogSnr(t, { shift });
    const betas = logSnrBetas(T, logSnr);
    assert(betas.every((b) => b > 0 && b < 0.999), `shift ${shift}: no β reaches the 0.999 clip`);
    const ac = new NoiseSchedule(betas).alphasCumprod;
    for (const i of [0, 1, 249, 500, 998, 999]) {
      const want = logistic(logSnr((i + 1) / T)) / logistic(logSnr(0));
      assertAlmostEquals(ac[i] / want, 1, 1e-9, `shift ${shift}, ᾱ_${i}`);
    }
  }
});

Deno.test("objective: the snr-clamped weight is 1/(1 + min(SNR, c)) on the ε-error, whatever the model predicts", () => {
  // ε̂ − ε = α·(v̂ − v) = −√SNR·(x̂₀ − x₀), so the target-space weight carries α² or SNR.
  for (const snr of [0.01, 0.7, 5, 40]) {
    const onEps = 1 / (1 + Math.min(snr, 5)), alpha2 = snr / (1 + snr);
    assertAlmostEquals(targetErrorWeight(snr, "epsilon", 5), onEps, 1e-15);
    assertAlmostEquals(targetErrorWeight(snr, "v_prediction", 5), onEps * alpha2, 1e-15);
    assertAlmostEquals(targetErrorWeight(snr, "sample", 5), onEps * snr, 1e-15);
  }
});

/** A DDPM config with the paper's options on top of the defaults. */
function paperConfig(prediction: string, timeSampling: string) {
  const cfg = structuredClone(ddpmSchema.defaults);
  Object.assign(cfg.diffusion, {
    betaSchedule: "shifted_cosine",
    logSnrShift: resolutionShift(16, 8),
    timeSampling,
    lossWeight: "snr-clamped",
    predictionType: prediction,
  });
  return cfg;
}

for (const prediction of ["epsilon", "v_prediction", "sample"]) {
  gpuTest(
    `objective (${prediction}, continuous time): x_t, time input and weighted loss match a float64 recomputation`,
    async () => {
      const cfg = paperConfig(prediction, "continuous");
      const sched = buildTrainScheduler(cfg), objective = new DiffusionObjective(cfg, sched);
      try {
        manualSeed(3);
        const B = 4, shape = [B, 2, 3, 3], per = 18;
        const x0 = randn(shape), pred = randn(shape);
        const b = objective.noised(x0, { rng: new Rng(11) });
        const [x, xt, target, time, p] = await Promise.all([x0, b.xt, b.target, b.time, pred].map((t) => t.toArray()));
        const loss = await objective.loss(pred, b).item();
        // Replay the CPU draws; the noise is recovered from x_t.
        const rng = new Rng(11), T = cfg.diffusion.numTrainTimesteps;
        let want = 0;
        for (let i = 0; i < B; i++) {
          const u = rng.random(), lambda = cosineLogSnr(u, { shift: cfg.diffusion.logSnrShift });
          const a = Math.sqrt(logistic(lambda)), s = Math.sqrt(logistic(-lambda)), snr = Math.exp(lambda);
          assertAlmostEquals(time[i], u * T - 1, 1e-3, "time input u·T − 1");
          for (let j = i * per; j < (i + 1) * per; j++) {
            const eps = (xt[j] - a * x[j]) / s;
            const tgt = prediction === "epsilon" ? eps : prediction === "sample" ? x[j] : a * eps - s * x[j];
            assertAlmostEquals(target[j], tgt, 2e-3 * (1 + Math.abs(tgt)), `target ${j}`);
            // The implied noise of the prediction, then the paper's weight on its error.
            const epsHat = prediction === "epsilon"
              ? p[j]
              : prediction === "sample"
              ? (xt[j] - a * p[j]) / s
              : s * xt[j] + a * p[j];
            want += (epsHat - eps) ** 2 / (1 + Math.min(snr, 5));
          }
        }
        want /= B * per;
        assertAlmostEquals(loss / want, 1, 2e-3, `loss ${loss} vs ${want}`);
      } finally {
        objective.dispose();
        sched.dispose();
      }
    },
  );
}

gpuTest(
  "objective (discrete timesteps): the weights follow each sample's timestep; no weighting is the plain MSE",
  async () => {
    const cfg = paperConfig("v_prediction", "discrete");
    const sched = buildTrainScheduler(cfg), objective = new DiffusionObjective(cfg, sched);
    try {
      manualSeed(5);
      const x0 = randn([6, 1, 2, 2]);
      const b = objective.noised(x0, { rng: new Rng(1) });
      const [ts, w] = await Promise.all([b.time.toArray(), b.weight!.toArray()]);
      assertEquals(b.weight!.shape, [6, 1, 1, 1]);
      const ac = sched.schedule.alphasCumprod;
      for (let i = 0; i < 6; i++) {
        const snr = ac[ts[i]] / (1 - ac[ts[i]]);
        assertAlmostEquals(w[i], targetErrorWeight(snr, "v_prediction", 5), 1e-6 * (1 + w[i]));
      }
      const plain = structuredClone(cfg);
      plain.diffusion.lossWeight = "none";
      const plainObjective = new DiffusionObjective(plain, sched);
      const pb = plainObjective.noised(x0, { rng: new Rng(1) });
      assertEquals(pb.weight, null);
      const pred = tensor(new Float32Array(24).fill(0.25), [6, 1, 2, 2]);
      const [mse, target] = [await plainObjective.loss(pred, pb).item(), await pb.target.toArray()];
      const want = target.reduce((s, v) => s + (0.25 - v) ** 2, 0) / 24;
      assertAlmostEquals(mse, want, 1e-5 * (1 + want));
    } finally {
      objective.dispose();
      sched.dispose();
    }
  },
);
