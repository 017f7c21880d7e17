/**
 * `kd bench`: ms per training step of the paper's teacher and student, beside PyTorch when it is
 * installed. Each configuration runs in a fresh process; with --torch, the two engines alternate
 * configuration by configuration, so that on a shared machine both meet the same load.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Command, Option } from "commander";
import { cpuText } from "../../analyses/results.js";
import { table } from "../../report/text.js";
import { machineInfo } from "../../runtime/machine.js";
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
  rounds: number;
  openblasEnv: "keep" | "unset";
  json?: boolean;
  child?: string;
}

interface PeerResult {
  readonly peer: string;
  readonly net: BenchNet;
  readonly threads: number;
  readonly ms_per_step_median: number;
  readonly ms_per_step_min: number;
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

function runTorch(net: BenchNet, threads: number, f: BenchFlags): PeerResult[] | string {
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
  args.push("--threads", String(threads), "--nets", net, "--openblas-env", f.openblasEnv);
  const r = spawnSync("python3", args, { encoding: "utf8" });
  if (r.status !== 0) return (r.stderr || r.stdout).trim().split("\n").at(-1) ?? "PyTorch benchmark failed";
  return r.stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as PeerResult);
}

/** One configuration's timing: the median and the fastest of its blocks of about 10 steps. */
interface Run {
  readonly engine: "kd" | "pytorch";
  readonly net: BenchNet;
  readonly threads: number;
  readonly ms: number;
  readonly min: number;
  readonly rss: number;
}

/** Per engine, net and thread count, the round with the lowest median (the least disturbed one). */
function bestOfRounds(runs: readonly Run[]): Run[] {
  const best = new Map<string, Run>();
  for (const r of runs) {
    const key = `${r.engine}|${r.net}|${r.threads}`;
    const cur = best.get(key);
    if (cur === undefined || r.ms < cur.ms) best.set(key, r);
  }
  return [...best.values()]; // first-seen order: each kd row beside its PyTorch row
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
    .option(
      "--rounds <n>",
      "repeat every configuration; report each one's best median",
      num({ int: true, min: 1, max: 20 }),
      1,
    )
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
      const runs: Run[] = [];
      let peerError: string | undefined;
      for (let round = 0; round < f.rounds; round++)
        for (const net of ["teacher", "student"] as const)
          for (const t of threads) {
            const r = runChild(net, t, f);
            if (f.json) console.log(JSON.stringify({ ...r, round }));
            runs.push({
              engine: "kd",
              net,
              threads: t,
              ms: r.msPerStepMedian,
              min: r.msPerStepMin,
              rss: r.peakRssMiB,
            });
            if (!f.torch || peerError !== undefined) continue;
            const peer = runTorch(net, t, f);
            if (typeof peer === "string") {
              peerError = peer;
              continue;
            }
            for (const p of peer) {
              if (f.json) console.log(JSON.stringify({ ...p, round }));
              runs.push({
                engine: "pytorch",
                net,
                threads: t,
                ms: p.ms_per_step_median,
                min: p.ms_per_step_min,
                rss: p.peak_rss_mib,
              });
            }
          }
      if (f.json) return;
      const best = bestOfRounds(runs);
      const rows = best.map((r) => [
        r.engine,
        r.net,
        String(r.threads),
        r.ms.toFixed(2),
        r.min.toFixed(2),
        Math.round((f.batch * 1000) / r.ms).toString(),
        r.rss.toFixed(0),
      ]);
      const msHead = f.rounds > 1 ? `ms/step (best of ${f.rounds})` : "ms/step";
      const m = machineInfo();
      console.log(`${cpuText(m)}; onnxruntime-node ${m.onnxruntime}\n`);
      console.log(
        table(["engine", "net", "threads", msHead, "fastest block", "examples/s", "peak RSS MiB"], rows),
      );
      if (peerError !== undefined) console.log(`\nPyTorch: ${peerError}`);
      if (!best.some((r) => r.engine === "pytorch")) return;
      console.log(`\nat each engine's best thread count (PyTorch with OPENBLAS env ${f.openblasEnv}):`);
      for (const net of ["teacher", "student"] as const) {
        const fastest = (engine: Run["engine"]) =>
          Math.min(...best.filter((r) => r.net === net && r.engine === engine).map((r) => r.ms));
        const [k, p] = [fastest("kd"), fastest("pytorch")];
        console.log(
          `  ${net}: kd ${k.toFixed(2)} ms, PyTorch ${p.toFixed(2)} ms, ratio ${(k / p).toFixed(2)}×`,
        );
      }
    });
}
