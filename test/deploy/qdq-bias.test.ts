/** Static int8's bias correction: a blank background's rounding offset, carried by pooling to the logits, is measured on the calibration data and taken out of the biases. */
import { describe, expect, it } from "vitest";
import { channelMeans } from "../../src/deploy/qdq-bias.js";
import { quantizeModel } from "../../src/deploy/quantize.js";
import {
  createModel,
  decodeModel,
  encodeModel,
  makeNode,
  makeTensor,
  valueInfo,
} from "../../src/onnx/proto.js";
import { Rng } from "../../src/util/rng.js";

/** image [n, 1, 8, 8] → Conv (bias 0.3) → Relu → GlobalAveragePool → Flatten → Gemm → logits [n, 3]. */
function convNet() {
  const rng = new Rng(5);
  const w = Float32Array.from({ length: 2 * 9 }, () => rng.uniform() - 0.5);
  const fc = Float32Array.from({ length: 2 * 3 }, () => 4 * (rng.uniform() - 0.5));
  return createModel({
    irVersion: 8n,
    opsetImport: [{ domain: "", version: 13n }],
    graph: {
      name: "background",
      node: [
        makeNode("Conv", ["image", "conv.weight", "conv.bias"], ["conv"], { pads: [1, 1, 1, 1] }),
        makeNode("Relu", ["conv"], ["relu"]),
        makeNode("GlobalAveragePool", ["relu"], ["pool"]),
        makeNode("Flatten", ["pool"], ["flat"], { axis: 1 }),
        makeNode("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"]),
      ],
      initializer: [
        makeTensor("conv.weight", "float32", [2, 1, 3, 3], w),
        makeTensor("conv.bias", "float32", [2], Float32Array.of(0.3, 0.3)),
        makeTensor("fc.weight", "float32", [2, 3], fc),
        makeTensor("fc.bias", "float32", [3], new Float32Array(3)),
      ],
      input: [valueInfo("image", "float32", ["batch", 1, 8, 8])],
      output: [valueInfo("logits", "float32", ["batch", 3])],
    },
  });
}

/** Images that are blank (0) but for a random 2×2 patch of values in [0, 4). */
function images(n: number): Float32Array {
  const rng = new Rng(9);
  const x = new Float32Array(n * 64);
  for (let i = 0; i < n; i++) {
    const [r, c] = [Math.floor(rng.uniform() * 7), Math.floor(rng.uniform() * 7)];
    for (const [dr, dc] of [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ] as const)
      x[i * 64 + (r + dr) * 8 + c + dc] = 4 * rng.uniform();
  }
  return x;
}

describe("bias correction", () => {
  it("the int8 model's mean logits on the calibration data equal the float model's", async () => {
    const model = convNet();
    const calibration = { x: images(200), n: 200 };
    const input = { name: "image", shape: [1, 8, 8] };
    const { model: q } = await quantizeModel(model, { calibration, input, threads: 1 });
    const want = (
      await channelMeans(model, new Map([["logits", "last"]]), calibration, input, { threads: 1 }, 100)
    ).get("logits")!;
    const got = (
      await channelMeans(
        decodeModel(encodeModel(q)),
        new Map([["logits", "last"]]),
        calibration,
        input,
        { threads: 1 },
        100,
      )
    ).get("logits")!;
    // Uncorrected, the background's relu(0.3) rounds to the nearest multiple of a scale near
    // 4/255: an offset of up to 0.008 on 60 of 64 pixels, times fc weights up to 2.
    for (let c = 0; c < 3; c++) expect(Math.abs(got[c]! - want[c]!)).toBeLessThan(2e-4);
  });
});
