/**
 * `nearestNeighbours` (core/ops/knn.ts) against a float64 brute-force search: indices and
 * squared distances for k = 1 and k > 1, self-exclusion, ties keeping the lower index,
 * strided inputs, and errors.
 */
import { nearestNeighbours, tensor } from "../mod.ts";
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { gpuTest, randomArray } from "./_util.ts";

/** float64 brute force: per query, the k (index, squared distance) pairs, nearest first, ties by index. */
function bruteForce(q: Float32Array, r: Float32Array, d: number, k: number, skipSelf: boolean) {
  const n = q.length / d, m = r.length / d;
  return Array.from({ length: n }, (_, i) => {
    const all: [number, number][] = [];
    for (let j = 0; j < m; j++) {
      if (skipSelf && i === j) continue;
      let s = 0;
      for (let c = 0; c < d; c++) s += (q[i * d + c] - r[j * d + c]) ** 2;
      all.push([j, s]);
    }
    all.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    return all.slice(0, k);
  });
}

gpuTest(
  "nearestNeighbours: the brute-force float64 answer, for k 1 and 5, with and without the query itself",
  async () => {
    const d = 37, n = 150, m = 210;
    const q = Float32Array.from(randomArray(n * d, 1)), r = Float32Array.from(randomArray(m * d, 2));
    for (const [k, skipSelf, qs, rs] of [[1, false, q, r], [5, false, q, r], [4, true, r, r]] as const) {
      const rows = qs.length / d;
      const out = nearestNeighbours(tensor(qs, [rows, d]), tensor(rs, [rs.length / d, d]), {
        k,
        excludeSelf: skipSelf,
      });
      assertEquals(out.indices.shape, [rows, k]);
      const idx = await out.indices.toArray();
      const dist = await out.distances.toArray();
      const ref = bruteForce(qs, rs, d, k, skipSelf);
      for (let i = 0; i < rows; i++) {
        assertEquals(idx.slice(i * k, (i + 1) * k), ref[i].map((p) => p[0]), `query ${i}, k ${k}`);
        for (let s = 0; s < k; s++) {
          const e = ref[i][s][1];
          assert(Math.abs(dist[i * k + s] - e) <= 1e-5 * e, `query ${i}: ${dist[i * k + s]} vs ${e}`);
        }
      }
      out.indices.dispose();
      out.distances.dispose();
    }
  },
);

gpuTest("nearestNeighbours: ties keep the lower index; strided views are read as their values", async () => {
  // References 1 and 3 are equally near the query; 2 is a copy of 1 further on.
  const refs = tensor([[0, 0], [1, 0], [1, 0], [-1, 0]]);
  const { indices, distances } = nearestNeighbours(tensor([[0.1, 0]]), refs.narrow(0, 1, 3), { k: 3 });
  assertEquals(await indices.toArray(), [0, 1, 2]);
  const dd = await distances.toArray();
  assert(Math.abs(dd[0] - 0.81) < 1e-6 && Math.abs(dd[2] - 1.21) < 1e-6, `distances ${dd}`);
  const t = tensor([[0, 5], [1, 6], [2, 7]]).transpose(0, 1); // rows (0,1,2) and (5,6,7)
  const nn = nearestNeighbours(t, tensor([[5, 6, 7.5], [0, 1, 2]]));
  assertEquals(await nn.indices.toArray(), [1, 0]);
});

gpuTest("nearestNeighbours: bad input names the argument and what was expected", () => {
  const a = tensor([[0, 0], [1, 1]]);
  assertThrows(() => nearestNeighbours(a, tensor([[1, 2, 3]])), RangeError, "2 features per row, refs 3");
  assertThrows(() => nearestNeighbours(a, a, { k: 17 }), RangeError, "k must be an integer in [1, 16]");
  assertThrows(() => nearestNeighbours(a, a, { k: 2, excludeSelf: true }), RangeError, "only 1 reference rows");
  assertThrows(() => nearestNeighbours(tensor([1, 2]), a), TypeError, "2-D float32");
  assertThrows(
    () => nearestNeighbours(a, tensor([[1, 2], [3, 4], [5, 6]]), { excludeSelf: true }),
    RangeError,
    "one set",
  );
});
