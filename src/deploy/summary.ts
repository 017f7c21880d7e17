/**
 * What a classifier costs: its input and output, parameters, bytes on disk, FLOPs per example
 * (MatMul, Gemm and Conv, counted as 2 × multiply-adds from the shapes of a batch of one) and
 * ONNX Runtime latency at batch 1 and 128; optionally its accuracy on test data.
 */
import { statSync } from "node:fs";
import type { Dataset } from "../data/dataset.js";
import { type ModelProto, OnnxDataType } from "../onnx/proto.js";
import { type ClassifierOptions, OnnxClassifier, parseModelFile } from "../runtime/classifier.js";
import { medianLatencyMs } from "../runtime/latency.js";
import { createSession, type SessionOptions } from "../runtime/session.js";
import { KdError } from "../util/errors.js";
import { count, tensorShapes } from "./graph.js";

export interface ModelSummary {
  readonly path: string;
  readonly input: { readonly name: string; readonly shape: readonly number[] };
  readonly output: { readonly name: string; readonly classes: number };
  /** Weights and biases: elements of float and 8-bit initializers (and int32 quantised biases), quantisation scales and zero points excluded. */
  readonly parameters: number;
  /** Size of the file. */
  readonly bytes: number;
  /** 2 × multiply-adds of MatMul, Gemm and Conv nodes, for one example. */
  readonly flops: number;
  /** Median milliseconds of one run at batch 1 and at batch 128. */
  readonly latencyMs: { readonly batch1: number; readonly batch128: number };
  /** Accuracy on the test data, when given. */
  readonly test?: { readonly name: string; readonly n: number; readonly accuracy: number };
}

const QDQ_OPS = new Set(["QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"]);

/** Weights and biases, counted element by element; scales and zero points of QDQ nodes are overhead. */
export function countParameters(model: ModelProto): number {
  const g = model.graph!;
  const overhead = new Set<string>();
  // Dynamic quantisation rescales by Mul(activation scale, weight scales): those scales are overhead.
  const runtimeScales = new Set(
    g.node.filter((nd) => nd.opType === "DynamicQuantizeLinear").map((nd) => nd.output[1]),
  );
  for (const nd of g.node) {
    if (nd.opType === "Mul" && nd.input.some((i) => runtimeScales.has(i)))
      for (const i of nd.input) overhead.add(i);
    if (QDQ_OPS.has(nd.opType)) for (const i of nd.input.slice(1)) overhead.add(i);
    if (nd.opType === "MatMulInteger" || nd.opType === "ConvInteger")
      for (const i of nd.input.slice(2)) overhead.add(i);
  }
  const counted = new Set([
    OnnxDataType.FLOAT,
    OnnxDataType.DOUBLE,
    OnnxDataType.FLOAT16,
    OnnxDataType.INT8,
    OnnxDataType.UINT8,
  ]);
  // Static int8 stores biases as int32 read by a DequantizeLinear.
  const dequantized = new Set(
    g.node.filter((nd) => nd.opType === "DequantizeLinear").map((nd) => nd.input[0]),
  );
  let n = 0;
  for (const t of g.initializer)
    if (
      (counted.has(t.dataType) || (t.dataType === OnnxDataType.INT32 && dequantized.has(t.name))) &&
      !overhead.has(t.name)
    )
      n += count(t.dims);
  return n;
}

/** FLOPs of one example: 2·(output elements)·(reduction length) for every MatMul, Gemm and Conv. */
export function countFlops(model: ModelProto, shapes: ReadonlyMap<string, readonly number[]>): number {
  let flops = 0;
  const dims = (name: string) => shapes.get(name);
  for (const nd of model.graph!.node) {
    const out = dims(nd.output[0] ?? "");
    if (out === undefined) continue;
    const a = dims(nd.input[0] ?? "");
    const b = dims(nd.input[1] ?? "");
    if (a === undefined || b === undefined) continue;
    const transA = nd.attribute.find((x) => x.name === "transA")?.i === 1n;
    if (nd.opType === "MatMul" || nd.opType === "MatMulInteger") flops += 2 * count(out) * a[a.length - 1]!;
    else if (nd.opType === "Gemm") flops += 2 * count(out) * (transA ? a[0]! : a[1]!);
    else if (nd.opType === "Conv" || nd.opType === "ConvInteger") flops += 2 * count(out) * count(b.slice(1));
  }
  return flops;
}

export interface SummaryOptions extends ClassifierOptions, SessionOptions {
  /** Test data (labels needed) for accuracy; skipped when absent. */
  readonly test?: Dataset;
  /** Time spent timing each batch size (default 500 ms). */
  readonly timingMs?: number;
}

