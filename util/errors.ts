/** The error every file reader raises: its message names the file and what was wrong with it. */

/** A problem with one input file: the message names the file and what was wrong with it. */
export class DatasetError extends Error {
  /** The offending file (or entry) path. */
  readonly file: string;
  /** The problem, without the file name. */
  readonly problem: string;
  /** Builds `"<file>: <problem>"`. */
  constructor(file: string, problem: string, options?: ErrorOptions) {
    super(`${file}: ${problem}`, options);
    this.name = "DatasetError";
    this.file = file;
    this.problem = problem;
  }
}
