/**
 * The explanation of one DiffMIC-v2 prediction as one figure: the input image with the
 * classifier's saliency map overlaid and the K crop boxes the gated attention weighed (left),
 * the class probabilities along the denoising trajectory (right), and a header with the
 * predicted and true classes.
 *
 * The image panel is a raster composed here and embedded in the SVG as a PNG data URI: the
 * image is resampled by nearest neighbour (small images such as 28 × 28 MedMNIST stay crisp
 * blocks), the saliency grid is upsampled bilinearly by default (cell centres, edges clamped,
 * like `align_corners=False`) or by nearest neighbour, normalised min–max, coloured with a
 * jet (default) or viridis colour map and blended over the image at 45 % alpha.
 * @module
 */
import { encodePng } from "../util/png.ts";
import { type RenderedPng, type RenderOptions, renderSvgToPng } from "./render.ts";
import {
  drawAxes,
  el,
  figureTitle,
  legend,
  type LegendItem,
  legendSize,
  pngDataUri,
  polyline,
  seriesColor,
  svgDocument,
  text,
  textWidth,
} from "./svg.ts";

/** A crop box of DiffMIC-v2's local branch, in image pixels, with its gated-attention weight. */
export interface ExplanationBox {
  /** Top edge (row) in image pixels; may be negative (the box extends past the image). */
  top: number;
  /** Left edge (column) in image pixels; may be negative. */
  left: number;
  /** Side of the square box in image pixels (> 0). */
  size: number;
  /** Gated-attention weight of the crop, in [0, 1]; the weights of all boxes sum to ≈ 1. */
  weight: number;
}

/** Everything {@linkcode explanationSvg} draws about one prediction. */
export interface Explanation {
  /** The input image, CHW, values in [0, 1] (the caller un-normalises). */
  image: Float32Array;
  /** Channels of `image`: 1 (grey) or 3 (RGB). */
  channels: 1 | 3;
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
  /** Saliency, `gridH × gridW` row-major, any range (normalised min–max for display). */
  saliency: Float32Array;
  /** Rows of the saliency grid (the grid covers the whole image). */
  gridH: number;
  /** Columns of the saliency grid. */
  gridW: number;
  /** The crop boxes with their gated-attention weights (may be empty). */
  boxes: ExplanationBox[];
  /** Class names, by class index. */
  classes: string[];
  /** Class probabilities after each step: one row per step (the first is the prior/start), one column per class. */
  trajectory: number[][];
  /** x tick labels, one per trajectory row (e.g. `"t=999"` … `"t=0"`). */
  trajectoryLabels?: string[];
  /** True class index, when known. */
  trueClass?: number;
  /** Predicted class index. */
  predicted: number;
  /** Figure title (default "DiffMIC-v2 explanation"). */
  title?: string;
}

/** Options of {@linkcode explanationSvg} and {@linkcode explanationPlot}. */
export interface ExplanationPlotOptions extends RenderOptions {
  /**
   * Displayed size of the image's longer side in pixels, in [224, 2048] (default 320). The
   * embedded raster is built at this size times `scale`, so it stays sharp in a scaled PNG.
   */
  imageSize?: number;
  /** Colour map of the saliency overlay (default `"jet"`). */
  colormap?: "jet" | "viridis";
  /** Opacity of the saliency overlay in [0, 1] (default 0.45; 0 shows the image alone). */
  saliencyAlpha?: number;
  /** Upsampling of the saliency grid to the image (default `"bilinear"`). */
  saliencyUpsample?: "bilinear" | "nearest";
  /** Width of the trajectory chart's plotting area in pixels, in [160, 2048] (default 380). */
  chartWidth?: number;
  /** x-axis title of the trajectory chart (default "denoising step"). */
  xLabel?: string;
}

const FN = "explanationSvg";
/** Values this far outside [0, 1] are clamped (rounding); further out is an error. */
const TOL = 1e-3;

function isInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v);
}

function checkDim(name: string, v: unknown, max = 1 << 16): number {
  if (!isInt(v) || v < 1 || v > max) throw new RangeError(`${FN}: ${name} must be an integer in [1, ${max}], got ${v}`);
  return v;
}

