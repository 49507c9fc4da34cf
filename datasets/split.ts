/**
 * Train/validation splits: {@linkcode stratifiedSplit} keeps each class's share in both parts
 * (within one sample of exact), {@linkcode randomSplit} ignores classes; both are deterministic
 * in their seed. {@linkcode saveSplit} / {@linkcode loadSplit} store a split as JSON (written
 * atomically) so that a run, and any run resumed or repeated from it, uses the same indices.
 *
 * @example
 * ```ts
 * const split = stratifiedSplit(await dataset.labels!(), { valFraction: 0.1, seed: 0 });
 * await saveSplit("runs/a/split.json", split);
 * const train = new Subset(dataset, split.train);
 * ```
 * @module
 */
import { writeJsonAtomic } from "../util/io.ts";
import { Rng } from "../util/rng.ts";

/** Indices of the samples in each part of a split, ascending. */
export interface Split {
  /** Indices of the training samples. */
  train: Int32Array;
  /** Indices of the validation samples. */
  val: Int32Array;
}

/** Options of {@linkcode stratifiedSplit} and {@linkcode randomSplit}. */
export interface SplitOptions {
  /** Share of samples that go to validation, in [0, 1]. */
  valFraction: number;
  /** Seed of the shuffle that picks which samples go where (default 0). */
  seed?: number;
}

function checkFraction(f: unknown, op: string): number {
  if (typeof f !== "number" || !(f >= 0 && f <= 1)) {
    throw new RangeError(`${op}: valFraction must be a number in [0, 1], got ${f}`);
  }
  return f;
}

function checkSeed(seed: unknown, op: string): number {
  if (seed === undefined) return 0;
  if (typeof seed !== "number" || !Number.isInteger(seed)) {
    throw new TypeError(`${op}: seed must be an integer, got ${seed}`);
  }
  return seed;
}

function sorted(values: number[]): Int32Array {
  return Int32Array.from(values).sort();
}

/**
 * Splits sample indices so that every class has the same share in validation as overall:
 * class `c` with `n_c` samples sends `floor(f·n_c)` or `ceil(f·n_c)` of them to validation,
 * and the validation total is `round(f·N)` (largest-remainder apportionment; ties broken by
 * the seed). Which samples of a class go to validation is a seeded shuffle. Labels are any
 * integers (e.g. -1 for unlabelled samples forms a group of its own).
 */
export function stratifiedSplit(labels: ArrayLike<number>, options: SplitOptions): Split {
  const op = "stratifiedSplit";
  const f = checkFraction(options?.valFraction, op);
  const seed = checkSeed(options.seed, op);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!Number.isInteger(l)) throw new TypeError(`${op}: labels[${i}] must be an integer, got ${l}`);
    let g = groups.get(l);
    if (!g) groups.set(l, g = []);
    g.push(i);
  }
  const keys = [...groups.keys()].sort((a, b) => a - b);
  const rng = Rng.derive(seed, 0x5e1);
  // Largest-remainder apportionment of round(f·N) validation samples over the classes.
  const quota = keys.map((k) => f * groups.get(k)!.length);
  const counts = quota.map(Math.floor);
  let remaining = Math.round(f * labels.length) - counts.reduce((a, b) => a + b, 0);
  const tieBreak = keys.map(() => rng.random());
  const order = keys.map((_, j) => j).sort((a, b) => {
    const ra = quota[a] - counts[a], rb = quota[b] - counts[b];
    return rb - ra || tieBreak[a] - tieBreak[b];
  });
  for (const j of order) {
    if (remaining <= 0) break;
    if (quota[j] > counts[j]) {
      counts[j]++;
      remaining--;
    }
  }
  const train: number[] = [], val: number[] = [];
  keys.forEach((k, j) => {
    const members = rng.shuffle(groups.get(k)!.slice());
    for (let i = 0; i < members.length; i++) (i < counts[j] ? val : train).push(members[i]);
  });
  return { train: sorted(train), val: sorted(val) };
}

/** Splits `0..n-1` at random: `round(valFraction·n)` indices go to validation, the rest to training. */
export function randomSplit(n: number, options: SplitOptions): Split {
  const op = "randomSplit";
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${op}: n must be a non-negative integer, got ${n}`);
  const f = checkFraction(options?.valFraction, op);
  const seed = checkSeed(options.seed, op);
  const perm = Rng.derive(seed, 0x5e2).permutation(n);
  const nVal = Math.round(f * n);
  return { train: perm.slice(nVal).sort(), val: perm.slice(0, nVal).sort() };
}

const FORMAT = "meddiff-split";

/** Extra facts stored with a split, checked again by {@linkcode loadSplit}. */
export interface SplitInfo {
  /** Length of the dataset the indices refer to. */
  datasetLength?: number;
  /** Seed the split was made with (informational). */
  seed?: number;
  /** Validation fraction the split was made with (informational). */
  valFraction?: number;
}

/** Saves a split as JSON (`{format, version, train, val, ...info}`), atomically. */
export async function saveSplit(path: string, split: Split, info: SplitInfo = {}): Promise<void> {
  checkSplit(split, path, info.datasetLength);
  await writeJsonAtomic(path, {
    format: FORMAT,
    version: 1,
    ...info,
    train: Array.from(split.train),
    val: Array.from(split.val),
  });
}

/**
 * Loads a split saved by {@linkcode saveSplit}. With `datasetLength`, checks that the file was
 * made for a dataset of that length (when it says) and that every index is below it.
 */
export async function loadSplit(path: string, options: { datasetLength?: number } = {}): Promise<Split & SplitInfo> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read the split file (${e instanceof Error ? e.message : e})`, { cause: e });
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${e instanceof Error ? e.message : e})`, { cause: e });
  }
  if (raw === null || typeof raw !== "object" || raw.format !== FORMAT) {
    throw new Error(`${path}: not a split file (expected "format": "${FORMAT}")`);
  }
  const toIndices = (key: string): Int32Array => {
    const v = raw[key];
    if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 31)) {
      throw new Error(`${path}: "${key}" must be an array of non-negative integer indices`);
    }
    return Int32Array.from(v);
  };
  const out: Split & SplitInfo = { train: toIndices("train"), val: toIndices("val") };
  for (const key of ["datasetLength", "seed", "valFraction"] as const) {
    if (typeof raw[key] === "number") out[key] = raw[key] as number;
  }
  const want = options.datasetLength;
  if (want !== undefined && out.datasetLength !== undefined && out.datasetLength !== want) {
    throw new Error(`${path}: the split was made for a dataset of ${out.datasetLength} samples, this one has ${want}`);
  }
  checkSplit(out, path, want);
  return out;
}

function checkSplit(split: Split, where: string, datasetLength?: number): void {
  const seen = new Set<number>();
  for (const [name, idx] of [["train", split.train], ["val", split.val]] as const) {
    for (const i of idx) {
      if (datasetLength !== undefined && i >= datasetLength) {
        throw new RangeError(`${where}: ${name} index ${i} is out of range for a dataset of ${datasetLength} samples`);
      }
      if (seen.has(i)) throw new RangeError(`${where}: index ${i} appears twice (train and val must be disjoint)`);
      seen.add(i);
    }
  }
}
