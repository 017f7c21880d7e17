/** The transfer set: which examples the student learns the teacher's soft targets on. */
import {
  type Dataset,
  filterClasses,
  splitValidation,
  takeCount,
  takeFraction,
  withoutLabels,
} from "../data/dataset.js";
import { KdError } from "../util/errors.js";
import { Rng } from "../util/rng.js";

export interface TransferOptions {
  /** Drop every example of these classes (the paper's "no 3s" experiment). */
  readonly omitClasses?: readonly number[];
  /** Keep only these classes (the paper's "only 7s and 8s"). */
  readonly onlyClasses?: readonly number[];
  /** Keep this fraction of the examples, drawn at random (stratified). */
  readonly fraction?: number;
  /** Keep this many examples, drawn at random (stratified). */
  readonly count?: number;
  /** Hide the labels: the student learns from the soft targets alone. */
  readonly unlabeled?: boolean;
  readonly seed: number;
}

export function transferSet(base: Dataset, o: TransferOptions): Dataset {
  if (o.fraction !== undefined && o.count !== undefined)
    throw new KdError("give a fraction or a count of the transfer set, not both");
  let ds = base;
  if (o.omitClasses?.length || o.onlyClasses?.length)
    ds = filterClasses(ds, {
      ...(o.omitClasses?.length ? { omit: [...o.omitClasses] } : {}),
      ...(o.onlyClasses?.length ? { only: [...o.onlyClasses] } : {}),
    });
  const rng = new Rng(o.seed).fork(7);
  if (o.fraction !== undefined) ds = takeFraction(ds, o.fraction, rng);
  if (o.count !== undefined) {
    if (o.count > ds.n)
      throw new KdError(`a count of ${o.count}: the transfer set has only ${ds.n} examples`);
    ds = takeCount(ds, o.count, rng);
  }
  return o.unlabeled ? withoutLabels(ds) : ds;
}

/**
 * Holds `valCount` examples of the training set out for validation (seeded, stratified). The same
 * seed gives the same split in `kd train`, `kd distill` and `kd adjust-bias --search`.
 */
export function holdOut(train: Dataset, valCount: number, seed: number): { train: Dataset; val?: Dataset } {
  if (valCount <= 0) return { train };
  if (valCount >= train.n)
    throw new KdError(`holding out ${valCount} examples leaves none to train on (${train.n} in all)`);
  return splitValidation(train, valCount, new Rng(seed).fork(99));
}