function checkValues(name: string, arr: unknown, expected: number, shape: string): ArrayLike<number> {
  if (arr === null || typeof arr !== "object" || typeof (arr as ArrayLike<number>).length !== "number") {
    throw new TypeError(`${FN}: ${name} must be a Float32Array (${shape}), got ${arr === null ? "null" : typeof arr}`);
  }
  const a = arr as ArrayLike<number>;
  if (a.length !== expected) {
    throw new RangeError(`${FN}: ${name} has ${a.length} values but ${shape} needs ${expected}`);
  }
  for (let i = 0; i < a.length; i++) {
    if (typeof a[i] !== "number" || !Number.isFinite(a[i])) {
      throw new RangeError(`${FN}: ${name}[${i}] must be a finite number, got ${a[i]}`);
    }
  }
  return a;
}

function checkClassIndex(name: string, v: unknown, c: number): number {
  if (!isInt(v) || v < 0 || v >= c) {
    throw new RangeError(`${FN}: ${name} must be a class index in [0, ${c - 1}], got ${v}`);
  }
  return v;
}

function checkOption(name: string, v: unknown, lo: number, hi: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !(v >= lo && v <= hi)) {
    throw new RangeError(`${FN}: options.${name} must be a number in [${lo}, ${hi}], got ${v}`);
  }
  return v;
}

interface Checked {
  image: ArrayLike<number>;
  saliency: ArrayLike<number>;
  channels: 1 | 3;
  height: number;
  width: number;
  gridH: number;
  gridW: number;
  boxes: ExplanationBox[];
  classes: string[];
  trajectory: number[][];
  labels?: string[];
  trueClass?: number;
  predicted: number;
}

