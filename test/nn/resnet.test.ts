/** The resnet kind: parameter counts against PyTorch's, names and regularisation of batch norm, refusals, training, export and the CLI. */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Graph } from "../../src/ir/tensor.js";
import { ParamMap } from "../../src/nn/layers.js";
import type { Model } from "../../src/nn/model.js";
import { buildModel, parseArchSpec } from "../../src/nn/registry.js";
import { paramCount } from "../../src/nn/size.js";
import { train } from "../../src/train/trainer.js";
import { kd } from "../helpers/cli.js";
import { labelsConfig } from "../helpers/config.js";
import { exportMatchesForward, trainsOnMnist } from "../helpers/conv-kinds.js";
import { mnistTrain } from "../helpers/mnist.js";

const resnet = (depth: number, shape: readonly number[] = [1, 28, 28], width = 16, classes = 10) =>
  buildModel({ kind: "resnet", depth, width }, shape, classes);

/**
 * PyTorch's count for a CIFAR ResNet with option-B shortcuts (bias-free convs, BN γ and β, 1×1
 * conv + BN projections where the shape changes), n blocks per stage, c input channels.
 */
function torchCount(n: number, w: number, c: number, classes: number): number {
  const conv = (i: number, o: number, k: number) => i * o * k * k;
  const bn = (ch: number) => 2 * ch;
  const block = (i: number, o: number) =>
    conv(i, o, 3) + bn(o) + conv(o, o, 3) + bn(o) + (i === o ? 0 : conv(i, o, 1) + bn(o));
  let total = conv(c, w, 3) + bn(w);
  for (const [i, o] of [
    [w, w],
    [w, 2 * w],
    [2 * w, 4 * w],
  ] as const)
    total += block(i, o) + (n - 1) * block(o, o);
  return total + 4 * w * classes + classes;
}

/** Traces the evaluation forward for a batch of two (what conv2d's shape checks see). */
function trace(m: Model): readonly (number | string)[] {
  const g = new Graph();
  const inputs = [...m.params, ...(m.buffers ?? [])].map((s) => [s.name, g.input(s.name, s.shape)] as const);
  return m.forward(g.input("x", [2, ...m.inputShape]), new ParamMap(new Map(inputs)), { training: false })
    .shape;
}

const tmp = mkdtempSync(join(tmpdir(), "kd-resnet-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("resnet kind", () => {
  it("ResNet-20 (width 16, 3×32×32, 10 classes) has PyTorch's option-B count, 272,474; others the formula", () => {
    expect(paramCount(resnet(20, [3, 32, 32]))).toBe(272_474);
    expect(paramCount(resnet(8, [3, 32, 32]))).toBe(78_042);
    for (const [depth, w, c] of [
      [8, 16, 1],
      [14, 8, 3],
      [32, 4, 2],
    ] as const)
      expect(paramCount(resnet(depth, [c, 12, 12], w, 7))).toBe(torchCount((depth - 2) / 6, w, c, 7));
  });

  it("batch norm: γ = 1 and β = 0 without decay or max-norm, running mean 0 and variance 1 as buffers", () => {
    const m = resnet(8);
    const bn = m.params.filter((p) => p.name.includes(".bn."));
    expect(bn.length).toBe(2 * 9);
    for (const p of bn) {
      expect(p.decay).toBe(false);
      expect(p.unitAxes).toBeUndefined();
      expect(p.init).toBe(p.name.endsWith(".weight") ? "ones" : "zeros");
    }
    expect(m.buffers!.length).toBe(2 * 9);
    expect(m.buffers!.slice(0, 2)).toEqual([
      { name: "stem.bn.running_mean", shape: [16], init: 0 },
      { name: "stem.bn.running_var", shape: [16], init: 1 },
    ]);
    expect(m.params.map((p) => p.name)).toContain("stage2.block1.shortcut.conv.weight");
    expect(m.params.map((p) => p.name)).not.toContain("stage1.block1.shortcut.conv.weight");
  });

  it("short forms, and refusals in one line", () => {
    expect(parseArchSpec("resnet:20")).toEqual({ kind: "resnet", depth: 20, width: 16 });
    expect(parseArchSpec("resnet:14,32")).toEqual({ kind: "resnet", depth: 14, width: 32 });
    expect(() => parseArchSpec("resnet:8,16,3")).toThrow(/^unknown architecture "resnet:8,16,3"/);
    expect(() => resnet(10)).toThrow(
      `architecture "resnet:10": a resnet's depth is 6n+2 (8, 14, 20, 32, ...), got 10`,
    );
    expect(() => resnet(2)).toThrow(/6n\+2/);
    expect(() => resnet(8, [784])).toThrow(
      `architecture "resnet:8" needs image-shaped examples [C, H, W] or [H, W]; the data's are [784]`,
    );
  });

  it("takes any [C, H, W]: strides of 2 on odd and tiny sizes still leave a pixel", () => {
    expect(trace(resnet(8, [1, 28, 28]))).toEqual([2, 10]);
    expect(trace(resnet(8, [3, 7, 5], 4, 3))).toEqual([2, 3]);
    expect(trace(resnet(8, [1, 1], 4, 3))).toEqual([2, 3]);
  });

  it("trains on MNIST (the loss falls, running statistics move) and exports its evaluation mode", async () => {
    const m = resnet(8, [1, 28, 28], 4);
    await exportMatchesForward(m, await trainsOnMnist(m));
  }, 120_000);

  it("refuses, in one line, a training batch of one (batch norm has no statistics in it), the last one included", async () => {
    const m = resnet(8, [1, 28, 28], 4);
    expect(m.minTrainingBatch).toBe(2);
    // 9 examples in batches of 4 leave a last batch of 1; 8 do not.
    await expect(train(labelsConfig(m, mnistTrain(9), { epochs: 1, batchSize: 4 }))).rejects.toThrow(
      /resnet:8\S* has batch norm, which needs training batches of at least 2 examples; .* leave one of 1 \(change the batch size or the example count\)/,
    );
    const ok = await train(labelsConfig(m, mnistTrain(8), { epochs: 1, batchSize: 4, threads: 1 }));
    expect(ok.history).toHaveLength(1);
    // Models without batch norm take any batch.
    expect(buildModel({ kind: "mlp", hidden: [4] }, [784], 10).minTrainingBatch).toBeUndefined();
  }, 120_000);

  it("kd train --arch resnet:8 --epochs 1 --count 500 works end to end", () => {
    const out = join(tmp, "r8.onnx");
    const r = kd(
      ["train", "--arch", "resnet:8", "--epochs", "1", "--count", "500", "--no-progress", "--out", out],
      300_000,
    );
    // Five steps leave the running statistics far from the data's: kd may warn about chance-level accuracy.
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*r8\.onnx \(resnet:8, 1 epochs/);
    expect(r.stdout).toMatch(/^test: \d+ errors in 10000/m);
    expect(existsSync(out)).toBe(true);
  }, 300_000);
});
