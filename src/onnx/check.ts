/** A structural ONNX check (the part of onnx.checker that needs no operator schemas): SSA, topological order, types. */
import type { ModelProto } from "./proto.js";

/** Problems found in `model`; empty when it is well formed. */
export function checkModel(model: ModelProto): string[] {
  const problems: string[] = [];
  if (model.irVersion < 3n) problems.push(`ir_version ${model.irVersion} is too old`);
  if (!model.opsetImport.some((o) => o.domain === "" || o.domain === "ai.onnx"))
    problems.push("no opset import for the default domain");
  const g = model.graph;
  if (!g) return [...problems, "no graph"];
  if (g.name === "") problems.push("graph has no name");
  const defined = new Set<string>();
  const define = (name: string, what: string) => {
    if (name === "") return;
    if (defined.has(name)) problems.push(`${what} "${name}" defined twice`);
    defined.add(name);
  };
  for (const t of g.initializer) define(t.name, "initializer");
  for (const i of g.input) {
    if (i.type?.value.case !== "tensorType") problems.push(`input "${i.name}" has no tensor type`);
    if (!defined.has(i.name)) define(i.name, "input");
  }
  g.node.forEach((n, k) => {
    if (n.opType === "") problems.push(`node ${k} has no op_type`);
    for (const i of n.input)
      if (i !== "" && !defined.has(i))
        problems.push(`node ${k} (${n.opType}) reads "${i}" before it is defined`);
    for (const o of n.output) define(o, `output of node ${k} (${n.opType})`);
  });
  for (const o of g.output) {
    if (!defined.has(o.name)) problems.push(`graph output "${o.name}" is never produced`);
    if (o.type?.value.case !== "tensorType") problems.push(`output "${o.name}" has no tensor type`);
  }
  return problems;
}
