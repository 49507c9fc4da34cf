/**
 * The one place a reader infers a class count from labels, when nothing declares the classes
 * (an `.npz` that is not a known MedMNIST set, latents without class names). Inferring
 * K = max label + 1 turns one stray label 200 into a 201-class problem, so the labels must look
 * like class indices first: contiguous 0..K−1 (no gaps, no negative or fractional values), each
 * class with at least two examples. Otherwise {@linkcode inferClassCount} throws a
 * {@linkcode DatasetError} naming the file and the offending labels, or under
 * `labelCheck: "warn"` prints the same text with `console.warn` and goes on.
 * @module
 */
import { DatasetError } from "../util/errors.ts";

/** What to do with labels that do not look like class indices 0..K−1: `"error"` (default), `"warn"` or `"off"`. */
export type LabelCheck = "error" | "warn" | "off";

/** Options of {@linkcode inferClassCount}. */
export interface InferClassesOptions {
  /** The file (or data) the labels came from, for the message. */
  file: string;
  /** The labels' name inside it (e.g. `train_labels`); it becomes the error's `field`. */
  what?: string;
  /** What to do with suspicious labels (default `"error"`). */
  labelCheck?: LabelCheck;
}

/** More inferred classes than this is an error whatever `labelCheck` says (they would be mostly empty). */
export const MAX_INFERRED_CLASSES = 65536;

const LIST = 6;

/** Throws a RangeError naming `op` unless `check` is a {@linkcode LabelCheck} (or undefined). */
export function checkLabelCheckOption(check: unknown, op: string): void {
  if (check !== undefined && check !== "error" && check !== "warn" && check !== "off") {
    throw new RangeError(`${op}: labelCheck must be "error", "warn" or "off", got ${JSON.stringify(check)}`);
  }
}

/** `[0, 1, 2, 4, 200]` → `"0..2, 4 and 200"`. */
function ranges(sorted: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j === i ? `${sorted[i]}` : `${sorted[i]}..${sorted[j]}`);
    i = j + 1;
  }
  const shown = parts.length > LIST ? [...parts.slice(0, LIST), `${parts.length - LIST} more`] : parts;
  return shown.length === 1 ? shown[0] : `${shown.slice(0, -1).join(", ")} and ${shown.at(-1)}`;
}

function list(values: (number | string)[]): string {
  return values.length > LIST ? `${values.slice(0, LIST).join(", ")}, …` : values.join(", ");
}

/**
 * K for labels meant to be class indices 0..K−1: max label + 1 (0 when there are none), after
 * checking them. Gaps, negative or non-integer labels and classes with one example are
 * reported per `options.labelCheck`; more than {@linkcode MAX_INFERRED_CLASSES} is always an error.
 */
export function inferClassCount(labels: ArrayLike<number>, options: InferClassesOptions): number {
  const check = options.labelCheck ?? "error";
  checkLabelCheckOption(check, "inferClassCount");
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
  const values = [...counts.keys()].sort((a, b) => a - b);
  const valid = values.filter((v) => Number.isInteger(v) && v >= 0);
  const k = valid.length ? valid[valid.length - 1] + 1 : 0;
  const where = options.what ? `${options.what}: ` : "";
  if (k > MAX_INFERRED_CLASSES) {
    throw new DatasetError(
      options.file,
      `${where}label ${k - 1} would make ${k} classes (at most ${MAX_INFERRED_CLASSES} are inferred): ` +
        `labels ${ranges(valid)} are present; give the class names instead`,
      { field: options.what },
    );
  }
  if (check === "off") return k;
  // Gaps need no words of their own: the list of labels present shows them.
  const problems: string[] = [];
  const single = valid.filter((v) => counts.get(v) === 1);
  if (single.length) {
    problems.push(single.length > 1 ? `labels ${list(single)} occur once each` : `label ${single[0]} occurs once`);
  }
  const s = (n: number) => (n > 1 ? "s" : "");
  const neg = values.filter((v) => v < 0 && Number.isInteger(v));
  if (neg.length) problems.push(`negative label${s(neg.length)} ${list(neg.map((v) => `${v} (${counts.get(v)}×)`))}`);
  const frac = values.filter((v) => !Number.isInteger(v));
  if (frac.length) problems.push(`non-integer label${s(frac.length)} ${list(frac)}`);
  if (!problems.length && valid.length === k) return k;
  const present = valid.length > 1
    ? `labels ${ranges(valid)} are present`
    : valid.length
    ? `only label ${valid[0]} is present`
    : "no label is a class index";
  const message = `${where}${[...problems, present].join("; ")}: expected contiguous 0..K-1 with at least two ` +
    `examples each (give the class names, or labelCheck: "warn" to go on)`;
  if (check === "error") throw new DatasetError(options.file, message, { field: options.what });
  console.warn(`${options.file}: ${message}`);
  return k;
}
