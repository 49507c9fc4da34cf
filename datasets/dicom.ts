/**
 * DICOM images (PS3.10 files) read with `dicom-parser`, their pixels turned into floats in
 * physical units (Hounsfield units for CT).
 *
 * Transfer syntaxes read: Implicit VR Little Endian (1.2.840.10008.1.2), Explicit VR Little
 * Endian (…1.2.1), Deflated Explicit VR Little Endian (…1.2.1.99, inflated under the decode limit),
 * Explicit VR Big Endian (…1.2.2), Encapsulated Uncompressed Explicit VR Little Endian
 * (…1.2.1.98) and RLE Lossless (…1.2.5, decoded by `dicom_rle.ts`). A file without the 128-byte
 * preamble and "DICM" marker is read as a bare data set when its first bytes look like one.
 * Other compressed syntaxes (JPEG, JPEG-LS, JPEG 2000, HTJ2K, JPEG XL, MPEG, HEVC, …) throw a
 * {@linkcode DatasetError} that names the file and the syntax (UID and name) and says how to
 * convert the file.
 *
 * Pixels: BitsAllocated 1, 8, 16 or 32 (and Float / Double Float Pixel Data), unsigned or
 * signed (PixelRepresentation), BitsStored/HighBit honoured (the stored bits are extracted and,
 * for signed data, sign-extended; anything in the unused high bits is ignored), any number of
 * frames and samples per pixel, PlanarConfiguration 0 or 1. The Modality LUT's linear form is
 * applied — `value = stored · RescaleSlope + RescaleIntercept` — from the top-level attributes,
 * or from the (shared or per-frame) Pixel Value Transformation functional group of enhanced
 * multi-frame objects. Colour values are returned as stored (RGB, or YBR_FULL left as YBR);
 * MONOCHROME1 is not inverted (see {@linkcode applyWindow}'s `invert`).
 *
 * {@linkcode DicomImage.pixels} is `frames × rows × columns × samplesPerPixel`, row-major
 * (samples interleaved), whatever the file's planar configuration.
 *
 * Untrusted files: the size the attributes declare (Rows × Columns × Number of Frames × Samples
 * per Pixel × Bits Allocated, stored and as float32 output) is checked against the decode limit
 * (`maxDecodedBytes`, see `util/limits.ts`) before any pixel buffer is allocated; values that come
 * out NaN or ±Inf (float pixel data holding them, or a rescale that overflows float32) are
 * reported per the `nonFinite` option (a warning by default).
 *
 * Privacy: `meta` holds acquisition and geometry facts and never patient names, IDs, dates or
 * UIDs that identify a study, unless `includeIdentifiers` is set.
 * @module
 */
import dicomParser from "dicom-parser";
import type { DataSet, Element } from "dicom-parser";
import { checkDeclaredSize, decodeLimit, type DecodeLimitOptions } from "../util/limits.ts";
import { decodeRleFrame, rleMinFrameBytes } from "./dicom_rle.ts";
import {
  ENCAPSULATED_UNCOMPRESSED,
  EXPLICIT_BE,
  parseDataSet,
  problem,
  RLE,
  tag,
  TRANSFER_SYNTAX_NAMES,
} from "./dicom_syntax.ts";
import { DatasetError } from "./types.ts";
import { asDatasetError, countNonFinite, type NonFinitePolicy, nonFinitePolicy, reportNonFinite } from "./untrusted.ts";

export { isTransferSyntaxSupported, transferSyntaxName } from "./dicom_syntax.ts";

