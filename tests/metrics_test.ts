/**
 * Classification metrics against scikit-learn (tests/fixtures/metrics_sklearn.json, made by
 * scripts/make_metrics_fixtures.py), hand-checked references, error messages and the bootstrap.
 */
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import {
  accuracyScore,
  auc,
  balancedAccuracyScore,
  bootstrapCi,
  calibrationBins,
  classificationReport,
  cohenKappaScore,
  confusionMatrix,
  expectedCalibrationError,
  f1Score,
  fbetaScore,
  formatFixed,
  precisionRecallFscoreSupport,
  precisionScore,
  quantileSorted,
  recallScore,
  rocAucScore,
  rocCurve,
} from "../metrics/mod.ts";
import { warnings } from "../metrics/_input.ts";

type Num = number | string;
type Json = Record<string, unknown>;

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/metrics_sklearn.json", import.meta.url)),
) as Record<string, Json[]>;

function num(v: Num): number {
  if (v === "nan") return NaN;
  if (v === "inf") return Infinity;
  if (v === "-inf") return -Infinity;
  return v as number;
}

/** `actual` matches `expected` (numbers, "nan"/"inf" strings, nested arrays/objects) within `tol`. */
function assertClose(actual: unknown, expected: unknown, where: string, tol = 1e-9): void {
  if (Array.isArray(expected)) {
    assert(actual !== null && typeof actual === "object" && "length" in actual, `${where}: expected an array`);
    const a = actual as ArrayLike<unknown>;
    assertEquals(a.length, expected.length, `${where}: length`);
    expected.forEach((e, i) => assertClose(a[i], e, `${where}[${i}]`, tol));
    return;
  }
  if (expected !== null && typeof expected === "object") {
    const a = actual as Record<string, unknown>;
    assertEquals(Object.keys(a).sort(), Object.keys(expected).sort(), `${where}: keys`);
    for (const [k, v] of Object.entries(expected)) assertClose(a[k], v, `${where}.${k}`, tol);
    return;
  }
  const e = num(expected as Num);
  const x = actual as number;
  if (Number.isNaN(e)) return assert(Number.isNaN(x), `${where}: expected NaN, got ${x}`);
  if (!Number.isFinite(e)) return assert(x === e, `${where}: expected ${e}, got ${x}`);
  assert(typeof x === "number" && Math.abs(x - e) <= tol, `${where}: expected ${e}, got ${x}`);
}

/** Runs `fn` with metric warnings captured (and kept off the console). */
function captureWarnings<T>(fn: () => T): { value: T; messages: string[] } {
  const messages: string[] = [];
  const saved = warnings.emit;
  warnings.emit = (m) => messages.push(m);
  try {
    return { value: fn(), messages };
  } finally {
    warnings.emit = saved;
  }
}

const quiet = <T>(fn: () => T): T => captureWarnings(fn).value;

Deno.test("metrics: the issue's reference case (accuracy, kappa, linear and quadratic kappa, macro F1, balanced accuracy)", () => {
  const t = [0, 1, 2, 3, 4, 0, 1, 2, 3, 4];
  const p = [0, 2, 2, 3, 3, 0, 1, 1, 4, 4];
  const near = (a: number, b: number, what: string) => assert(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);
  near(accuracyScore(t, p), 0.6, "accuracy");
  near(cohenKappaScore(t, p), 0.5, "kappa");
  near(cohenKappaScore(t, p, { weights: "linear" }), 0.75, "linear kappa");
  near(cohenKappaScore(t, p, { weights: "quadratic" }), 0.9, "QWK");
  near(f1Score(t, p, { average: "macro" }), 0.6, "macro F1");
  near(balancedAccuracyScore(t, p), 0.6, "balanced accuracy");
  // Typed arrays are accepted as well as plain arrays.
  near(accuracyScore(Int32Array.from(t), Float32Array.from(p)), 0.6, "typed arrays");
  near(cohenKappaScore(Uint8Array.from(t), Int32Array.from(p), { weights: "quadratic" }), 0.9, "typed QWK");
});

