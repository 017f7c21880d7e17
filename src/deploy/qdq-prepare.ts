/**
 * Float-graph rewrites made before static quantisation, so that ONNX Runtime can fuse the QDQ
 * groups into integer kernels: Constant nodes and subgraphs of initializers computed once;
 * BatchNormalization nodes, and per-channel Add/Sub/Mul/Div (biases, batch norm written out as
 * arithmetic) folded into the Conv before them (QLinearConv takes an int32 bias, never a float op
 * after it); MatMul + bias as Gemm; kd's ReLU6 (Greater/Relu/Where) as Clip; its global mean
 * (ReduceSum / product of the shape) as GlobalAveragePool; its 2-D max pooling (Reshape to windows
 * + ReduceMax) as MaxPool. Each rewrite keeps the function (up to float rounding); shape
 * conditions are checked against the tensor shapes of a run at batch 1.
 */

import { create } from "@bufbuild/protobuf";
import { untypedOutput } from "../onnx/edit.js";
import { type NodeProto, type TensorProto, TensorProtoSchema } from "../onnx/gen/onnx_pb.js";
import {
  decodeModel,
  encodeModel,
  type ModelProto,
  makeNode,
  makeTensor,
  OnnxDataType,
} from "../onnx/proto.js";
import { createSession, type HostTensor, type SessionOptions } from "../runtime/session.js";
import { attrFloat, attrInt, attrInts, producersOf } from "./graph.js";
import { floats, int64Values, Rewriter, sameNumbers } from "./rewriter.js";

/** Constant nodes holding a tensor, and Identity of an initializer (PyTorch's shared constants), as initializers. */
function constantsAsInitializers(r: Rewriter): number {
  let done = 0;
  for (const n of [...r.nodes]) {
    const out = n.output[0]!;
    if (r.isOutput(out)) continue;
    let t: TensorProto | undefined;
    if (n.opType === "Constant" && n.attribute.length === 1 && n.attribute[0]!.name === "value")
      t = n.attribute[0]!.t;
    else if (n.opType === "Identity") {
      const src = r.inits.get(n.input[0]!);
      if (src !== undefined) t = create(TensorProtoSchema, { ...src, name: out });
    }
    if (t === undefined) continue;
    t.name = out;
    r.inits.set(out, t);
    r.model.graph!.initializer.push(t);
    r.replace([n], []);
    done++;
  }
  return done;
}

/** Conv (initializer weight and bias) → BatchNormalization (initializer statistics): one Conv. */
function foldBatchNorm(r: Rewriter): number {
  let done = 0;
  const prod = producersOf(r.nodes);
  for (const bn of [...r.nodes]) {
    if (bn.opType !== "BatchNormalization" || bn.output.filter((o) => o !== "").length !== 1) continue;
    const conv = prod.get(bn.input[0]!);
    if (conv?.opType !== "Conv" || !r.onlyFeeds(bn.input[0]!, bn)) continue;
    const w = floats(r.inits.get(conv.input[1] ?? ""));
    const [gamma, beta, mean, variance] = bn.input.slice(1).map((i) => floats(r.inits.get(i)));
    if (w === undefined || !gamma || !beta || !mean || !variance) continue;
    const c = gamma.length;
    const b0 = conv.input[2] ? floats(r.inits.get(conv.input[2])) : new Float32Array(c);
    if (b0 === undefined || b0.length !== c || w.length % c !== 0) continue;
    const eps = attrFloat(bn, "epsilon", 1e-5);
    const per = w.length / c;
    const weight = new Float32Array(w.length);
    const bias = new Float32Array(c);
    for (let o = 0; o < c; o++) {
      const s = gamma[o]! / Math.sqrt(variance[o]! + eps);
      for (let i = o * per; i < (o + 1) * per; i++) weight[i] = w[i]! * s;
      bias[o] = (b0[o]! - mean[o]!) * s + beta[o]!;
    }
    const dims = r.inits.get(conv.input[1]!)!.dims.map(Number);
    const folded = makeNode(
      "Conv",
      [
        conv.input[0]!,
        r.addFloat(conv.input[1]!, dims, weight),
        r.addFloat(`${conv.input[1]}_bias`, [c], bias),
      ],
      [bn.output[0]!],
      {},
      conv.name,
    );
    folded.attribute = conv.attribute;
    r.replace([conv, bn], [folded]);
    done++;
  }
  return done;
}

