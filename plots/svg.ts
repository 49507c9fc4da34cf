/**
 * Small helpers to build SVG figures as strings: escaping, elements, "nice" axis ticks, axes
 * with labels, legends and colour scales. The figures render to PNG with
 * {@linkcode renderSvgToPng} (librsvg through sharp), so they use only what librsvg draws.
 * @module
 */

/** Font stack of every text element (DejaVu Sans is what most Linux machines have). */
export const FONT_FAMILY = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif";

/** Line colours (matplotlib's "tab10"), cycled by series index. */
export const PALETTE: readonly string[] = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];

/** Colour of series `i` (cycling through {@linkcode PALETTE}). */
export function seriesColor(i: number): string {
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

/**
 * Escapes text for XML character data and attribute values (`& < > " '`) and drops the
 * control characters XML 1.0 forbids, so any label (a class name, a file name) is safe.
 */
export function escapeXml(text: string): string {
  return String(text)
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** A coordinate for an attribute: at most 2 decimals, no trailing zeros. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) throw new RangeError(`fmt: coordinate must be finite, got ${v}`);
  const r = Math.round(v * 100) / 100;
  return Object.is(r, -0) ? "0" : String(r);
}

/** Attribute values of an element; `undefined` leaves the attribute out. */
export type Attrs = Record<string, string | number | undefined>;

/** An element `<tag attrs>children</tag>` (self-closing without children); attribute values are escaped. */
export function el(tag: string, attrs: Attrs = {}, children?: string | readonly string[]): string {
  let s = `<${tag}`;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    s += ` ${k}="${typeof v === "number" ? fmt(v) : escapeXml(v)}"`;
  }
  if (children === undefined) return s + "/>";
  return `${s}>${typeof children === "string" ? children : children.join("")}</${tag}>`;
}

/** A `<text>` element with escaped content, in {@linkcode FONT_FAMILY}. */
export function text(x: number, y: number, content: string, attrs: Attrs = {}): string {
  return el("text", { x, y, "font-family": FONT_FAMILY, "font-size": 12, fill: "#222", ...attrs }, escapeXml(content));
}

/** A figure's bold, centred title at height `y` (the baseline) of a `width`-wide figure. */
export function figureTitle(width: number, title: string, y = 30): string {
  return text(width / 2, y, title, { "text-anchor": "middle", "font-size": 16, "font-weight": "bold" });
}

/** A polyline through the points (skipping none: split at gaps before calling). */
export function polyline(xs: readonly number[], ys: readonly number[], attrs: Attrs = {}): string {
  const pts = xs.map((x, i) => `${fmt(x)},${fmt(ys[i])}`).join(" ");
  return el("polyline", { points: pts, fill: "none", "stroke-linejoin": "round", "stroke-linecap": "round", ...attrs });
}

/** A whole SVG document of `width × height` pixels with a background rectangle. */
export function svgDocument(
  width: number,
  height: number,
  body: string | readonly string[],
  background = "#ffffff",
): string {
  const content = typeof body === "string" ? body : body.join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${fmt(width)}" height="${fmt(height)}" ` +
    `viewBox="0 0 ${fmt(width)} ${fmt(height)}">\n` +
    el("rect", { x: 0, y: 0, width, height, fill: background }) + "\n" + content + "\n</svg>\n";
}

/** Rough width in pixels of `s` at `fontSize` (DejaVu Sans averages ~0.6 em per character). */
export function textWidth(s: string, fontSize: number): number {
  return [...s].length * fontSize * 0.6;
}

/**
 * Round tick values covering `[min, max]`: steps of 1, 2 or 5 × 10ᵏ, about `target` of them.
 * A degenerate range is widened around its value.
 */
export function niceTicks(min: number, max: number, target = 6): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    throw new RangeError(`niceTicks: min and max must be finite, got ${min} and ${max}`);
  }
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const step = tickStep(min, max, target);
  const start = Math.ceil(min / step - 1e-9);
  const end = Math.floor(max / step + 1e-9);
  const ticks: number[] = [];
  for (let k = start; k <= end; k++) ticks.push(cleanFloat(k * step));
  return ticks;
}

