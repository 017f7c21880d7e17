/**
 * The page's NPY pairs and CSV files in Node (the modules the page bundles): the same values,
 * labels and class names as kd's file loaders, and bad input in one line.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCsvDataset } from "../../src/data/csv.js";
import { loadNpyDataset } from "../../src/data/npy.js";
import { KdError } from "../../src/util/errors.js";
import { loadCsvSet, loadNpyPair } from "../../src/web/tables.js";
import { npyBytes } from "../data/npy-bytes.js";

const text = (s: string) => new TextEncoder().encode(s);

/** The one-line message `f` throws (a KdError), or "" when it does not throw. */
function message(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(KdError);
    return (e as Error).message;
  }
  return "";
}

describe("the page's NPY pairs and CSV files", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "kd-tables-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads a CSV file as kd train --train FILE.csv does: header, string labels as sorted class names, counts", () => {
    const csv = "sepal,petal,kind\n5.1,1.4,setosa\n6.3,4.9,versicolor\n5.0,1.5,setosa\n0.25,3,virginica\n";
    writeFileSync(join(dir, "iris.csv"), csv);
    const set = loadCsvSet(parse, { name: "iris.csv", bytes: text(csv) });
    const ds = loadCsvDataset(join(dir, "iris.csv"));
    expect(set.classes).toEqual(["setosa", "versicolor", "virginica"]);
    expect(set.classes).toEqual(ds.classNames);
    expect(set.counts).toEqual([2, 1, 1]);
    expect(Array.from(set.y)).toEqual(Array.from(ds.y!));
    expect(set.x).toEqual(ds.x);
    expect([set.n, set.shape, set.rawScale]).toEqual([4, [2], undefined]);
    // Headerless (iris.data's form): the first row is data.
    const bare = loadCsvSet(parse, { name: "iris.data.csv", bytes: text("5.1,1.4,a\n6.3,4.9,b\n") });
    expect([bare.n, bare.classes]).toEqual([2, ["a", "b"]]);
    // Tab-separated by its name.
    expect(loadCsvSet(parse, { name: "t.tsv", bytes: text("a\tb\tlabel\n1\t2\t0\n3\t4\t1\n") }).n).toBe(2);
  });

  it("names a CSV file's bad cell by line and column, never quoting it", () => {
    const m = message(() =>
      loadCsvSet(parse, { name: "bad.csv", bytes: text("a,b,label\n1,2,0\n3,secret,1\n") }),
    );
    expect(m).toBe("bad.csv: line 3, column 2: not a number");
    expect(message(() => loadCsvSet(parse, { name: "u.csv", bytes: text("a,b\n1,2\n") }))).toBe("");
    expect(message(() => loadCsvSet(parse, { name: "r.csv", bytes: text("a,b,label\n1,2\n") }))).toBe(
      "r.csv: not valid CSV at line 2 (record inconsistent fields length)",
    );
  });

  it("reads an .npy pair as kd train --train X.npy --train-labels Y.npy does, whichever order it comes in", () => {
    const px = Array.from({ length: 6 * 4 }, (_, i) => (i * 37) % 256);
    const x = npyBytes("uint8", [6, 2, 2], px);
    const y = npyBytes("int64", [6], [0, 1, 2, 1, 0, 2]);
    writeFileSync(join(dir, "x.npy"), x);
    writeFileSync(join(dir, "y.npy"), y);
    const ds = loadNpyDataset(join(dir, "x.npy"), join(dir, "y.npy"));
    for (const files of [
      [
        { name: "y.npy", bytes: y },
        { name: "x.npy", bytes: x },
      ],
      [
        { name: "train_images.npy", bytes: x },
        { name: "train_labels.npy", bytes: y },
      ],
      // Neither named as labels: the 1-D one is.
      [
        { name: "b.npy", bytes: y },
        { name: "a.npy", bytes: x },
      ],
    ]) {
      const set = loadNpyPair(files);
      expect(set.x).toEqual(ds.x);
      expect(Array.from(set.y)).toEqual(Array.from(ds.y!));
      expect([set.shape, set.rawScale, set.classes, set.counts]).toEqual([
        [2, 2],
        1 / 255,
        ["0", "1", "2"],
        [2, 2, 2],
      ]);
    }
  });

  it("refuses a single .npy, an undecidable pair, a bad header and a label count that differs, in one line", () => {
    const x = npyBytes("float32", [3, 2], [0, 1, 2, 3, 4, 5]);
    expect(message(() => loadNpyPair([{ name: "x.npy", bytes: x }]))).toBe(
      "x.npy: give two .npy files together, the features and their labels (a single .npy has no labels to validate on)",
    );
    expect(
      message(() =>
        loadNpyPair([
          { name: "a.npy", bytes: x },
          { name: "b.npy", bytes: x },
        ]),
      ),
    ).toMatch(/^a\.npy, b\.npy: which one holds the labels\?/);
    const bad = npyBytes("float32", [3, 2], [0, 1, 2, 3, 4, 5], { descr: "<c8" });
    const m = message(() =>
      loadNpyPair([
        { name: "x.npy", bytes: bad },
        { name: "y.npy", bytes: npyBytes("int64", [3], [0, 1, 0]) },
      ]),
    );
    expect(m).toMatch(/^x\.npy: /);
    expect(m).not.toContain("\n");
    expect(
      message(() =>
        loadNpyPair([
          { name: "x.npy", bytes: x },
          { name: "y.npy", bytes: npyBytes("int64", [2], [0, 1]) },
        ]),
      ),
    ).toBe("x.npy: 3 examples but 2 labels");
  });
});
