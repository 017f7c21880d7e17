/** Tests for the model kinds table: short forms, checks on every path, and graphs pinned to the pre-split builders. */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { printGraph } from "../../src/ir/print.js";
import { Graph } from "../../src/ir/tensor.js";
import { ParamMap } from "../../src/nn/layers.js";
import { cnn, type Model, mlp } from "../../src/nn/model.js";
import { ARCH_USAGE, buildModel, MODELS, type ModelKind, parseArchSpec } from "../../src/nn/registry.js";

const kinds = Object.keys(MODELS) as ModelKind[];

describe("model kinds", () => {
  it("each kind's example short form parses and prints back; help and errors list every kind", () => {
    for (const k of kinds) {
      const { example, usage } = MODELS[k];
      if (example === undefined) continue; // a spec-only kind (layers): no short form
      const spec = parseArchSpec(example);
      expect(spec.kind).toBe(k);
      expect(MODELS[k].arch(spec as never)).toBe(example);
      expect(ARCH_USAGE).toContain(usage);
      expect(() => parseArchSpec(`${k}:x`)).toThrow(`unknown architecture "${k}:x" (expected e.g. `);
    }
    expect(() => parseArchSpec("vit:16")).toThrow(
      `unknown architecture "vit:16" (expected e.g. mlp:1200,1200, cnn:32,64, resnet:8 or mobilenet:0.5)`,
    );
    expect(parseArchSpec(" cnn:8 ", { input: 0.1, hidden: 0 })).toEqual({
      kind: "cnn",
      channels: [8],
      dropout: { input: 0.1, hidden: 0 },
    });
  });

  it("a spec's model passes the size and data checks too, not only a short form's", () => {
    expect(() => buildModel({ kind: "mlp", hidden: [100_000, 100_000] }, [28, 28], 10)).toThrow(
      /^architecture "mlp:100000,100000" has 10,079,600,010 parameters/,
    );
    expect(() => buildModel({ kind: "cnn", channels: [8] }, [784], 10)).toThrow(
      `architecture "cnn:8" needs image-shaped examples [C, H, W] or [H, W]; the data's are [784]`,
    );
    expect(() => buildModel({ kind: "mlp", hidden: [] }, [4], 0)).toThrow(/"mlp:": the data has no classes/);
  });

  // Hashes of the traced forward graphs (training and evaluation) and parameter lists as the
  // builders made them before the kinds were split into files: names, shapes, init order, dropout salts.
  const traced = (m: Model, training: boolean) => {
    const g = new Graph();
    const x = g.input("x", ["N", ...m.inputShape]);
    const seed = g.input("seed", [], "int64");
    const p = new ParamMap(new Map(m.params.map((s) => [s.name, g.input(s.name, s.shape)])));
    const text = printGraph({ y: m.forward(x, p, { training, seed }) }) + JSON.stringify(m.params);
    return createHash("sha256").update(text).digest("hex").slice(0, 16);
  };
  const reg = { inputDropout: 0.2, hiddenDropout: 0.5 };
  it.each([
    ["mlp:8,6", mlp(12, [8, 6], 3, reg), "1b617bc27bae87e5", "ac29a641a341b27e"],
    ["mlp:", mlp(5, [], 2, reg), "031dc15ffed84460", "801c63690b4fd18b"],
    ["cnn:3,5", cnn([2, 8, 4], [3, 5], 4, reg), "9851bb6978110e42", "e84b06611acf725c"],
    ["cnn:2", cnn(8, [2], 3), "2cd5427aad2f6065", "2cd5427aad2f6065"],
  ])("%s traces the same graph as before", (_arch, model, train, evaluate) => {
    expect([traced(model, true), traced(model, false)]).toEqual([train, evaluate]);
  });
});
