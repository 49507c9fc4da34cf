/**
 * Kernel choices measured on known adapters and shipped with the framework, so that a first
 * run there starts tuned instead of spending minutes measuring (see `autotune.ts`). A user's
 * own cache entry always wins over a shipped one.
 *
 * The tables are written by `deno run -A scripts/ship_autotune.ts` from an `autotune.json`
 * filled by the benchmarks on that adapter; re-run it when kernels or shape keys change.
 */
import { SHIPPED_LLVMPIPE } from "./tuned_llvmpipe.ts";

/** Choices measured on one adapter. */
export interface ShippedTuning {
  /** Matches the adapter key (`vendor|architecture|device|description`). */
  adapter: RegExp;
  /** When and with what they were measured. */
  source: string;
  /** Winner per `op|shape key`. */
  choices: Readonly<Record<string, string>>;
}

const SHIPPED: ShippedTuning[] = [SHIPPED_LLVMPIPE];

/**
 * Adds a table of choices (e.g. measured once on a cluster's GPU model and shipped with a
 * compiled binary); it is consulted before the built-in ones. Returns a function that removes it.
 */
export function registerShippedTuning(t: ShippedTuning): () => void {
  SHIPPED.unshift(t);
  return () => {
    const i = SHIPPED.indexOf(t);
    if (i >= 0) SHIPPED.splice(i, 1);
  };
}

/** The shipped choice for `fullKey` (`op|shape key`) on the adapter `adapterKey`, if any. */
export function shippedChoice(adapterKey: string, fullKey: string): string | undefined {
  for (const t of SHIPPED) {
    if (t.adapter.test(adapterKey) && Object.hasOwn(t.choices, fullKey)) return t.choices[fullKey];
  }
  return undefined;
}
