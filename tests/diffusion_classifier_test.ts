/**
 * The diffusion classifier (samplers/diffusion_classifier.ts) against independent references:
 * an oracle model that is always right, errors and decisions recomputed in float64 from the
 * noise bank, batch layouts that must not change a decision, staged elimination's accounting,
 * and the calibration helpers (temperature scaling, risk–coverage).
 */
import { keep, noGrad, type Tensor, tensor } from "../mod.ts";
import {
  classifierNoise,
  type DiffusionClassifierOptions,
  diffusionClassify,
  NoiseSchedule,
  rankClasses,
  voteUncertainty,
} from "../samplers/mod.ts";
import type { PredictionType } from "../samplers/mod.ts";
import { fitTemperature, riskCoverage, temperatureSoftmax } from "../metrics/mod.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { assertClose, gpuTest, randomArray } from "./_util.ts";

const T = 100;
const schedule = NoiseSchedule.named("squaredcos_cap_v2", T);
const SHAPE = [1, 4, 4];
const SIZE = 16;

/** K random class prototypes; image i is prototype `labels[i]`. */
function prototypes(K: number, seed: number): number[][] {
  return Array.from({ length: K }, (_, c) => randomArray(SIZE, seed + c, -1, 1));
}

/**
 * The oracle: for class y it predicts what the model should if the image were prototype y, so
 * the true class's error is 0 and every other class's is positive.
 */
function oracle(protos: number[][], type: PredictionType) {
  const a = tensor(Float32Array.from(schedule.sqrtAlphasCumprod));
  const s = tensor(Float32Array.from(schedule.sqrtOneMinusAlphasCumprod));
  const table = tensor(protos.flat(), [protos.length, ...SHAPE]);
  return (x: Tensor, t: Tensor, y?: Tensor): Tensor => {
    const R = x.shape[0];
    const at = a.indexSelect(0, t).reshape([R, 1, 1, 1]);
    const st = s.indexSelect(0, t).reshape([R, 1, 1, 1]);
    const x0 = table.indexSelect(0, y!);
    const eps = x.sub(x0.mul(at)).div(st);
    if (type === "epsilon") return eps;
    if (type === "sample") return x0;
    return eps.mul(at).sub(x0.mul(st)); // v
  };
}

function imagesOf(protos: number[][], labels: number[]): Tensor {
  return tensor(labels.flatMap((c) => protos[c]), [labels.length, ...SHAPE]);
}

const base = (model: DiffusionClassifierOptions["model"], K: number, type: PredictionType = "epsilon") => ({
  model,
  schedule,
  predictionType: type,
  numClasses: K,
  // Skip the last steps, where √ᾱ ≈ 0 and every class explains the noise equally well.
  timestepRange: [0, 90] as const,
});

gpuTest("diffusion classifier: an oracle model is always right, for every prediction type and decision", async () => {
  const K = 3, labels = [0, 1, 2, 2, 1, 0, 1];
  const protos = prototypes(K, 11);
  const images = imagesOf(protos, labels);
  for (const type of ["epsilon", "v_prediction", "sample"] as const) {
    for (const decision of ["majority", "mean"] as const) {
      const res = await diffusionClassify({ ...base(oracle(protos, type), K, type), trials: 5, decision }, images);
      assertEquals(Array.from(res.predictions), labels, `${type} ${decision}`);
      for (let i = 0; i < labels.length; i++) {
        assertEquals(res.votes[i * K + labels[i]], 5, "every trial votes for the true class");
        assert(res.meanErrors[i * K + labels[i]] < 1e-6, `true class error ${res.meanErrors[i * K + labels[i]]}`);
      }
    }
  }
});

