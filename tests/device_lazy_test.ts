/**
 * Importing meddiff acquires no GPU device; the first GPU operation needs `await initGpu()`.
 * The data-only layers (util, the dataset readers and transforms, metrics, plots) do not even
 * load core/device.ts: a walk over their static and literal dynamic imports shows it. Importing
 * everything, mod.ts included, in a Worker whose `requestAdapter` is a counting stand-in that
 * finds no adapter shows that no import asks for one. Neither check needs a GPU.
 */
import { assert, assertEquals } from "./_asserts.ts";
import type { ProbeReport, ProbeRequest } from "./_import_probe.ts";
import { ROOT, runtimeImports } from "./_imports.ts";

const DEVICE = new URL("core/device.ts", ROOT).href;

/** The import chain from `from` to `to` (module URLs), or null when `from` never loads `to`. */
async function importChain(from: string, to: string): Promise<string[] | null> {
  const parent = new Map<string, string | null>([[from, null]]);
  const queue = [from];
  while (queue.length > 0) {
    const url = queue.shift()!;
    if (url === to) {
      const chain: string[] = [];
      for (let u: string | null = url; u !== null; u = parent.get(u)!) chain.unshift(u.slice(ROOT.href.length));
      return chain;
    }
    for (const dep of await runtimeImports(url)) {
      if (!parent.has(dep)) {
        parent.set(dep, url);
        queue.push(dep);
      }
    }
  }
  return null;
}

/** The data-only entry points: none of them may load core/device.ts. */
function dataOnlyModules(): string[] {
  const transforms = [...Deno.readDirSync(new URL("datasets/transforms/", ROOT))]
    .filter((e) => e.isFile && e.name.endsWith(".ts"))
    .map((e) => `datasets/transforms/${e.name}`)
    .sort();
  return ["util/mod.ts", "datasets/nifti.ts", "datasets/dicom.ts", "datasets/medmnist.ts", ...transforms]
    .concat(["metrics/mod.ts", "plots/mod.ts"])
    .map((p) => new URL(p, ROOT).href);
}

Deno.test("util, the dataset readers and transforms, metrics and plots do not load core/device.ts", async () => {
  const modules = dataOnlyModules();
  assert(modules.length > 10, `found ${modules.length} modules`);
  for (const url of modules) {
    const chain = await importChain(url, DEVICE);
    assertEquals(chain, null, `${url.slice(ROOT.href.length)} loads the GPU device module: ${chain?.join(" → ")}`);
  }
  // The walk does find the device module where it is loaded.
  const fromMod = await importChain(new URL("mod.ts", ROOT).href, DEVICE);
  assert(fromMod !== null && fromMod.at(-1) === "core/device.ts", `mod.ts → ${fromMod?.join(" → ")}`);
});

Deno.test("importing meddiff acquires no device; the first GPU operation asks for initGpu, which acquires once", async () => {
  const modules = [...dataOnlyModules(), new URL("mod.ts", ROOT).href];
  const worker = new Worker(new URL("./_import_probe.ts", import.meta.url), { type: "module" });
  try {
    const report = await new Promise<ProbeReport>((resolve, reject) => {
      worker.onmessage = (ev: MessageEvent<ProbeReport>) => resolve(ev.data);
      worker.onerror = (ev) => {
        ev.preventDefault();
        reject(new Error(`import probe failed: ${ev.message}`));
      };
      worker.postMessage({ modules } satisfies ProbeRequest);
    });
    assertEquals(report.adapterRequestsOnImport, 0, "requestAdapter calls while importing");
    assert(report.errorBeforeInit.includes("await initGpu()"), `before initGpu: ${report.errorBeforeInit}`);
    assertEquals(report.initResults, [false, false], "initGpu without an adapter");
    assertEquals(report.adapterRequestsAfterInit, 1, "two initGpu calls ask for one adapter");
    assert(report.errorAfterInit.includes("mesa-vulkan-drivers"), `without an adapter: ${report.errorAfterInit}`);
  } finally {
    worker.terminate();
  }
});
