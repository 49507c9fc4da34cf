import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { Rng } from "../util/rng.ts";
import { loadSplit, randomSplit, saveSplit, stratifiedSplit } from "../datasets/split.ts";
import { classBalancedWeights, RandomSampler, SequentialSampler, WeightedRandomSampler } from "../datasets/sampler.ts";
import { MappedDataset, Subset } from "../datasets/subset.ts";
import type { ArrayImage, Dataset, Sample } from "../datasets/types.ts";

function countBy(values: ArrayLike<number>): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i < values.length; i++) m.set(values[i], (m.get(values[i]) ?? 0) + 1);
  return m;
}

Deno.test("stratifiedSplit: per-class shares within one sample of exact over 300 random cases", () => {
  const gen = new Rng(123);
  for (let trial = 0; trial < 300; trial++) {
    const numClasses = 1 + gen.int(8);
    const n = gen.int(400);
    // Skewed class frequencies, including classes with one or two samples.
    const weights = Array.from({ length: numClasses }, () => gen.random() ** 3 + 0.01);
    const total = weights.reduce((a, b) => a + b, 0);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let u = gen.random() * total, c = 0;
      while (c < numClasses - 1 && u >= weights[c]) u -= weights[c++];
      labels[i] = c;
    }
    const valFraction = [0, 0.1, 0.2, 0.25, 1 / 3, 0.5, 0.9, 1][gen.int(8)];
    const { train, val } = stratifiedSplit(labels, { valFraction, seed: trial });
    const all = [...train, ...val].sort((a, b) => a - b);
    assertEquals(all, Array.from({ length: n }, (_, i) => i), `trial ${trial}: train ∪ val must be every index once`);
    assert(
      Math.abs(val.length - valFraction * n) <= 0.5 + 1e-9,
      `trial ${trial}: val total ${val.length} vs ${valFraction * n}`,
    );
    const perClass = countBy(labels), valPerClass = countBy(Array.from(val, (i) => labels[i]));
    for (const [c, nc] of perClass) {
      const got = valPerClass.get(c) ?? 0;
      assert(
        Math.abs(got - valFraction * nc) < 1,
        `trial ${trial}: class ${c} has ${got} of ${nc} in val, exact share ${valFraction * nc}`,
      );
    }
  }
});

Deno.test("stratifiedSplit: deterministic in the seed, different seeds pick different samples", () => {
  const labels = Int32Array.from({ length: 200 }, (_, i) => i % 3);
  const a = stratifiedSplit(labels, { valFraction: 0.2, seed: 7 });
  const b = stratifiedSplit(labels, { valFraction: 0.2, seed: 7 });
  const c = stratifiedSplit(labels, { valFraction: 0.2, seed: 8 });
  assertEquals(a, b);
  assert(a.val.join() !== c.val.join(), "seeds 7 and 8 gave the same validation set");
  assertEquals(a.val.length, 40);
});

Deno.test("stratifiedSplit / randomSplit reject bad arguments", () => {
  assertThrows(() => stratifiedSplit([0, 1], { valFraction: 1.5 }), RangeError, "valFraction");
  assertThrows(() => stratifiedSplit([0, 0.5], { valFraction: 0.5 }), TypeError, "labels[1]");
  assertThrows(() => randomSplit(-1, { valFraction: 0.5 }), RangeError, "n must be");
  assertThrows(() => randomSplit(4, { valFraction: 0.5, seed: 0.5 }), TypeError, "seed");
});

Deno.test("randomSplit: sizes, disjointness, determinism", () => {
  const a = randomSplit(101, { valFraction: 0.3, seed: 1 });
  assertEquals(a.val.length, 30);
  assertEquals(a.train.length, 71);
  assertEquals(new Set([...a.train, ...a.val]).size, 101);
  assertEquals(randomSplit(101, { valFraction: 0.3, seed: 1 }), a);
  assert(randomSplit(101, { valFraction: 0.3, seed: 2 }).val.join() !== a.val.join());
});

