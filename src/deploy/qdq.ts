/**
 * Static int8 in QDQ form, placed the way ONNX Runtime's own quantiser places it so that its CPU
 * optimiser turns each DequantizeLinear → op → QuantizeLinear group into an integer kernel
 * (QLinearConv, QGemm / MatMulIntegerToFloat, QLinearAdd, QLinearGlobalAveragePool, MaxPool and
 * reshapes on uint8):
 * - every activation tensor that an integer-capable op writes or reads is quantised ONCE: one
 *   QuantizeLinear after its producer (uint8, scale and zero point from its calibrated range), and
 *   every reader — float ops too — reads it through its own DequantizeLinear, since ONNX Runtime
 *   fuses an op only when its output feeds nothing but the QuantizeLinear;
 * - a Relu or Clip(0, c) right after a Conv, Gemm, MatMul or Add is dropped and the producer's
 *   output takes the activation's (non-negative) range: uint8 saturation at zero point 0 is the Relu;
 * - MaxPool, Flatten, Reshape, Transpose, Squeeze and Unsqueeze pass their input's scale and zero
 *   point on, so ONNX Runtime drops their Q/DQ pair and runs them on uint8;
 * - weights are int8, symmetric, one scale per output channel; biases are int32 with scale
 *   s_x·s_w[c] and zero point 0, as QLinearConv and QGemm take them;
 * - graph outputs stay float (a final Gemm or MatMul becomes an integer kernel with a float output);
 * - the int32 biases are then corrected on the calibration data (src/deploy/qdq-bias.ts).
 */
import { DataType, rawTensor } from "../onnx/edit.js";
import type { GraphProto, NodeProto, TensorProto } from "../onnx/gen/onnx_pb.js";
import {
  decodeModel,
  encodeModel,
  floatValues,
  type ModelProto,
  makeNode,
  OnnxDataType,
} from "../onnx/proto.js";
import type { SessionOptions } from "../runtime/session.js";
import { KdError } from "../util/errors.js";
import { attrFloat, attrInt, consumersOf, count, producersOf, runAll } from "./graph.js";
import { runBatches } from "./qdq-batches.js";
import { correctBiases } from "./qdq-bias.js";
import { prepareForQdq } from "./qdq-prepare.js";

/** Symmetric per-channel int8: scales[c] = max|W along channel c| / 127, q = round(W / scale). */
export function quantizeWeight(
  w: Float32Array,
  dims: readonly number[],
  axis: number,
): { q: Int8Array; scales: Float32Array } {
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const chanOf = (i: number) => Math.floor(i / inner) % channels;
  const maxAbs = new Float32Array(channels);
  for (let i = 0; i < w.length; i++) maxAbs[chanOf(i)] = Math.max(maxAbs[chanOf(i)]!, Math.abs(w[i]!));
  const scales = maxAbs.map((m) => (m > 0 ? m / 127 : 1));
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++)
    q[i] = Math.max(-127, Math.min(127, Math.round(w[i]! / scales[chanOf(i)]!)));
  return { q, scales };
}

/** uint8 affine parameters covering [min(0, lo), max(0, hi)] (0 must be exact: ReLU zeros, padding). */
export function activationParams(lo: number, hi: number): { scale: number; zeroPoint: number } {
  const rmin = Math.min(0, lo);
  const rmax = Math.max(0, hi);
  const scale = rmax > rmin ? (rmax - rmin) / 255 : 1;
  return { scale, zeroPoint: Math.max(0, Math.min(255, Math.round(-rmin / scale))) };
}

/** Min and max of each named tensor over the calibration data, run in batches. */
export async function calibrate(
  model: ModelProto,
  names: readonly string[],
  data: { readonly x: Float32Array; readonly n: number },
  input: { readonly name: string; readonly shape: readonly number[] },
  opts: SessionOptions = {},
  batch = 500,
): Promise<Map<string, [number, number]>> {
  const ranges = new Map<string, [number, number]>(names.map((n) => [n, [Infinity, -Infinity]]));
  await runBatches(model, names, data, input, opts, batch, (res) => {
    for (const name of names) {
      const v = res[name]!.data as Float32Array;
      const r = ranges.get(name)!;
      for (let i = 0; i < v.length; i++) {
        const x = v[i]!;
        if (x < r[0]) r[0] = x;
        if (x > r[1]) r[1] = x;
      }
    }
  });
  return ranges;
}

