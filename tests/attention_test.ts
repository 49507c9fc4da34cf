import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { assertClose, broadcastRef, gpuTest, gradCheck, prod, randomArray, rng, stridesOf } from "./_util.ts";
import { gpu, memoryStats, noGrad, randn, type Tensor, tensor, transpose } from "../mod.ts";
import { type AttentionImpl, scaledDotProductAttention } from "../core/ops/attention.ts";
import {
  cyclicShift,
  roll,
  shiftedWindowMask2d,
  shiftedWindowMask3d,
  windowPartition2d,
  windowPartition3d,
  windowReverse2d,
  windowReverse3d,
} from "../core/ops/window.ts";

const IMPLS: AttentionImpl[] = ["flash", "composite"];

// ---- float64 reference ----

interface RefMask {
  data: ArrayLike<number>;
  shape: number[];
  bool: boolean;
}

/** softmax(q·kᵀ·scale + mask)·v with broadcasting; fully masked rows give zeros. */
function refAttention(
  q: ArrayLike<number>,
  qs: number[],
  k: ArrayLike<number>,
  ks: number[],
  v: ArrayLike<number>,
  vs: number[],
  o: { mask?: RefMask; causal?: boolean; scale?: number } = {},
): number[] {
  const Lq = qs.at(-2)!, D = qs.at(-1)!, Lk = ks.at(-2)!, Dv = vs.at(-1)!;
  const leads = [qs, ks, vs, ...(o.mask && o.mask.shape.length >= 2 ? [o.mask.shape] : [])].map((s) => s.slice(0, -2));
  const rank = Math.max(...leads.map((l) => l.length));
  const batch = Array.from({ length: rank }, (_, i) => Math.max(...leads.map((l) => l[i - rank + l.length] ?? 1)));
  const B = prod(batch), scale = o.scale ?? 1 / Math.sqrt(D);
  const qb = broadcastRef(q, qs, [...batch, Lq, D]), kb = broadcastRef(k, ks, [...batch, Lk, D]);
  const vb = broadcastRef(v, vs, [...batch, Lk, Dv]);
  const mb = o.mask ? broadcastRef(o.mask.data, o.mask.shape, [...batch, Lq, Lk]) : null;
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < Lq; i++) {
      const s: number[] = [];
      for (let j = 0; j < Lk; j++) {
        let dot = 0;
        for (let t = 0; t < D; t++) dot += qb[(b * Lq + i) * D + t] * kb[(b * Lk + j) * D + t];
        let sc = dot * scale;
        if (o.causal && j > i) sc = -Infinity;
        if (mb) {
          const m = mb[(b * Lq + i) * Lk + j];
          sc = o.mask!.bool ? (m ? sc : -Infinity) : sc + m;
        }
        s.push(sc);
      }
      const mx = Math.max(...s);
      const e = s.map((x) => (mx === -Infinity ? 0 : Math.exp(x - mx)));
      const z = e.reduce((a, x) => a + x, 0);
      for (let u = 0; u < Dv; u++) {
        let acc = 0;
        for (let j = 0; j < Lk; j++) acc += z > 0 ? (e[j] / z) * vb[(b * Lk + j) * Dv + u] : 0;
        out.push(acc);
      }
    }
  }
  return out;
}

interface Case {
  name: string;
  q: number[];
  k: number[];
  v: number[];
  mask?: { shape: number[]; bool: boolean; density?: number; negInf?: boolean };
  causal?: boolean;
  scale?: number;
}

