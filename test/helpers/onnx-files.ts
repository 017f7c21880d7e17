/** ONNX files written by hand, as another framework would: other names, layouts and outputs. */
import { writeFileSync } from "node:fs";
import {
  createModel,
  encodeModel,
  makeNode,
  makeTensor,
  OnnxDataType,
  valueInfo,
} from "../../src/onnx/proto.js";
import { Rng } from "../../src/util/rng.js";

/**
 * A linear classifier with input "pixels" [N, 1, 28, 28], outputs "scores" (logits) and "probs"
 * (softmax), built from W [784, C] and b [C] with Flatten + Gemm + Softmax.
 */
export function writeForeignClassifier(
  path: string,
  w: Float32Array,
  b: Float32Array,
  classes: number,
): void {
  const model = createModel({
    irVersion: 8n,
    producerName: "hand-written",
    opsetImport: [{ domain: "", version: 13n }],
    graph: {
      name: "foreign",
      node: [
        makeNode("Flatten", ["pixels"], ["flat"], { axis: 1 }),
        makeNode("Gemm", ["flat", "W", "b"], ["scores"]),
        makeNode("Softmax", ["scores"], ["probs"], { axis: 1 }),
      ],
      initializer: [makeTensor("W", "float32", [784, classes], w), makeTensor("b", "float32", [classes], b)],
      input: [valueInfo("pixels", "float32", ["N", 1, 28, 28])],
      output: [valueInfo("scores", "float32", ["N", classes]), valueInfo("probs", "float32", ["N", classes])],
    },
  });
  writeFileSync(path, encodeModel(model));
}

/** A model whose only output is int64 (argmax): no logits to distil from. */
export function writeIntOnlyModel(path: string): void {
  const model = createModel({
    irVersion: 8n,
    opsetImport: [{ domain: "", version: 13n }],
    graph: {
      name: "argmax-only",
      node: [makeNode("ArgMax", ["x"], ["label"], { axis: 1, keepdims: 0 })],
      input: [valueInfo("x", "float32", ["N", 784])],
      output: [valueInfo("label", OnnxDataType.INT64, ["N"])],
    },
  });
  writeFileSync(path, encodeModel(model));
}

/** A foreign linear classifier [N, 784] → 10 with small random weights drawn from `seed`, written to `path`. */
export function randomLinearClassifier(path: string, seed: number): string {
  const rng = new Rng(seed);
  const w = Float32Array.from({ length: 784 * 10 }, () => (rng.uniform() - 0.5) * 0.2);
  const b = Float32Array.from({ length: 10 }, () => rng.uniform() - 0.5);
  writeForeignClassifier(path, w, b, 10);
  return path;
}

/**
 * A small convnet as exporters name things: "image" [batch, 1, 8, 8] → Conv → Relu → a bool mask
 * (Greater) → Where → a sequence (SplitToSequence, which ONNX Runtime cannot hand out) joined back
 * → GlobalAveragePool → Flatten → Gemm → "logits" [batch, 3]. `batch`: a fixed size or a symbol.
 */
export function writeForeignConvNet(path: string, batch: number | string = "batch"): void {
  const rng = new Rng(3);
  const w = Float32Array.from({ length: 2 * 9 }, () => rng.uniform() - 0.5);
  const fc = Float32Array.from({ length: 2 * 3 }, () => rng.uniform() - 0.5);
  const model = createModel({
    irVersion: 8n,
    producerName: "hand-written",
    opsetImport: [{ domain: "", version: 13n }],
    graph: {
      name: "foreign-convnet",
      node: [
        makeNode("Conv", ["image", "conv.weight", "conv.bias"], ["/conv/Conv_output_0"], {
          pads: [1, 1, 1, 1],
        }),
        makeNode("Relu", ["/conv/Conv_output_0"], ["/relu/Relu_output_0"]),
        makeNode("Greater", ["/relu/Relu_output_0", "zero"], ["/mask/Greater_output_0"]),
        makeNode(
          "Where",
          ["/mask/Greater_output_0", "/relu/Relu_output_0", "zero"],
          ["/mask/Where_output_0"],
        ),
        makeNode("SplitToSequence", ["/mask/Where_output_0"], ["/split/seq"], { axis: 1, keepdims: 1 }),
        makeNode("ConcatFromSequence", ["/split/seq"], ["/split/joined"], { axis: 1 }),
        makeNode("GlobalAveragePool", ["/split/joined"], ["/pool/GlobalAveragePool_output_0"]),
        makeNode("Flatten", ["/pool/GlobalAveragePool_output_0"], ["/flatten/Flatten_output_0"], { axis: 1 }),
        makeNode("Gemm", ["/flatten/Flatten_output_0", "fc.weight", "fc.bias"], ["logits"]),
      ],
      initializer: [
        makeTensor("conv.weight", "float32", [2, 1, 3, 3], w),
        makeTensor("conv.bias", "float32", [2], new Float32Array(2)),
        makeTensor("zero", "float32", [], new Float32Array(1)),
        makeTensor("fc.weight", "float32", [2, 3], fc),
        makeTensor("fc.bias", "float32", [3], new Float32Array(3)),
      ],
      input: [valueInfo("image", "float32", [batch, 1, 8, 8])],
      output: [valueInfo("logits", "float32", [batch, 3])],
    },
  });
  writeFileSync(path, encodeModel(model));
}
