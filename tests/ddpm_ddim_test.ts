/**
 * DDPM and DDIM step arithmetic, addNoise / getVelocity, and exact-recovery checks.
 * References: float64 formulas written out here, and the step cases of
 * `tests/fixtures/schedulers.json` (`scripts/make_scheduler_fixtures.py`, a NumPy
 * transcription of diffusers' schedulers).
 */
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { assertClose, gpuTest, randomArray } from "./_util.ts";
import { dispatchCounters, flush, Generator, randn, type Tensor, tensor } from "../mod.ts";
import {
  DDIMScheduler,
  type DDIMSchedulerOptions,
  DDPMScheduler,
  type DDPMSchedulerOptions,
  type StepOutput,
} from "../samplers/mod.ts";

interface StepCase {
  scheduler: "ddim" | "ddpm";
  config: DDIMSchedulerOptions & DDPMSchedulerOptions;
  numInferenceSteps: number;
  t: number;
  shape: number[];
  sample: number[];
  modelOutput: number[];
  noise: number[];
  prevSample: number[];
  predOriginalSample: number[];
  eta?: number;
}
const fx: { steps: StepCase[] } = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/schedulers.json", import.meta.url)),
);

const f32 = (a: ArrayLike<number>) => Float64Array.from(Float32Array.from(a));

gpuTest("ddpm/ddim: every step case of the NumPy fixture (prediction types, η, clipping, variances)", async () => {
  assert(fx.steps.length > 100);
  const outs: [StepCase, StepOutput][] = [];
  for (const c of fx.steps) {
    const s = c.scheduler === "ddim" ? new DDIMScheduler(c.config) : new DDPMScheduler(c.config);
    s.setTimesteps(c.numInferenceSteps);
    const opts = { varianceNoise: tensor(c.noise, c.shape), ...(c.eta !== undefined ? { eta: c.eta } : {}) };
    outs.push([c, s.step(tensor(c.modelOutput, c.shape), c.t, tensor(c.sample, c.shape), opts)]);
  }
  const seen = new Set<string>();
  for (const [c, o] of outs) {
    const msg = `${c.scheduler} ${JSON.stringify(c.config)} n=${c.numInferenceSteps} t=${c.t} eta=${c.eta}`;
    const scale = Math.max(1, ...c.predOriginalSample.map(Math.abs));
    assertClose(await o.predOriginalSample.data(), c.predOriginalSample, { atol: 3e-6 * scale, rtol: 1e-5, msg });
    assertClose(await o.prevSample.data(), c.prevSample, { atol: 3e-6 * scale, rtol: 1e-5, msg });
    seen.add(`${c.scheduler}:${c.config.predictionType}:${c.config.clipSample}:${c.eta ?? c.config.varianceType}`);
  }
  assertEquals(seen.size, 3 * 2 * 2 + 3 * 2 * 3); // every combination was covered
});

gpuTest("ddim: η = 0 ε-prediction step, written out in float64", async () => {
  const s = new DDIMScheduler({ clipSample: false });
  s.setTimesteps(10);
  const x = randomArray(8, 3, -2, 2), eps = randomArray(8, 4, -1, 1);
  const out = s.step(tensor(eps, [2, 4]), 600, tensor(x, [2, 4]));
  const a = s.alphasCumprod[600], ap = s.alphasCumprod[500]; // previous = next entry of the list
  const xs = f32(x), es = f32(eps);
  const x0 = xs.map((v, i) => (v - Math.sqrt(1 - a) * es[i]) / Math.sqrt(a));
  const prev = x0.map((v, i) => Math.sqrt(ap) * v + Math.sqrt(1 - ap) * es[i]);
  assertClose(await out.predOriginalSample.data(), x0, { atol: 1e-5, rtol: 1e-5 });
  assertClose(await out.prevSample.data(), prev, { atol: 1e-5, rtol: 1e-5 });
  // the last step goes to ᾱ = 1 (setAlphaToOne) or to ᾱ_0
  const last = s.step(tensor(eps, [2, 4]), 0, tensor(x, [2, 4]));
  const a0 = s.alphasCumprod[0];
  const x00 = xs.map((v, i) => (v - Math.sqrt(1 - a0) * es[i]) / Math.sqrt(a0));
  assertClose(await last.prevSample.data(), x00, { atol: 1e-5, rtol: 1e-5 });
  const s2 = new DDIMScheduler({ clipSample: false, setAlphaToOne: false });
  s2.setTimesteps(10);
  assertEquals(s2.finalAlphaCumprod, a0);
  const last2 = s2.step(tensor(eps, [2, 4]), 0, tensor(x, [2, 4]));
  assertClose(await last2.prevSample.data(), xs, { atol: 1e-5, rtol: 1e-5 }); // ᾱ_prev = ᾱ_t: x unchanged
});