Deno.test("saveSplit / loadSplit round trip, atomic write, validation", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const split = stratifiedSplit(Int32Array.from({ length: 50 }, (_, i) => i % 5), { valFraction: 0.2, seed: 3 });
    const path = `${dir}/split.json`;
    await saveSplit(path, split, { datasetLength: 50, seed: 3, valFraction: 0.2 });
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["split.json"], "no temporary file left behind");
    const back = await loadSplit(path, { datasetLength: 50 });
    assertEquals(back.train, split.train);
    assertEquals(back.val, split.val);
    assertEquals([back.datasetLength, back.seed, back.valFraction], [50, 3, 0.2]);
    await assertRejects(() => loadSplit(path, { datasetLength: 40 }), Error, "made for a dataset of 50");
    await Deno.writeTextFile(path, JSON.stringify({ format: "meddiff-split", train: [0, 1], val: [1] }));
    await assertRejects(() => loadSplit(path), RangeError, "index 1 appears twice");
    await Deno.writeTextFile(path, JSON.stringify({ format: "meddiff-split", train: [0, -1], val: [] }));
    await assertRejects(() => loadSplit(path), Error, `"train" must be an array`);
    await Deno.writeTextFile(path, "{ not json");
    await assertRejects(() => loadSplit(path), Error, "not valid JSON");
    await assertRejects(() => loadSplit(`${dir}/missing.json`), Error, "missing.json");
    await assertRejects(() => saveSplit(`${dir}/nope/split.json`, split), Error, "nope/split.json");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SequentialSampler and RandomSampler: a new permutation per epoch, reproducible via setEpoch", () => {
  assertEquals([...new SequentialSampler(5).indices()], [0, 1, 2, 3, 4]);
  const s = new RandomSampler(50, { seed: 9 });
  const e0 = s.indices();
  assertEquals([...e0].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
  s.setEpoch(1);
  const e1 = s.indices();
  assert(e0.join() !== e1.join(), "epochs 0 and 1 gave the same order");
  assertEquals(e1, Rng.derive(9, 1).permutation(50));
  const fresh = new RandomSampler(50, { seed: 9 });
  fresh.setEpoch(1);
  assertEquals(fresh.indices(), e1);
  assertEquals(new RandomSampler(10, { numSamples: 4 }).indices().length, 4);
  const withRep = new RandomSampler(3, { replacement: true, numSamples: 30, seed: 1 }).indices();
  assertEquals(withRep.length, 30);
  assert(withRep.every((i) => i >= 0 && i < 3));
  assertThrows(() => new RandomSampler(3, { numSamples: 4 }), RangeError, "without replacement");
  assertThrows(() => s.setEpoch(-1), RangeError, "epoch");
});

Deno.test("WeightedRandomSampler + classBalancedWeights: class frequencies within 2% of uniform over 40000 draws", () => {
  // 4 classes with 1000 : 100 : 20 : 5 samples.
  const labels = new Int32Array([
    ...Array(1000).fill(0),
    ...Array(100).fill(1),
    ...Array(20).fill(2),
    ...Array(5).fill(3),
  ]);
  const w = classBalancedWeights(labels);
  assert(Math.abs(w[0] - 1 / 1000) < 1e-15 && Math.abs(w[1124] - 1 / 5) < 1e-15);
  const draws = 40000;
  const sampler = new WeightedRandomSampler(w, draws, { seed: 5 });
  for (const epoch of [0, 1]) {
    sampler.setEpoch(epoch);
    const idx = sampler.indices();
    const counts = countBy(Array.from(idx, (i) => labels[i]));
    for (let c = 0; c < 4; c++) {
      const freq = (counts.get(c) ?? 0) / draws;
      // Binomial sd at p = 1/4 over 40000 draws is 0.0022; 0.02 is ~9 sd.
      assert(Math.abs(freq - 0.25) < 0.02, `epoch ${epoch}: class ${c} drawn with frequency ${freq}`);
    }
    // Within the rarest class, every sample is drawn (≈ 2000 draws over 5 samples).
    assertEquals(new Set(Array.from(idx).filter((i) => labels[i] === 3)).size, 5);
  }
  sampler.setEpoch(0);
  const a = sampler.indices();
  sampler.setEpoch(1);
  assert(a.join() !== sampler.indices().join(), "epochs gave the same draws");
  sampler.setEpoch(0);
  assertEquals(sampler.indices(), a);
});

