/**
 * The data layer: readers (image folders, CSV-labelled images, MedMNIST `.npz`, NIfTI, DICOM,
 * safetensors latents, the embedded procedural set), seeded transforms (`transforms`),
 * stratified splits, samplers and the prefetching `DataLoader`.
 * @module
 */
export * from "./types.ts";
export { Rng } from "../util/rng.ts";
export * from "../util/formats/npy.ts";
export * from "../util/formats/npz.ts";
export * from "./medmnist.ts";
export {
  MEDMNIST_INFO,
  MEDMNIST_RECORD_URL,
  medmnistFileName,
  medmnistUrl,
  parseMedMnistFileName,
} from "./medmnist_info.ts";
export type { MedMnistInfo, MedMnistSplit, MedMnistTask } from "./medmnist_info.ts";
export * from "./medmnist_download.ts";
export * from "./tensor_dataset.ts";
export { inferClassCount, type InferClassesOptions, type LabelCheck, MAX_INFERRED_CLASSES } from "./labels.ts";
export * from "./nifti.ts";
export * from "./nifti_write.ts";
export * from "./procedural_volumes.ts";
export * from "./volume_slices.ts";
export * from "./dicom.ts";
export { decodeRleFrame, encodeRleFrame, RleError, type RleFrameInfo } from "./dicom_rle.ts";
export * from "./volume_dataset.ts";
export * from "./image_folder.ts";
export * from "./csv_dataset.ts";
export * from "./split.ts";
export * from "./sampler.ts";
export * from "./subset.ts";
export * from "./concat.ts";
export * from "./procedural.ts";
export * from "./loader.ts";
export * as transforms from "./transforms/mod.ts";