/** Summarises the classifier at `path` (see ModelSummary). */
export async function summarize(path: string, opts: SummaryOptions = {}): Promise<ModelSummary> {
  const { model, bytes } = parseModelFile(path);
  const clf = await OnnxClassifier.load(path, opts);
  try {
    const shapes = await tensorShapes(model, clf.inputName, clf.exampleShape, opts);
    const session = await createSession(bytes, opts);
    const budget = opts.timingMs ?? 500;
    const latencyMs = {
      batch1: await medianLatencyMs(session, clf.inputName, clf.exampleShape, 1, budget),
      batch128: await medianLatencyMs(session, clf.inputName, clf.exampleShape, 128, budget),
    };
    await session.release();
    let test: ModelSummary["test"];
    if (opts.test !== undefined) {
      const ds = opts.test;
      clf.checkFits(ds);
      if (ds.y === undefined) throw new KdError(`${ds.name} has no labels to measure accuracy with`);
      const z = await clf.logitsOf(ds);
      const c = clf.numClasses;
      let right = 0;
      for (let i = 0; i < ds.n; i++) {
        let best = 0;
        for (let j = 1; j < c; j++) if (z[i * c + j]! > z[i * c + best]!) best = j;
        if (best === ds.y[i]) right++;
      }
      test = { name: ds.name, n: ds.n, accuracy: right / ds.n };
    }
    return {
      path,
      input: { name: clf.inputName, shape: clf.exampleShape },
      output: { name: clf.outputName, classes: clf.numClasses },
      parameters: countParameters(model),
      bytes: statSync(path).size,
      flops: countFlops(model, shapes),
      latencyMs,
      ...(test ? { test } : {}),
    };
  } finally {
    await clf.release();
  }
}

const si = (v: number): string => {
  const units = ["", "k", "M", "G", "T"];
  let u = 0;
  while (Math.abs(v) >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v.toFixed(0) : v.toFixed(2)}${units[u]}`;
};
const bytesText = (b: number) =>
  b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(2)} MiB` : `${(b / 1024).toFixed(1)} KiB`;

/** The rows of a summary as [label, value] pairs. */
function rows(s: ModelSummary): [string, string][] {
  return [
    ["input", `${s.input.name} [N, ${s.input.shape.join(", ")}]`],
    ["output", `${s.output.name} [N, ${s.output.classes}]`],
    ["parameters", `${si(s.parameters)} (${s.parameters})`],
    ["file size", `${bytesText(s.bytes)} (${s.bytes} bytes)`],
    ["FLOPs per example", `${si(s.flops)} (${s.flops})`],
    ["latency, batch 1", `${s.latencyMs.batch1.toFixed(3)} ms`],
    [
      "latency, batch 128",
      `${s.latencyMs.batch128.toFixed(3)} ms (${((1000 * s.latencyMs.batch128) / 128).toFixed(1)} µs per example)`,
    ],
    ...(s.test
      ? [
          ["accuracy", `${(100 * s.test.accuracy).toFixed(2)}% on ${s.test.name} (${s.test.n})`] as [
            string,
            string,
          ],
        ]
      : []),
  ];
}

/** A plain-text table of one summary, or of two side by side with their ratios (other / base). */
export function formatSummary(base: ModelSummary, other?: ModelSummary): string {
  const a = rows(base);
  if (other === undefined) {
    const w = Math.max(...a.map(([k]) => k.length));
    return [base.path, ...a.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`)].join("\n");
  }
  const c = compare(base, other);
  const b = rows(other);
  const ratio: Record<string, string> = {
    parameters: `${c.parameters.toFixed(3)}×`,
    "file size": `${c.bytes.toFixed(3)}×`,
    "FLOPs per example": `${c.flops.toFixed(3)}×`,
    "latency, batch 1": `${c.latencyBatch1.toFixed(3)}×`,
    "latency, batch 128": `${c.latencyBatch128.toFixed(3)}×`,
    ...(c.accuracyPp !== undefined
      ? { accuracy: `${c.accuracyPp >= 0 ? "+" : ""}${c.accuracyPp.toFixed(2)} pp` }
      : {}),
  };
  const header: [string, string, string, string] = ["", base.path, other.path, "other / base"];
  const table = a.map(([k, v], i) => [k, v, b[i]?.[1] ?? "", ratio[k] ?? ""] as const);
  const widths = [0, 1, 2].map((j) => Math.max(header[j]!.length, ...table.map((r) => r[j]!.length)));
  const line = (r: readonly string[]) =>
    r.map((cell, j) => (j < 3 ? cell.padEnd(widths[j]!) : cell)).join("  ");
  return [line(header), ...table.map(line)].join("\n");
}

export interface Comparison {
  readonly parameters: number;
  readonly bytes: number;
  readonly flops: number;
  readonly latencyBatch1: number;
  readonly latencyBatch128: number;
  /** Accuracy of other minus base, in percentage points (both measured on the same data). */
  readonly accuracyPp?: number;
}

/** Ratios other / base (and the accuracy difference). */
export function compare(base: ModelSummary, other: ModelSummary): Comparison {
  return {
    parameters: other.parameters / base.parameters,
    bytes: other.bytes / base.bytes,
    flops: other.flops / base.flops,
    latencyBatch1: other.latencyMs.batch1 / base.latencyMs.batch1,
    latencyBatch128: other.latencyMs.batch128 / base.latencyMs.batch128,
    ...(base.test && other.test ? { accuracyPp: 100 * (other.test.accuracy - base.test.accuracy) } : {}),
  };
}
