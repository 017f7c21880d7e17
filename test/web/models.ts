/** Small MNIST classifiers trained in seconds with kd's own TrainStep, saved as ONNX files for the demo tests. */
import { loadMnist } from "../../src/data/dataset.js";
import { initParam } from "../../src/nn/layers.js";
import { mlp } from "../../src/nn/model.js";
import { DEFAULT_OPTIMIZER } from "../../src/optim/optimizers.js";
import { saveModel } from "../../src/train/forward.js";
import { type Batch, type TrainState, TrainStep } from "../../src/train/step.js";
import { Rng } from "../../src/util/rng.js";

/** Trains a 784-hidden-10 MLP on labels (SGD, momentum 0.9) on the first `images` MNIST training images. */
export async function trainMlp(
  out: string,
  opts: { hidden: number; images: number; epochs: number; seed: number; lr?: number },
): Promise<void> {
  const train = loadMnist("train");
  const model = mlp(784, [opts.hidden], 10);
  const rng = new Rng(opts.seed);
  const B = 100;
  const K = 10;
  const step = await TrainStep.compile({
    model,
    optimizer: DEFAULT_OPTIMIZER,
    objective: { kind: "ce" },
    labeled: true,
    stepsPerRun: K,
  });
  const state: TrainState = {
    params: new Map(model.params.map((p) => [p.name, initParam(p, rng)])),
    opt: step.initialOptState(),
  };
  const batches: Batch[] = Array.from({ length: K }, () => ({
    x: new Float32Array(B * 784),
    size: B,
    targets: new Float32Array(B * 10),
  }));
  const hyper = { lr: opts.lr ?? 0.1, momentum: 0.9, c1: 1, c2: 1, seed: 0 };
  for (let e = 0; e < opts.epochs; e++) {
    const order = rng.permutation(opts.images);
    for (let s = 0; s + K * B <= opts.images; s += K * B) {
      batches.forEach((b, j) => {
        b.targets!.fill(0);
        for (let i = 0; i < B; i++) {
          const k = order[s + j * B + i]!;
          b.x.set(train.x.subarray(k * 784, (k + 1) * 784), i * 784);
          b.targets![i * 10 + train.y![k]!] = 1;
        }
      });
      await step.run(
        state,
        batches,
        batches.map(() => hyper),
      );
    }
  }
  await step.release();
  saveModel(out, model, state.params);
}