/** Image facts from a DICOM file; absent attributes are `undefined`. */
export interface DicomMeta {
  /** Transfer Syntax UID (0002,0010) (implicit VR little endian for a file without meta header). */
  transferSyntaxUID: string;
  /** Its name, e.g. `"Explicit VR Little Endian"`. */
  transferSyntaxName: string;
  /** SOP Class UID (0008,0016): the kind of object (CT Image Storage, ...). */
  sopClassUID?: string;
  /** Modality (0008,0060): `"CT"`, `"MR"`, `"US"`, ... */
  modality?: string;
  /** Image Type (0008,0008) values. */
  imageType?: string[];
  /** Manufacturer (0008,0070). */
  manufacturer?: string;
  /** Body Part Examined (0018,0015). */
  bodyPartExamined?: string;
  /** Photometric Interpretation (0028,0004): `"MONOCHROME2"`, `"MONOCHROME1"`, `"RGB"`, `"YBR_FULL"`, ... */
  photometricInterpretation: string;
  /** Bits Allocated (0028,0100) (32 or 64 for float pixel data). */
  bitsAllocated: number;
  /** Bits Stored (0028,0101). */
  bitsStored: number;
  /** High Bit (0028,0102). */
  highBit: number;
  /** Pixel Representation (0028,0103): 0 unsigned, 1 two's complement. */
  pixelRepresentation: number;
  /** Planar Configuration (0028,0006) of colour data as stored (the returned pixels are interleaved). */
  planarConfiguration?: number;
  /** Which pixel element held the data: integer, float or double-float pixel data. */
  pixelDataKind: "integer" | "float" | "double";
  /** Rescale Slope (0028,1053) applied (1 when absent); per-frame values in `frameRescale`. */
  rescaleSlope: number;
  /** Rescale Intercept (0028,1052) applied (0 when absent). */
  rescaleIntercept: number;
  /** Rescale Type (0028,1054), e.g. `"HU"`; CT without it is in HU by definition. */
  rescaleType?: string;
  /** Per-frame `[slope, intercept]` when an enhanced object gives them per frame. */
  frameRescale?: [number, number][];
  /** Window Center (0028,1050) values (one per suggested window). */
  windowCenter?: number[];
  /** Window Width (0028,1051) values, parallel to `windowCenter`. */
  windowWidth?: number[];
  /** VOI LUT Function (0028,1056): `"LINEAR"` (default), `"LINEAR_EXACT"` or `"SIGMOID"`. */
  voiLutFunction?: string;
  /** Pixel Spacing (0028,0030): `[row spacing, column spacing]` in mm (centre-to-centre). */
  pixelSpacing?: [number, number];
  /** Imager Pixel Spacing (0018,1164), for projection radiographs without Pixel Spacing. */
  imagerPixelSpacing?: [number, number];
  /** Slice Thickness (0018,0050) in mm. */
  sliceThickness?: number;
  /** Spacing Between Slices (0018,0088) in mm. */
  spacingBetweenSlices?: number;
  /** Image Position (Patient) (0020,0032): x, y, z of the first pixel's centre, mm. */
  imagePositionPatient?: number[];
  /** Image Orientation (Patient) (0020,0037): row then column direction cosines. */
  imageOrientationPatient?: number[];
  /** Slice Location (0020,1041) in mm. */
  sliceLocation?: number;
  /** Instance Number (0020,0013). */
  instanceNumber?: number;
  /** Patient's Name (0010,0010): only with `includeIdentifiers`. */
  patientName?: string;
  /** Patient ID (0010,0020): only with `includeIdentifiers`. */
  patientID?: string;
  /** Study Date (0008,0020): only with `includeIdentifiers`. */
  studyDate?: string;
  /** Study Instance UID (0020,000D): only with `includeIdentifiers`. */
  studyInstanceUID?: string;
  /** Series Instance UID (0020,000E): only with `includeIdentifiers`. */
  seriesInstanceUID?: string;
  /** SOP Instance UID (0008,0018): only with `includeIdentifiers`. */
  sopInstanceUID?: string;
  /** Parser warnings (dicom-parser's), if any. */
  warnings?: string[];
}

/** A decoded DICOM image. */
export interface DicomImage {
  /** Rows (0028,0010): image height. */
  rows: number;
  /** Columns (0028,0011): image width. */
  columns: number;
  /** Number of Frames (0028,0008), 1 when absent. */
  frames: number;
  /** Samples per Pixel (0028,0002): 1 grey, 3 colour. */
  samplesPerPixel: number;
  /** `frames × rows × columns × samplesPerPixel` values, row-major, in physical units (rescale applied). */
  pixels: Float32Array;
  /** Image facts (no patient identifiers unless asked for). */
  meta: DicomMeta;
}

