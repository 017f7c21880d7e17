import { describe, expect, it } from "vitest";
import { runSchema } from "../../src/experiment/schema.js";

const base = { model: { kind: "mlp", hidden: [8] }, train: "train", test: "test", lr: 0.1, epochs: 1 };
const issue = (run: Record<string, unknown>) => {
  const r = runSchema.safeParse({ ...base, ...run });
  return r.success ? undefined : r.error.issues.map((i) => i.message).join("; ");
};

describe("the rules between a run's fields live in the run schema (every path parses a run with it)", () => {
  it("early stopping watches the val dataset, never the test set", () => {
    expect(issue({ earlyStop: 2 })).toMatch(/earlyStop needs a val dataset to watch/);
    expect(issue({ earlyStop: 2, val: "val", evalEach: "test" })).toMatch(/evalEach must be val/);
    expect(issue({ earlyStop: 2, val: "val" })).toBeUndefined();
  });
  it("evalEach val needs a val dataset", () => {
    expect(issue({ evalEach: "val" })).toMatch(/evalEach val needs a val dataset/);
  });
  it("an objective with a teacher needs teachers, one without takes none", () => {
    expect(issue({ objective: { kind: "kd", temperature: 4, softWeight: 0.5 } })).toMatch(/needs teachers/);
    expect(issue({ teachers: ["t.onnx"] })).toMatch(/the ce objective takes no teachers/);
  });
});
