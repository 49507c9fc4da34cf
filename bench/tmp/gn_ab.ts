import { initGpu, synchronize, tensor, groupNorm, scope, randn, ones, zeros } from "../../mod.ts";
await initGpu();
const shape = [64, 64, 28, 28];
const x = randn(shape).requiresGrad_(); const w = ones([64]).requiresGrad_(); const b = zeros([64]).requiresGrad_();
const g = randn(shape);
const run = () => scope(() => { const y = groupNorm(x, 32, w, b, { activation: "silu" }); y.backward(g); x.grad!.dispose(); w.grad!.dispose(); b.grad!.dispose(); (x as any).grad = undefined; (w as any).grad = undefined; (b as any).grad = undefined; });
const times: Record<string, number[]> = { "1": [], "0": [] };
for (let i = 0; i < 8; i++) for (const m of ["1", "0"]) {
  Deno.env.set("MEDDIFF_NORM_SEGMENTS", m);
  await synchronize(); const t0 = performance.now(); run(); await synchronize(); times[m].push(performance.now() - t0);
}
for (const m of ["1", "0"]) { const t = times[m].slice(2).sort((a, b) => a - b); console.log(m, "best", t[0].toFixed(1), "median", t[Math.floor(t.length / 2)].toFixed(1)); }
