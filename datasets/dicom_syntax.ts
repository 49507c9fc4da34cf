/**
 * DICOM transfer syntaxes (PS3.5) and the first step of reading a file: finding its syntax
 * (an unsupported codec is reported by name, with how to convert the file) and parsing the data
 * set with `dicom-parser`, inflating a Deflated Explicit VR Little Endian data set under the
 * decode limit.
 * @module
 */
import dicomParser from "dicom-parser";
import type { DataSet } from "dicom-parser";
import { inflateRaw } from "../util/formats/inflate.ts";
import { DatasetError } from "./types.ts";

export const IMPLICIT_LE = "1.2.840.10008.1.2";
export const EXPLICIT_LE = "1.2.840.10008.1.2.1";
export const DEFLATED_LE = "1.2.840.10008.1.2.1.99";
export const ENCAPSULATED_UNCOMPRESSED = "1.2.840.10008.1.2.1.98";
export const EXPLICIT_BE = "1.2.840.10008.1.2.2";
export const RLE = "1.2.840.10008.1.2.5";

/** Transfer syntax UIDs and their names (PS3.6 Annex A). */
export const TRANSFER_SYNTAX_NAMES: Record<string, string> = {
  [IMPLICIT_LE]: "Implicit VR Little Endian",
  [EXPLICIT_LE]: "Explicit VR Little Endian",
  [ENCAPSULATED_UNCOMPRESSED]: "Encapsulated Uncompressed Explicit VR Little Endian",
  [DEFLATED_LE]: "Deflated Explicit VR Little Endian",
  [EXPLICIT_BE]: "Explicit VR Big Endian",
  [RLE]: "RLE Lossless",
  "1.2.840.10008.1.2.4.50": "JPEG Baseline (Process 1)",
  "1.2.840.10008.1.2.4.51": "JPEG Extended (Process 2 & 4)",
  "1.2.840.10008.1.2.4.57": "JPEG Lossless, Non-Hierarchical (Process 14)",
  "1.2.840.10008.1.2.4.70": "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])",
  "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless Image Compression",
  "1.2.840.10008.1.2.4.81": "JPEG-LS Lossy (Near-Lossless) Image Compression",
  "1.2.840.10008.1.2.4.90": "JPEG 2000 Image Compression (Lossless Only)",
  "1.2.840.10008.1.2.4.91": "JPEG 2000 Image Compression",
  "1.2.840.10008.1.2.4.92": "JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)",
  "1.2.840.10008.1.2.4.93": "JPEG 2000 Part 2 Multi-component Image Compression",
  "1.2.840.10008.1.2.4.94": "JPIP Referenced",
  "1.2.840.10008.1.2.4.95": "JPIP Referenced Deflate",
  "1.2.840.10008.1.2.4.100": "MPEG2 Main Profile / Main Level",
  "1.2.840.10008.1.2.4.101": "MPEG2 Main Profile / High Level",
  "1.2.840.10008.1.2.4.102": "MPEG-4 AVC/H.264 High Profile / Level 4.1",
  "1.2.840.10008.1.2.4.103": "MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1",
  "1.2.840.10008.1.2.4.104": "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video",
  "1.2.840.10008.1.2.4.105": "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video",
  "1.2.840.10008.1.2.4.106": "MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2",
  "1.2.840.10008.1.2.4.107": "HEVC/H.265 Main Profile / Level 5.1",
  "1.2.840.10008.1.2.4.108": "HEVC/H.265 Main 10 Profile / Level 5.1",
  "1.2.840.10008.1.2.4.110": "JPEG XL Lossless",
  "1.2.840.10008.1.2.4.111": "JPEG XL JPEG Recompression",
  "1.2.840.10008.1.2.4.112": "JPEG XL",
  "1.2.840.10008.1.2.4.201": "High-Throughput JPEG 2000 Image Compression (Lossless Only)",
  "1.2.840.10008.1.2.4.202": "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)",
  "1.2.840.10008.1.2.4.203": "High-Throughput JPEG 2000 Image Compression",
  "1.2.840.10008.1.2.4.204": "JPIP HTJ2K Referenced",
  "1.2.840.10008.1.2.4.205": "JPIP HTJ2K Referenced Deflate",
};

const READABLE = new Set([IMPLICIT_LE, EXPLICIT_LE, DEFLATED_LE, EXPLICIT_BE, RLE, ENCAPSULATED_UNCOMPRESSED]);

/** The name of a transfer syntax UID (e.g. `"RLE Lossless"`), or `undefined` for an unknown UID. */
export function transferSyntaxName(uid: string): string | undefined {
  return TRANSFER_SYNTAX_NAMES[uid];
}

/** Whether `parseDicom` decodes pixel data in this transfer syntax. */
export function isTransferSyntaxSupported(uid: string): boolean {
  return READABLE.has(uid);
}