gpuTest("ddim/ddpm: seeded step noise equals a randn drawn first from the same seed", async () => {
  const shape = [2, 3, 4];
  const x = tensor(randomArray(24, 5), shape), m = tensor(randomArray(24, 6), shape);
  const ddim = new DDIMScheduler({ predictionType: "v" });
  ddim.setTimesteps(20);
  const a = ddim.step(m, 500, x, { eta: 0.8, generator: new Generator(11) });
  const b = ddim.step(m, 500, x, { eta: 0.8, varianceNoise: randn(shape, { generator: new Generator(11) }) });
  const c = ddim.step(m, 500, x, { eta: 0.8, generator: new Generator(12) });
  const d = ddim.step(m, 500, x, { eta: 0 });
  assertClose(await a.prevSample.data(), await b.prevSample.data(), { atol: 1e-6, rtol: 1e-6 });
  const da = await a.prevSample.data(), dc = await c.prevSample.data(), dd = await d.prevSample.data();
  assert(da.some((v, i) => Math.abs(v - dc[i]) > 1e-3), "a different seed gives different noise");
  // σ = η·√variance: (a − d) / σ is the noise, minus the change of the direction term
  const z = await randn(shape, { generator: new Generator(11) }).data();
  const std = 0.8 * Math.sqrt(ddim.getVariance(500));
  const ap = ddim.alphasCumprod[450];
  const aT = ddim.alphasCumprod[500];
  const xs = f32(await x.data()), ms = f32(await m.data());
  const eps = xs.map((v, i) => Math.sqrt(aT) * ms[i] + Math.sqrt(1 - aT) * v);
  const dirDelta = eps.map((e) => (Math.sqrt(1 - ap - std * std) - Math.sqrt(1 - ap)) * e);
  assertClose(da.map((v, i) => v - dd[i] - dirDelta[i]), z.map((v) => std * v), { atol: 1e-5, rtol: 1e-4 });

  const ddpm = new DDPMScheduler({ clipSample: false });
  ddpm.setTimesteps(50);
  const p = ddpm.step(m, 400, x, { generator: new Generator(3) });
  const q = ddpm.step(m, 400, x, { varianceNoise: randn(shape, { generator: new Generator(3) }) });
  assertClose(await p.prevSample.data(), await q.prevSample.data(), { atol: 1e-6, rtol: 1e-6 });
  // no noise at t = 0, whatever the generator
  const r = ddpm.step(m, 0, x, { generator: new Generator(1) });
  const u = ddpm.step(m, 0, x, { generator: new Generator(2) });
  assertEquals(await r.prevSample.data(), await u.prevSample.data());
});

gpuTest("ddpm: fixed_small / fixed_large variances and the posterior of the full chain", async () => {
  const small = new DDPMScheduler();
  const large = new DDPMScheduler({ varianceType: "fixed_large" });
  const log = new DDPMScheduler({ varianceType: "fixed_small_log" });
  const sched = small.schedule;
  for (const t of [1, 10, 500, 999]) {
    assertClose([small.getVariance(t)], [sched.posteriorVariance[t]], { atol: 0, rtol: 1e-12 });
    assertClose([large.getVariance(t)], [sched.betas[t]], { atol: 0, rtol: 1e-12 });
    assertClose([log.getVariance(t)], [sched.posteriorVariance[t]], { atol: 0, rtol: 1e-12 });
  }
  assertEquals(small.getVariance(0), 1e-20); // clamped, as diffusers
  // over a skipping schedule the variance uses the step's own β = 1 − ᾱ_t / ᾱ_prev
  small.setTimesteps(10);
  large.setTimesteps(10);
  const a = small.alphasCumprod[500], ap = small.alphasCumprod[400];
  assertClose([small.getVariance(500), large.getVariance(500)], [(1 - ap) / (1 - a) * (1 - a / ap), 1 - a / ap], {
    atol: 0,
    rtol: 1e-12,
  });
  // full chain: the mean is the posterior mean coef1·x̂₀ + coef2·x_t
  const fresh = new DDPMScheduler({ clipSample: false });
  const x = randomArray(6, 8), e = randomArray(6, 9);
  const out = fresh.step(tensor(e, [6]), 300, tensor(x, [6]), { varianceNoise: tensor(new Float32Array(6), [6]) });
  const aT = fresh.alphasCumprod[300];
  const xs = f32(x), es = f32(e);
  const x0 = xs.map((v, i) => (v - Math.sqrt(1 - aT) * es[i]) / Math.sqrt(aT));
  const mean = x0.map((v, i) => sched.posteriorMeanCoef1[300] * v + sched.posteriorMeanCoef2[300] * xs[i]);
  assertClose(await out.prevSample.data(), mean, { atol: 1e-5, rtol: 1e-5 });
});

