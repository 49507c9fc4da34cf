/**
 * ROC figures: one curve per class (one-vs-rest) with its AUC in the legend, the
 * macro-average curve, and the diagonal chance line.
 * @module
 */
import { auc, rocCurve } from "../metrics/auroc.ts";
import { checkNumClasses, checkRange, type ScoresLike, toLabels, toScoreMatrix } from "../metrics/_input.ts";
import type { LabelsLike } from "../metrics/_input.ts";
import { type RenderedPng, type RenderOptions, renderSvgToPng } from "./render.ts";
import {
  drawAxes,
  el,
  figureTitle,
  fmt,
  legend,
  type LegendItem,
  legendSize,
  seriesColor,
  svgDocument,
} from "./svg.ts";

/** A ROC curve to draw, with its legend label. */
export interface LabelledRocCurve {
  /** Legend text (the AUC is appended). */
  label: string;
  /** False-positive rates, non-decreasing. */
  fpr: readonly number[];
  /** True-positive rates. */
  tpr: readonly number[];
  /** Area under the curve (default: computed from the points). */
  auc?: number;
  /** Line colour (default: the palette colour of its position). */
  color?: string;
  /** SVG `stroke-dasharray`, for a dashed line. */
  dash?: string;
  /** Line width (default 2). */
  width?: number;
}

/** Options of {@linkcode rocCurvesSvg}. */
export interface RocFigureOptions {
  /** Figure title (default "ROC curves"). */
  title?: string;
  /** Figure width in pixels (default 640). */
  width?: number;
  /** Figure height in pixels (default 600). */
  height?: number;
  /** Decimals of the AUC values in the legend (default 3). */
  digits?: number;
}

/** Options of {@linkcode rocPlotSvg} and {@linkcode rocPlot}. */
export interface RocPlotOptions extends RocFigureOptions {
  /** Class names by index (default "class 0", "class 1", ...). */
  classNames?: readonly string[];
  /** Number of classes, to check flat `(N, C)` scores (inferred otherwise). */
  numClasses?: number;
  /** Draw the macro-average curve (default true when there are more than two classes). */
  macroAverage?: boolean;
}

function checkSize(fn: string, name: string, v: unknown, min: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > 8192) {
    throw new RangeError(`${fn}: options.${name} must be a number of pixels in [${min}, 8192], got ${v}`);
  }
  return v;
}

/** The curve's TPR at `x`: the lowest value there (`side` "low") or the highest ("high"). */
function tprAt(fpr: readonly number[], tpr: readonly number[], x: number, side: "low" | "high"): number {
  let lo = 0;
  let hi = fpr.length - 1;
  if (x <= fpr[0]) return side === "low" ? tpr[0] : tpr[lastIndexAt(fpr, fpr[0])];
  if (x >= fpr[hi]) return side === "low" ? tpr[firstIndexAt(fpr, fpr[hi])] : tpr[hi];
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fpr[mid] < x) lo = mid;
    else hi = mid;
  }
  // fpr[lo] < x <= fpr[hi]
  if (fpr[hi] === x) return side === "low" ? tpr[hi] : tpr[lastIndexAt(fpr, x, hi)];
  return tpr[lo] + (tpr[hi] - tpr[lo]) * (x - fpr[lo]) / (fpr[hi] - fpr[lo]);
}

function firstIndexAt(fpr: readonly number[], x: number): number {
  return fpr.indexOf(x);
}

function lastIndexAt(fpr: readonly number[], x: number, from = 0): number {
  let i = from;
  while (i + 1 < fpr.length && fpr[i + 1] === x) i++;
  return i;
}

/**
 * The macro-average of ROC curves: the mean TPR over the union of their FPR points, keeping
 * vertical steps (the lowest and highest TPR at an FPR), so its area equals the mean of the
 * curves' areas.
 */
export function macroAverageRoc(curves: readonly { fpr: readonly number[]; tpr: readonly number[] }[]): {
  fpr: number[];
  tpr: number[];
} {
  if (curves.length === 0) throw new RangeError("macroAverageRoc: curves is empty");
  const grid = [...new Set(curves.flatMap((c) => [...c.fpr]))].sort((a, b) => a - b);
  const fpr: number[] = [];
  const tpr: number[] = [];
  for (const x of grid) {
    let low = 0;
    let high = 0;
    for (const c of curves) {
      low += tprAt(c.fpr, c.tpr, x, "low");
      high += tprAt(c.fpr, c.tpr, x, "high");
    }
    low /= curves.length;
    high /= curves.length;
    fpr.push(x);
    tpr.push(low);
    if (high !== low) {
      fpr.push(x);
      tpr.push(high);
    }
  }
  return { fpr, tpr };
}

/**
 * An SVG figure of ROC curves: axes from 0 to 1 labelled "False positive rate" and "True
 * positive rate", the chance diagonal, each curve with "label (AUC = …)" in the legend.
 */