const CASES: Case[] = [
  { name: "plain", q: [2, 3, 5, 8], k: [2, 3, 7, 8], v: [2, 3, 7, 6] },
  { name: "float mask", q: [2, 2, 5, 4], k: [2, 2, 7, 4], v: [2, 2, 7, 4], mask: { shape: [5, 7], bool: false } },
  { name: "bool mask", q: [2, 2, 5, 4], k: [2, 2, 7, 4], v: [2, 2, 7, 3], mask: { shape: [2, 1, 5, 7], bool: true } },
  {
    name: "-inf float mask",
    q: [1, 2, 6, 4],
    k: [1, 2, 6, 4],
    v: [1, 2, 6, 4],
    mask: { shape: [6, 6], bool: false, negInf: true },
  },
  { name: "causal square", q: [1, 2, 17, 8], k: [1, 2, 17, 8], v: [1, 2, 17, 8], causal: true },
  { name: "causal Lq<Lk", q: [2, 4, 4], k: [2, 6, 4], v: [2, 6, 5], causal: true },
  { name: "causal Lq>Lk", q: [2, 6, 4], k: [2, 4, 4], v: [2, 4, 5], causal: true },
  { name: "Lq=1", q: [2, 1, 1, 8], k: [2, 1, 33, 8], v: [2, 1, 33, 8] },
  { name: "Lk=1", q: [1, 3, 33, 4], k: [1, 3, 1, 4], v: [1, 3, 1, 2] },
  { name: "broadcast batch", q: [2, 3, 4, 8], k: [1, 3, 6, 8], v: [3, 6, 8] },
  { name: "mask adds batch", q: [4, 8], k: [6, 8], v: [6, 8], mask: { shape: [3, 4, 6], bool: false } },
  { name: "custom scale", q: [2, 5, 8], k: [2, 5, 8], v: [2, 5, 8], scale: 0.3 },
];

function maskData(c: Case): RefMask | undefined {
  if (!c.mask) return undefined;
  const n = prod(c.mask.shape), r = rng(99);
  const data = Array.from({ length: n }, () => {
    const u = r();
    if (c.mask!.bool) return u < 0.7 ? 1 : 0;
    if (c.mask!.negInf && u < 0.3) return -Infinity;
    return 2 * u - 1;
  });
  return { data, shape: c.mask.shape, bool: c.mask.bool };
}

function makeMask(m: RefMask | undefined): Tensor | undefined {
  if (!m) return undefined;
  return m.bool ? tensor(Uint8Array.from(m.data), m.shape) : tensor(Float32Array.from(m.data), m.shape);
}

for (const impl of IMPLS) {
  gpuTest(`scaledDotProductAttention (${impl}) matches a float64 reference`, async () => {
    for (const c of CASES) {
      const [qd, kd, vd] = [c.q, c.k, c.v].map((s, i) => randomArray(prod(s), 10 + i, -2, 2));
      const m = maskData(c);
      const out = scaledDotProductAttention(tensor(qd, c.q), tensor(kd, c.k), tensor(vd, c.v), {
        mask: makeMask(m),
        causal: c.causal,
        scale: c.scale,
        impl,
      });
      const r32 = (a: number[]) => Array.from(Float32Array.from(a));
      const ref = refAttention(r32(qd), c.q, r32(kd), c.k, r32(vd), c.v, { mask: m, causal: c.causal, scale: c.scale });
      assertClose(await out.data(), ref, { atol: 2e-5, rtol: 1e-4, msg: `${impl} ${c.name}` });
    }
  });

  gpuTest(`scaledDotProductAttention (${impl}) gradients for q, k, v`, async () => {
    const grads = [
      { name: "plain", q: [1, 2, 3, 4], k: [1, 2, 5, 4], v: [1, 2, 5, 3] },
      { name: "causal", q: [2, 5, 3], k: [2, 4, 3], v: [2, 4, 2], causal: true },
      { name: "bool mask", q: [2, 4, 3], k: [2, 5, 3], v: [2, 5, 3], mask: { shape: [4, 5], bool: true } },
      { name: "float mask", q: [2, 4, 3], k: [2, 5, 3], v: [2, 5, 3], mask: { shape: [2, 1, 5], bool: false } },
      { name: "broadcast", q: [2, 3, 4], k: [1, 5, 4], v: [5, 2] },
    ];
    for (const c of grads as Case[]) {
      const m = maskData(c);
      const mt = makeMask(m);
      await gradCheck(
        `${impl} ${c.name}`,
        [{ shape: c.q }, { shape: c.k }, { shape: c.v }],
        (q, k, v) => scaledDotProductAttention(q, k, v, { mask: mt, causal: c.causal, impl }),
        (q, k, v) => refAttention(q, c.q, k, c.k, v, c.v, { mask: m, causal: c.causal }),
        { gradAtol: 2e-3 },
      );
    }
  });
}

