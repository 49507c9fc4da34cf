/**
 * What every training command does before its loop: resolve `--resume` to a checkpoint and its
 * run folder (or take `--config`), load the configuration with the command-line overrides, open
 * the data (bad paths fail here, before any folder is made), create the run folder with the
 * resolved config, `data.json` and `split.json`, and open the log.
 * @module
 */
import type { ParsedTaskArgs } from "../lib/args.ts";
import { ConfigError, type ConfigSchema, loadConfig } from "../../train/config.ts";
import { Logger } from "../../train/logger.ts";
import { createRunDir, openRunDir, type RunDir } from "../../train/run_dir.ts";
import { dirName } from "../../util/path.ts";
import { type DataConfig, type ImageData, openImageData } from "./data.ts";
import { resolveResume } from "../../train/resume.ts";
import { saveRunDataInfo } from "./run_info.ts";

/** The part of a config every training task has. */
export interface RunConfig {
  /** Run name (folder prefix). */
  name: string;
  /** Seed of everything. */
  seed: number;
  /** The data section. */
  data: DataConfig;
  /** Where runs go. */
  output: { root: string };
}

/** A prepared run. */
export interface PreparedRun<C> {
  /** The resolved configuration. */
  cfg: C;
  /** The opened data. */
  data: ImageData;
  /** The run folder (new, or the resumed one). */
  run: RunDir;
  /** The log (close it when done). */
  log: Logger;
  /** The checkpoint to resume from, when resuming. */
  resumeFrom?: string;
  /**
   * For a resumed run given `--key value` overrides: saves the changed config into the run —
   * call it once the checkpoint has loaded into the new config's model.
   */
  onResumed?: () => Promise<void>;
}

/** Prepares a run from parsed `--config` / `--resume` / overrides (see the module doc); `check` vets the config first. */
export async function prepareRun<C extends RunConfig>(
  args: ParsedTaskArgs<string, "config" | "resume">,
  schema: ConfigSchema<C>,
  quiet: boolean,
  check?: (cfg: C) => Promise<void> | void,
): Promise<PreparedRun<C>> {
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
  await check?.(cfg); // task-specific checks, before anything is made
  const data = await openImageData(cfg.data, cfg.seed);
  let onResumed: (() => Promise<void>) | undefined;
  if (!run) {
    run = await createRunDir(cfg.output.root, cfg.name);
    await loaded.saveResolvedConfig(run);
    await saveRunDataInfo(run, data);
  } else if (args.overrides.length > 0) {
    const resumed = run;
    onResumed = async () => {
      await loaded.saveResolvedConfig(resumed);
    };
  }
  const log = new Logger(run, { consoleLevel: quiet ? "warn" : "info" });
  log.info(`run ${run.path}${resumeFrom ? ` (resuming from ${resumeFrom})` : ""}`);
  return { cfg, data, run, log, resumeFrom, onResumed };
}