Deno.test("metrics: label metrics match scikit-learn (accuracy, balanced accuracy, confusion matrix, kappa, P/R/F, report)", () => {
  const cases = fixture.label_cases;
  assert(cases.length >= 10, "fixture has the label cases");
  for (const c of cases) {
    const name = c.name as string;
    const t = c.y_true as number[];
    const p = c.y_pred as number[];
    const labels = c.labels as number[] | undefined;
    const posLabel = c.pos_label as number | undefined;
    const exp = c.expected as Json;
    if (labels === undefined) {
      assertClose(accuracyScore(t, p), exp.accuracy, `${name} accuracy`);
      assertClose(accuracyScore(t, p, { normalize: false }), exp.accuracy_count, `${name} accuracy count`);
      assertClose(quiet(() => balancedAccuracyScore(t, p)), exp.balanced_accuracy, `${name} balanced accuracy`);
      assertClose(
        quiet(() => balancedAccuracyScore(t, p, { adjusted: true })),
        exp.balanced_accuracy_adjusted,
        `${name} adjusted balanced accuracy`,
      );
    }
    const cm = exp.confusion_matrix as Record<string, unknown>;
    assertClose(confusionMatrix(t, p, { labels }), cm.None, `${name} confusion matrix`);
    for (const norm of ["true", "pred", "all"] as const) {
      assertClose(confusionMatrix(t, p, { labels, normalize: norm }), cm[norm], `${name} confusion ${norm}`);
    }
    const kappa = exp.kappa as Record<string, unknown>;
    assertClose(cohenKappaScore(t, p, { labels }), kappa.None, `${name} kappa`);
    assertClose(cohenKappaScore(t, p, { labels, weights: "linear" }), kappa.linear, `${name} linear kappa`);
    assertClose(cohenKappaScore(t, p, { labels, weights: "quadratic" }), kappa.quadratic, `${name} QWK`);

    for (const [key, e] of Object.entries(exp.prfs as Record<string, Json>)) {
      const [avgText, zdText] = key.split("|");
      const average = avgText === "None" ? null : avgText as "micro" | "macro" | "weighted" | "binary";
      const zeroDivision = zdText === "warn" ? "warn" as const : Number(zdText);
      const opts = { average, labels, posLabel, zeroDivision };
      const where = `${name} average=${avgText} zeroDivision=${zdText}`;
      const r = quiet(() => precisionRecallFscoreSupport(t, p, opts));
      const scalar = (v: number | number[]) => (Array.isArray(v) ? v : [v]);
      assertClose(scalar(r.precision), e.precision, `${where} precision`);
      assertClose(scalar(r.recall), e.recall, `${where} recall`);
      assertClose(scalar(r.fscore), e.fscore, `${where} F1`);
      if (e.support) assertClose(r.support, e.support, `${where} support`);
      else assertEquals(r.support, null, `${where} support is null when averaged`);
      assertClose(scalar(quiet(() => fbetaScore(t, p, { ...opts, beta: 2 }))), e.f2, `${where} F2`);
      assertClose(scalar(quiet(() => precisionScore(t, p, opts))), e.precision, `${where} precisionScore`);
      assertClose(scalar(quiet(() => recallScore(t, p, opts))), e.recall, `${where} recallScore`);
      assertClose(scalar(quiet(() => f1Score(t, p, opts))), e.fscore, `${where} f1Score`);
    }

    for (const [digits, e] of Object.entries(exp.report as Record<string, Json>)) {
      const r = quiet(() =>
        classificationReport(t, p, {
          labels,
          digits: Number(digits),
          targetNames: c.target_names as string[] | undefined,
        })
      );
      assertEquals(r.text, e.text, `${name} report text (digits ${digits})`);
      assertClose(r.dict, e.dict, `${name} report dict (digits ${digits})`);
    }
  }
});

