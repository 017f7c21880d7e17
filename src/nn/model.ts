/**
 * What a model is: parameters plus a forward function from inputs to logits. Each kind lives in
 * kinds/ and is listed in registry.ts; this module re-exports the builders callers use.
 */
import type { Tensor } from "../ir/tensor.js";
import type { ParamMap, ParamSpec } from "./layers.js";

export { NO_REG } from "./blocks.js";
export { cnn } from "./kinds/cnn.js";
export { mlp, mlpParamCount } from "./kinds/mlp.js";
export { parseArch } from "./registry.js";
export { MAX_PARAMS, paramCount } from "./size.js";

export interface ForwardOptions {
  /** Dropout on (training) or off (evaluation, export). */
  readonly training: boolean;
  /** int64 scalar seeding this step's dropout masks; required when training with dropout. */
  readonly seed?: Tensor;
  /**
   * In a training step, where a model with buffers (Model.buffers) sets their new values, by
   * buffer name (e.g. batch norm's running statistics); absent in evaluation.
   */
  readonly updates?: Map<string, Tensor>;
  /**
   * The export form (evaluation only): batch norm folded into the convolution before it, whose
   * weights then come from Model.foldWeights instead of the parameters and buffers.
   */
  readonly folded?: boolean;
  /**
   * Where a forward records its named layers' outputs (Block.name), for objectives that match a
   * student layer to a teacher tensor (FitNets hints, attention transfer); absent: none recorded.
   */
  readonly taps?: Map<string, Tensor>;
}

/** One weight of a model's export form: its name, shape and values. */
export interface NamedWeight {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface Regularisation {
  /** Dropout rate on the inputs (the paper's teacher: 0.2). */
  readonly inputDropout: number;
  /** Dropout rate on hidden units (the paper's teacher: 0.5). */
  readonly hiddenDropout: number;
}

/** A classifier: parameters plus a forward function from inputs to logits. */
export interface Model {
  readonly arch: string;
  /** Shape of one example as the model takes it ([784] or [1, 28, 28]). */
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  readonly params: readonly ParamSpec[];
  /** Name of the output layer's bias (what bias shifts adjust). */
  readonly outputBias: string;
  readonly reg: Regularisation;
  /** State not trained but updated by the training forward (e.g. running statistics): see train/step.ts. */
  readonly buffers?: readonly {
    readonly name: string;
    readonly shape: readonly number[];
    readonly init: number;
  }[];
  /**
   * The smallest training batch it can take: batch norm normalises by the batch's own statistics,
   * which one example does not give (PyTorch refuses it too). Absent: 1.
   */
  readonly minTrainingBatch?: number;
  /**
   * The weights of its export form (forward with `folded`) from trained parameters and buffers;
   * absent: the model has nothing to fold and exports its parameters and buffers as they are.
   */
  readonly foldWeights?: (weights: ReadonlyMap<string, Float32Array>) => NamedWeight[];
  forward(x: Tensor, p: ParamMap, opts: ForwardOptions): Tensor;
}
