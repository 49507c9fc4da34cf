/**
 * Classifier-free guidance (combination, one batched forward pass, skip at s = 1, rescale)
 * and the denoising pipeline (oracle models recover x₀ with DDIM and DDPM, seeding,
 * intermediates, flat memory).
 */
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { assertClose, gpuTest, randomArray } from "./_util.ts";
import {
  add,
  cast,
  Generator,
  indexSelect,
  keep,
  memoryStats,
  mul,
  randn,
  type Tensor,
  tensor,
  zeros,
} from "../mod.ts";
import {
  ClassifierFreeGuidance,
  DDIMScheduler,
  DDPMScheduler,
  DiffusionPipeline,
  type PipelineStepInfo,
} from "../samplers/mod.ts";

const f32 = (a: ArrayLike<number>) => Float64Array.from(Float32Array.from(a));

/** Unbiased std of each row of a (B, n) float64 array. */
function rowStd(a: Float64Array, B: number): number[] {
  const n = a.length / B;
  return Array.from({ length: B }, (_, b) => {
    const row = a.subarray(b * n, (b + 1) * n);
    const m = row.reduce((s, v) => s + v, 0) / n;
    return Math.sqrt(row.reduce((s, v) => s + (v - m) ** 2, 0) / (n - 1));
  });
}

gpuTest("cfg: ε̃ = ε_u + s·(ε_c − ε_u), and diffusers' guidance rescale", async () => {
  const shape = [2, 3, 4];
  const c = randomArray(24, 1, -2, 2), u = randomArray(24, 2, -1, 1);
  const ct = tensor(c, shape), ut = tensor(u, shape);
  const cs = f32(c), us = f32(u);
  const s = 3.5;
  const guided = us.map((v, i) => v + s * (cs[i] - v));
  const plain = new ClassifierFreeGuidance({ guidanceScale: s });
  assertEquals(plain.guidanceRescale, 0);
  assertClose(await plain.combine(ct, ut).data(), guided, { atol: 1e-5, rtol: 1e-5 });
  const phi = 0.7;
  const stdC = rowStd(cs, 2), stdG = rowStd(guided, 2);
  const rescaled = guided.map((g, i) => {
    const b = Math.floor(i / 12);
    return phi * g * stdC[b] / stdG[b] + (1 - phi) * g;
  });
  const rs = new ClassifierFreeGuidance({ guidanceScale: s, guidanceRescale: phi });
  assertClose(await rs.combine(ct, ut).data(), rescaled, { atol: 1e-5, rtol: 1e-4 });
  // φ = 1 matches the conditional prediction's per-sample std exactly
  const full = await new ClassifierFreeGuidance({ guidanceScale: s, guidanceRescale: 1 }).combine(ct, ut).data();
  assertClose(rowStd(Float64Array.from(full), 2), stdC, { atol: 1e-5, rtol: 1e-4 });
  assertThrows(() => new ClassifierFreeGuidance({ guidanceScale: NaN }), RangeError, "guidanceScale");
  assertThrows(
    () => new ClassifierFreeGuidance({ guidanceScale: 2, guidanceRescale: 2 }),
    RangeError,
    "guidanceRescale",
  );
  // deno-lint-ignore no-explicit-any
  assertThrows(() => new ClassifierFreeGuidance({ guidance_scale: 2 } as any), TypeError, "unknown option");
  assertThrows(() => plain.combine(ct, tensor([1, 2])), RangeError, "uncondOutput shape");
});

/** A fake conditional model: out = x·(1 + cond) + t/1000, logging each call's batch and inputs. */
function fakeModel() {
  const calls: { batch: number; t: number[]; cond: number[] }[] = [];
  const pending: Promise<void>[] = [];
  const model = (x: Tensor, t: Tensor, cond: Tensor): Tensor => {
    const entry = { batch: x.shape[0], t: [] as number[], cond: [] as number[] };
    calls.push(entry);
    pending.push(t.toArray().then((v) => void (entry.t = v)), cond.toArray().then((v) => void (entry.cond = v)));
    const shape = [x.shape[0], ...x.shape.slice(1).map(() => 1)];
    const cf = cast(cond, "float32").reshape(shape);
    const tf = cast(t, "float32").reshape(shape);
    return add(mul(x, add(cf, 1)), mul(tf, 1 / 1000));
  };
  return { model, calls, settle: () => Promise.all(pending) };
}