/** The 1/2/5 × 10ᵏ step {@linkcode niceTicks} uses for `[min, max]`. */
export function tickStep(min: number, max: number, target = 6): number {
  const raw = (max - min) / Math.max(1, target);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

function cleanFloat(v: number): number {
  return Number(v.toPrecision(12));
}

/** Extends `[min, max]` outwards to the nearest ticks, so the data fills a round range. */
export function niceDomain(min: number, max: number, target = 6): [number, number] {
  const t = niceTicks(min, max, target);
  const step = t.length > 1 ? t[1] - t[0] : tickStep(min, max, target);
  const lo = t[0] > min ? cleanFloat(t[0] - step) : t[0];
  const hi = t[t.length - 1] < max ? cleanFloat(t[t.length - 1] + step) : t[t.length - 1];
  return lo === hi ? [lo - 1, hi + 1] : [lo, hi];
}

/** A tick label: plain decimals for ordinary ranges, exponent form for very large or small values. */
export function formatTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace("e+", "e");
  return String(cleanFloat(v));
}

/** A linear map from a data interval onto a pixel interval. */
export function linearScale(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const span = d1 - d0 || 1;
  return (v: number) => r0 + ((v - d0) / span) * (r1 - r0);
}

/** Options of {@linkcode drawAxes}. */
export interface AxesOptions {
  /** Left edge of the plotting area, in pixels. */
  x: number;
  /** Top edge of the plotting area. */
  y: number;
  /** Width of the plotting area. */
  width: number;
  /** Height of the plotting area. */
  height: number;
  /** Data range on the x axis. */
  xDomain: [number, number];
  /** Data range on the y axis. */
  yDomain: [number, number];
  /** Tick values on x (default: {@linkcode niceTicks} of the domain). */
  xTicks?: number[];
  /** Tick values on y. */
  yTicks?: number[];
  /** Tick label text (default {@linkcode formatTick}). */
  xTickFormat?: (v: number) => string;
  /** Tick label text on y (default {@linkcode formatTick}). */
  yTickFormat?: (v: number) => string;
  /** Axis title below the x axis. */
  xLabel?: string;
  /** Axis title left of the y axis (rotated). */
  yLabel?: string;
  /** Light grid lines at the ticks (default true). */
  grid?: boolean;
  /** Map y through log10 (the domain and ticks are then in data units, positive). */
  logY?: boolean;
}

/** Axes drawn by {@linkcode drawAxes}: the SVG and the data→pixel maps. */
export interface Axes {
  /** Frame, grid, ticks, tick labels and axis titles. */
  svg: string;
  /** Data x → pixel x. */
  sx: (v: number) => number;
  /** Data y → pixel y. */
  sy: (v: number) => number;
}

/** A framed plotting area with ticks, tick labels, grid lines and axis titles. */
export function drawAxes(o: AxesOptions): Axes {
  const sx = linearScale(o.xDomain[0], o.xDomain[1], o.x, o.x + o.width);
  const ly = o.logY ? (v: number) => Math.log10(v) : (v: number) => v;
  const syLin = linearScale(ly(o.yDomain[0]), ly(o.yDomain[1]), o.y + o.height, o.y);
  const sy = (v: number) => syLin(ly(v));
  const xTicks = o.xTicks ?? niceTicks(o.xDomain[0], o.xDomain[1]);
  const yTicks = o.yTicks ?? niceTicks(o.yDomain[0], o.yDomain[1]);
  const xf = o.xTickFormat ?? formatTick;
  const yf = o.yTickFormat ?? formatTick;
  const parts: string[] = [];
  const bottom = o.y + o.height;
  const inX = (v: number) => v >= Math.min(...o.xDomain) - 1e-12 && v <= Math.max(...o.xDomain) + 1e-12;
  const inY = (v: number) => v >= Math.min(...o.yDomain) - 1e-12 && v <= Math.max(...o.yDomain) + 1e-12;
  for (const t of xTicks.filter(inX)) {
    const px = sx(t);
    if (o.grid !== false) parts.push(el("line", { x1: px, y1: o.y, x2: px, y2: bottom, stroke: "#e6e6e6" }));
    parts.push(el("line", { x1: px, y1: bottom, x2: px, y2: bottom + 5, stroke: "#333" }));
    parts.push(text(px, bottom + 18, xf(t), { "text-anchor": "middle", "font-size": 11 }));
  }
  let yLabelWidth = 0;
  for (const t of yTicks.filter(inY)) {
    const py = sy(t);
    const label = yf(t);
    yLabelWidth = Math.max(yLabelWidth, textWidth(label, 11));
    if (o.grid !== false) parts.push(el("line", { x1: o.x, y1: py, x2: o.x + o.width, y2: py, stroke: "#e6e6e6" }));
    parts.push(el("line", { x1: o.x - 5, y1: py, x2: o.x, y2: py, stroke: "#333" }));
    parts.push(text(o.x - 8, py + 4, label, { "text-anchor": "end", "font-size": 11 }));
  }
  parts.push(el("rect", { x: o.x, y: o.y, width: o.width, height: o.height, fill: "none", stroke: "#333" }));
  if (o.xLabel) {
    parts.push(text(o.x + o.width / 2, bottom + 40, o.xLabel, { "text-anchor": "middle", "font-size": 13 }));
  }
  if (o.yLabel) {
    const cx = o.x - 16 - yLabelWidth;
    const cy = o.y + o.height / 2;
    parts.push(
      text(cx, cy, o.yLabel, {
        "text-anchor": "middle",
        "font-size": 13,
        transform: `rotate(-90 ${fmt(cx)} ${fmt(cy)})`,
      }),
    );
  }
  return { svg: parts.join("\n"), sx, sy };
}

