/**
 * Training checkpoints: round trip of model + AdamW + EMA + scheduler + RNG, bit-exact resume,
 * and the failure modes (other architecture, missing optimizer state, corrupt file, a flipped bit
 * caught by the checksum, malformed metadata, failed save).
 */
import {
  AdamW,
  batchNorm,
  conv2d,
  CosineAnnealingLR,
  crossEntropy,
  defaultGenerator,
  dropout,
  EMA,
  manualSeed,
  maxPool2d,
  ones,
  randn,
  scope,
  type Tensor,
  tensor,
  zeros,
} from "../mod.ts";
import { Linear } from "../core/nn/linear.ts";
import { Module, Parameter } from "../core/nn/module.ts";
import {
  checkpointPath,
  latestCheckpoint,
  loadCheckpoint,
  modelFingerprint,
  saveCheckpoint,
} from "../train/checkpoint.ts";
import { assert, assertEquals, assertRejects } from "./_asserts.ts";
import { DatasetError, WriteError } from "../util/errors.ts";
import { CHECKSUM_KEY } from "../util/formats/safetensors.ts";
import { gpuTest, rng, withFixedKernels } from "./_util.ts";

const B = 8, HW = 8, CLASSES = 3;

/** conv 3×3 → batchNorm (running stats as buffers) → relu → dropout → maxPool → linear. */
class TinyNet extends Module {
  convWeight: Parameter;
  bnWeight: Parameter = new Parameter(ones([4]));
  bnBias: Parameter = new Parameter(zeros([4]));
  runningMean: Tensor;
  runningVar: Tensor;
  fc: Linear;

  constructor(hidden = 4 * (HW / 2) ** 2) {
    super();
    this.convWeight = new Parameter(randn([4, 1, 3, 3]).mul(0.3));
    this.runningMean = this.registerBuffer("runningMean", zeros([4]));
    this.runningVar = this.registerBuffer("runningVar", ones([4]));
    this.fc = new Linear(hidden, CLASSES);
  }

  override forward(x: Tensor): Tensor {
    const c = conv2d(x, this.convWeight, null, { padding: 1 });
    const n = batchNorm(c, this.runningMean, this.runningVar, this.bnWeight, this.bnBias, { training: this.training });
    const d = dropout(n.relu(), 0.2, this.training);
    return this.fc.call(maxPool2d(d, { kernelSize: 2 }).flatten(1));
  }
}

interface Run {
  net: TinyNet;
  opt: AdamW;
  ema: EMA;
  sched: CosineAnnealingLR;
}

function build(): Run {
  const net = new TinyNet();
  const opt = new AdamW(net.parameters(), { lr: 0.05, weightDecay: 0.01 });
  const ema = new EMA(() => net.namedParameters(), { decay: 0.9, warmup: true });
  const sched = new CosineAnnealingLR(opt, { tMax: 10, etaMin: 0.005 });
  return { net, opt, ema, sched };
}

function dispose(r: Run): void {
  r.net.dispose();
  r.opt.dispose();
  r.ema.dispose();
}

/** The batch of step `step`: a function of the step only (not of any saved state). */
function batch(step: number): { x: Tensor; y: Tensor } {
  const r = rng(1000 + step);
  const x = Float32Array.from({ length: B * HW * HW }, () => r() * 2 - 1);
  const y = Int32Array.from({ length: B }, () => Math.floor(r() * CLASSES));
  return { x: tensor(x, [B, 1, HW, HW]), y: tensor(y, [B], { dtype: "int32" }) };
}

/** One training step with input noise from `randn` and dropout, so the RNG state matters. */
async function trainStep(r: Run, step: number): Promise<number> {
  const loss = scope(() => {
    const { x, y } = batch(step);
    const l = crossEntropy(r.net.call(x.add(randn(x.shape).mul(0.1))), y);
    l.backward();
    r.opt.step();
    r.opt.zeroGrad();
    r.ema.update();
    r.sched.step();
    return l;
  });
  const v = await loss.item();
  loss.dispose();
  return v;
}

