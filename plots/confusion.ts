/**
 * Confusion-matrix figures: the counts and the row-normalised matrix (each true class's
 * predictions as fractions) side by side, as heat maps with a colour bar, cell annotations
 * and the class names on both axes.
 * @module
 */
import { type RenderedPng, type RenderOptions, renderSvgToPng } from "./render.ts";
import { blues, el, figureTitle, fmt, svgDocument, text, textColorOn, textWidth } from "./svg.ts";

/** Options of {@linkcode confusionMatrixSvg} and {@linkcode confusionMatrixPlot}. */
export interface ConfusionPlotOptions {
  /** Class names by index (default "0", "1", ...). */
  classNames?: readonly string[];
  /** Figure title (default "Confusion matrix"). */
  title?: string;
  /**
   * Which panels: `"both"` (default) counts and row-normalised side by side; `"counts"`;
   * `"true"` (row-normalised only).
   */
  panels?: "both" | "counts" | "true";
  /** Cell size in pixels (default: fits the matrix in about 420 pixels, between 14 and 64). */
  cellSize?: number;
  /** Decimals of the normalised annotations (default 2). */
  digits?: number;
}

function checkCounts(fn: string, counts: unknown): number[][] {
  if (!Array.isArray(counts) || counts.length === 0) {
    throw new RangeError(`${fn}: counts must be a non-empty square matrix (an array of rows), got ${typeof counts}`);
  }
  const k = counts.length;
  return counts.map((row, i) => {
    if (row === null || typeof row !== "object" || typeof row.length !== "number") {
      throw new TypeError(`${fn}: counts[${i}] must be a row of ${k} counts`);
    }
    if (row.length !== k) {
      throw new RangeError(`${fn}: counts must be square (${k} × ${k}), but row ${i} has ${row.length} entries`);
    }
    return Array.from(row as ArrayLike<number>, (v, j) => {
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
        throw new RangeError(`${fn}: counts[${i}][${j}] must be a finite count ≥ 0, got ${v}`);
      }
      return v;
    });
  });
}

