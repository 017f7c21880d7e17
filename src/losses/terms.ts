/** The shape every distillation objective returns: the loss to minimise and its named parts. */
import type { Tensor } from "../ir/tensor.js";

/**
 * `total` is the scalar to differentiate; `terms` are scalars reported beside it (each
 * objective's file says whether they carry its T² and weights).
 */
export interface LossTerms {
  readonly total: Tensor;
  readonly terms: Readonly<Record<string, Tensor>>;
}
