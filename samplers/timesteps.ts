/**
 * Inference timestep spacing: which descending training timesteps `setTimesteps(n)` picks
 * (diffusers' `timestep_spacing`), and the check every timestep list passes.
 * @module
 */
import { roundHalfEven } from "../core/numeric.ts";
import { checkNumTrainTimesteps, linspace64 } from "./noise_schedule.ts";

/** How `setTimesteps(n)` spreads n inference steps over the training timesteps (diffusers' `timestep_spacing`). */
export type TimestepSpacing = "leading" | "trailing" | "linspace";

/**
 * The descending inference timesteps diffusers' `set_timesteps` picks for `numInferenceSteps`
 * out of `numTrainTimesteps` (`leading`: multiples of ⌊T/n⌋ plus `stepsOffset`; `trailing`:
 * round(T − i·T/n) − 1; `linspace`: round(linspace(0, T−1, n)), NumPy's half-to-even rounding).
 */
export function spacedTimesteps(
  timestepSpacing: TimestepSpacing,
  numTrainTimesteps: number,
  numInferenceSteps: number,
  stepsOffset = 0,
): Int32Array {
  checkNumTrainTimesteps(numTrainTimesteps, "spacedTimesteps");
  const T = numTrainTimesteps, n = numInferenceSteps;
  if (!Number.isInteger(n) || n < 1 || n > T) {
    throw new RangeError(
      `setTimesteps: numInferenceSteps must be an integer in [1, numTrainTimesteps = ${T}], got ${n}`,
    );
  }
  if (!Number.isInteger(stepsOffset) || stepsOffset < 0) {
    throw new RangeError(`setTimesteps: stepsOffset must be a non-negative integer, got ${stepsOffset}`);
  }
  const out = new Int32Array(n);
  switch (timestepSpacing) {
    case "leading": {
      const ratio = Math.floor(T / n);
      for (let i = 0; i < n; i++) out[i] = (n - 1 - i) * ratio + stepsOffset;
      break;
    }
    case "trailing": {
      // np.arange(T, 0, -T/n): NumPy steps by (T − T/n) − T, not by −T/n.
      const delta = (T - T / n) - T;
      for (let i = 0; i < n; i++) out[i] = roundHalfEven(T + i * delta) - 1;
      break;
    }
    case "linspace": {
      const ls = linspace64(0, T - 1, n);
      for (let i = 0; i < n; i++) out[i] = roundHalfEven(ls[n - 1 - i]);
      break;
    }
    default:
      throw new RangeError(
        `setTimesteps: timestepSpacing must be "leading", "trailing" or "linspace", got ${
          JSON.stringify(timestepSpacing)
        }`,
      );
  }
  checkTimestepList(out, T, "setTimesteps");
  return out;
}

/** Throws a RangeError naming `op` unless `ts` is strictly descending inside [0, T). */
export function checkTimestepList(ts: Int32Array, T: number, op: string): void {
  for (let i = 0; i < ts.length; i++) {
    if (ts[i] < 0 || ts[i] >= T) {
      throw new RangeError(`${op}: timestep ${ts[i]} (index ${i}) is outside [0, ${T}); lower stepsOffset?`);
    }
    if (i > 0 && ts[i] >= ts[i - 1]) {
      throw new RangeError(`${op}: timesteps must be strictly descending, got ${ts[i - 1]} then ${ts[i]}`);
    }
  }
}
