import { assertEquals, assertThrows } from "./_asserts.ts";
import { assertClose, dispatchedOps, gpuTest, gradCheck } from "./_util.ts";
import { arange, expand, tensor } from "../mod.ts";

const r = (n: number) => Array.from({ length: n }, (_, i) => i);

gpuTest("reshape/view/flatten/squeeze/unsqueeze keep row-major order", async () => {
  const x = arange(24).reshape([2, 3, 4]);
  assertEquals([...x.view([6, -1]).shape], [6, 4]);
  assertEquals([...x.flatten(1).shape], [2, 12]);
  assertEquals([...x.flatten().shape], [24]);
  assertEquals([...x.unsqueeze(0).shape], [1, 2, 3, 4]);
  assertEquals([...x.unsqueeze(-1).shape], [2, 3, 4, 1]);
  assertEquals([...x.unsqueeze(1).squeeze().shape], [2, 3, 4]);
  assertEquals([...x.reshape([2, 1, 12]).squeeze(1).shape], [2, 12]);
  assertEquals(await x.reshape([4, 6]).toArray(), r(24));
  assertThrows(() => x.reshape([5, -1]), RangeError, "invalid for input");
  assertThrows(() => x.reshape([-1, -1]), RangeError, "only one dimension can be -1");
});

gpuTest("permute/transpose/T then reshape copies when it must", async () => {
  const x = arange(6).reshape([2, 3]);
  const t = x.T;
  assertEquals([...t.shape], [3, 2]);
  assertEquals(await t.toArray(), [0, 3, 1, 4, 2, 5]);
  assertEquals(t.isContiguous, false);
  assertThrows(() => t.view([6]), RangeError, "use reshape()");
  assertEquals(await t.reshape([6]).toArray(), [0, 3, 1, 4, 2, 5]);
  const y = arange(24).reshape([2, 3, 4]).permute([2, 0, 1]);
  assertEquals([...y.shape], [4, 2, 3]);
  assertEquals(await y.slice(0, 1, 2).toArray(), [1, 5, 9, 13, 17, 21]);
  // a view that *can* be reshaped without a copy
  const z = arange(24).reshape([2, 3, 4]).slice(0, 1, 2);
  assertEquals(z.view([12]).isContiguous, true);
  assertThrows(() => x.permute([0, 0]), RangeError, "repeat");
});

gpuTest("slice with steps and negative indices; narrow", async () => {
  const x = arange(10);
  assertEquals(await x.slice(0, 2, 8, 3).toArray(), [2, 5]);
  assertEquals(await x.slice(0, -3).toArray(), [7, 8, 9]);
  assertEquals(await x.slice(0, 5, 100).toArray(), [5, 6, 7, 8, 9]);
  assertEquals((await x.slice(0, 8, 2).toArray()).length, 0);
  assertEquals(await x.narrow(0, 1, 3).toArray(), [1, 2, 3]);
  assertThrows(() => x.narrow(0, 8, 3), RangeError, "exceeds");
});

gpuTest("expand broadcasts without copying; gradient sums back", async () => {
  await gradCheck(
    "expand",
    [{ shape: [3, 1] }],
    (x) => expand(x, [2, 3, 4]),
    (x) => Array.from({ length: 24 }, (_, i) => x[Math.floor(i / 4) % 3]),
  );
  assertThrows(() => tensor([1, 2]).expand([3]), RangeError, "must match");
});

gpuTest("view ops: gradients through permute, slice, reshape chains", async () => {
  await gradCheck(
    "permute+slice+reshape",
    [{ shape: [2, 3, 4] }],
    (x) => x.permute([2, 0, 1]).slice(0, 1, 4, 2).reshape([-1]).mul(x.permute([2, 0, 1]).slice(0, 0, 2).reshape([-1])),
    (x) => {
      const at = (a: number, b: number, c: number) => x[a * 12 + b * 4 + c]; // x[a][b][c]
      const out: number[] = [];
      for (let k = 0; k < 2; k++) {
        for (let a = 0; a < 2; a++) for (let b = 0; b < 3; b++) out.push(at(a, b, 1 + 2 * k) * at(a, b, k));
      }
      return out;
    },
  );
  await gradCheck(
    "transpose+narrow+squeeze",
    [{ shape: [3, 1, 5] }],
    (x) => x.squeeze(1).transpose(0, 1).narrow(0, 1, 2).unsqueeze(0),
    (x) => [1, 2].flatMap((j) => [0, 1, 2].map((i) => x[i * 5 + j])),
  );
});

gpuTest(
  "slice gradients: windows tiling an input are joined in one pass; overlaps, gaps and steps stay exact",
  async () => {
    const shape = [3, 7];
    const xd = Array.from({ length: 21 }, (_, i) => 0.5 + i);
    // Each case: the windows (dim-1 starts, lengths, steps) whose sum of probes·slice is the loss.
    const cases: { name: string; windows: [number, number, number][]; joined: boolean }[] = [
      { name: "tiling (q, k, v)", windows: [[0, 2, 1], [2, 4, 1], [6, 1, 1]], joined: true },
      { name: "tiling out of order", windows: [[6, 1, 1], [0, 2, 1], [2, 4, 1]], joined: true },
      { name: "overlapping", windows: [[0, 4, 1], [2, 5, 1]], joined: false },
      { name: "a gap", windows: [[0, 2, 1], [4, 3, 1]], joined: false },
      { name: "steps", windows: [[0, 4, 2], [1, 3, 2]], joined: false },
    ];
    for (const c of cases) {
      const x = tensor(xd, shape, { requiresGrad: true });
      const y = x.mul(2); // not a leaf: its gradient is gathered by the engine
      let loss = tensor(0);
      const want = new Array(21).fill(0);
      c.windows.forEach(([s, len, step], k) => {
        const probe = Array.from({ length: 3 * len }, (_, i) => 1 + k + 0.1 * i);
        loss = loss.add(y.slice(1, s, s + step * (len - 1) + 1, step).mul(tensor(probe, [3, len])).sum());
        for (let r = 0; r < 3; r++) for (let j = 0; j < len; j++) want[r * 7 + s + j * step] += 2 * probe[r * len + j];
      });
      const ops = dispatchedOps(() => loss.backward());
      assertClose(await x.grad!.data(), want, { msg: c.name });
      const padded = ops.filter((op) => op === "slice.backward.zero").length;
      assertEquals(padded, c.joined ? 0 : c.windows.length, `${c.name}: windows padded with zeros`);
      if (c.joined) assertEquals(ops.filter((op) => op === "slice.backward").length, 1, `${c.name}: one join`);
    }
  },
);
