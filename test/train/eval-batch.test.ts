/** The evaluation batch: an MLP's 1000 examples, fewer for convnets whose activations would pass the budget. */
import { describe, expect, it } from "vitest";
import { parseArch } from "../../src/nn/model.js";
import { EVAL_ACTIVATION_BYTES, evalBatch, MAX_EVAL_BATCH } from "../../src/train/inference.js";

describe("evaluation batch within the activation budget", () => {
  it("an MLP keeps the full batch", () => {
    expect(evalBatch(parseArch("mlp:800,800", 784, [784], 10))).toBe(MAX_EVAL_BATCH);
  });

  it("ResNet-8 on 1×28×28: its widest activation (16 channels of 28×28) sets the batch", () => {
    const per = 4 * 16 * 28 * 28;
    const b = evalBatch(parseArch("resnet:8", 784, [1, 28, 28], 10));
    expect(b).toBe(Math.floor(EVAL_ACTIVATION_BYTES / per));
    expect(b).toBeLessThan(MAX_EVAL_BATCH);
  });

  it("MobileNet on 3×32×32: the 32-channel stem at full size", () => {
    const b = evalBatch(parseArch("mobilenet:1", 3072, [3, 32, 32], 10));
    expect(b).toBe(Math.floor(EVAL_ACTIVATION_BYTES / (4 * 32 * 32 * 32)));
  });
});
