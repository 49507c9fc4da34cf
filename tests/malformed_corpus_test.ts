/**
 * Issue #13's corpus: scripts/make_malformed_corpus.ts writes truncated, bit-flipped, lying,
 * bomb, alias-bomb, wrong-type and traversal files for every format meddiff reads; every public
 * reader (and the `train` task's config and data checks, in child processes) is run over each.
 * Each case must end in its expected error type with the file named in the message — or load,
 * with a warning where one is expected — within 10 s and 256 MiB of peak memory growth, and a
 * task must print one line and no stack trace. The decode limit is 64 MiB for the run (bombs
 * inflate to twice that); files that declare terabytes trip the default limit as well.
 */
import { loadCheckpoint } from "../train/checkpoint.ts";
import { ConfigError, loadConfig } from "../train/config.ts";
import { ddpmSchema } from "../tasks/ddpm/config.ts";
import { CsvImageDataset } from "../datasets/csv_dataset.ts";
import { readDicom } from "../datasets/dicom.ts";
import { ImageFolder, readRasterFile } from "../datasets/image_folder.ts";
import { MedMnist } from "../datasets/medmnist.ts";
import { readNifti } from "../datasets/nifti.ts";
import type { Dataset } from "../datasets/types.ts";
import { DatasetError, SizeLimitError } from "../util/errors.ts";
import { DECODE_LIMIT_ENV } from "../util/limits.ts";
import { readNpz } from "../util/formats/npz.ts";
import { readSafetensorsFile } from "../util/formats/safetensors.ts";
import {
  checkpointTargets,
  CORPUS_DECODE_LIMIT,
  type CorpusCase,
  makeMalformedCorpus,
} from "../scripts/make_malformed_corpus.ts";
import { assert } from "./_asserts.ts";
import { gpuTest } from "./_util.ts";

const TIME_LIMIT_MS = 10_000;
const MEMORY_LIMIT = 256 * 1024 * 1024;

async function readAll(ds: Dataset<unknown>): Promise<void> {
  for (let i = 0; i < ds.length; i++) await ds.get(i);
}

/** Runs the case's reader over `path`. */
async function read(c: CorpusCase, path: string, dir: string): Promise<void> {
  switch (c.reader) {
    case "npz":
      await readNpz(path);
      return;
    case "medmnist":
      for (const split of ["train", "val", "test"] as const) await readAll(await MedMnist.open(path, { split }));
      return;
    case "nifti":
      await readNifti(path);
      return;
    case "dicom":
      await readDicom(path);
      return;
    case "image":
      await readRasterFile(path);
      return;
    case "imagefolder":
      await readAll(await ImageFolder.open(path));
      return;
    case "csv":
      await readAll(
        await CsvImageDataset.open({
          csv: path,
          imageDir: `${dir}/csv/images`,
          idColumn: "id",
          labelColumn: "label",
          extension: ".png",
          numClasses: 2,
        }),
      );
      return;
    case "safetensors":
      await readSafetensorsFile(path);
      return;
    case "checkpoint":
      await loadCheckpoint(path, checkpointTargets());
      return;
    case "config":
      await loadConfig(ddpmSchema, { file: path });
      return;
    case "train":
      throw new Error("train cases run in a child process");
  }
}

