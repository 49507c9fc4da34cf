/**
 * Training curves: loss and metrics against epoch (or step) from the records a run logs, one
 * JSON object per line of `metrics.jsonl` (`{"epoch": 3, "train_loss": 0.41, "val_loss": 0.52}`).
 * @module
 */
import { type RenderedPng, type RenderOptions, renderSvgToPng } from "./render.ts";
import {
  drawAxes,
  el,
  figureTitle,
  legend,
  type LegendItem,
  legendSize,
  niceDomain,
  niceTicks,
  polyline,
  seriesColor,
  svgDocument,
} from "./svg.ts";

/** One logged record: a flat object of numbers (other values are ignored). */
export type MetricsRecord = Readonly<Record<string, unknown>>;

/** Options of {@linkcode trainingCurvesSvg} and {@linkcode trainingCurvesPlot}. */
export interface TrainingCurvesOptions {
  /** Key of the x value (default `"epoch"`); records without it are skipped. */
  x?: string;
  /**
   * Keys to plot. Default: every key holding a number in some record, except `x` and the
   * counters `epoch`, `step`, `iteration`, `time`, `elapsed` and `lr`.
   */
  series?: readonly string[];
  /** Figure title (default "Training curves"). */
  title?: string;
  /** x-axis title (default: the `x` key). */
  xLabel?: string;
  /** y-axis title (default "value"). */
  yLabel?: string;
  /** Logarithmic y axis (every plotted value must be > 0). */
  logY?: boolean;
  /** Figure width in pixels (default 760). */
  width?: number;
  /** Figure height in pixels (default 460). */
  height?: number;
}

const COUNTERS = new Set(["epoch", "step", "iteration", "time", "elapsed", "lr"]);

/**
 * Parses `metrics.jsonl` text into records (blank lines skipped); a bad line is an error that
 * names its number.
 */
export function parseJsonl(text: string): MetricsRecord[] {
  if (typeof text !== "string") throw new TypeError(`parseJsonl: text must be a string, got ${typeof text}`);
  const out: MetricsRecord[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new SyntaxError(`parseJsonl: line ${i + 1} is not valid JSON (${e instanceof Error ? e.message : e})`);
    }
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      throw new TypeError(
        `parseJsonl: line ${i + 1} must hold a JSON object, got ${Array.isArray(v) ? "an array" : v}`,
      );
    }
    out.push(v as MetricsRecord);
  });
  return out;
}

