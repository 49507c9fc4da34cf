/**
 * The 2.5-D perceptual loss of MONAI's `PerceptualLoss(spatial_dims=3, is_fake_3d=True)`, which
 * MAISI adds to its VAE's L1 + KL: slices of the reconstruction and of the input along each of
 * the three axes go through a frozen 2-D feature network, and the loss is the squared distance
 * of their channel-normalised deepest features (the LPIPS recipe without learned weights),
 * averaged over positions and slices, summed over the axes.
 *
 * The network is a ResNet in torchvision's names (`models/resnet.ts`) whose weights the user
 * brings as safetensors ({@linkcode loadFeatureResNet}: ImageNet ResNet-50 as MONAI's
 * `network_type="resnet50"`, or any ResNet trained by this framework); nothing is downloaded.
 * @module
 */
import { noGrad } from "../core/autograd.ts";
import { loadTorchvisionWeights, readWeightsFile } from "./torchvision_weights.ts";
import { tensor } from "../core/ops/creation.ts";
import { add, div, mul, sqrt, square, sub } from "../core/ops/elementwise.ts";
import { expand, permute, reshape } from "../core/ops/view.ts";
import { indexSelect } from "../core/ops/join.ts";
import { scope } from "../core/scope.ts";
import type { Tensor } from "../core/tensor.ts";
import { fmtShape } from "../core/shape.ts";
import type { Rng } from "../util/rng.ts";
import { BasicBlock, Bottleneck, ResNet } from "./resnet.ts";

/** Input scaling before the network: torchvision's ImageNet z-score (MONAI's `resnet50`), or none. */
export type PerceptualNorm = "imagenet" | "none";

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

/** Options of {@linkcode PerceptualLoss25D}. */
export interface PerceptualOptions {
  /** Share of each axis's slices (over the batch) used per call, MONAI's `fake_3d_ratio` (default 0.5; MAISI: 0.2). */
  sliceFraction?: number;
  /** Input scaling (default "imagenet"). */
  norm?: PerceptualNorm;
}

/**
 * A ResNet with the weights of a torchvision-named safetensors file, its architecture read from
 * the names and shapes: bottleneck blocks when `layer1.0.conv3` exists, the blocks per stage, the
 * width and input channels from `conv1.weight` (7×7 stem with max-pool, or the 3×3 small-input
 * stem). `fc.*` is ignored (only the features are used); any other missing, extra or misshapen
 * tensor is an error naming the file. A checkpoint of this framework (a `train-classifier` run's
 * `best.safetensors`: the model under `model.`, the optimizer's state beside it) is read too. The
 * network is returned in eval mode with its parameters frozen.
 */
export async function loadFeatureResNet(path: string): Promise<ResNet> {
  const weights = await readWeightsFile(path, `perceptual network ${path}`);
  // A checkpoint of this framework keeps the model under `model.` beside `optim.*`.
  const fromCheckpoint = !("conv1.weight" in weights) && "model.conv1.weight" in weights;
  const named = fromCheckpoint
    ? Object.fromEntries(
      Object.entries(weights).filter(([k]) => k.startsWith("model.")).map(([k, t]) => [k.slice(6), t]),
    )
    : weights;
  try {
    const stem = named["conv1.weight"];
    if (!stem || stem.ndim !== 4 || stem.shape[2] !== stem.shape[3] || ![3, 7].includes(stem.shape[2])) {
      throw new Error(
        `perceptual network ${path}: expected a 2-D ResNet in torchvision's names, whose conv1.weight is ` +
          `[width, channels, 7, 7] or [width, channels, 3, 3]; got ${stem ? fmtShape(stem.shape) : "no conv1.weight"}`,
      );
    }
    const block = "layer1.0.conv3.weight" in named ? Bottleneck : BasicBlock;
    const layers = [1, 2, 3, 4].map((s) => {
      let n = 0;
      while (`layer${s}.${n}.conv1.weight` in named) n++;
      return n;
    });
    if (layers.some((n) => n === 0)) {
      throw new Error(`perceptual network ${path}: a ResNet needs layer1 … layer4; found blocks ${layers.join(", ")}`);
    }
    const net = new ResNet(block, layers as [number, number, number, number], {
      numClasses: 0,
      inChannels: stem.shape[1],
      baseWidth: stem.shape[0],
      smallInput: stem.shape[2] === 3,
    });
    const use = Object.fromEntries(Object.entries(named).filter(([k]) => !k.startsWith("fc.")));
    try {
      loadTorchvisionWeights(net, use, `perceptual network weights ${path}`, "ResNet");
    } catch (e) {
      net.dispose();
      throw e;
    }
    net.eval();
    for (const p of net.parameters()) p.requiresGrad = false;
    return net;
  } finally {
    for (const t of Object.values(weights)) t.dispose();
  }
}