function residentBytes(field: "VmRSS" | "VmHWM"): number | null {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(Deno.readTextFileSync("/proc/self/status"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Resets the kernel's peak-RSS counter to the current RSS (Linux ≥ 4.0); false where it cannot. */
function resetPeak(): boolean {
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

const EXPECTED: Record<string, (e: unknown) => boolean> = {
  DatasetError: (e) => e instanceof DatasetError,
  SizeLimitError: (e) => e instanceof SizeLimitError,
  ConfigError: (e) => e instanceof ConfigError,
};

/** The permission flags of `deno task train` (so the child runs with exactly what users grant). */
async function trainTaskFlags(): Promise<string[]> {
  const json = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  return (json.tasks.train as string).split(/\s+/).filter((a) => a.startsWith("--allow"));
}

interface Outcome {
  problem: string | null;
  ms: number;
  peak: number | null;
  clear: boolean;
}

async function runInProcess(c: CorpusCase, dir: string): Promise<Outcome> {
  const path = `${dir}/${c.path}`;
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...a: unknown[]) => warnings.push(a.map(String).join(" "));
  const measured = resetPeak();
  const before = residentBytes("VmRSS");
  const t0 = performance.now();
  let error: unknown = null;
  try {
    await read(c, path, dir);
  } catch (e) {
    error = e;
  } finally {
    console.warn = warn;
  }
  const ms = performance.now() - t0;
  const hwm = residentBytes("VmHWM");
  const peak = measured && before !== null && hwm !== null ? hwm - before : null;
  const message = error instanceof Error ? error.message : String(error);
  let problem: string | null = null;
  if (c.expect === "ok" || c.expect === "warn") {
    if (error) problem = `expected to load, threw ${(error as Error)?.name}: ${message}`;
    else if (c.expect === "warn" && !warnings.some((w) => w.includes(c.path))) {
      problem = `expected a warning naming the file, got ${JSON.stringify(warnings)}`;
    }
  } else if (!error) problem = `expected ${c.expect}, loaded without error`;
  else if (!EXPECTED[c.expect](error)) problem = `expected ${c.expect}, got ${(error as Error)?.name}: ${message}`;
  else if (!message.includes(c.path.split("/").slice(0, 2).join("/"))) {
    problem = `the message does not name the file: ${message}`;
  }
  if (ms > TIME_LIMIT_MS) problem ??= `took ${ms.toFixed(0)} ms`;
  if (peak !== null && peak > MEMORY_LIMIT) problem ??= `peak memory grew by ${(peak / 2 ** 20).toFixed(0)} MiB`;
  return { problem, ms, peak, clear: error !== null && problem === null };
}

async function runTrain(c: CorpusCase, dir: string, flags: string[]): Promise<Outcome> {
  const root = `${dir}/runs-${c.path.replace(/\W/g, "_")}`;
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...flags,
      new URL("../meddiff.ts", import.meta.url).pathname,
      "train",
      "--config",
      `${dir}/${c.path}`,
      "--output.root",
      root,
    ],
    env: { MEDDIFF_AUTOTUNE: "0", XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  let problem: string | null = null;
  if (out.code !== c.exitCode) problem = `exit code ${out.code}, expected ${c.exitCode}: ${text.trim()}`;
  else if (/^\s+at .*(file|ext):\/\//m.test(text)) problem = `printed a stack trace: ${text}`;
  else if (!text.includes(c.names ?? c.path)) problem = `the output does not name the file: ${text}`;
  let left: string[] = [];
  try {
    left = [...Deno.readDirSync(root)].map((e) => e.name);
  } catch { /* never created: good */ }
  if (left.length) problem ??= `left run folders behind: ${left.join(", ")}`;
  return { problem, ms, peak: null, clear: problem === null };
}

gpuTest("malformed corpus: every reader ends every case as expected, naming the file, within bounds", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meddiff-corpus-" });
  const previous = Deno.env.get(DECODE_LIMIT_ENV);
  Deno.env.set(DECODE_LIMIT_ENV, String(CORPUS_DECODE_LIMIT));
  try {
    const cases = await makeMalformedCorpus(dir);
    assert(cases.length >= 60, `the corpus has ${cases.length} cases, at least 60 expected`);
    const flags = await trainTaskFlags();
    const failures: string[] = [];
    let clear = 0;
    let worst = { peak: 0, path: "" };
    let slowest = { ms: 0, path: "" };
    for (const c of cases) {
      const o = c.reader === "train" ? await runTrain(c, dir, flags) : await runInProcess(c, dir);
      if (o.problem) failures.push(`${c.path} (${c.defect}): ${o.problem}`);
      if (o.clear) clear++;
      if (o.peak !== null && o.peak > worst.peak) worst = { peak: o.peak, path: c.path };
      if (c.reader !== "train" && o.ms > slowest.ms) slowest = { ms: o.ms, path: c.path };
    }
    const failing = cases.filter((c) => c.expect !== "ok" && c.expect !== "warn").length;
    console.log(
      `corpus: ${cases.length} cases, ${failing} malformed, ${clear} clear errors; worst peak memory growth ` +
        `${(worst.peak / 2 ** 20).toFixed(1)} MiB (${worst.path}); slowest in-process case ${
          slowest.ms.toFixed(0)
        } ms (${slowest.path})`,
    );
    assert(failures.length === 0, `${failures.length} of ${cases.length} cases failed:\n${failures.join("\n")}`);
  } finally {
    if (previous === undefined) Deno.env.delete(DECODE_LIMIT_ENV);
    else Deno.env.set(DECODE_LIMIT_ENV, previous);
    await Deno.remove(dir, { recursive: true });
  }
});
