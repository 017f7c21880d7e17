/** The mobilenet kind: parameter counts against the formula, the multiplier and strides, refusals, training and export. */
import { describe, expect, it } from "vitest";
import { buildModel, parseArchSpec } from "../../src/nn/registry.js";
import { paramCount } from "../../src/nn/size.js";
import { exportMatchesForward, trainsOnMnist } from "../helpers/conv-kinds.js";

const DEFAULT = { channels: [32, 64, 128, 128], strides: [1, 2, 2, 1] };
const mobilenet = (multiplier: number, shape: readonly number[] = [1, 28, 28], stack = DEFAULT) =>
  buildModel({ kind: "mobilenet", multiplier, ...stack }, shape, 10);

/** PyTorch's count: bias-free convs, BN γ and β after each; a depthwise 3×3 and a pointwise 1×1 per block. */
function torchCount(c: number, ch: readonly number[], classes: number): number {
  let total = c * ch[0]! * 9 + 2 * ch[0]!;
  for (let i = 1; i < ch.length; i++)
    total += ch[i - 1]! * 9 + 2 * ch[i - 1]! + ch[i - 1]! * ch[i]! + 2 * ch[i]!;
  return total + ch.at(-1)! * classes + classes;
}

describe("mobilenet kind", () => {
  it("counts parameters as PyTorch would, the multiplier scaling every layer's channels", () => {
    expect(paramCount(mobilenet(1))).toBe(31_370);
    expect(paramCount(mobilenet(1))).toBe(torchCount(1, [32, 64, 128, 128], 10));
    expect(paramCount(mobilenet(0.5, [3, 32, 32]))).toBe(torchCount(3, [16, 32, 64, 64], 10));
    expect(paramCount(mobilenet(0.01))).toBe(torchCount(1, [1, 1, 1, 1], 10));
  });

  it("depthwise blocks: one 3×3 filter per channel; batch norm after every conv, with its buffers", () => {
    const m = mobilenet(0.5);
    const shapes = Object.fromEntries(m.params.map((p) => [p.name, p.shape]));
    expect(shapes["block1.dw.conv.weight"]).toEqual([16, 1, 3, 3]);
    expect(shapes["block1.pw.conv.weight"]).toEqual([32, 16, 1, 1]);
    expect(m.buffers!.map((b) => b.name)).toContain("block3.pw.bn.running_var");
    expect(m.buffers!.length).toBe(2 * 7);
  });

  it("short forms, a spec's own stack, and refusals in one line", () => {
    expect(parseArchSpec("mobilenet:0.5")).toEqual({ kind: "mobilenet", multiplier: 0.5, ...DEFAULT });
    expect(parseArchSpec("mobilenet:2")).toMatchObject({ multiplier: 2 });
    expect(() => parseArchSpec("mobilenet:5")).toThrow(
      `architecture "mobilenet:5": the width multiplier must lie in (0, 4]`,
    );
    expect(() => parseArchSpec("mobilenet:a")).toThrow(/^unknown architecture "mobilenet:a"/);
    expect(mobilenet(1, [3, 9, 9], { channels: [8, 16], strides: [2, 2] }).arch).toBe(
      "mobilenet:1[8,16;2,2]",
    );
    expect(() => mobilenet(1, [1, 28, 28], { channels: [8, 16], strides: [1] })).toThrow(
      `architecture "mobilenet:1[8,16;1]": 2 channel counts but 1 strides (one each)`,
    );
    expect(() => mobilenet(1, [784])).toThrow(
      `architecture "mobilenet:1" needs image-shaped examples [C, H, W] or [H, W]; the data's are [784]`,
    );
  });

  it("trains on MNIST (the loss falls, running statistics move) and exports its evaluation mode", async () => {
    const m = mobilenet(0.25);
    await exportMatchesForward(m, await trainsOnMnist(m));
  }, 120_000);
});