gpuTest("cfg: conditional and unconditional predictions in ONE batched forward pass; skips at s = 1", async () => {
  const B = 3, shape = [B, 2, 2];
  const xv = randomArray(12, 5);
  const x = tensor(xv, shape), t = tensor(new Int32Array([10, 20, 30])), y = tensor(new Int32Array([1, 2, 0]));
  const NULL = 5;
  const xs = f32(xv);
  const ref = (labels: number[]) =>
    xs.map((v, i) => v * (1 + labels[Math.floor(i / 4)]) + [10, 20, 30][Math.floor(i / 4)] / 1000);
  const ec = ref([1, 2, 0]), eu = ref([NULL, NULL, NULL]);
  for (const s of [3, 0.5, -1]) {
    const f = fakeModel();
    const out = new ClassifierFreeGuidance({ guidanceScale: s }).predict(f.model, x, t, y, NULL);
    await f.settle();
    assertEquals(f.calls.length, 1, `one forward pass at s = ${s}`);
    assertEquals(f.calls[0].batch, 2 * B);
    assertEquals(f.calls[0].t, [10, 20, 30, 10, 20, 30]);
    assertEquals(f.calls[0].cond, [1, 2, 0, NULL, NULL, NULL]);
    assertEquals(out.shape, shape);
    assertClose(await out.data(), eu.map((v, i) => v + s * (ec[i] - v)), { atol: 1e-5, rtol: 1e-5 });
  }
  // s = 1: the conditional pass only
  const one = fakeModel();
  const o1 = new ClassifierFreeGuidance({ guidanceScale: 1, guidanceRescale: 0.5 }).predict(one.model, x, t, y, NULL);
  await one.settle();
  assertEquals(one.calls.map((c) => c.batch), [B]);
  assertEquals(one.calls[0].cond, [1, 2, 0]);
  assertClose(await o1.data(), ec, { atol: 1e-5, rtol: 1e-5 });
  // s = 0 without rescale: the unconditional pass only
  const zero = fakeModel();
  const o0 = new ClassifierFreeGuidance({ guidanceScale: 0 }).predict(zero.model, x, t, y, NULL);
  await zero.settle();
  assertEquals(zero.calls.map((c) => c.cond), [[NULL, NULL, NULL]]);
  assertClose(await o0.data(), eu, { atol: 1e-5, rtol: 1e-5 });
  // a null-label tensor instead of an index
  const tl = fakeModel();
  const nullLabels = tensor(new Int32Array([7, 7, 6]));
  new ClassifierFreeGuidance({ guidanceScale: 2 }).predict(tl.model, x, t, y, nullLabels);
  await tl.settle();
  assertEquals(tl.calls[0].cond, [1, 2, 0, 7, 7, 6]);
  // argument checks
  const g = new ClassifierFreeGuidance({ guidanceScale: 2 });
  assertThrows(() => g.predict(tl.model, x, tensor(new Int32Array([1, 2])), y, NULL), RangeError, "t must be");
  assertThrows(() => g.predict(tl.model, x, t, tensor(new Int32Array([1])), NULL), RangeError, "cond must");
  assertThrows(() => g.predict(tl.model, x, t, y, tensor(new Int32Array([1]))), RangeError, "nullCond must match");
  assertThrows(() => g.predict(tl.model, x, t, y, 1.5), TypeError, "null class index");
  assertThrows(() => g.predict((xx) => xx.slice(0, 0, 1), x, t, y, NULL), RangeError, "batch of 6");
});

/**
 * A model that knows x₀ and returns the exact ε for the current sample at each sample's
 * timestep: ε = (x − √ᾱ_t·x₀)/√(1 − ᾱ_t), with ᾱ_t gathered from the int32 timesteps.
 */
function oracle(x0: Tensor, alphasCumprod: Float64Array) {
  const sa = tensor(Float32Array.from(alphasCumprod, (a) => Math.sqrt(a)));
  const so = tensor(Float32Array.from(alphasCumprod, (a) => Math.sqrt(1 - a)));
  const calls: number[] = [];
  const model = (x: Tensor, t: Tensor, labels?: Tensor): Tensor => {
    calls.push(x.shape[0]);
    if (labels) assertEquals(labels.shape, [x.shape[0]]);
    const shape = [x.shape[0], ...x.shape.slice(1).map(() => 1)];
    const a = indexSelect(sa, 0, t).reshape(shape), s = indexSelect(so, 0, t).reshape(shape);
    const target = x0.shape[0] === x.shape[0] ? x0 : x0.repeat([x.shape[0] / x0.shape[0], 1, 1, 1]);
    return x.sub(target.mul(a)).div(s);
  };
  return { model, calls };
}