function checkExplanation(e: Explanation): Checked {
  if (e === null || typeof e !== "object") throw new TypeError(`${FN}: the explanation must be an object`);
  if (e.channels !== 1 && e.channels !== 3) {
    throw new RangeError(`${FN}: channels must be 1 (grey) or 3 (RGB), got ${e.channels}`);
  }
  const height = checkDim("height", e.height);
  const width = checkDim("width", e.width);
  const gridH = checkDim("gridH", e.gridH);
  const gridW = checkDim("gridW", e.gridW);
  const image = checkValues("image", e.image, e.channels * height * width, `CHW ${e.channels} × ${height} × ${width}`);
  for (let i = 0; i < image.length; i++) {
    if (image[i] < -TOL || image[i] > 1 + TOL) {
      throw new RangeError(
        `${FN}: image[${i}] = ${
          Number(image[i].toPrecision(6))
        } is outside [0, 1]; un-normalise the image (x · std + mean) before plotting`,
      );
    }
  }
  const saliency = checkValues("saliency", e.saliency, gridH * gridW, `gridH × gridW = ${gridH} × ${gridW}`);

  if (!Array.isArray(e.classes) || e.classes.length < 2) {
    throw new RangeError(`${FN}: classes must be an array of at least 2 class names, got ${e.classes}`);
  }
  e.classes.forEach((c, i) => {
    if (typeof c !== "string") throw new TypeError(`${FN}: classes[${i}] must be a string, got ${typeof c}`);
  });
  const c = e.classes.length;
  const predicted = checkClassIndex("predicted", e.predicted, c);
  const trueClass = e.trueClass === undefined ? undefined : checkClassIndex("trueClass", e.trueClass, c);

  if (!Array.isArray(e.trajectory) || e.trajectory.length === 0) {
    throw new RangeError(`${FN}: trajectory must be a non-empty array of rows (one per step), got ${e.trajectory}`);
  }
  const trajectory = e.trajectory.map((row, s) => {
    if (row === null || typeof row !== "object" || typeof row.length !== "number") {
      throw new TypeError(`${FN}: trajectory[${s}] must be a row of ${c} class probabilities`);
    }
    if (row.length !== c) {
      throw new RangeError(
        `${FN}: trajectory[${s}] has ${row.length} values but there are ${c} classes (one column per class)`,
      );
    }
    return Array.from(row as ArrayLike<number>, (v, j) => {
      if (typeof v !== "number" || !Number.isFinite(v) || v < -TOL || v > 1 + TOL) {
        throw new RangeError(`${FN}: trajectory[${s}][${j}] must be a probability in [0, 1], got ${v}`);
      }
      return Math.min(1, Math.max(0, v));
    });
  });
  let labels: string[] | undefined;
  if (e.trajectoryLabels !== undefined) {
    if (!Array.isArray(e.trajectoryLabels) || e.trajectoryLabels.length !== trajectory.length) {
      throw new RangeError(
        `${FN}: trajectoryLabels must hold one label per trajectory row (${trajectory.length}), got ${
          Array.isArray(e.trajectoryLabels) ? e.trajectoryLabels.length : typeof e.trajectoryLabels
        }`,
      );
    }
    labels = e.trajectoryLabels.map((l) => String(l));
  }

  if (!Array.isArray(e.boxes)) throw new TypeError(`${FN}: boxes must be an array (possibly empty)`);
  const boxes = e.boxes.map((b, i) => {
    if (b === null || typeof b !== "object") throw new TypeError(`${FN}: boxes[${i}] must be an object`);
    for (const k of ["top", "left", "size", "weight"] as const) {
      if (typeof b[k] !== "number" || !Number.isFinite(b[k])) {
        throw new RangeError(`${FN}: boxes[${i}].${k} must be a finite number, got ${b[k]}`);
      }
    }
    if (!(b.size > 0)) throw new RangeError(`${FN}: boxes[${i}].size must be > 0, got ${b.size}`);
    if (b.weight < -TOL || b.weight > 1 + TOL) {
      throw new RangeError(`${FN}: boxes[${i}].weight must be an attention weight in [0, 1], got ${b.weight}`);
    }
    if (b.top >= height || b.left >= width || b.top + b.size <= 0 || b.left + b.size <= 0) {
      throw new RangeError(
        `${FN}: boxes[${i}] (top ${b.top}, left ${b.left}, size ${b.size}) lies wholly outside the ${height} × ${width} image; boxes are in image pixels`,
      );
    }
    return { top: b.top, left: b.left, size: b.size, weight: Math.min(1, Math.max(0, b.weight)) };
  });
  if (boxes.length > 0) {
    const sum = boxes.reduce((a, b) => a + b.weight, 0);
    if (Math.abs(sum - 1) > 0.05) {
      throw new RangeError(
        `${FN}: boxes' weights sum to ${sum.toFixed(4)}; gated-attention weights sum to 1 (softmax over the crops)`,
      );
    }
  }
  return {
    image,
    saliency,
    channels: e.channels,
    height,
    width,
    gridH,
    gridW,
    boxes,
    classes: e.classes,
    trajectory,
    labels,
    trueClass,
    predicted,
  };
}

const JET: readonly (readonly [number, number][])[] = [
  [[0, 0], [0.35, 0], [0.66, 1], [0.89, 1], [1, 0.5]],
  [[0, 0], [0.125, 0], [0.375, 1], [0.64, 1], [0.91, 0], [1, 0]],
  [[0, 0.5], [0.11, 1], [0.34, 1], [0.65, 0], [1, 0]],
];

const VIRIDIS: readonly (readonly [number, number, number])[] = [
  [68, 1, 84],
  [71, 45, 123],
  [59, 82, 139],
  [44, 114, 142],
  [33, 145, 140],
  [40, 174, 128],
  [94, 201, 98],
  [173, 220, 48],
  [253, 231, 37],
];

function piecewise(pts: readonly [number, number][], t: number): number {
  for (let k = 1; k < pts.length; k++) {
    if (t <= pts[k][0]) {
      const [x0, y0] = pts[k - 1];
      const [x1, y1] = pts[k];
      return y0 + ((t - x0) / (x1 - x0)) * (y1 - y0);
    }
  }
  return pts[pts.length - 1][1];
}

/** RGB (0–255) of the colour map at `t` in [0, 1] (clamped). */
function colormapRgb(map: "jet" | "viridis", t: number): [number, number, number] {
  t = Math.min(1, Math.max(0, t));
  if (map === "jet") return [0, 1, 2].map((c) => 255 * piecewise(JET[c], t)) as [number, number, number];
  const v = t * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(v));
  const f = v - i;
  return [0, 1, 2].map((c) => VIRIDIS[i][c] + (VIRIDIS[i + 1][c] - VIRIDIS[i][c]) * f) as [number, number, number];
}

