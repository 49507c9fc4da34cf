/**
 * Collects each bench's best time so a bench file can print rates and ratios when it ends.
 */

const best = new Map<string, number>();

/** Wraps a bench body so that its wall time (ms) is recorded under `name`. */
export function timed(name: string, fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    const t0 = performance.now();
    await fn();
    const ms = performance.now() - t0;
    best.set(name, Math.min(best.get(name) ?? Infinity, ms));
  };
}

/** Best recorded time of `name` in ms (undefined when it never ran). */
export function bestOf(name: string): number | undefined {
  return best.get(name);
}

/** Prints `lines` once the bench run is over (Deno.bench bodies all run before `unload`). */
export function atEnd(lines: () => string[]): void {
  globalThis.addEventListener("unload", () => console.log(lines().join("\n")));
}

/**
 * When `$BENCH_FIGURES` names a file, appends `figures()` to it once the run is over, one
 * `meddiff<TAB>key<TAB>ms` line per figure (undefined figures are left out); the PyTorch peers
 * append theirs under the same keys (`bench/_torch_timing.py`), and `bench/gpu_check.sh`
 * turns the file into its table. Nothing happens when the variable is unset.
 */
export function figuresAtEnd(figures: () => Record<string, number | undefined>): void {
  const path = Deno.env.get("BENCH_FIGURES");
  if (!path) return;
  globalThis.addEventListener("unload", () => {
    const lines = Object.entries(figures()).filter(([, ms]) => ms !== undefined && Number.isFinite(ms))
      .map(([key, ms]) => `meddiff\t${key}\t${ms!.toFixed(4)}\n`).join("");
    try {
      Deno.writeTextFileSync(path, lines, { append: true });
    } catch (e) {
      console.error(`BENCH_FIGURES: cannot append to ${path}: ${(e as Error).message}`);
    }
  });
}
