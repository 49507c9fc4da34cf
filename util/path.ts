/** The one set of path helpers (forward slashes; no normalisation beyond the joints). */

/** Joins path pieces with `/` (no normalisation beyond removing doubled separators at the joints). */
export function joinPath(...parts: string[]): string {
  let out = "";
  for (const p of parts) {
    if (p === "") continue;
    if (out === "") out = p;
    else out = out.replace(/[\\/]+$/, "") + "/" + p.replace(/^[\\/]+/, "");
  }
  return out;
}

/** The folder part of `path` ("." when there is none). */
export function dirName(path: string): string {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  if (i < 0) return ".";
  if (i === 0) return path.slice(0, 1);
  return path.slice(0, i);
}

/** The last component of `path`. */
export function baseName(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, "");
  const i = Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf("\\"));
  return trimmed.slice(i + 1);
}
