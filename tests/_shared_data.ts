/**
 * Access to the real data in `../shared/data/` (next to the project root, never copied into the
 * repository). Tests that use it register with `skippableTest` and `skip: needsSharedData(...)`;
 * the helper prints {@linkcode SHARED_DATA_MISSING_MESSAGE} once, so a checkout without the folder
 * still passes, and the run's summary counts the tests it ignored.
 *
 * @example
 * ```ts
 * const retina = sharedDataPath("medmnist/retinamnist.npz");
 * skippableTest({ name: "retina", skip: needsSharedData(retina), fn: async () => { ... } });
 * ```
 */
import { fileURLToPath } from "node:url";

/** Absolute path of `../shared/data` relative to the project root. */
export const SHARED_DATA_ROOT: string = fileURLToPath(new URL("../../shared/data/", import.meta.url));

/** What a skipped test prints. */
export const SHARED_DATA_MISSING_MESSAGE: string =
  `../shared/data is absent (looked in ${SHARED_DATA_ROOT}); tests on real data files are skipped`;

const warned = new Set<string>();

/**
 * The absolute path of `rel` inside `../shared/data`, or `null` when it is not there (or reading
 * is not permitted). A miss prints why (once for an absent folder, once per missing file)
 * unless `warn` is false.
 */
export function sharedDataPath(rel: string, warn = true): string | null {
  const path = SHARED_DATA_ROOT + rel.replace(/^\/+/, "");
  try {
    Deno.statSync(path);
    return path;
  } catch {
    if (!warn) return null;
    let rootThere = false;
    try {
      rootThere = Deno.statSync(SHARED_DATA_ROOT).isDirectory;
    } catch {
      // the whole folder is absent (or unreadable)
    }
    const key = rootThere ? rel : "";
    if (!warned.has(key)) {
      warned.add(key);
      console.warn(
        rootThere
          ? `${rel} is missing from ${SHARED_DATA_ROOT}; tests that need it are skipped`
          : SHARED_DATA_MISSING_MESSAGE,
      );
    }
    return null;
  }
}

/** The skip reason of a test on real data files. */
export const NEEDS_SHARED_DATA = "../shared/data files";

/** {@linkcode NEEDS_SHARED_DATA} when any of `paths` (from {@linkcode sharedDataPath}) is missing, else null. */
export function needsSharedData(...paths: (string | null)[]): string | null {
  return paths.some((p) => p === null) ? NEEDS_SHARED_DATA : null;
}
