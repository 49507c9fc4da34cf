/**
 * {@linkcode VolumeSlices}: the 2-D slices of a set of `[1, D, H, W]` volumes along one axis
 * (0 = D, axial; 1 = H, coronal; 2 = W, sagittal), the middle `fraction` of each volume's slices
 * (the outer ones of a centred organ or brain are mostly empty), each a `[1, h, w]` float
 * image with its volume's label. Sample `i` is slice `i mod k` of volume `⌊i / k⌋`. The 2-D
 * feature network of the 3-D generation metrics trains on these.
 * @module
 */
import type { ArrayImage, Dataset, Sample } from "./types.ts";

/** Which slices of a side of `n` the middle `fraction` keeps (at least one). */
export function middleSlices(n: number, fraction: number): number[] {
  const k = Math.max(1, Math.round(n * fraction)), start = Math.floor((n - k) / 2);
  return Array.from({ length: k }, (_, i) => start + i);
}

/** One slice (`index` along `axis`) of a `[D, H, W]` volume, as `[h, w]` row-major data. */
export function sliceOf(v: ArrayLike<number>, [D, H, W]: readonly number[], axis: number, index: number): Float32Array {
  if (axis === 0) return Float32Array.from({ length: H * W }, (_, k) => v[index * H * W + k]);
  if (axis === 1) {
    return Float32Array.from({ length: D * W }, (_, k) => v[(Math.floor(k / W) * H + index) * W + (k % W)]);
  }
  return Float32Array.from({ length: D * H }, (_, k) => v[k * W + index]);
}

/** The slices of `volumes` along `axis` (see the module notes). */
export class VolumeSlices implements Dataset<Sample<ArrayImage>> {
  readonly volumes: Dataset<Sample>;
  readonly axis: 0 | 1 | 2;
  readonly classes?: readonly string[];
  readonly #kept: number[];
  readonly #shape: readonly number[];

  /** `shape` is the volumes' [D, H, W]; `fraction` the middle share of slices kept (default 0.5). */
  constructor(volumes: Dataset<Sample>, shape: readonly number[], axis: 0 | 1 | 2, fraction = 0.5) {
    if (![0, 1, 2].includes(axis)) throw new RangeError(`VolumeSlices: axis must be 0, 1 or 2, got ${axis}`);
    if (!(fraction > 0 && fraction <= 1)) {
      throw new RangeError(`VolumeSlices: fraction must be in (0, 1], got ${fraction}`);
    }
    this.volumes = volumes;
    this.axis = axis;
    this.#shape = shape;
    this.#kept = middleSlices(shape[axis], fraction);
    if (volumes.classes) this.classes = volumes.classes;
  }

  get length(): number {
    return this.volumes.length * this.#kept.length;
  }

  async labels(): Promise<Int32Array> {
    const per = await this.volumes.labels?.();
    if (!per) throw new Error("VolumeSlices: the volumes do not expose their labels");
    return Int32Array.from({ length: this.length }, (_, i) => per[Math.floor(i / this.#kept.length)]);
  }

  async get(index: number): Promise<Sample<ArrayImage>> {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`VolumeSlices.get: index ${index} is outside [0, ${this.length})`);
    }
    const k = this.#kept.length, v = await this.volumes.get(Math.floor(index / k));
    const s = this.#kept[index % k], [D, H, W] = this.#shape;
    const data = sliceOf((v.image as ArrayImage).data, this.#shape, this.axis, s);
    const [h, w] = this.axis === 0 ? [H, W] : this.axis === 1 ? [D, W] : [D, H];
    return { image: { data, shape: [1, h, w] }, label: v.label, id: `${v.id}/${"dhw"[this.axis]}${s}`, meta: v.meta };
  }
}
