/**
 * Per-adapter kernel autotuning, shared by every op with several kernel variants.
 *
 * Ops are synchronous but timing a kernel needs `await synchronize()`, so a cache miss never
 * tunes inline: `choose()` returns undefined (the op runs its default variant) and queues the
 * measurement in the background, on buffers of its own (no tensors, so no scope can free
 * them). `tune()` measures right away, for benchmarks or to warm up before a run. Winners are
 * kept in memory and persisted, keyed by the adapter description, to `autotune.json` in
 * `$MEDDIFF_CACHE_DIR`, `$XDG_CACHE_HOME/meddiff` or `~/.cache/meddiff`. Without read/write
 * permission the cache silently stays in memory.
 *
 * What a first run pays: background measurements run one at a time and stop once
 * `MEDDIFF_AUTOTUNE_BUDGET` seconds (default 40) of measuring have been spent in the process
 * (a measurement that reaches the limit half-way is dropped: on a first run most of it is the
 * compilation of the candidates, which Mesa caches for the next run); the shapes left over keep
 * their default kernel for this run and are measured by the next runs, each within its own
 * budget, until the cache is complete. On adapters whose choices
 * ship with the framework (`tuned_defaults.ts`), a shape with no cache entry uses the shipped
 * choice and is not measured (`MEDDIFF_AUTOTUNE_SHIPPED=0` measures instead).
 */
import { writeFileAtomicSync } from "../../util/io.ts";
import { gpu, synchronize } from "../device.ts";
import { envFlag as envVar } from "../env.ts";
import { shippedChoice } from "./tuned_defaults.ts";

/** What `tune()` needs to time the candidates of one (op, key). */
export interface TuneBench {
  /** Records one run of `candidate` (dispatches only; the tuner synchronizes). */
  run(candidate: string): void;
  /** Frees the bench's buffers. */
  dispose(): void;
}

/** A tuning result: the winner and the best time (ms) of each candidate measured. */
export interface TuneResult {
  /** Fastest candidate. */
  choice: string;
  /** Best time per candidate in milliseconds (one run's time for those far slower than the best). */
  ms: Record<string, number>;
  /** Not every candidate was timed yet (the budget ran out): `choice` is the best so far. */
  partial?: boolean;
}

interface CacheFile {
  version: 1;
  adapters: Record<string, Record<string, TuneResult>>;
}

const FILE = "autotune.json";
let memory: Map<string, TuneResult> | undefined;
const inFlight = new Map<string, Promise<TuneResult>>();

/** False when `MEDDIFF_AUTOTUNE=0` (ops then use their per-adapter defaults). */
export function autotuneEnabled(): boolean {
  const v = envVar("MEDDIFF_AUTOTUNE");
  return v === undefined || !/^(0|false|off|no)$/i.test(v.trim());
}