gpuTest("ddpm/ddim: clipSample clamps the predicted x₀ to ±clipSampleRange", async () => {
  const x = tensor([3, -3, 0.5, 0.1], [1, 4]), eps = tensor([0, 0, 0, 0], [1, 4]);
  for (const S of [DDPMScheduler, DDIMScheduler]) {
    const clipped = new S({ clipSampleRange: 2 });
    clipped.setTimesteps(10);
    const a = Math.sqrt(clipped.alphasCumprod[0]);
    const o = clipped.step(eps, 0, x);
    assertClose(await o.predOriginalSample.data(), [2, -2, 0.5 / a, 0.1 / a], { atol: 1e-6, rtol: 1e-6 });
    const free = new S({ clipSample: false });
    free.setTimesteps(10);
    const f = free.step(eps, 0, x);
    assertClose(await f.predOriginalSample.data(), [3 / a, -3 / a, 0.5 / a, 0.1 / a], { atol: 1e-6, rtol: 1e-6 });
  }
});

gpuTest("addNoise / getVelocity: per-sample timesteps gathered on the GPU, or one number", async () => {
  const s = new DDPMScheduler({ betaSchedule: "squaredcos_cap_v2" });
  const shape = [3, 2, 2];
  const x0 = randomArray(12, 21), n = randomArray(12, 22);
  const ts = [0, 499, 998];
  const x0t = tensor(x0, shape), nt = tensor(n, shape), tt = tensor(new Int32Array(ts));
  const xs = f32(x0), ns = f32(n);
  const sa = (i: number) => Math.sqrt(s.alphasCumprod[ts[Math.floor(i / 4)]]);
  const so = (i: number) => Math.sqrt(1 - s.alphasCumprod[ts[Math.floor(i / 4)]]);
  const noisy = s.addNoise(x0t, nt, tt);
  assertEquals(noisy.shape, shape);
  assertClose(await noisy.data(), xs.map((v, i) => sa(i) * v + so(i) * ns[i]), { atol: 1e-6, rtol: 1e-5 });
  const v = s.getVelocity(x0t, nt, tt);
  assertClose(await v.data(), xs.map((x, i) => sa(i) * ns[i] - so(i) * x), { atol: 1e-6, rtol: 1e-5 });
  // a number timestep, and a timestep tensor of length 1 broadcast over the batch
  const a = Math.sqrt(s.alphasCumprod[250]), b = Math.sqrt(1 - s.alphasCumprod[250]);
  const byNumber = xs.map((x, i) => a * x + b * ns[i]);
  assertClose(await s.addNoise(x0t, nt, 250).data(), byNumber, { atol: 1e-6, rtol: 1e-5 });
  assertClose(await s.addNoise(x0t, nt, tensor(new Int32Array([250]))).data(), byNumber, { atol: 1e-6, rtol: 1e-5 });
  assertClose(await s.getVelocity(x0t, nt, 250).data(), xs.map((x, i) => a * ns[i] - b * x), {
    atol: 1e-6,
    rtol: 1e-5,
  });
  // the tables survive the scope that first built them, and dispose() frees them
  s.dispose();
  assertClose(await s.addNoise(x0t, nt, tt).data(), await noisy.data(), { atol: 0, rtol: 0 });
  s.dispose();
  // argument checks
  assertThrows(() => s.addNoise(x0t, nt, tensor([1, 2, 3])), TypeError, "int32");
  assertThrows(() => s.addNoise(x0t, nt, tensor(new Int32Array([1, 2]))), RangeError, "shape [3]");
  assertThrows(() => s.addNoise(x0t, tensor(n.slice(0, 6), [3, 2]), 5), RangeError, "noise shape");
  assertThrows(() => s.addNoise(x0t, nt, 1000), RangeError, "t must be an integer in [0, 1000)");
  assertThrows(() => s.addNoise(x0t, nt, 2.5), RangeError, "t must be an integer");
});

