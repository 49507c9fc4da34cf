/**
 * {@linkcode ProceduralDataset}: the built-in dataset that needs no download. Each sample is a
 * small synthetic "fundus photograph" drawn from `(seed, index)` alone, with four classes of
 * "lesions" that a small CNN or a small conditional DDPM learns in minutes on a CPU.
 *
 * Generative recipe (coordinates in units of the image side, so any `size` draws the same
 * picture; every edge is anti-aliased over one pixel):
 *
 * 1. Background black (0.02). A fundus disk of radius 0.44–0.47 centred within ±0.02 of the
 *    middle, orange-red (0.80, 0.36, 0.16) times a vignette `1 − 0.45·(r/R)²`, then times a
 *    per-image gain in [0.9, 1.1] and a per-channel tint in [0.93, 1.07].
 * 2. An optic disc (pale yellow, radius 0.06–0.08) on the left or right (50/50) at 0.20–0.24
 *    from the centre; a darker macula (×0.8, radius 0.09) at the centre.
 * 3. Four vessels (dark red, width 0.018–0.026): quadratic Bézier arcs from the optic disc to
 *    the far side, two arching up, two down, their end and bend points jittered.
 * 4. Class lesions:
 *    - 0 `normal`: none.
 *    - 1 `microaneurysms`: 8–12 small dark-red dots (radius 0.03–0.045) anywhere within 0.3 of
 *      the centre.
 *    - 2 `exudates`: 3–7 bright yellow filled blobs (radius 0.035–0.06) clustered within 0.12
 *      of a point near the macula.
 *    - 3 `laser scars`: 4–7 pale spots with a dark brown rim 0.02 wide (outer radius
 *      0.05–0.07) at 0.24–0.36 from the centre.
 * 5. Gaussian pixel noise (σ = `noise`, default 0.03) per channel; values clamped to [0, 1].
 *    One channel is the luminance `0.299 R + 0.587 G + 0.114 B`.
 *
 * Labels are balanced: each block of `numClasses` consecutive indices holds every class once,
 * in a seeded order. Image `i` uses `Rng.derive(seed, i)`, so a sample never depends on which
 * others were drawn.
 * @module
 */
import { Rng } from "../util/rng.ts";
import type { ArrayImage, Dataset, Raster, Sample } from "./types.ts";

/** The class names of {@linkcode ProceduralDataset}, by index. */
export const PROCEDURAL_CLASSES: readonly string[] = Object.freeze([
  "normal",
  "microaneurysms",
  "exudates",
  "laser scars",
]);

/** Options of {@linkcode ProceduralDataset}. */
export interface ProceduralOptions {
  /** Number of samples (default 1024). */
  length?: number;
  /** Image side in pixels (default 28). */
  size?: number;
  /** 1 (luminance) or 3 (RGB) channels (default 3). */
  channels?: 1 | 3;
  /** Use the first 2, 3 or 4 classes (default 4). */
  numClasses?: number;
  /** Seed of the whole set (default 0). */
  seed?: number;
  /** Standard deviation of the per-pixel Gaussian noise (default 0.03). */
  noise?: number;
  /**
   * `"array"` (default): CHW float32 in [0, 1], ready for the loader; `"raster"`: uint8 HWC,
   * like a decoded image file (for image transforms or saving previews).
   */
  output?: "array" | "raster";
}

type RGB = [number, number, number];

interface Disk {
  x: number;
  y: number;
  r: number;
}

/** Coverage of a pixel by a shape whose signed distance (negative inside) is `d`, with a one-pixel ramp. */
function cover(d: number, px: number): number {
  const t = 0.5 - d / px;
  return t <= 0 ? 0 : t >= 1 ? 1 : t;
}

function segmentDistance(x: number, y: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax, dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const t = len2 > 0 ? Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / len2)) : 0;
  const ex = x - ax - t * dx, ey = y - ay - t * dy;
  return Math.sqrt(ex * ex + ey * ey);
}

function mix(a: RGB, b: RGB, t: number): void {
  a[0] += (b[0] - a[0]) * t;
  a[1] += (b[1] - a[1]) * t;
  a[2] += (b[2] - a[2]) * t;
}

const FUNDUS: RGB = [0.80, 0.36, 0.16];
const DISC: RGB = [0.98, 0.86, 0.58];
const VESSEL: RGB = [0.42, 0.07, 0.05];
const ANEURYSM: RGB = [0.32, 0.02, 0.03];
const EXUDATE: RGB = [1.0, 0.93, 0.45];
const SCAR_RIM: RGB = [0.22, 0.11, 0.05];
const SCAR_CENTRE: RGB = [0.93, 0.80, 0.62];

/** A procedurally generated fundus-like classification set (see the module doc for the recipe). */
export class ProceduralDataset implements Dataset<Sample<ArrayImage | Raster>> {
  /** Number of samples. */
  readonly length: number;
  /** Image side in pixels. */
  readonly size: number;
  /** Channels per image. */
  readonly channels: 1 | 3;
  /** Class names by index. */
  readonly classes: readonly string[];
  /** Seed of the set. */
  readonly seed: number;
  /** Pixel noise standard deviation. */
  readonly noise: number;
  /** Sample format. */
  readonly output: "array" | "raster";

