/**
 * scikit-learn's `classification_report`: precision, recall, F1 and support per class, with
 * accuracy (or the micro average) and the macro and weighted averages — as a structure, as a
 * scikit-learn-shaped dict (for JSON files) and as the same fixed-width text.
 * @module
 */
import { checkLabelsOption, checkSameLength, toLabels, uniqueSorted, type ZeroDivision } from "./_input.ts";
import type { LabelsLike } from "./_input.ts";
import { type Average, precisionRecallFscoreSupport } from "./scores.ts";

/** Options of {@linkcode classificationReport}. */
export interface ClassificationReportOptions {
  /** The classes to report, in order. Default: the sorted labels present in `yTrue` or `yPred`. */
  labels?: LabelsLike;
  /** Display names of the classes, one per label (default: the labels as text). */
  targetNames?: readonly string[];
  /** Decimal places in the text (default 2). */
  digits?: number;
  /** Value of an undefined ratio; see {@linkcode PrfOptions.zeroDivision}. Default `"warn"`. */
  zeroDivision?: ZeroDivision;
}

/** One row of a classification report. */
export interface ReportRow {
  /** Class name (or `"macro avg"`, ...). */
  name: string;
  /** Precision. */
  precision: number;
  /** Recall. */
  recall: number;
  /** F1 score. */
  f1Score: number;
  /** Number of true samples. */
  support: number;
}

/** A row as scikit-learn's `output_dict=True` spells it. */
export interface ReportDictRow {
  /** Precision. */
  precision: number;
  /** Recall. */
  recall: number;
  /** F1 score. */
  "f1-score": number;
  /** Number of true samples. */
  support: number;
}

/** The result of {@linkcode classificationReport}. */
export interface ClassificationReport {
  /** One row per class, in label order. */
  classes: ReportRow[];
  /** Accuracy, when the report covers every label present (otherwise `microAvg` is given). */
  accuracy: number | null;
  /** The micro average, when `labels` leaves out a present label (otherwise null). */
  microAvg: ReportRow | null;
  /** The unweighted mean over classes. */
  macroAvg: ReportRow;
  /** The support-weighted mean over classes. */
  weightedAvg: ReportRow;
  /** scikit-learn's `output_dict=True` form: class names, `"accuracy"`, `"macro avg"`, `"weighted avg"`. */
  dict: Record<string, ReportDictRow | number>;
  /** The fixed-width text scikit-learn prints. */
  text: string;
}

/**
 * Formats `x` with `digits` decimals the way Python's `format(x, ".{digits}f")` does: exact
 * binary value, ties (values exactly halfway, such as 0.125) rounded to even.
 */
export function formatFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  const plain = x.toFixed(digits);
  if (Math.abs(x) >= 1e21) return plain;
  // toFixed breaks exact ties away from zero; Python rounds them to even. A tie has exactly
  // digits + 1 decimals, the last a 5, so the exact decimal expansion shows it.
  const long = Math.abs(x).toFixed(Math.min(100, digits + 40));
  const dot = long.indexOf(".");
  if (!/^50*$/.test(long.slice(dot + 1 + digits))) return plain;
  const kept = digits === 0 ? long.slice(0, dot) : long.slice(0, dot + 1 + digits);
  const lastDigit = Number(kept[kept.length - 1]);
  return lastDigit % 2 === 0 ? (x < 0 ? "-" : "") + kept : plain;
}

function padLeft(s: string, width: number): string {
  return s.length >= width ? s : " ".repeat(width - s.length) + s;
}

/**
 * Builds a classification report (scikit-learn's `classification_report`): per-class
 * precision, recall, F1 and support, accuracy (or the micro average when `labels` leaves out a
 * present label), and the macro and weighted averages.
 *
 * @example
 * ```ts
 * const r = classificationReport([0, 1, 2, 2], [0, 2, 2, 1], { targetNames: ["a", "b", "c"] });
 * console.log(r.text);
 * r.macroAvg.f1Score; // 0.5
 * ```
 */
