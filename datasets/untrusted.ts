/**
 * What the volume readers (NIfTI, DICOM) do with suspicious results of an untrusted file:
 * values that decode to NaN or ±Inf (a scale factor that overflows float32, or float data that
 * already holds them) and stray exceptions (an allocation failure, a library's own error), which
 * would otherwise poison a training run silently or surface without the file's name.
 * @module
 */
import { DatasetError } from "./types.ts";

/**
 * What a reader does when values come out NaN or ±Inf: `"warn"` (default) prints one
 * `console.warn` line naming the file, the field and the count; `"error"` throws a
 * {@linkcode DatasetError}; `"ignore"` keeps them silently.
 */
export type NonFinitePolicy = "warn" | "error" | "ignore";

/** The option as given, checked (default `"warn"`); a caller's mistake is a RangeError, not a file's. */
export function nonFinitePolicy(option: unknown): NonFinitePolicy {
  if (option === undefined) return "warn";
  if (option === "warn" || option === "error" || option === "ignore") return option;
  throw new RangeError(`nonFinite must be "warn", "error" or "ignore", got ${JSON.stringify(option)}`);
}

/** How many of `data[start..end)` are NaN or ±Inf. */
export function countNonFinite(data: Float32Array, start = 0, end: number = data.length): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    const x = data[i];
    if (x - x !== 0) n++; // NaN − NaN and Inf − Inf are NaN
  }
  return n;
}

/**
 * Acts on `count` non-finite values out of `total` per `policy`. `how` finishes the sentence
 * "N of M values are NaN or ±Inf …" (e.g. `"after scaling by scl_slope = 3e+38"`).
 */
export function reportNonFinite(
  file: string,
  field: string,
  how: string,
  count: number,
  total: number,
  policy: NonFinitePolicy,
): void {
  if (count === 0 || policy === "ignore") return;
  const problem = `${count} of ${total} values are NaN or ±Inf ${how}`;
  if (policy === "error") throw new DatasetError(file, problem, { field });
  console.warn(`${file}: ${problem} (${field}); nonFinite: "error" rejects such files, "ignore" keeps them quietly`);
}

/** `err` as a {@linkcode DatasetError} naming `file` (an allocation failure, a library's own exception). */
export function asDatasetError(file: string, err: unknown): DatasetError {
  if (err instanceof DatasetError) return err;
  const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new DatasetError(file, `cannot decode the file (${why})`, { cause: err });
}
