import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { checkClasses, checkCompatible, checkDataset, MAX_CLASSES } from "../../src/data/checks.js";
import { type Dataset, fromIdx } from "../../src/data/dataset.js";
import { parseIdx, readIdxFile } from "../../src/data/idx.js";
import { kdMessage } from "../helpers/errors.js";
import { idxBytes } from "./idx-bytes.js";

const ds = (over: Partial<Dataset>): Dataset => ({
  x: new Float32Array(4),
  y: undefined,
  n: 2,
  exampleShape: [2],
  features: 2,
  numClasses: 0,
  name: "d",
  ...over,
});

describe("checkDataset", () => {
  it("refuses no examples, no features and non-finite values, naming where", () => {
    expect(kdMessage(() => checkDataset(ds({ n: 0, x: new Float32Array(0) })))).toBe("d: no examples");
    expect(kdMessage(() => checkDataset(ds({ features: 0, exampleShape: [0] })))).toMatch(/no features/);
    expect(kdMessage(() => checkDataset(ds({ x: Float32Array.of(0, 1, Number.NaN, 0) })))).toBe(
      "d: example 1 has a non-finite value (NaN) at feature 0",
    );
    expect(kdMessage(() => checkDataset(ds({ x: Float32Array.of(0, 1, 0, -Infinity) })))).toMatch(
      /-Infinity/,
    );
    checkDataset(ds({}));
  });
});

describe("fromIdx bounds what the data declares by what it holds", () => {
  const images = parseIdx(idxBytes("uint8", [2, 2], [0, 255, 1, 2]), "im");
  it("refuses a label of 1,000,000 at once, without sizing anything by it", () => {
    const labels = parseIdx(idxBytes("int32", [2], [0, 1_000_000]), "lb");
    const t0 = performance.now();
    expect(kdMessage(() => fromIdx(images, labels, "big"))).toBe(
      `big: label 1 is 1000000; kd supports classes 0..${MAX_CLASSES - 1}`,
    );
    expect(performance.now() - t0).toBeLessThan(200);
  });
  it("refuses zero examples, zero features and NaN or infinite pixels", () => {
    expect(kdMessage(() => fromIdx(parseIdx(idxBytes("uint8", [0, 4], []), "z"), undefined, "z"))).toMatch(
      /z: no examples/,
    );
    expect(kdMessage(() => fromIdx(parseIdx(idxBytes("uint8", [3, 0], []), "z"), undefined, "z"))).toMatch(
      /z: examples have no features/,
    );
    const nan = parseIdx(idxBytes("float32", [2, 2], [0, 1, Number.NaN, 0]), "f");
    expect(kdMessage(() => fromIdx(nan, undefined, "f"))).toMatch(/example 1 has a non-finite value \(NaN\)/);
    // A float64 too large for float32 becomes ∞ on conversion: refused too.
    const big = parseIdx(idxBytes("float64", [1, 2], [1e300, 0]), "g");
    expect(kdMessage(() => fromIdx(big, undefined, "g"))).toMatch(/Infinity/);
  });
});

describe("checkCompatible and checkClasses", () => {
  const shaped = (name: string, exampleShape: number[]) =>
    ds({ name, exampleShape, features: exampleShape.reduce((p, d) => p * d, 1), x: new Float32Array(0) });
  it("refuses train and test examples of different shapes", () => {
    const a = shaped("train", [2, 3]);
    expect(kdMessage(() => checkCompatible(a, shaped("test", [3, 2])))).toBe(
      "train has examples of shape [2, 3] but test has [3, 2]",
    );
    expect(kdMessage(() => checkCompatible(a, shaped("test", [5])))).toBe(
      "train has examples of shape [2, 3] but test has [5]",
    );
    expect(kdMessage(() => checkCompatible(a, shaped("test", [3, 2, 3])))).toMatch(
      /but test has \[3, 2, 3\]/,
    );
    checkCompatible(a, a);
  });
  it("accepts the same values in the same order: a channel of 1, or flat rows of the same count", () => {
    // MNIST's [28, 28] against an IDX file of [n, 784] rows or of [n, 1, 28, 28] images.
    const mnist = shaped("mnist-test", [28, 28]);
    checkCompatible(shaped("rows", [784]), mnist);
    checkCompatible(shaped("images", [1, 28, 28]), mnist);
    checkCompatible(mnist, shaped("rows", [784]));
    checkCompatible(shaped("rows", [784]), shaped("images", [1, 28, 28]));
  });
  it("refuses classes the data does not have", () => {
    expect(kdMessage(() => checkClasses([3, 12], 10, "--omit-classes"))).toBe(
      "--omit-classes 3,12: class 12 is outside 0..9 (the data has 10 classes)",
    );
    checkClasses([0, 9], 10, "--class");
  });
});

describe("readIdxFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "kd-checks-"));
  it("refuses a gzip file that inflates past the limit", () => {
    const p = join(dir, "bomb.gz");
    writeFileSync(p, gzipSync(idxBytes("uint8", [100_000], new Uint8Array(100_000))));
    expect(kdMessage(() => readIdxFile(p, 10_000))).toMatch(/bomb\.gz: decompresses to more than 10.0 kB/);
  });
  it("refuses a device instead of reading it forever", () => {
    expect(kdMessage(() => readIdxFile("/dev/zero"))).toMatch(/\/dev\/zero: not a regular file/);
  });
});
