import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { PROCEDURAL_CLASSES, ProceduralDataset } from "../datasets/procedural.ts";
import type { ArrayImage, Raster } from "../datasets/types.ts";

async function arrayOf(ds: ProceduralDataset, i: number): Promise<ArrayImage> {
  return (await ds.get(i)).image as ArrayImage;
}

Deno.test("ProceduralDataset: deterministic per (seed, index), independent of order and length", async () => {
  const a = new ProceduralDataset({ length: 40, seed: 3 });
  const b = new ProceduralDataset({ length: 400, seed: 3 });
  const later = await arrayOf(a, 17);
  await arrayOf(a, 2);
  assertEquals(await arrayOf(a, 17), later);
  for (const i of [0, 5, 17, 39]) {
    const [x, y] = [await a.get(i), await b.get(i)];
    assertEquals([x.label, x.id], [y.label, y.id]);
    assertEquals((x.image as ArrayImage).data, (y.image as ArrayImage).data, `sample ${i}`);
  }
  const other = new ProceduralDataset({ length: 40, seed: 4 });
  assert((await arrayOf(other, 17)).data.join() !== later.data.join(), "seeds 3 and 4 drew the same image");
  assert((await arrayOf(a, 16)).data.join() !== later.data.join(), "indices 16 and 17 drew the same image");
});

Deno.test("ProceduralDataset: balanced labels (every block of numClasses holds each class once)", async () => {
  const ds = new ProceduralDataset({ length: 1002, seed: 11 });
  assertEquals(ds.classes, PROCEDURAL_CLASSES);
  const labels = ds.labels();
  const counts = [0, 0, 0, 0];
  for (const l of labels) counts[l]++;
  assertEquals(counts.slice().sort(), [250, 250, 251, 251]);
  for (let b = 0; b + 4 <= 1000; b += 4) {
    assertEquals([...labels.subarray(b, b + 4)].sort(), [0, 1, 2, 3], `block ${b / 4}`);
  }
  for (const i of [0, 1, 2, 3, 500, 1001]) {
    assertEquals((await ds.get(i)).label, labels[i]);
    assertEquals(ds.labelOf(i), labels[i]);
  }
  assert(labels.subarray(0, 40).join() !== new ProceduralDataset({ length: 40, seed: 12 }).labels().join());
  const three = new ProceduralDataset({ length: 9, numClasses: 3 });
  assertEquals(three.classes, ["normal", "microaneurysms", "exudates"]);
  assertEquals([...three.labels()].sort(), [0, 0, 0, 1, 1, 1, 2, 2, 2]);
});

Deno.test("ProceduralDataset: shapes, value range, channels, raster output, sizes", async () => {
  const rgb = new ProceduralDataset({ length: 8, seed: 1 });
  const x = await arrayOf(rgb, 0);
  assertEquals(x.shape, [3, 28, 28]);
  assert(x.data.every((v) => v >= 0 && v <= 1), "values in [0, 1]");
  const corner = x.data[0], centre = x.data[14 * 28 + 14];
  assert(corner < 0.15 && centre > 0.3, `dark corner (${corner}) outside the fundus, bright red centre (${centre})`);
  const grey = await arrayOf(new ProceduralDataset({ length: 8, seed: 1, channels: 1 }), 0);
  assertEquals(grey.shape, [1, 28, 28]);
  for (const p of [0, 300, 406, 783]) {
    const luma = 0.299 * x.data[p] + 0.587 * x.data[784 + p] + 0.114 * x.data[1568 + p];
    assert(Math.abs(grey.data[p] - luma) < 1e-5, `pixel ${p}: grey ${grey.data[p]} vs luma ${luma}`);
  }
  const r = (await new ProceduralDataset({ length: 8, seed: 1, output: "raster" }).get(0)).image as Raster;
  assertEquals([r.width, r.height, r.channels, r.data.constructor.name], [28, 28, 3, "Uint8Array"]);
  for (const p of [0, 300, 406]) {
    for (let c = 0; c < 3; c++) assertEquals(r.data[3 * p + c], Math.round(255 * x.data[c * 784 + p]));
  }
  assertEquals((await arrayOf(new ProceduralDataset({ length: 1, size: 64 }), 0)).shape, [3, 64, 64]);
  assertThrows(() => new ProceduralDataset({ size: 4 }), RangeError, "size");
  assertThrows(() => new ProceduralDataset({ channels: 2 as 1 }), RangeError, "channels");
  assertThrows(() => new ProceduralDataset({ numClasses: 5 }), RangeError, "numClasses");
  await assertRejects(() => rgb.get(8), RangeError, "[0, 8)");
});

/** Nearest-class-mean accuracy on held-out samples, on per-image standardised (or raw) pixels. */
async function nearestMeanAccuracy(channels: 1 | 3, standardise: boolean): Promise<number> {
  const prep = async (ds: ProceduralDataset) => {
    const out: { x: Float64Array; y: number }[] = [];
    for (let i = 0; i < ds.length; i++) {
      const s = await ds.get(i);
      const d = Float64Array.from((s.image as ArrayImage).data);
      if (standardise) {
        const m = d.reduce((a, b) => a + b, 0) / d.length;
        const sd = Math.sqrt(d.reduce((a, b) => a + (b - m) ** 2, 0) / d.length);
        for (let j = 0; j < d.length; j++) d[j] = (d[j] - m) / sd;
      }
      out.push({ x: d, y: s.label });
    }
    return out;
  };
  const train = await prep(new ProceduralDataset({ length: 600, channels, seed: 100 }));
  const test = await prep(new ProceduralDataset({ length: 400, channels, seed: 200 }));
  const D = train[0].x.length;
  const means = Array.from({ length: 4 }, () => new Float64Array(D));
  const counts = [0, 0, 0, 0];
  for (const { x, y } of train) {
    counts[y]++;
    for (let j = 0; j < D; j++) means[y][j] += x[j];
  }
  means.forEach((m, k) => m.forEach((_, j) => (m[j] /= counts[k])));
  let correct = 0;
  for (const { x, y } of test) {
    let best = -1, bestDist = Infinity;
    for (let k = 0; k < 4; k++) {
      let d = 0;
      for (let j = 0; j < D; j++) d += (x[j] - means[k][j]) ** 2;
      if (d < bestDist) [best, bestDist] = [k, d];
    }
    if (best === y) correct++;
  }
  return correct / test.length;
}

Deno.test("ProceduralDataset: classes are separable by a nearest-class-mean classifier on pixels (chance 25%)", async () => {
  const rgbZ = await nearestMeanAccuracy(3, true), greyZ = await nearestMeanAccuracy(1, true);
  const rgbRaw = await nearestMeanAccuracy(3, false);
  console.log(
    `  nearest class mean, 600 train / 400 held-out: RGB standardised ${(100 * rgbZ).toFixed(1)}%, ` +
      `grey standardised ${(100 * greyZ).toFixed(1)}%, RGB raw ${(100 * rgbRaw).toFixed(1)}%`,
  );
  // Chance is 25%; on 400 samples its standard deviation is ~2.2 points.
  assert(rgbZ > 0.7, `RGB accuracy ${rgbZ}`);
  assert(greyZ > 0.55, `grey accuracy ${greyZ}`);
  assert(rgbRaw > 0.55, `raw RGB accuracy ${rgbRaw}`);
});