gpuTest("ddim: addNoise then one exact step to t_prev = −1 recovers x₀ (ε, v and sample prediction)", async () => {
  const shape = [2, 1, 4, 4];
  const x0 = randomArray(32, 31, -0.9, 0.9);
  const x0t = tensor(x0, shape), noise = randn(shape, { generator: new Generator(4) });
  for (const [spacing, n, t] of [["trailing", 1, 999], ["leading", 4, 0]] as const) {
    for (const predictionType of ["epsilon", "v", "sample"] as const) {
      const s = new DDIMScheduler({ timestepSpacing: spacing, predictionType });
      s.setTimesteps(n);
      assertEquals(s.timesteps[n - 1], t);
      assertEquals(s.previousTimestep(t), -1);
      const xt = s.addNoise(x0t, noise, t);
      const target = predictionType === "epsilon" ? noise : predictionType === "v" ? s.getVelocity(x0t, noise, t) : x0t;
      const out = s.step(target, t, xt);
      assertClose(await out.prevSample.data(), x0, { atol: t === 999 ? 2e-3 : 2e-5, rtol: 0, msg: predictionType });
      assertClose(await out.predOriginalSample.data(), x0, { atol: t === 999 ? 2e-3 : 2e-5, rtol: 0 });
    }
  }
});

gpuTest("ddim: a model predicting the exact v (or ε) walks back to x₀ over 10 steps, for η = 0 and η = 1", async () => {
  const shape = [2, 3, 4];
  const x0 = randomArray(24, 41, -0.8, 0.8);
  const x0t = tensor(x0, shape);
  for (const predictionType of ["v_prediction", "epsilon"] as const) {
    for (const eta of [0, 1]) {
      const s = new DDIMScheduler({ predictionType, timestepSpacing: "trailing" });
      s.setTimesteps(10);
      const gen = new Generator(9);
      let x: Tensor = randn(shape, { generator: gen });
      for (const t of s.timesteps) {
        // the exact noise implied by the current sample: ε = (x − √ᾱ·x₀)/√(1−ᾱ)
        const a = s.alphasCumprod[t];
        const eps = x.sub(x0t.mul(Math.sqrt(a))).div(Math.sqrt(1 - a));
        const out = predictionType === "epsilon" ? eps : s.getVelocity(x0t, eps, t);
        x = s.step(out, t, x, { eta, generator: gen }).prevSample;
      }
      assertClose(await x.data(), x0, { atol: 1e-3, rtol: 0, msg: `${predictionType} eta=${eta}` });
    }
  }
});

gpuTest("ddpm/ddim: step is synchronous, reads nothing back, and checks its arguments", () => {
  const s = new DDIMScheduler();
  const x = tensor(randomArray(8, 1), [2, 4]), m = tensor(randomArray(8, 2), [2, 4]);
  assertThrows(() => s.step(m, 900, x), Error, "setTimesteps");
  s.setTimesteps(10);
  flush();
  const before = dispatchCounters().submits;
  const out = s.step(m, 900, x, { eta: 0.5 });
  assert(!(out instanceof Promise) && !(out.prevSample instanceof Promise));
  assertEquals(dispatchCounters().submits, before); // no GPU→CPU wait inside step
  assertThrows(() => s.step(m, 901, x), RangeError, "t = 901 is not in the scheduler's timesteps");
  assertThrows(() => s.step(m, 900, tensor(randomArray(4, 1), [4])), RangeError, "modelOutput shape");
  assertThrows(() => s.step(m, 900, x, { eta: -1 }), RangeError, "eta");
  assertThrows(() => s.step(m, 900, x, { varianceNoise: x, generator: new Generator(1) }), TypeError, "either");
  assertThrows(() => s.step(m, 900, x, { varianceNoise: tensor([1, 2]) }), RangeError, "varianceNoise shape");
  assertThrows(() => s.step("x" as unknown as Tensor, 900, x), TypeError, "modelOutput must be a Tensor");
  const p = new DDPMScheduler();
  assertThrows(() => p.step(m, 900, x, { eta: 0 }), RangeError, "eta applies to DDIM only");
  // outputs never alias the inputs, even for sample prediction without clipping
  const ps = new DDPMScheduler({ predictionType: "sample", clipSample: false });
  const o = ps.step(m, 0, x);
  assert(o.predOriginalSample !== m && o.prevSample !== m);
});
