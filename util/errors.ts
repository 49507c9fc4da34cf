/**
 * The errors the layers share: {@linkcode DatasetError} (a bad input file) and
 * {@linkcode OptionError} (a bad constructor option of a model or layer).
 * @module
 */

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
