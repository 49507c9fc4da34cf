/**
 * Noise schedules and timestep spacings (samplers/schedule.ts). Float64 references: the numbers
 * of issue #6 and `tests/fixtures/schedulers.json` (a NumPy transcription of diffusers'
 * formulas, `scripts/make_scheduler_fixtures.py`).
 */
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { assertClose } from "./_util.ts";
import {
  betasForAlphaBar,
  cosineBetas,
  DDIMScheduler,
  DDPMScheduler,
  makeBetas,
  NoiseSchedule,
  spacedTimesteps,
} from "../samplers/mod.ts";

interface Fixture {
  T: number;
  schedules: Record<string, { alphas_cumprod: number[]; posterior_variance?: number[] }>;
  timesteps: {
    T: number;
    n: number;
    spacing: "leading" | "trailing" | "linspace";
    stepsOffset: number;
    timesteps: number[];
  }[];
}
const fx: Fixture = JSON.parse(Deno.readTextFileSync(new URL("./fixtures/schedulers.json", import.meta.url)));

Deno.test("schedule: ᾱ of the linear and cosine schedules at t = 0, 499, 999 (issue #6 numbers)", () => {
  const lin = NoiseSchedule.named("linear", 1000).alphasCumprod;
  assertClose([lin[0], lin[499], lin[999]], [0.9999, 0.07858724288, 4.035829765e-5], { atol: 0, rtol: 1e-9 });
  const cos = NoiseSchedule.named("squaredcos_cap_v2", 1000).alphasCumprod;
  assertClose([cos[0], cos[499], cos[999]], [0.9999587158, 0.4938435904, 2.428766907e-9], { atol: 0, rtol: 1e-9 });
  // "cosine" is an alias, and the schedulers expose the same float64 arrays
  const sched = new DDPMScheduler({ betaSchedule: "cosine" });
  assert(sched.alphasCumprod instanceof Float64Array);
  assertEquals(sched.config.betaSchedule, "squaredcos_cap_v2");
  assertEquals(Array.from(sched.alphasCumprod), Array.from(cos));
  assertEquals(Array.from(new DDIMScheduler().alphasCumprod), Array.from(lin));
});

Deno.test("schedule: full ᾱ and posterior-variance arrays match the NumPy fixture", () => {
  const cases: [string, NoiseSchedule][] = [
    ["linear", NoiseSchedule.named("linear", fx.T)],
    ["scaled_linear_sd", NoiseSchedule.named("scaled_linear", fx.T, 0.00085, 0.012)],
    ["squaredcos_cap_v2", NoiseSchedule.named("squaredcos_cap_v2", fx.T)],
  ];
  for (const [name, s] of cases) {
    const ref = fx.schedules[name];
    assertClose(s.alphasCumprod, ref.alphas_cumprod, { atol: 0, rtol: 1e-12, msg: `${name} alphas_cumprod` });
    if (ref.posterior_variance) {
      assertClose(s.posteriorVariance.subarray(1), ref.posterior_variance.slice(1), {
        atol: 0,
        rtol: 1e-10,
        msg: `${name} posterior variance`,
      });
      assertEquals(s.posteriorVariance[0], 0);
    }
  }
});