export function classificationReport(
  yTrue: LabelsLike,
  yPred: LabelsLike,
  options: ClassificationReportOptions = {},
): ClassificationReport {
  const fn = "classificationReport";
  const t = toLabels(fn, "yTrue", yTrue);
  const p = toLabels(fn, "yPred", yPred);
  checkSameLength(fn, "yTrue", t.length, "yPred", p.length);
  const present = uniqueSorted(t, p);
  const labelsGiven = options.labels !== undefined;
  const labels = labelsGiven ? checkLabelsOption(fn, options.labels) : present;
  const digits = options.digits ?? 2;
  if (!Number.isInteger(digits) || digits < 0 || digits > 20) {
    throw new RangeError(`${fn}: options.digits must be an integer in [0, 20], got ${digits}`);
  }
  const names = options.targetNames ? [...options.targetNames] : labels.map(String);
  if (names.length !== labels.length) {
    throw new RangeError(
      `${fn}: options.targetNames has ${names.length} names but there are ${labels.length} classes ` +
        `(${labels.join(", ")}); give one name per class, or options.labels to choose the classes`,
    );
  }
  const zeroDivision = options.zeroDivision ?? "warn";
  const per = precisionRecallFscoreSupport(t, p, { labels, zeroDivision, average: null });
  const classes: ReportRow[] = labels.map((_, i) => ({
    name: names[i],
    precision: per.precision[i],
    recall: per.recall[i],
    f1Score: per.fscore[i],
    support: per.support[i],
  }));
  const total = per.support.reduce((a, b) => a + b, 0);
  const labelSet = new Set(labels);
  const microIsAccuracy = !labelsGiven || present.every((l) => labelSet.has(l));
  const avg = (average: Average, name: string): ReportRow => {
    const r = precisionRecallFscoreSupport(t, p, { labels, zeroDivision, average });
    return { name, precision: r.precision, recall: r.recall, f1Score: r.fscore, support: total };
  };
  const micro = avg("micro", microIsAccuracy ? "accuracy" : "micro avg");
  const macroAvg = avg("macro", "macro avg");
  const weightedAvg = avg("weighted", "weighted avg");

  const toDict = (r: ReportRow): ReportDictRow => ({
    precision: r.precision,
    recall: r.recall,
    "f1-score": r.f1Score,
    support: r.support,
  });
  const dict: Record<string, ReportDictRow | number> = {};
  for (const r of classes) dict[r.name] = toDict(r);
  if (microIsAccuracy) dict["accuracy"] = micro.precision;
  else dict["micro avg"] = toDict(micro);
  dict["macro avg"] = toDict(macroAvg);
  dict["weighted avg"] = toDict(weightedAvg);

  const width = Math.max(...names.map((n) => n.length), "weighted avg".length, digits);
  const headers = ["precision", "recall", "f1-score", "support"];
  let text = padLeft("", width) + " " + headers.map((h) => " " + padLeft(h, 9)).join("") + "\n\n";
  const line = (r: ReportRow) =>
    padLeft(r.name, width) + " " +
    [r.precision, r.recall, r.f1Score].map((v) => " " + padLeft(formatFixed(v, digits), 9)).join("") +
    " " + padLeft(String(r.support), 9) + "\n";
  for (const r of classes) text += line(r);
  text += "\n";
  if (microIsAccuracy) {
    text += padLeft("accuracy", width) + " " + " ".repeat(20) + " " + padLeft(formatFixed(micro.f1Score, digits), 9) +
      " " + padLeft(String(total), 9) + "\n";
  } else {
    text += line(micro);
  }
  text += line(macroAvg) + line(weightedAvg);
  return {
    classes,
    accuracy: microIsAccuracy ? micro.precision : null,
    microAvg: microIsAccuracy ? null : micro,
    macroAvg,
    weightedAvg,
    dict,
    text,
  };
}
