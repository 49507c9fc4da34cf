/**
 * Mixed precision: under `autocast`, matmul and convolution run the f16 path where the adapter
 * has `shader-f16` (Vulkan lavapipe, real GPUs), and nothing changes where it does not (Mesa's
 * GL backend). Each test runs on the adapters it applies to and says why it is skipped elsewhere.
 */
import {
  AdamW,
  autocast,
  conv2d,
  crossEntropy,
  f16Supported,
  GradScaler,
  hasGpu,
  manualSeed,
  matmul,
  nn,
  randn,
  scope,
  type Tensor,
  tensor,
  type TensorData,
} from "../mod.ts";
import { assert, assertEquals } from "./_asserts.ts";
import { assertClose, NEEDS_GPU, randomArray } from "./_util.ts";
import { skippableTest } from "./_skip.ts";

const HAS_F16 = hasGpu() && f16Supported();
const NO_F16 = "skipped: this adapter lacks shader-f16 (try DENO_WEBGPU_BACKEND=vulkan with mesa-vulkan-drivers)";
if (hasGpu() && !HAS_F16) console.log(`amp_test: f16 tests ${NO_F16}`);

function f16Test(name: string, fn: () => Promise<void>): void {
  skippableTest({
    name: `${name}${HAS_F16 ? "" : ` (${NO_F16})`}`,
    skip: !hasGpu() ? NEEDS_GPU : !HAS_F16 && "shader-f16",
    fn,
    sanitizeResources: false,
  });
}

/** float64 reference of a @ b for row-major [M,K] @ [K,N], operands first rounded to f16. */
function matmulF16Ref(a: number[], b: number[], M: number, K: number, N: number): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += Math.f16round(a[i * K + k]) * Math.f16round(b[k * N + j]);
      out[i * N + j] = s;
    }
  }
  return out;
}

skippableTest({
  name: `autocast changes nothing where shader-f16 is missing${HAS_F16 ? " (skipped: this adapter has it)" : ""}`,
  skip: !hasGpu() ? NEEDS_GPU : HAS_F16 && "an adapter without shader-f16",
  sanitizeResources: false,
  fn: async () => {
    const a = tensor(randomArray(37 * 29, 1), [37, 29]), b = tensor(randomArray(29 * 53, 2), [29, 53]);
    const plain = await matmul(a, b).data();
    const cast = await autocast(() => matmul(a, b)).data();
    assertEquals(cast, plain, "bit-identical f32 results");
  },
});

f16Test("autocast matmul reads operands as f16 (a value f16 cannot hold is rounded)", async () => {
  await scope(async () => {
    const a = tensor([1, 1, 1, 1], [1, 4]);
    const b = tensor(new Array(4).fill(1 + 2 ** -12), [4, 1]);
    assertEquals(await matmul(a, b).item(), 4 + 4 * 2 ** -12, "f32 keeps the 2^-12");
    assertEquals(await autocast(() => matmul(a, b)).item(), 4, "f16 rounds 1 + 2^-12 to 1");
  });
});

f16Test("autocast matmul matches an f16-rounded float64 reference (odd sizes, batches, transposed views)", async () => {
  await scope(async () => {
    for (const [M, K, N] of [[37, 29, 53], [64, 64, 64], [5, 130, 7], [1, 3, 1]]) {
      const av = randomArray(M * K, M), bv = randomArray(K * N, N);
      const ref = matmulF16Ref(av, bv, M, K, N);
      const got = await autocast(() => matmul(tensor(av, [M, K]), tensor(bv, [K, N]))).data();
      assertClose(got, ref, { atol: 2e-3 * Math.sqrt(K), rtol: 2e-3 });
    }
    // A transposed view and a broadcast batch: [2, 3, 40, 24]ᵀ-ish @ [24, 16].
    const av = randomArray(2 * 24 * 40, 7), bv = randomArray(24 * 16, 8);
    const a = tensor(av, [2, 24, 40]).transpose(1, 2); // [2, 40, 24], strided
    const got = await autocast(() => matmul(a, tensor(bv, [24, 16]))).data();
    const dense = await a.contiguous().data();
    for (let n = 0; n < 2; n++) {
      const ref = matmulF16Ref([...dense.subarray(n * 960, (n + 1) * 960)], bv, 40, 24, 16);
      assertClose(got.subarray(n * 640, (n + 1) * 640), ref, { atol: 1e-2, rtol: 2e-3 });
    }
  });
});

