/** Step-time benchmark of the paper's MLPs and the convnet students (random data, real graphs), and a GEMM floor. */
import * as o from "../ir/ops.js";
import { Graph, reachable, type Tensor } from "../ir/tensor.js";
import { initParam, ParamMap } from "../nn/layers.js";
import { type Model, mlp, NO_REG, paramCount, parseArch } from "../nn/model.js";
import { DEFAULT_OPTIMIZER, type OptimizerConfig } from "../optim/optimizers.js";
import { Compiled } from "../runtime/session.js";
import { Rng } from "../util/rng.js";
import { type Batch, type StepHyper, TrainStep } from "./step.js";

const CLASSES = 10;
const convnet = (arch: string, shape: readonly number[]) => () => ({
  model: parseArch(arch, 0, shape, CLASSES),
  optimizer: DEFAULT_OPTIMIZER,
});

/**
 * The benchmarked nets, each with its PyTorch twin in bench/torch_bench.py (same name). The
 * teacher has dropout 0.2/0.5 and max-norm, the others are plain; all train with SGD + momentum.
 */
export const BENCH_NETS = {
  teacher: () => ({
    model: mlp(784, [1200, 1200], 10, { inputDropout: 0.2, hiddenDropout: 0.5 }),
    optimizer: { ...DEFAULT_OPTIMIZER, maxNorm: 3.5 },
  }),
  student: () => ({ model: mlp(784, [800, 800], 10, NO_REG), optimizer: DEFAULT_OPTIMIZER }),
  "resnet8-1x28x28": convnet("resnet:8", [1, 28, 28]),
  "resnet8-3x32x32": convnet("resnet:8", [3, 32, 32]),
  "mobilenet-1x28x28": convnet("mobilenet:1", [1, 28, 28]),
  "mobilenet-3x32x32": convnet("mobilenet:1", [3, 32, 32]),
} satisfies Record<string, () => { model: Model; optimizer: OptimizerConfig }>;

export type BenchNet = keyof typeof BENCH_NETS;
export const BENCH_NET_NAMES = Object.keys(BENCH_NETS) as BenchNet[];
export const isBenchNet = (s: string): s is BenchNet => Object.hasOwn(BENCH_NETS, s);

/** Default timed and warm-up steps: a convnet's step costs some 50 of an MLP's. */
export const benchSteps = (net: BenchNet) =>
  net === "teacher" || net === "student" ? { steps: 200, warmup: 24 } : { steps: 40, warmup: 8 };

export function benchNet(net: BenchNet): { model: Model; optimizer: OptimizerConfig } {
  return BENCH_NETS[net]();
}

/**
 * Multiply-accumulates of one forward pass of `model` on a batch of `batch`: every convolution
 * (N·Cout·Hout·Wout·Cin/groups·kh·kw) and matrix product (M·N·K) of the evaluation-mode graph.
 * Batch norm, activations, pooling and the loss are not counted (a few percent of a convnet's work).
 */
export function forwardMacs(model: Model, batch: number): number {
  const g = new Graph();
  const inputs = [...model.params, ...(model.buffers ?? [])].map(
    (p) => [p.name, g.input(p.name, p.shape)] as const,
  );
  const x = g.input("x", [batch, ...model.inputShape]);
  const out = model.forward(x, new ParamMap(new Map(inputs)), { training: false });
  let macs = 0;
  for (const t of reachable([out])) {
    if (t.source.kind !== "op") continue;
    const { prim, params, inputs: ins } = t.source.node;
    const dims = (u: Tensor) => u.shape as number[];
    if (prim === "conv2d") {
      const [, cinPerGroup, kh, kw] = dims(ins[1]!);
      macs += dims(t).reduce((a, b) => a * b, 1) * cinPerGroup! * kh! * kw!;
    } else if (prim === "matmul") {
      const k = (params as { transA: boolean }).transA ? dims(ins[0]!)[0]! : dims(ins[0]!)[1]!;
      macs += dims(t)[0]! * dims(t)[1]! * k;
    }
  }
  return macs;
}

/**
 * FLOPs of one training step, the convention stated with every GFLOP/s kd prints: 2 per forward
 * MAC, and twice the forward's for the backward pass (input and weight gradients), so 6·MACs.
 */
export const stepFlops = (model: Model, batch: number) => 6 * forwardMacs(model, batch);

