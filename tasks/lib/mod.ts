/**
 * The infrastructure every `deno task` workflow uses: typed YAML configuration with
 * command-line overrides, argument parsing, run folders, logs, JSONL metrics, TensorBoard event
 * files, progress bars, PNG grids and image folders, and Ctrl-C handling.
 *
 * @module
 */
export * from "./config.ts";
export * from "./args.ts";
export * from "./run_dir.ts";
export * from "./crc32c.ts";
export * from "./tfevents.ts";
export * from "./progress.ts";
export * from "./logger.ts";
export * from "./image_grid.ts";
export * from "./signals.ts";