Deno.test("metrics: rocCurve and rocAucScore match scikit-learn on binary cases (ties, logits, ±1 labels, posLabel, partial AUC)", () => {
  for (const c of fixture.binary_rank_cases) {
    const name = c.name as string;
    const t = c.y_true as number[];
    const s = (c.scores as Num[]).map(num);
    const posLabel = c.pos_label as number | undefined;
    const exp = c.expected as Json;
    assertClose(rocCurve(t, s, { posLabel }), exp.roc_curve, `${name} rocCurve`);
    assertClose(rocCurve(t, s, { posLabel, dropIntermediate: false }), exp.roc_curve_all, `${name} rocCurve (all)`);
    if (exp.roc_auc !== undefined) {
      assertClose(rocAucScore(t, s), exp.roc_auc, `${name} rocAucScore`);
      assertClose(rocAucScore(t, Float32Array.from(s)), exp.roc_auc, `${name} rocAucScore (Float32Array)`, 1e-6);
      assertClose(rocAucScore(t, s, { maxFpr: 0.3 }), exp["roc_auc_max_fpr_0.3"], `${name} partial AUC`);
      const { fpr, tpr } = rocCurve(t, s, { posLabel });
      assertClose(auc(fpr, tpr), exp.roc_auc, `${name} auc(rocCurve)`);
    }
  }
  for (const c of fixture.two_column_cases) {
    const rows = (c.scores as Num[][]).map((r) => r.map(num));
    assertClose(rocAucScore(c.y_true as number[], rows), (c.expected as Json).roc_auc, `${c.name} (N, 2) rows`);
    assertClose(
      rocAucScore(c.y_true as number[], Float64Array.from(rows.flat())),
      (c.expected as Json).roc_auc,
      `${c.name} (N, 2) flat`,
    );
  }
});

Deno.test("metrics: multiclass rocAucScore matches scikit-learn (ovr/ovo × macro/weighted, per class; rows and flat input)", () => {
  assert(fixture.multiclass_rank_cases.length >= 6);
  for (const c of fixture.multiclass_rank_cases) {
    const name = c.name as string;
    const t = c.y_true as number[];
    const rows = (c.scores as Num[][]).map((r) => r.map(num));
    const flat = Float64Array.from(rows.flat());
    const exp = c.expected as Record<string, unknown>;
    for (const multiClass of ["ovr", "ovo"] as const) {
      for (const average of ["macro", "weighted"] as const) {
        const e = exp[`${multiClass}|${average}`];
        assertClose(rocAucScore(t, rows, { multiClass, average }), e, `${name} ${multiClass} ${average}`);
        assertClose(
          rocAucScore(t, flat, { multiClass, average, numClasses: rows[0].length }),
          e,
          `${name} ${multiClass} ${average} flat`,
        );
      }
    }
    assertClose(rocAucScore(t, rows, { average: null }), exp["ovr|None"], `${name} per class`);
    assertClose(rocAucScore(t, rows), exp["ovr|macro"], `${name} default is ovr macro`);
  }
});

Deno.test("metrics: expectedCalibrationError and calibrationBins match a numpy transcription of Guo et al.", () => {
  for (const c of fixture.ece_cases) {
    const t = c.y_true as number[];
    const probs = c.probs as Num[] | Num[][];
    const p = Array.isArray(probs[0]) ? (probs as Num[][]).map((r) => r.map(num)) : (probs as Num[]).map(num);
    for (const [bins, e] of Object.entries(c.expected as Record<string, Json>)) {
      const nBins = Number(bins);
      assertClose(expectedCalibrationError(t, p, { nBins }), e.ece, `${c.name} ECE (${nBins} bins)`);
      const b = calibrationBins(t, p, { nBins });
      assertClose(b.count, e.count, `${c.name} bin counts`);
      assertClose(b.accuracy, e.accuracy, `${c.name} bin accuracy`);
      assertClose(b.confidence, e.confidence, `${c.name} bin confidence`);
    }
  }
});

