/**
 * Inception-v3 as the Fréchet Inception Distance uses it: torchvision's `Inception3` layout and
 * parameter names (`Conv2d_1a_3x3.conv.weight`, `Mixed_5b.branch_pool.bn.running_var`, …), so
 * the FID weights a user converts to safetensors (pytorch-fid's `pt_inception-2015-12-05`, a port
 * of TensorFlow's graph, 1008 classes, no auxiliary head) load unchanged. `fid: true` (the
 * default) applies the port's pooling differences: average pools that exclude padding from the
 * divisor in the A, C and first E blocks, and a max pool in the last E block's pool branch.
 * `forwardFeatures` returns the 2048-wide pooled features that FID and KID are computed on.
 */
import { cat } from "../core/ops/join.ts";
import { avgPool2d, maxPool2d } from "../core/ops/pool.ts";
import { relu } from "../core/ops/elementwise.ts";
import { flatten } from "../core/ops/view.ts";
import type { Tensor } from "../core/tensor.ts";
import { Conv2d } from "../core/nn/conv.ts";
import { Linear } from "../core/nn/linear.ts";
import { Module } from "../core/nn/module.ts";
import { BatchNorm2d } from "../core/nn/norm.ts";
import { AdaptiveAvgPool2d } from "../core/nn/pool.ts";
import { loadTorchvisionWeights, readWeightsFile } from "./torchvision_weights.ts";

type Pair = number | [number, number];

/** Conv (no bias) → batch norm (ε 0.001, TensorFlow's) → ReLU: every convolution of the network. */
export class BasicConv2d extends Module {
  conv: Conv2d;
  bn: BatchNorm2d;

  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: Pair,
    opts: { stride?: number; padding?: Pair } = {},
  ) {
    super();
    this.conv = new Conv2d(inChannels, outChannels, kernelSize, { ...opts, bias: false });
    this.bn = new BatchNorm2d(outChannels, { eps: 0.001 });
  }

  override forward(x: Tensor): Tensor {
    return relu(this.bn.call(this.conv.call(x)));
  }
}

/** The 3×3 average pool of the pool branches (padding excluded from the divisor in the FID port). */
const poolBranchAvg = (x: Tensor, fid: boolean) =>
  avgPool2d(x, { kernelSize: 3, stride: 1, padding: 1, countIncludePad: !fid });

/** Mixed_5b–d: 1×1, 5×5, double 3×3 and pool branches (64 + 64 + 96 + `poolFeatures` channels). */
export class InceptionA extends Module {
  branch1x1: BasicConv2d;
  branch5x5_1: BasicConv2d;
  branch5x5_2: BasicConv2d;
  branch3x3dbl_1: BasicConv2d;
  branch3x3dbl_2: BasicConv2d;
  branch3x3dbl_3: BasicConv2d;
  branch_pool: BasicConv2d;

  constructor(inChannels: number, poolFeatures: number, readonly fid: boolean) {
    super();
    this.branch1x1 = new BasicConv2d(inChannels, 64, 1);
    this.branch5x5_1 = new BasicConv2d(inChannels, 48, 1);
    this.branch5x5_2 = new BasicConv2d(48, 64, 5, { padding: 2 });
    this.branch3x3dbl_1 = new BasicConv2d(inChannels, 64, 1);
    this.branch3x3dbl_2 = new BasicConv2d(64, 96, 3, { padding: 1 });
    this.branch3x3dbl_3 = new BasicConv2d(96, 96, 3, { padding: 1 });
    this.branch_pool = new BasicConv2d(inChannels, poolFeatures, 1);
  }

  override forward(x: Tensor): Tensor {
    return cat([
      this.branch1x1.call(x),
      this.branch5x5_2.call(this.branch5x5_1.call(x)),
      this.branch3x3dbl_3.call(this.branch3x3dbl_2.call(this.branch3x3dbl_1.call(x))),
      this.branch_pool.call(poolBranchAvg(x, this.fid)),
    ], 1);
  }
}

/** Mixed_6a: stride-2 reduction (384 + 96 + input channels). */
export class InceptionB extends Module {
  branch3x3: BasicConv2d;
  branch3x3dbl_1: BasicConv2d;
  branch3x3dbl_2: BasicConv2d;
  branch3x3dbl_3: BasicConv2d;