/** Ops with integer kernels that take a weight initializer as input 1. */
const WEIGHTED = new Set(["Conv", "Gemm", "MatMul"]);
/** Ops whose integer form requantises to a scale of their own. */
const OWN_SCALE = new Set(["Add", "GlobalAveragePool", "AveragePool"]);
/** Ops that move uint8 values without arithmetic: their output keeps their input's scale. */
const SAME_SCALE = new Set(["MaxPool", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze"]);

const label = (n: NodeProto) => (n.name !== "" ? n.name : `${n.opType}(${n.output[0]})`);

/** Why a Conv/Gemm/MatMul cannot take an int8 weight, or undefined when it can. */
function weightProblem(n: NodeProto, inits: ReadonlyMap<string, TensorProto>): string | undefined {
  const w = inits.get(n.input[1] ?? "");
  if (w === undefined || w.dataType !== OnnxDataType.FLOAT) return "its weight is not a float initializer";
  if (inits.has(n.input[0] ?? "")) return "its input is a constant";
  if (w.dims.length !== (n.opType === "Conv" ? 4 : 2)) return `its weight has rank ${w.dims.length}`;
  const b = n.input[2] ?? "";
  if (b !== "" && inits.get(b)?.dataType !== OnnxDataType.FLOAT) return "its bias is not a float initializer";
  if (n.opType === "Gemm") {
    if (
      attrInt(n, "transA", 0) !== 0 ||
      attrFloat(n, "alpha", 1) !== 1 ||
      (b !== "" && attrFloat(n, "beta", 1) !== 1)
    )
      return "Gemm with transA, alpha or beta";
    if (b !== "" && count(inits.get(b)!.dims) !== Number(w.dims[attrInt(n, "transB", 0) === 1 ? 0 : 1]))
      return "Gemm with a broadcast bias";
  }
  return undefined;
}

/** Output-channel axis of a weight: one scale per output unit. */
const weightAxis = (n: NodeProto) =>
  n.opType === "Conv" || (n.opType === "Gemm" && attrInt(n, "transB", 0) === 1) ? 0 : 1;

/** Whether a Relu or Clip node clamps at 0 from below (and so is uint8 saturation at zero point 0). */
function clampsAtZero(n: NodeProto, inits: ReadonlyMap<string, TensorProto>): boolean {
  if (n.opType === "Relu") return true;
  if (n.opType !== "Clip" || !n.input[1]) return false;
  const lo = inits.get(n.input[1]);
  const hi = n.input[2] ? inits.get(n.input[2]) : undefined;
  if (lo === undefined || lo.dataType !== OnnxDataType.FLOAT || (n.input[2] && hi === undefined))
    return false;
  return floatValues(lo)[0] === 0 && (hi === undefined || floatValues(hi)[0]! > 0);
}

/** Shapes (batch 1) of the graph input and every node output, and which of them are float. */
async function probe(
  model: ModelProto,
  input: { readonly name: string; readonly shape: readonly number[] },
  opts: SessionOptions,
): Promise<{ shapes: Map<string, readonly number[]>; floats: Set<string> }> {
  const x = new Float32Array(count(input.shape));
  const all = await runAll(model, input.name, input.shape, x, 1, opts);
  const shapes = new Map<string, readonly number[]>([[input.name, [1, ...input.shape]]]);
  const floats = new Set([input.name]);
  for (const [name, t] of all) {
    shapes.set(name, t.dims);
    if (t.data instanceof Float32Array) floats.add(name);
  }
  return { shapes, floats };
}

export interface StaticResult {
  /** The weighted nodes (Conv, Gemm, MatMul) given int8 weights. */
  readonly quantized: string[];
  /** Nodes left in float, each with the reason. */
  readonly float: { readonly node: string; readonly reason: string }[];
}

/** Where the Q/DQ pairs go: decided from the graph alone, before any range is known. */
interface Plan {
  /** Conv, Gemm and MatMul nodes that take int8 weights. */
  readonly weighted: ReadonlySet<NodeProto>;
  /** Nodes that run as integer kernels (every activation input quantised). */
  readonly integer: ReadonlySet<NodeProto>;
  /** Tensors quantised once after their producer (or the graph input). */
  readonly quantised: ReadonlySet<string>;
  /** Outputs of MaxPool, Flatten, ... that reuse their input's scale: output → input. */
  readonly sharesScale: ReadonlyMap<string, string>;
  /** Weighted nodes that absorbed a Relu/Clip: their output's name in the float graph. */
  readonly floatOutput: ReadonlyMap<NodeProto, string>;
  readonly float: StaticResult["float"];
}

/**
 * Plans the graph `g` (rewriting it: absorbed Relu/Clip nodes go). `floats`: the float tensors;
 * `input`: the float graph input that the calibration data feeds.
 */
function plan(
  g: GraphProto,
  inits: ReadonlyMap<string, TensorProto>,
  floats: ReadonlySet<string>,
  input: string,
): Plan {
  const outputs = new Set(g.output.map((o) => o.name));
  const float: { node: string; reason: string }[] = [];
  const weighted = new Set<NodeProto>();
  for (const n of g.node) {
    if (!WEIGHTED.has(n.opType)) continue;
    const why = weightProblem(n, inits);
    if (why === undefined) weighted.add(n);
    else float.push({ node: label(n), reason: why });
  }
  const activationInputs = (n: NodeProto): number[] =>
    weighted.has(n) || SAME_SCALE.has(n.opType) || (OWN_SCALE.has(n.opType) && n.opType !== "Add")
      ? [0]
      : n.opType === "Add" && !n.input.some((i) => inits.has(i))
        ? [0, 1]
        : [];

  // Relu / Clip(0, c) after a Conv, Gemm, MatMul or Add that feeds nothing else: dropped, the
  // producer writing the activation's output (and so, later, its range).
  const prod = producersOf(g.node);
  const readers = consumersOf(g.node);
  const absorbed = new Set<NodeProto>();
  const floatOutput = new Map<NodeProto, string>();
  for (const act of g.node) {
    if (!clampsAtZero(act, inits) || outputs.has(act.output[0]!)) continue;
    const p = prod.get(act.input[0]!);
    const ok = p && (weighted.has(p) || (p.opType === "Add" && activationInputs(p).length === 2));
    if (!ok || readers.get(act.input[0]!)?.length !== 1 || outputs.has(act.input[0]!)) continue;
    floatOutput.set(p, p.output[0]!);
    p.output[0] = act.output[0]!;
    absorbed.add(act);
  }
  g.node = g.node.filter((n) => !absorbed.has(n));

  // In graph order: a float tensor is quantised when an integer op writes it or reads it.
  const users = consumersOf(g.node);
  const quantised = new Set<string>();
  const integer = new Set<NodeProto>();
  const sharesScale = new Map<string, string>();
  const readsAsInteger = (n: NodeProto, t: string) =>
    !SAME_SCALE.has(n.opType) && activationInputs(n).some((i) => n.input[i] === t);
  const consider = (t: string, producerIsInteger: boolean) => {
    if (outputs.has(t) || !floats.has(t)) return;
    if (producerIsInteger || (users.get(t) ?? []).some((u) => readsAsInteger(u, t))) quantised.add(t);
  };
  consider(input, false);
  for (const n of g.node) {
    const ins = activationInputs(n);
    const int = ins.length > 0 && ins.every((i) => quantised.has(n.input[i]!));
    if (int) integer.add(n);
    if (int && SAME_SCALE.has(n.opType)) sharesScale.set(n.output[0]!, n.input[0]!);
    for (const o of n.output) consider(o, int && o === n.output[0]);
  }
  for (const n of g.node) {
    const needsOwnQ = n.opType === "Conv" || OWN_SCALE.has(n.opType);
    if (integer.has(n) && needsOwnQ && !quantised.has(n.output[0]!))
      float.push({ node: label(n), reason: "its output is a graph output" });
    else if (!integer.has(n) && weighted.has(n))
      float.push({ node: label(n), reason: "its input is not quantised" });
    else if (!integer.has(n) && !WEIGHTED.has(n.opType) && !SAME_SCALE.has(n.opType))
      float.push({ node: label(n), reason: `no integer kernel for ${n.opType} here` });
  }
  return { weighted, integer, quantised, sharesScale, floatOutput, float };
}

/** Writes the Q/DQ nodes and the int8 / int32 initializers of a plan, given the tensors' ranges. */
class Emitter {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  private fresh = 0;
  private readonly params = new Map<string, { s: string; zp: string; scale: number }>();
  private readonly int8 = new Map<string, { q: string; s: string; zp: string; scales: Float32Array }>();
  /** Each weighted node's int32 bias initializer and its per-channel scales. */
  readonly biases = new Map<NodeProto, { tensor: TensorProto; scales: Float32Array }>();

  constructor(
    private readonly ranges: ReadonlyMap<string, readonly [number, number]>,
    private readonly sharesScale: ReadonlyMap<string, string>,
    private readonly weights: ReadonlyMap<string, TensorProto>,
  ) {}

  private uniq(s: string): string {
    return `${s}_${this.fresh++}`;
  }

  /** Scale and zero point of a quantised tensor (uint8, from its range or its source's). */
  paramsOf(t: string): { s: string; zp: string; scale: number } {
    const shared = this.sharesScale.get(t);
    if (shared !== undefined) return this.paramsOf(shared);
    let p = this.params.get(t);
    if (p !== undefined) return p;
    const [lo, hi] = this.ranges.get(t)!;
    if (!(Number.isFinite(lo) && Number.isFinite(hi)))
      throw new KdError(
        `calibration gave no finite range for tensor "${t}" (NaN or ∞ in the model's activations)`,
      );
    const { scale, zeroPoint } = activationParams(lo, hi);
    p = { s: `${t}_scale`, zp: `${t}_zero_point`, scale: Math.fround(scale) };
    this.inits.push(
      rawTensor(p.s, DataType.FLOAT, [], Float32Array.of(scale)),
      rawTensor(p.zp, DataType.UINT8, [], Uint8Array.of(zeroPoint)),
    );
    this.params.set(t, p);
    return p;
  }

  quantize(t: string): void {
    const p = this.paramsOf(t);
    this.nodes.push(
      makeNode("QuantizeLinear", [t, p.s, p.zp], [`${t}_quantized`], {}, `${t}_QuantizeLinear`),
    );
  }

  /** A DequantizeLinear of `t` for one reader; returns its output. */
  dequantize(t: string): string {
    const p = this.paramsOf(t);
    const out = this.uniq(`${t}_dequantized`);
    this.nodes.push(
      makeNode("DequantizeLinear", [`${t}_quantized`, p.s, p.zp], [out], {}, `${out}_DequantizeLinear`),
    );
    return out;
  }

  /** The int8 weight of `n` (stored once per weight and axis) read through its own DequantizeLinear. */
  weight(n: NodeProto): { out: string; scales: Float32Array } {
    const w = this.weights.get(n.input[1]!)!;
    const axis = weightAxis(n);
    const key = `${w.name}@${axis}`;
    let iw = this.int8.get(key);
    if (iw === undefined) {
      const { q, scales } = quantizeWeight(floatValues(w), w.dims.map(Number), axis);
      const taken = [...this.int8.keys()].some((k) => k.startsWith(`${w.name}@`));
      const base = taken ? `${w.name}_axis${axis}` : w.name;
      iw = { q: `${base}_quantized`, s: `${base}_scale`, zp: `${base}_zero_point`, scales };
      this.inits.push(
        rawTensor(iw.q, DataType.INT8, w.dims.map(Number), q),
        rawTensor(iw.s, DataType.FLOAT, [scales.length], scales),
        rawTensor(iw.zp, DataType.INT8, [scales.length], new Int8Array(scales.length)),
      );
      this.int8.set(key, iw);
    }
    const out = this.uniq(`${w.name}_dequantized`);
    this.nodes.push(
      makeNode("DequantizeLinear", [iw.q, iw.s, iw.zp], [out], { axis }, `${out}_DequantizeLinear`),
    );
    return { out, scales: iw.scales };
  }

  /** The bias of `n` as int32 with scale s_x·s_w[c] and zero point 0, read through a DequantizeLinear. */
  bias(n: NodeProto, inputScale: number, wScales: Float32Array): string {
    const b = floatValues(this.weights.get(n.input[2]!)!);
    const scales = wScales.map((s) => Math.fround(inputScale * s));
    const q = Int32Array.from(b, (v, c) =>
      Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(v / scales[c]!))),
    );
    const base = this.uniq(`${n.input[2]}_int32`);
    const tensor = rawTensor(base, DataType.INT32, [q.length], q);
    this.biases.set(n, { tensor, scales });
    this.inits.push(
      tensor,
      rawTensor(`${base}_scale`, DataType.FLOAT, [q.length], scales),
      rawTensor(`${base}_zero_point`, DataType.INT32, [q.length], new Int32Array(q.length)),
    );
    const out = `${base}_dequantized`;
    this.nodes.push(
      makeNode(
        "DequantizeLinear",
        [base, `${base}_scale`, `${base}_zero_point`],
        [out],
        { axis: 0 },
        `${out}_DequantizeLinear`,
      ),
    );
    return out;
  }
}