/** Options of {@linkcode parseDicom} and {@linkcode readDicom}. */
export interface DicomReadOptions extends DecodeLimitOptions {
  /** Apply RescaleSlope/RescaleIntercept (default `true`); `false` gives the stored values. */
  rescale?: boolean;
  /** Put patient name/ID, study date and study/series/instance UIDs into `meta` (default `false`). */
  includeIdentifiers?: boolean;
  /**
   * Pixels that come out NaN or ±Inf (float pixel data holding them, or a rescale that overflows
   * float32): `"warn"` (default) one console line, `"error"` a {@linkcode DatasetError}, `"ignore"` nothing.
   */
  nonFinite?: NonFinitePolicy;
}

/** The VOI LUT functions (0028,1056) that {@linkcode applyWindow} implements. */
export type VoiLutFunction = "LINEAR" | "LINEAR_EXACT" | "SIGMOID";

/** Options of {@linkcode applyWindow}. */
export interface WindowOptions {
  /** VOI LUT Function (0028,1056); default `"LINEAR"`. */
  function?: VoiLutFunction | string;
  /** Map to `1 − y` (MONOCHROME1 shows low values bright). */
  invert?: boolean;
}

/**
 * Applies a DICOM window (VOI LUT, PS3.3 C.11.2.1.2) to physical values and returns them in
 * [0, 1]. `"LINEAR"` (default): `x ≤ c − 0.5 − (w−1)/2 → 0`, `x > c − 0.5 + (w−1)/2 → 1`, else
 * `((x − (c − 0.5)) / (w − 1) + 0.5)`; it needs `width ≥ 1`. `"LINEAR_EXACT"`:
 * `x ≤ c − w/2 → 0`, `x > c + w/2 → 1`, else `(x − c)/w + 0.5`. `"SIGMOID"`:
 * `1 / (1 + exp(−4 (x − c)/w))`. Both need `width > 0`.
 *
 * @example
 * ```ts
 * const ct = await readDicom("CT_small.dcm");
 * const soft = applyWindow(ct.pixels, 40, 400); // soft-tissue window, HU → [0, 1]
 * ```
 */
export function applyWindow(
  pixels: ArrayLike<number>,
  center: number,
  width: number,
  options: WindowOptions = {},
): Float32Array {
  const fn = (options.function ?? "LINEAR").toUpperCase();
  if (!Number.isFinite(center)) throw new RangeError(`applyWindow: center must be finite, got ${center}`);
  const out = new Float32Array(pixels.length);
  const n = pixels.length;
  if (fn === "LINEAR") {
    if (!(width >= 1)) throw new RangeError(`applyWindow: LINEAR needs width >= 1, got ${width}`);
    const lo = center - 0.5 - (width - 1) / 2;
    const hi = center - 0.5 + (width - 1) / 2;
    for (let i = 0; i < n; i++) {
      const x = pixels[i];
      out[i] = x <= lo ? 0 : x > hi ? 1 : width === 1 ? 1 : (x - (center - 0.5)) / (width - 1) + 0.5;
    }
  } else if (fn === "LINEAR_EXACT") {
    if (!(width > 0)) throw new RangeError(`applyWindow: LINEAR_EXACT needs width > 0, got ${width}`);
    for (let i = 0; i < n; i++) {
      const x = pixels[i];
      out[i] = x <= center - width / 2 ? 0 : x > center + width / 2 ? 1 : (x - center) / width + 0.5;
    }
  } else if (fn === "SIGMOID") {
    if (!(width > 0)) throw new RangeError(`applyWindow: SIGMOID needs width > 0, got ${width}`);
    for (let i = 0; i < n; i++) out[i] = 1 / (1 + Math.exp((-4 * (pixels[i] - center)) / width));
  } else {
    throw new RangeError(`applyWindow: unknown VOI LUT function "${options.function}" (LINEAR, LINEAR_EXACT, SIGMOID)`);
  }
  if (options.invert) { for (let i = 0; i < n; i++) out[i] = 1 - out[i]; }
  return out;
}

