/**
 * Figures: SVG content (names, legends, escaping), PNG decoding to the right size with real
 * content, the atomic write, and errors for bad input.
 */
import sharp from "sharp";
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { auc, confusionMatrix, rocAucScore } from "../metrics/mod.ts";
import {
  confusionMatrixPlot,
  confusionMatrixSvg,
  counterfactualSvg,
  distanceHistogramSvg,
  escapeXml,
  macroAverageRoc,
  parseJsonl,
  renderSvgToPng,
  rocCurvesSvg,
  rocPlot,
  rocPlotSvg,
  svgToPngBytes,
  trainingCurvesPlot,
  trainingCurvesSvg,
} from "../plots/mod.ts";
import { niceDomain, niceTicks, textColorOn } from "../plots/svg.ts";

/** Seeded LCG in [0, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** N samples of C classes with softmax probabilities that favour the true class. */
function problem(n: number, c: number, seed: number): { yTrue: number[]; probs: number[][]; yPred: number[] } {
  const r = lcg(seed);
  const yTrue: number[] = [];
  const probs: number[][] = [];
  const yPred: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = i % c;
    const e = Array.from({ length: c }, (_, j) => Math.exp((j === y ? 1.5 : 0) + 2 * r()));
    const z = e.reduce((a, b) => a + b, 0);
    const p = e.map((v) => v / z);
    yTrue.push(y);
    probs.push(p);
    yPred.push(p.indexOf(Math.max(...p)));
  }
  return { yTrue, probs, yPred };
}

const NAMES = ["normal", "benign <nevus>", 'malignant & "melanoma"', "o'ther"];

async function decode(path: string): Promise<{ width: number; height: number; data: Uint8Array; channels: number }> {
  const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data), channels: info.channels };
}

/** Standard deviation of the grey values (0 for a blank image). */
function greyStd(img: { data: Uint8Array; channels: number }): number {
  let s = 0;
  let s2 = 0;
  const n = img.data.length / img.channels;
  for (let i = 0; i < n; i++) {
    const g = (img.data[i * img.channels] + img.data[i * img.channels + 1] + img.data[i * img.channels + 2]) / 3;
    s += g;
    s2 += g * g;
  }
  return Math.sqrt(Math.max(0, s2 / n - (s / n) ** 2));
}

