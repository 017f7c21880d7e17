/** Reverse-mode autodiff: walks the graph backwards, applying one rule per node, summing cotangents. */
import { add, constant, expandLike, reshape, sum } from "../ir/ops.js";
import { type DType, isFloat, type Shape, type Tensor } from "../ir/tensor.js";
import { gradRules, type RuleArgs } from "./rules.js";

/**
 * Sums a cotangent of a broadcast result back to `shape`: over the leading dims it gained and
 * over dims that were 1 in the input. The only place broadcasting is undone.
 */
export function unbroadcast(g: Tensor, shape: Shape): Tensor {
  const lead = g.rank - shape.length;
  let r = g;
  if (lead > 0)
    r = sum(
      r,
      Array.from({ length: lead }, (_, i) => i),
      false,
    );
  const ones = shape.flatMap((d, i) => (d === 1 && r.shape[i] !== 1 ? [i] : []));
  if (ones.length > 0) r = sum(r, ones, true);
  if (r.rank !== shape.length || r.shape.some((d, i) => d !== shape[i])) r = reshape(r, shape);
  return r;
}

function zerosLike(t: Tensor): Tensor {
  return expandLike(constant(t.graph, 0, [], t.dtype), t);
}

/** Tensors from which some target is reachable, i.e. nodes that must be differentiated. */
function dependsOn(targets: readonly Tensor[], upTo: Tensor): Set<number> {
  const live = new Set(targets.map((t) => t.id));
  for (const t of upTo.graph.tensors) {
    if (t.id > upTo.id) break;
    if (t.source.kind === "op" && t.source.node.inputs.some((i) => live.has(i.id))) live.add(t.id);
  }
  return live;
}

/**
 * Gradients of the scalar `loss` with respect to each of `wrt` (zeros where `loss` does not
 * depend on one). New nodes are appended to the loss's graph.
 */
export function grad(loss: Tensor, wrt: readonly Tensor[]): Tensor[] {
  if (loss.rank !== 0) throw new Error(`grad: loss must be a scalar, got shape [${loss.shape.join(", ")}]`);
  if (!isFloat(loss.dtype)) throw new Error("grad: loss must be floating point");
  const live = dependsOn(wrt, loss);
  const cot = new Map<number, Tensor>([[loss.id, constant(loss.graph, 1, [], loss.dtype as DType)]]);
  const tensors = loss.graph.tensors;
  for (let k = loss.id; k >= 0; k--) {
    const t = tensors[k]!;
    const g = cot.get(t.id);
    if (g === undefined || t.source.kind !== "op" || !live.has(t.id)) continue;
    const node = t.source.node;
    const rule = gradRules[node.prim] as (a: RuleArgs<typeof node.prim>) => readonly (Tensor | null)[];
    const gs = rule({ inputs: node.inputs, params: node.params, out: t, g });
    node.inputs.forEach((x, i) => {
      const gi = gs[i];
      if (gi == null || !live.has(x.id) || !isFloat(x.dtype)) return;
      const gx = unbroadcast(gi, x.shape);
      const prev = cot.get(x.id);
      cot.set(x.id, prev === undefined ? gx : add(prev, gx));
    });
  }
  return wrt.map((w) => cot.get(w.id) ?? zerosLike(w));
}
