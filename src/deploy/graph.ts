/**
 * Looking inside any ONNX model: its initializers, who reads and writes each tensor, node
 * attributes, the shapes of every tensor (found by running a copy whose intermediate tensors are
 * extra graph outputs), and the tensors' value ranges on data.
 */
import { withExtraOutputs } from "../onnx/edit.js";
import type { NodeProto } from "../onnx/gen/onnx_pb.js";
import { encodeModel, type ModelProto, type TensorProto } from "../onnx/proto.js";
import { createSession, type HostTensor, type SessionOptions } from "../runtime/session.js";

/** Initializers by name. */
export function initializers(model: ModelProto): Map<string, TensorProto> {
  return new Map(model.graph!.initializer.map((t) => [t.name, t]));
}

/** Number of elements of a tensor with `dims`. */
export const count = (dims: readonly (number | bigint)[]): number =>
  dims.reduce<number>((a, b) => a * Number(b), 1);

/**
 * Runs `model` once on `x` (flat float32 examples fed as [n, ...exampleShape] to `inputName`),
 * reading every node output; returns each output's dims and data.
 */
export async function runAll(
  model: ModelProto,
  inputName: string,
  exampleShape: readonly number[],
  x: Float32Array,
  n: number,
  opts: SessionOptions = {},
): Promise<Map<string, HostTensor>> {
  const names = model.graph!.node.flatMap((nd) => nd.output).filter((o) => o !== "");
  const session = await createSession(encodeModel(withExtraOutputs(model, names)), opts);
  try {
    const res = await session.run(
      { [inputName]: { data: x, dims: [n, ...exampleShape], dtype: "float32" } },
      names,
    );
    return new Map(Object.entries(res));
  } finally {
    await session.release();
  }
}

/** Shapes of every tensor for a batch of one: graph inputs, initializers and node outputs. */
export async function tensorShapes(
  model: ModelProto,
  inputName: string,
  exampleShape: readonly number[],
  opts: SessionOptions = {},
): Promise<Map<string, readonly number[]>> {
  const f = count(exampleShape);
  const out = await runAll(model, inputName, exampleShape, new Float32Array(f), 1, opts);
  const shapes = new Map<string, readonly number[]>([[inputName, [1, ...exampleShape]]]);
  for (const t of model.graph!.initializer) shapes.set(t.name, t.dims.map(Number));
  for (const [name, t] of out) shapes.set(name, t.dims);
  return shapes;
}

/** The nodes that read each tensor. */
export function consumersOf(nodes: readonly NodeProto[]): Map<string, NodeProto[]> {
  const m = new Map<string, NodeProto[]>();
  for (const n of nodes)
    for (const i of n.input) {
      if (i === "") continue;
      const list = m.get(i) ?? [];
      if (!list.includes(n)) list.push(n);
      m.set(i, list);
    }
  return m;
}

/** The node that writes each tensor. */
export function producersOf(nodes: readonly NodeProto[]): Map<string, NodeProto> {
  const m = new Map<string, NodeProto>();
  for (const n of nodes) for (const o of n.output) if (o !== "") m.set(o, n);
  return m;
}

export const attrInt = (n: NodeProto, name: string, dflt: number): number => {
  const a = n.attribute.find((x) => x.name === name);
  return a === undefined ? dflt : Number(a.i);
};
export const attrInts = (n: NodeProto, name: string): number[] | undefined =>
  n.attribute.find((x) => x.name === name)?.ints.map(Number);
export const attrFloat = (n: NodeProto, name: string, dflt: number): number => {
  const a = n.attribute.find((x) => x.name === name);
  return a === undefined ? dflt : a.f;
};