export interface BenchResult {
  readonly engine: "kd";
  readonly net: BenchNet;
  readonly threads: number;
  readonly batch: number;
  readonly stepsPerRun: number;
  /** Trainable parameters (PyTorch's twin must have as many). */
  readonly params: number;
  /** Per step, by the stepFlops convention. */
  readonly flops: number;
  /** Over blocks of about 10 steps. */
  readonly msPerStepMedian: number;
  readonly msPerStepMean: number;
  readonly msPerStepMin: number;
  readonly examplesPerSec: number;
  readonly peakRssMiB: number;
}

/** Random inputs of `shape` and one-hot targets over 10 classes, `count` batches of `size`. */
function randomBatches(rng: Rng, shape: readonly number[], size: number, count: number): Batch[] {
  const features = shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: count }, () => {
    const x = Float32Array.from({ length: size * features }, () => rng.uniform());
    const targets = new Float32Array(size * CLASSES);
    for (let i = 0; i < size; i++) targets[i * CLASSES + rng.int(CLASSES)] = 1;
    return { x, size, targets };
  });
}

/** Median, mean and minimum of per-step times. */
function summarise(perStep: readonly number[]) {
  const sorted = [...perStep].sort((a, b) => a - b);
  return {
    median: sorted[sorted.length >> 1]!,
    mean: perStep.reduce((a, b) => a + b, 0) / perStep.length,
    min: sorted[0]!,
  };
}

export async function benchStep(
  net: BenchNet,
  opts: { threads: number; steps: number; warmup: number; batch: number; stepsPerRun: number },
): Promise<BenchResult> {
  const { model, optimizer } = benchNet(net);
  const k = opts.stepsPerRun;
  const step = await TrainStep.compile({
    model,
    optimizer,
    objective: { kind: "ce" },
    labeled: true,
    threads: opts.threads,
    stepsPerRun: k,
  });
  const rng = new Rng(1);
  const state = {
    params: new Map(model.params.map((p) => [p.name, initParam(p, rng)])),
    opt: step.initialOptState(),
    ...(model.buffers?.length ? { buffers: step.initialBuffers()! } : {}),
  };
  const B = opts.batch;
  // A pool of batches, cycled, so data generation is not timed (as in the PyTorch script).
  const pool = randomBatches(rng, model.inputShape, B, 20);
  let cursor = 0;
  let seed = 0;
  const runOnce = async () => {
    const batches = Array.from({ length: k }, () => pool[cursor++ % pool.length]!);
    const hypers: StepHyper[] = batches.map(() => ({ lr: 0.01, momentum: 0.9, c1: 1, c2: 1, seed: seed++ }));
    await step.run(state, batches, hypers);
  };
  for (let i = 0; i < Math.ceil(opts.warmup / k); i++) await runOnce();
  // Time blocks of about 10 steps; report the median and mean per step.
  const runsPerBlock = Math.max(1, Math.round(10 / k));
  const blocks = Math.max(1, Math.ceil(opts.steps / (runsPerBlock * k)));
  const perStep: number[] = [];
  for (let b = 0; b < blocks; b++) {
    const t0 = performance.now();
    for (let r = 0; r < runsPerBlock; r++) await runOnce();
    perStep.push((performance.now() - t0) / (runsPerBlock * k));
  }
  await step.release();
  const { median, mean, min } = summarise(perStep);
  return {
    engine: "kd",
    net,
    threads: opts.threads,
    batch: B,
    stepsPerRun: k,
    params: paramCount(model),
    flops: stepFlops(model, B),
    msPerStepMedian: median,
    msPerStepMean: mean,
    msPerStepMin: min,
    examplesPerSec: (B * 1000) / median,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

/** The GEMM that sets the floor: single precision, n×n times n×n. */
export const GEMM_N = 1024;

/** Median GFLOP/s (2n³ per product) of ONNX Runtime's float32 n×n MatMul, over `reps` runs after one warm-up. */
export async function benchGemm(threads: number, reps = 10, n = GEMM_N): Promise<number> {
  const g = new Graph();
  const [a, b] = [g.input("a", [n, n]), g.input("b", [n, n])];
  const compiled = await Compiled.compile({ inputs: [a, b], outputs: { c: o.matmul(a, b) } }, { threads });
  const rng = new Rng(2);
  const feed = () => ({ data: Float32Array.from({ length: n * n }, () => rng.uniform()), dims: [n, n] });
  const feeds = { a: feed(), b: feed() };
  const into = { c: { data: new Float32Array(n * n), dims: [n, n] } };
  await compiled.run(feeds, undefined, into);
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await compiled.run(feeds, undefined, into);
    ms.push(performance.now() - t0);
  }
  await compiled.release();
  return (2 * n ** 3) / (summarise(ms).median * 1e6);
}
