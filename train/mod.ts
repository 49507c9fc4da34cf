/**
 * The training layer: the engine (`fit`) every workflow trains with, the shared `train` options,
 * training-state checkpoints with exact resume, run folders, typed YAML configuration, logs,
 * progress bars, interrupt handling, and data parallelism over MPI (`dataParallel`).
 * @module
 */
export {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  checkpointPath,
  fingerprintDifference,
  latestCheckpoint,
  loadCheckpoint,
  modelFingerprint,
  saveCheckpoint,
} from "./checkpoint.ts";
export type {
  CheckpointInfo,
  CheckpointNameOptions,
  CheckpointState,
  CheckpointTargets,
  FingerprintEntry,
  JsonValue,
} from "./checkpoint.ts";
export * from "./config.ts";
export * from "./run_dir.ts";
export * from "./progress.ts";
export * from "./logger.ts";
export * from "./signals.ts";
export * from "./engine.ts";
export * from "./options.ts";
export * from "./optimizer.ts";
export * from "./checkpoint_files.ts";
export * from "./data_parallel.ts";
