/** The optimizer registry: every optimizer has its graph rule and its parameters, and owns its per-step scalars. */
import { describe, expect, it } from "vitest";
import { DEFAULT_OPTIMIZER, OPTIMIZER_NAMES, stateSlots, stepScalars } from "../../src/optim/optimizers.js";
import { OPTIMIZERS, optimizerConfig } from "../../src/optim/registry.js";
import { kd } from "../helpers/cli.js";

describe("optimizer registry", () => {
  it("names the same optimizers in the graph rules and the parameter registry", () => {
    expect(Object.keys(OPTIMIZERS).sort()).toEqual([...OPTIMIZER_NAMES].sort());
    for (const name of OPTIMIZER_NAMES)
      expect(stateSlots(optimizerConfig({ kind: name })).length).toBeGreaterThan(0);
  });

  it("Adam's entry computes its bias corrections on the host, in float64", () => {
    const cfg = { ...DEFAULT_OPTIMIZER, name: "adam" as const, beta1: 0.8, beta2: 0.99 };
    for (const t of [1, 2, 7, 1000])
      expect(stepScalars(cfg, t)).toEqual({ c1: 1 / (1 - 0.8 ** t), c2: 1 / (1 - 0.99 ** t) });
  });

  it("kd's --optimizer choices are the registry's keys", () => {
    const help = kd(["train", "--help"]).stdout.replace(/\s+/g, " ");
    expect(help).toContain(
      `choices: ${Object.keys(OPTIMIZERS)
        .map((k) => `"${k}"`)
        .join(", ")}`,
    );
  });
});
