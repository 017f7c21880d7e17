/**
 * `kd bench`: ms per training step of the paper's MLPs and the convnet students, beside PyTorch
 * when it is installed, with each step's GFLOP/s against the machine's GEMM floor. Each
 * configuration runs in a fresh process; with --torch, the two engines alternate configuration by
 * configuration, so that on a shared machine both meet the same load.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import { cpuText } from "../../analyses/results.js";
import { table } from "../../report/text.js";
import { machineInfo } from "../../runtime/machine.js";
import {
  BENCH_NET_NAMES,
  type BenchNet,
  type BenchResult,
  benchGemm,
  benchStep,
  benchSteps,
  GEMM_N,
  isBenchNet,
} from "../../train/bench.js";
import { KdError } from "../../util/errors.js";
import { intList, num } from "../options.js";
import { registerTrain } from "./train.js";

interface BenchFlags {
  nets: BenchNet[];
  steps?: number;
  warmup?: number;
  batch: number;
  threads: number[];
  stepsPerRun: number;
  torch?: boolean;
  rounds: number;
  openblasEnv: "keep" | "unset";
  json?: boolean;
  child?: string;
  memory?: boolean;
  count: number;
}

interface PeerResult {
  readonly peer: string;
  readonly net: BenchNet | "gemm";
  readonly threads: number;
  readonly params?: number;
  readonly gflops?: number;
  readonly ms_per_step_median: number;
  readonly ms_per_step_min: number;
  readonly examples_per_s: number;
  readonly peak_rss_mib: number;
}

const torchScript = fileURLToPath(new URL("../../../bench/torch_bench.py", import.meta.url));

const netList = (v: string): BenchNet[] =>
  v.split(",").map((s) => {
    const n = s.trim();
    if (!isBenchNet(n))
      throw new InvalidArgumentError(`"${n}": expected one of ${BENCH_NET_NAMES.join(", ")}`);
    return n;
  });

/** The child's answer: one JSON line last on its stdout. */
function runKdChild(what: string, f: BenchFlags): unknown {
  const args = [process.argv[1]!, "bench", "--child", what, "--batch", String(f.batch)];
  if (f.steps !== undefined) args.push("--steps", String(f.steps));
  if (f.warmup !== undefined) args.push("--warmup", String(f.warmup));
  args.push("--steps-per-run", String(f.stepsPerRun));
  const r = spawnSync(process.execPath, [...process.execArgv, ...args], { encoding: "utf8" });
  if (r.status !== 0) {
    const why = r.stderr.trim().split("\n").at(-1)?.replace(/^kd: /, "") || r.error?.message || "no message";
    throw new KdError(`benchmark ${what} failed: ${why}`);
  }
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!);
}

