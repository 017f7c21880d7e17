/** A readable listing of a traced graph, one line per tensor the outputs need (for debugging and tests). */
import { reachable, type Tensor } from "./tensor.js";

function fmtParams(params: object): string {
  const entries = Object.entries(params);
  if (entries.length === 0) return "";
  return ` {${entries.map(([k, v]) => `${k}: ${Array.isArray(v) ? `[${v.join(", ")}]` : String(v)}`).join(", ")}}`;
}

/**
 * Lists the tensors that `outputs` depend on, in topological order:
 *   t7: float32[batch, 10] = add(t5, param/out.bias)
 */
export function printGraph(outputs: Readonly<Record<string, Tensor>>): string {
  const needed = reachable(Object.values(outputs));
  const type = (t: Tensor) => `${t.dtype}[${t.shape.join(", ")}]`;
  const lines = needed.map((t) => {
    const s = t.source;
    if (s.kind === "input") return `${t.name}: ${type(t)} = input`;
    if (s.kind === "const")
      return `${t.name}: ${type(t)} = const ${s.data.length === 1 ? String(s.data[0]) : `(${s.data.length} values)`}`;
    return `${t.name}: ${type(t)} = ${s.node.prim}(${s.node.inputs.map((i) => i.name).join(", ")})${fmtParams(s.node.params)}`;
  });
  const outs = Object.entries(outputs).map(([k, t]) => `${k} = ${t.name}`);
  return [...lines, `return ${outs.join(", ")}`].join("\n");
}