Deno.test("metrics: ECE by hand — bins, ties, default 15 bins, perfectly calibrated data", () => {
  // Confidences 0.9 (right) and 0.6 (wrong) land in different bins: (0.1 + 0.6) / 2.
  assert(Math.abs(expectedCalibrationError([0, 1], [[0.9, 0.1], [0.6, 0.4]], { nBins: 10 }) - 0.35) < 1e-12);
  // One bin: |accuracy − mean confidence| = |0.5 − 0.75|.
  assert(Math.abs(expectedCalibrationError([0, 1], [[0.9, 0.1], [0.6, 0.4]], { nBins: 1 }) - 0.25) < 1e-12);
  // A tie takes the first class (argmax), as does a 1-D probability of exactly 0.5.
  const b = calibrationBins([0, 1], [[0.5, 0.5], [0.5, 0.5]], { nBins: 2 });
  assertEquals(b.count, [2, 0]); // confidence 0.5 lies in (0, 0.5]
  assertEquals(b.accuracy[0], 0.5);
  assertEquals(calibrationBins([0], [0.5], { nBins: 4 }).accuracy[1], 1);
  // Bins are (b/M, (b+1)/M]: confidence exactly 0.4 with M = 10 falls in bin 3, not 4.
  const edge = calibrationBins([0], [[0.4, 0.3, 0.3]], { nBins: 10 });
  assertEquals(edge.count.indexOf(1), 3);
  assertEquals(calibrationBins([0], [[1, 0]]).count.length, 15);
  // Labels drawn from the predicted probabilities in each bin: ECE is 0 when accuracy equals confidence.
  const t = [0, 0, 0, 1, 1, 1, 1, 1, 1, 1];
  const probs = t.map(() => [0.3, 0.7]);
  assert(Math.abs(expectedCalibrationError(t, probs)) < 1e-12);
});

Deno.test("metrics: zero division — default warns and gives 0, zeroDivision 0/1/NaN, NaN left out of averages", () => {
  const t = [0, 0, 1, 1];
  const p = [0, 0, 0, 0]; // class 1 never predicted
  const w = captureWarnings(() => precisionScore(t, p));
  assertEquals(w.value, 0);
  assertEquals(w.messages.length, 1);
  assert(w.messages[0].includes("Precision is ill-defined") && w.messages[0].includes("zeroDivision"));
  assertEquals(captureWarnings(() => precisionScore(t, p, { zeroDivision: 0 })).messages.length, 0);
  assertEquals(quiet(() => precisionScore(t, p, { zeroDivision: 1 })), 1);
  assert(Number.isNaN(precisionScore(t, p, { zeroDivision: NaN })));
  // NaN entries are dropped from the macro mean: precision of class 0 only (2/4).
  assertEquals(precisionScore(t, p, { average: "macro", zeroDivision: NaN }), 0.5);
  // recallScore only warns about recall: recall here is defined.
  assertEquals(captureWarnings(() => recallScore(t, p)).messages.length, 0);
  // Weighted average over labels with no true samples falls back to the plain mean (current scikit-learn).
  assertEquals(precisionScore(t, [2, 2, 0, 0], { labels: [2, 3], average: "weighted", zeroDivision: 1 }), 0.5);
  // balanced accuracy warns about predicted classes missing from yTrue.
  const ba = captureWarnings(() => balancedAccuracyScore([0, 0, 1], [0, 2, 1]));
  assertEquals(ba.value, 0.75);
  assert(ba.messages.some((m) => m.includes("not in yTrue")));
});

Deno.test("metrics: confusionMatrix options (numClasses keeps absent classes, labels reorders and filters)", () => {
  assertEquals(confusionMatrix([0, 1, 2, 2], [0, 2, 2, 1]), [[1, 0, 0], [0, 0, 1], [0, 1, 1]]);
  assertEquals(confusionMatrix([0, 1], [0, 1], { numClasses: 3 }), [[1, 0, 0], [0, 1, 0], [0, 0, 0]]);
  assertEquals(confusionMatrix([0, 1], [0, 1], { numClasses: 3, normalize: "true" }), [[1, 0, 0], [0, 1, 0], [
    0,
    0,
    0,
  ]]);
  assertEquals(confusionMatrix([0, 1, 2, 2], [0, 2, 2, 1], { labels: [2, 0] }), [[1, 0], [0, 1]]);
  assertEquals(f1Score([0, 1, 1], [0, 1, 0], { average: null }), [2 / 3, 2 / 3]);
});