async function snapshot(r: Run): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [n, t] of Object.entries(r.net.stateDict())) {
    out[`model.${n}`] = await t.toArray();
    t.dispose();
  }
  for (const [n, t] of r.ema.shadow) out[`ema.${n}`] = await t.toArray();
  const sd = r.opt.stateDict();
  for (const [i, st] of Object.entries(sd.state)) {
    for (const [k, v] of Object.entries(st)) out[`optim.${i}.${k}`] = typeof v === "number" ? [v] : await v.toArray();
  }
  return out;
}

gpuTest("checkpoint: resume reproduces the uninterrupted loss sequence bit for bit", async () => {
  await withFixedKernels(async () => {
    const dir = await Deno.makeTempDir({ prefix: "meddiff-ckpt-" });
    try {
      const N = 6, K = 3;
      manualSeed(7);
      const straight = build();
      const expected: number[] = [];
      for (let s = 0; s < N; s++) expected.push(await trainStep(straight, s));
      const expectedState = await snapshot(straight);
      const expectedRng = defaultGenerator.getState();
      dispose(straight);

      manualSeed(7);
      let run = build();
      const got: number[] = [];
      for (let s = 0; s < K; s++) got.push(await trainStep(run, s));
      const path = checkpointPath(dir, K);
      await saveCheckpoint(path, { model: run.net, optimizer: run.opt, ema: run.ema, scheduler: run.sched, step: K });
      dispose(run);

      manualSeed(12345); // a different initialisation and RNG position: the checkpoint must override both
      run = build();
      const info = await loadCheckpoint((await latestCheckpoint(dir))!, {
        model: run.net,
        optimizer: run.opt,
        ema: run.ema,
        scheduler: run.sched,
      });
      assertEquals(info.step, K);
      for (let s = info.step; s < N; s++) got.push(await trainStep(run, s));
      assertEquals(got, expected, "loss sequence after resume");
      assert(expected.every(Number.isFinite) && expected[N - 1] !== expected[0]);
      assertEquals(await snapshot(run), expectedState, "final model, EMA and optimizer state");
      assertEquals(defaultGenerator.getState(), expectedRng);
      dispose(run);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

gpuTest("checkpoint: round trip of model, AdamW, EMA, scheduler, RNG and extras", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meddiff-ckpt-" });
  try {
    manualSeed(3);
    const a = build();
    for (let s = 0; s < 2; s++) await trainStep(a, s);
    a.opt.paramGroups[0].lr = 0.0123; // a hand-set value must come back too
    const rngState = defaultGenerator.getState();
    const path = `${dir}/a.safetensors`;
    await saveCheckpoint(path, {
      model: a.net,
      optimizer: a.opt,
      ema: a.ema,
      scheduler: a.sched,
      step: 2,
      epoch: 1,
      extra: { best: 0.5, note: "x" },
    });
    const want = await snapshot(a);

    manualSeed(99);
    const b = build();
    const info = await loadCheckpoint(path, { model: b.net, optimizer: b.opt, ema: b.ema, scheduler: b.sched });
    assertEquals(info, {
      step: 2,
      epoch: 1,
      extra: { best: 0.5, note: "x" },
      rng: rngState,
      version: 1,
      checksum: "verified",
    });
    assertEquals(defaultGenerator.getState(), rngState);
    assertEquals(await snapshot(b), want);
    assertEquals(b.opt.paramGroups[0].lr, 0.0123);
    assertEquals(b.opt.paramGroups[0].betas, a.opt.paramGroups[0].betas);
    assertEquals(b.sched.stateDict(), a.sched.stateDict());
    assertEquals([b.ema.step, b.ema.numUpdates], [a.ema.step, a.ema.numUpdates]);

    // The model alone (no optimizer passed) loads from the same file; the RNG can be left alone.
    const c = new TinyNet();
    defaultGenerator.manualSeed(5);
    await loadCheckpoint(path, { model: c, restoreRng: false });
    assertEquals(defaultGenerator.getState(), { seed: 5, offset: 0 });
    assertEquals(modelFingerprint(c), modelFingerprint(a.net));
    for (const r of [a, b]) dispose(r);
    c.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest("checkpoint: another architecture or missing state is refused before anything changes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meddiff-ckpt-" });
  try {
    manualSeed(1);
    const net = new TinyNet();
    const path = `${dir}/m.safetensors`;
    await saveCheckpoint(path, { model: net, step: 0 });

    const other = new TinyNet(4 * (HW / 2) ** 2 + 1); // fc.weight is [3, 65] instead of [3, 64]
    const before = await other.fc.weight.toArray();
    const rngBefore = defaultGenerator.getState();
    await assertRejects(
      () => loadCheckpoint(path, { model: other }),
      Error,
      `different architecture (TinyNet): "fc.weight" has shape [3, 64] in the checkpoint but [3, 65] in the model`,
    );
    assertEquals(await other.fc.weight.toArray(), before);
    assertEquals(defaultGenerator.getState(), rngBefore);

    const opt = new AdamW(net.parameters());
    await assertRejects(
      () => loadCheckpoint(path, { model: net, optimizer: opt }),
      Error,
      "an optimizer was passed but the checkpoint has no optimizer state",
    );
    const ema = new EMA(() => net.namedParameters());
    await assertRejects(() => loadCheckpoint(path, { model: net, ema }), Error, "no EMA state");
    await assertRejects(
      () => loadCheckpoint(`${dir}/absent.safetensors`, { model: net }),
      Error,
      `${dir}/absent.safetensors: cannot read the file`,
    );
    for (const x of [net, other, opt, ema]) x.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest("checkpoint: truncated and corrupt files fail with the safetensors errors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meddiff-ckpt-" });
  try {
    manualSeed(1);
    const net = new TinyNet();
    const path = `${dir}/c.safetensors`;
    await saveCheckpoint(path, { model: net, step: 4 });
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(path, bytes.subarray(0, bytes.length - 10));
    await assertRejects(() => loadCheckpoint(path, { model: net }), DatasetError, `${path}:`);
    const garbled = bytes.slice();
    garbled[9] = 0x7b; // inside the JSON header
    garbled[10] = 0x7b;
    await Deno.writeFile(path, garbled);
    await assertRejects(
      () => loadCheckpoint(path, { model: net }),
      DatasetError,
      `${path}: the header is not valid JSON`,
    );
    await Deno.writeFile(path, new Uint8Array(3));
    await assertRejects(() => loadCheckpoint(path, { model: net }), Error, "truncated");
    net.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest("checkpoint: a failed save leaves the old file intact and no temporary file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meddiff-ckpt-" });
  try {
    manualSeed(1);
    const net = new TinyNet();
    const path = checkpointPath(dir, 1);
    await saveCheckpoint(path, { model: net, step: 1 });
    const good = await Deno.readFile(path);
    net.fc.bias!.dispose();
    await assertRejects(
      () => saveCheckpoint(path, { model: net, step: 2 }),
      Error,
      `the model's tensor "fc.bias" was disposed`,
    );
    const fresh = new TinyNet();
    await assertRejects(
      () => saveCheckpoint(`${dir}/no/such/dir/x.safetensors`, { model: fresh, step: 0 }),
      WriteError,
      "x.safetensors: cannot write the checkpoint (",
    );
    fresh.dispose();
    assertEquals(await Deno.readFile(path), good);
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assertEquals(names, ["ckpt-000001.safetensors"]);
    net.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest("checkpoint: latestCheckpoint picks the highest step and ignores other files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meddiff-ckpt-" });
  try {
    assertEquals(await latestCheckpoint(dir), undefined);
    assertEquals(await latestCheckpoint(`${dir}/missing`), undefined);
    for (const n of ["ckpt-000002.safetensors", "ckpt-000010.safetensors", "ckpt-000009.safetensors"]) {
      await Deno.writeFile(`${dir}/${n}`, new Uint8Array(1));
    }
    for (const n of [".ckpt-000011.safetensors.ab12cd34.tmp", "ckpt-final.safetensors", "ckpt-000099.json"]) {
      await Deno.writeFile(`${dir}/${n}`, new Uint8Array(1));
    }
    assertEquals(await latestCheckpoint(dir), `${dir}/ckpt-000010.safetensors`);
    assertEquals(checkpointPath(`${dir}/`, 123), `${dir}/ckpt-000123.safetensors`);
    assertEquals(checkpointPath("runs", 7, { prefix: "ema-", digits: 3 }), "runs/ema-007.safetensors");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** `bytes` (a safetensors file) with header JSON edited by `edit`, re-padded to 8 bytes. */
function editHeader(bytes: Uint8Array, edit: (h: Record<string, Record<string, unknown>>) => void): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const h = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  edit(h);
  let text = JSON.stringify(h);
  text += " ".repeat((8 - (text.length % 8)) % 8);
  const head = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + head.length + bytes.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  out.set(bytes.subarray(8 + n), 8 + head.length);
  return out;
}

gpuTest("checkpoint: one flipped bit in an Adam moment fails the checksum; nothing is loaded", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meddiff-ckpt-" });
  try {
    manualSeed(3);
    const r = build();
    for (let s = 0; s < 2; s++) await trainStep(r, s);
    const path = `${dir}/ckpt.safetensors`;
    await saveCheckpoint(path, { model: r.net, optimizer: r.opt, step: 2 });
    const bytes = await Deno.readFile(path);
    // The first moment tensor's first float: its top exponent bit turns ~1e-5 into ~1e33.
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    const name = Object.keys(header).find((k) => k.startsWith("optim.") && k.endsWith(".expAvgSq"))!;
    assert(name, Object.keys(header).join(", "));
    const at = 8 + n + header[name].data_offsets[0] + 3;
    const flipped = bytes.slice();
    flipped[at] ^= 0x40;
    await Deno.writeFile(path, flipped);
    const fresh = build();
    const before = await snapshot(fresh);
    const e = await assertRejects(
      () => loadCheckpoint(path, { model: fresh.net, optimizer: fresh.opt }),
      DatasetError,
    ) as DatasetError;
    assertEquals(e.file, path);
    assert(e.message.includes("does not match its checksum"), e.message);
    assertEquals(await snapshot(fresh), before, "nothing was loaded");

    // A checkpoint written before checksums (none in its metadata) still loads, reported absent.
    await Deno.writeFile(path, editHeader(bytes, (h) => delete h.__metadata__[CHECKSUM_KEY]));
    const warn = console.warn;
    console.warn = () => {};
    try {
      const info = await loadCheckpoint(path, { model: fresh.net, optimizer: fresh.opt, restoreRng: false });
      assertEquals([info.step, info.checksum], [2, "absent"]);
    } finally {
      console.warn = warn;
    }
    // Metadata of valid JSON but the wrong shape is a DatasetError, not a TypeError.
    await Deno.writeFile(path, editHeader(bytes, (h) => (h.__metadata__.fingerprint = '{"a": 1}')));
    await assertRejects(() => loadCheckpoint(path, { model: fresh.net }), DatasetError, "fingerprint");
    await Deno.writeFile(path, editHeader(bytes, (h) => (h.__metadata__.optimizer = '{"type": "AdamW"}')));
    await assertRejects(
      () => loadCheckpoint(path, { model: fresh.net, optimizer: fresh.opt }),
      DatasetError,
      `${path}:`,
    );
    dispose(r);
    dispose(fresh);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
