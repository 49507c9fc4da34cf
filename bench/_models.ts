/**
 * The training-step workloads the benches share: ResNet-18 (small-input stem, batch 64 of
 * 28×28×3, 10 classes), the DDPM U-Net of the class-conditional MedMNIST generator (batch
 * 64 of 28×28×3, 5 classes) and Swin-T as the BreastMNIST baseline runs it, each with its AdamW optimizer and fixed random inputs. One place
 * for the configurations, so the timing benches and `memory_peak.ts` measure the same thing.
 */
import { AdamW, crossEntropy, manualSeed, type Module, mseLoss, randint, randn, scope, type Tensor } from "../mod.ts";
import { type ResNet, resnet18 } from "../models/resnet.ts";
import { swinT, type SwinTransformer } from "../models/swin.ts";
import { UNet } from "../models/unet.ts";
import { DiT3D } from "../models/dit3d.ts";
import { MaisiVAE } from "../models/vae3d.ts";
import { gaussianKl } from "../tasks/vae3d/trainer.ts";

/** A model, its optimizer and inputs, and one training step over them. */
export interface TrainWorkload<M> {
  /** The network, in training mode. */
  net: M;
  /** Its AdamW optimizer. */
  opt: AdamW;
  /** Input batch, NCHW. */
  x: Tensor;
  /** The whole batch's forward pass (the caller owns the output). */
  forward(): Tensor;
  /** Forward, loss, backward, `opt.step()` and `opt.zeroGrad()` inside one scope (no GPU wait). */
  step(): void;
  /** Frees the network, the optimizer state and the inputs. */
  dispose(): void;
}

/** ResNet-18 workload: `y` holds the class targets; `micro` splits the step into micro-batches. */
export interface ResNetWorkload extends TrainWorkload<ResNet> {
  /** Class targets, int32 [N]. */
  y: Tensor;
  /** Batch size, channels, side and classes. */
  dims: { n: number; c: number; hw: number; classes: number };
}

/** U-Net workload: noise target, timesteps and class labels beside `x`. */
export interface UNetWorkload extends TrainWorkload<UNet> {
  /** The noise the U-Net regresses (MSE target). */
  eps: Tensor;
  /** Timesteps, int32 [N]. */
  t: Tensor;
  /** Class labels, int32 [N]. */
  labels: Tensor;
  /** Batch size, channels, side and classes. */
  dims: { n: number; c: number; hw: number; classes: number };
}

/**
 * ResNet-18 (`smallInput`: 3×3 stride-1 stem, no max-pool) on [n, 3, 28, 28] (n = 64 unless
 * given), 10 classes, AdamW lr 1e-3. With `micro` = k > 1 the step accumulates gradients over k
 * micro-batches of n/k before the one AdamW step (for adapters whose buffer-size limit a
 * batch-64 step exceeds).
 */
export function resnetWorkload(micro = 1, n = 64): ResNetWorkload {
  const dims = { n, c: 3, hw: 28, classes: 10 };
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`the ResNet-18 batch must be a positive integer, got ${n}`);
  if (!Number.isInteger(micro) || micro < 1 || dims.n % micro !== 0) {
    throw new RangeError(`micro must be a divisor of ${dims.n}, got ${micro}`);
  }
  manualSeed(0);
  const net = resnet18({ numClasses: dims.classes, smallInput: true });
  const x = randn([dims.n, dims.c, dims.hw, dims.hw]);
  const y = randint(0, dims.classes, [dims.n]);
  return { ...classifierWorkload(net, x, y, 1e-3, micro), dims };
}

/** What `configs/ddpm-retinamnist.yaml` changes in the benchmark's U-Net. */
export const RETINAMNIST_TASK_UNET = { numHeads: 4, dropout: 0.1 } as const;

/**
 * The DDPM U-Net (base 32 channels, multipliers 1/2/4, 2 residual blocks per level, attention
 * at 7×7 and in the mid block, 5 classes; 3,941,315 parameters) on [n, 3, 28, 28] with int32
 * timesteps and labels, MSE against fixed noise, AdamW lr 1e-4. `variant` (default one head, no
 * dropout) gives the task's network, {@linkcode RETINAMNIST_TASK_UNET}.
 */
export function unetWorkload(
  n = 64,
  variant: { numHeads: number; dropout: number } = { numHeads: 1, dropout: 0 },
): UNetWorkload {
  const dims = { n, c: 3, hw: 28, classes: 5 };
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`the U-Net batch must be a positive integer, got ${n}`);
  manualSeed(0);
  const net = new UNet({
    inChannels: dims.c,
    baseChannels: 32,
    channelMults: [1, 2, 4],
    numResBlocks: 2,
    attentionResolutions: [7],
    numClasses: dims.classes,
    imageSize: dims.hw,
    ...variant,
  });
  const x = randn([n, dims.c, dims.hw, dims.hw]);
  const eps = randn([n, dims.c, dims.hw, dims.hw]);
  const t = randint(0, 1000, [n]);
  const labels = randint(0, dims.classes, [n]);
  return { ...denoiserWorkload(net, () => net.call(x, t, labels), x, eps, t, labels), eps, t, labels, dims };
}

/**
 * A workload of `net` in training mode with AdamW at `lr`: a step runs `backward` (the loss
 * and its backward), the optimizer step and `zeroGrad` in one scope; `dispose` also frees x
 * and the other `inputs`.
 */
function trainWorkload<M extends Module>(
  net: M,
  lr: number,
  x: Tensor,
  forward: () => Tensor,
  backward: () => void,
  inputs: Tensor[],
): TrainWorkload<M> {
  net.train();
  const opt = new AdamW(net.parameters(), { lr });
  return {
    net,
    opt,
    x,
    forward,
    step() {
      scope(() => {
        backward();
        opt.step();
        opt.zeroGrad();
      });
    },
    dispose() {
      opt.disposeState();
      net.dispose();
      for (const v of [x, ...inputs]) v.dispose();
    },
  };
}

