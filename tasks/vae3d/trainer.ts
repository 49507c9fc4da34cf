/**
 * The 3-D VAE task behind `deno task train-vae`, on the training engine: the loss is the L1
 * reconstruction of a sampled latent plus `loss.klWeight` × the KL divergence to N(0, I) (MAISI's:
 * 0.5·Σ(μ² + σ² − log σ² − 1) over the latent, averaged over the batch); validation decodes the
 * latent means and reports L1, PSNR and SSIM (data range 1) per volume, averaged, and every
 * `sample.previewEvery` validations writes the mid-slices of the first validation volume and
 * its reconstruction (`samples/recon_epoch_<n>.png`: axial, coronal, sagittal; input above).
 * @module
 */
import { PatchDiscriminator } from "../../models/patch_discriminator.ts";
import { loadFeatureResNet, PerceptualLoss25D, type PerceptualNorm } from "../../models/perceptual.ts";
import { Rng } from "../../util/rng.ts";
import { adversarialLosses, buildDiscriminator } from "./adversarial.ts";
import type { StepOutput } from "../../train/engine.ts";
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
import { dirName, joinPath } from "../../util/path.ts";
import { savePng } from "../../util/png.ts";
import { imageGrid } from "../lib/image_grid.ts";
import type { VolumeData } from "../common/volume_data.ts";
import { sliceOf } from "../../datasets/volume_slices.ts";
import { randomCropVolume } from "../../datasets/transforms/volume.ts";
import { VAE_METRICS, type VaeConfig } from "./config.ts";

/** The configured VAE for `channels`-channel volumes. */
export function buildVae(cfg: VaeConfig, channels: number): MaisiVAE {
  const m = cfg.model;
  const vae = new MaisiVAE({
    inChannels: channels,
    outChannels: channels,
    latentChannels: m.latentChannels,
    numChannels: m.numChannels,
    numResBlocks: m.numResBlocks,
    normNumGroups: m.normNumGroups,
    upsample: m.upsample as "trilinear" | "nearest",
  });
  // With the adversarial term the discriminator rides in the VAE's state (`discriminator.*`), so
  // checkpoints, resume and every command that builds the run's VAE see the same model.
  if (cfg.loss.advWeight > 0) vae.registerModule("discriminator", buildDiscriminator(cfg.loss, channels));
  return vae;
}

/** The discriminator a VAE built with the adversarial term carries, or null. */
export function discriminatorOf(vae: MaisiVAE): PatchDiscriminator | null {
  const d = (vae as unknown as { discriminator?: unknown }).discriminator;
  return d instanceof PatchDiscriminator ? d : null;
}

/** KL(N(μ, σ²) ‖ N(0, I)) summed over each sample's latent, averaged over the batch. */
export function gaussianKl(mu: Tensor, logVar: Tensor): Tensor {
  return scope(() => gaussianKlPerSample(mu, logVar).mean());
}

/** The same KL per sample: summed over each sample's latent, (B). */
export function gaussianKlPerSample(mu: Tensor, logVar: Tensor): Tensor {
  const dims = Array.from({ length: mu.ndim - 1 }, (_, i) => i + 1);
  return scope(() => mul(sub(add(add(square(mu), exp(logVar)), mul(logVar, -1)), 1).sum(dims), 0.5));
}

/** Axial, coronal and sagittal middle slices of a [D, H, W] volume, each padded into S×S (S the largest side). */
export function midSlices(v: Float32Array, shape: readonly number[]): { data: Float32Array; side: number } {
  const [D, H, W] = shape, S = Math.max(D, H, W), out = new Float32Array(3 * S * S);
  const sides = [[H, W], [D, W], [D, H]];
  for (let axis = 0; axis < 3; axis++) {
    const slice = sliceOf(v, shape, axis, shape[axis] >> 1), [rows, cols] = sides[axis];
    for (let r = 0; r < rows; r++) out.set(slice.subarray(r * cols, (r + 1) * cols), axis * S * S + r * S);
  }
  return { data: out, side: S };
}