f16Test("autocast matmul gradients are close to f32's, and backward keeps the forward's precision", async () => {
  await scope(async () => {
    const av = randomArray(24 * 40, 3), bv = randomArray(40 * 12, 4);
    const grads = async (half: boolean): Promise<TensorData[]> => {
      const a = tensor(av, [24, 40], { requiresGrad: true }), b = tensor(bv, [40, 12], { requiresGrad: true });
      const y = half ? autocast(() => matmul(a, b)) : matmul(a, b);
      y.mul(y).sum().backward(); // called outside autocast: the recorded precision applies
      return [await a.grad!.data(), await b.grad!.data()];
    };
    const [ga32, gb32] = await grads(false), [ga16, gb16] = await grads(true);
    assertClose(ga16, ga32, { atol: 0.15, rtol: 1e-2 });
    assertClose(gb16, gb32, { atol: 0.15, rtol: 1e-2 });
    assert(ga16.some((v, i) => v !== ga32[i]), "the backward ran in f16 (results differ in low bits)");
  });
});

f16Test("autocast conv2d forward and backward are close to f32", async () => {
  await scope(async () => {
    manualSeed(3);
    const x = randn([2, 8, 12, 12], { requiresGrad: true }), w = randn([16, 8, 3, 3], { requiresGrad: true });
    const run = async (half: boolean): Promise<TensorData[]> => {
      x.grad = null;
      w.grad = null;
      const y: Tensor = half
        ? autocast(() => conv2d(x, w, undefined, { padding: 1, stride: 1 }))
        : conv2d(x, w, undefined, { padding: 1 });
      y.mul(y).mean().backward();
      return [await y.data(), await x.grad!.data(), await w.grad!.data()];
    };
    const [y32, gx32, gw32] = await run(false), [y16, gx16, gw16] = await run(true);
    assertClose(y16, y32, { atol: 0.05, rtol: 1e-2 });
    assertClose(gx16, gx32, { atol: 2e-3, rtol: 2e-2 });
    assertClose(gw16, gw32, { atol: 2e-3, rtol: 2e-2 });
    assert(y16.some((v, i) => v !== y32[i]), "the forward ran in f16");
  });
});

f16Test("an MLP trains under autocast with GradScaler (f32 master weights)", async () => {
  manualSeed(0);
  const x = randn([64, 8]);
  const labels = tensor(new Int32Array(64).map((_, i) => i % 4));
  const shift = tensor(new Float32Array(64 * 8).map((_, i) => (Math.floor(i / 8) % 4 === i % 8 ? 2 : 0)), [64, 8]);
  const inputs = x.add(shift); // class c has feature c raised: learnable
  const model = new nn.Sequential(new nn.Linear(8, 32), new nn.ReLU(), new nn.Linear(32, 4));
  const opt = new AdamW(model.parameters(), { lr: 0.02 });
  const scaler = new GradScaler();
  let last = Infinity;
  for (let step = 0; step < 60; step++) {
    await scope(async () => {
      opt.zeroGrad();
      const loss = autocast(() => crossEntropy(model.call(inputs), labels));
      scaler.scale(loss).backward();
      await scaler.step(opt);
      await scaler.update();
      if (step === 59) last = await loss.item();
    });
  }
  for (const p of model.parameters()) assertEquals(p.dtype, "float32", "master weights stay f32");
  assert(last < 0.2, `loss after 60 steps ${last.toFixed(4)} < 0.2`);
});
