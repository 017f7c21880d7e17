/** kd train/distill/predict as a new user meets them: the training loop's messages, defaults, Ctrl-C and resuming. */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { npyBytes } from "../data/npy-bytes.js";
import { writeBlobsNpy } from "../helpers/blobs.js";
import { kd, kdArgs } from "../helpers/cli.js";
import { writeForeignClassifier } from "../helpers/onnx-files.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-trainer-cli-"));
const p = (name: string) => join(tmp, name);
const [trainX, trainY] = writeBlobsNpy(p("train"), 600, 1);
const [testX, testY] = writeBlobsNpy(p("test"), 300, 2);
/** The same blobs in raw units (values in the thousands). */
const [bigX, bigY] = writeBlobsNpy(p("big"), 600, 1, 1000);
const data = ["--train", trainX, "--train-labels", trainY, "--test", testX, "--test-labels", testY];
const small = ["--arch", "mlp:16", "--no-progress"];

describe("kd train: checks before training", () => {
  it("refuses a model too large to build in one line, on the spec path too", () => {
    const r = kd(["train", ...data, "--arch", "mlp:100000,100000,100000", "--out", p("huge.onnx")]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/architecture "mlp:100000,100000,100000" has [\d,]+ parameters/);
    expect(r.stderr).not.toMatch(/internal error/);
  });

  it("says before training that a test set without labels will not be evaluated", () => {
    const r = kd(["train", ...data.slice(0, 6), ...small, "--epochs", "1", "--out", p("nolabels.onnx")]);
    expect(r.code, r.stderr).toBe(0);
    const note = r.stderr.indexOf("has no labels: it will not be evaluated");
    expect(note).toBeGreaterThanOrEqual(0);
    expect(r.stderr).toMatch(/--test-labels/);
    expect(note).toBeLessThan(r.stderr.indexOf("epoch 1/1"));
  });
});

describe("kd train: outputs", () => {
  it("writes runs/<command>-<arch>.onnx without --out", () => {
    const cwd = mkdtempSync(join(tmpdir(), "kd-default-out-"));
    const r = kd(["train", ...data, ...small, "--epochs", "1"], 120_000, cwd);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote runs\/train-mlp-16\.onnx /);
    expect(existsSync(join(cwd, "runs", "train-mlp-16.onnx"))).toBe(true);
  });

  it("makes the folders --out names", () => {
    const out = p("new/sub/m.onnx");
    const r = kd(["train", ...data, ...small, "--epochs", "1", "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(out)).toBe(true);
  });
});

describe("kd train: the epoch line and divergence", () => {
  it("shows the eval set's loss beside its errors, and the learning rate", () => {
    const r = kd(["train", ...data, ...small, "--epochs", "1", "--lr", "0.03", "--out", p("line.onnx")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /epoch 1\/1 - loss \d\.\d{4} - acc [\d.]+% - test errors \d+ - test loss \d\.\d{4} - lr 0\.03 - /,
    );
  });

  it("records a run at chance as diverged: on the epoch lines, in a note and in the result", () => {
    // Every feature 0: the model can only learn a constant answer, no better than chance.
    writeFileSync(p("zeros.npy"), npyBytes("float32", [600, 8], new Float32Array(600 * 8)));
    const zeros = ["train", "--train", p("zeros.npy"), "--train-labels", trainY, "--test", testX];
    const args = [...zeros, "--test-labels", testY, ...small, "--epochs", "3", "--out", p("zeros.onnx")];
    const r = kd(args);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/epoch 1\/3 .* diverged/);
    expect(r.stderr).toMatch(/epoch 3\/3 - .* - diverged \(accuracy at chance\)/);
    expect(r.stderr).toMatch(
      /training diverged: accuracy [\d.]+% at epoch 3, no better than chance \(33\.3%\)/,
    );
    const j = kd([...args, "--json"]);
    expect(j.code, j.stderr).toBe(0);
    expect(JSON.parse(j.stdout).diverged).toBe(true);
  });

  it("names --standardize when unscaled features leave the first epoch at chance and then diverge", () => {
    const args = ["train", "--train", bigX, "--train-labels", bigY, "--test", testX, "--test-labels", testY];
    const r = kd([...args, ...small, "--epochs", "3", "--out", p("big.onnx")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /accuracy after epoch 1 is [\d.]+%, no better than chance .*features reach \d+.*--standardize/,
    );
    expect(r.stderr.trim().split("\n").at(-1)).toMatch(/^kd: loss became .*--standardize/);
    const s = kd([...args, ...small, "--epochs", "3", "--standardize", "--json", "--out", p("big-std.onnx")]);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stderr).not.toMatch(/--standardize/);
  });
});

describe("Ctrl-C and --resume", () => {
  it("prints where the run stopped, and resuming says where it resumed from", async () => {
    const out = p("ctrlc.onnx");
    const args = ["train", ...data, ...small, "--batch-size", "16", "--out", out];
    const child = spawn(process.execPath, kdArgs([...args, "--epochs", "100000"]), { stdio: "pipe" });
    let stderr = "";
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    await new Promise<void>((ready) => {
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
        if (/epoch 2\//.test(stderr)) ready();
      });
      // A run that fails before its second epoch fails the assertions below instead of hanging.
      child.on("exit", () => ready());
    });
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    const m = /kd: stopped at epoch (\d+) of 100000; `--resume` continues/.exec(stderr);
    expect(m, stderr).not.toBeNull();
    const n = Number(m![1]);
    expect(n).toBeGreaterThanOrEqual(2);
    const r = kd([...args, "--epochs", String(n + 1), "--resume"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`resumed from epoch ${n} of ${n + 1}`);
    expect(r.stderr).toContain(`epoch ${n + 1}/${n + 1}`);
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
