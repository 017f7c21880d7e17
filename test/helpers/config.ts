/** A plain labels-only training configuration for tests; each test overrides what it is about. */
import type { Dataset } from "../../src/data/dataset.js";
import type { Model } from "../../src/nn/model.js";
import { DEFAULT_OPTIMIZER } from "../../src/optim/optimizers.js";
import type { TrainConfig } from "../../src/train/trainer.js";

export function labelsConfig(model: Model, train: Dataset, over: Partial<TrainConfig> = {}): TrainConfig {
  return {
    model,
    train,
    epochs: 1,
    batchSize: 50,
    optimizer: DEFAULT_OPTIMIZER,
    lr: 0.05,
    lrSchedule: { kind: "constant" },
    momentum: 0.9,
    jitter: 0,
    seed: 1,
    objective: { kind: "ce" },
    ...over,
  };
}
