/**
 * What every training command does before and around its loop: resolve `--resume` to a
 * checkpoint and its run folder (or take `--config`), load the configuration with the
 * command-line overrides, open the data and check the configuration against it (bad paths, and
 * a model that cannot work on the data, fail here, before any folder is made), create the run
 * folder with the resolved config, `data.json` and `split.json`, and open the log
 * ({@linkcode prepareRun}); then run the training in it ({@linkcode inPreparedRun}), so that an
 * error goes to `train.log` and never leaves a half-made folder behind: a folder this run made
 * is removed while it holds no checkpoint (nothing in it could be resumed), and kept — with the
 * command that resumes it in the log — once it does.
 * @module
 */
import { errorLine, errorStack, type ParsedTaskArgs } from "../lib/args.ts";
import { ConfigError, type ConfigSchema, loadConfig } from "../../train/config.ts";
import { Logger } from "../../train/logger.ts";
import { createRunDir, hasCheckpoint, openRunDir, type RunDir } from "../../train/run_dir.ts";
import { OptionError } from "../../util/errors.ts";
import { dirName } from "../../util/path.ts";
import { type DataConfig, type ImageData, openImageData } from "./data.ts";
import { resolveResume } from "../../train/checkpoint_files.ts";
import { saveRunDataInfo } from "./run_info.ts";
import type { SyntheticSource } from "./training_mix.ts";
import { dataParallel } from "../../train/data_parallel.ts";

/** The part of a config every training task has. */
export interface RunConfig {
  /** Run name (folder prefix). */
  name: string;
  /** Seed of everything. */
  seed: number;
  /** Where runs go. */
  output: { root: string };
  /** The batch keys checked against the data. */
  train: { batchSize: number; gradAccumulation: number };
}

/** How a task opens its data and records it in a new run (2-D image tasks: {@linkcode prepareRun}'s default). */
export interface RunData<C, D extends { train: { length: number } }> {
  /** Opens the data the configuration names (errors name the key). */
  open(cfg: C): Promise<D>;
  /** Writes what a later command needs to know of the data into a new run folder. */
  save(run: RunDir, data: D): Promise<void>;
}

/** A prepared run. */
export interface PreparedRun<C, D = ImageData> {
  /** The resolved configuration. */
  cfg: C;
  /** The opened data. */
  data: D;
  /** The run folder (new, or the resumed one). */
  run: RunDir;
  /** The log ({@linkcode inPreparedRun} closes it; close it yourself otherwise). */
  log: Logger;
  /** Whether this call made the run folder (false when resuming). */
  created: boolean;
  /** The task's name, for the resume hint (`deno task <task> --resume <run>`). */
  task: string;
  /** The checkpoint to resume from, when resuming. */
  resumeFrom?: string;
  /**
   * For a resumed run given `--key value` overrides: saves the changed config into the run —
   * call it once the checkpoint has loaded into the new config's model.
   */
  onResumed?: () => Promise<void>;
}

/**
 * Prepares a run from parsed `--config` / `--resume` / overrides (see the module doc). `check`
 * vets the configuration against the opened data, before a folder is made (also on `--resume`):
 * it throws a {@linkcode ConfigError} naming the key that cannot work. `source` samples a DDPM
 * run named by `data.syntheticPath` (default: its samples must exist).
 */
export function prepareRun<C extends RunConfig & { data: DataConfig }>(
  args: ParsedTaskArgs<string, "config" | "resume">,
  schema: ConfigSchema<C>,
  quiet: boolean,
  check?: (cfg: C, data: ImageData) => Promise<void> | void,
  source?: SyntheticSource,
): Promise<PreparedRun<C>> {
  const images: RunData<{ seed: number; data: DataConfig }, ImageData> = {
    open: (cfg) => openImageData(cfg.data, cfg.seed, source),
    save: saveRunDataInfo,
  };
  return prepareRunWith(args, schema, quiet, images, check);
}

