/**
 * Writes `core/backend/tuned_llvmpipe.ts`, the kernel choices shipped for Mesa llvmpipe, from
 * the autotune cache the benchmarks filled on this machine (see core/backend/tuned_defaults.ts).
 *
 *   XDG_RUNTIME_DIR=/tmp deno run -A scripts/ship_autotune.ts [path/to/autotune.json]
 *
 * Only the llvmpipe adapter's entries are taken; every complete measurement is kept (a partial
 * one, cut off by the time budget, is left for a later run to finish).
 */
import { cacheDir } from "../core/backend/autotune.ts";

const path = Deno.args[0] ?? `${cacheDir()}/autotune.json`;
const file = JSON.parse(await Deno.readTextFile(path)) as {
  adapters: Record<string, Record<string, { choice: string; ms: Record<string, number>; partial?: boolean }>>;
};
const adapter = Object.keys(file.adapters).find((k) => /llvmpipe/.test(k));
if (!adapter) throw new Error(`${path}: no llvmpipe adapter in the cache (adapters: ${Object.keys(file.adapters)})`);
const choices = Object.entries(file.adapters[adapter])
  .filter(([, r]) => Object.keys(r.ms).length > 0 && !r.partial)
  .sort(([a], [b]) => (a < b ? -1 : 1));
const source = `measured on ${adapter.split("|").pop()}, 2 cores, ${new Date().toISOString().slice(0, 10)}`;
const lines = [
  "// Written by scripts/ship_autotune.ts from the autotune cache of the benchmarks; do not edit by hand.",
  'import type { ShippedTuning } from "./tuned_defaults.ts";',
  "",
  "/** Kernel choices measured on Mesa llvmpipe (any LLVM version and vector width). */",
  "export const SHIPPED_LLVMPIPE: ShippedTuning = {",
  "  adapter: /llvmpipe/,",
  `  source: ${JSON.stringify(source)},`,
  "  choices: {",
  ...choices.map(([k, r]) => `    ${JSON.stringify(k)}: ${JSON.stringify(r.choice)},`),
  "  },",
  "};",
  "",
];
const out = new URL("../core/backend/tuned_llvmpipe.ts", import.meta.url);
await Deno.writeTextFile(out, lines.join("\n"));
console.log(`${choices.length} choices from ${path} → ${out.pathname}`);