/**
 * MONAI's 2.5-D perceptual loss over (B, C, D, H, W) volumes with a frozen 2-D ResNet (see the
 * module comment). Per axis, the slices of the whole batch are drawn at random (the same ones
 * from input and target; `Rng` from the caller, so a resumed run draws the same), single-channel
 * slices repeated to the network's channels, scaled, and run through `layer4`; per slice the
 * loss is mean over positions of Σ_channels (f̂ᵢₙ − f̂ₜₐᵣ)², f̂ = f / (‖f‖₂ over channels + 1e-10).
 * The target's features carry no gradient; the network's parameters never get one.
 */
export class PerceptualLoss25D {
  readonly sliceFraction: number;
  readonly norm: PerceptualNorm;

  /** A loss over `net`'s `layer4` features. */
  constructor(readonly net: ResNet, opts: PerceptualOptions = {}) {
    this.sliceFraction = opts.sliceFraction ?? 0.5;
    if (!(this.sliceFraction > 0 && this.sliceFraction <= 1)) {
      throw new RangeError(`PerceptualLoss25D: sliceFraction must be in (0, 1], got ${opts.sliceFraction}`);
    }
    this.norm = opts.norm ?? "imagenet";
    if (this.norm !== "imagenet" && this.norm !== "none") {
      throw new RangeError(`PerceptualLoss25D: norm must be "imagenet" or "none", got ${JSON.stringify(opts.norm)}`);
    }
    if (this.norm === "imagenet" && net.conv1.inChannels !== 3) {
      throw new RangeError(
        `PerceptualLoss25D: the ImageNet scaling is for 3-channel networks; this one takes ${net.conv1.inChannels} ` +
          `(use norm "none")`,
      );
    }
  }

  /** The scalar loss between `input` (gets the gradient) and `target`, both (B, C, D, H, W). */
  call(input: Tensor, target: Tensor, rng: Rng): Tensor {
    if (input.ndim !== 5 || fmtShape(input.shape) !== fmtShape(target.shape)) {
      throw new RangeError(
        `PerceptualLoss25D: input and target must be (B, C, D, H, W) of one shape, got ${fmtShape(input.shape)} and ` +
          fmtShape(target.shape),
      );
    }
    const C = input.shape[1], want = this.net.conv1.inChannels;
    if (C !== 1 && C !== want) {
      throw new RangeError(
        `PerceptualLoss25D: volumes of ${C} channels cannot feed a network of ${want} input channels (1 or ${want})`,
      );
    }
    return scope(() => {
      let total: Tensor | null = null;
      for (const axis of [2, 3, 4]) {
        const count = input.shape[0] * input.shape[axis];
        const keep = Math.max(1, Math.floor(count * this.sliceFraction));
        const pick = tensor(rng.permutation(count).subarray(0, keep), [keep]);
        const fIn = this.#features(this.#slices(input, axis, pick));
        const fTarget = noGrad(() => this.#features(this.#slices(target, axis, pick)));
        const d = square(sub(unitChannels(fIn), unitChannels(fTarget))).sum(1).mean();
        total = total ? add(total, d) : d;
      }
      return total!;
    });
  }

  /** The slices of `x` along `axis` picked by `pick`, as a network-ready (n, channels, P, Q) batch. */
  #slices(x: Tensor, axis: number, pick: Tensor): Tensor {
    const rest = [2, 3, 4].filter((a) => a !== axis);
    const [B, C] = x.shape;
    const flat = reshape(permute(x, [0, axis, 1, ...rest]), [B * x.shape[axis], C, ...rest.map((a) => x.shape[a])]);
    let s = indexSelect(flat, 0, pick);
    const want = this.net.conv1.inChannels;
    if (C !== want) s = expand(s, [s.shape[0], want, s.shape[2], s.shape[3]]);
    if (this.norm === "imagenet") {
      const scale = tensor(IMAGENET_STD.map((v) => 1 / v), [1, 3, 1, 1]);
      const shift = tensor(IMAGENET_MEAN.map((m, i) => -m / IMAGENET_STD[i]), [1, 3, 1, 1]);
      s = add(mul(s, scale), shift);
    }
    return s;
  }

  #features(x: Tensor): Tensor {
    return this.net.forwardFeatures(x)[3];
  }
}

/** f / (‖f‖₂ over the channel dim + 1e-10), LPIPS's `normalize_tensor`. */
function unitChannels(f: Tensor): Tensor {
  return div(f, add(sqrt(square(f).sum(1, true)), 1e-10));
}
