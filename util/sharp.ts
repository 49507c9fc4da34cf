/**
 * sharp (libvips, a native library) loaded on first use, so that importing the framework — or
 * any module that can decode images — needs no `--allow-ffi` until an image is actually
 * decoded, encoded or rendered.
 * @module
 */
import type SharpDefault from "sharp";

/** The `sharp` function (the npm package's default export). */
export type Sharp = typeof SharpDefault;

let loading: Promise<Sharp> | undefined;

/** The sharp module, imported once; a clear error names the permissions it needs. */
export function loadSharp(): Promise<Sharp> {
  loading ??= import("sharp").then((m) => m.default).catch((e) => {
    loading = undefined;
    throw new Error(
      `image decoding/encoding needs the npm package sharp, run with --allow-ffi --allow-env --allow-read: ${
        e instanceof Error ? e.message : e
      }`,
      { cause: e },
    );
  });
  return loading;
}
