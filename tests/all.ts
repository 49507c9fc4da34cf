/**
 * Entry point of `deno task test`: imports every `*_test.ts` in this folder into ONE module
 * graph. `deno test tests/` would run each file in its own isolate, each with its own WebGPU
 * device, and compiles the same kernels again.
 */
const dir = new URL(".", import.meta.url);
const files = [...Deno.readDirSync(dir)]
  .map((e) => e.name)
  .filter((n) => n.endsWith("_test.ts"))
  .sort();
for (const name of files) await import(new URL(name, dir).href);

// Last: say how many tests were ignored and why (a green run shows what it left out).
const { ignoredSummary } = await import("./_skip.ts");
Deno.test({
  name: "(teardown) summary of ignored tests",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => {
    console.log(ignoredSummary());
  },
});
