/**
 * What a dataset must satisfy before kd trains or evaluates on it: examples and features, finite
 * values, a bounded class count, and the same example shape on both sides of a train/test pair.
 */
import { KdError } from "../util/errors.js";
import type { Dataset } from "./types.js";

/**
 * The most classes a dataset (or a class flag) may name. Labels size every per-class array (one-hot
 * targets, logits, confusion matrices: n × classes floats), so one stray label of 1,000,000 would
 * ask for gigabytes. 100,000 is above every common taxonomy (ImageNet-21k has 21,841 classes) and
 * keeps a 10,000-example logits table at 4 GB at worst.
 */
export const MAX_CLASSES = 100_000;

/**
 * The most classes a file's labels may imply (max label + 1) beyond its example count. A dataset
 * cannot fill more classes than it has examples, so past this a large label is a stray value (one
 * 99999 among digits would otherwise make a 10⁵ × 10⁵ confusion matrix); below it, small test files
 * of many-class data still load.
 */
export const MAX_INFERRED_CLASSES = 10_000;

/**
 * The class count whole, non-negative labels `y` imply: max label + 1, at least `stated`. Refuses a
 * label that makes more than MAX_INFERRED_CLASSES classes and more classes than there are examples,
 * naming it (and, with a stated count, any label at or above it).
 */
export function labelClassCount(y: ArrayLike<number>, what: string, stated = 0): number {
  let at = -1;
  for (let i = 0; i < y.length; i++) if (at < 0 || y[i]! > y[at]!) at = i;
  if (at < 0) return stated;
  const max = y[at]!;
  if (stated > 0 && max >= stated)
    throw new KdError(`${what}: label ${at} is ${max}, outside the ${stated} classes [0, ${stated - 1}]`);
  const classes = Math.max(stated, max + 1);
  if (classes > MAX_CLASSES)
    throw new KdError(`${what}: label ${at} is ${max}; kd supports classes 0..${MAX_CLASSES - 1}`);
  if (stated === 0 && classes > MAX_INFERRED_CLASSES && classes > y.length)
    throw new KdError(
      `${what}: label ${at} is ${max}, which would make ${classes} classes for ${y.length} examples (labels may make at most ${MAX_INFERRED_CLASSES} classes, or one per example)`,
    );
  return classes;
}

/**
 * Refuses a dataset with no examples, no features, non-finite values (NaN, ±∞) or more than
 * MAX_CLASSES classes. `scanValues: false` skips the pass over the pixels (for data that came from
 * integers, which are finite by construction).
 */
export function checkDataset(ds: Dataset, opts: { scanValues?: boolean } = {}): void {
  if (ds.n === 0) throw new KdError(`${ds.name}: no examples`);
  if (ds.features === 0)
    throw new KdError(`${ds.name}: examples have no features (shape [${ds.exampleShape.join(", ")}])`);
  const bad = opts.scanValues === false ? -1 : firstNonFinite(ds.x);
  if (bad >= 0) {
    const f = ds.features;
    throw new KdError(
      `${ds.name}: example ${Math.floor(bad / f)} has a non-finite value (${ds.x[bad]}) at feature ${bad % f}`,
    );
  }
  if (ds.numClasses > MAX_CLASSES)
    throw new KdError(`${ds.name}: ${ds.numClasses} classes, more than the ${MAX_CLASSES} kd supports`);
}

/** Index of the first NaN or ±∞ in `x`, or -1. */
export function firstNonFinite(x: ArrayLike<number>): number {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    // v - v is NaN exactly for NaN and ±∞: one subtraction instead of a call per value.
    if (v - v !== 0) return i;
  }
  return -1;
}

/**
 * Whether examples of shapes `a` and `b` hold the same values in the same order: equal once
 * dimensions of 1 are dropped ([1, 28, 28] and [28, 28]: one channel), or one side flat with the
 * other's count ([784] and [28, 28]: an IDX or NPY file of [n, features] rows). Models see
 * examples as flat rows in that order, so such sets train and evaluate together.
 */
function sameLayout(a: readonly number[], b: readonly number[]): boolean {
  const squeeze = (s: readonly number[]) => s.filter((d) => d !== 1);
  const sa = squeeze(a);
  const sb = squeeze(b);
  if (sa.join("×") === sb.join("×")) return true;
  const count = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);
  return (sa.length <= 1 || sb.length <= 1) && count(sa) === count(sb);
}

/** Refuses a train/test pair whose examples differ in shape (e.g. 28×28 against 32×32 images). */
export function checkCompatible(train: Dataset, test: Dataset): void {
  if (!sameLayout(train.exampleShape, test.exampleShape))
    throw new KdError(
      `${train.name} has examples of shape [${train.exampleShape.join(", ")}] but ${test.name} has [${test.exampleShape.join(", ")}]`,
    );
}

/**
 * Refuses class numbers outside 0..numClasses-1 (e.g. `--omit-classes 12` on 10-class data, which
 * would otherwise omit nothing without a word). `flag` names the option in the message.
 */
export function checkClasses(classes: readonly number[], numClasses: number, flag: string): void {
  for (const k of classes)
    if (!Number.isInteger(k) || k < 0 || k >= numClasses)
      throw new KdError(
        `${flag} ${classes.join(",")}: class ${k} is outside 0..${numClasses - 1} (the data has ${numClasses} classes)`,
      );
}
