/**
 * The memorisation figure: histograms (as shares of each set) of the distance from every image
 * of a set to its nearest training image — generated images beside real test images — with a
 * vertical marker at the closest real test–train pair. Generated images left of the marker sit
 * nearer a training image than any real test image does.
 * @module
 */
import { type RenderedPng, type RenderOptions, renderSvgToPng } from "./render.ts";
import {
  drawAxes,
  el,
  figureTitle,
  fmt,
  legend,
  type LegendItem,
  legendSize,
  niceDomain,
  seriesColor,
  svgDocument,
} from "./svg.ts";

/** One set of distances. */
export interface DistanceSeries {
  label: string;
  values: ArrayLike<number>;
}

/** Options of {@linkcode distanceHistogramSvg}. */
export interface DistanceHistogramOptions {
  title?: string;
  /** x axis title (default "distance to the nearest training image"). */
  xLabel?: string;
  /** Bins over the common range (default 30). */
  bins?: number;
  /** A vertical line, e.g. the closest real test–train distance. */
  marker?: { label: string; value: number };
}

/** SVG of the distance histograms, one step line per series (shares of the series, so sizes may differ). */
export function distanceHistogramSvg(
  series: readonly DistanceSeries[],
  options: DistanceHistogramOptions = {},
): string {
  const fn = "distanceHistogramSvg";
  if (series.length === 0) throw new RangeError(`${fn}: at least one series is needed`);
  for (const s of series) {
    if (s.values.length === 0) throw new RangeError(`${fn}: series "${s.label}" has no values`);
    for (let i = 0; i < s.values.length; i++) {
      if (!Number.isFinite(s.values[i])) throw new RangeError(`${fn}: series "${s.label}" has ${s.values[i]} at ${i}`);
    }
  }
  const bins = options.bins ?? 30;
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`${fn}: bins must be an integer ≥ 1, got ${bins}`);
  const all = series.flatMap((s) => Array.from(s.values));
  if (options.marker) all.push(options.marker.value);
  let lo = Math.min(...all), hi = Math.max(...all);
  if (hi === lo) hi = lo + 1;
  [lo, hi] = niceDomain(Math.max(0, lo), hi);
  const width = (hi - lo) / bins;
  const shares = series.map((s) => {
    const h = new Array<number>(bins).fill(0);
    for (let i = 0; i < s.values.length; i++) h[Math.min(bins - 1, Math.floor((s.values[i] - lo) / width))]++;
    return h.map((c) => c / s.values.length);
  });
  const top = Math.max(...shares.flat());
  const W = 720, H = 460, left = 72, topPx = 50, plotW = W - left - 24, plotH = H - topPx - 64;
  const axes = drawAxes({
    x: left,
    y: topPx,
    width: plotW,
    height: plotH,
    xDomain: [lo, hi],
    yDomain: niceDomain(0, top),
    xLabel: options.xLabel ?? "distance to the nearest training image",
    yLabel: "share of the set",
  });
  const items: LegendItem[] = [];
  const body = shares.map((h, k) => {
    const pts: string[] = [];
    h.forEach((v, b) => {
      pts.push(
        `${fmt(axes.sx(lo + b * width))},${fmt(axes.sy(v))}`,
        `${fmt(axes.sx(lo + (b + 1) * width))},${fmt(axes.sy(v))}`,
      );
    });
    items.push({ label: `${series[k].label} (${series[k].values.length})`, color: seriesColor(k) });
    return el("polyline", { points: pts.join(" "), fill: "none", stroke: seriesColor(k), "stroke-width": 2 });
  });
  if (options.marker) {
    const x = fmt(axes.sx(options.marker.value));
    body.push(el("line", { x1: x, x2: x, y1: topPx, y2: topPx + plotH, stroke: "#444", "stroke-dasharray": "6 4" }));
    items.push({
      label: `${options.marker.label} (${options.marker.value.toPrecision(3)})`,
      color: "#444",
      dash: "6 4",
    });
  }
  const size = legendSize(items, 12);
  const heading = figureTitle(W, options.title ?? "Nearest training image");
  return svgDocument(W, H, [
    heading,
    axes.svg,
    el("g", { class: "series" }, body),
    legend(items, left + plotW - size.width - 8, topPx + 8, 12),
  ]);
}

/** Renders {@linkcode distanceHistogramSvg} to a PNG at `path` (atomically). */
export async function distanceHistogramPlot(
  series: readonly DistanceSeries[],
  path: string,
  options: DistanceHistogramOptions & RenderOptions = {},
): Promise<RenderedPng> {
  return await renderSvgToPng(distanceHistogramSvg(series, options), path, { scale: options.scale });
}