/** Pixels within `tol` of the colour `#rrggbb`. */
function countColour(img: { data: Uint8Array; channels: number }, hex: string, tol = 30): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  let count = 0;
  for (let i = 0; i < img.data.length; i += img.channels) {
    if (Math.abs(img.data[i] - r) + Math.abs(img.data[i + 1] - g) + Math.abs(img.data[i + 2] - b) <= tol) count++;
  }
  return count;
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("plots: escapeXml escapes markup and drops characters XML forbids", () => {
  assertEquals(escapeXml(`a<b>&"c'`), "a&lt;b&gt;&amp;&quot;c&#39;");
  assertEquals(escapeXml("x\u0000y\u001Fz\tw"), "xyz\tw");
  assertEquals(escapeXml("&amp;"), "&amp;amp;");
  assertEquals(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assertEquals(niceTicks(0.13, 2.41, 6), [0.5, 1, 1.5, 2]);
  assertEquals(niceDomain(1, 30), [0, 30]);
  assertEquals(niceDomain(0.17, 2.35), [0, 2.5]);
  assertEquals(niceTicks(3, 3).length > 1, true);
  assertEquals(textColorOn("#08306b"), "#ffffff");
  assertEquals(textColorOn("#f7fbff"), "#000000");
});

Deno.test("plots: rocPlotSvg — per-class curves, macro-average with the macro AUROC, chance line, escaped names", () => {
  const { yTrue, probs } = problem(200, 4, 1);
  const svg = rocPlotSvg(yTrue, probs, { classNames: NAMES, title: "ROC <val>" });
  assert(svg.includes("benign &lt;nevus&gt; (AUC = "), "escaped class name with its AUC");
  assert(svg.includes("malignant &amp; &quot;melanoma&quot; (AUC = "), "ampersand and quotes escaped");
  assert(svg.includes("o&#39;ther (AUC = "), "apostrophe escaped");
  assert(!svg.includes("<nevus>") && !svg.includes('& "'), "no raw markup from the names");
  assert(svg.includes("ROC &lt;val&gt;"), "escaped title");
  const macro = rocAucScore(yTrue, probs, { multiClass: "ovr", average: "macro" });
  assert(svg.includes(`macro-average (AUC = ${macro.toFixed(3)})`), "macro AUROC in the legend");
  assert(svg.includes("chance (AUC = 0.5)"), "chance line in the legend");
  assert(svg.includes("False positive rate") && svg.includes("True positive rate"), "axis titles");
  assertEquals(svg.match(/<polyline/g)?.length, 5, "4 classes + macro-average");
  const perClass = rocAucScore(yTrue, probs, { average: null });
  NAMES.forEach((n, j) => assert(svg.includes(`${escapeXml(n)} (AUC = ${perClass[j].toFixed(3)})`), `AUC of ${n}`));
  // Binary: one curve for class 1, no macro-average.
  const bin = rocPlotSvg(yTrue.map((y) => y % 2), probs.map((p) => p[1] + p[3]), {
    classNames: ["benign", "malignant"],
  });
  assertEquals(bin.match(/<polyline/g)?.length, 1);
  assert(bin.includes("malignant (AUC = ") && !bin.includes("macro-average"));
  // A class with no samples is left out, and the macro-average says over how many classes.
  const missing = rocPlotSvg(yTrue.map((y) => (y === 3 ? 0 : y)), probs, { classNames: NAMES });
  assert(missing.includes("macro-average of 3/4 classes"), "macro-average over the present classes");
});

Deno.test("plots: macroAverageRoc's area is the mean of the curves' areas (vertical steps kept)", () => {
  const a = { fpr: [0, 0, 0.5, 1], tpr: [0, 0.5, 1, 1] };
  const b = { fpr: [0, 0.25, 0.25, 1], tpr: [0, 0, 1, 1] };
  const m = macroAverageRoc([a, b]);
  assert(Math.abs(auc(m.fpr, m.tpr) - (auc(a.fpr, a.tpr) + auc(b.fpr, b.tpr)) / 2) < 1e-12);
  assertEquals(m.fpr[0], 0);
  assertEquals(m.tpr[m.tpr.length - 1], 1);
  const { yTrue, probs } = problem(150, 3, 5);
  const svg = rocPlotSvg(yTrue, probs);
  const macro = rocAucScore(yTrue, probs);
  assert(svg.includes(`macro-average (AUC = ${macro.toFixed(3)})`));
  assertThrows(() => rocCurvesSvg([]), RangeError, "curves must be a non-empty array");
  assertThrows(
    () => rocCurvesSvg([{ label: "x", fpr: [0, NaN], tpr: [0, 1] }]),
    RangeError,
    "non-finite rates",
  );
});

Deno.test("plots: rocPlot writes a PNG of the figure's size with the curves drawn; scale multiplies it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meddiff_plots_" });
  try {
    const { yTrue, probs } = problem(200, 4, 2);
    const out = `${dir}/figures/roc.png`; // the folder is created
    const size = await rocPlot(yTrue, probs, out, { classNames: NAMES });
    assertEquals(size, { width: 640, height: 600 });
    const img = await decode(out);
    assertEquals([img.width, img.height], [640, 600]);
    assert(greyStd(img) > 10, `the figure is not blank (std ${greyStd(img)})`);
    assert(countColour(img, "#1f77b4") > 100, "the first class's blue curve is drawn");
    assert(countColour(img, "#d62728") > 100, "the fourth class's red curve is drawn");
    const big = await rocPlot(yTrue, probs, `${dir}/roc2x.png`, { scale: 2, width: 500, height: 400 });
    assertEquals(big, { width: 1000, height: 800 });
    const meta = await sharp(`${dir}/roc2x.png`).metadata();
    assertEquals([meta.width, meta.height, meta.format], [1000, 800, "png"]);
    assertEquals(await listDir(`${dir}/figures`), ["roc.png"], "no temporary file left behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plots: confusion matrix — counts and row-normalised panels, annotations, class names, colour scale", async () => {
  const { yTrue, yPred } = problem(300, 4, 3);
  const cm = confusionMatrix(yTrue, yPred, { numClasses: 4 });
  const svg = confusionMatrixSvg(cm, { classNames: NAMES });
  assert(svg.includes(">Counts<") && svg.includes(">Normalised over true class<"), "both panel titles");
  assert(svg.includes(">True label<") && svg.includes(">Predicted label<"), "axis titles");
  for (const n of NAMES) {
    assertEquals(svg.split(`>${escapeXml(n)}<`).length - 1, 4, `"${n}" on both axes of both panels`);
  }
  for (const row of cm) for (const v of row) assert(svg.includes(`>${v}<`), `count ${v} annotated`);
  const rowSum = cm[0].reduce((a, b) => a + b, 0);
  assert(svg.includes(`>${(cm[0][0] / rowSum).toFixed(2)}<`), "normalised annotation");
  assert(svg.includes('fill="#08306b"'), "the diagonal's largest count gets the darkest colour");
  const countsOnly = confusionMatrixSvg(cm, { panels: "counts" });
  assert(!countsOnly.includes("Normalised"));
  const dir = await Deno.makeTempDir({ prefix: "meddiff_plots_" });
  try {
    const size = await confusionMatrixPlot(cm, `${dir}/cm.png`, { classNames: NAMES });
    const w = Number(/width="(\d+)"/.exec(svg)![1]);
    const h = Number(/height="(\d+)"/.exec(svg)![1]);
    assertEquals(size, { width: w, height: h });
    const img = await decode(`${dir}/cm.png`);
    assertEquals([img.width, img.height], [w, h]);
    assert(greyStd(img) > 10, "not blank");
    assert(countColour(img, "#08306b", 20) > 200, "dark diagonal cells are drawn");
    // Many classes: cells get small and annotations are left out, names still drawn.
    const big = Array.from({ length: 40 }, (_, i) => Array.from({ length: 40 }, (_, j) => (i === j ? 9 : (i + j) % 3)));
    const bigNames = big.map((_, i) => `k${i}`);
    const bigSvg = confusionMatrixSvg(big, { classNames: bigNames });
    assert(bigSvg.includes(">k39<") && !bigSvg.includes(">9<"), "names kept, annotations dropped at 14 px cells");
    await confusionMatrixPlot(big, `${dir}/cm40.png`);
    assertEquals(await listDir(dir), ["cm.png", "cm40.png"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plots: training curves from records or metrics.jsonl text — legend, gaps, log axis", async () => {
  const records = Array.from({ length: 20 }, (_, i) => ({
    epoch: i + 1,
    train_loss: 2 * Math.exp(-i / 5) + 0.1,
    val_loss: i % 2 === 0 ? 2 * Math.exp(-i / 6) + 0.3 : undefined, // logged every other epoch
    "val <acc>": 0.5 + i / 50,
    lr: 1e-3,
  }));
  const svg = trainingCurvesSvg(records, { x: "epoch", series: ["train_loss", "val_loss"], title: "Loss & co" });
  assert(svg.includes(">train_loss<") && svg.includes(">val_loss<"), "legend entries");
  assert(svg.includes("Loss &amp; co"), "escaped title");
  assert(svg.includes(">epoch<") && svg.includes(">value<"), "axis titles");
  assertEquals(svg.match(/<polyline/g)?.length, 2);
  assertEquals(svg.match(/<circle/g)?.length, 20 + 10, "one marker per logged value");
  // Default series: every numeric key except x and counters such as lr; names escaped.
  const all = trainingCurvesSvg(records);
  assert(all.includes(">val &lt;acc&gt;<") && !all.includes(">lr<"));
  // JSONL text gives the same figure as the records.
  const jsonl = records.map((r) => JSON.stringify(r)).join("\n") + "\n\n";
  assertEquals(trainingCurvesSvg(jsonl), all);
  assertEquals(parseJsonl(jsonl).length, 20);
  // Records out of order are sorted by x.
  const shuffled = [...records].reverse();
  assertEquals(
    trainingCurvesSvg(shuffled, { series: ["train_loss"] }),
    trainingCurvesSvg(records, { series: ["train_loss"] }),
  );
  const dir = await Deno.makeTempDir({ prefix: "meddiff_plots_" });
  try {
    const size = await trainingCurvesPlot(jsonl, `${dir}/loss.png`, { series: ["train_loss", "val_loss"], logY: true });
    assertEquals(size, { width: 760, height: 460 });
    const img = await decode(`${dir}/loss.png`);
    assertEquals([img.width, img.height], [760, 460]);
    assert(greyStd(img) > 5, "not blank");
    assert(countColour(img, "#ff7f0e") > 50, "the second series is drawn in orange");
    assertEquals(await listDir(dir), ["loss.png"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plots: atomic write — a failed write leaves neither the target nor a temporary file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meddiff_plots_" });
  try {
    const svg = trainingCurvesSvg([{ epoch: 1, loss: 1 }, { epoch: 2, loss: 0.5 }]);
    await Deno.mkdir(`${dir}/taken.png`); // a folder where the file should go
    await assertRejects(() => renderSvgToPng(svg, `${dir}/taken.png`), Error, "taken.png: cannot write the file");
    assertEquals(await listDir(dir), ["taken.png"], "no temporary file left behind");
    // Overwriting an existing PNG replaces it whole.
    await renderSvgToPng(svg, `${dir}/a.png`);
    const first = await Deno.readFile(`${dir}/a.png`);
    await renderSvgToPng(svg, `${dir}/a.png`, { scale: 1.5 });
    const second = await Deno.readFile(`${dir}/a.png`);
    assert(second.length !== first.length);
    assertEquals((await sharp(second).metadata()).width, Math.round(760 * 1.5));
    assertEquals(await listDir(dir), ["a.png", "taken.png"]);
    // A render error writes nothing.
    await assertRejects(() => renderSvgToPng("<svg><text>a &b</text></svg>", `${dir}/bad.png`), Error, "cannot render");
    assertEquals(await listDir(dir), ["a.png", "taken.png"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plots: bad input errors name the argument", async () => {
  const { yTrue, probs } = problem(40, 3, 4);
  await assertRejects(() => svgToPngBytes("hello"), RangeError, "does not contain an <svg> element");
  await assertRejects(() => svgToPngBytes(42 as unknown as string), TypeError, "svg must be a string");
  await assertRejects(() => svgToPngBytes("<svg></svg>", { scale: 0 }), RangeError, "options.scale");
  assertThrows(() => rocPlotSvg(yTrue, probs, { classNames: ["a", "b"] }), RangeError, "classNames has 2 names");
  assertThrows(() => rocPlotSvg(yTrue.slice(1), probs), RangeError, "39 samples");
  assertThrows(() => rocPlotSvg(yTrue.map(() => 5), probs), RangeError, "yTrue[0] = 5 is out of range");
  assertThrows(() => rocPlotSvg([1, 1, 1], [0.2, 0.5, 0.9]), RangeError, "only one class");
  assertThrows(() => rocPlotSvg(yTrue, probs, { width: 10 }), RangeError, "options.width");
  await assertRejects(() => rocPlot([1, 1], [0.2, 0.4], "/tmp/never.png"), RangeError, "only one class");
  assertThrows(() => confusionMatrixSvg([[1, 2], [3]]), RangeError, "row 1 has 1 entries");
  assertThrows(() => confusionMatrixSvg([[1, -2], [3, 4]]), RangeError, "counts[0][1] must be a finite count");
  assertThrows(() => confusionMatrixSvg([]), RangeError, "non-empty square matrix");
  assertThrows(() => confusionMatrixSvg([[1]], { classNames: ["a", "b"] }), RangeError, "classNames has 2 names");
  assertThrows(() => confusionMatrixSvg([[1]], { panels: "pred" as "true" }), RangeError, "options.panels");
  assertThrows(() => trainingCurvesSvg([{ step: 1, loss: 2 }]), RangeError, 'no record has a numeric "epoch"');
  assertThrows(() => trainingCurvesSvg([{ epoch: 1, loss: 2 }], { series: ["acc"] }), RangeError, 'series "acc"');
  assertThrows(
    () => trainingCurvesSvg([{ epoch: 1, loss: 0 }], { logY: true }),
    RangeError,
    "log y axis needs values > 0",
  );
  assertThrows(() => trainingCurvesSvg([{ epoch: 1 }]), RangeError, "no numeric series");
  assertThrows(() => parseJsonl('{"epoch": 1}\n{oops}\n'), SyntaxError, "line 2 is not valid JSON");
  assertThrows(() => parseJsonl("[1, 2]"), TypeError, "line 1 must hold a JSON object");
});

Deno.test("plots: counterfactual — header, three panels, signed difference red where the image brightened", async () => {
  const w = 4, h = 2, image = new Float32Array(w * h).fill(0.5), cf = image.slice();
  cf[1] = 0.9; // brighter → red
  cf[6] = 0.3; // darker → blue, half the largest change
  const svg = await counterfactualSvg(
    {
      image,
      counterfactual: cf,
      channels: 1,
      height: h,
      width: w,
      classes: ["benign", "<mal>"],
      predicted: 0,
      target: 1,
      trueClass: 1,
      note: "votes 30/21",
    },
    8,
  );
  assert(svg.includes("predicted benign, true &lt;mal&gt;"), "header names predicted and true class, escaped");
  assert(svg.includes("counterfactual → &lt;mal&gt;") && svg.includes("votes 30/21"));
  assert(svg.includes("difference (±0.400)"), "the colour scale is the largest absolute change");
  const uris = [...svg.matchAll(/href="data:image\/png;base64,([^"]+)"/g)].map((m) => m[1]);
  assertEquals(uris.length, 3);
  const bytes = Uint8Array.from(atob(uris[2]), (ch) => ch.charCodeAt(0));
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  assertEquals([info.width, info.height], [8, 4]);
  const at = (x: number, y: number) =>
    Array.from(data.subarray((y * 8 + x) * info.channels, (y * 8 + x) * info.channels + 3));
  assertEquals(at(2, 0), [255, 0, 0], "source pixel (1,0) brightened by the most: full red");
  assertEquals(at(4, 2), [128, 128, 255], "source pixel (2,1) darkened by half as much: half blue");
  assertEquals(at(0, 0), [255, 255, 255], "unchanged: white");
  await assertRejects(
    () =>
      counterfactualSvg({
        image,
        counterfactual: cf.subarray(1),
        channels: 1,
        height: h,
        width: w,
        classes: ["a", "b"],
        predicted: 0,
        target: 1,
      }),
    RangeError,
    "counterfactual has 7 values",
  );
  await assertRejects(
    () =>
      counterfactualSvg({
        image,
        counterfactual: cf,
        channels: 1,
        height: h,
        width: w,
        classes: ["a", "b"],
        predicted: 0,
        target: 2,
      }),
    RangeError,
    "target must be a class index",
  );
});

Deno.test("distanceHistogramSvg: one step line per set with its count, the marker, and clear errors", () => {
  const svg = distanceHistogramSvg(
    [{ label: "generated", values: [1, 1.5, 2, 2.5] }, { label: "real test", values: [2, 3, 3.5] }],
    { marker: { label: "closest test–train pair", value: 2 }, bins: 5 },
  );
  assert(svg.includes("generated (4)") && svg.includes("real test (3)"), "legend with counts");
  assert(svg.includes("closest test–train pair (2.00)"), "marker in the legend");
  assertEquals((svg.match(/<polyline/g) ?? []).length >= 2, true);
  assertEquals((svg.match(/stroke-dasharray="6 4"/g) ?? []).length >= 1, true);
  // Each series is drawn as shares: 5 bins × 2 points per bin.
  const first = svg.match(/<polyline points="([^"]+)"/)![1].trim().split(" ");
  assertEquals(first.length, 10);
  assertThrows(() => distanceHistogramSvg([]), RangeError, "at least one series");
  assertThrows(() => distanceHistogramSvg([{ label: "a", values: [] }]), RangeError, 'series "a" has no values');
  assertThrows(() => distanceHistogramSvg([{ label: "a", values: [1, NaN] }]), RangeError, "NaN at 1");
});
