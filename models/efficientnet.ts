/**
 * torchvision's EfficientNet (v1: B0–B7 scaling, MBConv blocks with depthwise convs,
 * squeeze-and-excitation, SiLU and stochastic depth) with torchvision's parameter names
 * (`features.1.0.block.0.0.weight`, `features.2.0.block.2.fc1.weight`, `classifier.1.weight`,
 * …), so torchvision state dicts load unchanged.
 */
import { add, mul, sigmoid, silu } from "../core/ops/elementwise.ts";
import type { Generator } from "../core/ops/random.ts";
import { flatten } from "../core/ops/view.ts";
import type { Tensor } from "../core/tensor.ts";
import { chain, Sequential } from "../core/nn/containers.ts";
import { Conv2d } from "../core/nn/conv.ts";
import { kaimingNormal_, uniform_, zeros_ } from "../core/nn/init.ts";
import { Dropout, Linear, SiLU, StochasticDepth } from "../core/nn/linear.ts";
import { Module } from "../core/nn/module.ts";
import { BatchNorm2d } from "../core/nn/norm.ts";
import { AdaptiveAvgPool2d } from "../core/nn/pool.ts";

/** torchvision's `_make_divisible`: the nearest multiple of `divisor`, never below 90 % of `v`. */
export function makeDivisible(v: number, divisor = 8): number {
  const rounded = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  return rounded < 0.9 * v ? rounded + divisor : rounded;
}

/** One stage of the B0 baseline: expansion, kernel, stride, channels in/out, blocks. */
interface StageConfig {
  expandRatio: number;
  kernel: number;
  stride: number;
  inChannels: number;
  outChannels: number;
  layers: number;
}

const B0_STAGES: readonly StageConfig[] = [
  [1, 3, 1, 32, 16, 1],
  [6, 3, 2, 16, 24, 2],
  [6, 5, 2, 24, 40, 2],
  [6, 3, 2, 40, 80, 3],
  [6, 5, 1, 80, 112, 3],
  [6, 5, 2, 112, 192, 4],
  [6, 3, 1, 192, 320, 1],
].map(([expandRatio, kernel, stride, inChannels, outChannels, layers]) => ({
  expandRatio,
  kernel,
  stride,
  inChannels,
  outChannels,
  layers,
}));

/** conv (no bias) → batch norm (→ SiLU): torchvision's `Conv2dNormActivation`. */
function convNormAct(
  inC: number,
  outC: number,
  kernel: number,
  opts: { stride?: number; groups?: number; activation?: boolean; generator?: Generator } = {},
): Sequential {
  const conv = new Conv2d(inC, outC, kernel, {
    stride: opts.stride ?? 1,
    padding: (kernel - 1) >> 1,
    groups: opts.groups ?? 1,
    bias: false,
    generator: opts.generator,
  });
  const layers: Module[] = [conv, new BatchNorm2d(outC)];
  if (opts.activation ?? true) layers.push(new SiLU());
  return new Sequential(...layers);
}

/** Squeeze-and-excitation: x · σ(fc2(silu(fc1(avgpool x)))) with 1×1 convs `fc1`, `fc2`. */
export class SqueezeExcitation extends Module {
  /** Global average pool. */
  avgpool: AdaptiveAvgPool2d = new AdaptiveAvgPool2d(1);
  /** Squeeze: channels → squeeze channels. */
  fc1: Conv2d;
  /** Excite: squeeze channels → channels. */
  fc2: Conv2d;

  /** SE over `channels` with a bottleneck of `squeezeChannels`. */
  constructor(channels: number, squeezeChannels: number, generator?: Generator) {
    super();
    this.fc1 = new Conv2d(channels, squeezeChannels, 1, { generator });
    this.fc2 = new Conv2d(squeezeChannels, channels, 1, { generator });
  }

  /** Rescales each channel of x by its gate in (0, 1). */
  override forward(x: Tensor): Tensor {
    const gate = sigmoid(this.fc2.call(silu(this.fc1.call(this.avgpool.call(x)))));
    return mul(x, gate);
  }
}

/** Mobile inverted bottleneck: (1×1 expand) → depthwise k×k → SE → 1×1 project, residual with stochastic depth. */
export class MBConv extends Module {
  /** Whether input and output shapes match, so the input is added back. */
  readonly useResidual: boolean;
  /** The branch: [expand,] depthwise, SE, project — torchvision's `block`. */
  block: Sequential;
  /** Drop path on the branch (only used with the residual). */
  stochastic_depth: StochasticDepth;

  /** A block with `cfg`'s expansion/kernel/stride from `cfg.inChannels` to `cfg.outChannels`. */
  constructor(cfg: StageConfig, stochasticDepthProb: number, generator?: Generator) {
    super();
    if (cfg.stride !== 1 && cfg.stride !== 2) throw new RangeError(`MBConv: stride must be 1 or 2, got ${cfg.stride}`);
    this.useResidual = cfg.stride === 1 && cfg.inChannels === cfg.outChannels;
    const expanded = makeDivisible(cfg.inChannels * cfg.expandRatio);
    const layers: Module[] = [];
    if (expanded !== cfg.inChannels) layers.push(convNormAct(cfg.inChannels, expanded, 1, { generator }));
    layers.push(convNormAct(expanded, expanded, cfg.kernel, { stride: cfg.stride, groups: expanded, generator }));
    layers.push(new SqueezeExcitation(expanded, Math.max(1, Math.floor(cfg.inChannels / 4)), generator));
    layers.push(convNormAct(expanded, cfg.outChannels, 1, { activation: false, generator }));
    this.block = new Sequential(...layers);
    this.stochastic_depth = new StochasticDepth(stochasticDepthProb, "row", { generator });
  }

