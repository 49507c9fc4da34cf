/**
 * The errors the layers share: {@linkcode DatasetError} (a bad input file), its
 * {@linkcode SizeLimitError} (more decoded data than the limit), {@linkcode WriteError} (a file
 * that could not be written) and {@linkcode OptionError} (a bad constructor option).
 * @module
 */

/** Options of {@linkcode DatasetError}: the cause, and the header field or key at fault. */
export interface DatasetErrorOptions extends ErrorOptions {
  /** The field, tag, member or key that is wrong (`dim[3]`, `(0028,0010) Rows`, `train_images.npy`). */
  field?: string;
}

/** A problem with one input file: the message names the file and what was wrong with it. */
export class DatasetError extends Error {
  /** The offending file (or entry) path. */
  readonly file: string;
  /** The problem, without the file name. */
  readonly problem: string;
  /** The header field, tag, member or key at fault, when one is. */
  readonly field?: string;
  /** Builds `"<file>: <problem>"`. */
  constructor(file: string, problem: string, options?: DatasetErrorOptions) {
    super(`${file}: ${problem}`, options);
    this.name = "DatasetError";
    this.file = file;
    this.problem = problem;
    this.field = options?.field;
  }
}

/**
 * `err` as a {@linkcode DatasetError} about `file`: a DatasetError passes through; anything else
 * (say a RangeError from a DataView reading past malformed bytes) is wrapped, keeping the cause.
 */
export function asDatasetError(file: string, err: unknown, problem = "malformed data"): DatasetError {
  if (err instanceof DatasetError) return err;
  return new DatasetError(file, `${problem} (${err instanceof Error ? err.message : String(err)})`, { cause: err });
}

/**
 * A file that declares (or inflates to) more decoded data than the decode limit allows: a
 * decompression bomb, or a genuinely huge file read with too small a limit. The message gives
 * both sizes and how to raise the limit.
 */
export class SizeLimitError extends DatasetError {
  /** Bytes the file declares or was about to produce. */
  readonly declared: number;
  /** The limit in force, in bytes. */
  readonly limit: number;
  /** `what` leads into the size, e.g. `"the header declares 512×1024×1024 int16 voxels:"`. */
  constructor(file: string, what: string, declared: number, limit: number, options?: DatasetErrorOptions) {
    super(
      file,
      `${what} ${formatBytes(declared)} of decoded data, over the limit of ${formatBytes(limit)} ` +
        `(raise it with the maxDecodedBytes option or the MEDDIFF_MAX_DECODED_BYTES environment variable)`,
      options,
    );
    this.name = "SizeLimitError";
    this.declared = declared;
    this.limit = limit;
  }
}

/**
 * A file that could not be written (disk full, no permission, a folder in the way): names the
 * file and what was being written.
 */
export class WriteError extends Error {
  /** The file that could not be written. */
  readonly file: string;
  /** Builds `"<file>: cannot write <what> (<cause's message>)"`. */
  constructor(file: string, what: string, cause: unknown) {
    super(`${file}: cannot write ${what} (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
    this.name = "WriteError";
    this.file = file;
  }
}

/** `1234567890` → `"1.15 GiB (1,234,567,890 bytes)"`. */
export function formatBytes(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const exact = Number.isSafeInteger(n) ? n.toLocaleString("en-US") : n.toExponential(3);
  return u === 0 ? `${exact} bytes` : `${v.toFixed(2)} ${units[u]} (${exact} bytes)`;
}

/**
 * A constructor option that cannot work (a model's option validation raises it): `option` names
 * it as the options object spells it (`attentionResolutions`, `channelMults[1]`), so a task can
 * report the configuration key it came from.
 */
export class OptionError extends RangeError {
  /** The option, as the options object spells it (an element as `name[i]`). */
  readonly option: string;
  /** The problem, without the owner's name. */
  readonly problem: string;
  /** Builds `"<owner>: <problem>"`, e.g. owner `UNet`. */
  constructor(owner: string, option: string, problem: string, options?: ErrorOptions) {
    super(`${owner}: ${problem}`, options);
    this.name = "OptionError";
    this.option = option;
    this.problem = problem;
  }
}

/** `v` when it is a positive integer; otherwise an {@linkcode OptionError} of `owner` naming option `name`. */
export function positiveIntOption(owner: string, name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new OptionError(owner, name, `${name} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}
