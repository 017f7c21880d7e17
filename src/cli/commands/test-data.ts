/** The test data of the deployment commands: a file in any format (--test), else MNIST's test split for 784-value models. */

import type { Dataset } from "../../data/dataset.js";
import { loadMnist } from "../../data/dataset.js";
import { type LoadOptions, loadDataset } from "../../data/load.js";
import { KdError } from "../../util/errors.js";

export interface TestFlags {
  test?: string;
  testLabels?: string;
}

/**
 * `--test PATH [--test-labels PATH]` loaded with `loadDataset`; without it, MNIST's test set
 * when the model takes 784 values per example, else nothing.
 */
export function testData(f: TestFlags, modelFeatures: number, load: LoadOptions = {}): Dataset | undefined {
  if (f.test === undefined) {
    if (f.testLabels !== undefined) throw new KdError("--test-labels given without --test");
    return modelFeatures === 784 ? loadMnist("test") : undefined;
  }
  return loadDataset(f.test, f.testLabels, load);
}
