/** A model's named layers (Block.name): each one's output shape per example, found by tracing its forward once. */
import { Graph, type Tensor } from "../ir/tensor.js";
import { ParamMap } from "./layers.js";
import type { Model } from "./model.js";

/**
 * The layers a feature objective may name in `model` ("stem", "stage2.block1", "pool", ...), in
 * forward order, with their output shapes for one example ([C, H, W] or [D]). Nothing is run: the
 * forward is traced on a throwaway graph with a symbolic batch.
 */
export function namedLayers(model: Model): Map<string, readonly number[]> {
  const g = new Graph();
  const x = g.input("x", ["batch", ...model.inputShape]);
  const weights = [...model.params, ...(model.buffers ?? [])];
  const p = new ParamMap(new Map(weights.map((w) => [w.name, g.input(w.name, w.shape)])));
  const taps = new Map<string, Tensor>();
  model.forward(x, p, { training: false, taps });
  return new Map([...taps].map(([name, t]) => [name, t.shape.slice(1) as number[]]));
}
