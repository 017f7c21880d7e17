/**
 * What makes an ONNX model a classifier kd can use, read from its graph alone (no file system, no
 * runtime: the CLI's OnnxClassifier and the page both use it): one float input with fixed example
 * dims, one [batch, classes] float output, and its kd metadata (preprocessing, data, class names).
 */
import { MAX_CLASSES } from "../data/checks.js";
import {
  type DataRecord,
  type Preprocessing,
  readClassNames,
  readDataRecord,
  readPreprocessing,
} from "../onnx/metadata.js";
import { type ModelProto, OnnxDataType, type ValueInfoProto } from "../onnx/proto.js";
import { KdError } from "../util/errors.js";

export interface SignatureOptions {
  /** Input to feed (default: the only non-initializer input). */
  readonly input?: string;
  /** Output to read (default: the only float output, or the first one named like logits). */
  readonly output?: string;
  /** The flags that name the input and output, for hints (default: kd distill's --teacher-input and --teacher-output). */
  readonly flags?: { readonly input: string; readonly output: string };
}

/** A classifier's input, output and what it records. */
export interface ClassifierSignature {
  readonly input: string;
  readonly output: string;
  /** Per-example input shape (batch dim dropped). */
  readonly exampleShape: readonly number[];
  readonly classes: number;
  readonly preprocessing: Preprocessing | undefined;
  readonly data: DataRecord | undefined;
  readonly classNames: readonly string[] | undefined;
}

const TEACHER_FLAGS = { input: "--teacher-input", output: "--teacher-output" } as const;

function dimsOf(v: ValueInfoProto): (number | string)[] {
  const t = v.type?.value.case === "tensorType" ? v.type.value.value : undefined;
  return (t?.shape?.dim ?? []).map((d) =>
    d.value.case === "dimValue" ? Number(d.value.value) : d.value.case === "dimParam" ? d.value.value : "?",
  );
}

function elemType(v: ValueInfoProto): number {
  return v.type?.value.case === "tensorType" ? v.type.value.value.elemType : 0;
}

/** The classifier signature of `model` (`what` names it in errors), or one line saying why it is not one. */
export function classifierSignature(
  model: ModelProto,
  what: string,
  opts: SignatureOptions = {},
): ClassifierSignature {
  if (!model.graph || model.graph.node.length === 0 || model.graph.output.length === 0)
    throw new KdError(`${what}: not an ONNX model (no graph, nodes or outputs)`);
  const preprocessing = readPreprocessing(model, what);
  const data = readDataRecord(model, what);
  const flags = opts.flags ?? TEACHER_FLAGS;
  const g = model.graph!;
  const inits = new Set(g.initializer.map((t) => t.name));
  const inputs = g.input.filter((i) => !inits.has(i.name));
  const input = opts.input
    ? inputs.find((i) => i.name === opts.input)
    : inputs.length === 1
      ? inputs[0]
      : undefined;
  if (!input)
    throw new KdError(
      opts.input
        ? `${what}: no input named "${opts.input}" (inputs: ${inputs.map((i) => i.name).join(", ")})`
        : `${what}: ${inputs.length} inputs (${inputs.map((i) => i.name).join(", ")}); name one with ${flags.input}`,
    );
  if (elemType(input) !== OnnxDataType.FLOAT)
    throw new KdError(`${what}: input "${input.name}" is not float32`);
  const floats = g.output.filter((o) => elemType(o) === OnnxDataType.FLOAT);
  const output = opts.output
    ? g.output.find((o) => o.name === opts.output)
    : floats.length === 1
      ? floats[0]
      : floats.find((o) => /logit/i.test(o.name));
  if (!output)
    throw new KdError(
      opts.output
        ? `${what}: no output named "${opts.output}" (outputs: ${g.output.map((o) => o.name).join(", ")})`
        : floats.length === 0
          ? `${what}: has no float output to read logits from`
          : `${what}: several float outputs (${floats.map((o) => o.name).join(", ")}); name one with ${flags.output}`,
    );
  if (elemType(output) !== OnnxDataType.FLOAT)
    throw new KdError(`${what}: output "${output.name}" is not float32`);
  const inDims = dimsOf(input).slice(1);
  if (inDims.some((d) => typeof d !== "number"))
    throw new KdError(`${what}: input "${input.name}" has non-batch symbolic dims`);
  const outDims = dimsOf(output);
  const classes = outDims[outDims.length - 1];
  if (outDims.length !== 2 || typeof classes !== "number" || classes < 1)
    throw new KdError(
      `${what}: output "${output.name}" should be [batch, classes], is [${outDims.join(", ")}]`,
    );
  if (classes > MAX_CLASSES)
    throw new KdError(
      `${what}: output "${output.name}" has ${classes} classes, more than the ${MAX_CLASSES} kd supports`,
    );
  if (inDims.some((d) => (d as number) < 1))
    throw new KdError(`${what}: input "${input.name}" has an empty dimension [${inDims.join(", ")}]`);
  const classNames = readClassNames(model, what, classes);
  return {
    input: input.name,
    output: output.name,
    exampleShape: inDims as number[],
    classes,
    preprocessing,
    data,
    classNames,
  };
}
