/** onnx/metadata.ts: the kd.* keys round-trip, untrusted values are refused in one line, and no other file names a key. */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { setMetadata } from "../../src/onnx/edit.js";
import { ModelProtoSchema } from "../../src/onnx/gen/onnx_pb.js";
import {
  dataMetadata,
  META,
  modelMetadata,
  readClassNames,
  readDataRecord,
  readOutputBias,
  readPreprocessing,
  readValSplit,
  recordPreprocessing,
  valSplitMetadata,
} from "../../src/onnx/metadata.js";

const withMeta = (meta: Record<string, string>) => {
  const model = create(ModelProtoSchema, {});
  for (const [k, v] of Object.entries(meta)) setMetadata(model, k, v);
  return model;
};

describe("a model file's kd.* metadata", () => {
  it("round-trips through its write and read helpers", () => {
    const m = withMeta({
      ...dataMetadata("pets.csv", [6], ["cat", "dog"]),
      ...valSplitMetadata({ count: 100, seed: 3, images: "a.idx" }),
      ...modelMetadata("mlp:50", "p/out/b"),
    });
    recordPreprocessing(m, { scale: 1 / 255, mean: [0.5] });
    expect(readDataRecord(m, "m")).toEqual({ name: "pets.csv", shape: [6] });
    expect(readClassNames(m, "m", 2)).toEqual(["cat", "dog"]);
    expect(readValSplit(m, "m")).toEqual({ count: 100, seed: 3, images: "a.idx", labels: undefined });
    expect(readOutputBias(m)).toBe("p/out/b");
    expect(readPreprocessing(m)).toEqual({ scale: 1 / 255, mean: [0.5] });
  });

  it("reads an absent record as absent, and a split as none", () => {
    const m = withMeta({});
    expect(readDataRecord(m, "m")).toBeUndefined();
    expect(readPreprocessing(m)).toBeUndefined();
    expect(readValSplit(m, "m")).toEqual({ count: 0, seed: 1, images: undefined, labels: undefined });
  });

  it("refuses malformed values in one line naming the model and the key", () => {
    expect(() => readPreprocessing(withMeta({ [META.preprocessing]: "{" }), "m.onnx")).toThrow(
      "m.onnx: metadata kd.preprocessing is not JSON",
    );
    expect(() => readPreprocessing(withMeta({ [META.preprocessing]: '{"scale":-1}' }), "m.onnx")).toThrow(
      /^m\.onnx: metadata kd\.preprocessing is malformed \(.+\)$/,
    );
    expect(() => readClassNames(withMeta({ [META.classes]: '["a"]' }), "m.onnx", 2)).toThrow(
      "m.onnx: metadata kd.classes names 1 classes; the model outputs 2",
    );
    expect(() => readValSplit(withMeta({ [META.valCount]: "lots" }), "m.onnx")).toThrow(
      'm.onnx: metadata kd.val is "lots", not a whole number',
    );
  });

  it("is the only source file that names a kd.* key", () => {
    const src = resolve(__dirname, "../../src");
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
      );
    const naming = files(src)
      .filter((f) => /["']kd\.[a-z_]+["']/.test(readFileSync(f, "utf8")))
      .map((f) => relative(src, f));
    expect(naming).toEqual(["onnx/metadata.ts"]);
  });
});