function runTorch(net: BenchNet | "gemm", threads: number, f: BenchFlags): PeerResult[] | string {
  if (!existsSync(torchScript)) return "bench/torch_bench.py is not in this installation";
  const defaults = net === "gemm" ? { steps: 10, warmup: 0 } : benchSteps(net);
  const args = [
    torchScript,
    "--json",
    "--steps",
    String(f.steps ?? defaults.steps),
    "--warmup",
    String(f.warmup ?? defaults.warmup),
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

type Engine = "kd" | "pytorch";

/** One configuration's timing: the median and the fastest of its blocks of about 10 steps. */
interface Run {
  readonly engine: Engine;
  readonly net: BenchNet;
  readonly threads: number;
  readonly ms: number;
  readonly min: number;
  readonly rss: number;
  readonly params: number | undefined;
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

/** Every configuration of every round, alternating engines; GEMM floors per engine and thread count (best of rounds). */
function measure(f: BenchFlags) {
  const runs: Run[] = [];
  const gemm = new Map<string, number>();
  const flops = new Map<BenchNet, number>();
  const keepGemm = (engine: Engine, t: number, v: number) =>
    gemm.set(`${engine}|${t}`, Math.max(v, gemm.get(`${engine}|${t}`) ?? 0));
  let peerError: string | undefined;
  const peer = (net: BenchNet | "gemm", t: number, round: number) => {
    if (!f.torch || peerError !== undefined) return [];
    const res = runTorch(net, t, f);
    if (typeof res === "string") {
      peerError = res;
      return [];
    }
    if (f.json) for (const p of res) console.log(JSON.stringify({ ...p, round }));
    return res;
  };
  for (let round = 0; round < f.rounds; round++) {
    for (const t of f.threads) {
      const g = runKdChild(`gemm:${t}`, f) as { gflops: number };
      if (f.json) console.log(JSON.stringify({ engine: "kd", net: "gemm", threads: t, ...g, round }));
      keepGemm("kd", t, g.gflops);
      for (const p of peer("gemm", t, round)) keepGemm("pytorch", t, p.gflops ?? 0);
    }
    for (const net of f.nets)
      for (const t of f.threads) {
        const r = runKdChild(`${net}:${t}`, f) as BenchResult;
        if (f.json) console.log(JSON.stringify({ ...r, round }));
        flops.set(net, r.flops);
        const kd = { ms: r.msPerStepMedian, min: r.msPerStepMin, rss: r.peakRssMiB, params: r.params };
        runs.push({ engine: "kd", net, threads: t, ...kd });
        for (const p of peer(net, t, round)) {
          const { ms_per_step_median: ms, ms_per_step_min: min, peak_rss_mib: rss } = p;
          runs.push({ engine: "pytorch", net, threads: t, ms, min, rss, params: p.params });
        }
      }
  }
  return { runs, gemm, flops, peerError };
}

const gflops = (flops: number | undefined, ms: number) =>
  flops === undefined ? "" : (flops / (ms * 1e6)).toFixed(1);

/** The human report: every configuration, the GEMM floors, then each net at each engine's best thread count. */
function report(f: BenchFlags, m: ReturnType<typeof measure>): void {
  const best = bestOfRounds(m.runs);
  const rows = best.map((r) => [
    r.engine,
    r.net,
    String(r.threads),
    r.ms.toFixed(2),
    r.min.toFixed(2),
    Math.round((f.batch * 1000) / r.ms).toString(),
    gflops(m.flops.get(r.net), r.ms),
    r.rss.toFixed(0),
  ]);
  const msHead = f.rounds > 1 ? `ms/step (best of ${f.rounds})` : "ms/step";
  const info = machineInfo();
  console.log(`${cpuText(info)}; onnxruntime-node ${info.onnxruntime}\n`);
  const head = ["engine", "net", "threads", msHead, "fastest block", "examples/s", "GFLOP/s", "peak RSS MiB"];
  console.log(table(head, rows));
  const floors = [...m.gemm].map(([k, v]) => `${k.replace("|", " ")} threads ${v.toFixed(1)}`);
  console.log(`\nGEMM floor (float32 ${GEMM_N}³ MatMul, GFLOP/s): ${floors.join("; ")}`);
  console.log("GFLOP/s of a step: 6 × the forward pass's multiply-accumulates (convolutions and matrix");
  console.log("products): 2 FLOPs per MAC forward and twice the forward's FLOPs backward.");
  if (m.peerError !== undefined) console.log(`\nPyTorch: ${m.peerError}`);
  if (!best.some((r) => r.engine === "pytorch")) return;
  console.log(`\nat each engine's best thread count (PyTorch with OPENBLAS env ${f.openblasEnv}):`);
  const mismatched: string[] = [];
  for (const net of f.nets) {
    const fastest = (engine: Engine) =>
      best.filter((r) => r.net === net && r.engine === engine).sort((a, b) => a.ms - b.ms)[0];
    const [k, p] = [fastest("kd"), fastest("pytorch")];
    if (!k || !p) continue;
    const params =
      k.params === p.params
        ? `${k.params} parameters in both`
        : `parameters differ: kd ${k.params}, PyTorch ${p.params}`;
    if (k.params !== p.params) mismatched.push(net);
    console.log(
      `  ${net}: kd ${k.ms.toFixed(2)} ms (${k.threads} thr, ${gflops(m.flops.get(net), k.ms)} GFLOP/s), ` +
        `PyTorch ${p.ms.toFixed(2)} ms (${p.threads} thr, ${gflops(m.flops.get(net), p.ms)} GFLOP/s), ` +
        `ratio ${(k.ms / p.ms).toFixed(2)}×; ${params}`,
    );
  }
  if (mismatched.length)
    throw new KdError(`kd and bench/torch_bench.py build different nets for ${mismatched.join(", ")}`);
}

/** `--child net:threads` or `--child gemm:threads`: one configuration, one JSON line. */
async function child(f: BenchFlags, spec: string): Promise<void> {
  const [net, t] = spec.split(":");
  if (net === "memory" && t !== undefined) return memoryChild(num({ int: true, min: 1 })(t));
  if ((net !== "gemm" && !isBenchNet(net ?? "")) || t === undefined)
    throw new KdError(
      `--child ${spec}: expected NET:THREADS (NET one of gemm, ${BENCH_NET_NAMES.join(", ")})`,
    );
  const threads = num({ int: true, min: 1, max: 256 })(t);
  if (net === "gemm") {
    console.log(JSON.stringify({ n: GEMM_N, gflops: await benchGemm(threads) }));
    return;
  }
  const defaults = benchSteps(net as BenchNet);
  const r = await benchStep(net as BenchNet, {
    threads,
    steps: f.steps ?? defaults.steps,
    warmup: f.warmup ?? defaults.warmup,
    batch: f.batch,
    stepsPerRun: f.stepsPerRun,
  });
  console.log(JSON.stringify(r));
}

/** The peak memory `kd bench --memory` holds ResNet-8 training to (the 1.5 GB, decimal). */
export const MEMORY_LIMIT_BYTES = 1.5e9;
const MEMORY_ARCH = "resnet:8";

/** The `kd train` command line whose peak RSS `--memory` measures: one epoch of `count` MNIST examples. */
const memoryRun = (count: number, out: string) =>
  ["train", "--arch", MEMORY_ARCH, "--epochs", "1", "--count", String(count), "--no-progress"].concat([
    "--no-checkpoint",
    "--json",
    "--out",
    join(out, "model.onnx"),
  ]);

/** `--child memory:COUNT`: that training in this process, then its peak RSS as the last JSON line. */
async function memoryChild(count: number): Promise<void> {
  const out = mkdtempSync(join(tmpdir(), "kd-bench-memory-"));
  try {
    // The train command alone, not the entry point (which imports this module): its failure is
    // thrown to the child's own `main`, which prints it as one line.
    const program = new Command("kd").exitOverride();
    registerTrain(program);
    await program.parseAsync(memoryRun(count, out), { from: "user" });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ count, peakRssBytes: process.resourceUsage().maxRSS * 1024 }));
}

/** `--memory`: the peak RSS of training ResNet-8 on MNIST (all 60,000 images loaded), against the limit. */
function memoryCheck(f: BenchFlags): void {
  const r = runKdChild(`memory:${f.count}`, f) as { peakRssBytes: number };
  const gb = (b: number) => (b / 1e9).toFixed(2);
  const info = machineInfo();
  console.log(`${cpuText(info)}; onnxruntime-node ${info.onnxruntime}`);
  console.log(
    `kd ${memoryRun(f.count, "TMP").join(" ")} (MNIST's 60,000 training images loaded, ${f.count} trained on): ` +
      `peak RSS ${gb(r.peakRssBytes)} GB, limit ${gb(MEMORY_LIMIT_BYTES)} GB`,
  );
  if (r.peakRssBytes > MEMORY_LIMIT_BYTES)
    throw new KdError(`peak memory ${gb(r.peakRssBytes)} GB is over the ${gb(MEMORY_LIMIT_BYTES)} GB limit`);
}

export function registerBench(program: Command): void {
  program
    .command("bench")
    .description(
      "time training steps of the paper's MLPs and the convnet students (ResNet-8, MobileNet), GFLOP/s against a GEMM",
    )
    .option("--nets <list>", `nets to time: ${BENCH_NET_NAMES.join(", ")}`, netList, BENCH_NET_NAMES)
    .option(
      "--steps <n>",
      "timed steps per configuration (default 200 for MLPs, 40 for convnets)",
      num({ int: true, min: 10 }),
    )
    .option(
      "--warmup <n>",
      "untimed steps first (default 24 for MLPs, 8 for convnets)",
      num({ int: true, min: 0 }),
    )
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
    .option(
      "--memory",
      `instead: peak memory of one epoch of ${MEMORY_ARCH} on --count MNIST examples, against ${MEMORY_LIMIT_BYTES / 1e9} GB`,
    )
    .option("--count <n>", "with --memory: training examples", num({ int: true, min: 1, max: 60000 }), 6400)
    .option("--child <net:threads>", "(internal) run one configuration")
    .action(async (f: BenchFlags) => {
      if (f.child) return child(f, f.child);
      if (f.memory) return memoryCheck(f);
      const m = measure(f);
      if (!f.json) report(f, m);
    });
}
