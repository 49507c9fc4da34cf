/**
 * Reads the project's import graph from source text (no module is loaded): the layer-map and
 * lazy-device tests walk it.
 */

/** The repository root. */
export const ROOT: URL = new URL("../", import.meta.url);

/** `import … from`, `export … from` (group 1: `type`, erased at run time; group 2: the specifier). */
const FROM_RE = /^\s*(?:import|export)\s+(type\s+)?[^;]*?\bfrom\s*["']([^"']+)["']/gm;
/** `import "x";` (for its side effects). */
const BARE_RE = /^\s*import\s*["']([^"']+)["']/gm;
/** `import("x")` with a literal specifier. */
const DYNAMIC_RE = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** The module specifiers of `src`'s imports and re-exports; type-only ones too unless `runtimeOnly`. */
export function importSpecifiers(src: string, runtimeOnly = false): string[] {
  return [
    ...[...src.matchAll(FROM_RE)].filter((m) => !(runtimeOnly && m[1])).map((m) => m[2]),
    ...[...src.matchAll(BARE_RE)].map((m) => m[1]),
    ...[...src.matchAll(DYNAMIC_RE)].map((m) => m[1]),
  ];
}

/** The project modules `url` imports at run time (relative specifiers; type-only imports left out). */
export async function runtimeImports(url: string): Promise<string[]> {
  const text = await Deno.readTextFile(new URL(url));
  return importSpecifiers(text, true).filter((s) => s.startsWith(".")).map((s) => new URL(s, url).href);
}

/** Every `.ts` file under `dir` (a path relative to the root), as root-relative paths, sorted. */
export function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of Deno.readDirSync(new URL(rel, ROOT))) {
      if (e.isDirectory) walk(`${rel}${e.name}/`);
      else if (e.isFile && e.name.endsWith(".ts")) out.push(`${rel}${e.name}`);
    }
  };
  walk(dir.endsWith("/") ? dir : `${dir}/`);
  return out.sort();
}
