/**
 * Labels and what a model records of its data, end to end: stray labels refused in a memory-capped
 * child, class names from CSV label strings printed by `kd predict`, empty classes warned of, and
 * the embedded MNIST refused as a default for a model trained on other data (said on the first line
 * when it is used).
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PNG } from "pngjs";
import { afterAll, describe, expect, it } from "vitest";
import { parseModelFile } from "../../src/runtime/classifier.js";
import { Rng } from "../../src/util/rng.js";
import { npyBytes } from "../data/npy-bytes.js";
import { kd } from "../helpers/cli.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-labels-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const p = (f: string) => join(tmp, f);
const quick = ["--arch", "mlp:4", "--epochs", "2", "--batch-size", "8", "--no-progress"];

/** A CSV of `n` rows: `features` columns around a centre per class, then the label column. */
function writeCsv(path: string, n: number, features: number, label: (i: number) => string): void {
  const rng = new Rng(3);
  const head = [...Array.from({ length: features }, (_, j) => `f${j}`), "label"].join(",");
  const rows = Array.from({ length: n }, (_, i) => {
    const k = i % 3;
    const x = Array.from({ length: features }, (_, j) =>
      ((j % 3 === k ? 1 : 0) + 0.1 * rng.normal()).toFixed(3),
    );
    return [...x, label(i)].join(",");
  });
  writeFileSync(path, `${[head, ...rows].join("\n")}\n`);
}

const metadata = (path: string) =>
  new Map(parseModelFile(path).model.metadataProps.map((e) => [e.key, e.value]));

