/** Tests for runs of one spec that share their settings (one fingerprint): each keeps its own name, and the training time counts once. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DataCatalog } from "../../src/data/sources.js";
import { loadSpec } from "../../src/experiment/load.js";
import { executeSpec } from "../../src/runner/execute.js";
import { LocalRunner, type Runner } from "../../src/runner/local.js";
import { tinySpec, writeSpec } from "../helpers/specs.js";

describe("two runs with the same settings", () => {
  it("are recorded under their own names even when a runner answers with the other's record", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "kd-shared-"));
    const same = { model: { kind: "mlp", hidden: [16] }, epochs: 2, seed: 1 };
    const loaded = loadSpec(writeSpec(tmp, tinySpec({ runs: { chosen: same, "screen-point": same } })));
    const local = new LocalRunner(new DataCatalog(loaded.spec.data, loaded.baseDir));
    // A shared store answers a fingerprint it already holds with the record of whichever run made it.
    let first: Awaited<ReturnType<Runner["run"]>> | undefined;
    const runner: Runner = {
      async run(task, listener) {
        first ??= await local.run(task, listener);
        return first;
      },
    };
    const res = await executeSpec(loaded, { outDir: join(tmp, "out"), runner });
    expect(Object.keys(res.runs).sort()).toEqual(["chosen", "screen-point"]);
    for (const name of ["chosen", "screen-point"]) {
      expect(res.runs[name]!.id).toBe(name);
      expect(res.runs[name]!.run).toBe(name);
    }
    expect(res.runs.chosen!.fingerprint).toBe(res.runs["screen-point"]!.fingerprint);
    expect(res.totalSeconds).toBe(first!.seconds);
  });
});

describe("the in-process runner", () => {
  /** A spec of two runs with the same settings: a screen's point, and the winner declared again. */
  const twins = () => {
    const tmp = mkdtempSync(join(tmpdir(), "kd-twin-"));
    const same = { model: { kind: "mlp", hidden: [16] }, epochs: 2, seed: 1 };
    const loaded = loadSpec(writeSpec(tmp, tinySpec({ runs: { "screen-point": same, chosen: same } })));
    return { loaded, out: join(tmp, "out") };
  };

  it("trains a run whose settings match an earlier run's once, and gives it its own model file", async () => {
    const { loaded, out } = twins();
    const events: string[] = [];
    const res = await executeSpec(loaded, { outDir: out, onEvent: (e) => events.push(`${e.kind}`) });
    expect(events.filter((k) => k === "start")).toHaveLength(1);
    expect(events.filter((k) => k === "reuse")).toHaveLength(1);
    expect(res.runs.chosen!.test!.errors).toBe(res.runs["screen-point"]!.test!.errors);
    expect(res.runs.chosen!.model).toBe(join("models", "chosen.onnx"));
    expect(readFileSync(join(out, "models", "chosen.onnx"))).toEqual(
      readFileSync(join(out, "models", "screen-point.onnx")),
    );
    expect(res.totalSeconds).toBe(res.runs["screen-point"]!.seconds);
  });

  it("trains the later run after all when the earlier run's model file is gone", async () => {
    const { loaded, out } = twins();
    const starts: string[] = [];
    const res = await executeSpec(loaded, {
      outDir: out,
      onEvent: (e) => {
        if (e.kind === "start") starts.push(e.run.id);
        if (e.kind === "done" && e.run.id === "screen-point")
          rmSync(join(out, "models", "screen-point.onnx"));
      },
    });
    expect(starts).toEqual(["screen-point", "chosen"]);
    expect(existsSync(join(out, "models", "chosen.onnx"))).toBe(true);
    expect(res.runs.chosen!.test!.errors).toBe(res.runs["screen-point"]!.test!.errors);
  });
});
