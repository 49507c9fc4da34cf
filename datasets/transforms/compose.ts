/**
 * Combinators over {@linkcode Transform}s: {@linkcode compose} chains them, {@linkcode randomApply}
 * applies one with a probability, {@linkcode randomChoice} picks one of several. Each draws only
 * from the `rng` it is given, so a sample's augmentation is fixed by the rng state.
 * @module
 */
import type { Rng } from "../../util/rng.ts";
import type { Sample, Transform } from "../types.ts";
import { checkProbability } from "./_image.ts";

/** The transform lists {@linkcode compose} accepts: the first may take another input type, the last give another output. */
export type TransformChain<A, B> =
  | readonly []
  | readonly [Transform<A, B>]
  | readonly [Transform<A, Sample>, ...Transform<Sample, Sample>[], Transform<Sample, B>];

function checkTransforms(transforms: readonly unknown[], op: string): void {
  if (!Array.isArray(transforms)) throw new TypeError(`${op}: expected an array of transforms, got ${transforms}`);
  transforms.forEach((t, i) => {
    if (typeof t !== "function") throw new TypeError(`${op}: transforms[${i}] is not a function (got ${typeof t})`);
  });
}

/**
 * Chains transforms left to right, passing the same `rng` along, so their draws follow one
 * another in list order. Synchronous steps stay synchronous: the result is a promise only once
 * a step returns one.
 *
 * @example
 * ```ts
 * const train = compose([decodeImage({ channels: 3 }), randomHorizontalFlip(), toTensor()]);
 * const out = await train(sample, Rng.derive(seed, epoch, index));
 * ```
 */
export function compose<A = Sample, B = Sample>(transforms: TransformChain<A, B>): Transform<A, B> {
  checkTransforms(transforms, "compose");
  const list = [...transforms] as unknown as ((s: unknown, rng: Rng) => unknown)[];
  return (sample: A, rng: Rng): B | Promise<B> => {
    let value: unknown = sample;
    for (let i = 0; i < list.length; i++) {
      value = list[i](value, rng);
      if (value instanceof Promise) {
        const rest = list.slice(i + 1);
        return value.then(async (v) => {
          let w: unknown = v;
          for (const t of rest) w = await t(w, rng);
          return w as B;
        });
      }
    }
    return value as B;
  };
}

/** Applies `transform` with probability `p` (one draw from `rng`, then the transform's own draws). */
export function randomApply(transform: Transform<Sample, Sample>, p: number = 0.5): Transform<Sample, Sample> {
  checkTransforms([transform], "randomApply");
  checkProbability(p, "randomApply: p");
  return (sample: Sample, rng: Rng): Sample | Promise<Sample> => rng.random() < p ? transform(sample, rng) : sample;
}

/** Applies one of `transforms`, picked uniformly (or by `weights`) with one draw from `rng`. */
export function randomChoice(
  transforms: readonly Transform<Sample, Sample>[],
  weights?: readonly number[],
): Transform<Sample, Sample> {
  checkTransforms(transforms, "randomChoice");
  if (transforms.length === 0) throw new RangeError("randomChoice: transforms must not be empty");
  const w = weights ?? transforms.map(() => 1);
  if (w.length !== transforms.length || w.some((v) => !(v >= 0)) || !(w.reduce((a, b) => a + b, 0) > 0)) {
    throw new RangeError(
      `randomChoice: weights must be ${transforms.length} non-negative numbers with a positive sum, got [${w}]`,
    );
  }
  const total = w.reduce((a, b) => a + b, 0);
  const last = w.findLastIndex((v) => v > 0);
  return (sample: Sample, rng: Rng): Sample | Promise<Sample> => {
    let u = rng.random() * total;
    for (let i = 0; i < last; i++) {
      u -= w[i];
      if (u < 0 && w[i] > 0) return transforms[i](sample, rng);
    }
    return transforms[last](sample, rng);
  };
}
