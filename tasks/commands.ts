/**
 * Every workflow's command, by the name `meddiff <name>` and `deno task <name>` use: one table, so
 * one entry point (meddiff.ts, and the binary `deno compile` makes of it) serves them all. Each
 * command parses its own arguments (`--help` lists them) and returns the process's exit code: 0,
 * or 130 / 143 for a training run stopped by SIGINT / SIGTERM after saving a checkpoint (so
 * schedulers see it did not finish).
 * @module
 */
import { exitCodeFor, type InterruptSignal } from "../train/signals.ts";
import { evaluateCommand, trainClassifierCommand } from "./classify/commands.ts";
import { classifyCommand } from "./ddpm/classify.ts";
import { sampleCommand, trainCommand } from "./ddpm/commands.ts";
import { explainCommand } from "./ddpm/explain.ts";
import { trainDcgCommand, trainDiffmicCommand } from "./diffmic/commands.ts";
import { explainDiffmicCommand } from "./diffmic/explain.ts";
import { trainDit3dCommand } from "./dit3d/commands.ts";
import { sample3dCommand } from "./dit3d/sample.ts";
import { evaluateGenerationCommand } from "./generation/commands.ts";
import { evaluate3dCommand } from "./generation/volumes.ts";
import { encodeLatentsCommand, trainVaeCommand } from "./vae3d/commands.ts";

/** One subcommand. */
export interface Subcommand {
  /** One line for `meddiff --help`. */
  summary: string;
  /**
   * Whether it shares its work over the processes of an MPI launch (training: data parallel;
   * sampling: split batches). Other commands run on rank 0 alone; the other ranks exit at once.
   */
  distributed?: boolean;
  /** Runs it with its arguments; resolves to the exit code. */
  run(argv: readonly string[]): Promise<number>;
}

/** A training command's exit code: 130 / 143 when a signal stopped it, else 0. */
function trained(out: { result: { interrupted: InterruptSignal | null } } | null): number {
  return out?.result.interrupted ? exitCodeFor(out.result.interrupted) : 0;
}

/** Runs a command that has no exit code of its own (0 when it returns). */
function done(command: (argv: readonly string[]) => Promise<unknown>): Subcommand["run"] {
  return async (argv) => {
    await command(argv);
    return 0;
  };
}

/** The subcommands, in the order `--help` lists them. */
export const COMMANDS: Readonly<Record<string, Subcommand>> = {
  train: {
    summary: "train a class-conditional DDPM (U-Net or DiT)",
    distributed: true,
    run: async (a) => trained(await trainCommand(a)),
  },
  sample: { summary: "sample grids and image folders from a DDPM run", distributed: true, run: done(sampleCommand) },
  "train-classifier": {
    summary: "train a ResNet / EfficientNet / ViT / Swin classifier",
    distributed: true,
    run: async (a) => trained(await trainClassifierCommand(a)),
  },
  evaluate: { summary: "evaluate a classifier, DiffMIC-v2 or VAE run on a split", run: done(evaluateCommand) },
  "train-dcg": {
    summary: "train DiffMIC-v2's dual-granularity guidance network",
    distributed: true,
    run: async (a) => trained(await trainDcgCommand(a)),
  },
  "train-diffmic": {
    summary: "train DiffMIC-v2's label denoiser on a trained DCG",
    distributed: true,
    run: async (a) => trained(await trainDiffmicCommand(a)),
  },
  "explain-diffmic": { summary: "explanation figures of a DiffMIC-v2 run", run: done(explainDiffmicCommand) },
  classify: { summary: "classify with a DDPM run by per-class denoising error", run: done(classifyCommand) },
  explain: { summary: "counterfactual explanations from a DDPM run", run: done(explainCommand) },
  "evaluate-generation": {
    summary: "FD / KD / precision-recall / memorisation of generated images",
    run: done(evaluateGenerationCommand),
  },
  "train-vae": {
    summary: "train the MAISI-style 3-D VAE",
    distributed: true,
    run: async (a) => trained(await trainVaeCommand(a)),
  },
  "encode-latents": { summary: "encode volumes into a latent dataset with a VAE run", run: done(encodeLatentsCommand) },
  "train-dit3d": {
    summary: "train DiT3D on VAE latents",
    distributed: true,
    run: async (a) => trained(await trainDit3dCommand(a)),
  },
  "sample-3d": { summary: "sample NIfTI volumes from a DiT3D run", distributed: true, run: done(sample3dCommand) },
  "evaluate-3d": { summary: "per-slice FD and classifier scores of generated volumes", run: done(evaluate3dCommand) },
};
