/** Tests for datasets: IDX conversion, MNIST loading, and the seeded subsetting helpers. */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { parseIdx } from "../../src/data/idx.js";
import {
  classCounts,
  type Dataset,
  filterClasses,
  fromIdx,
  loadIdxDataset,
  loadMnist,
  splitValidation,
  subset,
  takeCount,
  takeFraction,
  withoutLabels,
} from "../../src/data/index.js";
import { KdError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";
import { idxBytes } from "./idx-bytes.js";

/** A labeled dataset of `n` one-feature examples where x[i] = i, so rows identify their source index. */
function indexed(labels: number[], numClasses = 0): Dataset {
  const n = labels.length;
  const images = parseIdx(
    idxBytes(
      "float32",
      [n, 1],
      labels.map((_, i) => i),
    ),
    "x",
  );
  return fromIdx(images, parseIdx(idxBytes("uint8", [n], labels), "y"), "toy", numClasses);
}

/** 100 examples with labels 0..4 repeating, so each class holds 20. */
const toy = (): Dataset => indexed(Array.from({ length: 100 }, (_, i) => i % 5));

const sourceIndices = (ds: Dataset): number[] => Array.from(ds.x);

describe("fromIdx", () => {
  it("scales uint8 images to [0, 1] and keeps the example shape", () => {
    const images = parseIdx(idxBytes("uint8", [2, 2, 3], [0, 51, 255, 1, 2, 3, 4, 5, 6, 7, 8, 255]), "img");
    const labels = parseIdx(idxBytes("uint8", [2], [3, 1]), "lab");
    const ds = fromIdx(images, labels, "tiny");
    expect(ds).toMatchObject({ n: 2, exampleShape: [2, 3], features: 6, numClasses: 4, name: "tiny" });
    expect(ds.x).toBeInstanceOf(Float32Array);
    expect(ds.x[0]).toBe(0);
    expect(ds.x[1]).toBeCloseTo(0.2, 6);
    expect(ds.x[2]).toBe(1);
    expect(Array.from(ds.y!)).toEqual([3, 1]);
    expect(fromIdx(images, labels, "tiny", 10).numClasses).toBe(10);
  });

  it("converts float images unchanged and allows unlabeled data", () => {
    const ds = fromIdx(parseIdx(idxBytes("float64", [3, 1], [-1, 0.5, 7]), "f"), undefined, "u");
    expect(Array.from(ds.x)).toEqual([-1, 0.5, 7]);
    expect(ds.y).toBeUndefined();
    expect(ds.numClasses).toBe(0);
  });

  it("checks labels against images", () => {
    const images = parseIdx(idxBytes("uint8", [3, 2], [0, 0, 0, 0, 0, 0]), "img");
    const err = (labels: Uint8Array): unknown => {
      try {
        fromIdx(images, parseIdx(labels, "lab"), "set");
      } catch (e) {
        return e;
      }
    };
    const cases: [Uint8Array, string][] = [
      [idxBytes("uint8", [2], [0, 1]), "set: images has 3 examples but labels has 2"],
      [idxBytes("uint8", [3, 1], [0, 1, 2]), "set: labels must be 1-D, got dims [3, 1]"],
      [idxBytes("float32", [3], [0, 1, 2]), "set: labels must be integers, got float32"],
      [idxBytes("int8", [3], [0, -1, 2]), "set: label 1 is negative (-1)"],
    ];
    for (const [bytes, message] of cases) {
      const e = err(bytes);
      expect(e).toBeInstanceOf(KdError);
      expect((e as KdError).message).toBe(message);
    }
  });
});

describe("loadIdxDataset", () => {
  const dir = mkdtempSync(join(tmpdir(), "kd-ds-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("loads gzipped images and plain labels", () => {
    const images = join(dir, "images-idx3-ubyte.gz");
    const labels = join(dir, "labels-idx1-ubyte");
    writeFileSync(images, gzipSync(idxBytes("uint8", [2, 2, 2], [255, 0, 0, 0, 0, 0, 0, 255])));
    writeFileSync(labels, idxBytes("uint8", [2], [7, 2]));
    const ds = loadIdxDataset(images, labels);
    expect(ds).toMatchObject({ n: 2, features: 4, numClasses: 8, name: "images-idx3-ubyte.gz" });
    expect(Array.from(ds.x)).toEqual([1, 0, 0, 0, 0, 0, 0, 1]);
    expect(loadIdxDataset(images).y).toBeUndefined();
    expect(() => loadIdxDataset(images, join(dir, "missing"))).toThrow(
      `${join(dir, "missing")}: no such file`,
    );
  });
});

describe("loadMnist", () => {
  it("loads the canonical train and test splits", () => {
    const expected = {
      train: { n: 60000, counts: [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949] },
      test: { n: 10000, counts: [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009] },
    } as const;
    for (const split of ["train", "test"] as const) {
      const ds = loadMnist(split);
      expect(ds).toMatchObject({
        n: expected[split].n,
        features: 784,
        exampleShape: [28, 28],
        numClasses: 10,
        name: `mnist-${split}`,
      });
      expect(ds.x.length).toBe(ds.n * 784);
      expect(classCounts(ds)).toEqual(expected[split].counts);
      let max = 0;
      let min = 1;
      for (const v of ds.x) {
        if (v > max) max = v;
        if (v < min) min = v;
      }
      expect(max).toBe(1);
      expect(min).toBe(0);
      expect(loadMnist(split)).toBe(ds); // cached
    }
  });
});

describe("subset and filters", () => {
  it("subset copies the chosen rows in order", () => {
    const ds = subset(toy(), [5, 0, 5]);
    expect(ds.n).toBe(3);
    expect(sourceIndices(ds)).toEqual([5, 0, 5]);
    expect(Array.from(ds.y!)).toEqual([0, 0, 0]);
    expect(ds.numClasses).toBe(5);
    expect(() => subset(toy(), [100])).toThrow(RangeError);
  });

  it("filterClasses keeps or omits classes, preserving order and numClasses", () => {
    const only = filterClasses(toy(), { only: [1, 3] });
    expect(only.n).toBe(40);
    expect(sourceIndices(only).slice(0, 4)).toEqual([1, 3, 6, 8]);
    expect(only.numClasses).toBe(5);
    const omit = filterClasses(toy(), { omit: [3] });
    expect(omit.n).toBe(80);
    expect(classCounts(omit)).toEqual([20, 20, 20, 0, 20]);
    expect(filterClasses(toy(), { only: [1, 3], omit: [3] }).n).toBe(20);
    const ds = toy();
    expect(filterClasses(ds, {})).toBe(ds);
  });

  it("filterClasses names the filter when nothing is left", () => {
    expect(() => filterClasses(toy(), { omit: [0, 1, 2, 3, 4] })).toThrow(
      new KdError("toy: no examples left after class filter (omit 0,1,2,3,4)"),
    );
    expect(() => filterClasses(toy(), { only: [0], omit: [0] })).toThrow(
      "toy: no examples left after class filter (only 0; omit 0)",
    );
    // A class the data does not have would filter nothing: refused, not ignored.
    expect(() => filterClasses(toy(), { only: [7] })).toThrow(KdError);
    expect(() => filterClasses(toy(), { only: [7] })).toThrow(
      "toy: only classes 7: class 7 is outside 0..4 (the data has 5 classes)",
    );
    expect(() => filterClasses(toy(), { omit: [3, 12] })).toThrow(
      /omitted classes 3,12: class 12 is outside/,
    );
    expect(() => filterClasses(withoutLabels(toy()), { omit: [3] })).toThrow(
      "toy: class filter (omit 3) needs labels, but the dataset is unlabeled",
    );
  });

  it("withoutLabels drops labels only", () => {
    const ds = withoutLabels(toy());
    expect(ds.y).toBeUndefined();
    expect(ds.n).toBe(100);
    expect(() => classCounts(ds)).toThrow(KdError);
  });
});

describe("random subsets", () => {
  it("takeCount is seeded, distinct, in source order and stratified", () => {
    const a = takeCount(toy(), 10, new Rng(1));
    const b = takeCount(toy(), 10, new Rng(1));
    const c = takeCount(toy(), 10, new Rng(2));
    expect(a.n).toBe(10);
    expect(sourceIndices(a)).toEqual(sourceIndices(b));
    expect(sourceIndices(a)).not.toEqual(sourceIndices(c));
    const idx = sourceIndices(a);
    expect([...idx].sort((p, q) => p - q)).toEqual(idx);
    expect(new Set(idx).size).toBe(10);
    expect(classCounts(a)).toEqual([2, 2, 2, 2, 2]);
    // Labels still match the source rows.
    for (let i = 0; i < a.n; i++) expect(a.y![i]).toBe(idx[i]! % 5);
  });

  it("stratified counts sum exactly even when shares are fractional", () => {
    const labels = [...new Array(7).fill(0), ...new Array(2).fill(1), 2];
    const ds = takeCount(indexed(labels), 5, new Rng(3));
    expect(ds.n).toBe(5);
    expect(classCounts(ds)).toEqual([4, 1, 0]);
  });

  it("takeCount works on unlabeled data and rejects bad counts", () => {
    const ds = takeCount(withoutLabels(toy()), 30, new Rng(4));
    expect(ds.n).toBe(30);
    expect(new Set(sourceIndices(ds)).size).toBe(30);
    expect(() => takeCount(toy(), 101, new Rng(0))).toThrow(
      "toy: cannot take 101 examples from a dataset of 100",
    );
    expect(() => takeCount(toy(), 0, new Rng(0))).toThrow(KdError);
  });

  it("takeFraction rounds to a count", () => {
    expect(takeFraction(toy(), 0.25, new Rng(5)).n).toBe(25);
    expect(takeFraction(toy(), 0.001, new Rng(5)).n).toBe(1);
    expect(takeFraction(toy(), 1, new Rng(5)).n).toBe(100);
    expect(() => takeFraction(toy(), 0, new Rng(5))).toThrow("toy: fraction must be in (0, 1], got 0");
    expect(() => takeFraction(toy(), 1.5, new Rng(5))).toThrow(KdError);
  });

  it("splitValidation gives disjoint sets covering the data", () => {
    const { train, val } = splitValidation(toy(), 20, new Rng(6));
    expect(train.n).toBe(80);
    expect(val.n).toBe(20);
    const all = [...sourceIndices(train), ...sourceIndices(val)].sort((p, q) => p - q);
    expect(all).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(classCounts(val)).toEqual([4, 4, 4, 4, 4]);
    expect(() => splitValidation(toy(), 100, new Rng(6))).toThrow(
      "toy: cannot hold out 100 validation examples from 100",
    );
  });

  it("subsets MNIST quickly", () => {
    const ds = takeCount(loadMnist("train"), 1000, new Rng(7));
    expect(ds.n).toBe(1000);
    for (const c of classCounts(ds)) expect(Math.abs(c - 100)).toBeLessThanOrEqual(15);
  });
});
