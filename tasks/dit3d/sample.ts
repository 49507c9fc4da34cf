/**
 * `deno task sample-3d --run <dit3d run> [--vae <vae run>] [--label k] [--count n] [--guidance s]
 * [--steps n] [--seed n] [--tile n] [--out dir]`: samples latents for each requested label with
 * classifier-free guidance on every channel, undoes the latents' standardisation, decodes them
 * with the VAE (whole, or in overlapping `--tile`³ latent tiles) and writes one NIfTI volume per
 * sample (`<out>/<class>/sample_<i>.nii.gz`, float32, with the training volumes' affine on the
 * decoded grid; 1 mm voxels for MedMNIST 3D, which carries none) and a PNG per class of the axial, coronal and sagittal mid-slices of each sample.
 * @module
 */
import { noGrad } from "../../core/autograd.ts";
import { tensor } from "../../core/ops/creation.ts";
import { add, mul } from "../../core/ops/elementwise.ts";
import { scope } from "../../core/scope.ts";
import { writeNifti } from "../../datasets/nifti_write.ts";
import { slidingWindow } from "../../models/sliding_window.ts";
import { DiffusionPipeline } from "../../samplers/pipeline.ts";
import { ClassifierFreeGuidance } from "../../samplers/guidance.ts";
import { loadCheckpoint } from "../../train/checkpoint.ts";
import { ConfigError, loadConfig } from "../../train/config.ts";
import { openRunDir } from "../../train/run_dir.ts";
import { joinPath } from "../../util/path.ts";
import { batchRows, dataParallel, gatherBatchRows } from "../../train/data_parallel.ts";
import { savePng } from "../../util/png.ts";
import { evaluationCheckpoint, loadInferenceWeights } from "../common/evaluation.ts";
import { buildSampler } from "../ddpm/model.ts";
import { classFolderName, imageGrid } from "../lib/image_grid.ts";
import { parseTaskArgs, positiveInt } from "../lib/args.ts";
import { vaeSchema } from "../vae3d/config.ts";
import { loadLatentInfo } from "../vae3d/latents.ts";
import { buildVae, midSlices } from "../vae3d/trainer.ts";
import { dit3dSchema } from "./config.ts";
import { buildDit3d } from "./trainer.ts";

/** What `deno task sample-3d` wrote. */
export interface Sample3dResult {
  outDir: string;
  /** NIfTI files by class name. */
  volumes: Record<string, string[]>;
  /** The per-class mid-slice PNGs. */
  figures: string[];
}

