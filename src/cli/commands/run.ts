/** `kd run SPEC`: plan, run (or reuse) and report every run of a spec file. */
import { join } from "node:path";
import type { Command } from "commander";
import { type LoadedSpec, loadSpec } from "../../experiment/load.js";
import { writeReports } from "../../report/index.js";
import { executeSpec, planWithReuse } from "../../runner/execute.js";
import { SECRET_FILE_HELP } from "../../runner/job-auth.js";
import { pointText } from "../../runner/plan.js";
import { DEFAULT_PRIORITY, MAX_PRIORITY, QueueRunner } from "../../runner/queue.js";
import { parseRedisUrl } from "../../runner/redis.js";
import { ensure } from "../../util/errors.js";
import { printable, printableLines } from "../../util/printable.js";
import { num } from "../options.js";
import { progressPrinter } from "../progress.js";

export interface RunFlags {
  profile?: string;
  set?: string[];
  dryRun?: boolean;
  force?: boolean;
  out?: string;
  threads?: number;
  keepCheckpoints?: boolean;
  progress: boolean;
  redis?: string;
  store?: string;
  shardRows?: number;
  secretFile?: string;
  priority?: number;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The plan in words: each run, what it waits for, its fingerprint, and whether it is reused. */
function printPlan(loaded: LoadedSpec, outDir: string, force: boolean): void {
  const { plan, reused } = planWithReuse(loaded, outDir, force);
  const isReused = new Set(reused);
  // Grid values come from the spec: shown with control characters escaped, like error messages.
  console.log(
    printable(
      `${loaded.spec.name}${loaded.profile ? ` (profile ${loaded.profile})` : ""}: ${plan.length} runs into ${outDir}`,
    ),
  );
  for (const [i, p] of plan.entries()) {
    const point = pointText(p.point);
    const deps = p.deps.length ? ` after ${p.deps.join(", ")}` : "";
    console.log(
      printable(
        `${String(i + 1).padStart(3)}. ${p.id}${point ? ` (${point})` : ""}: ${p.spec.epochs} epochs, ${p.spec.objective.kind}${deps}; ${p.fingerprint}${isReused.has(p.id) ? ", reused" : ""}`,
      ),
    );
  }
}

/** Runs a loaded spec with the CLI's progress output and prints the summary table. */
export async function runSpecCommand(loaded: LoadedSpec, f: RunFlags, defaultOut: string): Promise<void> {
  // An empty --out would mean the current folder: results and models among the user's files.
  ensure(f.out === undefined || f.out.trim() !== "", "--out: empty path");
  // An empty --store would quietly run everything here instead of on the workers.
  ensure(f.store === undefined || f.store.trim() !== "", "--store: empty path");
  const outDir = f.out ?? defaultOut;
  if (f.dryRun) return printPlan(loaded, outDir, f.force === true);
  ensure(
    (f.redis === undefined) === (f.store === undefined),
    f.redis ? "--redis needs --store DIR (the folder the workers share)" : "--store needs --redis URL",
  );
  ensure(f.shardRows === undefined || f.redis, "--shard-rows needs --redis (shards run on the workers)");
  ensure(f.secretFile === undefined || f.redis, "--secret-file needs --redis (it signs the queue's jobs)");
  ensure(f.priority === undefined || f.redis, "--priority needs --redis (it orders the queue's jobs)");
  // Open the queue first: an unreachable Redis is one line before anything is written.
  const runner =
    f.redis && f.store
      ? await QueueRunner.open({
          redis: parseRedisUrl(f.redis),
          store: f.store,
          datasets: loaded.spec.data,
          baseDir: loaded.baseDir,
          ...(f.force ? { force: true } : {}),
          ...(f.shardRows ? { shardRows: f.shardRows } : {}),
          ...(f.secretFile ? { secretFile: f.secretFile } : {}),
          ...(f.priority ? { priority: f.priority } : {}),
        })
      : undefined;
  const printer = progressPrinter({ bar: f.progress });
  const results = await executeSpec(loaded, {
    outDir,
    ...(runner ? { runner } : {}),
    ...(f.force ? { force: true } : {}),
    ...(f.keepCheckpoints ? { keepCheckpoints: true } : {}),
    ...(f.threads ? { threads: f.threads } : {}),
    onEvent: printer.event,
  }).finally(async () => {
    printer.stop();
    await runner?.close();
  });
  // Row labels and titles come from the spec.
  console.log(printableLines(writeReports(outDir, loaded.spec, results, loaded.paper)));
  const failed = Object.keys(results.failed).length;
  console.log(
    `\n${join(outDir, "")}: results.json, report.md, report.html (${(results.totalSeconds ?? 0).toFixed(0)} s of training)${failed ? `; ${failed} runs failed` : ""}`,
  );
  if (failed) process.exitCode = 1;
}

export function addRunOptions(cmd: Command): Command {
  return cmd
    .option("--out <dir>", "output folder (default runs/<spec name>[-<profile>]); a rerun resumes there")
    .option("--threads <n>", "ONNX Runtime threads", num({ int: true, min: 1, max: 256 }))
    .option("--dry-run", "print the plan (runs, dependencies, fingerprints, what is reused) and stop")
    .option("--force", "rerun finished runs too")
    .option("--keep-checkpoints", "keep each run's checkpoint after it finishes")
    .option("--no-progress", "no progress bar")
    .option("--redis <url>", "run on `kd worker` processes through this Redis queue (with --store)")
    .option("--store <dir>", "the artifact folder the workers share (with --redis)")
    .option(
      "--shard-rows <n>",
      "with --redis: compute teacher logits of larger transfer sets in shards of about n rows, one job each",
      num({ int: true, min: 1 }),
    )
    .option("--secret-file <path>", SECRET_FILE_HELP)
    .option(
      "--priority <n>",
      `with --redis: workers take this run's jobs before those of a larger number (default ${DEFAULT_PRIORITY}; 1 first)`,
      num({ int: true, min: 1, max: MAX_PRIORITY }),
    );
}

export function registerRun(program: Command): void {
  const cmd = program
    .command("run")
    .description("run every experiment of a spec file (YAML or JSON) and write results.json and reports")
    .argument("<spec>", "spec file")
    .option("--profile <name>", "a profile of the spec (e.g. smoke, quick, full)")
    .option("--set <path=value>", "override a field, e.g. runs.student.epochs=5 (repeatable)", collect);
  addRunOptions(cmd);
  cmd.action(async (file: string, f: RunFlags) => {
    const loaded = loadSpec(file, { profile: f.profile, set: f.set });
    await runSpecCommand(
      loaded,
      f,
      join("runs", `${loaded.spec.name}${loaded.profile ? `-${loaded.profile}` : ""}`),
    );
  });
}
