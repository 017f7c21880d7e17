/**
 * DIST (Huang et al., NeurIPS 2022, "Knowledge Distillation from A Stronger Teacher"): match the
 * relations between predictions, not the predictions. With p = softmax(v/T) (teacher) and
 * q = softmax(z/T) (student), both [batch, classes], and ρ the Pearson correlation:
 *
 *   inter = mean over rows b of (1 − ρ(q[b,:], p[b,:]))      (classes within an example)
 *   intra = mean over classes c of (1 − ρ(q[:,c], p[:,c]))   (examples within a class, over the batch)
 *   total = T² · (β · inter + γ · intra)
 *
 * as the authors' code (hunto/image_classification_sota, lib/models/losses/dist_kd.py) computes
 * it: ρ(a, b) = ⟨ā, b̄⟩ / (‖ā‖‖b̄‖ + ε) with ā = a − mean(a) and ε = 1e-8. So ρ(q, q) is
 * 1 − ε/(‖q̄‖² + ε), not exactly 1. A zero centred vector (a constant row, a batch of one) gives
 * ρ = 0 with a finite gradient: its norm is taken through a guarded sqrt.
 */
import * as o from "../ir/ops.js";
import type { Tensor } from "../ir/tensor.js";
import { ensure } from "../util/errors.js";
import type { LossTerms } from "./terms.js";

export interface DistOptions {
  readonly temperature: number;
  /** Weight of the inter-class (per-example) relation. */
  readonly beta: number;
  /** Weight of the intra-class (per-class, across the batch) relation. */
  readonly gamma: number;
}

/** The ε of the reference code's cosine similarity. */
const EPS = 1e-8;

/** ‖x‖ along `axis`, keeping it; at 0 the value is 0 and the gradient finite (0). */
function norm(x: Tensor, axis: number): Tensor {
  const ss = o.sum(o.square(x), [axis], true);
  const nonzero = o.greater(ss, 0);
  return o.where(nonzero, o.sqrt(o.where(nonzero, ss, 1)), 0);
}

/** mean over the other axis of 1 − ρ, with ρ taken along `axis` (1: rows, 0: columns). */
function relationLoss(q: Tensor, p: Tensor, axis: number): Tensor {
  const a = o.sub(q, o.mean(q, [axis], true));
  const b = o.sub(p, o.mean(p, [axis], true));
  const rho = o.div(o.sum(o.mul(a, b), [axis], true), o.add(o.mul(norm(a, axis), norm(b, axis)), EPS));
  return o.sub(1, o.mean(rho));
}

/**
 * DIST between student and teacher logits ([batch, classes]); the teacher gets no gradient.
 * `terms.inter` and `terms.intra` are the plain relation losses (each in [0, 2]), without T², β or
 * γ; `total` carries all three.
 */
export function distLoss(student: Tensor, teacher: Tensor, opts: DistOptions): LossTerms {
  const { temperature: T, beta, gamma } = opts;
  ensure(Number.isFinite(T) && T > 0, `dist: temperature must be positive, got ${T}`);
  ensure(beta >= 0 && gamma >= 0, `dist: beta and gamma must be non-negative, got ${beta}, ${gamma}`);
  const q = o.softmax(o.div(student, T));
  const p = o.stopGradient(o.softmax(o.div(teacher, T)));
  const inter = relationLoss(q, p, 1);
  const intra = relationLoss(q, p, 0);
  const total = o.mul(o.add(o.mul(inter, beta), o.mul(intra, gamma)), T * T);
  return { total, terms: { inter, intra } };
}