/** The directory of the persistent cache, or undefined when no location can be determined. */
export function cacheDir(): string | undefined {
  const explicit = envVar("MEDDIFF_CACHE_DIR");
  if (explicit) return explicit;
  const xdg = envVar("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/meddiff`;
  const home = envVar("HOME") ?? envVar("USERPROFILE");
  return home ? `${home}/.cache/meddiff` : undefined;
}

function permitted(name: "read" | "write", path: string): boolean {
  try {
    return Deno.permissions.querySync({ name, path }).state === "granted";
  } catch {
    return false;
  }
}

function isResult(v: unknown): v is TuneResult {
  const r = v as TuneResult;
  return typeof v === "object" && v !== null && typeof r.choice === "string" && typeof r.ms === "object" &&
    r.ms !== null;
}

/** Reads the cache file; anything missing, unreadable or malformed counts as empty. */
function readFile(path: string): CacheFile {
  const empty: CacheFile = { version: 1, adapters: {} };
  if (!permitted("read", path)) return empty;
  try {
    const parsed = JSON.parse(Deno.readTextFileSync(path));
    if (parsed?.version !== 1 || typeof parsed.adapters !== "object" || parsed.adapters === null) return empty;
    return parsed as CacheFile;
  } catch {
    return empty;
  }
}

function entries(): Map<string, TuneResult> {
  if (memory) return memory;
  memory = new Map();
  const dir = cacheDir();
  if (!dir) return memory;
  const saved = readFile(`${dir}/${FILE}`).adapters[gpu().adapterKey];
  if (typeof saved === "object" && saved !== null) {
    for (const [k, r] of Object.entries(saved)) if (isResult(r)) memory.set(k, r);
  }
  return memory;
}

/** Merges this adapter's results into the file: write a temp file, then rename over it (atomic). */
function persist(): void {
  const dir = cacheDir();
  if (!dir || !memory) return;
  const path = `${dir}/${FILE}`;
  if (!permitted("write", dir)) return;
  try {
    Deno.mkdirSync(dir, { recursive: true });
    const file = readFile(path);
    file.adapters[gpu().adapterKey] = Object.fromEntries(memory);
    writeFileAtomicSync(path, JSON.stringify(file, null, 1));
  } catch {
    // Read-only or full file system: the in-memory cache still works.
  }
}

const fullKey = (op: string, key: string): string => `${op}|${key}`;

/** The cached result for (op, key) on this adapter, if any. */
export function cachedResult(op: string, key: string): TuneResult | undefined {
  return entries().get(fullKey(op, key));
}

/** Seconds of background measuring one process may spend (`MEDDIFF_AUTOTUNE_BUDGET`, default 40). */
export function autotuneBudgetSeconds(): number {
  const v = envVar("MEDDIFF_AUTOTUNE_BUDGET");
  const s = v === undefined ? NaN : Number(v);
  return Number.isFinite(s) && s >= 0 ? s : 40;
}

function shippedEnabled(): boolean {
  const v = envVar("MEDDIFF_AUTOTUNE_SHIPPED");
  return v === undefined || !/^(0|false|off|no)$/i.test(v.trim());
}

/** What background tuning did in this process (for the run's log). */
export interface AutotuneReport {
  /** Shapes measured. */
  measured: number;
  /** Milliseconds spent measuring them. */
  ms: number;
  /** Shapes left at their default kernel because the budget was spent (measured by a later run). */
  deferred: number;
  /** Shapes that used a choice shipped for this adapter. */
  shipped: number;
}

const report: AutotuneReport = { measured: 0, ms: 0, deferred: 0, shipped: 0 };
const deferred = new Set<string>();
const shippedUsed = new Set<string>();
/** Background measurements run one after the other (two at once would time each other). */
let queue: Promise<unknown> = Promise.resolve();

/** What background tuning has done so far in this process. */
export function autotuneReport(): AutotuneReport {
  return { ...report };
}

/** Milliseconds one timed batch of runs aims for (a synchronize costs ~10 ms on some adapters). */
const TARGET_MS = 100;
const MAX_INNER = 16;
const REPS = 3;
/** A candidate whose first timed run is this many times slower than the best so far is dropped. */
const PRUNE_FACTOR = 6;

/**
 * Times each candidate (a warm-up run, then the best of a few batches of runs, each batch
 * closed by `synchronize()`), stores and persists the fastest. Concurrent calls for one key share a run.
 */
export function tune(
  op: string,
  key: string,
  candidates: readonly string[],
  makeBench: () => TuneBench,
): Promise<TuneResult> {
  const k = fullKey(op, key);
  const running = inFlight.get(k);
  if (running) return running;
  const p = measure(candidates, makeBench).then((r) => {
    entries().set(k, r);
    persist();
    return r;
  }).finally(() => inFlight.delete(k));
  inFlight.set(k, p);
  return p;
}

/** Thrown by a measurement that ran past its deadline (the shape is measured again by a later run). */
class BudgetSpent extends Error {
  constructor(readonly partial: TuneResult) {
    super("autotune: the measuring budget ran out");
  }
}

/**
 * Times the candidates not in `known` (times of an earlier, interrupted measurement). Past
 * `deadline` it throws {@linkcode BudgetSpent} with what it has so far, for the next run to go on from.
 */
async function measure(
  candidates: readonly string[],
  makeBench: () => TuneBench,
  deadline = Infinity,
  known: Readonly<Record<string, number>> = {},
): Promise<TuneResult> {
  if (candidates.length === 0) throw new Error("autotune: no candidates to measure");
  const ms: Record<string, number> = {};
  let best = Infinity, choice = candidates[0];
  for (const c of candidates) {
    if (!(c in known)) continue;
    ms[c] = known[c];
    if (known[c] < best) [best, choice] = [known[c], c];
  }
  const todo = candidates.filter((c) => !(c in known));
  if (todo.length === 0) return { choice, ms };
  const bench = makeBench();
  const timeBatch = async (c: string, inner: number): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) bench.run(c);
    await synchronize();
    return (performance.now() - t0) / inner;
  };
  try {
    await synchronize(); // start from an idle queue
    for (const c of todo) {
      // A first run compiles every candidate (seconds each on llvmpipe): stop at the deadline.
      if (performance.now() > deadline) throw new BudgetSpent({ choice, ms: { ...ms }, partial: true });
      await timeBatch(c, 1); // warm-up: compiles the pipeline and touches the buffers
      const single = await timeBatch(c, 1);
      if (single > PRUNE_FACTOR * best) {
        ms[c] = single; // far slower: one run is enough to know
        continue;
      }
      // Several runs per synchronize, so that the fixed submit/wait latency does not swamp small products.
      const inner = Math.max(1, Math.min(MAX_INNER, Math.ceil(TARGET_MS / Math.max(single, 1e-3))));
      let t = single;
      const reps = single > 500 ? 1 : REPS;
      for (let r = 0; r < reps; r++) t = Math.min(t, await timeBatch(c, inner)); // min: robust to other load
      ms[c] = t;
      if (t < best) [best, choice] = [t, c];
    }
  } finally {
    bench.dispose();
  }
  return { choice, ms };
}