const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;

/** Per-volume reconstruction figures of a split, and the first volumes with their reconstructions. */
export interface ReconstructionMetrics {
  /** Mean absolute error, PSNR (dB, capped at 100 for a perfect volume) and SSIM per volume (data range 1). */
  l1: number[];
  psnr: number[];
  ssim: number[];
  /** KL of each volume's latent to N(0, I). */
  kl: number[];
  /** Up to `keep` volumes and their reconstructions. */
  first: { input: Float32Array; recon: Float32Array }[];
}

/**
 * Encodes every volume of `loader`, decodes the latent means and measures each reconstruction;
 * null for an empty loader.
 */
export async function reconstructionMetrics(
  vae: MaisiVAE,
  loader: DataLoader,
  size: readonly number[],
  keep = 1,
): Promise<ReconstructionMetrics | null> {
  const voxels = size[0] * size[1] * size[2];
  const out: ReconstructionMetrics = { l1: [], psnr: [], ssim: [], kl: [], first: [] };
  for await (const batch of loader.iterate(0)) {
    try {
      const [rec, klT] = noGrad(() =>
        scope(() => {
          const d = vae.encode(batch.images);
          return [vae.decode(d.mu), gaussianKlPerSample(d.mu, d.logVar)];
        })
      );
      const [x, r, kl] = await Promise.all([batch.images.data(), rec.data(), klT.data()]) as Float32Array[];
      for (const t of [rec, klT]) t.dispose();
      for (let b = 0; b < batch.images.shape[0]; b++) {
        const xi = x.subarray(b * voxels, (b + 1) * voxels), ri = r.subarray(b * voxels, (b + 1) * voxels);
        let e = 0;
        for (let i = 0; i < voxels; i++) e += Math.abs(xi[i] - ri[i]);
        out.l1.push(e / voxels);
        out.psnr.push(Math.min(psnr(xi, ri), 100));
        out.ssim.push(ssim(xi, ri, size));
        out.kl.push(kl[b]);
        if (out.first.length < keep) out.first.push({ input: xi.slice(), recon: ri.slice() });
      }
    } finally {
      batch.dispose();
    }
  }
  return out.l1.length === 0 ? null : out;
}

/** A PNG of each volume's axial, coronal and sagittal mid-slices (a row), its reconstruction's below. */
export async function saveReconstructions(
  path: string,
  pairs: readonly { input: Float32Array; recon: Float32Array }[],
  size: readonly number[],
): Promise<void> {
  const rows = pairs.flatMap((p) => [midSlices(p.input, size), midSlices(p.recon, size)]);
  const side = rows[0].side, all = new Float32Array(rows.length * rows[0].data.length);
  rows.forEach((r, i) => all.set(r.data, i * r.data.length));
  await Deno.mkdir(dirName(path), { recursive: true });
  await savePng(path, imageGrid(all, [3 * rows.length, 1, side, side], { nrow: 3, range: [0, 1] }));
}

/** What the VAE's loaders share: batch, seed, cache, concurrency. */
function loaderOptions(cfg: VaeConfig) {
  const t = cfg.train;
  return { batchSize: t.batchSize, seed: cfg.seed, cache: cfg.data.cache, concurrency: t.concurrency };
}

/**
 * The training split's loader: shuffled, and cropped to `train.patchSize` at a random place drawn
 * per sample and epoch when it is set (the loader caches whole volumes; the crops change every epoch).
 */