Deno.test("WeightedRandomSampler: zero weights never drawn; without replacement draws distinct indices", () => {
  const w = [0, 1, 0, 3, 0, 2];
  const withRep = new WeightedRandomSampler(w, 6000, { seed: 1 }).indices();
  const counts = countBy(withRep);
  assertEquals([...counts.keys()].sort(), [1, 3, 5]);
  assert(Math.abs(counts.get(3)! / 6000 - 0.5) < 0.03, `index 3 frequency ${counts.get(3)! / 6000}`);
  const noRep = new WeightedRandomSampler(w, 3, { replacement: false, seed: 2 }).indices();
  assertEquals([...noRep].sort(), [1, 3, 5]);
  // Without replacement, the heaviest index comes first most often.
  let firstIs3 = 0;
  const s = new WeightedRandomSampler(w, 2, { replacement: false, seed: 3 });
  for (let e = 0; e < 2000; e++) {
    s.setEpoch(e);
    if (s.indices()[0] === 3) firstIs3++;
  }
  assert(Math.abs(firstIs3 / 2000 - 0.5) < 0.04, `P(first = 3) = ${firstIs3 / 2000}, expected 0.5`);
  assertThrows(() => new WeightedRandomSampler(w, 4, { replacement: false }), RangeError, "positive weight");
  assertThrows(() => new WeightedRandomSampler([1, -1], 4), RangeError, "weights[1]");
  assertThrows(() => new WeightedRandomSampler([0, 0], 4), RangeError, "positive value");
  assertThrows(() => classBalancedWeights([0, -1]), RangeError, "labels[1]");
});

Deno.test("Subset: indices, labels from the base dataset, range checks", async () => {
  const base: Dataset<Sample> = {
    length: 6,
    classes: ["a", "b"],
    get: (i) =>
      Promise.resolve({ image: { data: new Float32Array([i]), shape: [1] }, label: i % 2, id: `s${i}`, meta: {} }),
    labels: () => Int32Array.from({ length: 6 }, (_, i) => i % 2),
  };
  const sub = new Subset(base, [5, 0, 3]);
  assertEquals(sub.length, 3);
  assertEquals(sub.classes, ["a", "b"]);
  assertEquals((await sub.get(0)).id, "s5");
  assertEquals(await sub.labels!(), new Int32Array([1, 0, 1]));
  await assertRejects(() => sub.get(3), RangeError, "[0, 3)");
  assertThrows(() => new Subset(base, [6]), RangeError, "indices[0] = 6");
  const unlabeled = new Subset({ length: 2, get: base.get }, [0]);
  assertEquals(unlabeled.labels, undefined);
});

Deno.test("MappedDataset: a fixed transform with Rng.derive(seed, index); labels and classes pass through", async () => {
  const base: Dataset<Sample> = {
    length: 3,
    classes: ["x", "y"],
    get: (i) =>
      Promise.resolve({ image: { data: new Float32Array([i]), shape: [1] }, label: i % 2, id: `s${i}`, meta: {} }),
    labels: () => new Int32Array([0, 1, 0]),
  };
  const add = (s: Sample, rng: Rng): Sample => {
    const img = s.image as ArrayImage;
    return { ...s, image: { data: img.data.map((v) => v + rng.random()), shape: img.shape } };
  };
  const mapped = new MappedDataset(base, add, { seed: 4 });
  const first = (await mapped.get(2)).image as ArrayImage;
  assertEquals(first.data[0], Math.fround(2 + Rng.derive(4, 2).random()));
  assertEquals(((await mapped.get(2)).image as ArrayImage).data, first.data, "same result on every call");
  assertEquals([mapped.length, mapped.classes, await mapped.labels!()], [3, ["x", "y"], new Int32Array([0, 1, 0])]);
  await assertRejects(() => mapped.get(-1), RangeError, "[0, 3)");
  assertEquals(new MappedDataset({ length: 1, get: base.get }, add).labels, undefined);
});
