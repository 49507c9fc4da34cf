/**
 * Sample figures of a trained class-conditional DDPM: one grid per class, a grid of all
 * classes (a row each), an unconditional grid (null class), a denoising-progression grid
 * (predicted x̂₀ along the steps, one row per class) and, on request, every sample as a PNG in
 * an image-folder layout (class sub-folders) that can augment a classifier's training set.
 * @module
 */
import type { Tensor } from "../../core/tensor.ts";
import { ClassifierFreeGuidance } from "../../samplers/guidance.ts";
import { DiffusionPipeline } from "../../samplers/pipeline.ts";
import { classFolderName, imageGrid, saveImageFolder } from "../lib/image_grid.ts";
import { savePng } from "../../util/png.ts";
import { joinPath } from "../../util/path.ts";
import { batchRows, type DataParallel, gatherBatchRows, SINGLE_PROCESS } from "../../train/data_parallel.ts";
import type { DdpmConfig } from "./config.ts";
import { buildSampler, type Denoiser, diffusionSpace } from "./model.ts";

/** What to sample. */
export interface SampleGridOptions {
  /** `"ddim"` or `"ddpm"`. */
  sampler: string;
  /** Denoising steps. */
  steps: number;
  /** Classifier-free guidance scale (1 = conditional only). */
  guidance: number;
  /** Samples per class. */
  perClass: number;
  /** Seed of the initial and step noise. */
  seed: number;
  /** Columns of the progression grid. */
  progressionSteps: number;
  /** Also write every sample as `<dir>/<class>/img_*.png`, when set. */
  imageFolder?: string | null;
  /** Dynamic thresholding of x̂₀ instead of clipping (default: the run's `sample.thresholding`). */
  thresholding?: boolean;
  /**
   * Processes to split the sampling over (default one): each draws its share, rank 0 writes the
   * figures, and each rank writes its own images into `imageFolder` (the one-process files).
   */
  parallel?: DataParallel;
  /** Images per denoiser batch (default {@linkcode SAMPLE_BATCH}). */
  batchSize?: number;
}

/** Shape and class names of the images. */
export interface SampleDataInfo {
  /** Channels. */
  channels: number;
  /** Side in pixels. */
  imageSize: number;
  /** Class names by index. */
  classes: readonly string[];
}

/** The figures' file names, relative to the output folder. */
export interface SampleGridFiles {
  /** Every file written, in order. */
  files: string[];
  /** Seconds spent sampling. */
  seconds: number;
}

/** What {@linkcode generateImages} draws. */
export interface GenerateOptions {
  /** One class label per image (K, the class count, is the null class: unconditional). */
  labels: Int32Array;
  /** Classifier-free guidance scale, or null for the plain conditional model. */
  guidance: number | null;
  /** `"ddim"` or `"ddpm"`. */
  sampler: string;
  /** Denoising steps. */
  steps: number;
  /** Seed of the initial and step noise. */
  seed: number;
  /** Dynamic thresholding of x̂₀ instead of clipping (default: the run's `sample.thresholding`). */
  thresholding?: boolean;
  /** Also return x̂₀ every this many steps. */
  every?: number;
  /** These labels are rows `[start, start + labels.length)` of a batch of `total` (noise drawn as for the whole batch). */
  rows?: { start: number; total: number };
}

/**
 * Samples `labels.length` images in one batch from the run's denoiser and returns them as
 * float32 CHW data in the data's space ([−1, 1]; Haar bands mapped back to pixels), with the
 * recorded x̂₀ when `every` is set.
 */
export async function generateImages(
  unet: Denoiser,
  cfg: DdpmConfig,
  info: SampleDataInfo,
  o: GenerateOptions,
): Promise<{ samples: Float32Array; intermediates: Float32Array[] }> {
  const K = info.classes.length;
  const space = diffusionSpace(cfg, info);
  /** Images (as float32 data) of a sample in the diffusion space; frees it. */
  const imagesOf = async (x: Tensor): Promise<Float32Array> => {
    const images = space.toImages(x);
    x.dispose();
    try {
      return await images.data() as Float32Array;
    } finally {
      images.dispose();
    }
  };
  const scheduler = buildSampler(cfg, o.sampler === "ddpm" ? "ddpm" : "ddim", o.thresholding);
  const model = (x: Tensor, t: Tensor, y?: Tensor) => unet.call(x, t, y);
  const wasTraining = unet.training;
  unet.eval();
  try {
    const out = await new DiffusionPipeline({
      model,
      scheduler,
      ...(o.guidance === null ? {} : { guider: new ClassifierFreeGuidance({ guidanceScale: o.guidance }) }),
    }).generate({
      batchSize: o.labels.length,
      sampleShape: [space.channels, space.imageSize, space.imageSize],
      classLabels: o.labels,
      ...(o.guidance === null ? {} : { nullClass: K }),
      numInferenceSteps: o.steps,
      seed: o.seed,
      eta: o.sampler === "ddim" ? 0 : undefined,
      ...(o.every ? { returnIntermediates: o.every } : {}),
      ...(o.rows ? { rows: o.rows } : {}),
    });
    const samples = await imagesOf(out.samples);
    return { samples, intermediates: await Promise.all((out.intermediates ?? []).map(imagesOf)) };
  } finally {
    scheduler.dispose();
    if (wasTraining) unet.train();
  }
}

/** Images sampled per denoiser batch unless a task says otherwise. */
export const SAMPLE_BATCH = 64;

