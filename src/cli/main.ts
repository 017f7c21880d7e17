/** The `kd` command line: a thin layer over the library; every failure is one line and a non-zero exit. */
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { cleanOrtMessage } from "../runtime/ort-errors.js";
import { KdAbort, KdError } from "../util/errors.js";
import { fsErrorMessage, isFsError } from "../util/fs-errors.js";
import { printable } from "../util/printable.js";
import { registerAdjustBias } from "./commands/adjust-bias.js";
import { registerBake } from "./commands/bake.js";
import { registerBench } from "./commands/bench.js";
import { registerDemo } from "./commands/demo.js";
import { registerDistill } from "./commands/distill.js";
import { registerEval } from "./commands/eval.js";
import { registerPredict } from "./commands/predict.js";
import { registerQuantize } from "./commands/quantize.js";
import { registerReport } from "./commands/report.js";
import { registerReproduce } from "./commands/reproduce.js";
import { registerRun } from "./commands/run.js";
import { registerSummary } from "./commands/summary.js";
import { registerTrain } from "./commands/train.js";
import { registerWorker } from "./commands/worker.js";

export function buildProgram(): Command {
  const program = new Command("kd")
    .description("knowledge distillation (Hinton, Vinyals & Dean 2015) on ONNX Runtime")
    .version("0.1.0")
    .configureOutput({ outputError: (str, write) => write(`kd: ${str.replace(/^error: /, "")}`) })
    .exitOverride();
  registerTrain(program);
  registerDistill(program);
  registerEval(program);
  registerPredict(program);
  registerSummary(program);
  registerQuantize(program);
  registerBake(program);
  registerAdjustBias(program);
  registerBench(program);
  registerRun(program);
  registerReport(program);
  registerReproduce(program);
  registerDemo(program);
  registerWorker(program);
  return program;
}

export { printable };

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv as string[], { from: "user" });
    // A command may set a non-zero exit status without failing (e.g. `kd run` with failed runs).
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    // A flag parser called from an action (not by commander) throws this unprinted.
    if (e instanceof InvalidArgumentError) {
      process.stderr.write(`kd: ${e.message.split("\n")[0]}\n`);
      return 2;
    }
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2; // commander already printed its line
    const firstLine = String((e as Error)?.message ?? e).split("\n")[0];
    if (e instanceof KdError) {
      // Names taken from files (tensor, output, metadata) may hold newlines or terminal escapes.
      process.stderr.write(`kd: ${printable(e.message)}\n`);
      // A dead Redis leaves the queue client's reconnect timers behind: do not wait on them.
      if (e instanceof KdAbort) setTimeout(() => process.exit(1), 1000).unref();
      return 1;
    }
    // The filesystem refused a path the user gave (read-only, a folder for a file, ...): their
    // environment, not a bug; one line naming the path.
    if (isFsError(e) && typeof e.path === "string") {
      process.stderr.write(`kd: ${fsErrorMessage(e)}\n`);
      if (process.env.KD_DEBUG) process.stderr.write(`${e.stack}\n`);
      return 1;
    }
    // A bug in kd, not in the input: still one line, with the stack only on request.
    process.stderr.write(`kd: internal error: ${cleanOrtMessage(firstLine ?? "")}\n`);
    if (process.env.KD_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 70;
  }
}
