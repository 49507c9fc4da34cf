/**
 * Worker of `device_lazy_test.ts`: in a fresh module graph, with `requestAdapter` replaced by a
 * stand-in that counts its calls and finds no adapter (so no device is ever made), imports the
 * modules it is sent, then tries a tensor before and after `initGpu`, and posts what it saw.
 */

/** What the probe was asked to import. */
export interface ProbeRequest {
  /** Module URLs, imported in order. */
  modules: string[];
}

/** What the probe saw. */
export interface ProbeReport {
  /** requestAdapter calls made by the imports. */
  adapterRequestsOnImport: number;
  /** The error of `tensor([1])` before `initGpu`. */
  errorBeforeInit: string;
  /** What two concurrent `initGpu()` calls resolved to. */
  initResults: boolean[];
  /** requestAdapter calls after them. */
  adapterRequestsAfterInit: number;
  /** The error of `tensor([1])` after `initGpu` found no adapter. */
  errorAfterInit: string;
}

let adapterRequests = 0;
GPU.prototype.requestAdapter = () => {
  adapterRequests++;
  return Promise.resolve(null);
};

function errorOf(fn: () => unknown): string {
  try {
    fn();
    return "";
  } catch (e) {
    return (e as Error).message;
  }
}

// The worker's global scope (this file is type-checked with the window's lib).
const scope = self as unknown as {
  onmessage: (ev: MessageEvent<ProbeRequest>) => void;
  postMessage(report: ProbeReport): void;
};

scope.onmessage = async (ev) => {
  for (const url of ev.data.modules) await import(url);
  const adapterRequestsOnImport = adapterRequests;
  const { initGpu, tensor } = await import("../mod.ts");
  const errorBeforeInit = errorOf(() => tensor([1]));
  const initResults = await Promise.all([initGpu(), initGpu()]);
  const report: ProbeReport = {
    adapterRequestsOnImport,
    errorBeforeInit,
    initResults,
    adapterRequestsAfterInit: adapterRequests,
    errorAfterInit: errorOf(() => tensor([1])),
  };
  scope.postMessage(report);
};
