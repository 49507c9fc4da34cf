/**
 * `embed` of every classifier family (the penultimate features the generation metrics use) is
 * exactly what the final layer reads: head(embed(x)) equals forward(x) bit for bit, and the
 * width is the head's input width.
 */
import { noGrad, randn, scope } from "../mod.ts";
import { efficientnetB0 } from "../models/efficientnet.ts";
import { resnet18 } from "../models/resnet.ts";
import { SwinTransformer } from "../models/swin.ts";
import { VisionTransformer } from "../models/vit.ts";
import type { Tensor } from "../core/tensor.ts";
import { assertEquals } from "./_asserts.ts";
import { gpuTest } from "./_util.ts";

type Model = { eval(): unknown; forward(x: Tensor): Tensor; embed(x: Tensor): Tensor; dispose(): void };

gpuTest("embed: ResNet, EfficientNet, ViT and Swin heads read exactly embed(x)", async () => {
  const r = resnet18({ numClasses: 3, inChannels: 1, smallInput: true });
  const e = efficientnetB0({ numClasses: 3, inChannels: 1 });
  const v = new VisionTransformer({
    imageSize: 8,
    patchSize: 4,
    numLayers: 1,
    numHeads: 2,
    hiddenDim: 8,
    mlpDim: 16,
    numClasses: 3,
    inChannels: 1,
  });
  const s = new SwinTransformer({
    imageSize: 16,
    patchSize: 4,
    embedDim: 8,
    depths: [1, 1],
    numHeads: [1, 2],
    windowSize: 2,
    numClasses: 3,
    inChannels: 1,
  });
  const cases: [string, Model, (f: Tensor) => Tensor, number, number[]][] = [
    ["resnet18", r, (f) => r.fc!.call(f), 512, [2, 1, 8, 8]],
    ["efficientnetB0", e, (f) => e.classifier.call(f), 1280, [2, 1, 32, 32]],
    ["vit", v, (f) => v.heads.call(f), 8, [2, 1, 8, 8]],
    ["swin", s, (f) => s.head.call(f), 16, [2, 1, 16, 16]],
  ];
  for (const [name, model, head, width, shape] of cases) {
    model.eval();
    const x = randn(shape);
    const [direct, viaEmbed, w] = await scope(async () => {
      const out = noGrad(() => model.forward(x));
      const f = noGrad(() => model.embed(x));
      const again = noGrad(() => head(f));
      return [await out.toArray(), await again.toArray(), f.shape[1]] as const;
    });
    assertEquals(w, width, `${name}: embed width is the head's input`);
    assertEquals(viaEmbed, direct, `${name}: head(embed(x)) = forward(x)`);
    x.dispose();
    model.dispose();
  }
});