/** The values of a constant that broadcasts along axis 1 of [N, C, H, W] only ([C, 1, 1], [1, C, 1, 1] or a scalar), spread to `c` channels. */
function perChannel(t: TensorProto | undefined, c: number): Float32Array | undefined {
  const v = floats(t);
  if (v === undefined) return undefined;
  const dims = t!.dims.map(Number);
  if (v.length === 1 && dims.every((d) => d === 1)) return new Float32Array(c).fill(v[0]!);
  const ok = v.length === c && (sameNumbers(dims, [c, 1, 1]) || sameNumbers(dims, [1, c, 1, 1]));
  return ok ? v : undefined;
}

/**
 * Conv followed by Add, Sub, Mul or Div of a per-channel constant (a bias, or batch norm written
 * out as arithmetic): folded into the Conv's weight and bias, one operation at a time.
 */
function foldChannelAffine(r: Rewriter): number {
  let done = 0;
  for (let again = true; again; ) {
    again = false;
    const prod = producersOf(r.nodes);
    for (const op of r.nodes) {
      if (!["Add", "Sub", "Mul", "Div"].includes(op.opType)) continue;
      const k = op.input.findIndex((i) => r.inits.has(i));
      if (k < 0 || (k === 0 && (op.opType === "Sub" || op.opType === "Div"))) continue;
      const y = op.input[1 - k]!;
      const conv = prod.get(y);
      if (conv?.opType !== "Conv" || !r.onlyFeeds(y, op)) continue;
      const wt = r.inits.get(conv.input[1] ?? "");
      const w = floats(wt);
      const c = Number(wt?.dims[0] ?? 0);
      const v = perChannel(r.inits.get(op.input[k]!), c);
      const b0 = conv.input[2] ? floats(r.inits.get(conv.input[2])) : new Float32Array(c);
      if (w === undefined || v === undefined || b0?.length !== c) continue;
      const weight = Float32Array.from(w);
      const bias = Float32Array.from(b0);
      const per = w.length / c;
      for (let o = 0; o < c; o++) {
        if (op.opType === "Add") bias[o] = b0[o]! + v[o]!;
        else if (op.opType === "Sub") bias[o] = b0[o]! - v[o]!;
        else {
          bias[o] = op.opType === "Mul" ? b0[o]! * v[o]! : b0[o]! / v[o]!;
          for (let i = o * per; i < (o + 1) * per; i++)
            weight[i] = op.opType === "Mul" ? w[i]! * v[o]! : w[i]! / v[o]!;
        }
      }
      const changesWeight = op.opType === "Mul" || op.opType === "Div";
      const wName = changesWeight ? r.addFloat(conv.input[1]!, wt!.dims.map(Number), weight) : conv.input[1]!;
      const fused = makeNode(
        "Conv",
        [conv.input[0]!, wName, r.addFloat(`${conv.input[1]}_bias`, [c], bias)],
        [op.output[0]!],
        {},
        conv.name,
      );
      fused.attribute = conv.attribute;
      r.replace([conv, op], [fused]);
      done++;
      again = true;
      break;
    }
  }
  return done;
}

/** MatMul on a rank-2 input → Add(per-column constant): one Gemm with a bias. */
function matMulBiasAsGemm(r: Rewriter): number {
  let done = 0;
  const prod = producersOf(r.nodes);
  for (const add of [...r.nodes]) {
    if (add.opType !== "Add") continue;
    const k = add.input.findIndex((i) => r.inits.has(i));
    if (k < 0) continue;
    const y = add.input[1 - k]!;
    const op = prod.get(y);
    const b = floats(r.inits.get(add.input[k]!));
    if (op?.opType !== "MatMul" || b === undefined || !r.onlyFeeds(y, add)) continue;
    const bDims = r.inits.get(add.input[k]!)!.dims.map(Number);
    const w = r.inits.get(op.input[1] ?? "");
    if (w?.dataType !== OnnxDataType.FLOAT || w.dims.length !== 2 || r.shapes.get(op.input[0]!)?.length !== 2)
      continue;
    const n = Number(w.dims[1]);
    if (b.length !== n || !(sameNumbers(bDims, [n]) || sameNumbers(bDims, [1, n]))) continue;
    const gemm = makeNode(
      "Gemm",
      [op.input[0]!, op.input[1]!, r.addFloat(add.input[k]!, [n], b)],
      [add.output[0]!],
      {},
      op.name,
    );
    r.replace([op, add], [gemm]);
    done++;
  }
  return done;
}

/** A scalar float initializer's value. */
function scalar(r: Rewriter, name: string | undefined): number | undefined {
  const v = floats(r.inits.get(name ?? ""));
  return v !== undefined && v.length === 1 ? v[0] : undefined;
}