describe("labels from files", () => {
  it("one label of 99999 is refused by name, in a child capped at 256 MB (no 10⁵-class model)", () => {
    const x = npyBytes("float32", [6, 2], [0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0]);
    writeFileSync(p("x.npy"), x);
    writeFileSync(p("y.npy"), npyBytes("int64", [6], [0, 1, 0, 99999, 0, 1]));
    // A test set of its own: kd refuses one that shares rows with the training set.
    writeFileSync(p("xt.npy"), x);
    const bin = fileURLToPath(new URL("../../src/cli/bin.ts", import.meta.url));
    const args = ["train", "--train", p("x.npy"), "--train-labels", p("y.npy"), "--test", p("xt.npy")];
    const r = spawnSync(
      process.execPath,
      [
        "--max-old-space-size=256",
        "--import",
        "tsx",
        bin,
        ...args,
        "--test-labels",
        p("y.npy"),
        ...quick,
        "--out",
        p("y.onnx"),
      ],
      { encoding: "utf8", timeout: 60_000, env: { ...process.env, KD_DEBUG: "" }, input: "" },
    );
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(
      /^kd: .*label 3 is 99999, which would make 100000 classes for 6 examples/,
    );
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("CSV label names: recorded in the model, printed by kd predict, a test set's names mapped by name", () => {
    const names = ["cat", "dog", "emu"];
    writeCsv(p("pets.csv"), 60, 6, (i) => names[i % 3]!);
    // The test file has no cat: its dog and emu must still be classes 1 and 2.
    writeCsv(p("pets-test.csv"), 30, 6, (i) => names[i % 3]!);
    const noCat = p("pets-test.csv");
    const lines = readFileSync(noCat, "utf8").trim().split("\n");
    writeFileSync(noCat, `${lines.filter((l) => !l.endsWith(",cat")).join("\n")}\n`);
    const t = kd(["train", "--train", p("pets.csv"), "--test", noCat, ...quick, "--out", p("pets.onnx")]);
    expect(t.code, t.stderr).toBe(0);
    expect(JSON.parse(metadata(p("pets.onnx")).get("kd.classes")!)).toEqual(names);
    expect(JSON.parse(metadata(p("pets.onnx")).get("kd.data")!)).toEqual({ name: "pets.csv", shape: [6] });
    // kd eval numbers the test file's dog and emu as the model does: no example is a cat.
    const e = kd(["eval", p("pets.onnx"), "--test", noCat, "--json"]);
    expect(e.code, e.stderr).toBe(0);
    const confusion = JSON.parse(e.stdout).confusion as number[][];
    expect(confusion[0]!.every((c) => c === 0)).toBe(true);
    expect(confusion[1]![0]! + confusion[1]![1]! + confusion[1]![2]!).toBe(10);
    const r = kd(["predict", p("pets.onnx"), noCat, "-k", "2"]);
    expect(r.code, r.stderr).toBe(0);
    const first = r.stdout.split("\n")[0]!.split("\t");
    expect(names).toContain(first[1]!.split(" ")[0]);
    expect(first[2]).toMatch(/^(cat|dog|emu): [\d.]+ {2}(cat|dog|emu): [\d.]+$/);
    // Every row is dog or emu, each right or named by its true class.
    for (const line of r.stdout.trim().split("\n").slice(0, -1))
      expect(line).toMatch(/\t(cat|dog|emu)( \(right\)| \(label (dog|emu)\))\t/);
  });

  it("an image folder's subfolder names are the model's class names, printed by kd predict", () => {
    const png = (v: number) => {
      const img = new PNG({ width: 4, height: 4 });
      img.data.fill(v);
      for (let i = 3; i < img.data.length; i += 4) img.data[i] = 255;
      return PNG.sync.write(img, { colorType: 0 });
    };
    for (const [cls, v] of [
      ["cat", 230],
      ["dog", 20],
    ] as const)
      for (let i = 0; i < 4; i++) {
        mkdirSync(p(`pics/${cls}`), { recursive: true });
        writeFileSync(p(`pics/${cls}/${i}.png`), png(v + i));
      }
    cpSync(p("pics"), p("pics-test"), { recursive: true });
    const t = kd([
      "train",
      "--train",
      p("pics"),
      "--test",
      p("pics-test"),
      ...quick,
      "--out",
      p("pics.onnx"),
    ]);
    expect(t.code, t.stderr).toBe(0);
    expect(JSON.parse(metadata(p("pics.onnx")).get("kd.classes")!)).toEqual(["cat", "dog"]);
    const r = kd(["predict", p("pics.onnx"), p("pics")]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(9);
    for (const line of lines.slice(0, -1))
      expect(line).toMatch(/\t(cat|dog)( \(right\)| \(label (cat|dog)\))\t(cat|dog): /);
  });

  it("labels {1, 2} train with a one-line warning that class 0 is empty", () => {
    writeCsv(p("onetwo.csv"), 30, 4, (i) => String(1 + (i % 2)));
    cpSync(p("onetwo.csv"), p("onetwo-test.csv"));
    const t = kd([
      "train",
      "--train",
      p("onetwo.csv"),
      "--test",
      p("onetwo-test.csv"),
      ...quick,
      "--out",
      p("ot.onnx"),
    ]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/kd: warning: onetwo\.csv has no examples of class 0 \(of 3 classes, 0 to 2\)/);
  });
});

describe("the embedded MNIST is not a silent default for a model trained on other data", () => {
  const model = p("fashion.onnx");
  const train = () => {
    writeCsv(p("fashion.csv"), 30, 784, (i) => String(i % 10));
    cpSync(p("fashion.csv"), p("fashion-test.csv"));
    const t = kd([
      "train",
      "--train",
      p("fashion.csv"),
      "--test",
      p("fashion-test.csv"),
      ...quick,
      "--out",
      model,
    ]);
    expect(t.code, t.stderr).toBe(0);
  };

  it("kd eval, quantize and distill refuse MNIST for it, kd summary skips it; --mnist uses it and says so first", () => {
    train();
    const e = kd(["eval", model]);
    expect(e.code).toBe(1);
    expect(e.stderr.trim()).toMatch(
      /fashion\.onnx was trained on fashion\.csv, not MNIST: give its data with --test/,
    );
    const ok = kd(["eval", model, "--mnist"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout.split("\n")[0]).toBe("data: embedded MNIST test set (default)");

    const q = kd(["quantize", model, "--out", p("q.onnx"), "--timing", "1"]);
    expect(q.code).toBe(1);
    expect(q.stderr).toMatch(/was trained on fashion\.csv, not MNIST/);
    const q2 = kd([
      "quantize",
      model,
      "--out",
      p("q.onnx"),
      "--timing",
      "1",
      "--calibration-count",
      "50",
      "--mnist",
    ]);
    expect(q2.code, q2.stderr).toBe(0);
    expect(q2.stdout.split("\n")[0]).toBe(
      "data: calibration: embedded MNIST training set (default); test: embedded MNIST test set (default)",
    );

    // kd summary's accuracy line is optional: none, rather than MNIST's.
    const sm = kd(["summary", model, "--timing", "1"]);
    expect(sm.code, sm.stderr).toBe(0);
    expect(sm.stdout).not.toMatch(/mnist/);
    expect(kd(["summary", model, "--timing", "1", "--test", p("fashion.csv")]).stdout).toMatch(
      /accuracy .* on fashion\.csv \(30\)/,
    );

    const d = kd(["distill", "--teacher", model, ...quick, "--out", p("s.onnx")]);
    expect(d.code).toBe(1);
    expect(d.stderr.trim()).toMatch(
      /teacher .*fashion\.onnx was trained on fashion\.csv, not MNIST: give its data with --train and --test/,
    );
    const d2 = kd([
      "distill",
      "--teacher",
      model,
      ...quick,
      "--count",
      "100",
      "--mnist",
      "--out",
      p("s.onnx"),
    ]);
    expect(d2.code, d2.stderr).toBe(0);
    expect(d2.stdout.split("\n")[0]).toBe(
      "data: training: embedded MNIST training set (default); test: embedded MNIST test set (default)",
    );
  });
});