/** {@linkcode prepareRun} for a task with its own kind of data (`data` opens and records it). */
export async function prepareRunWith<C extends RunConfig, D extends { train: { length: number } }>(
  args: ParsedTaskArgs<string, "config" | "resume">,
  schema: ConfigSchema<C>,
  quiet: boolean,
  dataOf: RunData<C, D>,
  check?: (cfg: C, data: D) => Promise<void> | void,
): Promise<PreparedRun<C, D>> {
  let run: RunDir | undefined, resumeFrom: string | undefined;
  if (args.options.resume) {
    if (args.options.config) {
      throw new ConfigError(["--config and --resume exclude each other (a run keeps its config)"]);
    }
    resumeFrom = await resolveResume(args.options.resume);
    run = await openRunDir(dirName(dirName(resumeFrom)));
  }
  const loaded = await loadConfig(schema, {
    file: run ? run.configPath : args.options.config,
    overrides: args.overrides,
    taskOptions: args.known,
  });
  const cfg = loaded.config;
  const data = await dataOf.open(cfg);
  await check?.(cfg, data); // task-specific checks against the data, before anything is made
  checkBatches(cfg, data, loaded.sources);
  // In a data-parallel run rank 0 makes the folder and writes into it; the other ranks open it.
  const parallel = dataParallel(), writer = parallel.rank === 0;
  const created = !run && writer;
  if (!run && writer) run = await createRunDir(cfg.output.root, cfg.name);
  try {
    let onResumed: (() => Promise<void>) | undefined;
    if (created) {
      await loaded.saveResolvedConfig(run!);
      await dataOf.save(run!, data);
    } else if (args.overrides.length > 0 && writer) {
      const resumed = run!;
      onResumed = async () => {
        await loaded.saveResolvedConfig(resumed);
      };
    }
    if (parallel.worldSize > 1) {
      const path = await parallel.shareFromRoot(writer ? run!.path : null);
      run ??= await openRunDir(path);
    }
    const log = writer
      ? new Logger(run!, { consoleLevel: quiet ? "warn" : "info" })
      : new Logger(run!, { file: null, consoleLevel: "warn", prefix: `[rank ${parallel.rank}] ` });
    log.info(`run ${run!.path}${resumeFrom ? ` (resuming from ${resumeFrom})` : ""}`);
    if (parallel.worldSize > 1) {
      log.info(`data parallel: ${parallel.worldSize} processes (MPI), batch ${cfg.train.batchSize} per process`);
    }
    return { cfg, data, run: run!, log, created, task: args.name, resumeFrom, onResumed };
  } catch (e) {
    if (created) await Deno.remove(run!.path, { recursive: true }).catch(() => {});
    throw e;
  }
}

/**
 * `train.batchSize` must fit the training set (a batch larger than the data is a typing slip,
 * e.g. 1e20, not a wish), and `train.gradAccumulation` the batches of an epoch: checked here so
 * that the run fails before its folder is made.
 */
export function checkBatches(
  cfg: RunConfig,
  data: { train: { length: number } },
  sources: Readonly<Record<string, string>> = {},
): void {
  const n = data.train.length, { batchSize, gradAccumulation } = cfg.train;
  const from = (key: string): string => {
    const src = sources[key];
    if (!src || src === "default") return "";
    return ` (from ${src.startsWith("command line") ? "the " : ""}${src})`; // as config problems say it
  };
  if (batchSize > n) {
    throw new ConfigError([
      `train.batchSize ${batchSize}${from("train.batchSize")} exceeds the ${n} training samples of the data`,
    ]);
  }
  const batches = Math.floor(n / batchSize);
  if (gradAccumulation > batches) {
    throw new ConfigError([
      `train.gradAccumulation ${gradAccumulation}${from("train.gradAccumulation")} exceeds the ${batches} ` +
      `batches of ${batchSize} in an epoch (${n} training samples)`,
    ]);
  }
}

/**
 * Runs `work` (the training and what follows it) in a prepared run, then closes the run's log.
 * When `work` throws, the error is written to `train.log` (one ERROR line, its stack as DEBUG
 * lines; the terminal line is {@linkcode runTask}'s) and thrown on, after the folder is dealt
 * with: one this run made that holds no checkpoint is removed, any other is kept and the log
 * says how to resume it.
 */
export async function inPreparedRun<C, R, D = ImageData>(
  prepared: PreparedRun<C, D>,
  work: () => Promise<R>,
): Promise<R> {
  const { log, run } = prepared;
  try {
    return await work();
  } catch (e) {
    try {
      const echo = log.console;
      log.console = null;
      try {
        log.error(errorLine(e));
        const stack = errorStack(e);
        if (stack) log.debug(stack);
      } finally {
        log.console = echo;
      }
      if (prepared.created && !(await hasCheckpoint(run))) {
        log.info(`removing the run folder ${run.path}: the run failed before its first checkpoint`);
        log.close();
        await Deno.remove(run.path, { recursive: true });
      } else {
        log.info(
          `the run folder ${run.path} is kept; continue it with: deno task ${prepared.task} --resume ${run.path}`,
        );
      }
    } catch {
      // Reporting must not hide the error that ended the run.
    }
    throw e;
  } finally {
    log.close();
  }
}

/**
 * Runs a model's option validation (`validate`: e.g. `resolveUNetConfig` of the options the
 * configuration and the data give) before any folder is made. An {@linkcode OptionError} about
 * an option the configuration's `model` section sets becomes a {@linkcode ConfigError} naming
 * that key, its value and the data (`data`: the opened images, or a phrase for other data); any
 * other OptionError, one about the data.
 */
export function checkModelFits(cfg: { model: object }, data: ImageData | string, validate: () => unknown): void {
  try {
    validate();
  } catch (e) {
    if (!(e instanceof OptionError)) throw e;
    const shape = typeof data === "string"
      ? data
      : `${data.imageSize}×${data.imageSize}×${data.channels} images, ${data.classes.length} classes`;
    const option = e.option.replace(/\[\d+\]$/, "");
    if (option in cfg.model) {
      const value = JSON.stringify((cfg.model as Record<string, unknown>)[option]);
      throw new ConfigError([`model.${option} ${value} cannot work on the data (${shape}): ${e.problem}`]);
    }
    throw new ConfigError([`the model cannot take the data (${shape}): ${e.message}`]);
  }
}
