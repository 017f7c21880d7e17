/** The layers kind: a spec's own stack loads, builds, trains on MNIST, exports equal to the evaluation forward, and refuses impossible shapes in one line. */
import { describe, expect, it } from "vitest";
import { validateSpec } from "../../src/experiment/load.js";
import type { LayerEntry } from "../../src/nn/kinds/layers.js";
import { buildModel, parseArchSpec } from "../../src/nn/registry.js";
import { exportMatchesForward, trainsOnMnist } from "../helpers/conv-kinds.js";
import { tinySpec } from "../helpers/specs.js";

/** Every entry kind once: conv (strided, grouped), bn, activations, pooling, a projected and an identity residual, dense, dropout. */
const STACK: LayerEntry[] = [
  { conv: { out: 4, kernel: 3 } },
  "bn",
  "relu",
  { maxpool: 2 },
  {
    residual: [
      { conv: { out: 8, kernel: 3, stride: 2 } },
      "bn",
      "relu6",
      { conv: { out: 8, kernel: 3, groups: 8 } },
    ],
  },
  { residual: [{ conv: { out: 8, kernel: 1 } }, "bn", "hardswish"] },
  { avgpool: { kernel: 2, stride: 1 } },
  "gap",
  { dropout: 0.1 },
  { dense: 16 },
  "relu",
];

const build = (layers: LayerEntry[], shape: readonly number[] = [1, 28, 28]) =>
  buildModel({ kind: "layers", layers }, shape, 10);

