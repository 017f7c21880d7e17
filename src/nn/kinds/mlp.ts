/** The `mlp` kind: fully connected ReLU layers on the flattened example, then a dense layer to the classes. */
import * as z from "zod/mini";
import { classifier, denseBlock, NO_REG, regularisation } from "../blocks.js";
import type { Model, Regularisation } from "../model.js";
import { paramCount } from "../size.js";
import { dropoutParams, type ModelKindDef, sizeList, sizes } from "./kind.js";

const params = z.strictObject({ hidden: sizes, dropout: z.optional(dropoutParams) });
export type MlpParams = z.output<typeof params>;

const arch = (hidden: readonly number[]) => `mlp:${hidden.join(",")}`;

/** An MLP on `features` inputs; hidden layers fc1, fc2, ... and the output layer "out". */
export function mlp(
  features: number,
  hidden: readonly number[],
  numClasses: number,
  reg: Regularisation = NO_REG,
): Model {
  const widths = [features, ...hidden];
  return classifier({
    arch: arch(hidden),
    inputShape: [features],
    numClasses,
    reg,
    blocks: hidden.map((w, i) => denseBlock(`fc${i + 1}`, widths[i]!, w)),
    features: widths.at(-1)!,
  });
}

/** Weights and biases of an MLP with these layer sizes. */
export function mlpParamCount(features: number, hidden: readonly number[], numClasses: number): number {
  return paramCount(mlp(features, hidden, numClasses));
}

export const mlpKind: ModelKindDef<MlpParams> = {
  params,
  usage: "mlp:H1,H2,...",
  example: "mlp:1200,1200",
  parse: (body, whole) => {
    const hidden = sizeList(body, whole);
    return hidden && { hidden };
  },
  arch: (p) => arch(p.hidden),
  build: (p, shape, classes) =>
    mlp(
      shape.reduce((a, b) => a * b, 1),
      p.hidden,
      classes,
      regularisation(p.dropout),
    ),
};