/**
 * {@linkcode generateImages} for all of `o.labels`, in batches of `batchSize` rows (each with the
 * noise one batch of all rows would draw for them), the batches shared out over the processes of
 * `parallel`; every rank gets all the images, in order. A batch is computed the same way whichever
 * process runs it, so N processes give exactly the images one process gives. `rows` is this
 * rank's share.
 */
export async function generateShared(
  unet: Denoiser,
  cfg: DdpmConfig,
  info: SampleDataInfo,
  o: GenerateOptions,
  parallel: DataParallel,
  batchSize = SAMPLE_BATCH,
): Promise<{ samples: Float32Array; intermediates: Float32Array[]; rows: { start: number; end: number } }> {
  const total = o.labels.length;
  const img = info.channels * info.imageSize * info.imageSize;
  const mine = batchRows(total, batchSize, parallel.rank, parallel.worldSize);
  const samples: Float32Array[] = [], steps: Float32Array[][] = recordedSteps(o.steps, o.every).map(() => []);
  for (let start = mine.start; start < mine.end; start += batchSize) {
    const end = Math.min(mine.end, start + batchSize);
    const part = await generateImages(unet, cfg, info, {
      ...o,
      labels: o.labels.subarray(start, end),
      rows: { start, total },
    });
    samples.push(part.samples);
    part.intermediates.forEach((x, j) => steps[j].push(x));
  }
  const gather = (parts: Float32Array[]) => gatherBatchRows(parallel, parts, total, batchSize, img);
  const all = await gather(samples);
  const intermediates: Float32Array[] = [];
  for (const x of steps) intermediates.push(await gather(x)); // collectives in order
  return { samples: all, intermediates, rows: mine };
}

/**
 * Writes this process's `rows` of `samples` (with their `labels`) into the class folders of
 * `dir` under the names one process gives them (`img_<row>.png`).
 */
export function saveSampleRows(
  dir: string,
  samples: Float32Array,
  labels: Int32Array,
  rows: { start: number; end: number },
  info: SampleDataInfo,
): Promise<string[]> {
  const img = info.channels * info.imageSize * info.imageSize;
  return saveImageFolder(
    dir,
    samples.subarray(rows.start * img, rows.end * img),
    [rows.end - rows.start, info.channels, info.imageSize, info.imageSize],
    labels.subarray(rows.start, rows.end),
    info.classes.map(classFolderName),
    { startIndex: rows.start },
  );
}

/** The steps at which the pipeline records x̂₀ with `returnIntermediates: every` (none without). */
function recordedSteps(steps: number, every: number | undefined): number[] {
  if (!every) return [];
  return Array.from({ length: steps }, (_, i) => i).filter((i) => i % every === 0 || i === steps - 1);
}

/** Runs the sampler under `unet` (the run's denoiser) and writes the figures into `outDir` (created if needed). */
export async function writeSampleGrids(
  unet: Denoiser,
  cfg: DdpmConfig,
  info: SampleDataInfo,
  outDir: string,
  opts: SampleGridOptions,
): Promise<SampleGridFiles> {
  const started = performance.now();
  await Deno.mkdir(outDir, { recursive: true });
  const { channels: C, imageSize: S, classes } = info;
  const K = classes.length, P = opts.perClass;
  const common = { sampler: opts.sampler, steps: opts.steps, thresholding: opts.thresholding };
  const files: string[] = [];
  // Conditional samples: classes in order, P each, with guidance; x̂₀ kept for the progression.
  const every = Math.max(1, Math.floor(opts.steps / (opts.progressionSteps - 1)));
  const labels = Int32Array.from({ length: K * P }, (_, i) => Math.floor(i / P));
  const parallel = opts.parallel ?? SINGLE_PROCESS, writer = parallel.rank === 0;
  const { samples, intermediates: steps, rows } = await generateShared(
    unet,
    cfg,
    info,
    {
      ...common,
      labels,
      guidance: opts.guidance,
      seed: opts.seed,
      every,
    },
    parallel,
    opts.batchSize,
  );
  // Unconditional: every label the null class, no guidance.
  const uncond = await generateShared(
    unet,
    cfg,
    info,
    {
      ...common,
      labels: new Int32Array(P).fill(K),
      guidance: null,
      seed: opts.seed + 1,
    },
    parallel,
    opts.batchSize,
  );
  if (opts.imageFolder) await saveSampleRows(opts.imageFolder, samples, labels, rows, info); // each process its own
  if (!writer) return { files, seconds: (performance.now() - started) / 1000 };
  const img = C * S * S;
  const write = async (name: string, data: Float32Array, n: number, nrow: number) => {
    await savePng(joinPath(outDir, name), imageGrid(data, [n, C, S, S], { nrow }));
    files.push(name);
  };
  for (let k = 0; k < K; k++) {
    await write(
      `class-${k}-${classFolderName(classes[k])}.png`,
      samples.subarray(k * P * img, (k + 1) * P * img),
      P,
      P,
    );
  }
  await write("grid-all-classes.png", samples, K * P, P);
  // Progression: the first sample of each class, x̂₀ at the recorded steps, left to right.
  const cols = steps.length;
  if (cols > 0) {
    const prog = new Float32Array(K * cols * img);
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < cols; j++) {
        prog.set(steps[j].subarray(k * P * img, k * P * img + img), (k * cols + j) * img);
      }
    }
    await write("progression.png", prog, K * cols, cols);
  }
  await write("unconditional.png", uncond.samples, P, P);
  return { files, seconds: (performance.now() - started) / 1000 };
}