/** Where(Greater(c, x), Relu(x), c) = min(max(x, 0), c) (kd's ReLU6): Clip(x, 0, c). */
function reluCapAsClip(r: Rewriter): number {
  let done = 0;
  const prod = producersOf(r.nodes);
  for (const where of [...r.nodes]) {
    if (where.opType !== "Where") continue;
    const [gt, relu] = [prod.get(where.input[0]!), prod.get(where.input[1]!)];
    const cap = scalar(r, where.input[2]);
    if (gt?.opType !== "Greater" || relu?.opType !== "Relu" || cap === undefined || !(cap > 0)) continue;
    const x = relu.input[0]!;
    if (gt.input[1] !== x || scalar(r, gt.input[0]) !== cap) continue;
    if (!r.onlyFeeds(where.input[0]!, where) || !r.onlyFeeds(where.input[1]!, where)) continue;
    const lo = r.addFloat("clip_min", [], Float32Array.of(0));
    const hi = r.addFloat("clip_max", [], Float32Array.of(cap));
    r.replace([gt, relu, where], [makeNode("Clip", [x, lo, hi], [where.output[0]!], {}, relu.name)]);
    done++;
  }
  return done;
}

/** The reduction axes of a Reduce* node (attribute before opset 18 for most, input from 13/18). */
function reduceAxes(r: Rewriter, n: NodeProto): number[] | undefined {
  const fromInput = n.input[1] ? r.inits.get(n.input[1]) : undefined;
  if (n.input[1] && fromInput === undefined) return undefined;
  return fromInput !== undefined ? int64Values(fromInput) : attrInts(n, "axes");
}

/**
 * The mean over H and W of a [N, C, H, W] tensor — ReduceMean(axes 2, 3), or kd's ReduceSum divided
 * by the product of those dimensions read from the shape — as GlobalAveragePool (+ Flatten when the
 * mean drops the axes).
 */
function globalMeanAsPool(r: Rewriter): number {
  let done = 0;
  const prod = producersOf(r.nodes);
  for (const n of [...r.nodes]) {
    let removed: NodeProto[];
    let reduce: NodeProto;
    if (n.opType === "ReduceMean") {
      reduce = n;
      removed = [n];
    } else if (n.opType === "Div") {
      const sum = prod.get(n.input[0]!);
      const size = prod.get(n.input[1]!);
      if (sum?.opType !== "ReduceSum" || size?.opType !== "ReduceProd" || attrInt(size, "keepdims", 1) !== 0)
        continue;
      const gather = prod.get(size.input[0]!);
      const cast = gather?.opType === "Gather" ? prod.get(gather.input[0]!) : undefined;
      const shape = cast?.opType === "Cast" ? prod.get(cast.input[0]!) : undefined;
      const idx = gather ? r.inits.get(gather.input[1]!) : undefined;
      if (
        shape?.opType !== "Shape" ||
        shape.input[0] !== sum.input[0] ||
        !sameNumbers(idx && int64Values(idx), [2, 3])
      )
        continue;
      if (!r.onlyFeeds(sum.output[0]!, n) || !r.onlyFeeds(size.output[0]!, n)) continue;
      reduce = sum;
      removed = [sum, n];
    } else continue;
    const x = reduce.input[0]!;
    if (r.shapes.get(x)?.length !== 4 || !sameNumbers(reduceAxes(r, reduce), [2, 3])) continue;
    const keep = attrInt(reduce, "keepdims", 1) === 1;
    const out = n.output[0]!;
    const pooled = keep ? out : `${out}_pooled`;
    r.replace(removed, [
      makeNode("GlobalAveragePool", [x], [pooled], {}, reduce.name),
      ...(keep ? [] : [makeNode("Flatten", [pooled], [out], { axis: 1 }, `${reduce.name}_flatten`)]),
    ]);
    done++;
  }
  return done;
}

/** Reshape [N, C, H, W] → [N, C, H/k, k, W/l, l] then ReduceMax(axes 3, 5, keepdims 0): MaxPool k×l, stride k×l. */
function windowMaxAsPool(r: Rewriter): number {
  let done = 0;
  const prod = producersOf(r.nodes);
  for (const mx of [...r.nodes]) {
    if (mx.opType !== "ReduceMax" || attrInt(mx, "keepdims", 1) !== 0) continue;
    const reshape = prod.get(mx.input[0]!);
    if (reshape?.opType !== "Reshape" || !r.onlyFeeds(reshape.output[0]!, mx)) continue;
    if (!sameNumbers(reduceAxes(r, mx), [3, 5])) continue;
    const a = r.shapes.get(reshape.input[0]!);
    const b = r.shapes.get(reshape.output[0]!);
    if (a?.length !== 4 || b?.length !== 6) continue;
    const [n, c, h, w] = a as [number, number, number, number];
    if (
      !sameNumbers(b, [n, c, b[2]!, h / b[2]!, b[4]!, w / b[4]!]) ||
      b[2]! * b[3]! !== h ||
      b[4]! * b[5]! !== w
    )
      continue;
    const kernel = [b[3]!, b[5]!];
    r.replace(
      [reshape, mx],
      [
        makeNode(
          "MaxPool",
          [reshape.input[0]!],
          [mx.output[0]!],
          { kernel_shape: kernel, strides: kernel },
          mx.name,
        ),
      ],
    );
    done++;
  }
  return done;
}