  /** block(x) (+ x through stochastic depth when shapes match). */
  override forward(x: Tensor): Tensor {
    const branch = this.block.call(x);
    if (!this.useResidual) return branch;
    return add(this.stochastic_depth.call(branch), x);
  }
}

/** Options of `EfficientNet` and the `efficientnetB0…B7` builders. */
export interface EfficientNetOptions {
  /** Classes of the classifier (default 1000). */
  numClasses?: number;
  /** Input channels (default 3). */
  inChannels?: number;
  /** Dropout before the classifier (default: torchvision's per variant, 0.2 for B0, 0.4 for B4). */
  dropout?: number;
  /** Largest stochastic-depth probability, reached by the last block (default 0.2). */
  stochasticDepthProb?: number;
  /** Generator for the initial weights and the dropout/drop-path masks (default: the global one). */
  generator?: Generator;
}

/**
 * torchvision's `EfficientNet`: `features` (stem conv, seven MBConv stages, 1×1 head conv),
 * `avgpool`, `classifier` (dropout, linear). Convs start from kaiming_normal(fan_out), batch
 * norms at 1/0, the linear layer from U(±1/√out), as torchvision.
 *
 * @example
 * ```ts
 * const net = efficientnetB0({ numClasses: 5 });
 * const logits = net.call(images); // (N, 3, 224, 224) → (N, 5)
 * ```
 */
export class EfficientNet extends Module {
  /** Stem, stages and head, as one Sequential (`features.0` … `features.8`). */
  features: Sequential;
  /** Global average pool. */
  avgpool: AdaptiveAvgPool2d = new AdaptiveAvgPool2d(1);
  /** Dropout → Linear (`classifier.1`). */
  classifier: Sequential;
  /** Channels of the last feature map (1280 for B0). */
  readonly numFeatures: number;

  /** An EfficientNet scaling B0's widths by `widthMult` and depths by `depthMult`. */
  constructor(widthMult: number, depthMult: number, defaultDropout: number, opts: EfficientNetOptions = {}) {
    super();
    const numClasses = opts.numClasses ?? 1000, inChannels = opts.inChannels ?? 3, g = opts.generator;
    for (const [n, v] of [["numClasses", numClasses], ["inChannels", inChannels]] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(`EfficientNet: ${n} must be a positive integer, got ${v}`);
      }
    }
    const dropoutP = opts.dropout ?? defaultDropout, sdProb = opts.stochasticDepthProb ?? 0.2;
    for (const [n, v] of [["dropout", dropoutP], ["stochasticDepthProb", sdProb]] as const) {
      if (!(v >= 0 && v < 1)) throw new RangeError(`EfficientNet: ${n} must be in [0, 1), got ${v}`);
    }
    const stages = B0_STAGES.map((s) => ({
      ...s,
      inChannels: makeDivisible(s.inChannels * widthMult),
      outChannels: makeDivisible(s.outChannels * widthMult),
      layers: Math.ceil(s.layers * depthMult),
    }));
    const layers: Module[] = [convNormAct(inChannels, stages[0].inChannels, 3, { stride: 2, generator: g })];
    const totalBlocks = stages.reduce((n, s) => n + s.layers, 0);
    let blockId = 0;
    for (const s of stages) {
      const blocks: Module[] = [];
      for (let i = 0; i < s.layers; i++) {
        const cfg = i === 0 ? s : { ...s, inChannels: s.outChannels, stride: 1 };
        blocks.push(new MBConv(cfg, (sdProb * blockId) / totalBlocks, g));
        blockId++;
      }
      layers.push(new Sequential(...blocks));
    }
    const last = stages[stages.length - 1].outChannels;
    this.numFeatures = 4 * last;
    layers.push(convNormAct(last, this.numFeatures, 1, { generator: g }));
    this.features = new Sequential(...layers);
    this.classifier = new Sequential(
      new Dropout(dropoutP, { generator: g }),
      new Linear(this.numFeatures, numClasses, { generator: g }),
    );
    for (const m of this.modules()) {
      if (m instanceof Conv2d) {
        kaimingNormal_(m.weight, { mode: "fan_out", generator: g });
        if (m.bias) zeros_(m.bias);
      } else if (m instanceof Linear) {
        const range = 1 / Math.sqrt(m.outFeatures);
        uniform_(m.weight, -range, range, { generator: g });
        if (m.bias) zeros_(m.bias);
      }
    }
  }

  /** (N, C, H, W) → the last feature map (N, numFeatures, H/32, W/32). */
  forwardFeatures(x: Tensor): Tensor {
    return this.features.call(x);
  }

  /** (N, C, H, W) → logits (N, numClasses). */
  override forward(x: Tensor): Tensor {
    return this.classifier.call(this.embed(x));
  }

  /** (N, C, H, W) → the pooled features the classifier reads (N, lastChannels): the penultimate layer. */
  embed(x: Tensor): Tensor {
    return flatten(chain(x, this.features, this.avgpool), 1);
  }
}

/** EfficientNet-B0 (width 1.0, depth 1.0, dropout 0.2); 5,288,548 parameters at 1000 classes. */
export function efficientnetB0(opts: EfficientNetOptions = {}): EfficientNet {
  return new EfficientNet(1.0, 1.0, 0.2, opts);
}

/** EfficientNet-B4 (width 1.4, depth 1.8, dropout 0.4); 19,341,616 parameters at 1000 classes. */
export function efficientnetB4(opts: EfficientNetOptions = {}): EfficientNet {
  return new EfficientNet(1.4, 1.8, 0.4, opts);
}
