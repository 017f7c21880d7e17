/** `kd reproduce mnist`: the paper's MNIST table, end to end, with a report beside the paper's numbers. */
import { join } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { renderHtml, renderMarkdown, summaryTable } from "../../report/index.js";
import { EXPERIMENTS, type ExperimentName, reproduceMnist } from "../../repro/mnist.js";
import { PROFILES } from "../../repro/profiles.js";
import { writeFileAtomic } from "../../util/atomic.js";
import { KdError } from "../../util/errors.js";
import { num } from "../options.js";
import { progressBar } from "../progress.js";

interface ReproFlags {
  quick?: boolean;
  full?: boolean;
  smoke?: boolean;
  only?: ExperimentName[];
  out?: string;
  threads?: number;
  progress: boolean;
}

const experimentList = (v: string): ExperimentName[] => {
  const xs = v.split(",").map((s) => s.trim());
  const bad = xs.filter((x) => !(EXPERIMENTS as readonly string[]).includes(x));
  if (bad.length > 0)
    throw new InvalidArgumentError(`unknown experiment ${bad.join(", ")} (${EXPERIMENTS.join(", ")})`);
  return xs as ExperimentName[];
};

export function registerReproduce(program: Command): void {
  program
    .command("reproduce")
    .description("reproduce the paper's MNIST experiments and write results.json, report.md and report.html")
    .argument("<dataset>", "only mnist for now")
    .option("--quick", "every experiment at small scale, about 5 minutes on 2 cores (default)")
    .option("--full", "paper scale, about an hour on 2 cores")
    .option("--smoke", "a minute-long miniature, for tests")
    .option(
      "--only <list>",
      `run these experiments (and what they need): ${EXPERIMENTS.join(",")}`,
      experimentList,
    )
    .option("--out <dir>", "output folder (default runs/mnist-<profile>); a rerun resumes there")
    .option("--threads <n>", "ONNX Runtime threads", num({ int: true, min: 1, max: 256 }))
    .option("--no-progress", "no progress bar")
    .action(async (dataset: string, f: ReproFlags) => {
      if (dataset !== "mnist") throw new KdError(`unknown dataset "${dataset}" (only mnist is reproduced)`);
      if ([f.quick, f.full, f.smoke].filter(Boolean).length > 1)
        throw new KdError("choose one of --quick, --full, --smoke");
      const profile = PROFILES[f.full ? "full" : f.smoke ? "smoke" : "quick"];
      const outDir = f.out ?? join("runs", `mnist-${profile.name}`);
      let bar = progressBar(false);
      let current = "";
      const results = await reproduceMnist({
        profile,
        outDir,
        ...(f.only ? { only: f.only } : {}),
        ...(f.threads ? { threads: f.threads } : {}),
        onStatus: (m) => {
          bar.stop();
          current = "";
          process.stderr.write(`[${profile.name}] ${m}\n`);
        },
        onProgress: (label, p) => {
          if (label !== current) {
            bar.stop();
            bar = progressBar(f.progress, label);
            current = label;
          }
          bar.update(p);
        },
      }).finally(() => bar.stop());
      writeFileAtomic(join(outDir, "report.md"), renderMarkdown(results));
      writeFileAtomic(join(outDir, "report.html"), renderHtml(results));
      console.log(summaryTable(results));
      console.log(
        `\n${outDir}/: results.json, report.md, report.html (${(results.totalSeconds ?? 0).toFixed(0)} s)`,
      );
    });
}
