/**
 * Leaf helpers every layer may use and none owns: atomic writes, paths, the seeded CPU RNG,
 * the image codec (sharp) and PNG coding, and file-format readers/writers (npy/npz,
 * TensorBoard event files), the MPI binding data-parallel runs use, and `exitNow`.
 * @module
 */
export * from "./io.ts";
export * from "./path.ts";
export { concatBytes } from "./bytes.ts";
export { Rng } from "./rng.ts";
export type { Raster } from "./raster.ts";
export {
  DatasetError,
  type DatasetErrorOptions,
  formatBytes,
  OptionError,
  SizeLimitError,
  WriteError,
} from "./errors.ts";
export * from "./limits.ts";
export * from "./formats/inflate.ts";
export { decodePng, encodePng, savePng } from "./png.ts";
export * from "./formats/crc.ts";
export * from "./formats/tfevents.ts";
export { CollectiveTimeoutError, type LaunchedWorld, launchedWorld, Mpi } from "./mpi.ts";
export { exitNow } from "./exit.ts";