function finite(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/**
 * An SVG line chart of training curves: one line per series against `x`, with markers when
 * a series has at most 40 points, ticks, axis titles, a title and a legend to the right.
 * Records are taken in order of `x` (stable); a missing or non-finite value leaves the point
 * out and the line joins its neighbours. `records` may be the `metrics.jsonl` text itself.
 *
 * @example
 * ```ts
 * const svg = trainingCurvesSvg(records, { x: "epoch", series: ["train_loss", "val_loss"], logY: true });
 * ```
 */
export function trainingCurvesSvg(
  records: readonly MetricsRecord[] | string,
  options: TrainingCurvesOptions = {},
): string {
  const fn = "trainingCurvesSvg";
  const recs = typeof records === "string" ? parseJsonl(records) : records;
  if (!Array.isArray(recs)) throw new TypeError(`${fn}: records must be an array of objects or JSONL text`);
  recs.forEach((r, i) => {
    if (r === null || typeof r !== "object" || Array.isArray(r)) {
      throw new TypeError(`${fn}: records[${i}] must be an object of logged values`);
    }
  });
  const xKey = options.x ?? "epoch";
  const withX = recs.map((r, i) => ({ r, i })).filter(({ r }) => finite(r[xKey]));
  if (withX.length === 0) {
    throw new RangeError(`${fn}: no record has a numeric "${xKey}" (options.x); got ${recs.length} records`);
  }
  withX.sort((a, b) => (a.r[xKey] as number) - (b.r[xKey] as number) || a.i - b.i);
  let series: string[];
  if (options.series !== undefined) {
    if (!Array.isArray(options.series) || options.series.length === 0) {
      throw new RangeError(`${fn}: options.series must be a non-empty array of keys`);
    }
    series = [...options.series];
  } else {
    const keys = new Set<string>();
    for (const { r } of withX) for (const [k, v] of Object.entries(r)) if (finite(v)) keys.add(k);
    series = [...keys].filter((k) => k !== xKey && !COUNTERS.has(k));
    if (series.length === 0) throw new RangeError(`${fn}: the records hold no numeric series besides "${xKey}"`);
  }
  const data = series.map((key) => {
    const xs: number[] = [];
    const ys: number[] = [];
    for (const { r } of withX) {
      const v = r[key];
      if (!finite(v)) continue;
      if (options.logY && v <= 0) {
        throw new RangeError(`${fn}: series "${key}" has ${v} at ${xKey} = ${r[xKey]}; a log y axis needs values > 0`);
      }
      xs.push(r[xKey] as number);
      ys.push(v);
    }
    if (xs.length === 0) {
      throw new RangeError(`${fn}: series "${key}" has no numeric values in records that have "${xKey}"`);
    }
    return { key, xs, ys };
  });

  const width = options.width ?? 760;
  const height = options.height ?? 460;
  if (!(width >= 240 && width <= 8192) || !(height >= 160 && height <= 8192)) {
    throw new RangeError(
      `${fn}: options.width/height must be pixels in [240, 8192] / [160, 8192], got ${width}×${height}`,
    );
  }
  const items: LegendItem[] = data.map((d, i) => ({ label: d.key, color: seriesColor(i) }));
  const lsize = legendSize(items, 12);
  const allX = data.flatMap((d) => d.xs);
  const allY = data.flatMap((d) => d.ys);
  const xDomain = niceDomain(Math.min(...allX), Math.max(...allX));
  let yDomain: [number, number];
  let yTicks: number[] | undefined;
  if (options.logY) {
    const lo = Math.floor(Math.log10(Math.min(...allY)));
    let hi = Math.ceil(Math.log10(Math.max(...allY)));
    if (hi === lo) hi = lo + 1;
    yDomain = [Math.pow(10, lo), Math.pow(10, hi)];
    yTicks = [];
    const every = Math.max(1, Math.ceil((hi - lo) / 8));
    for (let e = lo; e <= hi; e += every) yTicks.push(Math.pow(10, e));
  } else {
    yDomain = niceDomain(Math.min(...allY), Math.max(...allY));
  }
  const left = 80;
  const top = 50;
  const plotW = width - left - lsize.width - 36;
  const plotH = height - top - 62;
  if (plotW < 80) throw new RangeError(`${fn}: options.width ${width} leaves no room for the plot beside the legend`);
  const axes = drawAxes({
    x: left,
    y: top,
    width: plotW,
    height: plotH,
    xDomain,
    yDomain,
    xTicks: niceTicks(xDomain[0], xDomain[1], 8),
    yTicks,
    xLabel: options.xLabel ?? xKey,
    yLabel: options.yLabel ?? "value",
    logY: options.logY,
  });
  const lines: string[] = [];
  data.forEach((d, i) => {
    const color = seriesColor(i);
    const px = d.xs.map(axes.sx);
    const py = d.ys.map(axes.sy);
    if (d.xs.length > 1) lines.push(polyline(px, py, { stroke: color, "stroke-width": 2 }));
    if (d.xs.length <= 40) {
      for (let k = 0; k < px.length; k++) lines.push(el("circle", { cx: px[k], cy: py[k], r: 3, fill: color }));
    }
  });
  const title = figureTitle(width, options.title ?? "Training curves");
  return svgDocument(width, height, [
    title,
    axes.svg,
    el("g", { class: "series" }, lines),
    legend(items, left + plotW + 16, top, 12),
  ]);
}

/** Renders {@linkcode trainingCurvesSvg} to a PNG file at `path` (atomically). */
export async function trainingCurvesPlot(
  records: readonly MetricsRecord[] | string,
  path: string,
  options: TrainingCurvesOptions & RenderOptions = {},
): Promise<RenderedPng> {
  return await renderSvgToPng(trainingCurvesSvg(records, options), path, { scale: options.scale });
}
