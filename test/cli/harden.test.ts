/** Bad input, bad paths and hostile files through the real CLI: one line, a non-zero exit, nothing half-written. */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { StringStringEntryProtoSchema } from "../../src/onnx/gen/onnx_pb.js";
import { createModel, encodeModel, makeNode, makeTensor, valueInfo } from "../../src/onnx/proto.js";
import { idxBytes } from "../data/idx-bytes.js";
import { kd } from "../helpers/cli.js";
import { writeForeignClassifier } from "../helpers/onnx-files.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-harden-"));
const p = (name: string) => join(tmp, name);

function expectOneLineError(args: string[], pattern: RegExp): void {
  const r = kd(args);
  expect(r.code).not.toBe(0);
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at |onnxruntime::/);
}

/** A linear 784 -> 10 classifier with one output "logits"; metadata and W's storage as given. */
function writeLinear(path: string, opts: { meta?: Record<string, string>; externalW?: string } = {}): void {
  const w = makeTensor("W", "float32", [784, 10], new Float32Array(7840).fill(0.001));
  if (opts.externalW !== undefined) {
    w.rawData = new Uint8Array(0);
    w.dataLocation = 1;
    w.externalData = [create(StringStringEntryProtoSchema, { key: "location", value: opts.externalW })];
  }
  const model = createModel({
    irVersion: 8n,
    opsetImport: [{ domain: "", version: 13n }],
    metadataProps: Object.entries(opts.meta ?? {}).map(([key, value]) =>
      create(StringStringEntryProtoSchema, { key, value }),
    ),
    graph: {
      name: "linear",
      node: [makeNode("Gemm", ["x", "W", "b"], ["logits"])],
      initializer: [w, makeTensor("b", "float32", [10], new Float32Array(10))],
      input: [valueInfo("x", "float32", ["N", 784])],
      output: [valueInfo("logits", "float32", ["N", 10])],
    },
  });
  writeFileSync(path, encodeModel(model));
}

const model = p("linear.onnx");
writeLinear(model);
const foreign = p("foreign.onnx");
writeForeignClassifier(foreign, new Float32Array(7840), new Float32Array(10), 10);

describe("numbers and class lists", () => {
  it("--epochs 0x10 is not 16", () =>
    expectOneLineError(
      ["train", "--epochs", "0x10", "--out", p("x.onnx")],
      /--epochs.*expected a whole number/,
    ));
  it("an empty class list, or an empty item, is not class 0", () => {
    expectOneLineError(
      ["distill", "--teacher", model, "--omit-classes", "", "--out", p("x.onnx")],
      /--omit-classes.*empty item/,
    );
    expectOneLineError(
      ["distill", "--teacher", model, "--only-classes", "3,", "--out", p("x.onnx")],
      /--only-classes.*empty item/,
    );
  });
  it("kd bench --threads abc says what is wrong", () =>
    expectOneLineError(["bench", "--threads", "abc"], /--threads.*"abc": expected a whole number/));
  it("a class the model does not have", () =>
    expectOneLineError(
      ["adjust-bias", model, "--class", "12", "--shift", "1", "--out", p("x.onnx")],
      /--class 12: class 12 is outside 0\.\.9/,
    ));
});

describe("adjust-bias: inputs and outputs", () => {
  it("a missing model file", () =>
    expectOneLineError(
      ["adjust-bias", p("nope.onnx"), "--class", "3", "--shift", "1", "--out", p("x.onnx")],
      /nope\.onnx: no such file$/,
    ));
  it("a folder given as the model", () =>
    expectOneLineError(
      ["adjust-bias", tmp, "--class", "3", "--shift", "1", "--out", p("x.onnx")],
      /is a directory, not a model$/,
    ));
  it("--out '', a folder, or the input itself", () => {
    const base = ["adjust-bias", model, "--class", "3", "--shift", "1", "--out"];
    expectOneLineError([...base, ""], /^kd: --out: empty path$/);
    expectOneLineError([...base, tmp], /is a folder, not a file$/);
    expectOneLineError([...base, model], /is the input file/);
    expectOneLineError([...base, join(tmp, ".", "linear.onnx")], /is the input file/);
  });
  it("an output where nothing may be written", () =>
    expectOneLineError(
      ["adjust-bias", model, "--class", "3", "--shift", "1", "--out", "/sys/kd-harden.onnx"],
      /^kd: cannot write \/sys\/kd-harden\.onnx: (permission denied|read-only file system|operation not permitted)$/,
    ));
  it("a path stored in the model is never opened", () => {
    const hostile = p("hostile.onnx");
    writeLinear(hostile, { meta: { "kd.val": "5", "kd.seed": "1", "kd.val_images": "/etc/passwd" } });
    expectOneLineError(
      ["adjust-bias", hostile, "--class", "3", "--search", "--out", p("x.onnx")],
      /took its validation split from "\/etc\/passwd"; kd does not open paths stored in a model: pass --train-images/,
    );
    writeLinear(hostile, { meta: { "kd.val": "lots" } });
    expectOneLineError(
      ["adjust-bias", hostile, "--class", "3", "--search", "--out", p("x.onnx")],
      /metadata kd\.val is "lots", not a whole number/,
    );
  });
  it("writes atomically and removes a dead run's temporary file", () => {
    const out = p("shifted.onnx");
    const dead = Number(
      spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" }).stdout,
    );
    writeFileSync(`${out}.${dead}.tmp`, "half a model");
    const r = kd(["adjust-bias", model, "--class", "3", "--shift", "1.5", "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(existsSync(out)).toBe(true);
    expect(readdirSync(tmp).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});

describe("eval: data and models that do not fit", () => {
  it("NaN pixels in the test images", () => {
    const im = p("nan-images.idx");
    const lb = p("nan-labels.idx");
    const px = new Float32Array(2 * 784);
    px[800] = Number.NaN;
    writeFileSync(im, idxBytes("float32", [2, 28, 28], px));
    writeFileSync(lb, idxBytes("uint8", [2], [1, 2]));
    expectOneLineError(
      ["eval", model, "--test-images", im, "--test-labels", lb],
      /nan-images\.idx: example 1 has a non-finite value \(NaN\) at feature 16$/,
    );
  });
  it("zero test examples", () => {
    const im = p("empty-images.idx");
    writeFileSync(im, idxBytes("uint8", [0, 28, 28], []));
    expectOneLineError(["eval", model, "--test-images", im], /empty-images\.idx: no examples/);
  });
  it("several float outputs: the hint names eval's and predict's own flag", () => {
    expectOneLineError(["eval", foreign], /several float outputs \(scores, probs\); name one with --output$/);
    const im = p("one-image.idx");
    writeFileSync(im, idxBytes("uint8", [1, 28, 28], new Array(784).fill(0)));
    expectOneLineError(
      ["predict", foreign, im],
      /several float outputs \(scores, probs\); name one with --output$/,
    );
  });
  it("a model whose external data points outside its folder", () => {
    const evil = join(tmp, "evil", "m.onnx");
    mkdirSync(join(tmp, "evil"));
    writeLinear(evil, { externalW: "../linear.onnx" });
    expectOneLineError(
      ["eval", evil],
      /m\.onnx: tensor "W": refuses the path "\.\.\/linear\.onnx", which leaves its folder/,
    );
  });
});
