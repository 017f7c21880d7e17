/** Every kind names its layers for feature objectives, with each one's output shape per example. */
import { describe, expect, it } from "vitest";
import { namedLayers } from "../../src/nn/named-layers.js";
import { buildModel, type ModelSpec } from "../../src/nn/registry.js";

const layers = (spec: ModelSpec, shape: readonly number[] = [1, 28, 28]) =>
  Object.fromEntries(namedLayers(buildModel(spec, shape, 10)));

describe("named layers", () => {
  it("resnet: stem, each block, pool", () => {
    expect(layers({ kind: "resnet", depth: 8, width: 16 })).toEqual({
      stem: [16, 28, 28],
      "stage1.block1": [16, 28, 28],
      "stage2.block1": [32, 14, 14],
      "stage3.block1": [64, 7, 7],
      pool: [64],
    });
  });

  it("mobilenet, cnn, mlp and layers", () => {
    expect(
      layers({ kind: "mobilenet", multiplier: 0.5, channels: [32, 64, 128, 128], strides: [1, 2, 2, 1] }),
    ).toEqual({
      stem: [16, 28, 28],
      block1: [32, 14, 14],
      block2: [64, 7, 7],
      block3: [64, 7, 7],
      pool: [64],
    });
    expect(layers({ kind: "cnn", channels: [4, 8] })).toEqual({ conv1: [4, 14, 14], conv2: [8, 7, 7] });
    expect(layers({ kind: "mlp", hidden: [32, 16] }, [784])).toEqual({ fc1: [32], fc2: [16] });
    const stack = {
      kind: "layers",
      layers: [{ conv: { out: 4, kernel: 3 } }, "relu", { maxpool: 2 }, "gap"],
    };
    expect(layers(stack as ModelSpec)).toEqual({
      l1: [4, 28, 28],
      l2: [4, 28, 28],
      l3: [4, 14, 14],
      l4: [4],
    });
  });
});
