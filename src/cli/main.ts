/** The `kd` command line: a thin layer over the library; every failure is one line and a non-zero exit. */
import { Command, CommanderError } from "commander";
import { KdError } from "../util/errors.js";
import { registerAdjustBias } from "./commands/adjust-bias.js";
import { registerBench } from "./commands/bench.js";
import { registerDemo } from "./commands/demo.js";
import { registerDistill } from "./commands/distill.js";
import { registerEval } from "./commands/eval.js";
import { registerReport } from "./commands/report.js";
import { registerReproduce } from "./commands/reproduce.js";
import { registerRun } from "./commands/run.js";
import { registerTrain } from "./commands/train.js";

export function buildProgram(): Command {
  const program = new Command("kd")
    .description("knowledge distillation (Hinton, Vinyals & Dean 2015) on ONNX Runtime")
    .version("0.1.0")
    .configureOutput({ outputError: (str, write) => write(`kd: ${str.replace(/^error: /, "")}`) })
    .exitOverride();
  registerTrain(program);
  registerDistill(program);
  registerEval(program);
  registerAdjustBias(program);
  registerBench(program);
  registerRun(program);
  registerReport(program);
  registerReproduce(program);
  registerDemo(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv as string[], { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2; // commander already printed its line
    const firstLine = String((e as Error).message ?? e).split("\n")[0];
    if (e instanceof KdError) {
      process.stderr.write(`kd: ${firstLine}\n`);
      return 1;
    }
    // A bug in kd, not in the input: still one line, with the stack only on request.
    process.stderr.write(`kd: internal error: ${firstLine}\n`);
    if (process.env.KD_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 70;
  }
}
