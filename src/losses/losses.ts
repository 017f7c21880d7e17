/** Losses: cross-entropy, the distillation objective of Hinton et al. (2015), and logit matching. */
import * as o from "../ir/ops.js";
import type { Tensor } from "../ir/tensor.js";

/** Mean over the batch of −Σ targets · log softmax(logits); targets are one-hot or soft rows. */
export function crossEntropy(logits: Tensor, targets: Tensor): Tensor {
  return o.mean(o.neg(o.sum(o.mul(targets, o.logSoftmax(logits)), [-1])));
}

/**
 * Soft term at temperature T, scaled by T²:  T² · mean_batch KL(p ‖ q),  p = softmax(v/T),
 * q = softmax(z/T). KL and cross-entropy differ by p's entropy, a constant, so the gradient is
 * T² · (1/T)(q − p) = T(q − p) per logit either way; KL is reported because it is 0 at a perfect
 * match. Both log-probabilities come from log-softmax: nothing is clipped.
 */
export function softTargetLoss(studentLogits: Tensor, teacherLogits: Tensor, T: number): Tensor {
  const logQ = o.logSoftmax(o.div(studentLogits, T));
  const logP = o.stopGradient(o.logSoftmax(o.div(teacherLogits, T)));
  const kl = o.sum(o.mul(o.exp(logP), o.sub(logP, logQ)), [-1]);
  return o.mul(o.mean(kl), T * T);
}

/**
 * Logit matching (Caruana et al.), the high-temperature limit of the soft term:
 * mean_batch (1/2N) Σ_i (z̄_i − v̄_i)² on zero-meaned logits. Its gradient (1/N)(z̄ − v̄) is the
 * limit of the T²-scaled soft gradient as T → ∞.
 */
export function logitMatchingLoss(studentLogits: Tensor, teacherLogits: Tensor): Tensor {
  const n = studentLogits.shape[studentLogits.rank - 1] as number;
  const d = o.sub(o.center(studentLogits), o.stopGradient(o.center(teacherLogits)));
  return o.div(o.mean(o.sum(o.square(d), [-1])), 2 * n);
}

/** Number of rows whose arg-max logit is the target class alone (one-hot targets; a tie is wrong). */
export function correctCount(logits: Tensor, targets: Tensor): Tensor {
  const isMax = o.cast(o.equal(logits, o.max(logits, [-1], true)), logits.dtype);
  const hit = o.sum(o.mul(isMax, targets), [-1]);
  const unique = o.cast(o.equal(o.sum(isMax, [-1]), 1), logits.dtype);
  return o.sum(o.mul(hit, unique));
}
