/**
 * Writes the malformed-file corpus of issue #13 into a folder (default: a new temporary one)
 * and prints its manifest: every public reader must end each case in the expected error type
 * naming the file, or load it, within a time and memory bound (tests/malformed_corpus_test.ts).
 *
 * Run: `deno run -A scripts/make_malformed_corpus.ts [folder]`
 * @module
 */
import type { CorpusCase } from "./malformed/case.ts";
import { CorpusWriter } from "./malformed/case.ts";
import { configCases } from "./malformed/configs.ts";
import { dicomCases } from "./malformed/dicom.ts";
import { imageCases } from "./malformed/images.ts";
import { niftiCases } from "./malformed/nifti.ts";
import { npzCases } from "./malformed/npz.ts";
import { weightCases } from "./malformed/weights.ts";

export type { CorpusCase, CorpusExpect, CorpusReader } from "./malformed/case.ts";
export { checkpointTargets } from "./malformed/weights.ts";

/** Decoded-size limit the corpus is meant to be read under: bombs inflate to twice this. */
export const CORPUS_DECODE_LIMIT = 64 * 1024 * 1024;

/** Writes every case under `dir` and returns the manifest. */
export async function makeMalformedCorpus(dir: string): Promise<CorpusCase[]> {
  const w = new CorpusWriter(dir);
  const bomb = 2 * CORPUS_DECODE_LIMIT;
  await npzCases(w, bomb);
  await niftiCases(w, bomb);
  await dicomCases(w, bomb);
  await imageCases(w);
  await weightCases(w);
  await configCases(w);
  await Deno.writeTextFile(`${dir}/manifest.json`, JSON.stringify(w.cases, null, 1));
  return w.cases;
}

if (import.meta.main) {
  const dir = Deno.args[0] ?? await Deno.makeTempDir({ prefix: "meddiff-corpus-" });
  await Deno.mkdir(dir, { recursive: true });
  const cases = await makeMalformedCorpus(dir);
  const byReader = new Map<string, number>();
  for (const c of cases) byReader.set(c.reader, (byReader.get(c.reader) ?? 0) + 1);
  console.log(`${cases.length} cases in ${dir} (${[...byReader].map(([r, n]) => `${r} ${n}`).join(", ")})`);
}
