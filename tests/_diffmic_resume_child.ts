/**
 * Child process of the DiffMIC-v2 resume test (tests/diffmic_task_test.ts): in a fresh process,
 * trains a tiny DCG, then a denoiser straight through, the same denoiser cut by SIGTERM after its
 * first step, and that cut run resumed; prints `RESUME <json>` with the steps and the names of
 * the state-dict tensors that differ between the straight and the resumed run.
 *   deno run -A tests/_diffmic_resume_child.ts <empty folder>
 */
import { initGpu } from "../core/device.ts";
import { trainDcgCommand, trainDiffmicCommand } from "../tasks/diffmic/commands.ts";
import { differingTensors, interruptAtFirstStep } from "./_util.ts";

const root = Deno.args[0];
const DCG = new URL("../configs/dcg-tiny.yaml", import.meta.url).pathname;
const DIFFMIC = new URL("../configs/diffmic-tiny.yaml", import.meta.url).pathname;

await initGpu();
const small = ["--data.length=96", "--train.batchSize=16"];
const dcg = await trainDcgCommand(["--config", DCG, ...small, "--train.epochs=1", `--output.root=${root}`], true);
const args = ["--config", DIFFMIC, ...small, "--model.dcg", dcg!.run.path, "--train.epochs=2", `--output.root=${root}`];
const straight = await trainDiffmicCommand(args, true);
const cut = await trainDiffmicCommand(args, true, interruptAtFirstStep("SIGTERM"));
const resumed = await trainDiffmicCommand(["--resume", cut!.run.path], true);
const { differ, total } = await differingTensors(straight!.result.model, resumed!.result.model);
console.log(`RESUME ${
  JSON.stringify({
    interrupted: cut!.result.interrupted,
    cutStep: cut!.result.step,
    straightStep: straight!.result.step,
    resumedStep: resumed!.result.step,
    tensors: total,
    differ,
  })
}`);
Deno.exit(0);