gpuTest("scaledDotProductAttention: non-contiguous q, fully masked rows, mask gradient", async () => {
  // q from a transpose (B, L, H, D) → (B, H, L, D): read through strides.
  const shape = [2, 5, 3, 4];
  const qd = randomArray(prod(shape), 1), kd = randomArray(2 * 3 * 6 * 4, 2), vd = randomArray(2 * 3 * 6 * 4, 3);
  const qt = transpose(tensor(qd, shape), 1, 2);
  assert(!qt.isContiguous);
  const qc = await qt.contiguous().toArray();
  const ref = refAttention(qc, [2, 3, 5, 4], kd, [2, 3, 6, 4], vd, [2, 3, 6, 4]);
  for (const impl of IMPLS) {
    const out = scaledDotProductAttention(qt, tensor(kd, [2, 3, 6, 4]), tensor(vd, [2, 3, 6, 4]), { impl });
    assertClose(await out.data(), ref, { atol: 2e-5, msg: impl });
  }
  // A row with every key masked gives zeros and zero gradients (PyTorch ≥ 2.5's safe softmax).
  const mask = tensor([[true, false, true], [false, false, false]]);
  for (const impl of IMPLS) {
    const q = randn([2, 4], { requiresGrad: true }), k = randn([3, 4]), v = randn([3, 2]);
    const out = scaledDotProductAttention(q, k, v, { mask, impl });
    const o = await out.toArray();
    assertEquals(o.slice(2), [0, 0]);
    out.sum().backward();
    const g = await q.grad!.toArray();
    assert(g.every(Number.isFinite), `${impl}: finite gradients`);
    assertEquals(g.slice(4), [0, 0, 0, 0]);
  }
  // A learned bias passed as a float mask gets its gradient (composite route).
  await gradCheck(
    "mask gradient",
    [{ shape: [2, 3, 4], grad: false }, { shape: [2, 5, 4], grad: false }, { shape: [2, 5, 3], grad: false }, {
      shape: [3, 5],
    }],
    (q, k, v, b) => scaledDotProductAttention(q, k, v, { mask: b }),
    (q, k, v, b) =>
      refAttention(q, [2, 3, 4], k, [2, 5, 4], v, [2, 5, 3], { mask: { data: b, shape: [3, 5], bool: false } }),
  );
});

gpuTest("scaledDotProductAttention: options, errors and dropout", async () => {
  const q = randn([2, 3, 4]), k = randn([2, 5, 4]), v = randn([2, 5, 4]);
  assertThrows(() => scaledDotProductAttention(q, randn([2, 5, 3]), v), RangeError, "feature sizes");
  assertThrows(() => scaledDotProductAttention(q, k, randn([2, 4, 4])), RangeError, "token counts");
  assertThrows(() => scaledDotProductAttention(q, k, v, { mask: randn([3, 4]) }), RangeError, "does not broadcast");
  assertThrows(() => scaledDotProductAttention(q, k, v, { mask: randn([3, 5]), causal: true }), RangeError, "not both");
  assertThrows(() => scaledDotProductAttention(q, k, v, { dropoutP: 0.1, impl: "flash" }), RangeError, "flash");
  // dropoutP = 1 drops every weight; 0 < p < 1 keeps the output's expectation.
  const zero = scaledDotProductAttention(q, k, v, { dropoutP: 1 });
  assertEquals(await zero.toArray(), new Array(24).fill(0));
  const ones = tensor(new Float32Array(200 * 1).fill(1), [200, 1]);
  const d = scaledDotProductAttention(randn([64, 4]), randn([200, 4]), ones, { dropoutP: 0.5 });
  const vals = await d.toArray();
  const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
  assert(Math.abs(mean - 1) < 0.1, `dropout keeps the mean near 1, got ${mean}`);
});