export function rocCurvesSvg(curves: readonly LabelledRocCurve[], options: RocFigureOptions = {}): string {
  const fn = "rocCurvesSvg";
  if (!curves || typeof curves.length !== "number" || curves.length === 0) {
    throw new RangeError(`${fn}: curves must be a non-empty array`);
  }
  const width = checkSize(fn, "width", options.width ?? 640, 200);
  const height = checkSize(fn, "height", options.height ?? 600, 200);
  const digits = options.digits ?? 3;
  const items: LegendItem[] = [];
  const lines: string[] = [];
  const left = 72;
  const top = 50;
  const plotW = width - left - 24;
  const plotH = height - top - 64;
  const axes = drawAxes({
    x: left,
    y: top,
    width: plotW,
    height: plotH,
    xDomain: [0, 1],
    yDomain: [0, 1],
    xTicks: [0, 0.2, 0.4, 0.6, 0.8, 1],
    yTicks: [0, 0.2, 0.4, 0.6, 0.8, 1],
    xTickFormat: (v) => v.toFixed(1),
    yTickFormat: (v) => v.toFixed(1),
    xLabel: "False positive rate",
    yLabel: "True positive rate",
  });
  lines.push(el("line", {
    x1: axes.sx(0),
    y1: axes.sy(0),
    x2: axes.sx(1),
    y2: axes.sy(1),
    stroke: "#999",
    "stroke-width": 1.2,
    "stroke-dasharray": "6 5",
  }));
  curves.forEach((c, i) => {
    if (c.fpr.length !== c.tpr.length || c.fpr.length < 2) {
      throw new RangeError(`${fn}: curves[${i}] (${c.label}) needs fpr and tpr of the same length ≥ 2`);
    }
    if (c.fpr.some((v) => !Number.isFinite(v)) || c.tpr.some((v) => !Number.isFinite(v))) {
      throw new RangeError(`${fn}: curves[${i}] (${c.label}) has non-finite rates (a class with no samples?)`);
    }
    const color = c.color ?? seriesColor(i);
    const a = c.auc ?? auc(c.fpr, c.tpr);
    const pts = c.fpr.map((x, k) => `${fmt(axes.sx(x))},${fmt(axes.sy(c.tpr[k]))}`).join(" ");
    lines.push(el("polyline", {
      points: pts,
      fill: "none",
      stroke: color,
      "stroke-width": c.width ?? 2,
      "stroke-dasharray": c.dash,
      "stroke-linejoin": "round",
    }));
    items.push({ label: `${c.label} (AUC = ${a.toFixed(digits)})`, color, dash: c.dash, width: c.width });
  });
  items.push({ label: "chance (AUC = 0.5)", color: "#999", dash: "6 5", width: 1.2 });
  const size = legendSize(items, 12);
  const legendSvg = legend(items, left + plotW - size.width - 8, top + plotH - size.height - 8, 12);
  const title = figureTitle(width, options.title ?? "ROC curves");
  return svgDocument(width, height, [title, axes.svg, el("g", { class: "curves" }, lines), legendSvg]);
}

/**
 * An SVG ROC figure from labels and scores: for a binary problem (1-D scores, or `(N, 2)`)
 * the positive class's curve; for `C > 2` classes one one-vs-rest curve per class present in
 * `yTrue` and the macro-average (its AUC is the macro one-vs-rest AUROC).
 *
 * @example
 * ```ts
 * const svg = rocPlotSvg(yTrue, probs, { classNames: ["normal", "benign", "malignant"] });
 * ```
 */
export function rocPlotSvg(yTrue: LabelsLike, scores: ScoresLike, options: RocPlotOptions = {}): string {
  const fn = "rocPlotSvg";
  const t = toLabels(fn, "yTrue", yTrue);
  const numClasses = options.numClasses === undefined ? undefined : checkNumClasses(fn, options.numClasses, 2);
  const m = toScoreMatrix(fn, "scores", scores, t.length, numClasses);
  const c = m.oneD ? 2 : m.cols;
  if (c < 2) throw new RangeError(`${fn}: scores must have one value per sample or one column per class (≥ 2)`);
  checkRange(fn, "yTrue", t, c);
  const names = options.classNames ? [...options.classNames] : Array.from({ length: c }, (_, i) => `class ${i}`);
  if (names.length !== c) {
    throw new RangeError(`${fn}: options.classNames has ${names.length} names but there are ${c} classes`);
  }
  const column = (j: number) => Array.from({ length: t.length }, (_, i) => m.data[i * m.cols + j]);
  const curves: LabelledRocCurve[] = [];
  const classes = c === 2 ? [1] : Array.from({ length: c }, (_, j) => j);
  for (const j of classes) {
    const positives = t.filter((v) => v === j).length;
    if (positives === 0 || positives === t.length) {
      if (c === 2) {
        throw new RangeError(`${fn}: yTrue holds only one class; a ROC curve needs positive and negative samples`);
      }
      continue; // a class absent from (or alone in) yTrue has no curve
    }
    const isPos = t.map((v) => (v === j ? 1 : 0));
    const r = rocCurve(isPos, m.oneD ? Array.from(m.data) : column(j));
    curves.push({ label: names[j], fpr: r.fpr, tpr: r.tpr, color: seriesColor(j) });
  }
  if (curves.length === 0) throw new RangeError(`${fn}: no class has both positive and negative samples in yTrue`);
  if (options.macroAverage ?? c > 2) {
    const mean = macroAverageRoc(curves);
    const meanAuc = curves.reduce((a, cur) => a + auc(cur.fpr, cur.tpr), 0) / curves.length;
    const label = curves.length === classes.length
      ? "macro-average"
      : `macro-average of ${curves.length}/${classes.length} classes`;
    curves.push({ label, fpr: mean.fpr, tpr: mean.tpr, auc: meanAuc, color: "#111111", dash: "3 3", width: 2.5 });
  }
  return rocCurvesSvg(curves, options);
}

/** Renders {@linkcode rocPlotSvg} to a PNG file at `path` (atomically). */
export async function rocPlot(
  yTrue: LabelsLike,
  scores: ScoresLike,
  path: string,
  options: RocPlotOptions & RenderOptions = {},
): Promise<RenderedPng> {
  return await renderSvgToPng(rocPlotSvg(yTrue, scores, options), path, { scale: options.scale });
}