/**
 * The cached winner for (op, key), or undefined on a miss — in which case tuning starts in
 * the background (at most once per key) and the caller should run its default variant.
 */
export function choose(
  op: string,
  key: string,
  candidates: readonly string[],
  makeBench: () => TuneBench,
): string | undefined {
  const hit = cachedResult(op, key);
  if (hit && !hit.partial && candidates.includes(hit.choice)) return hit.choice;
  const k = fullKey(op, key);
  // An interrupted measurement: run its best so far while the rest is timed.
  const sofar = hit?.partial && candidates.includes(hit.choice) ? hit.choice : undefined;
  const shipped = shippedEnabled() ? shippedChoice(gpu().adapterKey, k) : undefined;
  if (shipped !== undefined && candidates.includes(shipped)) {
    if (!shippedUsed.has(k)) {
      shippedUsed.add(k);
      report.shipped++;
    }
    return shipped;
  }
  if (inFlight.has(k) || deferred.has(k)) return sofar;
  const budgetMs = autotuneBudgetSeconds() * 1000;
  const job = queue.then(async (): Promise<TuneResult> => {
    if (report.ms >= budgetMs) {
      deferred.add(k);
      report.deferred++;
      return { choice: candidates[0], ms: {} };
    }
    const t0 = performance.now();
    try {
      const r = await measure(candidates, makeBench, t0 + budgetMs - report.ms, hit?.partial ? hit.ms : {});
      entries().set(k, r);
      persist();
      report.measured++;
      return r;
    } catch (e) {
      if (e instanceof BudgetSpent) {
        deferred.add(k);
        report.deferred++;
        entries().set(k, e.partial); // the next run goes on from here
        persist();
        return e.partial;
      }
      // A failed measurement must not surface as an unhandled rejection in unrelated code.
      const r = { choice: candidates[0], ms: {} };
      entries().set(k, r);
      return r;
    } finally {
      report.ms += performance.now() - t0;
    }
  }).finally(() => inFlight.delete(k));
  inFlight.set(k, job);
  queue = job;
  return sofar;
}

/** Resolves when every background tuning started so far has finished. */
export async function autotuneSettled(): Promise<void> {
  while (inFlight.size > 0) await Promise.allSettled([...inFlight.values()]);
}

/**
 * Forgets the in-memory cache (the file is read again on next use, e.g. after changing the cache
 * dir) and starts the measuring budget afresh, as a new process would.
 */
export function resetAutotuneMemory(): void {
  memory = undefined;
  deferred.clear();
  shippedUsed.clear();
  Object.assign(report, { measured: 0, ms: 0, deferred: 0, shipped: 0 });
}

/** Power-of-two bucket of a dimension, used in shape keys (1, 2, 4, …). */
export function bucket(n: number): number {
  return n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n));
}
