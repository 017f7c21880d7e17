/**
 * Int8 quantisation of ONNX classifiers, in TypeScript (ONNX Runtime's quantiser is Python-only).
 *
 * Static (QDQ, src/deploy/qdq.ts): int8 weights per output channel, int32 biases, and every
 * activation between integer-capable ops quantised once, placed so that ONNX Runtime fuses the
 * graph into integer kernels (QLinearConv, QGemm, QLinearAdd, ...).
 *
 * Dynamic: each MatMul (and Gemm) with an initializer weight becomes DynamicQuantizeLinear on the
 * activation, MatMulInteger with the int8 weight, and a float rescale by s_a · s_w per column;
 * no calibration needed. Convolutions stay float in this mode.
 */

import { DataType, rawTensor, setMetadata } from "../onnx/edit.js";
import type { NodeProto } from "../onnx/gen/onnx_pb.js";
import { META } from "../onnx/metadata.js";
import {
  decodeModel,
  encodeModel,
  floatValues,
  type ModelProto,
  makeNode,
  OnnxDataType,
  type TensorProto,
} from "../onnx/proto.js";
import type { SessionOptions } from "../runtime/session.js";
import { ensure } from "../util/errors.js";
import { attrFloat, attrInt } from "./graph.js";
import { quantizeStatic, quantizeWeight } from "./qdq.js";

export { activationParams, calibrate, quantizeWeight } from "./qdq.js";

export type QuantMode = "static" | "dynamic";

export interface QuantizeOptions extends SessionOptions {
  readonly mode?: QuantMode;
  /** Calibration examples (flat, `n` of them), needed for static quantisation. */
  readonly calibration?: { readonly x: Float32Array; readonly n: number };
  /** Name and per-example shape of the model input the calibration data feeds. */
  readonly input?: { readonly name: string; readonly shape: readonly number[] };
}

export interface QuantizeResult {
  readonly model: ModelProto;
  /** Names (or op types and indices) of the nodes quantised, and of those left in float. */
  readonly quantized: readonly string[];
  readonly skipped: readonly string[];
  /** Static mode: the nodes left in float, each with the reason. */
  readonly float?: readonly { readonly node: string; readonly reason: string }[];
}

/** A node whose weight (input 1) can be quantised, with the axis of its output channels. */
interface Target {
  readonly node: NodeProto;
  readonly weight: TensorProto;
  /** Channel axis of the weight: one scale per output unit. */
  readonly axis: number;
}

const label = (n: NodeProto, i: number) => (n.name !== "" ? n.name : `${n.opType}#${i}`);

/** The nodes whose weight is a float initializer of the expected rank. */
function findTargets(model: ModelProto, mode: QuantMode): { targets: Target[]; skipped: string[] } {
  const g = model.graph!;
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const targets: Target[] = [];
  const skipped: string[] = [];
  g.node.forEach((n, i) => {
    if (n.opType !== "MatMul" && n.opType !== "Gemm" && n.opType !== "Conv") return;
    const w = inits.get(n.input[1] ?? "");
    const a = n.input[0] ?? "";
    const ok =
      w !== undefined &&
      w.dataType === OnnxDataType.FLOAT &&
      !inits.has(a) &&
      (n.opType === "Conv" ? w.dims.length === 4 : w.dims.length === 2) &&
      (n.opType !== "Gemm" || (attrInt(n, "transA", 0) === 0 && attrFloat(n, "alpha", 1) === 1)) &&
      (mode === "static" || n.opType !== "Conv");
    if (!ok) {
      skipped.push(label(n, i));
      return;
    }
    const axis = n.opType === "Conv" ? 0 : n.opType === "Gemm" && attrInt(n, "transB", 0) === 1 ? 0 : 1;
    targets.push({ node: n, weight: w!, axis });
  });
  return { targets, skipped };
}

