import { describe, expect, it } from "vitest";
import { MAX_PARAMS, mlpParamCount, parseArch } from "../../src/nn/model.js";

describe("parseArch bounds", () => {
  it("counts an MLP's parameters", () => {
    expect(mlpParamCount(784, [800, 800], 10)).toBe(785 * 800 + 801 * 800 + 801 * 10);
  });
  it("refuses an architecture too large to export, saying how large", () => {
    expect(() => parseArch("mlp:100000,100000", 784, [28, 28], 10)).toThrow(
      `architecture "mlp:100000,100000" has 10,079,600,010 parameters (40.3 GB as float32); an ONNX model holds at most ${MAX_PARAMS.toLocaleString("en-US")}`,
    );
  });
  it("refuses one this machine cannot train, stating the memory", () => {
    const before = process.env.KD_MAX_MEMORY;
    process.env.KD_MAX_MEMORY = String(1e8);
    try {
      expect(() => parseArch("mlp:10000", 784, [28, 28], 10)).toThrow(
        /^training architecture "mlp:10000" \(7,950,010 parameters\) would need 159 MB of memory, more than the 100 MB available$/,
      );
    } finally {
      if (before === undefined) delete process.env.KD_MAX_MEMORY;
      else process.env.KD_MAX_MEMORY = before;
    }
    expect(parseArch("mlp:800,800", 784, [28, 28], 10).params.length).toBe(6);
  });
  it("refuses data without features or classes", () => {
    expect(() => parseArch("mlp:10", 0, [0], 10)).toThrow(/no features/);
    expect(() => parseArch("mlp:10", 4, [4], 0)).toThrow(/no classes/);
  });
});
