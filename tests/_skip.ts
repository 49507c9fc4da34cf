/**
 * Tests that cannot run on every machine say why. {@linkcode skippableTest} registers a test that
 * is ignored when its `skip` names what it needs and this machine lacks, and records the reason;
 * `tests/all.ts` ends the run with {@linkcode ignoredSummary}, so a green run shows what it left
 * out. This module acquires no GPU device (data-only tests import it), unlike `_util.ts`.
 *
 * @example
 * ```ts
 * skippableTest({ name: "sigint", skip: canRun ? null : "--allow-run", fn: async () => {} });
 * ```
 */

/** A test definition whose `skip`, when set, says what the test needs and this machine lacks. */
export type SkippableTestDefinition = Omit<Deno.TestDefinition, "ignore"> & {
  /** What is missing, as read after "needs" ("shader-f16", "--allow-run"); null, false or absent: run the test. */
  skip?: string | null | false;
};

/** One ignored test and why. */
export interface IgnoredTest {
  /** The test's name. */
  name: string;
  /** What it needs and this machine lacks. */
  reason: string;
}

const ignored: IgnoredTest[] = [];

/** Whether this run may spawn processes (`--allow-run`). */
export const CAN_RUN = Deno.permissions.querySync({ name: "run" }).state === "granted";

/** The skip reason of a test that sends POSIX signals to a child process (false when it can run). */
export const NEEDS_SIGNALS: string | false = !CAN_RUN
  ? "--allow-run"
  : Deno.build.os === "windows" && "POSIX signals (not Windows)";

/** Registers `def` with `Deno.test`, ignored (and recorded for {@linkcode ignoredSummary}) when `skip` is a reason. */
export function skippableTest(def: SkippableTestDefinition): void {
  const { skip, ...rest } = def;
  if (skip) ignored.push({ name: def.name, reason: skip });
  Deno.test({ ...rest, ignore: Boolean(skip) });
}

/** The tests ignored so far, in registration order. */
export function ignoredTests(): readonly IgnoredTest[] {
  return ignored;
}

/**
 * How many tests were ignored and why, most common reason first, e.g.
 * `ignored 7: 4 need ../shared/data files, 2 need shader-f16, 1 needs --allow-run`.
 */
export function ignoredSummary(tests: readonly IgnoredTest[] = ignored): string {
  if (tests.length === 0) return "ignored 0: every registered test could run here";
  const counts = new Map<string, number>();
  for (const t of tests) counts.set(t.reason, (counts.get(t.reason) ?? 0) + 1);
  const parts = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([reason, n]) => `${n} ${n === 1 ? "needs" : "need"} ${reason}`);
  return `ignored ${tests.length}: ${parts.join(", ")}`;
}