/** Quantises a copy of `source` (see the file comment); `source` is left as it was. */
export async function quantizeModel(source: ModelProto, opts: QuantizeOptions = {}): Promise<QuantizeResult> {
  const mode = opts.mode ?? "static";
  const model = decodeModel(encodeModel(source));
  const g = model.graph;
  ensure(g !== undefined, "the model has no graph");
  const opset = Number(
    model.opsetImport.find((o) => o.domain === "" || o.domain === "ai.onnx")?.version ?? 0,
  );
  ensure(
    opset >= 13,
    () => `quantisation needs opset 13 or later (per-channel scales); the model has opset ${opset}`,
  );
  const { targets, skipped } = findTargets(model, mode);
  ensure(targets.length > 0, "nothing to quantise: no MatMul, Gemm or Conv with a float initializer weight");

  if (mode === "static") {
    ensure(
      opts.calibration !== undefined && opts.input !== undefined,
      "static quantisation needs calibration data",
    );
    ensure(opts.calibration.n > 0, "the calibration data is empty");
    const res = await quantizeStatic(model, opts.calibration, opts.input, opts);
    model.producerName = `${model.producerName} + kd quantize (${mode})`;
    setMetadata(model, META.quantization, mode);
    return {
      model,
      quantized: res.quantized,
      skipped: res.float.map((f) => `${f.node} (${f.reason})`),
      float: res.float,
    };
  }

  // Dynamic: weights used by anything but a target stay in float beside their int8 copy.
  const targetNodes = new Set(targets.map((t) => t.node));
  const sharedWeights = new Set<string>();
  for (const n of g.node) if (!targetNodes.has(n)) for (const i of n.input) sharedWeights.add(i);
  for (const o of g.output) sharedWeights.add(o.name);

  const newInits: TensorProto[] = [];
  const quantizedWeights = new Map<
    string,
    { q: string; scale: string; zp: string; channels: number; axis: number }
  >();
  const weightOf = (t: Target) => {
    const done = quantizedWeights.get(t.weight.name);
    if (done !== undefined && done.axis === t.axis) return done;
    const dims = t.weight.dims.map(Number);
    let values = floatValues(t.weight);
    let axis = t.axis;
    let qDims = dims;
    if (t.node.opType === "Gemm" && axis === 0) {
      // MatMulInteger wants B as [K, N]: store the transposed weight.
      const [rows, cols] = dims as [number, number];
      const tr = new Float32Array(values.length);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) tr[c * rows + r] = values[r * cols + c]!;
      values = tr;
      axis = 1;
      qDims = [cols, rows];
    }
    const { q, scales } = quantizeWeight(values, qDims, axis);
    const base = t.weight.name;
    const names = {
      q: `${base}_quantized`,
      scale: `${base}_scale`,
      zp: `${base}_zero_point`,
      channels: scales.length,
      axis: t.axis,
    };
    newInits.push(
      rawTensor(names.q, DataType.INT8, qDims, q),
      rawTensor(names.scale, DataType.FLOAT, [scales.length], scales),
      rawTensor(names.zp, DataType.INT8, [], new Int8Array(1)),
    );
    quantizedWeights.set(base, names);
    return names;
  };

  const nodes: NodeProto[] = [];
  let fresh = 0;
  const uniq = (s: string) => `${s}_${fresh++}`;
  const byNode = new Map(targets.map((t) => [t.node, t]));
  for (const n of g.node) {
    const t = byNode.get(n);
    if (t === undefined) {
      nodes.push(n);
      continue;
    }
    const w = weightOf(t);
    const a = n.input[0]!;
    const out = n.output[0]!;
    const base = uniq(n.name !== "" ? n.name : n.opType);
    const [aq, as, azp] = [`${base}_a_quantized`, `${base}_a_scale`, `${base}_a_zero_point`];
    nodes.push(
      makeNode("DynamicQuantizeLinear", [a], [aq, as, azp], {}, `${base}_DynamicQuantizeLinear`),
      makeNode("MatMulInteger", [aq, w.q, azp, w.zp], [`${base}_int32`], {}, `${base}_MatMulInteger`),
      makeNode("Cast", [`${base}_int32`], [`${base}_float`], { to: DataType.FLOAT }, `${base}_Cast`),
      makeNode("Mul", [as, w.scale], [`${base}_scales`], {}, `${base}_Scales`),
    );
    const c = n.opType === "Gemm" ? n.input[2] : undefined;
    if (c !== undefined && c !== "") {
      const beta = attrFloat(n, "beta", 1);
      ensure(beta === 1, () => `cannot quantise ${label(n, 0)} dynamically: Gemm with beta ${beta}`);
      nodes.push(
        makeNode("Mul", [`${base}_float`, `${base}_scales`], [`${base}_product`], {}, `${base}_Rescale`),
        makeNode("Add", [`${base}_product`, c], [out], {}, `${base}_Bias`),
      );
    } else nodes.push(makeNode("Mul", [`${base}_float`, `${base}_scales`], [out], {}, `${base}_Rescale`));
  }

  g.node = nodes;
  g.initializer = [
    ...g.initializer.filter((t) => !quantizedWeights.has(t.name) || sharedWeights.has(t.name)),
    ...newInits,
  ];
  // Graph inputs that named the replaced initializers (older exporters list them) go too.
  const inits = new Set(g.initializer.map((t) => t.name));
  g.input = g.input.filter((i) => inits.has(i.name) || !quantizedWeights.has(i.name));
  model.producerName = `${model.producerName} + kd quantize (${mode})`;
  setMetadata(model, META.quantization, mode);
  return { model, quantized: targets.map((t, i) => label(t.node, i)), skipped };
}
