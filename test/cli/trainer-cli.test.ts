/** kd train/distill/predict as a new user meets them: the training loop's messages, defaults, Ctrl-C and resuming. */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeBlobsNpy } from "../helpers/blobs.js";
import { kd } from "../helpers/cli.js";
import { writeForeignClassifier } from "../helpers/onnx-files.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-trainer-cli-"));
const p = (name: string) => join(tmp, name);
const [trainX, trainY] = writeBlobsNpy(p("train"), 600, 1);
const [testX, testY] = writeBlobsNpy(p("test"), 300, 2);
const data = ["--train", trainX, "--train-labels", trainY, "--test", testX, "--test-labels", testY];

describe("kd train: checks before training", () => {
  it("refuses a model too large to build in one line, on the spec path too", () => {
    const r = kd(["train", ...data, "--arch", "mlp:100000,100000,100000", "--out", p("huge.onnx")]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/architecture "mlp:100000,100000,100000" has [\d,]+ parameters/);
    expect(r.stderr).not.toMatch(/internal error/);
  });
});

describe("kd predict", () => {
  it("refuses a FIFO as input instead of blocking on it", () => {
    const model = p("foreign.onnx");
    writeForeignClassifier(model, new Float32Array(7840), new Float32Array(10), 10);
    execFileSync("mkfifo", [p("pipe.npy")]);
    const r = kd(["predict", model, p("pipe.npy"), "--output", "scores"], 30_000);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/pipe\.npy: not a regular file/);
  });
});
