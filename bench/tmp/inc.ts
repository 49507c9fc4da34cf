import { InceptionV3 } from "../../models/mod.ts";
import { initGpu, noGrad, scope, tensor } from "../../mod.ts";
await initGpu();
const net = new InceptionV3();
net.eval();
for (const n of [1, 4]) {
  const x = tensor(new Float32Array(n * 3 * 299 * 299).map((_, i) => Math.sin(i)), [n, 3, 299, 299]);
  for (let r = 0; r < 2; r++) {
    const t0 = performance.now();
    const f = scope(() => noGrad(() => net.forwardFeatures(x)));
    await f.data();
    console.log(n, r, ((performance.now() - t0) / 1000).toFixed(2), "s");
    f.dispose();
  }
}
