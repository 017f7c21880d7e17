/** The bench's FLOP convention and its nets: multiply-accumulates counted from the traced forward pass. */
import { describe, expect, it } from "vitest";
import { paramCount } from "../../src/nn/model.js";
import { benchNet, forwardMacs, stepFlops } from "../../src/train/bench.js";

/** Output positions × taps × input channels per group × output channels, layer by layer. */
const conv = (hw: number, cout: number, cinPerGroup: number, k: number) => hw * cout * cinPerGroup * k * k;

describe("kd bench: FLOPs of a training step", () => {
  it("ResNet-8 on 1×28×28: every convolution and the head, one example", () => {
    const macs =
      conv(784, 16, 1, 3) + // stem
      2 * conv(784, 16, 16, 3) + // stage 1
      conv(196, 32, 16, 3) +
      conv(196, 32, 32, 3) +
      conv(196, 32, 16, 1) + // stage 2 with its projection
      conv(49, 64, 32, 3) +
      conv(49, 64, 64, 3) +
      conv(49, 64, 32, 1) + // stage 3 with its projection
      64 * 10; // head
    const { model } = benchNet("resnet8-1x28x28");
    expect(forwardMacs(model, 1)).toBe(macs);
    expect(stepFlops(model, 128)).toBe(6 * 128 * macs);
  });

  it("MobileNet on 1×28×28: depthwise convolutions count one input channel per output", () => {
    const macs =
      conv(784, 32, 1, 3) + // stem
      conv(196, 32, 1, 3) +
      conv(196, 64, 32, 1) + // block 1, stride 2
      conv(49, 64, 1, 3) +
      conv(49, 128, 64, 1) + // block 2, stride 2
      conv(49, 128, 1, 3) +
      conv(49, 128, 128, 1) + // block 3
      128 * 10;
    expect(forwardMacs(benchNet("mobilenet-1x28x28").model, 1)).toBe(macs);
  });

  it("the convnets have the parameter counts bench/torch_bench.py's PyTorch twins report", () => {
    const counts = Object.fromEntries(
      (["resnet8-1x28x28", "resnet8-3x32x32", "mobilenet-1x28x28", "mobilenet-3x32x32"] as const).map((n) => [
        n,
        paramCount(benchNet(n).model),
      ]),
    );
    // sum(p.numel() for p in model.parameters()) of resnet8() and mobilenet() in torch 1.13.
    expect(counts).toEqual({
      "resnet8-1x28x28": 77754,
      "resnet8-3x32x32": 78042,
      "mobilenet-1x28x28": 31370,
      "mobilenet-3x32x32": 31946,
    });
  });
});
