/** The 2D image layout every layer shares: decoders (sharp) produce it, the data layer and PNG coding consume it. */

/** A 2D image in interleaved HWC layout, as decoders (sharp) produce and consume it. */
export interface Raster {
  /** Pixel values, row-major, channels interleaved (`(y * width + x) * channels + c`). */
  data: Uint8Array | Float32Array;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Channels per pixel (1 grey, 3 RGB, 4 RGBA). */
  channels: number;
}