export function vaeTrainLoader(cfg: VaeConfig, data: VolumeData): DataLoader {
  const t = cfg.train, patch = t.patchSize;
  return new DataLoader(data.train, {
    ...loaderOptions(cfg),
    shuffle: true,
    dropLast: data.train.length > t.batchSize,
    ...(patch.length ? { transform: randomCropVolume([patch[0], patch[1], patch[2]]) } : {}),
  });
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
  const t = cfg.train, klWeight = cfg.loss.klWeight, advWeight = cfg.loss.advWeight;
  const discriminator = discriminatorOf(vae);
  const perceptualWeight = cfg.loss.perceptualWeight;
  const perceptual = perceptualWeight > 0
    ? new PerceptualLoss25D(await loadFeatureResNet(cfg.loss.perceptualNetwork), {
      sliceFraction: cfg.loss.perceptualSliceFraction,
      norm: cfg.loss.perceptualNorm as PerceptualNorm,
    })
    : null;
  const loader = vaeTrainLoader(cfg, data);
  const valLoader = new DataLoader(data.val, loaderOptions(cfg));
  const [D, H, W] = data.size;
  let validations = 0;
  log.info(
    `data: ${data.description}${t.patchSize.length ? `; training on random ${t.patchSize.join("×")} crops` : ""}`,
  );
  log.info(
    `VAE: latent ${vae.config.latentChannels}×${D / vae.config.downsampleFactor}×${H / vae.config.downsampleFactor}×` +
      `${W / vae.config.downsampleFactor}; loss L1 + ${klWeight}·KL` +
      (discriminator
        ? ` + ${advWeight}·adversarial (PatchGAN ${cfg.loss.discChannels} wide, ${cfg.loss.discLayers} layers, ` +
          `least squares; its parameters are in the count below)`
        : "") +
      (perceptual
        ? ` + ${perceptualWeight}·perceptual (2.5-D, ${perceptual.net.featureChannels}-channel ResNet features of ` +
          `${cfg.loss.perceptualNetwork}, ${perceptual.sliceFraction} of the slices per axis)`
        : ""),
  );
  const out = await fit({
    model: vae,
    loader,
    describe: "MAISI VAE",
    metricNames: VAE_METRICS,
    loss: (batch, ctx): StepOutput => {
      // The latent's noise from (seed, step, batch): a resumed run draws the same.
      const generator = new Generator(cfg.seed * 1_000_003 + ctx.step * 7919 + ctx.batchInEpoch);
      const { reconstruction, mu, logVar } = vae.call(batch.images, generator) as ReturnType<MaisiVAE["forward"]>;
      const l1 = abs(sub(reconstruction, batch.images)).mean();
      const kl = gaussianKl(mu, logVar);
      let loss = add(l1, mul(kl, klWeight));
      const scalars: Record<string, Tensor> = { l1, kl };
      if (perceptual) {
        // The slices from (seed, step, batch), as the latent's noise: a resumed run picks the same.
        const rng = Rng.derive(cfg.seed, ctx.step, ctx.batchInEpoch);
        scalars.perceptual = perceptual.call(reconstruction, batch.images, rng);
        loss = add(loss, mul(scalars.perceptual, perceptualWeight));
      }
      if (!discriminator) return { loss, scalars };
      const adv = adversarialLosses(discriminator, batch.images, reconstruction);
      return {
        loss: add(loss, mul(add(adv.generator, adv.discriminator), advWeight)),
        scalars: { ...scalars, adv_generator: adv.generator, adv_discriminator: adv.discriminator },
      };
    },
    validate: async ({ epoch }) => {
      const r = await reconstructionMetrics(vae, valLoader, data.size);
      if (r === null) return null;
      const m = { l1: mean(r.l1), psnr: mean(r.psnr), ssim: mean(r.ssim), kl: mean(r.kl) };
      if (validations++ % cfg.sample.previewEvery === 0) {
        await saveReconstructions(joinPath(run.path, "samples", `recon_epoch_${epoch}.png`), r.first, data.size);
      }
      return {
        metrics: { l1: m.l1, psnr: m.psnr, ssim: m.ssim, loss: m.l1 + klWeight * m.kl },
        summary: `val L1 ${m.l1.toFixed(4)}, PSNR ${m.psnr.toFixed(2)} dB, SSIM ${m.ssim.toFixed(4)}, KL ${
          m.kl.toFixed(1)
        }`,
      };
    },
  }, { train: t, seed: cfg.seed, run, log, ...start }).finally(() => perceptual?.net.dispose());
  return { ...out, model: vae };
}
