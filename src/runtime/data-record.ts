/**
 * Checks on what a kd model records of the data it was trained on (onnx/metadata.ts reads the
 * record): they let kd refuse a default data set the model never saw.
 */
import type { DataRecord } from "../onnx/metadata.js";
import { KdError } from "../util/errors.js";

/** The name `kd.data` gives the embedded MNIST (the `mnist` data source). */
export const MNIST_DATA = "mnist";

/**
 * Refuses to stand in the embedded MNIST for a model whose record names other data (a Fashion
 * student scored on digits reads as a broken model), unless `allow` (the `--mnist` flag).
 */
export function checkMnistDefault(
  record: DataRecord | undefined,
  what: string,
  flag: string,
  allow: boolean,
): void {
  if (allow || record === undefined || record.name === MNIST_DATA) return;
  throw new KdError(
    `${what} was trained on ${record.name}, not MNIST: give its data with ${flag} (or --mnist to use the embedded MNIST anyway)`,
  );
}
