import { gpuTest, gradCheck } from "./_util.ts";
import { add, mul } from "../mod.ts";

gpuTest("smoke: broadcasting add/mul with gradients", async () => {
  await gradCheck(
    "add",
    [{ shape: [2, 3] }, { shape: [3] }],
    (a, b) => add(a, b),
    (a, b) => a.map((v, i) => v + b[i % 3]),
  );
  await gradCheck(
    "mul",
    [{ shape: [2, 1] }, { shape: [1, 3] }],
    (a, b) => mul(a, b),
    (a, b) => Array.from({ length: 6 }, (_, i) => a[Math.floor(i / 3)] * b[i % 3]),
  );
});
