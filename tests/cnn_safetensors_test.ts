import { assertEquals } from "./_asserts.ts";
import { assertClose, gpuTest } from "./_util.ts";
import { loadSafetensors, nn, noGrad } from "../mod.ts";

/** The network of scripts/make_cnn_safetensors_fixture.py, layer for layer. */
function buildCnn(): nn.Sequential {
  return new nn.Sequential(
    new nn.Conv2d(3, 8, 3, { padding: 1 }),
    new nn.BatchNorm2d(8),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Conv2d(8, 16, 3, { stride: 2, padding: 1, groups: 2 }),
    new nn.GroupNorm(4, 16),
    new nn.SiLU(),
    new nn.AdaptiveAvgPool2d(1),
    new nn.Flatten(),
    new nn.Linear(16, 5),
  );
}

gpuTest("a PyTorch-made safetensors CNN loads by state-dict key and reproduces its eval logits", async () => {
  const file = await loadSafetensors(new URL("fixtures/cnn.safetensors", import.meta.url));
  const { "input.x": x, "expected.logits": expected, ...stateDict } = file;
  const model = buildCnn();
  try {
    assertEquals(Object.keys(model.stateDict()).sort(), Object.keys(stateDict).sort());
    model.loadStateDict(stateDict); // strict: every key, every shape
    model.eval();
    const logits = noGrad(() => model.call(x));
    assertEquals([...logits.shape], [2, 5]);
    assertClose(await logits.data(), await expected.data(), { atol: 2e-5, rtol: 1e-4 });
  } finally {
    model.dispose();
  }
});
