import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  FunctionProtoSchema,
  SparseTensorProtoSchema,
  StringStringEntryProtoSchema,
  type TensorProto,
} from "../../src/onnx/gen/onnx_pb.js";
import {
  createModel,
  encodeModel,
  makeNode,
  makeTensor,
  type NodeProto,
  valueInfo,
} from "../../src/onnx/proto.js";
import { OnnxClassifier } from "../../src/runtime/classifier.js";
import { allTensors, loadModelFile } from "../../src/runtime/model-file.js";
import { cleanOrtMessage } from "../../src/runtime/ort-errors.js";
import { KdError } from "../../src/util/errors.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-model-file-"));
const W = Float32Array.from({ length: 12 }, (_, i) => (i % 5) - 2); // [4, 3]
const B = Float32Array.of(0.5, -0.5, 0);

/** W as an external tensor: `location` holds its bytes at `offset` (entries as given). */
function externalW(location: string, entries: Record<string, string> = {}): TensorProto {
  const t = makeTensor("W", "float32", [4, 3], new Float32Array(0));
  t.dataLocation = 1;
  t.externalData = Object.entries({ location, ...entries }).map(([key, value]) =>
    create(StringStringEntryProtoSchema, { key, value }),
  );
  return t;
}

/** A linear classifier x [N, 4] -> logits [N, 3]; `w` may be external. */
function writeModel(path: string, w: TensorProto, opts: { bias?: Float32Array; extra?: NodeProto[] } = {}) {
  const model = createModel({
    irVersion: 8n,
    opsetImport: [{ domain: "", version: 13n }],
    graph: {
      name: "linear",
      node: [makeNode("Gemm", ["x", "W", "b"], ["logits"]), ...(opts.extra ?? [])],
      initializer: [w, makeTensor("b", "float32", [3], opts.bias ?? B)],
      input: [valueInfo("x", "float32", ["N", 4])],
      output: [valueInfo("logits", "float32", ["N", 3])],
    },
  });
  writeFileSync(path, encodeModel(model));
}

async function kdMessage(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(KdError);
    return (e as Error).message;
  }
  throw new Error("expected a KdError");
}

const x = Float32Array.of(1, 2, 3, 4, -1, 0, 1, 0);
const expected = (() => {
  const out: number[] = [];
  for (let r = 0; r < 2; r++)
    for (let j = 0; j < 3; j++) {
      let s = B[j]!;
      for (let k = 0; k < 4; k++) s += x[r * 4 + k]! * W[k * 3 + j]!;
      out.push(s);
    }
  return out;
})();

