/** Tests for batch assembly: epoch orders and gathering rows into reused buffers. */

import { describe, expect, it } from "vitest";
import { epochOrder, fromIdx, gatherBatch, parseIdx, withoutLabels } from "../../src/data/index.js";
import { Rng } from "../../src/util/rng.js";
import { idxBytes } from "./idx-bytes.js";

/** 6 examples of 2 features: example i is [10i, 10i + 1] with label i % 3. */
const ds = fromIdx(
  parseIdx(idxBytes("float32", [6, 2], [0, 1, 10, 11, 20, 21, 30, 31, 40, 41, 50, 51]), "x"),
  parseIdx(idxBytes("uint8", [6], [0, 1, 2, 0, 1, 2]), "y"),
  "six",
);

describe("epochOrder", () => {
  it("is a seeded permutation", () => {
    const order = epochOrder(100, new Rng(1));
    expect(Array.from(order).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(epochOrder(100, new Rng(1))).toEqual(order);
  });
});

describe("gatherBatch", () => {
  it("copies the rows of order[start..start+size) into the buffers", () => {
    const order = Int32Array.from([5, 2, 0, 3, 1, 4]);
    const x = new Float32Array(4 * 2).fill(-1);
    const y = new Int32Array(4).fill(-1);
    gatherBatch(ds, order, 1, 3, x, y);
    expect(Array.from(x)).toEqual([20, 21, 0, 1, 30, 31, -1, -1]);
    expect(Array.from(y)).toEqual([2, 0, 0, -1]);
    gatherBatch(ds, order, 4, 2, x); // last partial batch, labels not wanted
    expect(Array.from(x.subarray(0, 4))).toEqual([10, 11, 40, 41]);
  });

  it("rejects out-of-range requests", () => {
    const order = Int32Array.from([0, 1, 2]);
    const x = new Float32Array(4);
    expect(() => gatherBatch(ds, order, 2, 2, x)).toThrow(RangeError);
    expect(() => gatherBatch(ds, order, 0, 3, x)).toThrow("xOut holds 4 floats");
    expect(() => gatherBatch(ds, Int32Array.from([6]), 0, 1, x)).toThrow("out of range");
    expect(() => gatherBatch(withoutLabels(ds), order, 0, 1, x, new Int32Array(1))).toThrow("no labels");
  });
});
