/**
 * Leaf helpers every layer may use and none owns: atomic writes, paths, the seeded CPU RNG,
 * the image codec (sharp) and PNG coding, and file-format readers/writers (npy/npz,
 * TensorBoard event files).
 * @module
 */
export * from "./io.ts";
export * from "./path.ts";
export { Rng } from "./rng.ts";
export type { Raster } from "./raster.ts";
export { DatasetError, OptionError } from "./errors.ts";
export { decodePng, encodePng, savePng } from "./png.ts";
export * from "./formats/crc32c.ts";
export * from "./formats/tfevents.ts";