/** `deno task sample-3d`; null after `--help`. */
export async function sample3dCommand(argv: readonly string[], quiet = false): Promise<Sample3dResult | null> {
  const args = parseTaskArgs(argv, {
    name: "sample-3d",
    description:
      "Samples volumes from a DiT3D run (guided latents decoded by its VAE) as NIfTI files and mid-slice PNGs.",
    options: {
      run: { description: "the DiT3D run folder (required)", valueName: "dir" },
      vae: { description: "the VAE run (default: the one that encoded the run's latents)", valueName: "dir" },
      label: { description: "class index to sample (default: every class)", valueName: "k" },
      count: { description: "volumes per class (default 4)", valueName: "n" },
      guidance: { description: "guidance scale (default: the run's sample.guidance)", valueName: "s" },
      steps: { description: "denoising steps (default: the run's sample.steps)", valueName: "n" },
      seed: { description: "seed of the noise (default 0)", valueName: "n" },
      "batch-size": {
        description: "volumes per denoiser batch (default 2); any number of processes gives the same volumes",
        valueName: "n",
      },
      tile: { description: "decode in overlapping latent tiles of this side (default: whole)", valueName: "n" },
      out: { description: "output folder (default: <run>/samples-3d)", valueName: "dir" },
    },
  });
  if (args.help) {
    console.log(args.helpText);
    return null;
  }
  const o = args.options;
  if (!o.run) throw new ConfigError(["--run <dir> is required (a run of deno task train-dit3d)"]);
  if (args.overrides.length > 0) throw new ConfigError([`unknown arguments: ${args.overrides.join(" ")}`]);
  const run = await openRunDir(o.run);
  const cfg = (await loadConfig(dit3dSchema, { file: run.configPath })).config;
  const info = await loadLatentInfo(run.path);
  const K = info.classes.length;
  const labels = o.label === undefined ? [...Array(K).keys()] : [Number(o.label)];
  if (labels.some((k) => !Number.isInteger(k) || k < 0 || k >= K)) {
    throw new ConfigError([`--label must be a class index in [0, ${K}) (${info.classes.join(", ")}), got ${o.label}`]);
  }
  const count = positiveInt("count", o.count, 4);
  const steps = positiveInt("steps", o.steps, cfg.sample.steps);
  const guidance = o.guidance === undefined ? cfg.sample.guidance : Number(o.guidance);
  if (!(guidance >= 0)) throw new ConfigError([`--guidance must be a number ≥ 0, got ${o.guidance}`]);
  const seed = o.seed === undefined ? 0 : Number(o.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new ConfigError([`--seed must be an integer ≥ 0, got ${o.seed}`]);
  const tile = o.tile === undefined ? null : positiveInt("tile", o.tile, 1);
  const batchSize = positiveInt("batch-size", o["batch-size"], 2);
  // Under mpirun / srun the batches are shared out; rank 0 writes the figures.
  const parallel = dataParallel();

  const model = buildDit3d(cfg, info);
  await loadInferenceWeights(model, await evaluationCheckpoint(run, "best"), cfg.train.emaDecay);
  const vaeRun = await openRunDir(o.vae ?? info.vae.run);
  const vcfg = (await loadConfig(vaeSchema, { file: vaeRun.configPath })).config;
  const vae = buildVae(vcfg, 1);
  await loadCheckpoint(o.vae ? await evaluationCheckpoint(vaeRun, "best") : info.vae.checkpoint, {
    model: vae,
    restoreRng: false,
  });
  vae.eval();
  const C = info.shape[0];
  const std = tensor(Float32Array.from(info.std), [1, C, 1, 1, 1]),
    mean = tensor(Float32Array.from(info.mean), [1, C, 1, 1, 1]);
  const scheduler = buildSampler(cfg, cfg.sample.sampler === "ddpm" ? "ddpm" : "ddim", cfg.sample.thresholding, false);
  const outDir = o.out ?? joinPath(run.path, "samples-3d");
  const volumes: Record<string, string[]> = {}, figures: string[] = [];
  const [D, H, W] = info.volumeSize, voxels = D * H * W;
  try {
    for (const k of labels) {
      const name = classFolderName(info.classes[k]);
      const dir = joinPath(outDir, name);
      await Deno.mkdir(dir, { recursive: true });
      volumes[name] = [];
      const S = Math.max(D, H, W), perVolume = 3 * S * S;
      const mine = batchRows(count, batchSize, parallel.rank, parallel.worldSize), slices: Float32Array[] = [];
      for (let start = mine.start; start < mine.end; start += batchSize) {
        const n = Math.min(mine.end, start + batchSize) - start;
        const out = await new DiffusionPipeline({
          model: (x, t, y) => model.call(x, t, y),
          scheduler,
          guider: new ClassifierFreeGuidance({ guidanceScale: guidance }),
        }).generate({
          batchSize: n,
          sampleShape: info.shape,
          classLabels: new Int32Array(n).fill(k),
          nullClass: K,
          numInferenceSteps: steps,
          seed: seed * 1_000_003 + k,
          eta: cfg.sample.sampler === "ddim" ? 0 : undefined,
          rows: { start, total: count }, // the noise one batch of all `count` would draw for these rows
        });
        const z = scope(() => add(mul(out.samples, std), mean));
        out.samples.dispose();
        const decoded = tile === null
          ? noGrad(() => vae.decode(z))
          : await slidingWindow(z, (t) => noGrad(() => vae.decode(t)), {
            roi: tile,
            overlap: 0.5,
            scale: vae.config.downsampleFactor,
          });
        z.dispose();
        const data = await decoded.data() as Float32Array;
        decoded.dispose();
        for (let i = 0; i < n; i++) {
          const v = data.slice(i * voxels, (i + 1) * voxels);
          const file = joinPath(dir, `sample_${String(start + i).padStart(3, "0")}.nii.gz`);
          await writeNifti(file, {
            data: v,
            shape: [D, H, W],
            affine: info.affine ?? undefined,
            description: `meddiff DiT3D ${info.classes[k]}`,
          });
          volumes[name].push(file);
          slices.push(midSlices(v.map((x) => Math.min(1, Math.max(0, x))), [D, H, W]).data);
        }
      }
      const all = await gatherBatchRows(parallel, slices, count, batchSize, perVolume);
      if (parallel.rank !== 0) continue;
      const figure = joinPath(outDir, `class-${k}-${name}.png`);
      await savePng(figure, imageGrid(all, [3 * count, 1, S, S], { nrow: 3, range: [0, 1] }));
      figures.push(figure);
      if (!quiet) console.log(`${info.classes[k]}: ${count} volumes in ${dir}, mid-slices in ${figure}`);
    }
  } finally {
    scheduler.dispose();
    std.dispose();
    mean.dispose();
    model.dispose();
    vae.dispose();
  }
  return { outDir, volumes, figures };
}
