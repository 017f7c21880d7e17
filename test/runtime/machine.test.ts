/** Tests for the machine description recorded with results and printed by the bench. */
import { describe, expect, it } from "vitest";
import { machineInfo, vectorExtensions } from "../../src/runtime/machine.js";

describe("vectorExtensions", () => {
  it("names AVX2 and folds the AVX-512 subsets into one entry", () => {
    const zen5 =
      "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx fma avx2 avx512f avx512dq avx512bw avx512vl avx512_bf16 avx512_vnni\n";
    expect(vectorExtensions(zen5)).toEqual(["AVX", "AVX2", "FMA", "AVX-512 F/BW/DQ/VL/VNNI/BF16"]);
  });
  it("says nothing of AVX-512 on an AVX2 part, and reads ARM's Features line", () => {
    expect(vectorExtensions("flags : sse4_2 avx avx2 fma\n")).toEqual(["AVX", "AVX2", "FMA"]);
    expect(vectorExtensions("Features\t: fp asimd evtstrm sve sve2\n")).toEqual(["NEON", "SVE", "SVE2"]);
  });
  it("is empty where no flags can be read", () => {
    expect(vectorExtensions("")).toEqual([]);
  });
});

describe("machineInfo", () => {
  it("gives the onnxruntime-node version from the runtime itself, not a path into node_modules", () => {
    const m = machineInfo();
    expect(m.onnxruntime).toMatch(/^\d+\.\d+\.\d+/);
    expect(m.cpus).toBeGreaterThan(0);
  });
});