  /** A set of `length` samples; nothing is drawn until `get`. */
  constructor(options: ProceduralOptions = {}) {
    const op = "ProceduralDataset";
    const { length = 1024, size = 28, channels = 3, numClasses = 4, seed = 0, noise = 0.03, output = "array" } =
      options;
    if (!Number.isInteger(length) || length < 0) {
      throw new RangeError(`${op}: length must be a non-negative integer, got ${length}`);
    }
    if (!Number.isInteger(size) || size < 8 || size > 1024) {
      throw new RangeError(`${op}: size must be an integer in [8, 1024], got ${size}`);
    }
    if (channels !== 1 && channels !== 3) throw new RangeError(`${op}: channels must be 1 or 3, got ${channels}`);
    if (!Number.isInteger(numClasses) || numClasses < 2 || numClasses > PROCEDURAL_CLASSES.length) {
      throw new RangeError(`${op}: numClasses must be 2, 3 or 4, got ${numClasses}`);
    }
    if (!Number.isInteger(seed)) throw new TypeError(`${op}: seed must be an integer, got ${seed}`);
    if (!(noise >= 0 && Number.isFinite(noise))) throw new RangeError(`${op}: noise must be ≥ 0, got ${noise}`);
    if (output !== "array" && output !== "raster") {
      throw new RangeError(`${op}: output must be "array" or "raster", got ${output}`);
    }
    this.length = length;
    this.size = size;
    this.channels = channels;
    this.seed = seed;
    this.noise = noise;
    this.output = output;
    this.classes = PROCEDURAL_CLASSES.slice(0, numClasses);
  }

  /** Class index of sample `index` (no drawing needed). */
  labelOf(index: number): number {
    const k = this.classes.length;
    const block = Math.floor(index / k);
    return Rng.derive(this.seed, 0x6c61, block).permutation(k)[index % k];
  }

  /** Class index of every sample. */
  labels(): Int32Array {
    const out = new Int32Array(this.length);
    const k = this.classes.length;
    for (let b = 0; b * k < this.length; b++) {
      const perm = Rng.derive(this.seed, 0x6c61, b).permutation(k);
      for (let j = 0; j < k && b * k + j < this.length; j++) out[b * k + j] = perm[j];
    }
    return out;
  }