gpuTest(
  "diffusion classifier: every class of a trial sees the same x_t and timestep, drawn from the bank",
  async () => {
    const K = 3, labels = [0, 2];
    const protos = prototypes(K, 3);
    const images = imagesOf(protos, labels);
    // The recorder keeps its inputs past the classifier's scope, to be read afterwards.
    const passes: Tensor[][] = [];
    const recorder = (x: Tensor, t: Tensor, y?: Tensor): Tensor => {
      passes.push([keep(x.clone()), keep(t.clone()), keep(y!.clone())]);
      return x.mul(0);
    };
    const res = await diffusionClassify({ ...base(recorder, K), trials: 2, maxBatch: 64, seed: 5 }, images, [40, 41]);
    assertEquals(passes.length, 1, "one pass for 2 images × 2 trials × 3 classes");
    const [xv, tv, yv] = await Promise.all(passes[0].map((p) => p.toArray()));
    passes[0].forEach((p) => p.dispose());
    const rec = { x: Array.from({ length: 12 }, (_, r) => xv.slice(r * SIZE, (r + 1) * SIZE)), t: tv, y: yv };
    assertEquals(rec.y, [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
    for (let p = 0; p < 4; p++) {
      const i = Math.floor(p / 2), trial = p % 2;
      const { t, noise } = classifierNoise(5, 40 + i, trial, SIZE, [0, 90]);
      assertEquals(res.timesteps[i * 2 + trial], t);
      const a = schedule.sqrtAlphasCumprod[t], s = schedule.sqrtOneMinusAlphasCumprod[t];
      const xt = protos[labels[i]].map((v, k) => a * v + s * noise[k]);
      for (let k = 0; k < K; k++) {
        assertEquals(rec.t[p * K + k], t);
        assertClose(rec.x[p * K + k], xt, { atol: 1e-5, msg: `image ${i} trial ${trial} class ${k}` });
      }
    }
  },
);

gpuTest("diffusion classifier: errors, votes and both decisions match a float64 recomputation", async () => {
  const K = 3, labels = [0, 1, 2, 1];
  const protos = prototypes(K, 21);
  const images = imagesOf(protos, labels);
  // ε̂ = 0.5·x_t + 0.3·(c − 1): the classes' errors differ by a class- and noise-dependent amount.
  const model = (x: Tensor, _t: Tensor, y?: Tensor) =>
    x.mul(0.5).add(y!.float().sub(1).mul(0.3).reshape([-1, 1, 1, 1]));
  const N = 9;
  for (const decision of ["majority", "mean"] as const) {
    const res = await diffusionClassify({ ...base(model, K), trials: N, decision, seed: 7 }, images);
    const votes = new Array(labels.length * K).fill(0), sums = new Array(labels.length * K).fill(0);
    labels.forEach((lab, i) => {
      for (let j = 0; j < N; j++) {
        const { t, noise } = classifierNoise(7, i, j, SIZE, [0, 90]);
        const a = schedule.sqrtAlphasCumprod[t], s = schedule.sqrtOneMinusAlphasCumprod[t];
        const errs = Array.from({ length: K }, (_, c) => {
          let e = 0;
          for (let k = 0; k < SIZE; k++) {
            const xt = a * protos[lab][k] + s * noise[k];
            e += (0.5 * xt + 0.3 * (c - 1) - noise[k]) ** 2;
          }
          return e / SIZE;
        });
        assertClose(res.trialErrors.subarray((i * N + j) * K, (i * N + j + 1) * K), errs, { atol: 1e-4, rtol: 1e-4 });
        votes[i * K + errs.indexOf(Math.min(...errs))]++;
        errs.forEach((e, c) => (sums[i * K + c] += e));
      }
    });
    assertEquals(Array.from(res.votes), votes);
    assertClose(res.meanErrors, sums.map((s) => s / N), { atol: 1e-4, rtol: 1e-4 });
    const expected = labels.map((_, i) =>
      rankClasses([0, 1, 2], votes.slice(i * K), sums.slice(i * K).map((s) => s / N), decision)[0]
    );
    assertEquals(Array.from(res.predictions), expected, decision);
  }
});

Deno.test("rankClasses: votes first (ties by mean error, then index), or mean error alone", () => {
  // votes [3, 2, 3], mean errors [0.5, 0.1, 0.4]
  assertEquals(rankClasses([0, 1, 2], [3, 2, 3], [0.5, 0.1, 0.4], "majority"), [2, 0, 1]);
  assertEquals(rankClasses([0, 1, 2], [3, 2, 3], [0.5, 0.1, 0.4], "mean"), [1, 2, 0]);
  assertEquals(rankClasses([0, 2], [1, 0, 1], [0.2, 0, 0.2], "majority"), [0, 2]);
  const u = voteUncertainty({ votes: Int32Array.from([4, 0, 2, 2]), numClasses: 2 });
  assertClose(u.entropy, [0, Math.log(2)]);
  assertClose(u.margin, [1, 0]);
});

gpuTest(
  "diffusion classifier: batch layout (joint, small batches, one class per pass) changes no decision",
  async () => {
    const K = 3, labels = [2, 0, 1, 1, 0];
    const protos = prototypes(K, 31);
    const images = imagesOf(protos, labels);
    const noisy = (x: Tensor, t: Tensor, y?: Tensor) => oracle(protos, "epsilon")(x, t, y).mul(0.7);
    const runs = [
      await diffusionClassify({ ...base(noisy, K), trials: 7 }, images),
      await diffusionClassify({ ...base(noisy, K), trials: 7, maxBatch: 4 }, images),
      await diffusionClassify({ ...base(noisy, K), trials: 7, oneClassPerPass: true }, images),
    ];
    for (const r of runs.slice(1)) {
      assertEquals(Array.from(r.predictions), Array.from(runs[0].predictions));
      assertEquals(Array.from(r.votes), Array.from(runs[0].votes));
      assertClose(r.trialErrors, runs[0].trialErrors, { atol: 1e-5 });
    }
    // The same images in another order, with their ids: the same per-image answers.
    const perm = [3, 0, 4, 1, 2];
    const r = await diffusionClassify(
      { ...base(noisy, K), trials: 7 },
      imagesOf(protos, perm.map((i) => labels[i])),
      perm,
    );
    perm.forEach((i, k) => assertEquals(r.predictions[k], runs[0].predictions[i]));
  },
);

gpuTest("diffusion classifier: staged elimination evaluates fewer rows and keeps the oracle right", async () => {
  const K = 4, labels = [3, 1, 0];
  const protos = prototypes(K, 41);
  const images = imagesOf(protos, labels);
  const stages = [{ trials: 3, keep: 2 }, { trials: 4, keep: 1 }];
  const res = await diffusionClassify({ ...base(oracle(protos, "epsilon"), K), stages }, images);
  assertEquals(Array.from(res.predictions), labels);
  assertEquals(res.numTrials, 7);
  assertEquals(res.rows, labels.length * (3 * 4 + 4 * 2));
  for (let i = 0; i < labels.length; i++) {
    const runs = Array.from(res.trialsRun.subarray(i * K, (i + 1) * K));
    assertEquals(runs.filter((n) => n === 7).length, 2, "two classes ran every trial");
    assertEquals(runs.filter((n) => n === 3).length, 2, "two were dropped after 3");
    assertEquals(runs[labels[i]], 7);
  }
});

gpuTest("diffusion classifier: options are checked with messages that name them", async () => {
  const images = tensor(new Float32Array(2 * SIZE), [2, ...SHAPE]);
  const m = (x: Tensor) => x;
  await assertRejects(() => diffusionClassify({ ...base(m, 1) }, images), RangeError, "numClasses");
  await assertRejects(() => diffusionClassify({ ...base(m, 2), trials: 0 }, images), RangeError, "trials");
  await assertRejects(
    () => diffusionClassify({ ...base(m, 3), stages: [{ trials: 2, keep: 4 }] }, images),
    RangeError,
    "stages[0].keep",
  );
  await assertRejects(
    () => diffusionClassify({ ...base(m, 2), timestepRange: [5, 5] }, images),
    RangeError,
    "timestepRange",
  );
  await assertRejects(() => diffusionClassify({ ...base(m, 2) }, images, [1]), RangeError, "imageIds");
  const wrong = (x: Tensor) => noGrad(() => x.reshape([x.shape[0], -1]));
  await assertRejects(() => diffusionClassify({ ...base(wrong, 2), trials: 1 }, images), RangeError, "returned shape");
});

Deno.test("fitTemperature: recovers the temperature of over-confident logits and lowers the NLL", () => {
  // Labels drawn from softmax(z); the logits handed over are 4·z (over-confident): τ ≈ 4.
  const n = 4000, K = 3;
  const r = randomArray(n * (K + 1), 9, 0, 1);
  const z = Array.from({ length: n * K }, (_, k) => 3 * (randomArray(1, 100 + k, -1, 1)[0]));
  const labels = Array.from({ length: n }, (_, i) => {
    const e = z.slice(i * K, (i + 1) * K).map(Math.exp), s = e.reduce((a, b) => a + b, 0);
    let u = r[i] * s, c = 0;
    while (c < K - 1 && u > e[c]) u -= e[c++];
    return c;
  });
  const logits = z.map((v) => 4 * v);
  const fit = fitTemperature(labels, logits, { numClasses: K });
  assert(fit.nllAfter < fit.nllBefore, `NLL ${fit.nllBefore} → ${fit.nllAfter}`);
  assert(Math.abs(fit.temperature - 4) < 0.4, `τ = ${fit.temperature}`);
  // Against a brute-force grid over τ.
  const nll = (tau: number) => {
    const p = temperatureSoftmax(logits, tau, K);
    return -labels.reduce((a, y, i) => a + Math.log(p[i * K + y]), 0) / n;
  };
  let best = Infinity, bestTau = 0;
  for (let tau = 1; tau <= 8; tau += 0.01) if (nll(tau) < best) [best, bestTau] = [nll(tau), tau];
  assert(Math.abs(fit.temperature - bestTau) < 0.02, `τ ${fit.temperature} vs grid ${bestTau}`);
  assertClose([fit.nllAfter], [best], { atol: 1e-6 });
  assertThrows(() => fitTemperature([0, 1], [[0, NaN], [1, 0]]), RangeError);
  assertThrows(() => temperatureSoftmax([0, 1], 0, 2), RangeError, "temperature");
});

Deno.test("riskCoverage: accuracy of the most confident predictions, ties averaged", () => {
  const rc = riskCoverage([0.9, 0.6, 0.8, 0.6], [1, 0, 1, 1]);
  assertClose(rc.coverage, [0.25, 0.5, 0.75, 1]);
  assertClose(rc.accuracy, [1, 1, (2 + 0.5) / 3, 0.75]);
  assertClose([rc.aurc], [(0 + 0 + (1 - 2.5 / 3) + 0.25) / 4]);
  assertThrows(() => riskCoverage([0.5], [2]), RangeError, "correct");
  assertThrows(() => riskCoverage([], []), RangeError);
});
