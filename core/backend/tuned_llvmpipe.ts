// Written by scripts/ship_autotune.ts from the autotune cache of the benchmarks; do not edit by hand.
import type { ShippedTuning } from "./tuned_defaults.ts";

/** Kernel choices measured on Mesa llvmpipe (any LLVM version and vector width). */
export const SHIPPED_LLVMPIPE: ShippedTuning = {
  adapter: /llvmpipe/,
  source: "none yet",
  choices: {},
};
