/**
 * The DiffMIC-v2 workflow's command-line entry points as functions (`tasks/train_dcg.ts`,
 * `tasks/train_diffmic.ts` and `tasks/explain_diffmic.ts` call them with `Deno.args`; tests call
 * them directly). `deno task evaluate --run` evaluates both kinds of run (./evaluate.ts).
 * @module
 */
import { isWriter } from "../../train/data_parallel.ts";
import { ConfigError } from "../../train/config.ts";
import type { RunDir } from "../../train/run_dir.ts";
import type { InterruptController } from "../../train/signals.ts";
import { inPreparedRun, prepareRun } from "../common/run_setup.ts";
import { parseTaskArgs } from "../lib/args.ts";
import { dcgSchema, diffmicSchema } from "./config.ts";
import { loadDcgCopy, loadDcgFromRun, type LoadedDcg, saveDcgCopy } from "./model.ts";
import { type DcgTrainResult, type DiffmicTrainResult, trainDcg, trainDiffmic } from "./trainers.ts";

const RUN_OPTIONS = {
  resume: { description: "continue a run: its folder or one of its checkpoints", valueName: "run|checkpoint" },
};

/** What a DiffMIC-v2 training command did. */
export interface WorkflowTrainResult<R> {
  /** The run folder. */
  run: RunDir;
  /** The training summary. */
  result: R;
}

/** `deno task train-dcg [--config f] [--resume r] [--key.path v …]`; null after `--help`. */
export async function trainDcgCommand(
  argv: readonly string[],
  quiet = false,
  interrupts?: InterruptController,
): Promise<WorkflowTrainResult<DcgTrainResult> | null> {
  const args = parseTaskArgs(argv, {
    name: "train-dcg",
    description: "Trains DiffMIC-v2's dual-granularity guidance network (DCG) and keeps the best by a validation " +
      "metric; its run is the --model.dcg of deno task train-diffmic.",
    options: {
      config: { description: "YAML configuration (e.g. configs/dcg-retinamnist.yaml)", valueName: "file" },
      ...RUN_OPTIONS,
    },
    schema: dcgSchema,
  });
  if (args.help) {
    console.log(args.helpText);
    return null;
  }
  const prepared = await prepareRun(args, dcgSchema, quiet);
  const { cfg, data, run, log, resumeFrom, onResumed } = prepared;
  return await inPreparedRun(prepared, async () => {
    const result = await trainDcg(cfg, data, run, log, { resumeFrom, quiet, interrupts, onResumed });
    log.info(
      `trained ${result.step} steps in ${result.epochsDone} epochs (${result.seconds.toFixed(0)} s, ` +
        `${result.imagesPerSecond.toFixed(1)} images/s); best validation ${cfg.train.selectMetric} ` +
        `${result.best?.toFixed(4) ?? "n/a"}; next: deno task train-diffmic --config <config> --model.dcg ${run.path}`,
    );
    return { run, result };
  });
}

/** `deno task train-diffmic [--config f] --model.dcg <run> [--resume r] [--key.path v …]`; null after `--help`. */
export async function trainDiffmicCommand(
  argv: readonly string[],
  quiet = false,
  interrupts?: InterruptController,
): Promise<WorkflowTrainResult<DiffmicTrainResult> | null> {
  const args = parseTaskArgs(argv, {
    name: "train-diffmic",
    description: "Trains DiffMIC-v2's label denoiser on a frozen DCG (--model.dcg), validating by DDIM inference on " +
      "the validation split and keeping the best by a validation metric.",
    options: {
      config: { description: "YAML configuration (e.g. configs/diffmic-retinamnist.yaml)", valueName: "file" },
      ...RUN_OPTIONS,
    },
    schema: diffmicSchema,
  });
  if (args.help) {
    console.log(args.helpText);
    return null;
  }
  let fresh: LoadedDcg | null = null;
  const prepared = await prepareRun(args, diffmicSchema, quiet, async (cfg, data) => {
    if (args.options.resume) return; // the run carries its own copy of the DCG
    if (cfg.model.dcg === null) {
      throw new ConfigError(["model.dcg must name the guidance network: a train-dcg run folder or checkpoint"]);
    }
    fresh = await loadDcgFromRun(cfg.model.dcg, data.channels, data.classes);
  });
  const { cfg, data, run, log, resumeFrom, onResumed } = prepared;
  return await inPreparedRun(prepared, async () => {
    let prior: LoadedDcg;
    if (fresh) {
      prior = fresh;
      if (isWriter()) await saveDcgCopy(run, prior);
    } else prior = await loadDcgCopy(run, data.channels, data.classes.length);
    const result = await trainDiffmic(cfg, data, run, log, prior, { resumeFrom, quiet, interrupts, onResumed });
    log.info(
      `trained ${result.step} steps in ${result.epochsDone} epochs (${result.seconds.toFixed(0)} s, ` +
        `${result.imagesPerSecond.toFixed(1)} images/s); best validation ${cfg.train.selectMetric} ` +
        `${result.best?.toFixed(4) ?? "n/a"}; evaluate with: deno task evaluate --run ${run.path}`,
    );
    prior.dcg.dispose();
    return { run, result };
  });
}
