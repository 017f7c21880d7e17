/**
 * Empirical bias correction for static int8 (Nagel et al. 2019, "Data-free quantization through
 * weight equalization and bias correction", §4.2, with measured rather than predicted means):
 * rounding an activation is unbiased for varied values but not for a constant one — a convnet's
 * blank background gives every pixel of a channel the same value, so its rounding error is one
 * offset over the whole map, which pooling and the layers after it carry to the logits instead of
 * averaging out. For each integer Conv, Gemm and MatMul in graph order, the mean of its output
 * per channel over the calibration data is measured in the quantised graph and in the float one,
 * and the difference is added to its int32 bias; each layer is measured after the ones before it
 * were corrected, so a correction does not count an upstream error twice.
 */
import type { NodeProto } from "../onnx/gen/onnx_pb.js";
import type { ModelProto, TensorProto } from "../onnx/proto.js";
import type { SessionOptions } from "../runtime/session.js";
import { count } from "./graph.js";
import { type CalibrationData, type CalibrationInput, runBatches } from "./qdq-batches.js";

/** A weighted integer node: its output in the quantised graph and the same tensor in the float one. */
export interface BiasTarget {
  readonly node: NodeProto;
  /** The float graph's name for the node's output (before any Relu was absorbed into it). */
  readonly floatName: string;
}

/** Where a tensor's channels are: axis 1 (Conv: [N, C, ...]) or the last axis (Gemm, MatMul). */
export type ChannelAxis = "second" | "last";

/** Per-channel means over the data of the tensors that `axes` names, each on its channel axis. */
export async function channelMeans(
  model: ModelProto,
  axes: ReadonlyMap<string, ChannelAxis>,
  data: CalibrationData,
  input: CalibrationInput,
  opts: SessionOptions,
  batch: number,
): Promise<Map<string, Float64Array>> {
  const names = [...axes.keys()];
  const sums = new Map<string, { sum: Float64Array; k: number }>();
  await runBatches(model, names, data, input, opts, batch, (res) => {
    for (const name of names) {
      const t = res[name]!;
      const v = t.data as Float32Array;
      const second = axes.get(name) === "second";
      const c = second ? t.dims[1]! : t.dims[t.dims.length - 1]!;
      const inner = second ? count(t.dims.slice(2)) : 1;
      const acc = sums.get(name) ?? { sum: new Float64Array(c), k: 0 };
      for (let i = 0; i < v.length; i++) acc.sum[Math.floor(i / inner) % c]! += v[i]!;
      acc.k += v.length / c;
      sums.set(name, acc);
    }
  });
  return new Map([...sums].map(([name, { sum, k }]) => [name, sum.map((x) => x / k)]));
}

/**
 * Corrects the int32 biases of `targets` in the quantised `model` (in place) so that each output's
 * per-channel mean on the calibration data equals the float graph's. `bias(n)`: the node's int32
 * bias initializer (raw data) and its per-channel scales, or undefined when it has none (left as it is).
 */
export async function correctBiases(
  model: ModelProto,
  float: ModelProto,
  targets: readonly BiasTarget[],
  bias: (n: NodeProto) => { tensor: TensorProto; scales: Float32Array } | undefined,
  data: CalibrationData,
  input: CalibrationInput,
  opts: SessionOptions,
  batch: number,
): Promise<void> {
  const withBias = targets.flatMap((t) => {
    const b = bias(t.node);
    return b === undefined ? [] : [{ ...t, ...b }];
  });
  if (withBias.length === 0) return;
  const axisOf = (n: NodeProto): ChannelAxis => (n.opType === "Conv" ? "second" : "last");
  const reference = await channelMeans(
    float,
    new Map(withBias.map((t) => [t.floatName, axisOf(t.node)])),
    data,
    input,
    opts,
    batch,
  );
  for (const t of withBias) {
    const name = t.node.output[0]!;
    const got = (await channelMeans(model, new Map([[name, axisOf(t.node)]]), data, input, opts, batch)).get(
      name,
    )!;
    const want = reference.get(t.floatName)!;
    const raw = t.tensor.rawData.slice();
    const q = new Int32Array(raw.buffer, 0, raw.byteLength / 4);
    if (got.length !== q.length || want.length !== q.length) continue;
    for (let c = 0; c < q.length; c++) {
      const step = Math.round((want[c]! - got[c]!) / t.scales[c]!);
      q[c] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, q[c]! + step));
    }
    t.tensor.rawData = raw;
  }
}
