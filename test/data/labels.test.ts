/**
 * Labels as files give them: class counts bounded by the data, CSV files with no header or with
 * label names, test sets' names mapped onto a model's classes, and warnings for empty classes.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { alignClasses, emptyClassesWarning } from "../../src/data/classes.js";
import { filterClasses, loadIdxDataset } from "../../src/data/dataset.js";
import { loadDataset } from "../../src/data/load.js";
import { kdMessage } from "../helpers/errors.js";
import { idxBytes } from "./idx-bytes.js";
import { npyBytes } from "./npy-bytes.js";

const dir = mkdtempSync(join(tmpdir(), "kd-labels-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function put(name: string, bytes: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

describe("the class count is bounded by what the data holds", () => {
  const x = npyBytes("float32", [4, 2], [0, 1, 2, 3, 4, 5, 6, 7]);

  it("one stray label of 99999 among four examples is refused, naming it (NPY, CSV, IDX)", () => {
    const npy = () => loadDataset(put("x.npy", x), put("y.npy", npyBytes("int64", [4], [0, 1, 99999, 2])));
    expect(kdMessage(npy)).toMatch(/y\.npy|x\.npy/);
    expect(kdMessage(npy)).toMatch(/label 2 is 99999, which would make 100000 classes for 4 examples/);
    const csv = put("stray.csv", "a,b,label\n0,1,0\n2,3,1\n4,5,99999\n6,7,2\n");
    expect(kdMessage(() => loadDataset(csv))).toMatch(/stray\.csv: label 2 is 99999/);
    const im = put("im.idx", idxBytes("uint8", [4, 2], [0, 1, 2, 3, 4, 5, 6, 7]));
    const lb = put("lb.idx", idxBytes("int32", [4], [0, 99999, 1, 2]));
    expect(kdMessage(() => loadIdxDataset(im, lb))).toMatch(/label 1 is 99999/);
  });

  it("a small file of many-class data still loads: labels up to 10,000 classes, or one per example", () => {
    const ds = loadDataset(put("x.npy", x), put("few.npy", npyBytes("int64", [4], [3, 9999, 7, 0])));
    expect(ds.numClasses).toBe(10_000);
  });
});

describe("CSV labels", () => {
  it("--label-column with a wrong name: one short line, no list of 785 columns (and no file text)", () => {
    const head = [...Array.from({ length: 784 }, (_, i) => `pixel${i}`), "label"];
    const csv = put("wide.csv", `${head.join(",")}\n${head.map(() => "0").join(",")}\n`);
    const msg = kdMessage(() => loadDataset(csv, undefined, { labelColumn: "nope" }));
    expect(msg).toMatch(/no column named "nope" for the labels in the header \(line 1\)$/);
    expect(msg.length).toBeLessThan(200);
  });

  it("a CSV without a header row: its first row is data, and names cannot pick the label column", () => {
    const csv = put("noheader.csv", "1,2,0\n3,4,1\n5,6,1\n");
    const ds = loadDataset(csv);
    expect(ds.n).toBe(3);
    expect(Array.from(ds.y!)).toEqual([0, 1, 1]);
    expect(Array.from(ds.x)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(loadDataset(csv, undefined, { labelColumn: 0 }).y!)).toEqual([1, 3, 5]);
    expect(kdMessage(() => loadDataset(csv, undefined, { labelColumn: "label" }))).toMatch(
      /noheader\.csv: no header row .*give the label column by index/,
    );
    // pandas writes integer column names 0, 1, 2: that row is a header.
    expect(loadDataset(put("pandas.csv", "0,1,2\n1,2,0\n3,4,1\n")).n).toBe(2);
  });

  it("a headerless CSV with names as labels (UCI's iris.data) keeps its first example", () => {
    const iris =
      "5.1,3.5,1.4,0.2,Iris-setosa\n4.9,3.0,1.4,0.2,Iris-setosa\n7.0,3.2,4.7,1.4,Iris-versicolor\n";
    const ds = loadDataset(put("iris.data.csv", iris));
    expect(ds.n).toBe(3);
    expect(ds.classNames).toEqual(["Iris-setosa", "Iris-versicolor"]);
    expect(Array.from(ds.x.subarray(0, 4))).toEqual([5.1, 3.5, 1.4, 0.2].map(Math.fround));
    // A first row with a missing value is data with a missing value (refused), not a header.
    expect(kdMessage(() => loadDataset(put("gap.csv", "5.1,,1.4,0\n4.9,3.0,1.4,1\n")))).toMatch(
      /gap\.csv: line 1, column 2: not a number/,
    );
  });

  it("string labels become classes in sorted order, with their names", () => {
    const ds = loadDataset(put("pets.csv", "a,b,label\n1,2,dog\n3,4,cat\n5,6,emu\n7,8,dog\n"));
    expect(ds.classNames).toEqual(["cat", "dog", "emu"]);
    expect(Array.from(ds.y!)).toEqual([1, 0, 2, 1]);
    expect(ds.numClasses).toBe(3);
  });

  it("a word among numeric labels, or an empty label, is refused", () => {
    expect(kdMessage(() => loadDataset(put("mixed.csv", "a,label\n1,0\n2,x\n3,1\n")))).toMatch(
      /mixed\.csv: line 3, column 2: the label is not a number, but line 2's is/,
    );
    expect(kdMessage(() => loadDataset(put("blank.csv", "a,label\n1,cat\n2,\n")))).toMatch(
      /blank\.csv: line 3, column 2: the label is empty/,
    );
  });
});

describe("classes across datasets", () => {
  it("a test set's class names are numbered as the model's", () => {
    const train = loadDataset(put("tr.csv", "a,label\n1,cat\n2,dog\n3,fox\n"));
    const test = loadDataset(put("te.csv", "a,label\n1,fox\n2,dog\n"));
    expect(Array.from(test.y!)).toEqual([1, 0]);
    const aligned = alignClasses(test, train.classNames, "model.onnx");
    expect(Array.from(aligned.y!)).toEqual([2, 1]);
    expect(aligned.numClasses).toBe(3);
    const odd = loadDataset(put("odd.csv", "a,label\n1,gnu\n"));
    expect(kdMessage(() => alignClasses(odd, train.classNames, "model.onnx"))).toMatch(
      /odd\.csv: class "gnu" is not one of model\.onnx's classes \(cat, dog, fox\)/,
    );
  });

  it("labels {1, 2} warn that class 0 is empty; classes a filter removed do not", () => {
    const ds = loadDataset(put("onetwo.csv", "a,label\n1,1\n2,2\n3,1\n"));
    expect(ds.numClasses).toBe(3);
    expect(emptyClassesWarning(ds, 3)).toMatch(
      /^warning: onetwo\.csv has no examples of class 0 \(of 3 classes/,
    );
    expect(emptyClassesWarning(ds, 5)).toMatch(/no examples of classes 0, 3, 4 /);
    const full = loadDataset(put("full.csv", "a,label\n1,0\n2,1\n3,2\n"));
    expect(emptyClassesWarning(full, 3)).toBeUndefined();
    expect(emptyClassesWarning(filterClasses(full, { omit: [1] }), 3)).toBeUndefined();
  });
});