Deno.test("metrics: classificationReport structure and Python-style rounding", () => {
  const r = classificationReport([0, 1, 2, 2], [0, 2, 2, 1], { targetNames: ["a", "b", "c"] });
  assertEquals(r.classes.map((c) => c.name), ["a", "b", "c"]);
  assertEquals(r.accuracy, 0.5);
  assertEquals(r.microAvg, null);
  assertEquals(r.macroAvg.f1Score, 0.5);
  assertEquals(r.weightedAvg.support, 4);
  assert(r.text.includes("weighted avg"));
  const sub = quiet(() => classificationReport([0, 1, 2, 2], [0, 2, 2, 1], { labels: [2] }));
  assertEquals(sub.accuracy, null);
  assert(sub.microAvg !== null && sub.text.includes("micro avg"));
  // A superset of the present labels still reports accuracy (as scikit-learn ≥ 1.3).
  const sup = quiet(() => classificationReport([0, 1, 1], [0, 1, 0], { labels: [0, 1, 2] }));
  assertEquals(sup.accuracy, 2 / 3);
  assertEquals(sup.classes.length, 3);
  assertEquals(sup.dict["accuracy"], 2 / 3);
  // Python's format rounds exact ties to even; JavaScript's toFixed rounds them up.
  assertEquals(formatFixed(0.125, 2), "0.12");
  assertEquals(formatFixed(0.375, 2), "0.38");
  assertEquals(formatFixed(-0.125, 2), "-0.12");
  assertEquals(formatFixed(2.5, 0), "2");
  assertEquals(formatFixed(0.3, 1), "0.3");
  assertEquals(formatFixed(1 / 3, 4), "0.3333");
  assertEquals(formatFixed(0.6666, 2), "0.67");
  assertEquals(formatFixed(NaN, 2), "nan");
});

Deno.test("metrics: errors name the argument and what was expected", () => {
  const t = [0, 1, 2, 0, 1, 2];
  assertThrows(() => accuracyScore([0, 1], [0]), RangeError, "yTrue and yPred must have the same length");
  assertThrows(() => accuracyScore([], []), RangeError, "yTrue is empty");
  assertThrows(() => accuracyScore([0, 1.5], [0, 1]), RangeError, "yTrue[1] must be an integer class label");
  assertThrows(() => accuracyScore("01" as unknown as number[], [0, 1]), TypeError, "yTrue must be an array");
  assertThrows(() => f1Score(t, t), RangeError, 'average is "binary"');
  assertThrows(() => f1Score([0, 2], [2, 0], { posLabel: 1 }), RangeError, "options.posLabel = 1 is not a valid label");
  assertThrows(
    () => precisionScore(t, t, { average: "samples" as "macro" }),
    RangeError,
    "options.average must be",
  );
  assertThrows(() => precisionScore([0, 1], [0, 1], { zeroDivision: 2 }), RangeError, "options.zeroDivision");
  assertThrows(() => confusionMatrix(t, t, { labels: [7] }), RangeError, "none of options.labels");
  assertThrows(() => confusionMatrix(t, t, { labels: [1, 1] }), RangeError, "must not repeat a label");
  assertThrows(
    () => confusionMatrix(t, [0, 1, 5, 0, 1, 2], { numClasses: 3 }),
    RangeError,
    "yPred[2] = 5 is out of range",
  );
  assertThrows(() => confusionMatrix(t, t, { normalize: "rows" as "true" }), RangeError, "options.normalize");
  assertThrows(() => cohenKappaScore(t, t, { weights: "cubic" as "linear" }), RangeError, "options.weights");
  // AUROC
  assertThrows(() => rocAucScore([1, 1, 1], [0.2, 0.3, 0.4]), RangeError, "only one class present in yTrue");
  assertThrows(() => rocAucScore([0, 1], [0.2, 0.3, 0.4]), RangeError, "scores has 3 values for 2 samples");
  assertThrows(() => rocAucScore([0, 1, 2], [0.2, 0.3, 0.4]), RangeError, "give (N, 3) class probabilities");
  const rows = [[0.5, 0.3, 0.2], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7]];
  assertThrows(() => rocAucScore([0, 1, 3], rows), RangeError, "yTrue[2] = 3 is out of range");
  assertThrows(() => rocAucScore([0, 1, 1], rows), RangeError, "no samples of class 2");
  assertThrows(() => rocAucScore([0, 1, 2], [[0.5, 0.3, 0.3], ...rows.slice(1)]), RangeError, "sum to 1");
  assertThrows(() => rocAucScore([0, 1, 2], [[0.5, 0.5], ...rows.slice(1)]), RangeError, "row 1 has 3");
  assertThrows(() => rocAucScore([0, 1, 2], [[0.5, 0.3, NaN], ...rows.slice(1)]), RangeError, "scores[0][2] is NaN");
  assertThrows(() => rocAucScore([0, 1, 2], rows, { numClasses: 4 }), RangeError, "options.numClasses is 4");
  assertThrows(() => rocAucScore([0, 1, 2], rows, { multiClass: "raise" as "ovr" }), RangeError, "options.multiClass");
  assertThrows(() => rocAucScore([0, 1, 2], rows, { multiClass: "ovo", average: null }), RangeError, '"ovo"');
  assertThrows(() => rocAucScore([0, 1, 2], rows, { maxFpr: 0.5 }), RangeError, "only available for binary");
  assertThrows(() => rocAucScore([0, 1], [[0.2, 0.3], [0.4, 0.6]]), RangeError, "(N, 2) scores need probabilities");
  assertThrows(() => rocCurve([0, 2, 2], [0.1, 0.2, 0.3]), RangeError, "pass options.posLabel");
  assertThrows(
    () => rocCurve([0, 1], [[0.5, 0.5], [0.2, 0.8]] as unknown as number[]),
    RangeError,
    "score must hold one",
  );
  assertThrows(() => auc([0, 1, 0.5], [0, 1, 1]), RangeError, "neither increasing nor decreasing");
  // Calibration
  assertThrows(
    () => expectedCalibrationError([0, 1], [[1.2, -0.2], [0.5, 0.5]]),
    RangeError,
    "probabilities in [0, 1]",
  );
  assertThrows(
    () => expectedCalibrationError([0, 2], [[0.8, 0.2], [0.5, 0.5]]),
    RangeError,
    "yTrue[1] = 2 is out of range",
  );
  assertThrows(() => expectedCalibrationError([0], [[1, 0]], { nBins: 0 }), RangeError, "options.nBins");
  // Report
  assertThrows(() => classificationReport(t, t, { targetNames: ["a", "b"] }), RangeError, "targetNames has 2 names");
});

