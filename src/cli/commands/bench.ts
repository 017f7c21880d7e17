/** `kd bench`: ms per training step of the paper's teacher and student, beside PyTorch when it is installed. */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Command, Option } from "commander";
import { table } from "../../report/text.js";
import { type BenchNet, type BenchResult, benchStep } from "../../train/bench.js";
import { KdError } from "../../util/errors.js";
import { intList, num } from "../options.js";

interface BenchFlags {
  steps: number;
  warmup: number;
  batch: number;
  threads: number[];
  stepsPerRun: number;
  torch?: boolean;
  openblasEnv: "keep" | "unset";
  json?: boolean;
  child?: string;
}

interface PeerResult {
  readonly peer: string;
  readonly net: BenchNet;
  readonly threads: number;
  readonly ms_per_step_median: number;
  readonly examples_per_s: number;
  readonly peak_rss_mib: number;
}

const torchScript = fileURLToPath(new URL("../../../bench/torch_bench.py", import.meta.url));

/** Each configuration runs in a fresh process, so its peak memory is its own. */
function runChild(net: BenchNet, threads: number, f: BenchFlags): BenchResult {
  const args = [
    process.argv[1]!,
    "bench",
    "--child",
    `${net}:${threads}`,
    "--steps",
    String(f.steps),
    "--warmup",
    String(f.warmup),
  ];
  args.push("--batch", String(f.batch), "--steps-per-run", String(f.stepsPerRun));
  const r = spawnSync(process.execPath, [...process.execArgv, ...args], { encoding: "utf8" });
  if (r.status !== 0) {
    const why = r.stderr.trim().split("\n").at(-1)?.replace(/^kd: /, "") || r.error?.message || "no message";
    throw new KdError(`benchmark of the ${net} with ${threads} threads failed: ${why}`);
  }
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as BenchResult;
}

function runTorch(threads: number[], f: BenchFlags): PeerResult[] | string {
  if (!existsSync(torchScript)) return "bench/torch_bench.py is not in this installation";
  const args = [
    torchScript,
    "--json",
    "--steps",
    String(f.steps),
    "--warmup",
    String(f.warmup),
    "--batch",
    String(f.batch),
  ];
  args.push("--threads", ...threads.map(String), "--openblas-env", f.openblasEnv);
  const r = spawnSync("python3", args, { encoding: "utf8" });
  if (r.status !== 0) return (r.stderr || r.stdout).trim().split("\n").at(-1) ?? "PyTorch benchmark failed";
  return r.stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as PeerResult);
}

export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("time training steps of the paper's teacher (784-1200-1200-10) and student (784-800-800-10)")
    .option("--steps <n>", "timed steps per configuration", num({ int: true, min: 10 }), 200)
    .option("--warmup <n>", "untimed steps first", num({ int: true, min: 0 }), 24)
    .option("--batch <n>", "batch size", num({ int: true, min: 1, max: 65536 }), 128)
    .option("--threads <list>", "thread counts to try, e.g. 1,2", intList({ min: 1, max: 256 }), [1, 2])
    .option("--steps-per-run <k>", "steps traced into one graph run", num({ int: true, min: 1, max: 64 }), 8)
    .option("--torch", "also run bench/torch_bench.py (needs Debian's python3-torch; installs nothing)")
    .addOption(
      new Option("--openblas-env <mode>", "for PyTorch: keep or unset OPENBLAS_CORETYPE/L2_SIZE")
        .choices(["keep", "unset"])
        .default("unset"),
    )
    .option("--json", "JSON lines only")
    .option("--child <net:threads>", "(internal) run one configuration")
    .action(async (f: BenchFlags) => {
      if (f.child) {
        const [net, t] = f.child.split(":");
        if ((net !== "teacher" && net !== "student") || t === undefined)
          throw new KdError(`--child ${f.child}: expected teacher:N or student:N`);
        const r = await benchStep(net, {
          threads: num({ int: true, min: 1, max: 256 })(t),
          steps: f.steps,
          warmup: f.warmup,
          batch: f.batch,
          stepsPerRun: f.stepsPerRun,
        });
        console.log(JSON.stringify(r));
        return;
      }
      const threads = f.threads;
      const ours: BenchResult[] = [];
      for (const net of ["teacher", "student"] as const)
        for (const t of threads) ours.push(runChild(net, t, f));
      const peer = f.torch ? runTorch(threads, f) : undefined;
      if (f.json) {
        for (const r of ours) console.log(JSON.stringify(r));
        if (Array.isArray(peer)) for (const r of peer) console.log(JSON.stringify(r));
        return;
      }
      const row = (engine: string, net: string, threads: number, ms: number, exs: number, rss: number) => [
        engine,
        net,
        String(threads),
        ms.toFixed(2),
        Math.round(exs).toString(),
        rss.toFixed(0),
      ];
      const rows = ours.map((r) =>
        row("kd", r.net, r.threads, r.msPerStepMedian, r.examplesPerSec, r.peakRssMiB),
      );
      if (Array.isArray(peer))
        for (const r of peer)
          rows.push(row("pytorch", r.net, r.threads, r.ms_per_step_median, r.examples_per_s, r.peak_rss_mib));
      console.log(table(["engine", "net", "threads", "ms/step", "examples/s", "peak RSS MiB"], rows));
      if (typeof peer === "string") console.log(`\nPyTorch: ${peer}`);
      if (Array.isArray(peer) && peer.length > 0) {
        console.log(`\nat each engine's best thread count (PyTorch with OPENBLAS env ${f.openblasEnv}):`);
        for (const net of ["teacher", "student"] as const) {
          const best = (xs: number[]) => Math.min(...xs);
          const k = best(ours.filter((r) => r.net === net).map((r) => r.msPerStepMedian));
          const p = best(peer.filter((r) => r.net === net).map((r) => r.ms_per_step_median));
          console.log(
            `  ${net}: kd ${k.toFixed(2)} ms, PyTorch ${p.toFixed(2)} ms, ratio ${(k / p).toFixed(2)}×`,
          );
        }
      }
    });
}
