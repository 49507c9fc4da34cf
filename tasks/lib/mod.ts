/**
 * What the `deno task` entry points share beyond the training layer: argument parsing and
 * image grids / image folders of samples.
 *
 * @module
 */
export * from "./args.ts";
export * from "./image_grid.ts";
