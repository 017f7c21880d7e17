/**
 * IDX files of [n, features] rows or [n, 1, H, W] images train against MNIST's [28, 28] test set;
 * a real shape mismatch is refused before the teacher runs, so no teacher-cache file is left.
 */
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/util/rng.js";
import { idxBytes } from "../data/idx-bytes.js";
import { kd } from "../helpers/cli.js";
import { writeForeignClassifier } from "../helpers/onnx-files.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-idx-shapes-"));
const p = (f: string) => join(tmp, f);
const N = 40;
const rng = new Rng(3);
const pixels = Array.from({ length: N * 784 }, () => rng.int(256));
writeFileSync(p("rows.idx"), idxBytes("uint8", [N, 784], pixels));
writeFileSync(p("images4.idx"), idxBytes("uint8", [N, 1, 28, 28], pixels));
writeFileSync(p("wide.idx"), idxBytes("uint8", [N, 14, 56], pixels));
writeFileSync(p("images3.idx"), idxBytes("uint8", [N, 28, 28], pixels));
writeFileSync(
  p("labels.idx"),
  idxBytes(
    "uint8",
    [N],
    Array.from({ length: N }, (_, i) => i % 10),
  ),
);
const w = Float32Array.from({ length: 784 * 10 }, () => 0.01 * rng.normal());
writeForeignClassifier(p("teacher.onnx"), w, new Float32Array(10), 10);
const quick = ["--arch", "mlp:8", "--epochs", "1", "--json"];

describe("IDX images of other ranks against MNIST's test set", () => {
  it("kd train on [n, 784] rows and kd distill on [n, 1, 28, 28] images, tested on MNIST", () => {
    const t = kd([
      "train",
      "--train",
      p("rows.idx"),
      "--train-labels",
      p("labels.idx"),
      ...quick,
      "--out",
      p("t.onnx"),
    ]);
    expect(t.stderr).not.toMatch(/has examples of shape/);
    expect(t.code).toBe(0);
    expect(JSON.parse(t.stdout).testErrors).toBeGreaterThanOrEqual(0);
    const d = kd([
      "distill",
      "--teacher",
      p("teacher.onnx"),
      "--teacher-output",
      "scores",
      "--train",
      p("images4.idx"),
      "--train-labels",
      p("labels.idx"),
      "--cache-dir",
      p("cache-ok"),
      ...quick,
      "--out",
      p("s.onnx"),
    ]);
    expect(d.stderr).not.toMatch(/has examples of shape/);
    expect(d.code).toBe(0);
    expect(existsSync(p("s.onnx"))).toBe(true);
  });

  it("kd distill refuses 28×28 against 14×56 images before running the teacher: no cache file left", () => {
    const d = kd([
      "distill",
      "--teacher",
      p("teacher.onnx"),
      "--teacher-output",
      "scores",
      "--train",
      p("images3.idx"),
      "--train-labels",
      p("labels.idx"),
      "--test",
      p("wide.idx"),
      "--test-labels",
      p("labels.idx"),
      "--cache-dir",
      p("cache-bad"),
      ...quick,
      "--out",
      p("bad.onnx"),
    ]);
    expect(d.code).not.toBe(0);
    expect(d.stderr.trim()).toBe("kd: images3.idx has examples of shape [28, 28] but wide.idx has [14, 56]");
    const left = existsSync(p("cache-bad")) ? readdirSync(p("cache-bad")) : [];
    expect(left).toEqual([]);
    expect(existsSync(p("bad.onnx"))).toBe(false);
  });
});