describe("external data", () => {
  const dir = join(tmp, "model");
  mkdirSync(join(dir, "data"), { recursive: true });
  // The weights sit 16 bytes into a data file beside the model, as exporters lay them out.
  const blob = new Uint8Array(16 + 48);
  blob.set(new Uint8Array(W.buffer), 16);
  writeFileSync(join(dir, "data", "weights.bin"), blob);
  const secret = join(tmp, "secret.bin");
  writeFileSync(secret, new Uint8Array(48).fill(0x41));

  it("reads a legitimate model's data from its own folder, wherever kd runs", async () => {
    const path = join(dir, "ok.onnx");
    writeModel(path, externalW("data/weights.bin", { offset: "16", length: "48" }));
    expect(process.cwd()).not.toBe(dir);
    const loaded = loadModelFile(path);
    expect(loaded.externalTensors).toBe(1);
    const clf = await OnnxClassifier.load(path);
    const got = Array.from(await clf.logits(x, 2));
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    await clf.release();
  });

  it("refuses locations that leave the model's folder, before ONNX Runtime sees them", async () => {
    const cases: [string, RegExp][] = [
      [secret, /refuses the absolute path/],
      ["../secret.bin", /leaves its folder/],
      ["data/../../secret.bin", /leaves its folder/],
    ];
    symlinkSync(secret, join(dir, "link.bin"));
    symlinkSync(tmp, join(dir, "up"));
    cases.push(["link.bin", /a link to a file outside/], ["up/secret.bin", /a link to a file outside/]);
    for (const [location, why] of cases) {
      const path = join(dir, "evil.onnx");
      writeModel(path, externalW(location));
      const msg = await kdMessage(() => OnnxClassifier.load(path));
      expect(msg).toMatch(why);
      expect(msg.startsWith(`${path}: tensor "W"`)).toBe(true);
    }
  });

  it("refuses sizes that do not fit the file or the tensor", async () => {
    const path = join(dir, "bad.onnx");
    const bad: [Record<string, string>, RegExp][] = [
      [{ offset: "40", length: "48" }, /asks for bytes 40\.\.88 of "data\/weights\.bin", which has 64/],
      [{ offset: "0", length: "20" }, /has 20 bytes of external data; its shape \[4, 3\] needs 48/],
      [{ offset: "-4" }, /offset "-4" is not a byte count/],
      [{ length: "1e3" }, /length "1e3" is not a byte count/],
    ];
    for (const [entries, why] of bad) {
      writeModel(path, externalW("data/weights.bin", entries));
      expect(await kdMessage(() => OnnxClassifier.load(path))).toMatch(why);
    }
    spawnSync("mkfifo", [join(dir, "data", "pipe")]);
    writeModel(path, externalW("data/pipe"));
    expect(await kdMessage(() => OnnxClassifier.load(path))).toMatch(/"data\/pipe" is not a regular file/);
    writeModel(path, externalW("data/missing.bin"));
    expect(await kdMessage(() => OnnxClassifier.load(path))).toMatch(/"data\/missing\.bin": no such file/);
  });

  it("finds tensors wherever a model holds them (attributes, sparse initializers, functions)", () => {
    const path = join(dir, "nested.onnx");
    const constant = makeNode("Constant", [], ["c"], {
      value: externalW("data/weights.bin", { offset: "16", length: "48" }),
    });
    writeModel(path, makeTensor("W", "float32", [4, 3], W), { extra: [constant] });
    const { model } = loadModelFile(path);
    const t = model.graph!.node[1]!.attribute[0]!.t!;
    expect(t.dataLocation).toBe(0);
    expect(new Float32Array(new Uint8Array(t.rawData).buffer)).toEqual(W);
    // Sparse initializers and local functions are walked too.
    model.graph!.sparseInitializer.push(
      create(SparseTensorProtoSchema, {
        values: makeTensor("sv", "float32", [1], Float32Array.of(1)),
        indices: makeTensor("si", "int64", [1], BigInt64Array.of(0n)),
      }),
    );
    model.functions.push(create(FunctionProtoSchema, { name: "f", node: [constant] }));
    const names = [...allTensors(model)].map((u) => u.name);
    expect(names).toEqual(["W", "b", "sv", "si", "W", "W"]);
  });
});