Deno.test("metrics: rocCurve warns and gives NaN rates when one class is missing", () => {
  const r = captureWarnings(() => rocCurve([0, 0, 0], [0.1, 0.5, 0.3]));
  assert(r.value.tpr.every(Number.isNaN));
  assertEquals(r.value.fpr, [0, 1 / 3, 1]); // the middle point lies on a straight segment
  assert(r.messages.some((m) => m.includes("no positive samples")));
});

Deno.test("bootstrapCi: seeded, percentile interval around the estimate, plausible width", () => {
  const n = 400;
  const t: number[] = [];
  const p: number[] = [];
  for (let i = 0; i < n; i++) {
    t.push(i % 2);
    p.push(i % 4 === 0 ? 1 - (i % 2) : i % 2); // 75% correct
  }
  const a = bootstrapCi((yt, yp) => accuracyScore(yt, yp), t, p, { seed: 3, nResamples: 500 });
  const b = bootstrapCi((yt, yp) => accuracyScore(yt, yp), t, p, { seed: 3, nResamples: 500 });
  const c = bootstrapCi((yt, yp) => accuracyScore(yt, yp), t, p, { seed: 4, nResamples: 500 });
  assertEquals(a.values, b.values);
  assert(a.values.some((v, i) => v !== c.values[i]), "another seed gives other resamples");
  assertEquals(a.estimate, 0.75);
  assertEquals(a.nSkipped, 0);
  assertEquals(a.values.length, 500);
  assert(a.lower < 0.75 && a.upper > 0.75, `interval [${a.lower}, ${a.upper}] holds the estimate`);
  // Normal approximation: half-width 1.96·sqrt(0.75·0.25/400) ≈ 0.042.
  const half = (a.upper - a.lower) / 2;
  assert(half > 0.03 && half < 0.055, `half-width ${half}`);
  const sorted = Float64Array.from(a.values).sort();
  assertEquals(a.lower, quantileSorted(sorted, 0.025));
  assertEquals(a.upper, quantileSorted(sorted, 0.975));
  const narrow = bootstrapCi((yt, yp) => accuracyScore(yt, yp), t, p, { seed: 3, nResamples: 500, confidence: 0.5 });
  assert(narrow.upper - narrow.lower < a.upper - a.lower, "a 50% interval is narrower than a 95% one");
  // Perfect predictions: every resample scores 1.
  const perfect = bootstrapCi((yt, yp) => accuracyScore(yt, yp), t, t, { nResamples: 50 });
  assertEquals([perfect.lower, perfect.upper], [1, 1]);
});