  constructor(inChannels: number) {
    super();
    this.branch3x3 = new BasicConv2d(inChannels, 384, 3, { stride: 2 });
    this.branch3x3dbl_1 = new BasicConv2d(inChannels, 64, 1);
    this.branch3x3dbl_2 = new BasicConv2d(64, 96, 3, { padding: 1 });
    this.branch3x3dbl_3 = new BasicConv2d(96, 96, 3, { stride: 2 });
  }

  override forward(x: Tensor): Tensor {
    return cat([
      this.branch3x3.call(x),
      this.branch3x3dbl_3.call(this.branch3x3dbl_2.call(this.branch3x3dbl_1.call(x))),
      maxPool2d(x, { kernelSize: 3, stride: 2 }),
    ], 1);
  }
}

/** Mixed_6b–e: factorised 7×7 branches (1×7 and 7×1) of width `channels7x7`; 4 × 192 channels out. */
export class InceptionC extends Module {
  branch1x1: BasicConv2d;
  branch7x7_1: BasicConv2d;
  branch7x7_2: BasicConv2d;
  branch7x7_3: BasicConv2d;
  branch7x7dbl_1: BasicConv2d;
  branch7x7dbl_2: BasicConv2d;
  branch7x7dbl_3: BasicConv2d;
  branch7x7dbl_4: BasicConv2d;
  branch7x7dbl_5: BasicConv2d;
  branch_pool: BasicConv2d;

  constructor(inChannels: number, channels7x7: number, readonly fid: boolean) {
    super();
    const c7 = channels7x7;
    const row = (i: number, o: number) => new BasicConv2d(i, o, [1, 7], { padding: [0, 3] });
    const col = (i: number, o: number) => new BasicConv2d(i, o, [7, 1], { padding: [3, 0] });
    this.branch1x1 = new BasicConv2d(inChannels, 192, 1);
    this.branch7x7_1 = new BasicConv2d(inChannels, c7, 1);
    this.branch7x7_2 = row(c7, c7);
    this.branch7x7_3 = col(c7, 192);
    this.branch7x7dbl_1 = new BasicConv2d(inChannels, c7, 1);
    this.branch7x7dbl_2 = col(c7, c7);
    this.branch7x7dbl_3 = row(c7, c7);
    this.branch7x7dbl_4 = col(c7, c7);
    this.branch7x7dbl_5 = row(c7, 192);
    this.branch_pool = new BasicConv2d(inChannels, 192, 1);
  }

  override forward(x: Tensor): Tensor {
    let b7 = this.branch7x7_1.call(x);
    b7 = this.branch7x7_3.call(this.branch7x7_2.call(b7));
    let d7 = this.branch7x7dbl_1.call(x);
    for (const conv of [this.branch7x7dbl_2, this.branch7x7dbl_3, this.branch7x7dbl_4, this.branch7x7dbl_5]) {
      d7 = conv.call(d7);
    }
    return cat([this.branch1x1.call(x), b7, d7, this.branch_pool.call(poolBranchAvg(x, this.fid))], 1);
  }
}

/** Mixed_7a: stride-2 reduction (320 + 192 + input channels). */
export class InceptionD extends Module {
  branch3x3_1: BasicConv2d;
  branch3x3_2: BasicConv2d;
  branch7x7x3_1: BasicConv2d;
  branch7x7x3_2: BasicConv2d;
  branch7x7x3_3: BasicConv2d;
  branch7x7x3_4: BasicConv2d;

  constructor(inChannels: number) {
    super();
    this.branch3x3_1 = new BasicConv2d(inChannels, 192, 1);
    this.branch3x3_2 = new BasicConv2d(192, 320, 3, { stride: 2 });
    this.branch7x7x3_1 = new BasicConv2d(inChannels, 192, 1);
    this.branch7x7x3_2 = new BasicConv2d(192, 192, [1, 7], { padding: [0, 3] });
    this.branch7x7x3_3 = new BasicConv2d(192, 192, [7, 1], { padding: [3, 0] });
    this.branch7x7x3_4 = new BasicConv2d(192, 192, 3, { stride: 2 });
  }

