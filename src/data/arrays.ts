/**
 * Decoded arrays (features plus optional labels) checked and turned into a Dataset: one place for
 * every loader. Free of Node-only modules, so the page builds its datasets here too.
 */
import { ensure } from "../util/errors.js";
import { checkAllocation } from "../util/memory.js";
import { checkDataset, labelClassCount } from "./checks.js";
import type { IdxArray } from "./idx.js";
import type { Dataset } from "./types.js";

const INT_DTYPES = new Set(["uint8", "int8", "int16", "int32"]);

// A lookup table is both faster than a multiply per pixel and gives 255 -> exactly 1.
const UINT8_SCALE = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/**
 * Builds a dataset from decoded IDX arrays: the first image dimension counts examples, the rest
 * are the example shape. uint8 images are scaled by 1/255; other types are converted as they are.
 * The result passes checkDataset (examples, features, finite values) and its labels imply a
 * plausible class count (labelClassCount).
 */
export function fromIdx(
  images: IdxArray,
  labels: IdxArray | undefined,
  name: string,
  numClasses = 0,
): Dataset {
  ensure(images.dims.length >= 1, `${name}: images are a scalar, expected [examples, ...shape]`);
  const n = images.dims[0]!;
  const exampleShape = images.dims.slice(1);
  const features = exampleShape.reduce((a, b) => a * b, 1);
  ensure(n > 0, () => `${name}: no examples (dims [${images.dims.join(", ")}])`);
  ensure(features > 0, () => `${name}: examples have no features (dims [${images.dims.join(", ")}])`);
  checkAllocation(n * features * 4, `${name}: ${n} examples of ${features} features`, n * features);
  const x = new Float32Array(n * features);
  if (images.dtype === "uint8") {
    const src = images.data;
    for (let i = 0; i < src.length; i++) x[i] = UINT8_SCALE[src[i]!]!;
  } else {
    x.set(images.data);
  }
  let y: Int32Array | undefined;
  if (labels !== undefined) {
    ensure(
      labels.dims.length === 1,
      () => `${name}: labels must be 1-D, got dims [${labels.dims.join(", ")}]`,
    );
    ensure(INT_DTYPES.has(labels.dtype), () => `${name}: labels must be integers, got ${labels.dtype}`);
    ensure(labels.dims[0] === n, () => `${name}: images has ${n} examples but labels has ${labels.dims[0]}`);
    y = Int32Array.from(labels.data);
    for (let i = 0; i < n; i++) {
      const label = y[i]!;
      ensure(label >= 0, () => `${name}: label ${i} is negative (${label})`);
    }
    // A stated class count is a floor here (MNIST states its 10); the labels are bounded by the data.
    numClasses = Math.max(numClasses, labelClassCount(y, name));
  }
  const ds: Dataset = {
    x,
    y,
    n,
    exampleShape,
    features,
    numClasses,
    name,
    ...(images.dtype === "uint8" ? { rawScale: 1 / 255 } : {}),
  };
  checkDataset(ds, { scanValues: !INT_DTYPES.has(images.dtype) });
  return ds;
}

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