Deno.test("bootstrapCi: resamples where AUROC is undefined are skipped and counted; stratified keeps classes", () => {
  const t = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]; // one positive: (9/10)^10 ≈ 35% of resamples lose it
  const s = [0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.95];
  const r = bootstrapCi((yt, ys) => rocAucScore(yt, ys), t, s, { nResamples: 1000, seed: 1 });
  assert(r.nSkipped > 250 && r.nSkipped < 450, `skipped ${r.nSkipped}`);
  assertEquals(r.nSkipped + r.values.length, 1000);
  assertEquals(r.estimate, 8 / 9);
  const st = bootstrapCi((yt, ys) => rocAucScore(yt, ys), t, s, { nResamples: 200, seed: 1, stratified: true });
  assertEquals(st.nSkipped, 0);
  // NaN results count as undefined too.
  const nan = bootstrapCi((yt) => (yt.includes(1) ? 1 : NaN), t, s, { nResamples: 300, seed: 2 });
  assert(nan.nSkipped > 50 && nan.nSkipped + nan.values.length === 300);
});

Deno.test("bootstrapCi: rows and flat scores resample the same cases; errors", () => {
  const t = [0, 1, 2, 0, 1, 2, 0, 1, 2, 1, 0, 2];
  const rows = t.map((y, i) => {
    const r = [0.2, 0.2, 0.2];
    r[(y + (i % 4 === 0 ? 1 : 0)) % 3] = 0.6;
    return r;
  });
  const flat = Float32Array.from(rows.flat());
  const fromRows = bootstrapCi((yt, ys) => rocAucScore(yt, ys), t, rows, { nResamples: 100, seed: 9 });
  const fromFlat = bootstrapCi((yt, ys) => rocAucScore(yt, ys), t, flat, { nResamples: 100, seed: 9 });
  assertEquals(fromRows.nSkipped, fromFlat.nSkipped);
  fromRows.values.forEach((v, i) => assert(Math.abs(v - fromFlat.values[i]) < 1e-6, `resample ${i}`));
  const acc = (yt: number[], yp: number[]) => accuracyScore(yt, yp);
  assertThrows(() => bootstrapCi(acc, t, t, { confidence: 1.5 }), RangeError, "options.confidence");
  assertThrows(() => bootstrapCi(acc, t, t, { nResamples: 0 }), RangeError, "options.nResamples");
  assertThrows(() => bootstrapCi(acc, t, [0, 1, 2]), RangeError, "3 values for 12 samples");
  const auroc = (yt: number[], ys: ArrayLike<number>[]) => rocAucScore(yt, ys);
  assertThrows(() => bootstrapCi(auroc, t, rows.slice(1)), RangeError, "11 rows but yTrue has 12");
  assertThrows(() => bootstrapCi(() => NaN, t, t), RangeError, "undefined (NaN) on the full data");
  let calls = 0;
  assertThrows(
    () => bootstrapCi(() => (calls++ === 0 ? 1 : NaN), t, t, { nResamples: 5 }),
    RangeError,
    "undefined on all 5 resamples",
  );
  assertEquals(quantileSorted([1, 2, 3, 4], 0.25), 1.75);
  assertEquals(quantileSorted([1, 2, 3, 4], 0.5), 2.5);
  assertEquals(quantileSorted([5], 0.9), 5);
});