function str(ds: DataSet, t: string): string | undefined {
  const el = ds.elements[t];
  if (!el || !el.length) return undefined;
  const v = ds.string(t);
  return v === undefined || v === "" ? undefined : v;
}

function strings(ds: DataSet, t: string): string[] | undefined {
  const el = ds.elements[t];
  if (!el || !el.length) return undefined;
  const n = ds.numStringValues(t) ?? 0;
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(ds.string(t, i) ?? "");
  return out;
}

function numbers(ds: DataSet, t: string): number[] | undefined {
  const el = ds.elements[t];
  if (!el || !el.length) return undefined;
  const n = ds.numStringValues(t) ?? 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = ds.floatString(t, i);
    if (v !== undefined && Number.isFinite(v)) out.push(v);
  }
  return out.length ? out : undefined;
}

function number(ds: DataSet, t: string): number | undefined {
  return numbers(ds, t)?.[0];
}

function us(ds: DataSet, t: string): number | undefined {
  const el = ds.elements[t];
  if (!el || el.length < 2) return undefined;
  return ds.uint16(t);
}

function firstItem(ds: DataSet | undefined, t: string): DataSet | undefined {
  return ds?.elements[t]?.items?.[0]?.dataSet;
}

/** Slope/intercept from a functional-group item's Pixel Value Transformation Sequence. */
function groupRescale(item: DataSet | undefined): [number, number] | undefined {
  const pvt = firstItem(item, tag(0x0028, 0x9145));
  if (!pvt) return undefined;
  const slope = number(pvt, tag(0x0028, 0x1053));
  const inter = number(pvt, tag(0x0028, 0x1052));
  if (slope === undefined && inter === undefined) return undefined;
  return [slope ?? 1, inter ?? 0];
}

/** The attributes that size the pixel data, for errors. */
function sizeFields(frames: number, samplesPerPixel: number): string {
  return "(0028,0010) Rows, (0028,0011) Columns" + (frames > 1 ? ", (0028,0008) Number of Frames" : "") +
    (samplesPerPixel > 1 ? ", (0028,0002) Samples per Pixel" : "");
}

/** Reads `count` stored values from little-endian bytes and returns them as numbers (masked, sign-extended). */
function storedValues(
  le: Uint8Array,
  count: number,
  bitsAllocated: number,
  bitsStored: number,
  highBit: number,
  signed: boolean,
): Float64Array | Float32Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array {
  const shift = highBit + 1 - bitsStored;
  const buf = le.buffer.slice(le.byteOffset, le.byteOffset + le.length);
  if (bitsAllocated === 1) {
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) out[i] = (le[i >> 3] >> (i & 7)) & 1;
    return out;
  }
  const exact = bitsStored === bitsAllocated && shift === 0;
  if (exact) {
    if (bitsAllocated === 8) return signed ? new Int8Array(buf, 0, count) : new Uint8Array(buf, 0, count);
    if (bitsAllocated === 16) return signed ? new Int16Array(buf, 0, count) : new Uint16Array(buf, 0, count);
    return signed ? new Int32Array(buf, 0, count) : new Uint32Array(buf, 0, count);
  }
  const raw = bitsAllocated === 8
    ? new Uint8Array(buf, 0, count)
    : bitsAllocated === 16
    ? new Uint16Array(buf, 0, count)
    : new Uint32Array(buf, 0, count);
  const out = new Float64Array(count);
  const range = 2 ** bitsStored;
  const half = range / 2;
  const div = 2 ** shift;
  for (let i = 0; i < count; i++) {
    let v = Math.floor(raw[i] / div) % range;
    if (signed && v >= half) v -= range;
    out[i] = v;
  }
  return out;
}

function byteSwap(bytes: Uint8Array, width: number): void {
  for (let p = 0; p + width <= bytes.length; p += width) {
    for (let i = 0, j = width - 1; i < j; i++, j--) {
      const t = bytes[p + i];
      bytes[p + i] = bytes[p + j];
      bytes[p + j] = t;
    }
  }
}

