/**
 * Decoupled knowledge distillation (Zhao et al., CVPR 2022). With s = z/T (student), t = v/T
 * (teacher), target class c of each row and LSE the log-sum-exp over a row:
 *
 *   TCKD = KL([p_c, 1 − p_c] ‖ [q_c, 1 − q_c])       (binary: target vs the rest)
 *   NCKD = KL(p̂ ‖ q̂),  p̂_j = softmax_{j≠c}(t_j)      (the distribution among non-targets)
 *   total = T² · (α · mean_batch TCKD + β · mean_batch NCKD)
 *
 * so that KL(p ‖ q) = TCKD + (1 − p_c) · NCKD. T² as in mdistiller's DKD.py. Every
 * log-probability comes from log-sum-exps, never from log of a probability:
 *   log p_c = t_c − LSE(t),  log(1 − p_c) = LSE_{j≠c}(t) − LSE(t),  log p̂_j = t_j − LSE_{j≠c}(t).
 * No entry, used or masked, is ever ±∞ or NaN (a NaN in a masked branch would still reach the
 * gradient through 0 · NaN). The warm-up of the weight over epochs is the trainer's business.
 */
import * as o from "../ir/ops.js";
import type { Tensor } from "../ir/tensor.js";
import { ensure } from "../util/errors.js";
import type { LossTerms } from "./terms.js";

export interface DkdOptions {
  readonly temperature: number;
  /** Weight of the target-class term (mdistiller: 1). */
  readonly alpha: number;
  /** Weight of the non-target term (mdistiller: 8 on CIFAR-100). */
  readonly beta: number;
}

/** Per-row log-probabilities of one network's logits x (already divided by T). */
interface Decomposed {
  /** log p_c, [batch, 1]. */
  readonly logTarget: Tensor;
  /** log(1 − p_c), [batch, 1]. */
  readonly logRest: Tensor;
  /** log p̂_j for j ≠ c; the target entry holds a finite placeholder (≤ 0), [batch, classes]. */
  readonly logNonTarget: Tensor;
}

function decompose(x: Tensor, isTarget: Tensor, mask: Tensor): Decomposed {
  const m = o.stopGradient(o.max(x, [-1], true));
  const lse = o.add(o.log(o.sum(o.exp(o.sub(x, m)), [-1], true)), m);
  // The target entry replaced by the row minimum: finite, and no larger than any non-target, so
  // the max below is a non-target's and the sum of exponentials is at least 1.
  const rowMin = o.stopGradient(o.neg(o.max(o.neg(x), [-1], true)));
  const others = o.where(isTarget, rowMin, x);
  const mo = o.stopGradient(o.max(others, [-1], true));
  const keep = o.sub(1, mask);
  const lseOthers = o.add(o.log(o.sum(o.mul(o.exp(o.sub(others, mo)), keep), [-1], true)), mo);
  return {
    logTarget: o.sub(o.sum(o.mul(x, mask), [-1], true), lse),
    logRest: o.sub(lseOthers, lse),
    logNonTarget: o.sub(others, lseOthers),
  };
}

/**
 * DKD between student and teacher logits ([batch, classes]) for one-hot `targets`. The teacher
 * gets no gradient. `terms.tckd` and `terms.nckd` are batch means of the plain KL values, without
 * T², α or β; `total` carries all three.
 */
export function dkdLoss(student: Tensor, teacher: Tensor, targets: Tensor, opts: DkdOptions): LossTerms {
  const { temperature: T, alpha, beta } = opts;
  ensure(Number.isFinite(T) && T > 0, `dkd: temperature must be positive, got ${T}`);
  ensure(alpha >= 0 && beta >= 0, `dkd: alpha and beta must be non-negative, got ${alpha}, ${beta}`);
  ensure((student.shape.at(-1) as number) >= 2, "dkd: needs at least two classes");
  const isTarget = o.greater(targets, 0.5);
  const mask = o.cast(isTarget, student.dtype);
  const s = decompose(o.div(student, T), isTarget, mask);
  const t = decompose(o.stopGradient(o.div(teacher, T)), isTarget, mask);

  const pTarget = o.exp(t.logTarget);
  const pRest = o.exp(t.logRest);
  const tckd = o.add(
    o.mul(pTarget, o.sub(t.logTarget, s.logTarget)),
    o.mul(pRest, o.sub(t.logRest, s.logRest)),
  );
  const pHat = o.mul(o.exp(t.logNonTarget), o.sub(1, mask));
  const nckd = o.sum(o.mul(pHat, o.sub(t.logNonTarget, s.logNonTarget)), [-1], true);

  const tckdMean = o.mean(tckd);
  const nckdMean = o.mean(nckd);
  const total = o.mul(o.add(o.mul(tckdMean, alpha), o.mul(nckdMean, beta)), T * T);
  return { total, terms: { tckd: tckdMean, nckd: nckdMean } };
}