  override forward(x: Tensor): Tensor {
    let b = this.branch7x7x3_1.call(x);
    for (const conv of [this.branch7x7x3_2, this.branch7x7x3_3, this.branch7x7x3_4]) b = conv.call(b);
    return cat([
      this.branch3x3_2.call(this.branch3x3_1.call(x)),
      b,
      maxPool2d(x, { kernelSize: 3, stride: 2 }),
    ], 1);
  }
}

/**
 * Mixed_7b–c: expanded 3×3 branches split into 1×3 and 3×1 halves (320 + 768 + 768 + 192
 * channels). `pool` is the pool branch's pooling: "avg", "avgExcludePad" (FID, Mixed_7b) or
 * "max" (FID, Mixed_7c).
 */
export class InceptionE extends Module {
  branch1x1: BasicConv2d;
  branch3x3_1: BasicConv2d;
  branch3x3_2a: BasicConv2d;
  branch3x3_2b: BasicConv2d;
  branch3x3dbl_1: BasicConv2d;
  branch3x3dbl_2: BasicConv2d;
  branch3x3dbl_3a: BasicConv2d;
  branch3x3dbl_3b: BasicConv2d;
  branch_pool: BasicConv2d;

  constructor(inChannels: number, readonly pool: "avg" | "avgExcludePad" | "max") {
    super();
    this.branch1x1 = new BasicConv2d(inChannels, 320, 1);
    this.branch3x3_1 = new BasicConv2d(inChannels, 384, 1);
    this.branch3x3_2a = new BasicConv2d(384, 384, [1, 3], { padding: [0, 1] });
    this.branch3x3_2b = new BasicConv2d(384, 384, [3, 1], { padding: [1, 0] });
    this.branch3x3dbl_1 = new BasicConv2d(inChannels, 448, 1);
    this.branch3x3dbl_2 = new BasicConv2d(448, 384, 3, { padding: 1 });
    this.branch3x3dbl_3a = new BasicConv2d(384, 384, [1, 3], { padding: [0, 1] });
    this.branch3x3dbl_3b = new BasicConv2d(384, 384, [3, 1], { padding: [1, 0] });
    this.branch_pool = new BasicConv2d(inChannels, 192, 1);
  }

  override forward(x: Tensor): Tensor {
    const b3 = this.branch3x3_1.call(x);
    const d3 = this.branch3x3dbl_2.call(this.branch3x3dbl_1.call(x));
    const pooled = this.pool === "max"
      ? maxPool2d(x, { kernelSize: 3, stride: 1, padding: 1 })
      : poolBranchAvg(x, this.pool === "avgExcludePad");
    return cat([
      this.branch1x1.call(x),
      this.branch3x3_2a.call(b3),
      this.branch3x3_2b.call(b3),
      this.branch3x3dbl_3a.call(d3),
      this.branch3x3dbl_3b.call(d3),
      this.branch_pool.call(pooled),
    ], 1);
  }
}

/** Options of {@linkcode InceptionV3}. */
export interface InceptionV3Options {
  /** Classes of the `fc` head (default 1008, the FID weights'; torchvision's ImageNet weights have 1000). */
  numClasses?: number;
  /** The FID port's pooling (default true); false gives torchvision's `Inception3` exactly. */
  fid?: boolean;
}

/**
 * Inception-v3 without the auxiliary head, input [N, 3, H, W] with H, W ≥ 75 (FID feeds 299×299
 * images scaled to [−1, 1]).
 */
export class InceptionV3 extends Module {
  Conv2d_1a_3x3: BasicConv2d;
  Conv2d_2a_3x3: BasicConv2d;
  Conv2d_2b_3x3: BasicConv2d;
  Conv2d_3b_1x1: BasicConv2d;
  Conv2d_4a_3x3: BasicConv2d;
  Mixed_5b: InceptionA;
  Mixed_5c: InceptionA;
  Mixed_5d: InceptionA;
  Mixed_6a: InceptionB;
  Mixed_6b: InceptionC;
  Mixed_6c: InceptionC;
  Mixed_6d: InceptionC;
  Mixed_6e: InceptionC;
  Mixed_7a: InceptionD;
  Mixed_7b: InceptionE;
  Mixed_7c: InceptionE;
  avgpool: AdaptiveAvgPool2d = new AdaptiveAvgPool2d(1);
  fc: Linear;
  /** Width of {@linkcode InceptionV3.forwardFeatures}. */
  readonly numFeatures: number = 2048;

