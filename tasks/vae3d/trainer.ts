/**
 * The 3-D VAE task behind `deno task train-vae`, on the training engine: the loss is the L1
 * reconstruction of a sampled latent plus `loss.klWeight` × the KL divergence to N(0, I) (MAISI's:
 * 0.5·Σ(μ² + σ² − log σ² − 1) over the latent, averaged over the batch); validation decodes the
 * latent means and reports L1, PSNR and SSIM (data range 1) per volume, averaged, and every
 * `sample.previewEvery` validations writes the mid-slices of the first validation volume and
 * its reconstruction (`samples/recon_epoch_<n>.png`: axial, coronal, sagittal; input above).
 * @module
 */
import { abs, add, exp, mul, square, sub } from "../../core/ops/elementwise.ts";
import { Generator, manualSeed } from "../../core/ops/random.ts";
import { noGrad } from "../../core/autograd.ts";
import { scope } from "../../core/scope.ts";
import type { Tensor } from "../../core/tensor.ts";
import { DataLoader } from "../../datasets/loader.ts";
import { psnr, ssim } from "../../metrics/image_quality.ts";
import { MaisiVAE } from "../../models/vae3d.ts";
import { fit, type FitResult, type TrainStart } from "../../train/engine.ts";
import type { Logger } from "../../train/logger.ts";
import type { RunDir } from "../../train/run_dir.ts";
import { joinPath } from "../../util/path.ts";
import { savePng } from "../../util/png.ts";
import { imageGrid } from "../lib/image_grid.ts";
import type { VolumeData } from "../common/volume_data.ts";
import { VAE_METRICS, type VaeConfig } from "./config.ts";

/** The configured VAE for `channels`-channel volumes. */
export function buildVae(cfg: VaeConfig, channels: number): MaisiVAE {
  const m = cfg.model;
  return new MaisiVAE({
    inChannels: channels,
    outChannels: channels,
    latentChannels: m.latentChannels,
    numChannels: m.numChannels,
    numResBlocks: m.numResBlocks,
    normNumGroups: m.normNumGroups,
    upsample: m.upsample as "trilinear" | "nearest",
  });
}

/** KL(N(μ, σ²) ‖ N(0, I)) summed over each sample's latent, averaged over the batch. */
export function gaussianKl(mu: Tensor, logVar: Tensor): Tensor {
  return scope(() => mul(sub(add(add(square(mu), exp(logVar)), mul(logVar, -1)), 1).sum(), 0.5 / mu.shape[0]));
}

/** Axial, coronal and sagittal middle slices of a [D, H, W] volume, each padded into S×S (S the largest side). */
export function midSlices(v: Float32Array, [D, H, W]: readonly number[]): { data: Float32Array; side: number } {
  const S = Math.max(D, H, W), out = new Float32Array(3 * S * S);
  const put = (k: number, rows: number, cols: number, at: (r: number, c: number) => number) => {
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[k * S * S + r * S + c] = at(r, c);
  };
  const z = D >> 1, y = H >> 1, x = W >> 1;
  put(0, H, W, (r, c) => v[(z * H + r) * W + c]);
  put(1, D, W, (r, c) => v[(r * H + y) * W + c]);
  put(2, D, H, (r, c) => v[(r * H + c) * W + x]);
  return { data: out, side: S };
}

/** What a VAE training run reports. */
export interface VaeTrainResult extends FitResult {
  model: MaisiVAE;
}

/** Trains (or resumes) a VAE run into `run`. */
export async function trainVae(
  cfg: VaeConfig,
  data: VolumeData,
  run: RunDir,
  log: Logger,
  start: TrainStart = {},
): Promise<VaeTrainResult> {
  manualSeed(cfg.seed);
  const vae = buildVae(cfg, data.channels);
  const t = cfg.train, klWeight = cfg.loss.klWeight;
  const common = { batchSize: t.batchSize, seed: cfg.seed, cache: cfg.data.cache, concurrency: t.concurrency };
  const loader = new DataLoader(data.train, { ...common, shuffle: true, dropLast: data.train.length > t.batchSize });
  const valLoader = new DataLoader(data.val, common);
  const [D, H, W] = data.size, voxels = D * H * W;
  let validations = 0;
  log.info(`data: ${data.description}`);
  log.info(
    `VAE: latent ${vae.config.latentChannels}×${D / vae.config.downsampleFactor}×${H / vae.config.downsampleFactor}×` +
      `${W / vae.config.downsampleFactor}; loss L1 + ${klWeight}·KL`,
  );
  const out = await fit({
    model: vae,
    loader,
    describe: "MAISI VAE",
    metricNames: VAE_METRICS,
    loss: (batch, ctx) => {
      // The latent's noise from (seed, step, batch): a resumed run draws the same.
      const generator = new Generator(cfg.seed * 1_000_003 + ctx.step * 7919 + ctx.batchInEpoch);
      const { reconstruction, mu, logVar } = vae.call(batch.images, generator) as ReturnType<MaisiVAE["forward"]>;
      const l1 = abs(sub(reconstruction, batch.images)).mean();
      const kl = gaussianKl(mu, logVar);
      return { loss: add(l1, mul(kl, klWeight)), scalars: { l1, kl } };
    },
    validate: async ({ epoch }) => {
      let l1 = 0, p = 0, s = 0, kl = 0, n = 0, preview: { input: Float32Array; recon: Float32Array } | null = null;
      for await (const batch of valLoader.iterate(0)) {
        try {
          const [rec, klT] = noGrad(() =>
            scope(() => {
              const d = vae.encode(batch.images);
              return [vae.decode(d.mu), gaussianKl(d.mu, d.logVar)];
            })
          );
          const [x, r] = [await batch.images.data() as Float32Array, await rec.data() as Float32Array];
          kl += (await klT.data())[0] * batch.images.shape[0];
          rec.dispose();
          klT.dispose();
          for (let b = 0; b < batch.images.shape[0]; b++) {
            const xi = x.subarray(b * voxels, (b + 1) * voxels), ri = r.subarray(b * voxels, (b + 1) * voxels);
            let e = 0;
            for (let i = 0; i < voxels; i++) e += Math.abs(xi[i] - ri[i]);
            l1 += e / voxels;
            p += Math.min(psnr(xi, ri), 100);
            s += ssim(xi, ri, data.size);
            n++;
            preview ??= { input: xi.slice(), recon: ri.slice() };
          }
        } finally {
          batch.dispose();
        }
      }
      if (n === 0) return null;
      const metrics = { l1: l1 / n, psnr: p / n, ssim: s / n, loss: l1 / n + klWeight * kl / n };
      if (preview && validations++ % cfg.sample.previewEvery === 0) {
        const a = midSlices(preview.input, data.size), b = midSlices(preview.recon, data.size);
        const both = new Float32Array(a.data.length * 2);
        both.set(a.data);
        both.set(b.data, a.data.length);
        const dir = joinPath(run.path, "samples");
        await Deno.mkdir(dir, { recursive: true });
        await savePng(
          joinPath(dir, `recon_epoch_${epoch}.png`),
          imageGrid(both, [6, 1, a.side, a.side], { nrow: 3, range: [0, 1] }),
        );
      }
      return {
        metrics,
        summary: `val L1 ${metrics.l1.toFixed(4)}, PSNR ${metrics.psnr.toFixed(2)} dB, SSIM ${
          metrics.ssim.toFixed(4)
        }, KL ${(kl / n).toFixed(1)}`,
      };
    },
  }, { train: t, seed: cfg.seed, run, log, ...start });
  return { ...out, model: vae };
}
