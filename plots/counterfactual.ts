/**
 * A counterfactual explanation as one figure: the input image, the same image pushed by the
 * diffusion model towards another class, and the signed difference (counterfactual − input,
 * averaged over channels) on a blue–white–red scale symmetric around 0, with a header naming
 * the predicted, true and target classes and a line on the prediction's uncertainty.
 * @module
 */
import { encodePng } from "../util/png.ts";
import { type RenderedPng, type RenderOptions, renderSvgToPng } from "./render.ts";
import { el, pngDataUri, svgDocument, text } from "./svg.ts";

/** What {@linkcode counterfactualSvg} draws. */
export interface Counterfactual {
  /** The input image, CHW, values in [0, 1]. */
  image: Float32Array;
  /** The counterfactual, CHW, values in [0, 1] (clamped for display). */
  counterfactual: Float32Array;
  /** Channels: 1 (grey) or 3 (RGB). */
  channels: 1 | 3;
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
  /** Class names by index. */
  classes: readonly string[];
  /** Predicted class. */
  predicted: number;
  /** The class the counterfactual was steered to. */
  target: number;
  /** True class, when known. */
  trueClass?: number;
  /** A line under the header, e.g. the votes and their entropy. */
  note?: string;
}

const FN = "counterfactualSvg";

/** Blue (−1) – white (0) – red (+1). */
function diverging(t: number): [number, number, number] {
  const u = Math.max(-1, Math.min(1, t));
  return u < 0 ? [255 * (1 + u), 255 * (1 + u), 255] : [255, 255 * (1 - u), 255 * (1 - u)];
}

/** RGB bytes of `side`×`side` pixels from a per-pixel colour function (nearest neighbour). */
function raster(w: number, h: number, side: number, color: (p: number) => [number, number, number]): Uint8Array {
  const rw = side, rh = Math.max(1, Math.round((side * h) / w));
  const out = new Uint8Array(rw * rh * 3);
  for (let y = 0; y < rh; y++) {
    const sy = Math.min(h - 1, Math.floor(((y + 0.5) / rh) * h));
    for (let x = 0; x < rw; x++) {
      const sx = Math.min(w - 1, Math.floor(((x + 0.5) / rw) * w));
      out.set(color(sy * w + sx).map(Math.round), (y * rw + x) * 3);
    }
  }
  return out;
}

function check(c: Counterfactual): void {
  if (c.channels !== 1 && c.channels !== 3) throw new RangeError(`${FN}: channels must be 1 or 3, got ${c.channels}`);
  for (const [name, v] of [["height", c.height], ["width", c.width]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${FN}: ${name} must be a positive integer, got ${v}`);
  }
  const n = c.channels * c.height * c.width;
  for (const [name, a] of [["image", c.image], ["counterfactual", c.counterfactual]] as const) {
    if (a.length !== n) throw new RangeError(`${FN}: ${name} has ${a.length} values, CHW needs ${n}`);
    if (a.some((v) => !Number.isFinite(v))) throw new RangeError(`${FN}: ${name} has a non-finite value`);
  }
  for (const [name, k] of [["predicted", c.predicted], ["target", c.target], ["trueClass", c.trueClass]] as const) {
    if (k !== undefined && !(Number.isInteger(k) && k >= 0 && k < c.classes.length)) {
      throw new RangeError(`${FN}: ${name} must be a class index in [0, ${c.classes.length - 1}], got ${k}`);
    }
  }
}

/** The figure as SVG (images embedded as PNG data URIs, `side` pixels wide each; default 224). */
export async function counterfactualSvg(c: Counterfactual, side = 224): Promise<string> {
  check(c);
  const { width: w, height: h, channels } = c, plane = w * h;
  const pixel = (img: Float32Array) => (p: number): [number, number, number] =>
    [0, 1, 2].map((ch) => 255 * Math.min(1, Math.max(0, img[(channels === 1 ? 0 : ch) * plane + p]))) as [
      number,
      number,
      number,
    ];
  const diff = new Float32Array(plane);
  for (let p = 0; p < plane; p++) {
    for (let ch = 0; ch < channels; ch++) {
      diff[p] += (c.counterfactual[ch * plane + p] - c.image[ch * plane + p]) / channels;
    }
  }
  const scale = Math.max(1e-6, ...Array.from(diff, Math.abs));
  const rh = Math.max(1, Math.round((side * h) / w));
  const panels = [
    { title: "input", rgb: raster(w, h, side, pixel(c.image)) },
    { title: `counterfactual → ${c.classes[c.target]}`, rgb: raster(w, h, side, pixel(c.counterfactual)) },
    { title: `difference (±${scale.toFixed(3)})`, rgb: raster(w, h, side, (p) => diverging(diff[p] / scale)) },
  ];
  const gap = 24, left = 20, top = 78;
  const width = left * 2 + 3 * side + 2 * gap, height = top + rh + 30;
  const parts: string[] = [];
  const truth = c.trueClass === undefined ? "" : `, true ${c.classes[c.trueClass]}`;
  parts.push(text(width / 2, 26, `predicted ${c.classes[c.predicted]}${truth}`, {
    "text-anchor": "middle",
    "font-size": 16,
    "font-weight": "bold",
  }));
  if (c.note) parts.push(text(width / 2, 48, c.note, { "text-anchor": "middle", "font-size": 12, fill: "#444" }));
  for (const [i, p] of panels.entries()) {
    const x = left + i * (side + gap);
    const png = await encodePng({ data: p.rgb, width: side, height: rh, channels: 3 });
    parts.push(text(x + side / 2, top - 8, p.title, { "text-anchor": "middle", "font-size": 12 }));
    parts.push(el("image", { x, y: top, width: side, height: rh, href: pngDataUri(png) }));
    parts.push(el("rect", { x, y: top, width: side, height: rh, fill: "none", stroke: "#888" }));
  }
  return svgDocument(width, height, parts);
}

/** Renders {@linkcode counterfactualSvg} to a PNG at `path` (atomically). */
export async function counterfactualPlot(
  c: Counterfactual,
  path: string,
  options: RenderOptions & { side?: number } = {},
): Promise<RenderedPng> {
  return await renderSvgToPng(await counterfactualSvg(c, options.side), path, { scale: options.scale });
}
