/**
 * Logit-standardised KD (Sun et al., CVPR 2024, "Logit Standardization in Knowledge
 * Distillation"): each row of both networks' logits is z-scored, then the usual soft term
 *
 *   ẑ = (z − mean(z)) / std(z),  v̂ likewise,   total = T² · mean_batch KL(softmax(v̂/T) ‖ softmax(ẑ/T))
 *
 * with T the paper's base temperature. std is the unbiased one (divisor N − 1), as the authors'
 * `logit.std(dim=-1)`; they divide by (1e-7 + std), we add no epsilon, so the loss is exactly
 * invariant (to rounding) to shifting either network's logits or scaling them by any positive
 * factor. A constant row (variance exactly 0) divides by 1 instead: its centred row is 0, so it
 * standardises to 0 (uniform probabilities), with finite values and gradients.
 */
import * as o from "../ir/ops.js";
import type { Tensor } from "../ir/tensor.js";
import { ensure } from "../util/errors.js";
import type { LossTerms } from "./terms.js";

export interface LskdOptions {
  /** The base temperature (the authors' command lines use 2). */
  readonly temperature: number;
}

/** (x − mean) / std along the last axis, unbiased std; a constant row becomes 0. */
export function standardize(x: Tensor): Tensor {
  const n = x.shape[x.rank - 1] as number;
  const centered = o.center(x);
  const variance = o.div(o.sum(o.square(centered), [-1], true), n - 1);
  // Both branches of a where reach the gradient: sqrt sees 1, not 0, on a constant row.
  const safe = o.where(o.greater(variance, 0), variance, 1);
  return o.div(centered, o.sqrt(safe));
}

/**
 * LSKD between student and teacher logits ([batch, classes]); the teacher gets no gradient.
 * `terms.kl` is the batch-mean KL without T²; `total` = T² · kl.
 */
export function lskdLoss(student: Tensor, teacher: Tensor, opts: LskdOptions): LossTerms {
  const T = opts.temperature;
  ensure(Number.isFinite(T) && T > 0, `lskd: temperature must be positive, got ${T}`);
  ensure((student.shape.at(-1) as number) >= 2, "lskd: needs at least two classes");
  const logQ = o.logSoftmax(o.div(standardize(student), T));
  const logP = o.stopGradient(o.logSoftmax(o.div(standardize(teacher), T)));
  const kl = o.mean(o.sum(o.mul(o.exp(logP), o.sub(logP, logQ)), [-1]));
  return { total: o.mul(kl, T * T), terms: { kl } };
}