function toHex([r, g, b]: [number, number, number]): string {
  return `#${[r, g, b].map((x) => Math.round(x).toString(16).padStart(2, "0")).join("")}`;
}

/** The min–max normalised saliency (all zeros when it is constant) and its range. */
function normalise(s: ArrayLike<number>): { values: Float32Array; min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < s.length; i++) {
    if (s[i] < min) min = s[i];
    if (s[i] > max) max = s[i];
  }
  const span = max - min;
  const values = new Float32Array(s.length);
  if (span > 0) { for (let i = 0; i < s.length; i++) values[i] = (s[i] - min) / span; }
  return { values, min, max };
}

/** The image panel as RGB bytes of `rw × rh` pixels: image by nearest neighbour, saliency overlay blended. */
function composeRaster(
  d: Checked,
  sal: Float32Array,
  rw: number,
  rh: number,
  alpha: number,
  map: "jet" | "viridis",
  upsample: "bilinear" | "nearest",
): Uint8Array {
  const { width: w, height: h, gridW: gw, gridH: gh, image, channels } = d;
  const out = new Uint8Array(rw * rh * 3);
  const plane = w * h;
  // Colour of the map per 1/1024 of the range (a lookup table keeps the loop cheap).
  const LUT = 1024;
  const lut = new Float32Array((LUT + 1) * 3);
  for (let k = 0; k <= LUT; k++) lut.set(colormapRgb(map, k / LUT), k * 3);
  // Per column / row: source pixel (nearest) and saliency coordinates.
  const srcX = new Int32Array(rw);
  const gx0 = new Int32Array(rw);
  const gx1 = new Int32Array(rw);
  const fx = new Float32Array(rw);
  for (let x = 0; x < rw; x++) {
    const u = ((x + 0.5) / rw) * w; // image coordinates of the pixel centre
    srcX[x] = Math.min(w - 1, Math.floor(u));
    const g = (u / w) * gw;
    if (upsample === "nearest") {
      gx0[x] = gx1[x] = Math.min(gw - 1, Math.floor(g));
    } else {
      const c = Math.min(gw - 1, Math.max(0, g - 0.5));
      gx0[x] = Math.floor(c);
      gx1[x] = Math.min(gw - 1, gx0[x] + 1);
      fx[x] = c - gx0[x];
    }
  }
  for (let y = 0; y < rh; y++) {
    const v = ((y + 0.5) / rh) * h;
    const sy = Math.min(h - 1, Math.floor(v));
    const g = (v / h) * gh;
    let gy0: number, gy1: number, fy = 0;
    if (upsample === "nearest") {
      gy0 = gy1 = Math.min(gh - 1, Math.floor(g));
    } else {
      const c = Math.min(gh - 1, Math.max(0, g - 0.5));
      gy0 = Math.floor(c);
      gy1 = Math.min(gh - 1, gy0 + 1);
      fy = c - gy0;
    }
    for (let x = 0; x < rw; x++) {
      const p = sy * w + srcX[x];
      const s00 = sal[gy0 * gw + gx0[x]], s01 = sal[gy0 * gw + gx1[x]];
      const s10 = sal[gy1 * gw + gx0[x]], s11 = sal[gy1 * gw + gx1[x]];
      const top = s00 + (s01 - s00) * fx[x];
      const bottom = s10 + (s11 - s10) * fx[x];
      const k = Math.round((top + (bottom - top) * fy) * LUT) * 3;
      const o = (y * rw + x) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const base = 255 * Math.min(1, Math.max(0, image[(channels === 1 ? 0 : ch) * plane + p]));
        out[o + ch] = Math.round(base * (1 - alpha) + lut[k + ch] * alpha);
      }
    }
  }
  return out;
}

/**
 * At most `max` step indices at a regular stride from the first, plus the last (which replaces
 * the one before it when the two would crowd each other).
 */
