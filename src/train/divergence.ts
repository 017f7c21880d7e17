/** Divergence: a run whose accuracy is no better than always guessing the commonest class, flagged rather than failed. */
import type { Dataset } from "../data/dataset.js";
import type { Model } from "../nn/model.js";
import { isNormalized } from "../nn/normalize.js";
import type { EpochLog, Hook } from "./core.js";

/**
 * Accuracy within this many points of chance counts as at chance. The rule is on accuracy, not on
 * the loss: DKD's warmup raises the loss on purpose for its first epochs, so a rising loss is not
 * divergence by itself, while a model that predicts no better than chance has learned nothing.
 */
export const CHANCE_MARGIN = 0.05;

/** Epochs before this one are not judged: a slow first epoch is a hint (see firstEpochHint), not a verdict. */
export const FIRST_JUDGED_EPOCH = 2;

/**
 * Feature values beyond ±this suggest unscaled data: kd's loaders scale pixels to [0, 1] and
 * standardised features sit within a few units of 0, while raw measurements reach the thousands.
 */
export const UNSCALED_LIMIT = 10;

/** The accuracy of always guessing the commonest label: chance for these labels. */
export function chanceOf(labels: Int32Array): number {
  const counts = new Map<number, number>();
  let most = 0;
  for (const y of labels) {
    const k = (counts.get(y) ?? 0) + 1;
    counts.set(y, k);
    if (k > most) most = k;
  }
  return labels.length === 0 ? 0 : most / labels.length;
}

export function atChance(accuracy: number, chance: number): boolean {
  return accuracy <= chance + CHANCE_MARGIN;
}

/** Whether the weights a run returns (the best epoch's under early stopping, else the last's) are flagged. */
export function runDiverged(history: readonly { diverged?: boolean }[], bestEpoch?: number): boolean {
  return history[(bestEpoch ?? history.length) - 1]?.diverged === true;
}

/** What to try: --standardize when the data's values are large and the model does not standardise them. */
export function remedy(ds: Dataset, model: Model): string {
  if (!isNormalized(model)) {
    let max = 0;
    for (let i = 0; i < ds.x.length; i++) max = Math.max(max, Math.abs(ds.x[i]!));
    if (max > UNSCALED_LIMIT)
      return `its features reach ${Number(max.toPrecision(4))}: standardise them (--standardize, or standardize: true in a spec)`;
  }
  return "try a lower learning rate (--lr)";
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The note after a first epoch at chance. */
export function firstEpochHint(accuracy: number, chance: number, ds: Dataset, model: Model): string {
  return `accuracy after epoch 1 is ${pct(accuracy)}, no better than chance (${pct(chance)}); ${remedy(ds, model)}`;
}

/** The note when the returned weights are flagged as diverged. */
export function divergedNote(
  epoch: number,
  accuracy: number,
  chance: number,
  ds: Dataset,
  model: Model,
): string {
  return `training diverged: accuracy ${pct(accuracy)} at epoch ${epoch}, no better than chance (${pct(chance)}); the result is kept but flagged as diverged; ${remedy(ds, model)}`;
}

/**
 * Divergence (see divergence.ts), judged on the training accuracy, or the eval set's when training
 * has no labelled accuracy: `flag` marks epochs at chance in their logs (run it after validation,
 * before the logs are saved); `notes` says so after the epoch's callbacks and at the end.
 */
export function divergence(
  train: Dataset,
  model: Model,
  o: { judgeTrain: boolean; evalSet?: Dataset; onNote?: (msg: string) => void },
): { flag: Hook; notes: Hook } {
  const judged = o.judgeTrain ? train.y : o.evalSet?.y;
  const chance = judged ? chanceOf(judged) : undefined;
  const accuracy = (log: EpochLog) => (o.judgeTrain ? log.trainAccuracy : log.evalAccuracy);
  const atChanceIn = (log: EpochLog) => {
    const acc = accuracy(log);
    return chance !== undefined && acc !== null && atChance(acc, chance);
  };
  const flag: Hook = {
    onEpochEnd(log) {
      if (atChanceIn(log) && log.epoch >= FIRST_JUDGED_EPOCH) log.diverged = true;
    },
  };
  const notes: Hook = {
    explain: () => `; ${remedy(train, model)}`,
    onEpochEnd(log) {
      if (atChanceIn(log) && log.epoch === 1)
        o.onNote?.(firstEpochHint(accuracy(log)!, chance!, train, model));
    },
    onEnd(loop, ran) {
      const returned = loop.history[(loop.best?.epoch ?? loop.history.length) - 1];
      if (returned?.diverged && ran > 0)
        o.onNote?.(divergedNote(returned.epoch, accuracy(returned) ?? 0, chance ?? 0, train, model));
    },
  };
  return { flag, notes };
}
