/**
 * Entry point of `deno task test`: imports every `*_test.ts` in this folder into ONE module
 * graph. `deno test tests/` would run each file in its own isolate, each with its own WebGPU
 * device; on Mesa's software rasteriser tearing several devices down at exit aborts the
 * process now and then (glibc "double free or corruption"), after every test has passed: libEGL's
 * exit-time destructor races Mesa's exiting threads (a core dump showed it; util/exit.ts, issue #12).
 */
const dir = new URL(".", import.meta.url);
const files = [...Deno.readDirSync(dir)]
  .map((e) => e.name)
  .filter((n) => n.endsWith("_test.ts"))
  .sort();
for (const name of files) await import(new URL(name, dir).href);

// Last: say how many tests were ignored and why (a green run shows what it left out), and release
// the WebGPU device while the process is still healthy, so that its teardown does not race the
// exit-time destructors of the native libraries (Mesa, libvips via sharp).
const { releaseGpu } = await import("../core/device.ts");
const { ignoredSummary } = await import("./_skip.ts");
Deno.test({
  name: "(teardown) summary of ignored tests; release the WebGPU device",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    console.log(ignoredSummary());
    await releaseGpu();
  },
});