describe("layers kind", () => {
  it("a spec with a layers model loads", () => {
    const s = tinySpec();
    (s.runs as Record<string, { model: unknown }>).student!.model = { kind: "layers", layers: STACK };
    const { spec } = validateSpec(s, "spec.yaml");
    expect(spec.runs.student!.model).toEqual({ kind: "layers", layers: STACK });
    const refuses = (layers: unknown[], msg: string) => {
      (s.runs as Record<string, { model: unknown }>).student!.model = { kind: "layers", layers };
      expect(() => validateSpec(s, "spec.yaml")).toThrow(`spec.yaml: runs.student.model.layers.${msg}`);
    };
    const expected =
      "expected bn, relu, relu6, hardswish, gap, flatten or an object with one key of conv, maxpool, avgpool, dense, dropout, residual";
    refuses(["relu", { pool: 2 }], '1: unknown field "pool"');
    refuses(["relux"], `0: ${expected}`);
    refuses([{ dense: 3, relu: 1 }], '0: unknown field "relu"');
    refuses([{ dense: 3, maxpool: 2 }], `0: ${expected}`);
    refuses(
      [{ residual: [{ conv: { out: 2 } }] }],
      "0: residual.0: conv.kernel: required field missing (expected number)",
    );
  });

  it("builds: shapes, names, the head, batch norm's buffers and the projection shortcut", () => {
    const m = build(STACK);
    expect(m.arch).toBe(
      "layers[conv4k3,bn,relu,maxpool2,residual(conv8k3s2,bn,relu6,conv8k3g8),residual(conv8k1,bn,hardswish),avgpool2s1,gap,dropout0.1,dense16,relu]",
    );
    expect(m.inputShape).toEqual([1, 28, 28]);
    expect(m.reg).toEqual({ inputDropout: 0, hiddenDropout: 0.1 });
    expect(m.minTrainingBatch).toBe(2);
    const shapes = Object.fromEntries(m.params.map((p) => [p.name, p.shape]));
    expect(shapes["l1.weight"]).toEqual([4, 1, 3, 3]);
    expect(shapes["l1.bias"]).toBeUndefined(); // a batch norm follows
    expect(shapes["l5.4.weight"]).toEqual([8, 1, 3, 3]);
    expect(shapes["l5.4.bias"]).toEqual([8]);
    expect(shapes["l5.shortcut.conv.weight"]).toEqual([8, 4, 1, 1]);
    expect(shapes["l6.shortcut.conv.weight"]).toBeUndefined(); // same shape: identity shortcut
    expect(shapes["l10.weight"]).toEqual([8, 16]);
    expect(shapes["out.weight"]).toEqual([16, 10]);
    expect(m.buffers?.map((b) => b.name)).toContain("l5.shortcut.bn.running_var");
    // A flat input and no explicit flatten before the head.
    expect(build([{ dense: 5 }, "relu"], [12]).params.map((p) => p.shape)).toEqual([
      [12, 5],
      [5],
      [5, 10],
      [10],
    ]);
    expect(build([{ conv: { out: 2, kernel: 3 } }], [5, 6]).params.at(-2)!.shape).toEqual([60, 10]);
    // Batch norm on flat features (PyTorch's BatchNorm1d); a dense layer before one has no bias.
    const flat = build([{ dense: 5 }, "bn", "relu", "bn"], [12]);
    expect(flat.params.map((p) => [p.name, p.shape])).toEqual([
      ["l1.weight", [12, 5]],
      ["l2.weight", [5]],
      ["l2.bias", [5]],
      ["l4.weight", [5]],
      ["l4.bias", [5]],
      ["out.weight", [5, 10]],
      ["out.bias", [10]],
    ]);
    expect(flat.buffers?.map((b) => b.name)).toEqual([
      "l2.running_mean",
      "l2.running_var",
      "l4.running_mean",
      "l4.running_var",
    ]);
  });

  it("trains on MNIST through train() and exports equal to the evaluation forward", async () => {
    const m = build(STACK);
    const weights = await trainsOnMnist(m);
    await exportMatchesForward(m, weights);
  }, 120_000);

  it("refuses impossible shapes in one line naming the layer", () => {
    const refuses = (layers: LayerEntry[], msg: string, shape: readonly number[] = [1, 4, 4]) =>
      expect(() => build(layers, shape)).toThrow(new RegExp(`^architecture "layers": ${msg}$`));
    refuses(
      [{ conv: { out: 4, kernel: 5, pad: 0 } }],
      "layer 1 \\(conv\\): kernel 5x5 is larger than the input 4x4",
    );
    refuses(
      [{ maxpool: 2 }, { conv: { out: 2, kernel: 3, stride: 3 } }, { maxpool: 2 }],
      "layer 3 \\(maxpool\\): kernel 2x2 is larger than the input 1x1",
    );
    refuses(
      ["relu", { residual: ["gap", { dense: 3 }] }],
      "layer 2 \\(residual\\): the branch turns \\[1, 4, 4\\] into \\[3\\], which no 1x1 conv projection of the input can match",
    );
    refuses(
      [{ residual: [{ conv: { out: 2, kernel: 1, pad: 1 } }] }],
      "layer 1 \\(residual\\): the branch turns \\[1, 4, 4\\] into \\[2, 6, 6\\], which no 1x1 conv projection of the input can match",
    );
    refuses(
      [{ residual: ["relu", { maxpool: 3 }] }],
      "layer 1\\.2 \\(maxpool\\): the input 4x4 is not divisible by the pool 3 .*",
    );
    refuses(
      ["gap", { maxpool: 2 }],
      "layer 2 \\(maxpool\\): needs an image-shaped input \\[C, H, W\\], got \\[1\\]",
    );
    refuses(
      [{ conv: { out: 3, kernel: 1, groups: 2 } }],
      "layer 1 \\(conv\\): 1 input and 3 output channels are not both divisible into 2 groups",
    );
    refuses(
      [{ dropout: 0.1 }, { dropout: 0.2 }],
      "layer 2 \\(dropout\\): every dropout entry takes the same rate; an earlier one has 0.1",
    );
    expect(() => parseArchSpec("layers:conv8")).toThrow(
      'architecture "layers:conv8": the layers kind is written in a spec (model: { kind: layers, layers: [...] }), not as --arch',
    );
  });
});
