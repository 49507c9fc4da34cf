/** Focal loss against a float64 reference, its gradients by finite differences, and its limits. */
import { crossEntropy, focalLoss, tensor } from "../mod.ts";
import { assertThrows } from "./_asserts.ts";
import { assertClose, gpuTest, gradCheck } from "./_util.ts";

const N = 5, C = 4;
const TARGET = [0, 3, 1, 1, 2];
const WEIGHT = [0.5, 2, 1, 1.5];

/** −α_t (1 − p_t)^γ log p_t per sample, in float64. */
function focalRef(logits: Float64Array, gamma: number, weight: number[] | null): number[] {
  const out: number[] = [];
  for (let n = 0; n < N; n++) {
    const row = logits.subarray(n * C, n * C + C);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    const logpt = row[TARGET[n]] - lse;
    out.push(-(weight ? weight[TARGET[n]] : 1) * (1 - Math.exp(logpt)) ** gamma * logpt);
  }
  return out;
}

gpuTest(
  "focalLoss: values and gradients match float64 (γ = 0, 2, 0.5; with class weights; all reductions)",
  async () => {
    for (const gamma of [0, 2, 0.5]) {
      for (const weight of [null, WEIGHT]) {
        const w = weight ? tensor(weight) : undefined;
        const t = tensor(new Int32Array(TARGET));
        await gradCheck(
          `focal γ=${gamma}${weight ? " weighted" : ""}`,
          [{ shape: [N, C], lo: -2, hi: 2 }],
          (x) => focalLoss(x, t, { gamma, weight: w, reduction: "none" }),
          (x) => focalRef(x, gamma, weight),
        );
        await gradCheck(
          `focal mean γ=${gamma}`,
          [{ shape: [N, C], lo: -2, hi: 2 }],
          (x) => focalLoss(x, t, { gamma, weight: w }),
          (x) => [focalRef(x, gamma, weight).reduce((a, b) => a + b, 0) / N],
        );
      }
    }
  },
);

gpuTest("focalLoss: γ = 0 without weights is cross-entropy; bad arguments are named", async () => {
  const x = tensor([1, 2, 0.5, -1, 0, 3, 2, 2, -2], [3, 3]);
  const t = tensor(new Int32Array([1, 2, 0]));
  assertClose(await focalLoss(x, t, { gamma: 0 }).data(), await crossEntropy(x, t).data(), { atol: 1e-6 });
  assertThrows(() => focalLoss(x, tensor(new Int32Array([1, 2]))), RangeError, "target must be int32 (3)");
  assertThrows(() => focalLoss(x, t, { gamma: -1 }), RangeError, "gamma");
  assertThrows(() => focalLoss(x, t, { weight: tensor([1, 2]) }), RangeError, "weight must have shape [3]");
});