function tickIndices(steps: number, max: number): number[] {
  if (steps <= 1) return [0];
  const last = steps - 1;
  const stride = Math.max(1, Math.ceil(last / Math.max(1, max - 1)));
  const out: number[] = [];
  for (let i = 0; i < last; i += stride) out.push(i);
  if (out.length > 1 && last - out[out.length - 1] < 0.6 * stride) out.pop();
  out.push(last);
  return out;
}

/**
 * An SVG figure explaining one DiffMIC-v2 prediction. Left: the image (nearest-neighbour
 * resampling, longer side `options.imageSize` pixels) under its saliency map (min–max
 * normalised, bilinear upsampling by default, jet colour map at 45 % alpha, with a colour bar)
 * and the crop boxes, each with its attention weight printed at its top-left corner, the
 * heavier boxes drawn thicker and brighter (and on top). Right: each class's probability
 * along the trajectory, the predicted class drawn thickest, with a legend. Header: predicted
 * class with its final probability, true class when known. Async because the image panel is
 * encoded as a PNG (through sharp) and embedded as a data URI.
 *
 * Errors name the field at fault: `image`, `saliency` or a `trajectory` row whose length does
 * not match the stated shape, values out of range, class indices, boxes wholly outside the image.
 *
 * @example
 * ```ts
 * const svg = await explanationSvg({
 *   image, channels: 3, height: 224, width: 224,
 *   saliency, gridH: 7, gridW: 7,
 *   boxes: [{ top: 32, left: 80, size: 64, weight: 0.7 }, { top: 120, left: 20, size: 64, weight: 0.3 }],
 *   classes: ["benign", "malignant"],
 *   trajectory, trajectoryLabels: ["prior", "t=800", "t=600", "t=400", "t=200", "t=0"],
 *   predicted: 1, trueClass: 1,
 * });
 * ```
 */
