/** `kd reproduce mnist`: an alias of `kd run experiments/hinton2015-mnist.yaml --profile <quick|full|smoke>`. */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { loadSpec } from "../../experiment/load.js";
import { KdError } from "../../util/errors.js";
import { addRunOptions, type RunFlags, runSpecCommand } from "./run.js";

/** The shipped spec files (experiments/ at the package root, from src/ or dist/). */
export function experimentFile(name: string): string {
  return fileURLToPath(new URL(`../../../experiments/${name}`, import.meta.url));
}

interface ReproFlags extends RunFlags {
  quick?: boolean;
  full?: boolean;
  smoke?: boolean;
}

export function registerReproduce(program: Command): void {
  const cmd = program
    .command("reproduce")
    .description("reproduce the paper's MNIST experiments (the spec experiments/hinton2015-mnist.yaml)")
    .argument("<dataset>", "only mnist for now")
    // The times are the README's (Quick start, Results); test/cli/docs.test.ts keeps them equal.
    .option(
      "--quick",
      "every experiment at small scale (default): about 3.5 min on 2 idle cores, about 10 min on a busy machine",
    )
    .option(
      "--full",
      "paper scale: about 2 h 15 min on 2 cores shared with other jobs, less on idle ones, plus about half an hour for the consistent row",
    )
    .option("--smoke", "a miniature for tests");
  addRunOptions(cmd);
  cmd.action(async (dataset: string, f: ReproFlags) => {
    if (dataset !== "mnist") throw new KdError(`unknown dataset "${dataset}" (only mnist is reproduced)`);
    if ([f.quick, f.full, f.smoke].filter(Boolean).length > 1)
      throw new KdError("choose one of --quick, --full, --smoke");
    const profile = f.full ? "full" : f.smoke ? "smoke" : "quick";
    const loaded = loadSpec(experimentFile("hinton2015-mnist.yaml"), { profile });
    await runSpecCommand(loaded, f, join("runs", `mnist-${profile}`));
  });
}
