import { describe, expect, it } from "vitest";
import { grad } from "../../src/autodiff/grad.js";
import * as o from "../../src/ir/ops.js";
import { printGraph } from "../../src/ir/print.js";
import { Graph } from "../../src/ir/tensor.js";

describe("printGraph", () => {
  it("lists a traced forward and backward pass in order", () => {
    const g = new Graph();
    const x = g.input("x", ["batch", 3]);
    const w = g.input("w", [3, 2]);
    const loss = o.sum(o.relu(o.matmul(x, w)));
    const [dw] = grad(loss, [w]);
    expect(printGraph({ loss, dw: dw! })).toBe(
      [
        "x: float32[batch, 3] = input",
        "w: float32[3, 2] = input",
        "t2: float32[batch, 2] = matmul(x, w) {transA: false, transB: false}",
        "t3: float32[batch, 2] = relu(t2)",
        "t4: float32[] = reduceSum(t3) {axes: [0, 1], keepDims: false}",
        "t5: float32[] = const 1",
        "t6: float32[1, 1] = reshape(t5) {shape: [1, 1]}",
        "t7: float32[batch, 2] = expandLike(t6, t3)",
        "t8: float32[] = const 0",
        "t9: bool[batch, 2] = greater(t2, t8)",
        "t10: float32[] = const 0",
        "t11: float32[batch, 2] = where(t9, t7, t10)",
        // t12, the gradient for x, is traced but not needed: x is not differentiated.
        "t13: float32[3, 2] = matmul(x, t11) {transA: true, transB: false}",
        "return loss = t4, dw = t13",
      ].join("\n"),
    );
  });
});
