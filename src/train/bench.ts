/** Step-time benchmark of the paper's teacher and student nets (random data, real graphs). */
import { initParam } from "../nn/layers.js";
import { type Model, mlp, NO_REG } from "../nn/model.js";
import { DEFAULT_OPTIMIZER, type OptimizerConfig } from "../optim/optimizers.js";
import { Rng } from "../util/rng.js";
import { type Batch, type StepHyper, TrainStep } from "./step.js";

export type BenchNet = "teacher" | "student";

export interface BenchResult {
  readonly engine: "kd";
  readonly net: BenchNet;
  readonly threads: number;
  readonly batch: number;
  readonly stepsPerRun: number;
  /** Over blocks of about 10 steps. */
  readonly msPerStepMedian: number;
  readonly msPerStepMean: number;
  readonly msPerStepMin: number;
  readonly examplesPerSec: number;
  readonly peakRssMiB: number;
}

/** The paper's nets as benchmarked: teacher with dropout 0.2/0.5 and max-norm, student plain; SGD + momentum. */
export function benchNet(net: BenchNet): { model: Model; optimizer: OptimizerConfig } {
  return net === "teacher"
    ? {
        model: mlp(784, [1200, 1200], 10, { inputDropout: 0.2, hiddenDropout: 0.5 }),
        optimizer: { ...DEFAULT_OPTIMIZER, maxNorm: 3.5 },
      }
    : { model: mlp(784, [800, 800], 10, NO_REG), optimizer: DEFAULT_OPTIMIZER };
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
  };
  const B = opts.batch;
  // A pool of batches, cycled, so data generation is not timed (as in the PyTorch script).
  const pool: Batch[] = Array.from({ length: 20 }, () => {
    const x = Float32Array.from({ length: B * 784 }, () => rng.uniform());
    const targets = new Float32Array(B * 10);
    for (let i = 0; i < B; i++) targets[i * 10 + rng.int(10)] = 1;
    return { x, size: B, targets };
  });
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
  const sorted = [...perStep].sort((a, b) => a - b);
  const median = sorted[sorted.length >> 1]!;
  return {
    engine: "kd",
    net,
    threads: opts.threads,
    batch: B,
    stepsPerRun: k,
    msPerStepMedian: median,
    msPerStepMean: perStep.reduce((a, b) => a + b, 0) / perStep.length,
    msPerStepMin: sorted[0]!,
    examplesPerSec: (B * 1000) / median,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}