/** The raw (still encoded, for RLE) bytes of each frame of encapsulated pixel data. */
function encapsulatedFrames(ds: DataSet, el: Element, frames: number, file: string): Uint8Array[] {
  const fragments = el.fragments ?? [];
  const bytes = ds.byteArray as Uint8Array;
  const slice = (pos: number, len: number): Uint8Array => {
    if (pos + len > bytes.length) {
      throw new DatasetError(file, `truncated pixel data: a fragment of ${len} bytes at ${pos} runs past the end`);
    }
    return bytes.subarray(pos, pos + len);
  };
  if (fragments.length === frames) return fragments.map((f) => slice(f.position, f.length));
  const bot = el.basicOffsetTable ?? [];
  if (bot.length === frames) {
    const out: Uint8Array[] = [];
    for (let f = 0; f < frames; f++) {
      try {
        out.push(new Uint8Array(dicomParser.readEncapsulatedImageFrame(ds, el, f)));
      } catch (e) {
        throw new DatasetError(file, `cannot read frame ${f + 1} of the encapsulated pixel data: ${problem(e)}`, {
          cause: e,
        });
      }
    }
    return out;
  }
  throw new DatasetError(
    file,
    `encapsulated pixel data has ${fragments.length} fragment(s) and a ${bot.length}-entry offset table for ` +
      `${frames} frame(s); expected one fragment per frame`,
  );
}

/**
 * Decodes a DICOM file held in memory. `name` is used in error messages. Throws a
 * {@linkcode DatasetError} naming `name` for a file that is not DICOM, a truncated or corrupt
 * one, an unsupported transfer syntax (named, with how to convert it), missing image attributes,
 * or pixel data shorter than Rows × Columns × Frames × Samples × BitsAllocated needs; a
 * `SizeLimitError` when that size (or a deflated data set) exceeds `options.maxDecodedBytes`.
 */
export function parseDicom(bytes: Uint8Array, name = "<dicom>", options: DicomReadOptions = {}): DicomImage {
  const limit = decodeLimit(options.maxDecodedBytes);
  const policy = nonFinitePolicy(options.nonFinite);
  try {
    return decode(bytes, name, options, limit, policy);
  } catch (e) {
    throw asDatasetError(name, e); // e.g. an allocation failure, or dicom-parser's own error
  }
}

