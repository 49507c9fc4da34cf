/**
 * Latent datasets of the 3-D VAE (`deno task encode-latents` writes them, DiT3D trains on them):
 * per split a safetensors file holding every volume's latent mean `mu` and log-variance `log_var`
 * (N, C, d, h, w) and `labels` (N), so each epoch draws a new z = μ + σ·ε ({@linkcode drawLatent});
 * beside them
 * `latents.json` with the per-channel standardisation statistics of the training latents
 * (mean and std of z, undone before decoding), the VAE run and the data it encoded.
 * @module
 */
import { tensor } from "../../core/ops/creation.ts";
import { loadSafetensors, saveSafetensors } from "../../core/nn/safetensors.ts";
import { noGrad } from "../../core/autograd.ts";
import { scope } from "../../core/scope.ts";
import { DataLoader } from "../../datasets/loader.ts";
import type { ArrayImage, Dataset, Sample, Transform } from "../../datasets/types.ts";
import type { MaisiVAE } from "../../models/vae3d.ts";
import { writeJsonAtomic } from "../../util/io.ts";
import { joinPath } from "../../util/path.ts";
import type { Rng } from "../../util/rng.ts";
import type { VolumeData } from "../common/volume_data.ts";

/** What `latents.json` holds. */
export interface LatentInfo {
  /** Latent shape of one volume [C, d, h, w]. */
  shape: number[];
  /** Per-channel mean and standard deviation of z over the training split. */
  mean: number[];
  std: number[];
  classes: string[];
  /** Volume size [D, H, W] the VAE decodes to. */
  volumeSize: number[];
  /** Voxel-to-world matrix of the encoded data's grid (null: unknown, 1 mm voxels are written). */
  affine: number[][] | null;
  /** The VAE run and checkpoint that encoded them. */
  vae: { run: string; checkpoint: string };
  counts: Record<string, number>;
}

const SPLITS = ["train", "val", "test"] as const;

/** Encodes every split of `data` with `vae` (latent means and log-variances) into `dir`. */
export async function encodeLatents(
  vae: MaisiVAE,
  data: VolumeData,
  dir: string,
  source: { run: string; checkpoint: string },
  batchSize = 4,
): Promise<LatentInfo> {
  await Deno.mkdir(dir, { recursive: true });
  let shape: number[] = [];
  const counts: Record<string, number> = {};
  let mean: number[] = [], std: number[] = [];
  for (const split of SPLITS) {
    const loader = new DataLoader(data[split], { batchSize, seed: 0, cache: false });
    const mus: Float32Array[] = [], lvs: Float32Array[] = [], labels: number[] = [];
    for await (const batch of loader.iterate(0)) {
      try {
        const [mu, lv] = noGrad(() =>
          scope(() => {
            const d = vae.encode(batch.images);
            return [d.mu, d.logVar];
          })
        );
        shape = mu.shape.slice(1);
        mus.push(await mu.data() as Float32Array);
        lvs.push(await lv.data() as Float32Array);
        labels.push(...(await batch.labels.data() as Int32Array));
        mu.dispose();
        lv.dispose();
      } finally {
        batch.dispose();
      }
    }
    const n = labels.length, per = shape.reduce((a, b) => a * b, 1);
    const join = (parts: Float32Array[]) => {
      const out = new Float32Array(n * per);
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.length;
      }
      return out;
    };
    const mu = join(mus), lv = join(lvs);
    if (split === "train") ({ mean, std } = channelStats(mu, lv, n, shape));
    const tensors = {
      mu: tensor(mu, [n, ...shape]),
      log_var: tensor(lv, [n, ...shape]),
      labels: tensor(Int32Array.from(labels), [n]),
    };
    await saveSafetensors(joinPath(dir, `${split}.safetensors`), tensors, { split });
    for (const t of Object.values(tensors)) t.dispose();
    counts[split] = n;
  }
  const info: LatentInfo = {
    shape,
    mean,
    std,
    classes: [...data.classes],
    volumeSize: [...data.size],
    affine: data.affine,
    vae: source,
    counts,
  };
  await writeJsonAtomic(joinPath(dir, "latents.json"), info);
  return info;
}