/** The message of whatever `dicom-parser` threw (an Error, a string, or `{ exception }`). */
export function problem(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === "string") return e;
  if (e && typeof e === "object" && "exception" in e) return problem((e as { exception: unknown }).exception);
  return String(e);
}

const VRS = new Set(
  "AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV".split(" "),
);

/** For a file without "DICM": the transfer syntax its first element suggests, or null if it is not DICOM. */
function guessBareSyntax(bytes: Uint8Array): string | null {
  if (bytes.length < 8) return null;
  const group = bytes[0] | (bytes[1] << 8);
  if (group !== 0x0002 && group !== 0x0008) return null;
  const vr = String.fromCharCode(bytes[4], bytes[5]);
  return VRS.has(vr) ? EXPLICIT_LE : IMPLICIT_LE;
}

function unsupportedSyntax(file: string, uid: string): DatasetError {
  const name = TRANSFER_SYNTAX_NAMES[uid];
  const what = name ? `${name} (${uid})` : `transfer syntax ${uid} (unknown UID)`;
  return new DatasetError(
    file,
    `${what} is not supported: meddiff decodes uncompressed, deflated and RLE Lossless DICOM only; convert the file ` +
      `first, e.g. \`gdcmconv --raw in.dcm out.dcm\` (GDCM), \`dcmdjpeg\` / \`dcmdjpls\` (DCMTK) or pydicom's ` +
      `\`ds.decompress(); ds.save_as(out)\``,
  );
}

/** The `dicom-parser` key of a tag: `x00280010`. */
export const tag = (g: number, e: number): string =>
  `x${g.toString(16).padStart(4, "0")}${e.toString(16).padStart(4, "0")}`;

/**
 * Parses the data set of a DICOM file (Part 10, or bare) with its transfer syntax; a deflated
 * data set is inflated with a cap of `limit` bytes.
 */
export function parseDataSet(bytes: Uint8Array, file: string, limit: number): { ds: DataSet; syntax: string } {
  const hasPreamble = bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 &&
    bytes[131] === 0x4d; // "DICM"
  let bareSyntax: string | null = null;
  if (!hasPreamble) {
    bareSyntax = guessBareSyntax(bytes);
    if (!bareSyntax) {
      throw new DatasetError(
        file,
        bytes.length < 132
          ? `not a DICOM file: only ${bytes.length} bytes, and they do not start a data set`
          : `not a DICOM file: no "DICM" marker at byte 128, and the first bytes do not start a data set`,
      );
    }
  }
  // The transfer syntax first, so that an unsupported codec is reported as such.
  let syntax = bareSyntax ?? "";
  if (hasPreamble) {
    let header: DataSet;
    try {
      header = dicomParser.readPart10Header(bytes);
    } catch (e) {
      throw new DatasetError(file, `truncated or corrupt file meta information: ${problem(e)}`, { cause: e });
    }
    const el = header.elements[tag(0x0002, 0x0010)];
    if (!el) throw new DatasetError(file, "the file meta information has no Transfer Syntax UID (0002,0010)");
    syntax = (header.string(tag(0x0002, 0x0010)) ?? "").replace(/\0/g, "").trim();
  }
  if (!READABLE.has(syntax)) throw unsupportedSyntax(file, syntax);
  try {
    const ds = dicomParser.parseDicom(bytes, {
      ...(bareSyntax ? { TransferSyntaxUID: bareSyntax } : {}),
      // dicom-parser parses the returned bytes from offset 0, so they are the data set alone (with
      // the preamble and meta group in front, a non-zero preamble would be parsed as elements).
      inflater: ((arr: Uint8Array, position: number): Uint8Array =>
        inflateRaw(arr.subarray(position), { file, what: "the deflated data set", limit })) as unknown as (
          arr: Uint8Array,
          position: number,
        ) => void,
    });
    if (syntax === DEFLATED_LE) {
      // the merged meta elements' offsets point into the file, not into the inflated bytes
      for (const key of Object.keys(ds.elements)) if (key.startsWith("x0002")) delete ds.elements[key];
    }
    return { ds, syntax };
  } catch (e) {
    if (e instanceof DatasetError) throw e; // from the inflater
    const partial = (e && typeof e === "object" && "dataSet" in e) ? (e as { dataSet?: DataSet }).dataSet : undefined;
    const px = partial?.elements?.[tag(0x7fe0, 0x0010)];
    if (px && px.dataOffset + px.length > partial!.byteArray.length) {
      throw new DatasetError(
        file,
        `truncated pixel data: Pixel Data (7FE0,0010) claims ${px.length} bytes at offset ${px.dataOffset}, but the ` +
          `file ends after ${partial!.byteArray.length} bytes`,
        { cause: e },
      );
    }
    throw new DatasetError(file, `cannot parse the DICOM data set (truncated or corrupt?): ${problem(e)}`, {
      cause: e,
    });
  }
}