gpuTest("pipeline: an oracle model recovers x₀ with DDIM (10 steps, η = 0 and 1) and DDPM", async () => {
  const shape = [2, 1, 4, 4];
  const x0v = randomArray(32, 51, -0.9, 0.9);
  const x0 = tensor(x0v, shape);
  for (
    const [name, scheduler, eta, steps] of [
      ["ddim", new DDIMScheduler(), 0, 10],
      ["ddim trailing η=1", new DDIMScheduler({ timestepSpacing: "trailing" }), 1, 10],
      ["ddpm", new DDPMScheduler(), undefined, 20],
      [
        "ddpm linspace fixed_large",
        new DDPMScheduler({ timestepSpacing: "linspace", varianceType: "fixed_large" }),
        undefined,
        15,
      ],
    ] as const
  ) {
    const o = oracle(x0, scheduler.alphasCumprod);
    const pipe = new DiffusionPipeline({ model: o.model, scheduler });
    const { samples, intermediates } = await pipe.generate({ shape, numInferenceSteps: steps, eta, seed: 3 });
    assertEquals(intermediates, undefined);
    assertEquals(samples.shape, shape);
    assertEquals(o.calls.length, steps);
    assertClose(await samples.data(), x0v, { atol: 2e-3, rtol: 0, msg: name });
  }
});

gpuTest("pipeline: classifier-free guidance runs one batched pass per step; intermediates every k steps", async () => {
  const shape = [2, 1, 4, 4];
  const x0v = randomArray(32, 52, -0.9, 0.9);
  const x0 = tensor(x0v, shape);
  const scheduler = new DDIMScheduler({ predictionType: "epsilon" });
  const o = oracle(x0, scheduler.alphasCumprod);
  const guider = new ClassifierFreeGuidance({ guidanceScale: 4 });
  const pipe = new DiffusionPipeline({ model: o.model, scheduler, guider });
  const seen: number[] = [];
  const res = await pipe.generate({
    batchSize: 2,
    sampleShape: [1, 4, 4],
    classLabels: [0, 1],
    nullClass: 2,
    numInferenceSteps: 10,
    returnIntermediates: 3,
    generator: new Generator(8),
    onStep: (info: PipelineStepInfo) => {
      seen.push(info.timestep);
      assertEquals(info.numSteps, 10);
      assertEquals(info.sample.shape, shape);
    },
  });
  // the oracle ignores the labels, so guidance leaves ε unchanged and x₀ is still recovered
  assertEquals(o.calls, Array(10).fill(4));
  assertEquals(seen, [900, 800, 700, 600, 500, 400, 300, 200, 100, 0]);
  assertClose(await res.samples.data(), x0v, { atol: 2e-3, rtol: 0 });
  assertEquals(res.intermediateTimesteps, [900, 600, 300, 0]);
  assertEquals(res.intermediates!.length, 4);
  for (const x of res.intermediates!) {
    assertEquals(x.shape, shape);
    assertClose(await x.data(), x0v, { atol: 2e-3, rtol: 0 });
  }
  // s = 1: no unconditional pass, no nullClass needed
  const o1 = oracle(x0, scheduler.alphasCumprod);
  const pipe1 = new DiffusionPipeline({
    model: o1.model,
    scheduler,
    guider: new ClassifierFreeGuidance({ guidanceScale: 1 }),
  });
  await pipe1.generate({ shape, classLabels: tensor(new Int32Array([1, 1])), numInferenceSteps: 3, seed: 1 });
  assertEquals(o1.calls, [2, 2, 2]);
});

gpuTest("pipeline: the same seed gives the same samples; memory stays flat over the steps", async () => {
  const scheduler = new DDPMScheduler({ clipSample: false });
  const model = (x: Tensor) => x.mul(0.1);
  const pipe = new DiffusionPipeline({ model, scheduler });
  const shape = [2, 3, 8, 8];
  const live: number[] = [];
  const before = memoryStats().liveBytes;
  const a = await pipe.generate({
    shape,
    numInferenceSteps: 12,
    seed: 42,
    onStep: () => void live.push(memoryStats().liveBytes),
  });
  assertEquals(live.length, 12);
  assert(live.every((v) => v === live[0]), `live bytes per step: ${live.join(", ")}`);
  const after = memoryStats().liveBytes;
  const da = await a.samples.data();
  a.samples.dispose();
  assertEquals(memoryStats().liveBytes, before, `before ${before}, after ${after} (samples included)`);
  const b = await pipe.generate({ shape, numInferenceSteps: 12, seed: 42 });
  assertEquals(await b.samples.data(), da);
  const c = await pipe.generate({ shape, numInferenceSteps: 12, generator: new Generator(43) });
  const dc = await c.samples.data();
  assert(dc.some((v, i) => Math.abs(v - da[i]) > 1e-3), "a different seed gives different samples");
});

