/**
 * The layer map (README "Architecture", ../shared/DESIGN.md) holds in the code: every module
 * imports only from its own layer or the layers below it, core/kernels holds pure WGSL
 * generators (importing nothing outside itself), and nothing in core/, metrics/ or plots/
 * reaches into datasets/ or tasks/. Read from the sources; no module is loaded.
 */
import { assert, assertEquals } from "./_asserts.ts";
import { importSpecifiers, ROOT, sourceFiles } from "./_imports.ts";

/** Layers, lowest first; a module may import from its own layer and any layer listed before it. */
const LAYERS: readonly (readonly string[])[] = [
  ["util"],
  ["core"],
  ["datasets", "samplers", "models"],
  ["metrics"],
  ["plots"],
  ["train"],
  ["tasks"],
];

const rank = (top: string): number => LAYERS.findIndex((l) => l.includes(top));

/** The root-relative path a relative specifier of `file` names. */
function resolve(file: string, spec: string): string {
  return new URL(spec, new URL(file, ROOT)).href.slice(ROOT.href.length);
}

/** Every (importer, imported) pair of project modules under the layer folders. */
function edges(): [string, string][] {
  const out: [string, string][] = [];
  for (const file of LAYERS.flat().flatMap((dir) => sourceFiles(dir))) {
    const src = Deno.readTextFileSync(new URL(file, ROOT));
    for (const spec of importSpecifiers(src)) if (spec.startsWith(".")) out.push([file, resolve(file, spec)]);
  }
  return out;
}

Deno.test("layers: every import goes to the same layer or a lower one", () => {
  const all = edges();
  assert(all.length > 500, `the walk found the imports (${all.length})`);
  const wrong = all.filter(([from, to]) => {
    const a = from.split("/")[0], b = to.split("/")[0];
    if (rank(b) < 0) return true; // outside the layers (tests/, bench/, scripts/)
    return rank(b) > rank(a) || (rank(b) === rank(a) && a !== b);
  });
  assertEquals(wrong.map(([f, t]) => `${f} → ${t}`), []);
});

Deno.test("layers: core/, metrics/ and plots/ never import datasets/ or tasks/", () => {
  const wrong = edges().filter(([from, to]) => /^(core|metrics|plots)\//.test(from) && /^(datasets|tasks)\//.test(to));
  assertEquals(wrong.map(([f, t]) => `${f} → ${t}`), []);
});

Deno.test("layers: core/kernels holds pure WGSL generators that import nothing outside core/kernels", () => {
  const wrong = edges().filter(([from, to]) => from.startsWith("core/kernels/") && !to.startsWith("core/kernels/"));
  assertEquals(wrong.map(([f, t]) => `${f} → ${t}`), []);
  for (const file of sourceFiles("core/kernels")) {
    const src = Deno.readTextFileSync(new URL(file, ROOT));
    assert(!/\b(dispatch|pipeline|gpu)\(/.test(src), `${file} launches GPU work (that belongs in core/backend)`);
  }
});