function decode(
  bytes: Uint8Array,
  file: string,
  options: DicomReadOptions,
  limit: number,
  policy: NonFinitePolicy,
): DicomImage {
  const { ds, syntax } = parseDataSet(bytes, file, limit);
  const bigEndian = syntax === EXPLICIT_BE;

  const need = (t: string, label: string): number => {
    const v = us(ds, t);
    if (v === undefined) {
      throw new DatasetError(file, `missing ${label}; is this an image (SOP class ${str(ds, tag(8, 0x16)) ?? "?"})?`);
    }
    return v;
  };
  const rows = need(tag(0x0028, 0x0010), "Rows (0028,0010)");
  const columns = need(tag(0x0028, 0x0011), "Columns (0028,0011)");
  const samplesPerPixel = us(ds, tag(0x0028, 0x0002)) ?? 1;
  const photometric = str(ds, tag(0x0028, 0x0004)) ?? (samplesPerPixel === 3 ? "RGB" : "MONOCHROME2");
  const framesStr = number(ds, tag(0x0028, 0x0008));
  const frames = framesStr === undefined ? 1 : Math.round(framesStr);
  if (rows < 1 || columns < 1 || samplesPerPixel < 1 || !(frames >= 1)) {
    throw new DatasetError(
      file,
      `bad image size: Rows ${rows}, Columns ${columns}, Samples per Pixel ${samplesPerPixel}, Number of Frames ${frames}`,
    );
  }
  const planar = us(ds, tag(0x0028, 0x0006));
  const pixelsPerFrame = rows * columns;
  const count = pixelsPerFrame * frames * samplesPerPixel;

  let kind: DicomMeta["pixelDataKind"] = "integer";
  let el = ds.elements[tag(0x7fe0, 0x0010)];
  if (!el) {
    el = ds.elements[tag(0x7fe0, 0x0008)];
    kind = "float";
    if (!el) {
      el = ds.elements[tag(0x7fe0, 0x0009)];
      kind = "double";
    }
  }
  if (!el) throw new DatasetError(file, "no Pixel Data (7FE0,0010), Float Pixel Data or Double Float Pixel Data");

  const bitsAllocated = kind === "float"
    ? 32
    : kind === "double"
    ? 64
    : need(tag(0x0028, 0x0100), "Bits Allocated (0028,0100)");
  const bitsStored = kind === "integer" ? us(ds, tag(0x0028, 0x0101)) ?? bitsAllocated : bitsAllocated;
  const highBit = kind === "integer" ? us(ds, tag(0x0028, 0x0102)) ?? bitsStored - 1 : bitsAllocated - 1;
  const pixelRepresentation = kind === "integer" ? us(ds, tag(0x0028, 0x0103)) ?? 0 : 1;
  if (kind === "integer") {
    if (![1, 8, 16, 32].includes(bitsAllocated)) {
      throw new DatasetError(file, `Bits Allocated ${bitsAllocated} is not supported (1, 8, 16 or 32)`);
    }
    if (bitsStored < 1 || bitsStored > bitsAllocated || highBit < bitsStored - 1 || highBit >= bitsAllocated) {
      throw new DatasetError(
        file,
        `inconsistent bit layout: Bits Allocated ${bitsAllocated}, Bits Stored ${bitsStored}, High Bit ${highBit}`,
      );
    }
  }
  if (photometric === "YBR_FULL_422" && syntax !== RLE) {
    throw new DatasetError(
      file,
      "uncompressed YBR_FULL_422 (chroma-subsampled) pixel data is not supported; convert it to RGB first",
    );
  }

  // Little-endian, pixel-interleaved bytes of all frames.
  const bytesPerSample = bitsAllocated / 8;
  const frameBytes = bitsAllocated === 1 ? 0 : pixelsPerFrame * samplesPerPixel * bytesPerSample;
  const needBytes = bitsAllocated === 1 ? Math.ceil(count / 8) : count * bytesPerSample;
  // Checked before any pixel buffer is allocated: the declared size, stored and as float32.
  checkDeclaredSize(
    file,
    `Rows × Columns × Number of Frames × Samples per Pixel declare ${rows}×${columns}×${frames}×` +
      `${samplesPerPixel} samples of ${bitsAllocated} bits (stored, then as float32):`,
    needBytes + 4 * count,
    limit,
    sizeFields(frames, samplesPerPixel),
  );
  let le: Uint8Array;
  const encapsulatedSyntax = syntax === RLE || syntax === ENCAPSULATED_UNCOMPRESSED;
  if (encapsulatedSyntax !== Boolean(el.encapsulatedPixelData)) {
    throw new DatasetError(
      file,
      `${TRANSFER_SYNTAX_NAMES[syntax]} needs ${encapsulatedSyntax ? "encapsulated" : "native"} pixel data, ` +
        `found ${el.encapsulatedPixelData ? "encapsulated" : "native"} data`,
    );
  }
  if (encapsulatedSyntax) {
    if (bitsAllocated === 1) throw new DatasetError(file, "encapsulated 1-bit pixel data is not supported");
    const parts = encapsulatedFrames(ds, el, frames, file);
    const info = { rows, columns, samplesPerPixel, bitsAllocated };
    // A frame too short to hold what the attributes declare fails before the output is allocated.
    let least = frameBytes;
    if (syntax === RLE) {
      try {
        least = rleMinFrameBytes(info);
      } catch (e) {
        throw new DatasetError(file, problem(e), { cause: e });
      }
    }
    parts.forEach((part, f) => {
      if (part.length >= least) return;
      throw new DatasetError(
        file,
        syntax === RLE
          ? `frame ${
            f + 1
          }: RLE: the frame has ${part.length} bytes; ${frameBytes} decoded bytes need at least ${least}`
          : `frame ${f + 1} holds ${part.length} bytes, expected ${frameBytes}`,
        { field: "(7FE0,0010) Pixel Data" },
      );
    });
    le = new Uint8Array(frameBytes * frames);
    parts.forEach((part, f) => {
      const target = le.subarray(f * frameBytes, (f + 1) * frameBytes);
      if (syntax !== RLE) return target.set(part.subarray(0, frameBytes));
      try {
        decodeRleFrame(part, info, target);
      } catch (e) {
        throw new DatasetError(file, `frame ${f + 1}: ${problem(e)}`, { cause: e });
      }
    });
  } else {
    const end = el.dataOffset + el.length;
    if (el.length === 0xffffffff || end > ds.byteArray.length) {
      throw new DatasetError(
        file,
        `truncated pixel data: the element claims ${el.length} bytes at offset ${el.dataOffset}, the file has ` +
          `${ds.byteArray.length - el.dataOffset}`,
      );
    }
    if (el.length < needBytes) {
      throw new DatasetError(
        file,
        `Pixel Data holds ${el.length} bytes, but ${rows} rows × ${columns} columns × ${frames} frame(s) × ` +
          `${samplesPerPixel} sample(s) × ${bitsAllocated} bits needs ${needBytes}`,
      );
    }
    le = new Uint8Array(needBytes);
    le.set((ds.byteArray as Uint8Array).subarray(el.dataOffset, el.dataOffset + needBytes));
    if (bigEndian) {
      if (bitsAllocated > 8) byteSwap(le, bytesPerSample);
      else if (bitsAllocated === 1 && el.vr === "OW") byteSwap(le, 2);
    }
    if (samplesPerPixel > 1 && planar === 1 && bitsAllocated >= 8) {
      // colour-by-plane → colour-by-pixel, frame by frame
      const planeBytes = pixelsPerFrame * bytesPerSample;
      const tmp = new Uint8Array(frameBytes);
      for (let f = 0; f < frames; f++) {
        const base = f * frameBytes;
        for (let s = 0; s < samplesPerPixel; s++) {
          for (let p = 0; p < pixelsPerFrame; p++) {
            for (let b = 0; b < bytesPerSample; b++) {
              tmp[(p * samplesPerPixel + s) * bytesPerSample + b] = le[base + s * planeBytes + p * bytesPerSample + b];
            }
          }
        }
        le.set(tmp, base);
      }
    }
  }

  const pixels = new Float32Array(count);
  if (kind === "float") pixels.set(new Float32Array(le.buffer, le.byteOffset, count));
  else if (kind === "double") pixels.set(new Float64Array(le.buffer, le.byteOffset, count));
  else pixels.set(storedValues(le, count, bitsAllocated, bitsStored, highBit, pixelRepresentation === 1));
  if (kind !== "integer") {
    const field = kind === "float" ? "(7FE0,0008) Float Pixel Data" : "(7FE0,0009) Double Float Pixel Data";
    const how = kind === "float" ? "as stored" : "as stored or once rounded to float32";
    reportNonFinite(file, field, how, countNonFinite(pixels), count, policy);
  }

  // Modality LUT (linear): top level, else the enhanced functional groups.
  let slope = number(ds, tag(0x0028, 0x1053));
  let intercept = number(ds, tag(0x0028, 0x1052));
  let frameRescale: [number, number][] | undefined;
  if (slope === undefined && intercept === undefined) {
    const shared = groupRescale(firstItem(ds, tag(0x5200, 0x9229)));
    if (shared) [slope, intercept] = shared;
    const perFrame = ds.elements[tag(0x5200, 0x9230)]?.items;
    if (perFrame && perFrame.length === frames) {
      const each = perFrame.map((it) => groupRescale(it.dataSet));
      if (each.every((r) => r !== undefined)) {
        frameRescale = each as [number, number][];
        if (frameRescale.every(([s, b]) => s === frameRescale![0][0] && b === frameRescale![0][1])) {
          [slope, intercept] = frameRescale[0];
          frameRescale = undefined;
        }
      }
    }
  }
  slope ??= 1;
  intercept ??= 0;
  const rescale = options.rescale ?? true;
  if (rescale && kind === "integer") {
    const per = pixelsPerFrame * samplesPerPixel;
    let overflowed = 0;
    for (let f = 0; f < frames; f++) {
      const [s, b] = frameRescale?.[f] ?? [slope, intercept];
      if (s === 1 && b === 0) continue;
      for (let i = f * per; i < (f + 1) * per; i++) {
        pixels[i] = pixels[i] * s + b;
        if (pixels[i] - pixels[i] !== 0) overflowed++; // stored integers are finite: the rescale overflowed
      }
    }
    const how = frameRescale
      ? "after the per-frame rescale"
      : `after rescaling by Rescale Slope ${slope}, Rescale Intercept ${intercept}`;
    reportNonFinite(
      file,
      "(0028,1053) Rescale Slope",
      `${how} (float32 holds ±3.4e38 at most)`,
      overflowed,
      count,
      policy,
    );
  }

  const meta: DicomMeta = {
    transferSyntaxUID: syntax,
    transferSyntaxName: TRANSFER_SYNTAX_NAMES[syntax] ?? syntax,
    sopClassUID: str(ds, tag(0x0008, 0x0016)),
    modality: str(ds, tag(0x0008, 0x0060)),
    imageType: strings(ds, tag(0x0008, 0x0008)),
    manufacturer: str(ds, tag(0x0008, 0x0070)),
    bodyPartExamined: str(ds, tag(0x0018, 0x0015)),
    photometricInterpretation: photometric,
    bitsAllocated,
    bitsStored,
    highBit,
    pixelRepresentation,
    planarConfiguration: planar,
    pixelDataKind: kind,
    rescaleSlope: rescale && kind === "integer" ? slope : 1,
    rescaleIntercept: rescale && kind === "integer" ? intercept : 0,
    rescaleType: str(ds, tag(0x0028, 0x1054)),
    frameRescale: rescale ? frameRescale : undefined,
    windowCenter: numbers(ds, tag(0x0028, 0x1050)),
    windowWidth: numbers(ds, tag(0x0028, 0x1051)),
    voiLutFunction: str(ds, tag(0x0028, 0x1056)),
    pixelSpacing: numbers(ds, tag(0x0028, 0x0030))?.slice(0, 2) as [number, number] | undefined,
    imagerPixelSpacing: numbers(ds, tag(0x0018, 0x1164))?.slice(0, 2) as [number, number] | undefined,
    sliceThickness: number(ds, tag(0x0018, 0x0050)),
    spacingBetweenSlices: number(ds, tag(0x0018, 0x0088)),
    imagePositionPatient: numbers(ds, tag(0x0020, 0x0032)),
    imageOrientationPatient: numbers(ds, tag(0x0020, 0x0037)),
    sliceLocation: number(ds, tag(0x0020, 0x1041)),
    instanceNumber: number(ds, tag(0x0020, 0x0013)),
  };
  if (options.includeIdentifiers) {
    meta.patientName = str(ds, tag(0x0010, 0x0010));
    meta.patientID = str(ds, tag(0x0010, 0x0020));
    meta.studyDate = str(ds, tag(0x0008, 0x0020));
    meta.studyInstanceUID = str(ds, tag(0x0020, 0x000d));
    meta.seriesInstanceUID = str(ds, tag(0x0020, 0x000e));
    meta.sopInstanceUID = str(ds, tag(0x0008, 0x0018));
  }
  if (ds.warnings?.length) meta.warnings = [...ds.warnings];
  for (const k of Object.keys(meta) as (keyof DicomMeta)[]) if (meta[k] === undefined) delete meta[k];
  return { rows, columns, frames, samplesPerPixel, pixels, meta };
}

/**
 * Reads a DICOM file (see the module notes for what it decodes).
 *
 * @example
 * ```ts
 * const ct = await readDicom("CT_small.dcm"); // ct.pixels in HU, 128 × 128
 * const x = tensor(ct.pixels, [1, ct.rows, ct.columns]);
 * ```
 */
export async function readDicom(path: string, options: DicomReadOptions = {}): Promise<DicomImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new DatasetError(path, "file not found", { cause: e });
    throw new DatasetError(path, `cannot read the file: ${(e as Error).message}`, { cause: e });
  }
  return parseDicom(bytes, path, options);
}
