/**
 * SVG → PNG without a browser: librsvg (through `sharp`) renders the SVG, and the PNG is
 * written atomically (a temporary file in the same folder, then a rename), so a reader never
 * sees half a figure and an interrupted run leaves no partial file behind.
 * @module
 */
import { writeFileAtomic } from "../util/io.ts";
import { loadSharp } from "../util/sharp.ts";

/** Options of {@linkcode renderSvgToPng} and {@linkcode svgToPngBytes}. */
export interface RenderOptions {
  /** Pixel scale: 2 renders a 640×480 SVG as a 1280×960 PNG (default 1). */
  scale?: number;
}

/** Size of a rendered PNG. */
export interface RenderedPng {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

function checkSvg(fn: string, svg: unknown): string {
  if (typeof svg !== "string") throw new TypeError(`${fn}: svg must be a string, got ${typeof svg}`);
  if (!/<svg[\s>]/.test(svg)) throw new RangeError(`${fn}: svg does not contain an <svg> element`);
  return svg;
}

function checkScale(fn: string, scale: unknown): number {
  if (typeof scale !== "number" || !(scale > 0 && scale <= 16)) {
    throw new RangeError(`${fn}: options.scale must be a number in (0, 16], got ${scale}`);
  }
  return scale;
}

/** Renders an SVG document to PNG bytes. */
export async function svgToPngBytes(svg: string, options: RenderOptions = {}): Promise<Uint8Array> {
  const fn = "svgToPngBytes";
  checkSvg(fn, svg);
  const scale = checkScale(fn, options.scale ?? 1);
  try {
    const sharp = await loadSharp();
    const out = await sharp(new TextEncoder().encode(svg), { density: 72 * scale }).png().toBuffer();
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    throw new Error(`${fn}: cannot render the SVG (${e instanceof Error ? e.message : e})`, { cause: e });
  }
}

/**
 * Renders an SVG document to a PNG file, atomically (temporary file + rename).
 *
 * @example
 * ```ts
 * await renderSvgToPng(rocPlotSvg(yTrue, probs, { classNames }), "runs/a/figures/roc.png", { scale: 2 });
 * ```
 */
export async function renderSvgToPng(svg: string, path: string, options: RenderOptions = {}): Promise<RenderedPng> {
  const png = await svgToPngBytes(svg, options);
  await writeFileAtomic(path, png, { mkdir: true });
  // The IHDR chunk follows the 8-byte signature: width and height are big-endian at 16 and 20.
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}