  /** Draws sample `index`. */
  get(index: number): Promise<Sample<ArrayImage | Raster>> {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      return Promise.reject(
        new RangeError(`ProceduralDataset.get: index must be an integer in [0, ${this.length}), got ${index}`),
      );
    }
    const label = this.labelOf(index);
    const rgb = this.render(label, Rng.derive(this.seed, index));
    const image = this.output === "array" ? this.#toArray(rgb) : this.#toRaster(rgb);
    return Promise.resolve({
      image,
      label,
      id: `procedural:${this.seed}:${index}`,
      meta: { generator: "meddiff-procedural-v1", seed: this.seed, index, className: this.classes[label] },
    });
  }

  /** Draws one RGB image of class `label` (HWC float32 in [0, 1]) from `rng`. */
  render(label: number, rng: Rng): Float32Array {
    const S = this.size, px = 1 / S;
    const u = (a: number, b: number) => rng.uniform(a, b);
    const eye: Disk = { x: 0.5 + u(-0.02, 0.02), y: 0.5 + u(-0.02, 0.02), r: u(0.44, 0.47) };
    const gain = u(0.9, 1.1);
    const tint: RGB = [u(0.93, 1.07), u(0.93, 1.07), u(0.93, 1.07)];
    const side = rng.bernoulli(0.5) ? 1 : -1;
    const discDist = u(0.20, 0.24);
    const disc: Disk = { x: eye.x + side * discDist, y: eye.y + u(-0.04, 0.04), r: u(0.06, 0.08) };
    const macula: Disk = { x: eye.x - side * 0.02, y: eye.y, r: 0.09 };

    // Vessels: polylines along quadratic Bézier arcs from the disc towards the far side.
    const vessels: { pts: number[]; w: number }[] = [];
    for (let k = 0; k < 4; k++) {
      const up = k < 2 ? -1 : 1;
      const ex = eye.x - side * u(0.12, 0.32), ey = eye.y + up * u(0.22, 0.36);
      const cx = disc.x - side * u(0.0, 0.1), cy = eye.y + up * u(0.25, 0.42);
      const pts: number[] = [];
      for (let s = 0; s <= 8; s++) {
        const t = s / 8, a = (1 - t) * (1 - t), b = 2 * t * (1 - t), c = t * t;
        pts.push(a * disc.x + b * cx + c * ex, a * disc.y + b * cy + c * ey);
      }
      vessels.push({ pts, w: u(0.018, 0.026) / 2 });
    }

    // Lesions, by class.
    const polar = (rMin: number, rMax: number): [number, number] => {
      const a = u(0, 2 * Math.PI), r = Math.sqrt(u(rMin * rMin, rMax * rMax));
      return [eye.x + r * Math.cos(a), eye.y + r * Math.sin(a)];
    };
    const dots: Disk[] = [], blobs: Disk[] = [], rings: Disk[] = [];
    if (label === 1) {
      const n = 8 + rng.int(5);
      for (let k = 0; k < n; k++) {
        const [x, y] = polar(0.04, 0.3);
        dots.push({ x, y, r: u(0.03, 0.045) });
      }
    } else if (label === 2) {
      const [hx, hy] = [eye.x - side * u(0.0, 0.1), eye.y + u(-0.08, 0.08)];
      const n = 3 + rng.int(5);
      for (let k = 0; k < n; k++) {
        const a = u(0, 2 * Math.PI), r = u(0, 0.12);
        blobs.push({ x: hx + r * Math.cos(a), y: hy + r * Math.sin(a), r: u(0.035, 0.06) });
      }
    } else if (label === 3) {
      const n = 4 + rng.int(4);
      for (let k = 0; k < n; k++) {
        const [x, y] = polar(0.24, 0.36);
        rings.push({ x, y, r: u(0.05, 0.07) });
      }
    }

    const out = new Float32Array(S * S * 3);
    const c: RGB = [0, 0, 0];
    for (let py = 0; py < S; py++) {
      const y = (py + 0.5) * px;
      for (let pxi = 0; pxi < S; pxi++) {
        const x = (pxi + 0.5) * px;
        const r = Math.hypot(x - eye.x, y - eye.y);
        const inside = cover(r - eye.r, px);
        const o = (py * S + pxi) * 3;
        if (inside <= 0) {
          out[o] = out[o + 1] = out[o + 2] = 0.02;
          continue;
        }
        const v = 1 - 0.45 * (r / eye.r) ** 2;
        c[0] = FUNDUS[0] * v;
        c[1] = FUNDUS[1] * v;
        c[2] = FUNDUS[2] * v;
        const mac = cover(Math.hypot(x - macula.x, y - macula.y) - macula.r, px * 3);
        if (mac > 0) {
          const m = 1 - 0.2 * mac;
          c[0] *= m;
          c[1] *= m;
          c[2] *= m;
        }
        mix(c, DISC, cover(Math.hypot(x - disc.x, y - disc.y) - disc.r, px));
        for (const ves of vessels) {
          let d = Infinity;
          const p = ves.pts;
          for (let s = 0; s + 3 < p.length; s += 2) {
            d = Math.min(d, segmentDistance(x, y, p[s], p[s + 1], p[s + 2], p[s + 3]));
          }
          const t = cover(d - ves.w, px);
          if (t > 0) mix(c, VESSEL, 0.85 * t);
        }
        for (const b of blobs) mix(c, EXUDATE, cover(Math.hypot(x - b.x, y - b.y) - b.r, px));
        for (const d of dots) mix(c, ANEURYSM, cover(Math.hypot(x - d.x, y - d.y) - d.r, px));
        for (const g of rings) {
          const dist = Math.hypot(x - g.x, y - g.y);
          mix(c, SCAR_CENTRE, cover(dist - (g.r - 0.02), px));
          mix(c, SCAR_RIM, cover(Math.abs(dist - (g.r - 0.01)) - 0.01, px));
        }
        for (let ch = 0; ch < 3; ch++) {
          const inner = c[ch] * gain * tint[ch];
          const val = 0.02 + (inner - 0.02) * inside;
          out[o + ch] = val;
        }
      }
    }
    if (this.noise > 0) {
      for (let i = 0; i < out.length; i++) out[i] += this.noise * rng.normal();
    }
    for (let i = 0; i < out.length; i++) out[i] = out[i] < 0 ? 0 : out[i] > 1 ? 1 : out[i];
    return out;
  }

  #toArray(rgb: Float32Array): ArrayImage {
    const S = this.size, n = S * S;
    const data = new Float32Array(this.channels * n);
    for (let i = 0; i < n; i++) {
      if (this.channels === 1) {
        data[i] = 0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2];
      } else {
        data[i] = rgb[3 * i];
        data[n + i] = rgb[3 * i + 1];
        data[2 * n + i] = rgb[3 * i + 2];
      }
    }
    return { data, shape: [this.channels, S, S] };
  }

  #toRaster(rgb: Float32Array): Raster {
    const S = this.size, n = S * S;
    const data = new Uint8Array(this.channels * n);
    for (let i = 0; i < n; i++) {
      if (this.channels === 1) {
        data[i] = Math.round(255 * (0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2]));
      } else {
        for (let ch = 0; ch < 3; ch++) data[3 * i + ch] = Math.round(255 * rgb[3 * i + ch]);
      }
    }
    return { data, width: S, height: S, channels: this.channels };
  }
}
