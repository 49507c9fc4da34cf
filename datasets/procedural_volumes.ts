/**
 * {@linkcode ProceduralVolumes}: a built-in 3-D dataset that needs no download, the stand-in of
 * the adrenal-gland masks (AdrenalMNIST3D) for tests and tiny configs. Each sample is a
 * `[1, S, S, S]` float32 volume in [0, 1] drawn from `(seed, index)` alone: a smooth ellipsoid
 * "gland" (semi-axes 0.18–0.30 of the side, centre within ±0.08 of the middle, one-voxel soft
 * edge); class 1 `mass` adds a second, brighter round blob (radius 0.08–0.12) touching it.
 * Labels alternate (0, 1, 0, 1, …).
 * @module
 */
import { Rng } from "../util/rng.ts";
import type { ArrayImage, Dataset, Sample } from "./types.ts";

/** Class names by index. */
export const PROCEDURAL_VOLUME_CLASSES: readonly string[] = Object.freeze(["normal", "mass"]);

/** The seeded 3-D set (see the module notes). */
export class ProceduralVolumes implements Dataset<Sample<ArrayImage>> {
  readonly length: number;
  readonly size: number;
  readonly seed: number;
  readonly classes: readonly string[] = PROCEDURAL_VOLUME_CLASSES;

  constructor(opts: { length?: number; size?: number; seed?: number } = {}) {
    this.length = opts.length ?? 64;
    this.size = opts.size ?? 16;
    this.seed = opts.seed ?? 0;
    for (const [k, v] of [["length", this.length], ["size", this.size]] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(`ProceduralVolumes: ${k} must be a positive integer, got ${v}`);
      }
    }
  }

  labels(): Int32Array {
    return Int32Array.from({ length: this.length }, (_, i) => i % 2);
  }

  get(index: number): Promise<Sample<ArrayImage>> {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      return Promise.reject(new RangeError(`ProceduralVolumes.get: index ${index} is outside [0, ${this.length})`));
    }
    const S = this.size, rng = Rng.derive(this.seed, index), label = index % 2;
    const u = (lo: number, hi: number) => lo + (hi - lo) * rng.random();
    const c = [u(0.42, 0.58), u(0.42, 0.58), u(0.42, 0.58)], ax = [u(0.18, 0.3), u(0.18, 0.3), u(0.18, 0.3)];
    const r2 = u(0.08, 0.12), dir = [u(-1, 1), u(-1, 1), u(-1, 1)], norm = Math.hypot(...dir) || 1;
    const c2 = c.map((v, i) => v + (dir[i] / norm) * (ax[i] + r2 * 0.5));
    const data = new Float32Array(S * S * S);
    // A one-voxel ramp across each surface: value = clamp(0.5 − signed distance in voxels).
    const soft = (d: number) => Math.min(1, Math.max(0, 0.5 - d * S));
    for (let z = 0; z < S; z++) {
      for (let y = 0; y < S; y++) {
        for (let x = 0; x < S; x++) {
          const p = [(z + 0.5) / S, (y + 0.5) / S, (x + 0.5) / S];
          const e = Math.sqrt(p.reduce((s, v, i) => s + ((v - c[i]) / ax[i]) ** 2, 0));
          let v = 0.8 * soft((e - 1) * Math.min(...ax));
          if (label === 1) v = Math.max(v, soft(Math.hypot(...p.map((q, i) => q - c2[i])) - r2));
          data[(z * S + y) * S + x] = v;
        }
      }
    }
    return Promise.resolve({
      image: { data, shape: [1, S, S, S] },
      label,
      id: `procedural3d:${index}`,
      meta: { index },
    });
  }
}