/** A class-conditional denoiser (`run`: its forward on x, t, labels) regressing `eps` with MSE, AdamW lr 1e-4. */
function denoiserWorkload<M extends Module>(
  net: M,
  run: () => Tensor,
  x: Tensor,
  eps: Tensor,
  t: Tensor,
  labels: Tensor,
): TrainWorkload<M> {
  return trainWorkload(net, 1e-4, x, run, () => mseLoss(run(), eps).backward(), [eps, t, labels]);
}

/**
 * Swin-T as `configs/classifier-breastmnist.yaml` trains it: [n, 1, 28, 28] (n = 64 unless
 * given), 4×4 patches, window 7, 2 classes, AdamW lr 3e-4. Its Linear layers act on
 * [B, H, W, C] tensors, so it measures the batched matmul paths the CNNs never take.
 */
export function swinWorkload(n = 64): TrainWorkload<SwinTransformer> & { y: Tensor } {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`the Swin-T batch must be a positive integer, got ${n}`);
  manualSeed(0);
  const net = swinT({ numClasses: 2, inChannels: 1, imageSize: 28, patchSize: 4, windowSize: 7 });
  return classifierWorkload(net, randn([n, 1, 28, 28]), randint(0, 2, [n]), 3e-4, 1);
}

/**
 * A classifier's cross-entropy step on fixed inputs with AdamW at `lr`; with `micro` = k > 1 the
 * step accumulates gradients over k micro-batches of n/k before the one AdamW step.
 */
type ClassifierNet = Module & { forward(x: Tensor): Tensor };

function classifierWorkload<M extends ClassifierNet>(
  net: M,
  x: Tensor,
  y: Tensor,
  lr: number,
  micro: number,
): TrainWorkload<M> & { y: Tensor } {
  const classify: ClassifierNet = net; // `call` typed by the non-generic forward
  const m = x.shape[0] / micro;
  const backward = () => {
    for (let i = 0; i < micro; i++) {
      const [xs, ys] = micro === 1 ? [x, y] : [x.narrow(0, i * m, m), y.narrow(0, i * m, m)];
      const loss = crossEntropy(classify.call(xs), ys);
      (micro === 1 ? loss : loss.mul(1 / micro)).backward();
    }
  };
  return { ...trainWorkload(net, lr, x, () => classify.call(x), backward, [y]), y };
}

/**
 * DiT3D on AdrenalMNIST3D-sized latents ([n, 4, 16, 16, 16], 2×2×2 patches: an 8³ grid of 512
 * tokens), 4 blocks 192 wide with 6 heads, 2 classes; `windowed`: every block attends within
 * 4×4×4 windows (64 tokens), else every block is global. MSE against fixed noise, AdamW lr 1e-4.
 */
export function dit3dWorkload(windowed: boolean, n = 2): TrainWorkload<DiT3D> {
  manualSeed(0);
  const net = new DiT3D({
    inputSize: 16,
    patchSize: 2,
    inChannels: 4,
    hiddenSize: 192,
    depth: 4,
    numHeads: 6,
    numClasses: 2,
    windowSize: 4,
    windowBlocks: windowed ? [0, 1, 2, 3] : [],
  });
  const x = randn([n, 4, 16, 16, 16]), eps = randn([n, 4, 16, 16, 16]);
  const t = randint(0, 1000, [n]), labels = randint(0, 2, [n]);
  return denoiserWorkload(net, () => net.call(x, t, labels), x, eps, t, labels);
}

/**
 * The MAISI-style 3-D VAE of `configs/vae3d-adrenalmnist3d.yaml` (widths 16/32/64, one residual
 * block per level, 8 groups, 4 latent channels, trilinear upsampling) on [n, 1, size, size, size]
 * (AdrenalMNIST3D is 64³), its loss as `train-vae` has it without the optional terms: L1
 * reconstruction + 1e-6 · KL; AdamW lr 1e-4 (`vae3d_step.ts` times it).
 */
export function vae3dWorkload(n = 1, size = 64): TrainWorkload<MaisiVAE> {
  manualSeed(0);
  const net = new MaisiVAE({ numChannels: [16, 32, 64], numResBlocks: 1, normNumGroups: 8, upsample: "trilinear" });
  const x = randn([n, 1, size, size, size]);
  const backward = () => {
    const { reconstruction, mu, logVar } = net.call(x);
    reconstruction.sub(x).abs().mean().add(gaussianKl(mu, logVar).mul(1e-6)).backward();
  };
  return trainWorkload(net, 1e-4, x, () => net.call(x).reconstruction, backward, []);
}

/**
 * The training workload a profiling script names on its command line (`unet`, `resnet`, `swin`,
 * `vae3d`) at `batch` (default: 1 for `vae3d`, 64 for the others; `VAE3D_SIZE` sets the VAE's side, 64).
 */
export function namedWorkload(
  name: string,
  batchArg?: string,
): { batch: number; workload: TrainWorkload<Module> } {
  const workloads = {
    unet: unetWorkload,
    resnet: (n: number) => resnetWorkload(1, n),
    swin: swinWorkload,
    vae3d: (n: number) => vae3dWorkload(n, Number(Deno.env.get("VAE3D_SIZE") ?? "64")),
  };
  if (!(name in workloads)) throw new Error(`unknown model "${name}": expected unet, resnet, swin or vae3d`);
  const batch = Number(batchArg ?? (name === "vae3d" ? "1" : "64"));
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`batch must be a positive integer, got ${batchArg}`);
  return { batch, workload: workloads[name as keyof typeof workloads](batch) };
}