/** One legend entry. */
export interface LegendItem {
  /** Text of the entry. */
  label: string;
  /** Line colour. */
  color: string;
  /** SVG `stroke-dasharray` of the line sample, if dashed. */
  dash?: string;
  /** Line width of the sample (default 2). */
  width?: number;
}

/** Size of the box {@linkcode legend} draws for these items. */
export function legendSize(items: readonly LegendItem[], fontSize = 12): { width: number; height: number } {
  const w = Math.max(0, ...items.map((it) => textWidth(it.label, fontSize)));
  return { width: w + 46, height: items.length * (fontSize + 8) + 10 };
}

/** A boxed legend with a line sample per item; `(x, y)` is its top-left corner. */
export function legend(items: readonly LegendItem[], x: number, y: number, fontSize = 12): string {
  const { width, height } = legendSize(items, fontSize);
  const parts = [el("rect", { x, y, width, height, fill: "#ffffff", "fill-opacity": 0.9, stroke: "#bbb", rx: 3 })];
  items.forEach((it, i) => {
    const cy = y + 5 + (i + 0.5) * (fontSize + 8);
    parts.push(el("line", {
      x1: x + 8,
      y1: cy,
      x2: x + 34,
      y2: cy,
      stroke: it.color,
      "stroke-width": it.width ?? 2,
      "stroke-dasharray": it.dash,
    }));
    parts.push(text(x + 40, cy + fontSize * 0.35, it.label, { "font-size": fontSize }));
  });
  return el("g", { class: "legend" }, parts);
}

const BLUES: readonly [number, number, number][] = [
  [247, 251, 255],
  [222, 235, 247],
  [198, 219, 239],
  [158, 202, 225],
  [107, 174, 214],
  [66, 146, 198],
  [33, 113, 181],
  [8, 81, 156],
  [8, 48, 107],
];

/** Sequential colour (matplotlib's "Blues") for `t` in [0, 1]; values outside are clamped. */
export function blues(t: number): string {
  const v = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (BLUES.length - 1);
  const i = Math.min(BLUES.length - 2, Math.floor(v));
  const f = v - i;
  const c = BLUES[i].map((a, k) => Math.round(a + (BLUES[i + 1][k] - a) * f));
  return `#${c.map((x) => x.toString(16).padStart(2, "0")).join("")}`;
}

/** Black or white, whichever reads better on the `#rrggbb` background. */
export function textColorOn(background: string): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(background);
  if (!m) return "#000000";
  const [r, g, b] = [m[1], m[2], m[3]].map((h) => parseInt(h, 16) / 255);
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return luminance > 0.5 ? "#000000" : "#ffffff";
}

/** A PNG file's bytes as a `data:` URI, for an SVG `<image href>`. */
export function pngDataUri(png: Uint8Array): string {
  let s = "";
  const CHUNK = 0x8000;
  for (let i = 0; i < png.length; i += CHUNK) {
    s += String.fromCharCode(...png.subarray(i, Math.min(png.length, i + CHUNK)));
  }
  return `data:image/png;base64,${btoa(s)}`;
}
