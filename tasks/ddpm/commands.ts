/**
 * The DDPM workflow's command-line entry points as functions (`tasks/train.ts` and
 * `tasks/sample.ts` call them with `Deno.args`; tests call them directly).
 * @module
 */
import { parseTaskArgs } from "../lib/args.ts";
import { ConfigError, loadConfig, parseConfigOption } from "../../train/config.ts";
import type { InterruptController } from "../../train/signals.ts";
import { openRunDir, type RunDir } from "../../train/run_dir.ts";
import { dataParallel, isWriter } from "../../train/data_parallel.ts";
import { joinPath } from "../../util/path.ts";
import { ddpmSchema } from "./config.ts";
import { inPreparedRun, prepareRun } from "../common/run_setup.ts";
import { checkDenoiserFits } from "./model.ts";
import { ddpmCheckpoint, loadRunDenoiser } from "./run_model.ts";
import { loadRunDataInfo } from "../common/run_info.ts";
import { SAMPLE_BATCH, writeSampleGrids } from "./sampling.ts";
import { trainDdpm, type TrainResult } from "./trainer.ts";

/** What `deno task train` did. */
export interface TrainCommandResult {
  /** The run folder. */
  run: RunDir;
  /** The training summary (model, EMA, steps, losses). */
  result: TrainResult;
  /** Sample figures written (file names in `<run>/samples`). */
  samples: string[];
}

/** `deno task train [--config f] [--resume r] [--key.path v …]`; null after `--help`. `quiet` logs warnings only. */
export async function trainCommand(
  argv: readonly string[],
  quiet = false,
  interrupts?: InterruptController,
): Promise<TrainCommandResult | null> {
  const args = parseTaskArgs(argv, {
    name: "train",
    description:
      "Trains a class-conditional DDPM (U-Net, or DiT with --model.arch dit; classifier-free guidance) and samples grids.",
    flags: { "no-sample": { description: "skip the sample grids at the end" } },
    options: {
      config: { description: "YAML configuration file (defaults: the embedded default run)", valueName: "file" },
      resume: { description: "continue a run: its folder or one of its checkpoints", valueName: "run|checkpoint" },
    },
    schema: ddpmSchema,
  });
  if (args.help) {
    console.log(args.helpText);
    return null;
  }
  const prepared = await prepareRun(args, ddpmSchema, quiet, checkDenoiserFits);
  const { cfg, data, run, log, resumeFrom, onResumed } = prepared;
  return await inPreparedRun(prepared, async () => {
    const result = await trainDdpm(cfg, data, run, log, { resumeFrom, quiet, onResumed, interrupts });
    const summary: TrainCommandResult = { run, result, samples: [] };
    log.info(
      `trained ${result.step} steps in ${result.epochsDone} epochs at ${result.imagesPerSecond.toFixed(1)} images/s; ` +
        `best validation loss ${result.bestValLoss?.toFixed(4) ?? "n/a"}`,
    );
    if (!result.interrupted && !args.flags["no-sample"] && isWriter()) {
      const s = cfg.sample;
      result.ema?.store(); // sample with the averaged weights, keep the training ones in the model
      result.ema?.copyTo();
      try {
        const out = await writeSampleGrids(result.unet, cfg, data, run.samplesDir, { ...s, imageFolder: null });
        summary.samples = out.files;
        log.info(
          `samples (${s.sampler}, ${s.steps} steps, guidance ${s.guidance}) in ${out.seconds.toFixed(1)} s: ` +
            out.files.map((f) => `${run!.samplesDir}/${f}`).join(", "),
        );
      } finally {
        result.ema?.restore();
      }
    }
    return summary;
  });
}

/** A task option standing for a `sample` key: absent, the run's value; given, checked as that key is. */
function sampleOption(name: string, value: string | undefined, path: string, fallback: number): number {
  return value === undefined ? fallback : parseConfigOption(ddpmSchema, path, name, value) as number;
}

/** What `deno task sample` wrote. */
export interface SampleCommandResult {
  /** The checkpoint sampled from. */
  checkpoint: string;
  /** Folder of the figures. */
  outDir: string;
  /** Figure file names. */
  files: string[];
  /** Folder of the individual images, when asked for. */
  imageFolder: string | null;
}