Deno.test("schedule: derived quantities", () => {
  const s = NoiseSchedule.named("scaled_linear", 100, 0.00085, 0.012);
  assertEquals(s.numTrainTimesteps, 100);
  assertEquals(s.alphasCumprodPrev[0], 1);
  for (const t of [0, 1, 37, 99]) {
    const b = s.betas[t], ab = s.alphasCumprod[t], abPrev = t > 0 ? s.alphasCumprod[t - 1] : 1;
    assertClose(
      [
        s.alphas[t],
        ab / abPrev,
        s.alphasCumprodPrev[t],
        s.sqrtAlphasCumprod[t] ** 2,
        s.sqrtOneMinusAlphasCumprod[t] ** 2,
        s.posteriorVariance[t],
        s.posteriorVarianceLarge[t],
        s.posteriorMeanCoef1[t],
        s.posteriorMeanCoef2[t],
      ],
      [
        1 - b,
        1 - b,
        abPrev,
        ab,
        1 - ab,
        b * (1 - abPrev) / (1 - ab),
        b,
        b * Math.sqrt(abPrev) / (1 - ab),
        (1 - abPrev) * Math.sqrt(1 - b) / (1 - ab),
      ],
      { atol: 1e-15, rtol: 1e-12, msg: `t = ${t}` },
    );
  }
  // the clipped log variance is finite at t = 0 (takes β̃_1)
  assertEquals(s.posteriorLogVarianceClipped[0], Math.log(s.posteriorVariance[1]));
  assertEquals(s.posteriorLogVarianceClipped[50], Math.log(s.posteriorVariance[50]));
  // the linear schedule is NumPy's linspace: exact endpoints
  const lin = makeBetas("linear", 1000);
  assertEquals([lin[0], lin[999]], [0.0001, 0.02]);
  // scaled-linear is linear in √β
  const sl = makeBetas("scaled_linear", 11, 0.0001, 0.0121);
  assertClose(Array.from(sl, Math.sqrt), Array.from({ length: 11 }, (_, i) => 0.01 + 0.01 * i), {
    atol: 0,
    rtol: 1e-14,
  });
  // cosine β is capped at 0.999 (the last one) and equals betasForAlphaBar with the same ᾱ(t)
  const c = cosineBetas(1000);
  assertEquals(c[999], 0.999);
  const manual = betasForAlphaBar(1000, (t) => Math.cos((t + 0.008) / 1.008 * Math.PI / 2) ** 2);
  assertClose(c, manual, { atol: 0, rtol: 1e-14 });
  // explicit betas
  const tb = new DDPMScheduler({ trainedBetas: [0.1, 0.2, 0.3] });
  assertEquals(tb.config.numTrainTimesteps, 3);
  assertClose(tb.alphasCumprod, [0.9, 0.72, 0.504], { atol: 1e-15, rtol: 0 });
  assertEquals(Array.from(tb.timesteps), [2, 1, 0]);
});