gpuTest("scaledDotProductAttention: 2048 tokens stay far below Lq·Lk memory", async () => {
  const L = 2048, D = 32;
  const [q, k, v] = [1, 2, 3].map(() => randn([1, 1, L, D], { requiresGrad: true }));
  await noGrad(() => q.data()); // settle uploads before measuring
  const before = memoryStats().liveBytes;
  gpu().pool.resetPeak();
  const out = scaledDotProductAttention(q, k, v); // auto → flash at this size
  out.sum().backward();
  await q.grad!.data();
  const extra = memoryStats().peakBytes - before;
  const matrix = L * L * 4;
  assert(extra < matrix / 8, `peak extra ${extra} bytes should be far below the ${matrix}-byte score matrix`);
  // Spot-check a few rows against the reference.
  const [qd, kd, vd, od] = await Promise.all([q, k, v, out].map((t) => t.toArray()));
  const rows = [0, 777, L - 1];
  for (const i of rows) {
    const ref = refAttention(qd.slice(i * D, (i + 1) * D), [1, D], kd, [L, D], vd, [L, D]);
    assertClose(od.slice(i * D, (i + 1) * D), ref, { atol: 1e-5, msg: `row ${i}` });
  }
});

// ---- windows ----

/** Reference window partition of a row-major (B, …S, C) array with zero padding. */
function refPartition(x: number[], shape: number[], ws: number[]): number[] {
  const n = ws.length, B = shape[0], C = shape[n + 1], S = shape.slice(1, n + 1);
  const P = S.map((s, i) => Math.ceil(s / ws[i]) * ws[i]), counts = P.map((p, i) => p / ws[i]);
  const st = stridesOf(shape), out: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let w = 0; w < prod(counts); w++) {
      for (let t = 0; t < prod(ws); t++) {
        const g = stridesOf(counts).map((s, i) => Math.floor(w / s) % counts[i]);
        const o = stridesOf(ws).map((s, i) => Math.floor(t / s) % ws[i]);
        const c = g.map((gi, i) => gi * ws[i] + o[i]);
        for (let ch = 0; ch < C; ch++) {
          const inside = c.every((ci, i) => ci < S[i]);
          out.push(inside ? x[b * st[0] + c.reduce((a, ci, i) => a + ci * st[i + 1], 0) + ch] : 0);
        }
      }
    }
  }
  return out;
}

gpuTest("windowPartition/Reverse 2d and 3d round trip, with padding, and gradients", async () => {
  const cases = [
    { shape: [2, 4, 6, 3], ws: [2, 3] },
    { shape: [1, 5, 7, 2], ws: [3, 3] },
    { shape: [1, 3, 5, 4, 2], ws: [2, 2, 2] },
    { shape: [2, 4, 4, 4, 1], ws: [2, 4, 2] },
  ];
  for (const c of cases) {
    const x = Array.from(Float32Array.from(randomArray(prod(c.shape), 5)));
    const xt = tensor(x, c.shape);
    const is3d = c.shape.length === 5;
    const w = is3d ? windowPartition3d(xt, c.ws) : windowPartition2d(xt, c.ws);
    assertEquals(w.shape.slice(1), [...c.ws, c.shape.at(-1)!]);
    assertClose(await w.data(), refPartition(x, c.shape, c.ws), { atol: 0, rtol: 0, msg: "partition" });
    const S = c.shape.slice(1, -1);
    const back = is3d ? windowReverse3d(w, c.ws, S[0], S[1], S[2]) : windowReverse2d(w, c.ws, S[0], S[1]);
    assertEquals(back.shape, c.shape);
    assertClose(await back.data(), Float32Array.from(x), { atol: 0, rtol: 0, msg: "round trip" });
  }
  // Partition is linear: its gradient is the reference partition's adjoint.
  await gradCheck(
    "windowPartition2d",
    [{ shape: [1, 3, 5, 2] }],
    (x) => windowPartition2d(x, 2),
    (x) => refPartition(Array.from(x), [1, 3, 5, 2], [2, 2]),
  );
  await gradCheck(
    "windowReverse3d",
    [{ shape: [8, 2, 2, 2, 1] }],
    (w) => windowReverse3d(w, 2, 3, 4, 3),
    (w) => {
      // Reverse with crop = pick, for each output voxel, its slot in the padded partition.
      const shape = [1, 3, 4, 3, 1], n = prod(shape);
      const idx = refPartition(Array.from({ length: n }, (_, i) => i + 1), shape, [2, 2, 2]);
      const out = new Array<number>(n);
      idx.forEach((v, slot) => v > 0 && (out[v - 1] = w[slot]));
      return out;
    },
  );
  assertThrows(() => windowPartition2d(tensor([1, 2, 3, 4], [1, 2, 2]), 2), RangeError, "4-D");
  assertThrows(() => windowReverse2d(randn([3, 2, 2, 1]), 2, 4, 4), RangeError, "multiple");
});