/** Per-channel mean and std of z = μ + σε over the samples: E[μ], and √(Var μ + E σ²). */
function channelStats(mu: Float32Array, lv: Float32Array, n: number, shape: number[]) {
  const C = shape[0], per = shape.slice(1).reduce((a, b) => a * b, 1);
  const mean: number[] = [], std: number[] = [];
  for (let c = 0; c < C; c++) {
    let s = 0, s2 = 0, v = 0;
    for (let i = 0; i < n; i++) {
      const o = (i * C + c) * per;
      for (let k = 0; k < per; k++) {
        const m = mu[o + k];
        s += m;
        s2 += m * m;
        v += Math.exp(lv[o + k]);
      }
    }
    const count = n * per, m = s / count;
    mean.push(m);
    std.push(Math.sqrt(Math.max(s2 / count - m * m + v / count, 1e-12)));
  }
  return { mean, std };
}

/** Reads `latents.json` from a latent folder. */
export async function loadLatentInfo(dir: string): Promise<LatentInfo> {
  const path = joinPath(dir, "latents.json");
  try {
    return JSON.parse(await Deno.readTextFile(path)) as LatentInfo;
  } catch (e) {
    throw new Error(`${path}: not a latent folder of deno task encode-latents (${e instanceof Error ? e.message : e})`);
  }
}

/**
 * One split of a latent folder as a dataset: each sample's image is its mean and log-variance
 * stacked on the channel axis ([2C, d, h, w]); {@linkcode drawLatent} turns it into a
 * standardised draw z in the loader, seeded per (seed, epoch, sample) like any augmentation.
 */
export class LatentDataset implements Dataset<Sample> {
  readonly length: number;
  readonly classes: readonly string[];
  readonly info: LatentInfo;
  #mu: Float32Array;
  #lv: Float32Array;
  #labels: Int32Array;

  private constructor(info: LatentInfo, mu: Float32Array, lv: Float32Array, labels: Int32Array) {
    this.length = labels.length;
    this.classes = info.classes;
    this.info = info;
    this.#mu = mu;
    this.#lv = lv;
    this.#labels = labels;
  }

  /** Opens split `split` of the latent folder `dir`. */
  static async open(dir: string, split: "train" | "val" | "test"): Promise<LatentDataset> {
    const info = await loadLatentInfo(dir);
    const file = await loadSafetensors(joinPath(dir, `${split}.safetensors`));
    try {
      const [mu, lv, labels] = await Promise.all([file.mu.data(), file.log_var.data(), file.labels.data()]);
      return new LatentDataset(info, mu as Float32Array, lv as Float32Array, labels as Int32Array);
    } finally {
      for (const t of Object.values(file)) t.dispose();
    }
  }

  labels(): Int32Array {
    return this.#labels.slice();
  }

  get(index: number): Promise<Sample> {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      return Promise.reject(new RangeError(`LatentDataset.get: index ${index} is outside [0, ${this.length})`));
    }
    const per = this.info.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(2 * per);
    data.set(this.#mu.subarray(index * per, (index + 1) * per));
    data.set(this.#lv.subarray(index * per, (index + 1) * per), per);
    const [C, ...rest] = this.info.shape;
    return Promise.resolve({
      image: { data, shape: [2 * C, ...rest] },
      label: this.#labels[index],
      id: `latent:${index}`,
      meta: {},
    });
  }
}

/** The loader transform of a {@linkcode LatentDataset}: z = μ + σ·ε, standardised per channel. */
export function drawLatent(info: LatentInfo): Transform<Sample, Sample<ArrayImage>> {
  const C = info.shape[0], perC = info.shape.slice(1).reduce((a, b) => a * b, 1);
  return (sample: Sample, rng: Rng): Sample<ArrayImage> => {
    const src = (sample.image as ArrayImage).data, per = C * perC, z = new Float32Array(per);
    for (let k = 0; k < per; k++) {
      const c = Math.floor(k / perC);
      z[k] = (src[k] + Math.exp(src[per + k] / 2) * rng.normal() - info.mean[c]) / info.std[c];
    }
    return { ...sample, image: { data: z, shape: [...info.shape] } };
  };
}
