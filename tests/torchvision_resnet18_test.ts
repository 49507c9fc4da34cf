/**
 * A torchvision-exported ResNet-18 (small-input stem, random weights, running statistics
 * randomised) loads unchanged from safetensors and gives PyTorch's eval-mode logits within 1e-4.
 * The 45 MB weights file is made by scripts/make_torchvision_resnet18.py under the git-ignored
 * `.cache/fixtures/` (too big to commit); the committed JSON holds its SHA-256, the input and the
 * logits. Without the file the test is skipped, saying how to make it.
 */
import { createHash } from "node:crypto";
import { loadSafetensors } from "../core/nn/safetensors.ts";
import { resnet18 } from "../models/mod.ts";
import { hasGpu, noGrad, tensor } from "../mod.ts";
import { assertEquals } from "./_asserts.ts";
import { assertClose, NEEDS_GPU } from "./_util.ts";
import { skippableTest } from "./_skip.ts";

const fixture = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/resnet18_tv_small.json", import.meta.url)),
) as { sha256: string; input: number[]; input_shape: number[]; logits: number[]; logits_shape: number[] };
const weights = new URL("../.cache/fixtures/resnet18_tv_small.safetensors", import.meta.url);
let present = false;
try {
  present = Deno.statSync(weights).isFile;
} catch { /* absent */ }
const SKIP = "skipped: run `python3 scripts/make_torchvision_resnet18.py` (torch + torchvision) to make the weights";
if (!present) console.log(`torchvision_resnet18_test: ${SKIP}`);

skippableTest({
  name: `torchvision ResNet-18 safetensors: loads unchanged, same logits as PyTorch${present ? "" : ` (${SKIP})`}`,
  skip: !present ? "the torchvision fixture (.cache/fixtures)" : !hasGpu() && NEEDS_GPU,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const bytes = await Deno.readFile(weights);
    assertEquals(createHash("sha256").update(bytes).digest("hex"), fixture.sha256, "the weights match the JSON");
    const state = await loadSafetensors(weights);
    const net = resnet18({ numClasses: 10, smallInput: true });
    net.loadStateDict(state); // strict: every torchvision key, no extras
    net.eval();
    const y = noGrad(() => net.call(tensor(fixture.input, fixture.input_shape)));
    assertEquals(y.shape, fixture.logits_shape);
    const scale = fixture.logits.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assertClose(await y.data(), fixture.logits, { atol: 1e-4 * scale, rtol: 0, msg: "logits" });
    net.dispose();
    for (const t of Object.values(state)) t.dispose();
  },
});