describe("classifier outputs and messages", () => {
  it("refuses a model whose logits are not finite", async () => {
    const path = join(tmp, "nan.onnx");
    writeModel(path, makeTensor("W", "float32", [4, 3], W), { bias: Float32Array.of(Number.NaN, 0, 0) });
    const clf = await OnnxClassifier.load(path);
    expect(await kdMessage(() => clf.logits(x, 2))).toBe(
      `${path}: output "logits" is not finite (NaN) for example 0`,
    );
    await clf.release();
  });

  it("names the flag of the command in use when outputs are ambiguous", async () => {
    const path = join(tmp, "two.onnx");
    writeModel(path, makeTensor("W", "float32", [4, 3], W), {
      extra: [makeNode("Softmax", ["logits"], ["probs"], { axis: 1 })],
    });
    const m = createModel({ ...(await import("../../src/onnx/proto.js")).decodeModel(readFileSync(path)) });
    m.graph!.output.push(valueInfo("probs", "float32", ["N", 3]));
    m.graph!.output[0]!.name = "scores";
    m.graph!.node[0]!.output = ["scores"];
    m.graph!.node[1]!.input = ["scores"];
    writeFileSync(path, encodeModel(m));
    expect(await kdMessage(() => OnnxClassifier.load(path))).toMatch(/name one with --teacher-output$/);
    expect(
      await kdMessage(() => OnnxClassifier.load(path, { flags: { input: "--input", output: "--output" } })),
    ).toMatch(/several float outputs \(scores, probs\); name one with --output$/);
  });

  it("keeps ONNX Runtime's meaning and drops its internals", async () => {
    const path = join(tmp, "invalid.onnx");
    const model = createModel({
      irVersion: 8n,
      opsetImport: [{ domain: "", version: 13n }],
      graph: {
        name: "g",
        node: [makeNode("Gemm", ["x"], ["logits"])],
        input: [valueInfo("x", "float32", ["N", 4])],
        output: [valueInfo("logits", "float32", ["N", 3])],
      },
    });
    writeFileSync(path, encodeModel(model));
    const msg = await kdMessage(() => OnnxClassifier.load(path));
    expect(msg).toMatch(/^.*invalid\.onnx: ONNX Runtime cannot load it \(.*Gemm.*\)$/);
    expect(msg).not.toMatch(/onnxruntime::|\.cc:|\.h:|\[ONNXRuntimeError\]/);

    expect(
      cleanOrtMessage(
        "Non-zero status code returned while running Gemm node. Name:'' Status Message: /onnxruntime_src/onnxruntime/core/providers/cpu/math/gemm_helper.h:14 onnxruntime::GemmHelper::GemmHelper(const onnxruntime::TensorShape&, bool, const onnxruntime::TensorShape&, bool, const onnxruntime::TensorShape&) left.NumDimensions() == 2 || left.NumDimensions() == 1 was false.",
      ),
    ).toBe(
      "Non-zero status code returned while running Gemm node. Name:'' Status Message: left.NumDimensions() == 2 || left.NumDimensions() == 1 was false.",
    );
    // ONNX Runtime 1.30's answer to external data in a model handed over as bytes.
    expect(
      cleanOrtMessage(
        "Exception during initialization: /onnxruntime_src/onnxruntime/core/optimizer/initializer.cc:44 onnxruntime::Initializer::Initializer(const onnx::TensorProto&, const std::filesystem::__cxx11::path&) !model_path.empty() was false. model_path must not be empty.",
      ),
    ).toBe("Exception during initialization: !model_path.empty() was false. model_path must not be empty.");
    expect(
      cleanOrtMessage(
        "[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Got invalid dimensions for input: x for the following indices\n index: 1 Got: 3 Expected: 4",
      ),
    ).toBe(
      "invalid argument: Got invalid dimensions for input: x for the following indices index: 1 Got: 3 Expected: 4",
    );
  });
  it("an opset newer than ONNX Runtime supports: one short line with both numbers", async () => {
    const path = join(tmp, "opset99.onnx");
    const model = createModel({
      irVersion: 8n,
      opsetImport: [{ domain: "", version: 99n }],
      graph: {
        name: "g",
        node: [makeNode("Flatten", ["x"], ["logits"], { axis: 1 })],
        input: [valueInfo("x", "float32", ["N", 3])],
        output: [valueInfo("logits", "float32", ["N", 3])],
      },
    });
    writeFileSync(path, encodeModel(model));
    expect(await kdMessage(() => OnnxClassifier.load(path))).toMatch(
      /^.*opset99\.onnx: ONNX Runtime cannot load it \(the model uses opset 99 of ai\.onnx; this ONNX Runtime supports up to opset \d+\)$/,
    );
  });
});

describe("model files under mutation", () => {
  it("give a KdError or a parsed model, never another error", async () => {
    const fc = (await import("fast-check")).default;
    const { parseModelFile } = await import("../../src/runtime/classifier.js");
    const seedPath = join(tmp, "seed.onnx");
    writeModel(seedPath, makeTensor("W", "float32", [4, 3], W));
    const seed = readFileSync(seedPath);
    const path = join(tmp, "mutated.onnx");
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.option(fc.nat({ max: seed.length })),
        (edits, cut) => {
          const b = Uint8Array.from(seed);
          for (const [i, v] of edits) b[i % b.length] = v;
          writeFileSync(path, cut === null ? b : b.subarray(0, cut));
          try {
            parseModelFile(path);
          } catch (e) {
            if (!(e instanceof KdError)) throw e;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
