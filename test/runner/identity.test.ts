import { describe, expect, it } from "vitest";
import { runSchema } from "../../src/experiment/schema.js";
import { checkpointIdentity, type RunIdentity } from "../../src/runner/identity.js";
import { checkResumable } from "../../src/train/checkpoint.js";

const run = (more: Record<string, unknown> = {}, data: Partial<RunIdentity["data"]> = {}): RunIdentity => ({
  version: 2,
  settings: runSchema.parse({ model: { kind: "mlp", hidden: [8] }, train: "t", lr: 0.1, epochs: 2, ...more }),
  data: { train: "aaaa", test: null, val: null, ...data },
  teachers: [],
});
const key = (id: RunIdentity) => checkpointIdentity(id).key;

describe("the checkpoint's identity", () => {
  it("is the run's less the epoch count, unless the learning-rate schedule stretches with it", () => {
    expect(key(run({ epochs: 4 }))).toBe(key(run()));
    const cosine = { lrSchedule: { kind: "cosine" } };
    expect(key(run({ ...cosine, epochs: 4 }))).not.toBe(key(run(cosine)));
  });

  it("leaves out data only evaluated: the test set always, the validation set unless early stopping watches it", () => {
    expect(key(run({ test: "x", evalEach: "test" }, { test: "bbbb" }))).toBe(key(run()));
    expect(key(run({ val: "v" }, { val: "cccc" }))).toBe(key(run({ val: "w" }, { val: "dddd" })));
    const early = { val: "v", earlyStop: 2 };
    expect(key(run(early, { val: "cccc" }))).not.toBe(key(run(early, { val: "dddd" })));
  });

  it("keeps what shapes the trained weights: standardisation, the training data, the seed, the teachers", () => {
    const k = key(run());
    expect(key(run({ standardize: true }))).not.toBe(k);
    expect(key(run({}, { train: "bbbb" }))).not.toBe(k);
    expect(key(run({ seed: 2 }))).not.toBe(k);
    expect(key({ ...run(), teachers: [["0123456789abcdef"]] })).not.toBe(k);
  });
});

describe("checkResumable", () => {
  const header = (fingerprint: string, identity?: Record<string, unknown>) => ({
    fingerprint,
    ...(identity ? { identity } : {}),
    epoch: 1,
    step: 1,
    rng: [1, 2, 3, 4] as [number, number, number, number],
    history: [],
    tensors: [],
  });
  const before = checkpointIdentity(run());
  const now = checkpointIdentity(run({ standardize: true, seed: 3 }));

  it("resumes the same key", () => {
    expect(() =>
      checkResumable("ck", header(before.key, before.fields), before.key, before.fields),
    ).not.toThrow();
  });

  it("names every field that differs, in one line", () => {
    expect(() => checkResumable("ck", header(before.key, before.fields), now.key, now.fields)).toThrow(
      "ck belongs to a run with other settings (standardize: true now, unset in the checkpoint; seed: 3 now, 1 in the checkpoint); remove it to start afresh",
    );
  });

  it("refuses a checkpoint without fields (an older kd's) with the plain message", () => {
    expect(() => checkResumable("ck", header("0123"), now.key, now.fields)).toThrow(
      /^ck belongs to a run with other settings; remove it to start afresh$/,
    );
  });
});