function formatCount(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

interface Panel {
  title: string;
  values: number[][];
  max: number;
  label: (v: number) => string;
  barTicks: number[];
}

/**
 * An SVG confusion-matrix figure from a counts matrix (`counts[i][j]`: samples of true class
 * i predicted as j, as {@linkcode confusionMatrix} returns it): counts and row-normalised
 * panels with "True label" / "Predicted label" axes, class names, a colour bar per panel and
 * each cell annotated (when cells are at least 18 pixels).
 *
 * @example
 * ```ts
 * const cm = confusionMatrix(yTrue, yPred, { numClasses: 3 });
 * const svg = confusionMatrixSvg(cm, { classNames: ["normal", "benign", "malignant"] });
 * ```
 */
export function confusionMatrixSvg(counts: ArrayLike<ArrayLike<number>>, options: ConfusionPlotOptions = {}): string {
  const fn = "confusionMatrixSvg";
  const m = checkCounts(fn, Array.isArray(counts) ? counts : Array.from(counts ?? []));
  const k = m.length;
  const names = options.classNames ? [...options.classNames].map(String) : m.map((_, i) => String(i));
  if (names.length !== k) {
    throw new RangeError(`${fn}: options.classNames has ${names.length} names but the matrix has ${k} classes`);
  }
  const which = options.panels ?? "both";
  if (which !== "both" && which !== "counts" && which !== "true") {
    throw new RangeError(`${fn}: options.panels must be "both", "counts" or "true", got ${JSON.stringify(which)}`);
  }
  const digits = options.digits ?? 2;
  const cell = options.cellSize ?? Math.max(14, Math.min(64, Math.floor(420 / k)));
  if (!(cell >= 4 && cell <= 200)) throw new RangeError(`${fn}: options.cellSize must lie in [4, 200], got ${cell}`);

  const rowSums = m.map((row) => row.reduce((a, b) => a + b, 0));
  const normalised = m.map((row, i) => row.map((v) => (rowSums[i] === 0 ? 0 : v / rowSums[i])));
  const maxCount = Math.max(1, ...m.flat());
  const panels: Panel[] = [];
  if (which !== "true") {
    panels.push({ title: "Counts", values: m, max: maxCount, label: formatCount, barTicks: countTicks(maxCount) });
  }
  if (which !== "counts") {
    panels.push({
      title: "Normalised over true class",
      values: normalised,
      max: 1,
      label: (v) => v.toFixed(digits),
      barTicks: [0, 0.25, 0.5, 0.75, 1],
    });
  }

  const fontSize = Math.max(9, Math.min(14, Math.round(cell * 0.28)));
  const nameFont = Math.max(9, Math.min(13, Math.round(cell * 0.45)));
  const longest = Math.max(...names.map((n) => textWidth(n, nameFont)));
  const rotateX = longest > cell * 0.95;
  const xLabelSpace = rotateX ? longest * 0.72 + 14 : nameFont + 12;
  const grid = k * cell;
  const left = 40 + longest + 12; // y-axis title + class names
  const barW = 14;
  const barSpace = barW + 12 + textWidth(formatCount(maxCount), 11) + 10;
  const panelW = grid + 14 + barSpace;
  const gap = 48;
  const top = 74;
  const width = Math.ceil(left + panels.length * panelW + (panels.length - 1) * (gap + longest + 12) + 16);
  const height = Math.ceil(top + grid + 8 + xLabelSpace + 36);

  const parts: string[] = [];
  parts.push(figureTitle(width, options.title ?? "Confusion matrix", 28));
  panels.forEach((p, pi) => {
    const x0 = left + pi * (panelW + gap + longest + 12);
    const y0 = top;
    const g: string[] = [];
    g.push(text(x0 + grid / 2, y0 - 14, p.title, { "text-anchor": "middle", "font-size": 13, "font-weight": "bold" }));
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        const v = p.values[i][j];
        const fill = blues(v / p.max);
        g.push(el("rect", { x: x0 + j * cell, y: y0 + i * cell, width: cell, height: cell, fill }));
        if (cell >= 18) {
          g.push(text(x0 + (j + 0.5) * cell, y0 + (i + 0.5) * cell + fontSize * 0.35, p.label(v), {
            "text-anchor": "middle",
            "font-size": fontSize,
            fill: textColorOn(fill),
          }));
        }
      }
    }
    g.push(el("rect", { x: x0, y: y0, width: grid, height: grid, fill: "none", stroke: "#333" }));
    // Class names: rows (true) on the left, columns (predicted) below.
    names.forEach((name, i) => {
      const cy = y0 + (i + 0.5) * cell;
      g.push(text(x0 - 6, cy + nameFont * 0.35, name, { "text-anchor": "end", "font-size": nameFont }));
      const cx = x0 + (i + 0.5) * cell;
      const by = y0 + grid + 6;
      if (rotateX) {
        g.push(text(cx, by + nameFont, name, {
          "text-anchor": "end",
          "font-size": nameFont,
          transform: `rotate(-45 ${fmt(cx)} ${fmt(by + nameFont)})`,
        }));
      } else {
        g.push(text(cx, by + nameFont, name, { "text-anchor": "middle", "font-size": nameFont }));
      }
    });
    const yTitleX = x0 - longest - 22;
    g.push(text(yTitleX, y0 + grid / 2, "True label", {
      "text-anchor": "middle",
      "font-size": 13,
      transform: `rotate(-90 ${fmt(yTitleX)} ${fmt(y0 + grid / 2)})`,
    }));
    g.push(text(x0 + grid / 2, y0 + grid + 8 + xLabelSpace + 16, "Predicted label", {
      "text-anchor": "middle",
      "font-size": 13,
    }));
    // Colour bar.
    const bx = x0 + grid + 14;
    const steps = 32;
    for (let s = 0; s < steps; s++) {
      const t0 = s / steps;
      g.push(el("rect", {
        x: bx,
        y: y0 + grid * (1 - (s + 1) / steps),
        width: barW,
        height: grid / steps + 0.5,
        fill: blues(t0 + 0.5 / steps),
      }));
    }
    g.push(el("rect", { x: bx, y: y0, width: barW, height: grid, fill: "none", stroke: "#333" }));
    for (const tv of p.barTicks) {
      const ty = y0 + grid * (1 - tv / p.max);
      g.push(el("line", { x1: bx + barW, y1: ty, x2: bx + barW + 4, y2: ty, stroke: "#333" }));
      g.push(text(bx + barW + 7, ty + 4, p.max === 1 ? String(tv) : formatCount(tv), { "font-size": 11 }));
    }
    parts.push(el("g", { class: "panel" }, g));
  });
  return svgDocument(width, height, parts);
}

function countTicks(max: number): number[] {
  if (max <= 5) return Array.from({ length: Math.floor(max) + 1 }, (_, i) => i);
  const raw = max / 4;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = 0; v <= max + 1e-9; v += step) ticks.push(v);
  return ticks;
}

/**
 * Renders {@linkcode confusionMatrixSvg} to a PNG file at `path` (atomically).
 *
 * @example
 * ```ts
 * await confusionMatrixPlot(confusionMatrix(yTrue, yPred, { numClasses: 7 }), "runs/a/confusion.png", { classNames });
 * ```
 */
export async function confusionMatrixPlot(
  counts: ArrayLike<ArrayLike<number>>,
  path: string,
  options: ConfusionPlotOptions & RenderOptions = {},
): Promise<RenderedPng> {
  return await renderSvgToPng(confusionMatrixSvg(counts, options), path, { scale: options.scale });
}
