/**
 * Figures of how far a classifier's confidence can be trusted: the reliability diagram (accuracy
 * against mean confidence per confidence bin, before and after calibration) and the
 * risk–coverage curve (accuracy of the most confident X % kept).
 * @module
 */
import type { CalibrationBins } from "../metrics/calibration.ts";
import type { RiskCoverage } from "../metrics/risk_coverage.ts";
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

/** One labelled series of a figure. */
export interface Labelled<T> {
  /** Legend label. */
  label: string;
  /** The data. */
  data: T;
}

const UNIT_TICKS = [0, 0.2, 0.4, 0.6, 0.8, 1];

function frame(title: string, xLabel: string, yLabel: string, yDomain: [number, number]) {
  const width = 640, height = 600, left = 72, top = 50;
  const plotW = width - left - 24, plotH = height - top - 64;
  const axes = drawAxes({
    x: left,
    y: top,
    width: plotW,
    height: plotH,
    xDomain: [0, 1],
    yDomain,
    xTicks: UNIT_TICKS,
    xTickFormat: (v) => v.toFixed(1),
    yTickFormat: (v) => v.toFixed(2),
    xLabel,
    yLabel,
  });
  const finish = (body: string[], items: LegendItem[]) => {
    const size = legendSize(items, 12);
    const legendSvg = legend(items, left + plotW - size.width - 8, top + plotH - size.height - 8, 12);
    const heading = figureTitle(width, title);
    return svgDocument(width, height, [heading, axes.svg, el("g", { class: "series" }, body), legendSvg]);
  };
  return { axes, finish };
}

function line(
  xs: readonly number[],
  ys: readonly number[],
  sx: (v: number) => number,
  sy: (v: number) => number,
  color: string,
) {
  return el("polyline", {
    points: xs.map((x, k) => `${fmt(sx(x))},${fmt(sy(ys[k]))}`).join(" "),
    fill: "none",
    stroke: color,
    "stroke-width": 2,
    "stroke-linejoin": "round",
  });
}

/**
 * Reliability diagram: for each series (e.g. "before" and "after" temperature scaling) the
 * accuracy of every non-empty bin against its mean confidence, with dots sized by the bin's
 * share of samples, and the diagonal of perfect calibration.
 */
export function reliabilitySvg(series: readonly Labelled<CalibrationBins>[], title = "Reliability"): string {
  if (series.length === 0) throw new RangeError("reliabilitySvg: at least one series is needed");
  const { axes, finish } = frame(title, "Confidence", "Accuracy", [0, 1]);
  const body = [el("line", {
    x1: axes.sx(0),
    y1: axes.sy(0),
    x2: axes.sx(1),
    y2: axes.sy(1),
    stroke: "#999",
    "stroke-dasharray": "6 5",
  })];
  const items: LegendItem[] = [];
  series.forEach((s, i) => {
    const color = seriesColor(i);
    const total = s.data.count.reduce((a, b) => a + b, 0);
    const kept = s.data.count.flatMap((c, b) => (c > 0 ? [b] : []));
    body.push(
      line(kept.map((b) => s.data.confidence[b]), kept.map((b) => s.data.accuracy[b]), axes.sx, axes.sy, color),
    );
    for (const b of kept) {
      body.push(el("circle", {
        cx: fmt(axes.sx(s.data.confidence[b])),
        cy: fmt(axes.sy(s.data.accuracy[b])),
        r: fmt(2 + 8 * Math.sqrt(s.data.count[b] / total)),
        fill: color,
        "fill-opacity": 0.7,
      }));
    }
    items.push({ label: s.label, color });
  });
  items.push({ label: "perfect calibration", color: "#999", dash: "6 5", width: 1.2 });
  return finish(body, items);
}

/** Risk–coverage figure: accuracy of the kept predictions against the fraction kept, one curve per series. */
export function riskCoverageSvg(series: readonly Labelled<RiskCoverage>[], title = "Accuracy vs coverage"): string {
  if (series.length === 0) throw new RangeError("riskCoverageSvg: at least one series is needed");
  const lo = Math.min(...series.flatMap((s) => s.data.accuracy));
  const yMin = Math.max(0, Math.floor(lo * 10) / 10);
  const { axes, finish } = frame(title, "Coverage (fraction kept, most confident first)", "Accuracy of kept", [
    yMin,
    1,
  ]);
  const items: LegendItem[] = [];
  const body = series.map((s, i) => {
    items.push({ label: `${s.label} (AURC = ${s.data.aurc.toFixed(3)})`, color: seriesColor(i) });
    return line(s.data.coverage, s.data.accuracy, axes.sx, axes.sy, seriesColor(i));
  });
  return finish(body, items);
}

/** Renders {@linkcode reliabilitySvg} to a PNG at `path` (atomically). */
export async function reliabilityPlot(
  series: readonly Labelled<CalibrationBins>[],
  path: string,
  options: RenderOptions & { title?: string } = {},
): Promise<RenderedPng> {
  return await renderSvgToPng(reliabilitySvg(series, options.title), path, { scale: options.scale });
}

/** Renders {@linkcode riskCoverageSvg} to a PNG at `path` (atomically). */
export async function riskCoveragePlot(
  series: readonly Labelled<RiskCoverage>[],
  path: string,
  options: RenderOptions & { title?: string } = {},
): Promise<RenderedPng> {
  return await renderSvgToPng(riskCoverageSvg(series, options.title), path, { scale: options.scale });
}
