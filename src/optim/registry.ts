/** The optimizer registry: each optimizer's parameters (zod), turned into the step graph's OptimizerConfig. */
import { z } from "zod";
import { DEFAULT_OPTIMIZER, type OptimizerConfig, type OptimizerName } from "./optimizers.js";

const common = {
  /** L2 penalty (SGD, Adam) or decoupled decay (AdamW); weights only, never biases. */
  weightDecay: z.number().min(0).default(0),
  /** Max-norm radius of each hidden unit's incoming weights; 0 = off. */
  maxNorm: z.number().min(0).default(0),
};
const adam = {
  ...common,
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.999),
  eps: z.number().positive().default(1e-8),
};

interface OptimizerDef {
  readonly params: z.ZodObject;
  readonly summary: string;
}

export const OPTIMIZERS: { readonly [K in OptimizerName]: OptimizerDef } = {
  sgd: { params: z.strictObject(common), summary: "SGD with momentum (v ← μv + lr·∇, w ← w − v)" },
  nesterov: { params: z.strictObject(common), summary: "SGD with Nesterov momentum" },
  adam: { params: z.strictObject(adam), summary: "Adam (L2 penalty in the gradient)" },
  adamw: { params: z.strictObject(adam), summary: "AdamW (decoupled weight decay)" },
};

export type OptimizerSpec = { readonly kind: OptimizerName } & Partial<
  Pick<OptimizerConfig, "weightDecay" | "maxNorm" | "beta1" | "beta2" | "eps">
>;

export function optimizerConfig(spec: OptimizerSpec): OptimizerConfig {
  const { kind, ...rest } = spec;
  return { ...DEFAULT_OPTIMIZER, ...rest, name: kind };
}
