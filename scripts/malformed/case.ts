/**
 * One file of the malformed corpus and what reading it must do.
 * @module
 */

export { concatBytes as concat } from "../../util/bytes.ts";

/** Which public reader the corpus test runs over a case. */
export type CorpusReader =
  | "npz" // readNpz: every member
  | "medmnist" // MedMnist.open on every split
  | "nifti" // readNifti
  | "dicom" // readDicom
  | "image" // readRasterFile
  | "imagefolder" // ImageFolder over a folder, every sample read
  | "csv" // CsvImageDataset over a CSV beside its images, every sample read
  | "safetensors" // parseSafetensors on the file's bytes
  | "checkpoint" // loadCheckpoint into a small model and optimizer
  | "config" // loadConfig of the DDPM task's schema
  | "train"; // `deno task train --config <file>` in a child process

/** What the reader must do: load, load with a warning, or fail with this error type. */
export type CorpusExpect = "ok" | "warn" | "DatasetError" | "SizeLimitError" | "ConfigError";

/** One corpus case. */
export interface CorpusCase {
  /** The file or folder, relative to the corpus folder. */
  path: string;
  /** The reader that opens it. */
  reader: CorpusReader;
  /** What is wrong with it (or "valid"). */
  defect: string;
  /** The outcome the reader must give. */
  expect: CorpusExpect;
  /** For `train` cases: the process exit code expected (1 bad data, 2 bad config). */
  exitCode?: number;
  /** For `train` cases: what the one line must name (default: the config file). */
  names?: string;
}

/** Writes one file under the corpus folder and records its case. */
export class CorpusWriter {
  readonly cases: CorpusCase[] = [];
  constructor(readonly dir: string) {}

  /** Writes `bytes` (or text) to `path` and records the case. */
  async file(path: string, bytes: Uint8Array | string, c: Omit<CorpusCase, "path">): Promise<void> {
    const full = `${this.dir}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    if (typeof bytes === "string") await Deno.writeTextFile(full, bytes);
    else await Deno.writeFile(full, bytes);
    this.cases.push({ path, ...c });
  }

  /** Writes a helper file that is not itself a case (an image a CSV points at). */
  async extra(path: string, bytes: Uint8Array | string): Promise<void> {
    const full = `${this.dir}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    if (typeof bytes === "string") await Deno.writeTextFile(full, bytes);
    else await Deno.writeFile(full, bytes);
  }

  /** Records a case for a folder written with {@linkcode extra}. */
  folder(path: string, c: Omit<CorpusCase, "path">): void {
    this.cases.push({ path, ...c });
  }
}

/** A copy of `bytes` with byte `at` XOR-ed with `mask` (a bit flip). */
export function flip(bytes: Uint8Array, at: number, mask = 0x01): Uint8Array {
  const out = bytes.slice();
  out[at < 0 ? out.length + at : at] ^= mask;
  return out;
}
