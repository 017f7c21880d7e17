/**
 * Bias shifts for classes the student never saw (paper §3): raise or lower output biases in an
 * ONNX file, and find the shift that maximises validation accuracy.
 */
import { create } from "@bufbuild/protobuf";
import { TensorProtoSchema } from "../onnx/gen/onnx_pb.js";
import { readOutputBias } from "../onnx/metadata.js";
import {
  decodeModel,
  encodeModel,
  floatValues,
  type ModelProto,
  makeNode,
  OnnxDataType,
  setFloatValues,
} from "../onnx/proto.js";
import { argmaxRows } from "../train/metrics.js";
import { KdError } from "../util/errors.js";

/**
 * Adds `shift[k]` to class k's output. A kd model's output bias (named in its metadata) is edited
 * in place; any other classifier gets an Add on its logits output, keeping the output's name.
 */
export function shiftOutputBias(
  model: ModelProto,
  shift: Float32Array,
  outputName?: string,
): { model: ModelProto; how: "bias" | "add" } {
  const g = model.graph;
  if (!g) throw new KdError("model has no graph");
  const biasName = readOutputBias(model);
  const bias = biasName ? g.initializer.find((t) => t.name === biasName) : undefined;
  if (bias && bias.dataType === OnnxDataType.FLOAT && !outputName) {
    if (bias.rawData.length % 4 !== 0)
      throw new KdError(
        `output bias ${bias.name} holds ${bias.rawData.length} bytes, not whole float32 values`,
      );
    const v = floatValues(bias);
    if (v.length !== shift.length)
      throw new KdError(`output bias has ${v.length} classes, the shift ${shift.length}`);
    setFloatValues(
      bias,
      v.map((b, k) => b + shift[k]!),
    );
    return { model, how: "bias" };
  }
  const floats = g.output.filter(
    (o) => o.type?.value.case === "tensorType" && o.type.value.value.elemType === OnnxDataType.FLOAT,
  );
  const out = outputName
    ? g.output.find((o) => o.name === outputName)
    : floats.length === 1
      ? floats[0]
      : undefined;
  if (!out)
    throw new KdError(
      outputName
        ? `no output named "${outputName}"`
        : "cannot tell which output holds the logits (several float outputs); name the one to shift",
    );
  // The producer now writes to a new name; an Add restores the original one with the shift applied.
  const inner = `${out.name}__before_bias_shift`;
  const producer = g.node.findIndex((n) => n.output.includes(out.name));
  if (producer < 0) throw new KdError(`no node produces the output "${out.name}"`);
  // Every reader of the logits (a Softmax, say) now reads the shifted values, so the Add goes
  // right after the producer to keep the nodes in topological order.
  g.node[producer]!.output = g.node[producer]!.output.map((o) => (o === out.name ? inner : o));
  const shiftName = `${out.name}__bias_shift`;
  g.initializer.push(
    create(TensorProtoSchema, {
      name: shiftName,
      dataType: OnnxDataType.FLOAT,
      dims: [BigInt(shift.length)],
      rawData: new Uint8Array(shift.buffer.slice(0)),
    }),
  );
  g.node.splice(producer + 1, 0, makeNode("Add", [inner, shiftName], [out.name], {}, "kd_bias_shift"));
  return { model, how: "add" };
}

export function shiftVector(classes: number, shifted: readonly number[], amount: number): Float32Array {
  const v = new Float32Array(classes);
  for (const k of shifted) {
    if (!Number.isInteger(k) || k < 0 || k >= classes)
      throw new KdError(`class ${k} is outside 0..${classes - 1}`);
    v[k] = amount;
  }
  return v;
}

export function shiftModelBytes(bytes: Uint8Array, shift: Float32Array, outputName?: string) {
  const { model, how } = shiftOutputBias(decodeModel(bytes), shift, outputName);
  return { bytes: encodeModel(model), how };
}

export interface ShiftSearch {
  readonly shift: number;
  readonly errors: number;
  readonly accuracy: number;
  /** Errors with no shift, for comparison. */
  readonly baselineErrors: number;
  readonly n: number;
}

/**
 * The one shift, added to every class in `classes`, that minimises errors on validation logits
 * (a grid from −range to +range; among equal error counts the smallest |shift| wins).
 */
export function searchShift(
  logits: Float32Array,
  labels: Int32Array,
  c: number,
  classes: readonly number[],
  opts: { range?: number; step?: number } = {},
): ShiftSearch {
  const range = opts.range ?? 20;
  const step = opts.step ?? 0.05;
  const n = labels.length;
  const shifted = new Float32Array(logits);
  const errorsAt = (s: number) => {
    shifted.set(logits);
    for (let i = 0; i < n; i++) for (const k of classes) shifted[i * c + k]! += s;
    const pred = argmaxRows(shifted, n, c);
    let e = 0;
    for (let i = 0; i < n; i++) if (pred[i] !== labels[i]) e++;
    return e;
  };
  const baselineErrors = errorsAt(0);
  let best = { shift: 0, errors: baselineErrors };
  const steps = Math.round(range / step);
  for (let k = -steps; k <= steps; k++) {
    const s = k * step;
    const e = errorsAt(s);
    if (e < best.errors || (e === best.errors && Math.abs(s) < Math.abs(best.shift)))
      best = { shift: s, errors: e };
  }
  return {
    shift: Number(best.shift.toFixed(4)),
    errors: best.errors,
    accuracy: 1 - best.errors / n,
    baselineErrors,
    n,
  };
}
