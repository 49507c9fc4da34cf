/**
 * Prints the WebGPU adapter Deno gets here, as `core/device.ts` asks for it (high-performance):
 * `info` (vendor, architecture, device, description, isFallbackAdapter), whether meddiff would
 * treat it as a software adapter, the features meddiff uses, every feature, and the limits that
 * size its buffers. Exits with status 1, saying so, when there is no adapter. `bench/gpu_check.sh`
 * records this output.
 *
 * Run: `XDG_RUNTIME_DIR=/tmp deno run --allow-env bench/adapter_info.ts` (without --allow-env it
 * leaves out the backend request)
 */

/** An environment variable, or undefined (also without --allow-env). */
function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

if (typeof navigator === "undefined" || !navigator.gpu) {
  console.error("no WebGPU: navigator.gpu is missing in this runtime");
  Deno.exit(1);
}
const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
if (!adapter) {
  const backend = env("DENO_WEBGPU_BACKEND") ?? "(unset: every backend)";
  const icd = env("VK_ICD_FILENAMES") ?? "(unset: the Vulkan loader's default search)";
  console.error(
    `no WebGPU adapter: navigator.gpu.requestAdapter() returned null (DENO_WEBGPU_BACKEND=${backend}, ` +
      `VK_ICD_FILENAMES=${icd})`,
  );
  Deno.exit(1);
}

const info = adapter.info;
const key = [info.vendor, info.architecture, info.device, info.description].join("|");
const features = [...adapter.features].sort();
const used = ["shader-f16", "subgroups", "timestamp-query"].filter((f) => adapter.features.has(f as GPUFeatureName));
const l = adapter.limits;
const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
console.log(
  [
    `vendor: ${info.vendor || "(empty)"}`,
    `architecture: ${info.architecture || "(empty)"}`,
    `device: ${info.device || "(empty)"}`,
    `description: ${info.description || "(empty)"}`,
    `isFallbackAdapter: ${info.isFallbackAdapter}`,
    `software (as meddiff sees it): ${info.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader|softpipe/i.test(key)}`,
    `features meddiff uses: ${used.join(", ") || "(none)"}`,
    `features: ${features.join(", ")}`,
    `limits: maxBufferSize ${mib(l.maxBufferSize)}, maxStorageBufferBindingSize ${
      mib(l.maxStorageBufferBindingSize)
    }, maxComputeWorkgroupStorageSize ${l.maxComputeWorkgroupStorageSize} B, maxComputeInvocationsPerWorkgroup ${l.maxComputeInvocationsPerWorkgroup}`,
    `backend request: DENO_WEBGPU_BACKEND=${env("DENO_WEBGPU_BACKEND") ?? "(unset)"}`,
  ].join("\n"),
);