/** Min and max of the flat examples. */
function rangeOf(x: Float32Array): [number, number] {
  let [lo, hi] = [Infinity, -Infinity];
  for (const v of x) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  return [lo, hi];
}

/** Quantises `model` in place (see the file comment). */
export async function quantizeStatic(
  model: ModelProto,
  data: { readonly x: Float32Array; readonly n: number },
  input: { readonly name: string; readonly shape: readonly number[] },
  opts: SessionOptions = {},
): Promise<StaticResult> {
  const g = model.graph!;
  await prepareForQdq(model, (await probe(model, input, opts)).shapes, opts);
  const { shapes, floats } = await probe(model, input, opts);
  const calibrationModel = decodeModel(encodeModel(model));
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const p = plan(g, inits, floats, input.name);

  // Ranges: one calibration run for every tensor with a scale of its own (in batches that keep
  // the extra outputs near 256 MB); the input's from the data.
  const own = [...p.quantised].filter((t) => !p.sharesScale.has(t) && t !== input.name);
  const bytesPerExample = own.reduce((s, t) => s + 4 * count(shapes.get(t) ?? [1]), 0);
  const batch = Math.max(1, Math.min(500, Math.floor(256e6 / Math.max(1, bytesPerExample))));
  const ranges = await calibrate(calibrationModel, own, data, input, opts, batch);
  if (p.quantised.has(input.name))
    ranges.set(input.name, rangeOf(data.x.subarray(0, data.n * count(input.shape))));

  const e = new Emitter(ranges, p.sharesScale, inits);
  if (p.quantised.has(input.name)) e.quantize(input.name);
  const quantized: string[] = [];
  for (const n of g.node) {
    const activation = n.input[0]!;
    // Every reader of a quantised tensor reads it through its own DequantizeLinear.
    n.input.forEach((t, i) => {
      if (p.quantised.has(t)) n.input[i] = e.dequantize(t);
    });
    if (p.integer.has(n) && p.weighted.has(n)) {
      const w = e.weight(n);
      n.input[1] = w.out;
      if ((n.input[2] ?? "") !== "") n.input[2] = e.bias(n, e.paramsOf(activation).scale, w.scales);
      quantized.push(label(n));
    }
    e.nodes.push(n);
    for (const o of n.output) if (p.quantised.has(o)) e.quantize(o);
  }

  g.node = e.nodes;
  const used = new Set(e.nodes.flatMap((n) => n.input));
  g.initializer = [...g.initializer.filter((t) => used.has(t.name)), ...e.inits];
  g.input = g.input.filter((i) => used.has(i.name) || !inits.has(i.name));

  const targets = g.node
    .filter((n) => p.integer.has(n) && p.weighted.has(n))
    .map((n) => ({ node: n, floatName: p.floatOutput.get(n) ?? n.output[0]! }));
  await correctBiases(model, calibrationModel, targets, (n) => e.biases.get(n), data, input, opts, batch);
  return { quantized, float: p.float };
}