export async function explanationSvg(e: Explanation, options: ExplanationPlotOptions = {}): Promise<string> {
  const d = checkExplanation(e);
  const imageSize = checkOption("imageSize", options.imageSize, 224, 2048, 320);
  const alpha = checkOption("saliencyAlpha", options.saliencyAlpha, 0, 1, 0.45);
  const chartW = checkOption("chartWidth", options.chartWidth, 160, 2048, 380);
  const scale = options.scale ?? 1;
  if (typeof scale !== "number" || !(scale > 0 && scale <= 16)) {
    throw new RangeError(`${FN}: options.scale must be a number in (0, 16], got ${scale}`);
  }
  const map = options.colormap ?? "jet";
  if (map !== "jet" && map !== "viridis") {
    throw new RangeError(`${FN}: options.colormap must be "jet" or "viridis", got ${map}`);
  }
  const upsample = options.saliencyUpsample ?? "bilinear";
  if (upsample !== "bilinear" && upsample !== "nearest") {
    throw new RangeError(`${FN}: options.saliencyUpsample must be "bilinear" or "nearest", got ${upsample}`);
  }

  // --- Image panel -----------------------------------------------------------------------
  const k = imageSize / Math.max(d.width, d.height); // display pixels per image pixel
  const dispW = Math.max(1, Math.round(d.width * k));
  const dispH = Math.max(1, Math.round(d.height * k));
  const rw = Math.max(1, Math.round(dispW * scale));
  const rh = Math.max(1, Math.round(dispH * scale));
  const sal = normalise(d.saliency);
  const rgb = composeRaster(d, sal.values, rw, rh, alpha, map, upsample);
  const png = await encodePng({ data: rgb, width: rw, height: rh, channels: 3 });

  const margin = 20;
  const headerH = 92;
  const imgX = margin;
  const imgY = headerH;
  const sx = dispW / d.width;
  const sy = dispH / d.height;
  const panel: string[] = [
    el("image", {
      x: imgX,
      y: imgY,
      width: dispW,
      height: dispH,
      preserveAspectRatio: "none",
      href: pngDataUri(png),
    }),
  ];
  const maxWeight = Math.max(1e-12, ...d.boxes.map((b) => b.weight));
  const order = d.boxes.map((b, i) => ({ b, i })).sort((a, b) => a.b.weight - b.b.weight || a.i - b.i);
  const boxParts: string[] = [];
  for (const { b, i } of order) {
    // The part of the box inside the image (a box may extend past the edge).
    const x0 = imgX + Math.max(0, b.left) * sx;
    const y0 = imgY + Math.max(0, b.top) * sy;
    const x1 = imgX + Math.min(d.width, b.left + b.size) * sx;
    const y1 = imgY + Math.min(d.height, b.top + b.size) * sy;
    const rel = b.weight / maxWeight;
    const strokeW = 1 + 3 * rel;
    const opacity = 0.45 + 0.55 * rel;
    const rect = { x: x0, y: y0, width: x1 - x0, height: y1 - y0, fill: "none" };
    const label = b.weight.toFixed(2);
    const lw = textWidth(label, 11) + 6;
    boxParts.push(el("g", { class: "box", "data-box": i }, [
      el("rect", { ...rect, stroke: "#000000", "stroke-opacity": 0.6 * opacity, "stroke-width": strokeW + 2 }),
      el("rect", { ...rect, stroke: "#ffffff", "stroke-opacity": opacity, "stroke-width": strokeW }),
      el("rect", { x: x0, y: y0, width: lw, height: 15, fill: "#000000", "fill-opacity": 0.55 + 0.3 * rel }),
      text(x0 + 3, y0 + 11.5, label, {
        "font-size": 11,
        fill: "#ffffff",
        "font-weight": rel >= 0.999 ? "bold" : "normal",
      }),
    ]));
  }
  // Clip the boxes to the image so one past the edge never draws over the chart.
  const defs = el("defs", {}, [
    el("clipPath", { id: "explanation-image-clip" }, [
      el("rect", { x: imgX, y: imgY, width: dispW, height: dispH }),
    ]),
  ]);
  panel.push(el("g", { class: "boxes", "clip-path": "url(#explanation-image-clip)" }, boxParts));
  panel.push(el("rect", { x: imgX, y: imgY, width: dispW, height: dispH, fill: "none", stroke: "#333" }));
  // Colour bar of the saliency map.
  const barY = imgY + dispH + 12;
  const barH = 10;
  const barW = Math.min(dispW, 240);
  const stops = Array.from(
    { length: 11 },
    (_, i) => el("stop", { offset: `${i * 10}%`, "stop-color": toHex(colormapRgb(map, i / 10)) }),
  );
  panel.push(
    el("defs", {}, [el("linearGradient", { id: "explanation-saliency-bar", x1: 0, y1: 0, x2: 1, y2: 0 }, stops)]),
  );
  panel.push(el("rect", {
    x: imgX,
    y: barY,
    width: barW,
    height: barH,
    fill: "url(#explanation-saliency-bar)",
    stroke: "#666",
    "stroke-width": 0.5,
  }));
  panel.push(text(imgX, barY + barH + 13, "low", { "font-size": 10 }));
  panel.push(text(imgX + barW, barY + barH + 13, "high", { "font-size": 10, "text-anchor": "end" }));
  panel.push(text(imgX + barW / 2, barY + barH + 13, "saliency", { "font-size": 10, "text-anchor": "middle" }));
  const note = d.boxes.length > 0
    ? `${d.boxes.length} crop box${d.boxes.length === 1 ? "" : "es"}: gated-attention weight`
    : "no crop boxes";
  panel.push(text(imgX, barY + barH + 30, note, { "font-size": 10, fill: "#555" }));
  const panelBottom = barY + barH + 36;

  // --- Trajectory chart ------------------------------------------------------------------
  const c = d.classes.length;
  const steps = d.trajectory.length;
  const final = d.trajectory[steps - 1];
  const items: LegendItem[] = d.classes.map((name, j) => {
    const tags = [j === d.predicted ? "predicted" : "", j === d.trueClass ? "true" : ""].filter(Boolean);
    return {
      label: `${name} ${final[j].toFixed(2)}${tags.length ? ` (${tags.join(", ")})` : ""}`,
      color: seriesColor(j),
      width: j === d.predicted ? 3.5 : 1.5,
    };
  });
  const lsize = legendSize(items, 12);
  const chartX = imgX + dispW + 80;
  const chartY = imgY;
  const chartH = Math.max(200, dispH);
  const xMax = Math.max(1, steps - 1);
  const tickLabels = d.labels ?? Array.from({ length: steps }, (_, i) => String(i));
  const widest = Math.max(...tickLabels.map((l) => textWidth(l, 11)));
  const ticks = tickIndices(steps, Math.max(2, Math.min(9, Math.floor(chartW / (widest + 14)))));
  const axes = drawAxes({
    x: chartX,
    y: chartY,
    width: chartW,
    height: chartH,
    xDomain: [0, xMax],
    yDomain: [0, 1],
    xTicks: ticks,
    yTicks: [0, 0.2, 0.4, 0.6, 0.8, 1],
    xTickFormat: (v) => tickLabels[Math.round(v)] ?? "",
    yTickFormat: (v) => v.toFixed(1),
    xLabel: options.xLabel ?? (d.labels ? "denoising step" : "denoising step (index)"),
    yLabel: "probability",
  });
  const lines: string[] = [];
  const drawOrder = [...Array(c).keys()].filter((j) => j !== d.predicted).concat([d.predicted]);
  for (const j of drawOrder) {
    const color = seriesColor(j);
    const xs = d.trajectory.map((_, s) => axes.sx(s));
    const ys = d.trajectory.map((row) => axes.sy(row[j]));
    const pred = j === d.predicted;
    const attrs = { stroke: color, "stroke-width": pred ? 3.5 : 1.5, "stroke-opacity": pred ? 1 : 0.75 };
    const g: string[] = [];
    if (steps > 1) g.push(polyline(xs, ys, attrs));
    if (steps <= 40 || steps === 1) {
      for (let s = 0; s < steps; s++) g.push(el("circle", { cx: xs[s], cy: ys[s], r: pred ? 3.5 : 2.5, fill: color }));
    }
    lines.push(el("g", { class: pred ? "class predicted" : "class", "data-class": j }, g));
  }
  const chartTitle = text(chartX + chartW / 2, chartY - 10, "Class probabilities along the trajectory", {
    "text-anchor": "middle",
    "font-size": 13,
  });
  const legendX = chartX + chartW + 16;
  const chartBottom = chartY + chartH + 50;

  // --- Header ------------------------------------------------------------------------------
  const width = Math.ceil(legendX + lsize.width + margin);
  const height = Math.ceil(Math.max(panelBottom, chartBottom, chartY + lsize.height) + margin);
  const title = figureTitle(width, e.title ?? "DiffMIC-v2 explanation", 28);
  const pName = d.classes[d.predicted];
  const pProb = final[d.predicted];
  const header: string[] = [title];
  let line = `Predicted: ${pName} (p = ${pProb.toFixed(3)})`;
  let color = "#222";
  if (d.trueClass !== undefined) {
    const ok = d.trueClass === d.predicted;
    line += `   ·   True: ${d.classes[d.trueClass]}` +
      (ok ? "   ·   correct" : ` (p = ${final[d.trueClass].toFixed(3)})   ·   wrong`);
    color = ok ? "#1a7f37" : "#c62828";
  }
  header.push(text(width / 2, 52, line, { "text-anchor": "middle", "font-size": 14, fill: color }));

  return svgDocument(width, height, [
    defs,
    ...header,
    el("g", { class: "image-panel" }, panel),
    chartTitle,
    axes.svg,
    el("g", { class: "trajectory" }, lines),
    legend(items, legendX, chartY, 12),
  ]);
}

/**
 * Renders {@linkcode explanationSvg} to a PNG file at `path` (atomically) and returns its
 * size; `options.scale` multiplies it (the embedded image raster is built at that scale).
 *
 * @example
 * ```ts
 * await explanationPlot(explanation, "runs/a/explain/0042.png", { imageSize: 336 });
 * ```
 */
export async function explanationPlot(
  e: Explanation,
  path: string,
  options: ExplanationPlotOptions = {},
): Promise<RenderedPng> {
  return await renderSvgToPng(await explanationSvg(e, options), path, { scale: options.scale });
}
