/** Collects each bench's best time so a bench file can print rates and ratios when it ends. */

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