gpuTest("pipeline: argument checks name the argument", async () => {
  const scheduler = new DDIMScheduler();
  const model = (x: Tensor) => x.mul(0);
  assertThrows(() => new DiffusionPipeline({ model: 5 as unknown as () => Tensor, scheduler }), TypeError, "model");
  assertThrows(
    () => new DiffusionPipeline({ model, scheduler: {} as unknown as DDIMScheduler }),
    TypeError,
    "scheduler",
  );
  const pipe = new DiffusionPipeline({ model, scheduler });
  await assertRejects(() => pipe.generate({ numInferenceSteps: 2 }), TypeError, "shape");
  await assertRejects(() => pipe.generate({ shape: [1, 2], batchSize: 1 }), TypeError, "either shape");
  await assertRejects(() => pipe.generate({ shape: [0, 2] }), RangeError, "positive integers");
  await assertRejects(() => pipe.generate({ shape: [1, 2], numInferenceSteps: 0 }), RangeError, "numInferenceSteps");
  await assertRejects(
    () => pipe.generate({ shape: [1, 2], returnIntermediates: 0 }),
    RangeError,
    "returnIntermediates",
  );
  await assertRejects(() => pipe.generate({ shape: [1, 2], seed: 1, generator: new Generator(1) }), TypeError, "seed");
  await assertRejects(() => pipe.generate({ shape: [2, 2], classLabels: [1] }), RangeError, "classLabels");
  await assertRejects(() => pipe.generate({ shape: [1, 2], nullClass: 3 }), TypeError, "nullClass");
  // deno-lint-ignore no-explicit-any
  await assertRejects(() => pipe.generate({ shape: [1, 2], steps: 3 } as any), TypeError, 'unknown option "steps"');
  const bad = new DiffusionPipeline({ model: () => zeros([1, 3]), scheduler });
  await assertRejects(() => bad.generate({ shape: [1, 2], numInferenceSteps: 2 }), RangeError, "sample shape [1,2]");
  const guided = new DiffusionPipeline({ model, scheduler, guider: new ClassifierFreeGuidance({ guidanceScale: 2 }) });
  await assertRejects(() => guided.generate({ shape: [1, 2] }), TypeError, "classLabels");
  await assertRejects(() => guided.generate({ shape: [1, 2], classLabels: [0] }), TypeError, "nullClass");
  const ddpm = new DiffusionPipeline({ model, scheduler: new DDPMScheduler() });
  await assertRejects(() => ddpm.generate({ shape: [1, 2], numInferenceSteps: 2, eta: 0 }), RangeError, "eta");
});

gpuTest(
  "pipeline: from an image, the last ⌈strength·steps⌉ timesteps denoise it noised to the first of them",
  async () => {
    const shape = [2, 1, 3, 3];
    const image = tensor(randomArray(18, 4, -1, 1), shape);
    const sched = new DDIMScheduler({ predictionType: "epsilon" });
    const kept: Tensor[][] = [];
    const pipe = new DiffusionPipeline({
      scheduler: sched,
      model: (x, t) => {
        kept.push([keep(x.clone()), keep(t.clone())]); // read back after generate
        return zeros(x.shape);
      },
    });
    const { samples } = await pipe.generate({ shape, image, strength: 0.3, numInferenceSteps: 10, seed: 7 });
    samples.dispose();
    const seen = await Promise.all(kept.map(async ([x, t]) => ({ x: await x.toArray(), t: await t.toArray() })));
    kept.flat().forEach((k) => k.dispose());
    assertEquals(seen.length, 3, "⌈0.3 · 10⌉ = 3 steps");
    sched.setTimesteps(10);
    const all = Array.from(sched.timesteps);
    assertEquals(seen.map((s) => s.t[0]), all.slice(7));
    // The first input is the image noised to all[7] with the seed's first draw.
    const noise = randn(shape, { generator: new Generator(7) });
    const expected = await sched.addNoise(image, noise, all[7]).toArray();
    assertClose(seen[0].x, expected, { atol: 1e-5 });
    await assertRejects(() => pipe.generate({ shape, strength: 0.5 }), TypeError, "strength");
    await assertRejects(() => pipe.generate({ shape, image, strength: 0 }), RangeError, "strength");
    await assertRejects(() => pipe.generate({ shape: [1, 1, 3, 3], image }), RangeError, "image");
  },
);
