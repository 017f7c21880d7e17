import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { mlp } from "../../src/nn/model.js";
import { saveModel } from "../../src/train/forward.js";
import { train } from "../../src/train/trainer.js";
import { kd } from "../helpers/cli.js";
import { labelsConfig } from "../helpers/config.js";
import { writeIdx } from "../helpers/idx-files.js";
import { mnistTest, mnistTrain } from "../helpers/mnist.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-flow-"));
const p = (f: string) => join(tmp, f);

/** The data flags every command of these tests gets (user-supplied IDX files). */
const dataArgs = [
  "--train-images",
  p("train-images"),
  "--train-labels",
  p("train-labels"),
  "--test-images",
  p("test-images"),
  "--test-labels",
  p("test-labels"),
];

beforeAll(async () => {
  writeIdx(mnistTrain(2000), p("train-images"), p("train-labels"));
  writeIdx(mnistTest(500), p("test-images"), p("test-labels"));
  const m = mlp(784, [64], 10);
  const t = await train(labelsConfig(m, mnistTrain(2000), { epochs: 3 }));
  saveModel(p("teacher.onnx"), m, t.params);
});

describe("distil, shift, evaluate: the CLI on user-supplied IDX files", () => {
  const data = [
    "--train-images",
    p("train-images"),
    "--train-labels",
    p("train-labels"),
    "--test-images",
    p("test-images"),
    "--test-labels",
    p("test-labels"),
  ];

  it("kd distill --omit-classes 3 --val 400 writes a student that records its validation split", () => {
    const r = kd([
      "distill",
      "--teacher",
      p("teacher.onnx"),
      "--arch",
      "mlp:32",
      "--epochs",
      "2",
      "--omit-classes",
      "3",
      "--val",
      "400",
      "--cache-dir",
      p("cache"),
      "--out",
      p("no3.onnx"),
      "--keep-checkpoints",
      "--json",
      ...data,
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.transfer.n).toBeLessThan(1600);
    expect(s.teacher).toBe("cached (built)");
    expect(s.loss.soft).toBeGreaterThan(0);
    expect(s.loss.hard).toBeGreaterThan(0);
    expect(readFileSync(p("no3.onnx.log.jsonl"), "utf8").trim().split("\n")).toHaveLength(2);
  });

  it("kd adjust-bias --search uses that split, and refuses a contradicting one", () => {
    const ok = kd([
      "adjust-bias",
      p("no3.onnx"),
      "--class",
      "3",
      "--search",
      "--out",
      p("fixed.onnx"),
      "--json",
      ...data.slice(0, 4),
    ]);
    expect(ok.code).toBe(0);
    const res = JSON.parse(ok.stdout);
    expect(res.search.n).toBe(400);
    expect(res.search.errors).toBeLessThanOrEqual(res.search.baselineErrors);
    const bad = kd([
      "adjust-bias",
      p("no3.onnx"),
      "--class",
      "3",
      "--search",
      "--val",
      "300",
      "--out",
      p("x.onnx"),
      ...data.slice(0, 4),
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(
      /was distilled with --val 400 --seed 1; a different split would include its training examples/,
    );
  });

  it("kd eval reads the shifted student; more test 3s are right than before", () => {
    const before = JSON.parse(kd(["eval", p("no3.onnx"), "--json", ...data.slice(4)]).stdout);
    const shifted = kd([
      "adjust-bias",
      p("no3.onnx"),
      "--class",
      "3",
      "--shift",
      "3.5",
      "--out",
      p("plus35.onnx"),
    ]);
    expect(shifted.code).toBe(0);
    const after = JSON.parse(kd(["eval", p("plus35.onnx"), "--json", ...data.slice(4)]).stdout);
    expect(after.perClass[3].correct).toBeGreaterThan(before.perClass[3].correct);
  });

  it("a resumed run refuses another teacher's checkpoint", () => {
    const other = p("other-teacher.onnx");
    writeFileSync(other, readFileSync(p("fixed.onnx")));
    const r = kd([
      "distill",
      "--teacher",
      other,
      "--arch",
      "mlp:32",
      "--epochs",
      "3",
      "--omit-classes",
      "3",
      "--val",
      "400",
      "--cache-dir",
      p("cache"),
      "--checkpoint",
      p("no3.onnx.ckpt"),
      "--resume",
      "--out",
      p("no3b.onnx"),
      ...data,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/belongs to a run with other settings/);
  });
});

describe("kd train as a one-run spec", () => {
  it("--print-spec prints the spec the flags stand for, and trains nothing", () => {
    const r = kd([
      "train",
      "--arch",
      "mlp:16",
      "--count",
      "600",
      "--val",
      "100",
      "--early-stop",
      "3",
      "--out",
      p("x.onnx"),
      "--print-spec",
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/take:\n\s+count: 600/);
    expect(r.stdout).toMatch(/earlyStop: 3/);
    expect(r.stdout).toMatch(/holdout:\n\s+count: 100/);
    expect(existsSync(p("x.onnx"))).toBe(false);
  });

  it("--crop and --flip reach the run's augment setting, for kd train and kd distill; absent without them", () => {
    const base = ["--arch", "mlp:16", ...dataArgs, "--out", p("aug.onnx"), "--print-spec"];
    const t = kd(["train", ...base, "--crop", "4", "--flip"]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/augment:\n\s+crop: 4\n\s+flip: true/);
    const d = kd(["distill", "--teacher", p("absent.onnx"), ...base, "--crop", "2", "--jitter", "1"]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/jitter: 1\n\s+augment:\n\s+crop: 2\n\s+flip: false/);
    const none = kd(["train", ...base]);
    expect(none.stdout).not.toMatch(/augment/);
    expect(kd(["train", ...base, "--crop", "-1"]).code).not.toBe(0);
  });

  it("--count trains on that many examples; --no-checkpoint writes none; a finished run removes its checkpoint", () => {
    const a = kd([
      "train",
      "--arch",
      "mlp:16",
      "--epochs",
      "1",
      "--count",
      "600",
      "--out",
      p("c.onnx"),
      "--json",
      ...dataArgs,
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(existsSync(p("c.onnx"))).toBe(true);
    expect(existsSync(p("c.onnx.ckpt"))).toBe(false);
    const b = kd([
      "train",
      "--arch",
      "mlp:16",
      "--epochs",
      "1",
      "--count",
      "600",
      "--no-checkpoint",
      "--keep-checkpoints",
      "--out",
      p("d.onnx"),
      ...dataArgs,
    ]);
    expect(b.code, b.stderr).toBe(0);
    expect(existsSync(p("d.onnx.ckpt"))).toBe(false);
    const c = kd([
      "train",
      "--arch",
      "mlp:16",
      "--epochs",
      "1",
      "--count",
      "600",
      "--keep-checkpoints",
      "--out",
      p("e.onnx"),
      ...dataArgs,
    ]);
    expect(c.code, c.stderr).toBe(0);
    expect(existsSync(p("e.onnx.ckpt"))).toBe(true);
    expect(c.stderr).toMatch(/epoch 1\/1 - loss \d\.\d{4} - acc \d+\.\d\d% - test errors \d+ - /);
  });
});