/** `deno task sample --run <dir> [...]`; null after `--help`. */
export async function sampleCommand(argv: readonly string[], quiet = false): Promise<SampleCommandResult | null> {
  const args = parseTaskArgs(argv, {
    name: "sample",
    description: "Samples grids (and optionally an image folder) from a trained DDPM run; under mpirun/srun the " +
      "samples are split over the processes.",
    flags: { thresholding: { description: "dynamic thresholding of x̂₀ instead of clipping (for strong guidance)" } },
    options: {
      run: { description: "the run folder (required)", valueName: "dir" },
      checkpoint: { description: "best (default when present), latest, or a checkpoint file", valueName: "which" },
      guidance: { description: "classifier-free guidance scale (default: the run's sample.guidance)", valueName: "s" },
      steps: { description: "denoising steps (default: sample.steps)", valueName: "n" },
      sampler: { description: "ddim or ddpm (default: sample.sampler)", valueName: "name" },
      "per-class": { description: "samples per class (default: sample.perClass)", valueName: "n" },
      "batch-size": {
        description:
          `images per denoiser batch (default ${SAMPLE_BATCH}); any number of processes gives the same images`,
        valueName: "n",
      },
      seed: { description: "noise seed (default: sample.seed)", valueName: "n" },
      out: { description: "output folder (default: <run>/samples)", valueName: "dir" },
      images: { description: "also write every sample as PNG into class folders", valueName: "dir", bare: "" },
    },
  });
  if (args.help) {
    console.log(args.helpText);
    return null;
  }
  const o = args.options;
  if (!o.run) throw new ConfigError(["--run <dir> is required (a folder made by deno task train)"]);
  if (args.overrides.length > 0) throw new ConfigError([`unknown arguments: ${args.overrides.join(" ")}`]);
  const run = await openRunDir(o.run);
  const cfg = (await loadConfig(ddpmSchema, { file: run.configPath })).config;
  const info = await loadRunDataInfo(run);
  const sampler = o.sampler ?? cfg.sample.sampler;
  if (sampler !== "ddim" && sampler !== "ddpm") {
    throw new ConfigError([`--sampler must be ddim or ddpm, got ${sampler}`]);
  }
  const opts = {
    sampler,
    guidance: sampleOption("guidance", o.guidance, "sample.guidance", cfg.sample.guidance),
    steps: sampleOption("steps", o.steps, "sample.steps", cfg.sample.steps),
    perClass: sampleOption("per-class", o["per-class"], "sample.perClass", cfg.sample.perClass),
    seed: sampleOption("seed", o.seed, "sample.seed", cfg.sample.seed),
    progressionSteps: cfg.sample.progressionSteps,
    thresholding: args.flags.thresholding || cfg.sample.thresholding,
    imageFolder: o.images === undefined ? null : o.images === "" ? joinPath(run.path, "generated") : o.images,
    batchSize: sampleOption("batch-size", o["batch-size"], "train.batchSize", SAMPLE_BATCH),
  };
  if (opts.steps > cfg.diffusion.numTrainTimesteps) {
    throw new ConfigError([
      `--steps ${opts.steps} exceeds diffusion.numTrainTimesteps ${cfg.diffusion.numTrainTimesteps}`,
    ]);
  }
  const ckpt = await ddpmCheckpoint(run, o.checkpoint ?? "best");
  const unet = await loadRunDenoiser(cfg, info, ckpt);
  const out = o.out ?? run.samplesDir;
  // Under mpirun / srun the samples are split over the processes (the same images as one process).
  const parallel = dataParallel();
  const result = await writeSampleGrids(unet, cfg, info, out, { ...opts, parallel });
  if (!quiet && parallel.rank === 0) {
    console.log(
      `${ckpt} → ${out}: ${result.files.join(", ")}${opts.imageFolder ? `; images in ${opts.imageFolder}` : ""} ` +
        `(${opts.sampler}, ${opts.steps} steps, guidance ${opts.guidance}, ${result.seconds.toFixed(1)} s)`,
    );
  }
  return { checkpoint: ckpt, outDir: out, files: result.files, imageFolder: opts.imageFolder };
}
