/**
 * The training layer: training-state checkpoints with exact resume, run folders, typed YAML
 * configuration, logs, progress bars and interrupt handling (the engine builds on these).
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
