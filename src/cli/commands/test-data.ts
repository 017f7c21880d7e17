/** The data of the deployment commands: a file in any format (--test), else MNIST for 784-value models that do not record other data. */

import { alignClasses } from "../../data/classes.js";
import type { Dataset } from "../../data/dataset.js";
import { loadMnist } from "../../data/dataset.js";
import { type LoadOptions, loadDataset } from "../../data/load.js";
import type { DataRecord } from "../../onnx/metadata.js";
import { checkMnistDefault, MNIST_DATA } from "../../runtime/data-record.js";
import { KdError } from "../../util/errors.js";

export interface TestFlags {
  test?: string;
  testLabels?: string;
  /** Use the embedded MNIST where a default picks it, even for a model that records other data. */
  mnist?: boolean;
}

/** The model a default is picked for: its path, input size and data record. */
export interface ModelFacts {
  readonly path: string;
  readonly features: number;
  readonly data: DataRecord | undefined;
  readonly classNames?: readonly string[] | undefined;
}

/** What the first output line says when a default picked the embedded MNIST. */
export const MNIST_DEFAULT = {
  train: "embedded MNIST training set (default)",
  test: "embedded MNIST test set (default)",
} as const;

/** The `--mnist` flag of commands whose data defaults to the embedded MNIST. */
export const MNIST_FLAG = [
  "--mnist",
  "use the embedded MNIST where a default picks it, even when the model records other data",
] as const;

/**
 * The embedded MNIST `split` for a 784-value model, unless its record names other data: then a
 * KdError (`otherData` "refuse": scores on the wrong data look like a broken model) or nothing
 * ("skip"); `--mnist` takes it anyway. Undefined for models of other input sizes.
 */
export function defaultMnist(
  split: "train" | "test",
  model: ModelFacts,
  f: TestFlags,
  flag: string,
  otherData: "refuse" | "skip" = "refuse",
): Dataset | undefined {
  if (model.features !== 784) return undefined;
  const other = model.data !== undefined && model.data.name !== MNIST_DATA;
  if (other && otherData === "skip" && !f.mnist) return undefined;
  checkMnistDefault(model.data, model.path, flag, f.mnist === true);
  return loadMnist(split);
}

/**
 * `--test PATH [--test-labels PATH]` loaded with `loadDataset`, its class names numbered as the
 * model's; without it, the embedded MNIST test set as defaultMnist picks it.
 */
export function testData(
  f: TestFlags,
  model: ModelFacts,
  load: LoadOptions = {},
  otherData: "refuse" | "skip" = "refuse",
): Dataset | undefined {
  if (f.test === undefined) {
    if (f.testLabels !== undefined) throw new KdError("--test-labels given without --test");
    return defaultMnist("test", model, f, "--test", otherData);
  }
  return alignClasses(loadDataset(f.test, f.testLabels, load), model.classNames, model.path);
}
