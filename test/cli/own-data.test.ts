import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSpec } from "../../src/experiment/load.js";
import { executeSpec } from "../../src/runner/execute.js";
import { writeBlobs } from "../helpers/blobs.js";
import { kd } from "../helpers/cli.js";
import { writeSpec } from "../helpers/specs.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-own-"));
const p = (f: string) => join(tmp, f);

describe("tabular data from CSV: train, distil, and the same data in a spec", () => {
  writeBlobs(p("train.csv"), 900, 1);
  writeBlobs(p("test.csv"), 300, 2);
  const data = ["--train", p("train.csv"), "--test", p("test.csv")];

  it("kd train and kd distill on CSV files (the label column found by name)", () => {
    const t = kd([
      "train",
      ...data,
      "--arch",
      "mlp:32",
      "--epochs",
      "8",
      "--out",
      p("teacher.onnx"),
      "--json",
    ]);
    expect(t.code, t.stderr).toBe(0);
    expect(JSON.parse(t.stdout).testAccuracy).toBeGreaterThan(0.9);
    const s = kd([
      "distill",
      "--teacher",
      p("teacher.onnx"),
      ...data,
      "--arch",
      "mlp:4",
      "--temperature",
      "4",
      "--epochs",
      "8",
      "--out",
      p("student.onnx"),
      "--json",
    ]);
    expect(s.code, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout).testAccuracy).toBeGreaterThan(0.85);
  });

  it("a bad cell is one line naming the file, row and column, and nothing is written", () => {
    writeFileSync(p("bad.csv"), "a,b,label\n1,2,0\n3,x,1\n");
    const r = kd(["train", "--train", p("bad.csv"), "--test", p("test.csv"), "--out", p("bad.onnx")]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/bad\.csv/);
  });

  it("a spec names the same files with the file source", async () => {
    const spec = writeSpec(tmp, {
      name: "blobs",
      data: {
        train: { source: { kind: "file", path: "train.csv" } },
        test: { source: { kind: "file", path: "test.csv", labelColumn: "label" } },
      },
      defaults: { train: "train", test: "test", lr: 0.05, epochs: 8 },
      runs: {
        teacher: { model: { kind: "mlp", hidden: [32] } },
        student: {
          model: { kind: "mlp", hidden: [4] },
          teachers: ["teacher"],
          objective: { kind: "kd", temperature: 4 },
        },
      },
    });
    const r = await executeSpec(loadSpec(spec), { outDir: p("out") });
    expect(r.runs.teacher!.test!.accuracy).toBeGreaterThan(0.9);
    expect(r.runs.student!.test!.n).toBe(300);
    expect(r.runs.student!.trainExamples).toBe(900);
  });
});
