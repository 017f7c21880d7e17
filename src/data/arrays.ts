/** Decoded arrays (features plus optional labels) checked and turned into a Dataset: one place for every loader. */
import { ensure } from "../util/errors.js";
import { labelClassCount } from "./checks.js";
import { type Dataset, fromIdx } from "./dataset.js";
import type { IdxArray } from "./idx.js";

export interface ArrayDatasetOptions {
  /** How many classes there are: labels must lie in [0, numClasses). Default: max label + 1. */
  readonly numClasses?: number;
  /**
   * Shape of one example when `features` is 2-D [N, F] but the examples are images (e.g. [1, 28, 28]);
   * its element count must be F.
   */
  readonly exampleShape?: readonly number[];
}

/**
 * Integer class labels from any numeric array: every value must be a whole number in
 * [0, numClasses) (or a plausible class count when numClasses is not given: see labelClassCount).
 * `what` names the source in errors.
 */
export function toLabels(values: ArrayLike<number | bigint>, what: string, numClasses?: number): Int32Array {
  const y = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i]!);
    ensure(Number.isInteger(v), () => `${what}: label ${i} is ${v}, not a whole number`);
    ensure(v >= 0, () => `${what}: label ${i} is negative (${v})`);
    y[i] = v;
  }
  labelClassCount(y, what, numClasses);
  return Int32Array.from(y);
}

/**
 * A dataset from decoded features [N, ...shape] and labels (N values, or [N, 1]): uint8 features
 * scaled to [0, 1] as for IDX, features checked finite, labels checked whole and in range.
 */
export function datasetFromArrays(
  features: IdxArray,
  labels: ArrayLike<number | bigint> | undefined,
  name: string,
  opts: ArrayDatasetOptions = {},
): Dataset {
  ensure(features.dims.length >= 1, `${name}: features are a scalar, expected [examples, ...shape]`);
  const n = features.dims[0]!;
  ensure(n > 0, `${name}: no examples`);
  let dims = features.dims;
  if (opts.exampleShape !== undefined) {
    const per = dims.slice(1).reduce((a, b) => a * b, 1);
    const want = opts.exampleShape.reduce((a, b) => a * b, 1);
    ensure(
      per === want,
      () =>
        `${name}: examples have ${per} values, but the shape [${opts.exampleShape!.join(", ")}] needs ${want}`,
    );
    dims = [n, ...opts.exampleShape];
  }
  ensure(
    dims.slice(1).every((d) => d > 0),
    () => `${name}: empty example shape [${dims.slice(1).join(", ")}]`,
  );
  // fromIdx scales uint8 and refuses NaN and ±∞ (checkDataset).
  const ds = fromIdx({ ...features, dims }, undefined, name, opts.numClasses ?? 0);
  if (labels === undefined) return ds;
  ensure(labels.length === n, () => `${name}: ${n} examples but ${labels.length} labels`);
  const y = toLabels(labels, name, opts.numClasses);
  return { ...ds, y, numClasses: labelClassCount(y, name, opts.numClasses) };
}
