/** Tests for kd summary --tensors: intermediate tensors of kd's and foreign models, and the closest-name error. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { initParam } from "../../src/nn/layers.js";
import { cnn } from "../../src/nn/model.js";
import { createModel, encodeModel, makeNode, makeTensor, valueInfo } from "../../src/onnx/proto.js";
import { formatTensors, listTensors, type TensorInfo } from "../../src/runtime/tensors.js";
import { saveModel } from "../../src/train/forward.js";
import { KdError } from "../../src/util/errors.js";
import { closestNames, editDistance, unknownTensor } from "../../src/util/names.js";
import { Rng } from "../../src/util/rng.js";
import { writeForeignConvNet } from "../helpers/onnx-files.js";

const dir = mkdtempSync(join(tmpdir(), "kd-tensors-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const opts = { threads: 1 };

const f32 = (name: string, op: string, shape: (number | string)[]): TensorInfo => ({
  name,
  op,
  type: "float32",
  shape,
});

describe("listTensors", () => {
  it("a kd cnn:4,8: every node output in order, the batch dim as N", async () => {
    const path = join(dir, "cnn.onnx");
    const m = cnn([1, 28, 28], [4, 8], 10);
    const rng = new Rng(1);
    saveModel(path, m, new Map(m.params.map((p) => [p.name, initParam(p, rng)])));
    const list = await listTensors(path, opts);
    expect(list.input).toEqual({ name: "input", shape: ["N", 1, 28, 28] });
    const block = (first: number, c: number, s: number, layer: string): TensorInfo[] => [
      f32(`t${first}`, "Conv", ["N", c, s, s]),
      f32(`t${first + 1}`, "Add", ["N", c, s, s]),
      f32(`t${first + 2}`, "Relu", ["N", c, s, s]),
      // Max pooling as kd lowers it: a reshape into 2×2 windows, then their maximum.
      f32(`t${first + 3}`, "Reshape", ["N", c, s / 2, 2, s / 2, 2]),
      // The block's output, by the layer's name.
      f32(layer, "ReduceMax", ["N", c, s / 2, s / 2]),
    ];
    expect(list.tensors).toEqual([
      ...block(7, 4, 28, "conv1"),
      ...block(12, 8, 14, "conv2"),
      f32("t17", "Reshape", ["N", 392]),
      f32("t18", "MatMul", ["N", 10]),
      f32("logits", "Add", ["N", 10]),
    ]);
  });

  it("a foreign convnet: exporter names, a bool, and a sequence ORT cannot output listed without a shape", async () => {
    const path = join(dir, "foreign.onnx");
    writeForeignConvNet(path);
    const list = await listTensors(path, opts);
    expect(list.input).toEqual({ name: "image", shape: ["N", 1, 8, 8] });
    expect(list.tensors).toEqual([
      f32("/conv/Conv_output_0", "Conv", ["N", 2, 8, 8]),
      f32("/relu/Relu_output_0", "Relu", ["N", 2, 8, 8]),
      { name: "/mask/Greater_output_0", op: "Greater", type: "bool", shape: ["N", 2, 8, 8] },
      f32("/mask/Where_output_0", "Where", ["N", 2, 8, 8]),
      { name: "/split/seq", op: "SplitToSequence" },
      f32("/split/joined", "ConcatFromSequence", ["N", 2, 8, 8]),
      f32("/pool/GlobalAveragePool_output_0", "GlobalAveragePool", ["N", 2, 1, 1]),
      f32("/flatten/Flatten_output_0", "Flatten", ["N", 2]),
      f32("logits", "Gemm", ["N", 3]),
    ]);
    const text = formatTensors(list).split("\n");
    expect(text[0]).toBe(`${path}: input image [N, 1, 8, 8], 9 intermediate tensors`);
    expect(text).toContain("/split/seq                        SplitToSequence     -        -");
    expect(text.at(-1)).toBe("logits                            Gemm                float32  [N, 3]");
  });

  it("a fixed batch of 1 runs as declared: no N", async () => {
    const path = join(dir, "fixed.onnx");
    writeForeignConvNet(path, 1);
    const list = await listTensors(path, opts);
    expect(list.input.shape).toEqual([1, 1, 8, 8]);
    expect(list.tensors.find((t) => t.name === "/flatten/Flatten_output_0")?.shape).toEqual([1, 2]);
  });

  it("a model ORT cannot run on zeros is one line, not a search through its tensors", async () => {
    const path = join(dir, "mismatch.onnx");
    // MatMul of [N, 4] by [3, 2]: the inner dims differ.
    const model = createModel({
      irVersion: 8n,
      opsetImport: [{ domain: "", version: 13n }],
      graph: {
        name: "mismatch",
        node: [makeNode("MatMul", ["x", "W"], ["y"]), makeNode("Relu", ["y"], ["z"])],
        initializer: [makeTensor("W", "float32", [3, 2], new Float32Array(6))],
        input: [valueInfo("x", "float32", ["N", 4])],
        output: [valueInfo("z", "float32", ["N", 2])],
      },
    });
    writeFileSync(path, encodeModel(model));
    const err = await listTensors(path, opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KdError);
    expect((err as Error).message).toMatch(
      /^\S*mismatch\.onnx: ONNX Runtime cannot run it on zeros \([^\n]+\)$/,
    );
  });

  it("a graph stored out of order (ORT runs it) is listed in dependency order", async () => {
    const chain = (n: number) => {
      const nodes = Array.from({ length: n }, (_, i) =>
        makeNode(i % 2 ? "Neg" : "Relu", [i === 0 ? "x" : `t${i - 1}`], [i === n - 1 ? "y" : `t${i}`]),
      );
      return createModel({
        irVersion: 8n,
        opsetImport: [{ domain: "", version: 13n }],
        graph: {
          name: "reversed",
          node: nodes.reverse(),
          input: [valueInfo("x", "float32", ["N", 3])],
          output: [valueInfo("y", "float32", ["N", 3])],
        },
      });
    };
    const path = join(dir, "reversed.onnx");
    writeFileSync(path, encodeModel(chain(5)));
    const list = await listTensors(path, opts);
    expect(list.tensors.map((t) => t.name)).toEqual(["t0", "t1", "t2", "t3", "y"]);
    expect(list.tensors.map((t) => t.op)).toEqual(["Relu", "Neg", "Relu", "Neg", "Relu"]);
  });

  it("a file that is not an ONNX model is one line", async () => {
    const path = join(dir, "bad.onnx");
    writeFileSync(path, "not a model\n");
    const err = await listTensors(path, opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KdError);
    expect((err as Error).message).toMatch(/^\S*bad\.onnx: not an ONNX model \([^\n]*\)$/);
  });
});

describe("unknown tensor names", () => {
  const names = [
    "/layer1/relu/Relu_output_0",
    "/layer2/relu/Relu_output_0",
    "/layer3/relu/Relu_output_0",
    "/layer3/conv/Conv_output_0",
    "logits",
  ];

  it("edit distance: insertions, deletions and substitutions, case ignored", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("abc", "")).toBe(3);
    expect(editDistance("Relu", "relu")).toBe(0);
    expect(editDistance("flaw", "lawn")).toBe(2);
    // Within: to the closest substring ("layer3/relu", one substitution).
    expect(editDistance("layer3.relu", "/layer3/relu/Relu_output_0", true)).toBe(1);
    expect(editDistance("kitten", "sitting", true)).toBe(2); // to "sittin"
    expect(editDistance("", "abc", true)).toBe(0);
  });

  it("the closest names first (by substring, then whole name), ties in the graph's order", () => {
    expect(closestNames("layer3.relu", names)).toEqual([
      "/layer3/relu/Relu_output_0",
      "/layer1/relu/Relu_output_0",
      "/layer2/relu/Relu_output_0",
    ]);
    expect(closestNames("logit", names, 1)).toEqual(["logits"]);
  });

  it("one line naming the closest names", () => {
    const e = unknownTensor("layer3.relu", names, "teacher.onnx");
    expect(e).toBeInstanceOf(KdError);
    expect(e.message).toBe(
      'no tensor "layer3.relu" in teacher.onnx (closest: /layer3/relu/Relu_output_0, /layer1/relu/Relu_output_0, /layer2/relu/Relu_output_0)',
    );
    expect(unknownTensor("x", [], "m.onnx").message).toBe(
      'no tensor "x" in m.onnx (it has no intermediate tensors)',
    );
  });
});