  constructor(opts: InceptionV3Options = {}) {
    super();
    const fid = opts.fid ?? true;
    this.Conv2d_1a_3x3 = new BasicConv2d(3, 32, 3, { stride: 2 });
    this.Conv2d_2a_3x3 = new BasicConv2d(32, 32, 3);
    this.Conv2d_2b_3x3 = new BasicConv2d(32, 64, 3, { padding: 1 });
    this.Conv2d_3b_1x1 = new BasicConv2d(64, 80, 1);
    this.Conv2d_4a_3x3 = new BasicConv2d(80, 192, 3);
    this.Mixed_5b = new InceptionA(192, 32, fid);
    this.Mixed_5c = new InceptionA(256, 64, fid);
    this.Mixed_5d = new InceptionA(288, 64, fid);
    this.Mixed_6a = new InceptionB(288);
    this.Mixed_6b = new InceptionC(768, 128, fid);
    this.Mixed_6c = new InceptionC(768, 160, fid);
    this.Mixed_6d = new InceptionC(768, 160, fid);
    this.Mixed_6e = new InceptionC(768, 192, fid);
    this.Mixed_7a = new InceptionD(768);
    this.Mixed_7b = new InceptionE(1280, fid ? "avgExcludePad" : "avg");
    this.Mixed_7c = new InceptionE(2048, fid ? "max" : "avg");
    this.fc = new Linear(2048, opts.numClasses ?? 1008);
  }

  /** The pooled features [N, 2048] (pytorch-fid's "pool3"). */
  forwardFeatures(x: Tensor): Tensor {
    if (x.shape.length !== 4 || x.shape[1] !== 3 || x.shape[2] < 75 || x.shape[3] < 75) {
      throw new RangeError(`InceptionV3: expected [N, 3, H, W] with H, W ≥ 75, got [${x.shape.join(", ")}]`);
    }
    let h = this.Conv2d_2b_3x3.call(this.Conv2d_2a_3x3.call(this.Conv2d_1a_3x3.call(x)));
    h = maxPool2d(h, { kernelSize: 3, stride: 2 });
    h = this.Conv2d_4a_3x3.call(this.Conv2d_3b_1x1.call(h));
    h = maxPool2d(h, { kernelSize: 3, stride: 2 });
    for (
      const block of [
        this.Mixed_5b,
        this.Mixed_5c,
        this.Mixed_5d,
        this.Mixed_6a,
        this.Mixed_6b,
        this.Mixed_6c,
        this.Mixed_6d,
        this.Mixed_6e,
        this.Mixed_7a,
        this.Mixed_7b,
        this.Mixed_7c,
      ]
    ) h = block.call(h);
    return flatten(this.avgpool.call(h), 1);
  }

  /** Class logits (the FID weights' 1008 TensorFlow classes); dropout is left out (inference only). */
  override forward(x: Tensor): Tensor {
    return this.fc.call(this.forwardFeatures(x));
  }
}

/**
 * An Inception-v3 with the weights of a safetensors file in torchvision's names: pytorch-fid's
 * FID weights (1008 classes) or torchvision's ImageNet ones (1000 classes, auxiliary head
 * ignored: it only trains). `num_batches_tracked` counters may be absent (the FID file has
 * none); any other missing, extra or misshapen tensor is an error naming the file.
 */
export async function loadInceptionV3(path: string, opts: { fid?: boolean } = {}): Promise<InceptionV3> {
  const weights = await readWeightsFile(path, `Inception-v3 weights ${path}`);
  const fc = weights["fc.weight"];
  const model = new InceptionV3({ fid: opts.fid, numClasses: fc?.shape.length === 2 ? fc.shape[0] : 1008 });
  try {
    const use: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(weights)) if (!name.startsWith("AuxLogits.")) use[name] = t;
    loadTorchvisionWeights(model, use, `Inception-v3 weights ${path}`, "Inception3");
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    for (const t of Object.values(weights)) t.dispose();
  }
  model.eval();
  return model;
}