/** torch.roll on a row-major array. */
function refRoll(x: ArrayLike<number>, shape: number[], shifts: number[], dims: number[]): number[] {
  const st = stridesOf(shape), out = new Array<number>(x.length);
  for (let i = 0; i < x.length; i++) {
    let j = 0;
    shape.forEach((n, d) => {
      let c = Math.floor(i / st[d]) % n;
      const k = dims.indexOf(d);
      if (k >= 0) c = (((c + shifts[k]) % n) + n) % n;
      j += c * st[d];
    });
    out[j] = x[i];
  }
  return out;
}

gpuTest("roll / cyclicShift: torch.roll semantics, inverse, gradient", async () => {
  const shape = [2, 5, 4, 3];
  const x = randomArray(prod(shape), 3);
  const xt = tensor(x, shape);
  for (const [s, d] of [[[2], [1]], [[-1, 3], [1, 2]], [[7, -9, 1], [1, 2, 3]], [[0], [0]]] as [number[], number[]][]) {
    assertClose(await roll(xt, s, d).data(), refRoll(Float32Array.from(x), shape, s, d), { atol: 0, msg: `${s}` });
  }
  const shifted = cyclicShift(xt, [-2, -1]);
  assertClose(await shifted.data(), refRoll(Float32Array.from(x), shape, [-2, -1], [1, 2]), { atol: 0 });
  assertClose(await cyclicShift(shifted, [2, 1]).data(), Float32Array.from(x), { atol: 0, msg: "inverse" });
  await gradCheck(
    "cyclicShift",
    [{ shape: [1, 3, 4, 2, 2] }],
    (t) => cyclicShift(t, [-1, 2, 1]),
    (t) => refRoll(t, [1, 3, 4, 2, 2], [-1, 2, 1], [1, 2, 3]),
  );
});

gpuTest("shiftedWindowMask matches Swin's region construction", async () => {
  // 4×4 grid, window 2, shift 1: windows on the last row/column mix regions.
  const m = shiftedWindowMask2d(4, 4, 2, 1);
  assertEquals(m.shape, [4, 4, 4]);
  const a = await m.toArray();
  assertEquals(a.slice(0, 16), new Array(16).fill(0)); // window (0, 0): one region
  // Window (0, 1) covers columns 2, 3 = regions 1, 2 along W: tokens (r, 2) vs (r, 3) differ.
  assertEquals(a.slice(16, 32), [0, -100, 0, -100, -100, 0, -100, 0, 0, -100, 0, -100, -100, 0, -100, 0]);
  const z = shiftedWindowMask3d(2, 4, 4, [2, 2, 2], [0, 1, 1], { value: -Infinity });
  assertEquals(z.shape, [4, 8, 8]);
  const zd = await z.toArray();
  assert(zd.every((v) => v === 0 || v === -Infinity));
  // Shift 0 along depth: one region there, so the first window is all zeros.
  assertEquals(zd.slice(0, 64), new Array(64).fill(0));
  // Used as an SDPA mask over (B, nW, heads, N, d) with mask (nW, 1, N, N).
  const q = randn([1, 4, 2, 4, 8]);
  const out = scaledDotProductAttention(q, q, q, { mask: m.reshape([4, 1, 4, 4]) });
  assertEquals(out.shape, [1, 4, 2, 4, 8]);
});