/** Ops never folded: their value is not a function of their inputs alone. */
const NOT_CONSTANT = new Set([
  "RandomNormal",
  "RandomUniform",
  "RandomNormalLike",
  "RandomUniformLike",
  "Multinomial",
  "Bernoulli",
]);

/**
 * Nodes computed from initializers only (kd's unfolded batch norm: Sqrt of the running variance,
 * Reshape of the running mean, ...) run once by ONNX Runtime and replaced by their float32 or
 * int64 results as initializers.
 */
async function foldConstants(model: ModelProto, opts: SessionOptions): Promise<number> {
  const g = model.graph!;
  const known = new Set(g.initializer.map((t) => t.name));
  const constant = g.node.filter((n) => {
    const ok =
      !NOT_CONSTANT.has(n.opType) && n.input.length > 0 && n.input.every((i) => i === "" || known.has(i));
    if (ok) for (const o of n.output) known.add(o);
    return ok;
  });
  if (constant.length === 0) return 0;
  const probe = decodeModel(encodeModel(model));
  const names = constant.flatMap((n) => n.output).filter((o) => o !== "");
  probe.graph!.node = constant;
  const read = new Set(constant.flatMap((n) => n.input));
  probe.graph!.initializer = probe.graph!.initializer.filter((t) => read.has(t.name));
  probe.graph!.input = [];
  probe.graph!.output = names.map(untypedOutput);
  let values: Record<string, HostTensor>;
  try {
    const session = await createSession(encodeModel(probe), opts);
    try {
      values = await session.run({}, names);
    } finally {
      await session.release();
    }
  } catch {
    return 0; // ONNX Runtime cannot run them on their own: they stay nodes, computed at run time
  }
  const dtype = (d: HostTensor["data"]) =>
    d instanceof Float32Array ? "float32" : d instanceof BigInt64Array ? "int64" : undefined;
  const folded = constant.filter((n) =>
    n.output.every((o) => o === "" || dtype(values[o]!.data) !== undefined),
  );
  for (const n of folded)
    for (const o of n.output)
      if (o !== "")
        g.initializer.push(makeTensor(o, dtype(values[o]!.data)!, values[o]!.dims, values[o]!.data));
  g.node = g.node.filter((n) => !folded.includes(n));
  return folded.length;
}

/** Drops nodes whose outputs nobody reads, and initializers nobody uses. */
function dropDead(model: ModelProto): void {
  const g = model.graph!;
  for (;;) {
    const used = new Set([...g.node.flatMap((n) => n.input), ...g.output.map((o) => o.name)]);
    const keep = g.node.filter((n) => n.output.some((o) => used.has(o)));
    if (keep.length === g.node.length) break;
    g.node = keep;
  }
  const used = new Set([...g.node.flatMap((n) => n.input), ...g.output.map((o) => o.name)]);
  g.initializer = g.initializer.filter((t) => used.has(t.name));
  g.input = g.input.filter((i) => used.has(i.name) || !g.initializer.some((t) => t.name === i.name));
}

/**
 * Rewrites `model` in place (see the file comment); `shapes` are its tensors' shapes at batch 1.
 * Returns how many of each rewrite were made.
 */
export async function prepareForQdq(
  model: ModelProto,
  shapes: ReadonlyMap<string, readonly number[]>,
  opts: SessionOptions = {},
): Promise<Record<string, number>> {
  const r0 = new Rewriter(model, shapes);
  const constants = constantsAsInitializers(r0);
  const computed = await foldConstants(model, opts);
  const r = new Rewriter(model, shapes);
  const made = {
    constants,
    computed,
    batchNorm: foldBatchNorm(r),
    channelAffine: foldChannelAffine(r),
    matMulBias: matMulBiasAsGemm(r),
    relu6: reluCapAsClip(r),
    globalPool: globalMeanAsPool(r),
    maxPool: windowMaxAsPool(r),
  };
  dropDead(model);
  return made;
}