Deno.test("schedule: DDIM 10 steps visit 900…0 (leading) and 999…99 (trailing); linspace and stepsOffset", () => {
  const s = new DDIMScheduler();
  s.setTimesteps(10);
  assert(s.timesteps instanceof Int32Array);
  assertEquals(Array.from(s.timesteps), [900, 800, 700, 600, 500, 400, 300, 200, 100, 0]);
  assertEquals(s.numInferenceSteps, 10);
  const tr = new DDIMScheduler({ timestepSpacing: "trailing" });
  tr.setTimesteps(10);
  assertEquals(Array.from(tr.timesteps), [999, 899, 799, 699, 599, 499, 399, 299, 199, 99]);
  const ls = new DDIMScheduler({ timestepSpacing: "linspace" });
  ls.setTimesteps(10);
  assertEquals(Array.from(ls.timesteps), [999, 888, 777, 666, 555, 444, 333, 222, 111, 0]);
  const off = new DDIMScheduler({ stepsOffset: 1 });
  off.setTimesteps(10);
  assertEquals(Array.from(off.timesteps), [901, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
  // NumPy rounds halves to even: linspace(0, 999, 3) = [0, 499.5, 999] → 500
  assertEquals(Array.from(spacedTimesteps("linspace", 1000, 3)), [999, 500, 0]);
  // … and 2.5 → 2 (Math.round would give 3): linspace(0, 5, 3) = [0, 2.5, 5]
  assertEquals(Array.from(spacedTimesteps("linspace", 6, 3)), [5, 2, 0]);
  assertEquals(Array.from(spacedTimesteps("linspace", 10, 10)), [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
});

Deno.test("schedule: every timestep list of the NumPy fixture (all spacings, offsets, T = 1000 and 50)", () => {
  assert(fx.timesteps.length >= 50);
  for (const c of fx.timesteps) {
    const msg = `${c.spacing} T=${c.T} n=${c.n} offset=${c.stepsOffset}`;
    assertEquals(Array.from(spacedTimesteps(c.spacing, c.T, c.n, c.stepsOffset)), c.timesteps, msg);
    for (const S of [DDPMScheduler, DDIMScheduler]) {
      const s = new S({ numTrainTimesteps: c.T, timestepSpacing: c.spacing, stepsOffset: c.stepsOffset });
      s.setTimesteps(c.n);
      assertEquals(Array.from(s.timesteps), c.timesteps, `${S.name} ${msg}`);
    }
  }
});

Deno.test("schedule: the previous timestep is looked up in the list", () => {
  const s = new DDPMScheduler();
  // before setTimesteps: the full chain T−1 … 0
  assertEquals(s.timesteps.length, 1000);
  assertEquals(s.previousTimestep(500), 499);
  assertEquals(s.previousTimestep(0), -1);
  const ls = new DDIMScheduler({ timestepSpacing: "linspace" });
  ls.setTimesteps(7); // 999, 832, 666, 500, 333, 166, 0 — unevenly spaced
  assertEquals(Array.from(ls.timesteps), [999, 832, 666, 500, 333, 166, 0]);
  assertEquals(ls.previousTimestep(832), 666);
  assertEquals(ls.previousTimestep(666), 500);
  assertEquals(ls.previousTimestep(0), -1);
  assertThrows(() => ls.previousTimestep(900), RangeError, "t = 900 is not in the scheduler's timesteps");
  // explicit lists
  ls.setTimesteps(3, [700, 300, 20]);
  assertEquals(Array.from(ls.timesteps), [700, 300, 20]);
  assertEquals(ls.previousTimestep(300), 20);
  assertEquals(ls.previousTimestep(20), -1);
  // the getter hands out copies
  const copy = ls.timesteps;
  copy[0] = 5;
  assertEquals(ls.timesteps[0], 700);
});

Deno.test("schedule: option validation names the argument", () => {
  assertThrows(() => new DDIMScheduler({ betaSchedule: "quadratic" as "linear" }), RangeError, "betaSchedule");
  assertThrows(() => new DDIMScheduler({ predictionType: "eps" as "epsilon" }), RangeError, "predictionType");
  assertThrows(() => new DDIMScheduler({ timestepSpacing: "even" as "leading" }), RangeError, "timestepSpacing");
  // deno-lint-ignore no-explicit-any
  assertThrows(() => new DDIMScheduler({ num_train_timesteps: 10 } as any), TypeError, 'unknown option "num_train');
  // deno-lint-ignore no-explicit-any
  assertThrows(() => new DDIMScheduler({ varianceType: "fixed_small" } as any), TypeError, "varianceType");
  // deno-lint-ignore no-explicit-any
  assertThrows(() => new DDPMScheduler({ setAlphaToOne: true } as any), TypeError, "setAlphaToOne");
  assertThrows(() => new DDPMScheduler({ varianceType: "learned" as "fixed_small" }), RangeError, "varianceType");
  assertThrows(() => new DDPMScheduler({ numTrainTimesteps: 0 }), RangeError, "numTrainTimesteps");
  assertThrows(() => new DDPMScheduler({ betaStart: 0 }), RangeError, "betaStart");
  assertThrows(() => new DDPMScheduler({ clipSampleRange: -1 }), RangeError, "clipSampleRange");
  assertThrows(() => new DDPMScheduler({ trainedBetas: [0.1, 1.5] }), RangeError, "betas[1]");
  assertThrows(() => new DDPMScheduler({ trainedBetas: [0.1, 0.2], numTrainTimesteps: 3 }), RangeError, "trainedBetas");
  assertThrows(() => new DDIMScheduler({ setAlphaToOne: 1 as unknown as boolean }), TypeError, "setAlphaToOne");
  assertEquals(new DDIMScheduler({ predictionType: "v" }).config.predictionType, "v_prediction");
  const s = new DDIMScheduler({ stepsOffset: 200 });
  assertThrows(() => s.setTimesteps(0), RangeError, "numInferenceSteps");
  assertThrows(() => s.setTimesteps(1001), RangeError, "numInferenceSteps");
  s.setTimesteps(2); // [500, 0] + 200 fits …
  assertEquals(Array.from(s.timesteps), [700, 200]);
  assertThrows(() => s.setTimesteps(1000), RangeError, "lower stepsOffset"); // … 999 + 200 does not
  assertThrows(() => s.setTimesteps(3, [5, 9, 1]), RangeError, "strictly descending");
  assertThrows(() => s.setTimesteps(2, [5, 1, 0]), RangeError, "numInferenceSteps");
  assertThrows(() => s.setTimesteps(1, [1000]), RangeError, "outside [0, 1000)");
});
