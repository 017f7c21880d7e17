/** A rerun into the same output folder reuses a finished run only while its model file is the one results.json describes. */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSpec } from "../../src/experiment/load.js";
import { executeSpec, type RunEvent } from "../../src/runner/execute.js";
import { tinySpec, writeSpec } from "../helpers/specs.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-reuse-digest-"));
const specFile = writeSpec(
  tmp,
  tinySpec({
    name: "reuse",
    runs: {
      teacher: { model: { kind: "mlp", hidden: [16] }, epochs: 2, seed: 1 },
      distilled: {
        model: { kind: "mlp", hidden: [8] },
        teachers: ["teacher"],
        objective: { kind: "kd", temperature: 4, softWeight: 0.7 },
        epochs: 1,
        seed: 3,
      },
    },
  }),
);

async function run(out: string) {
  const events: RunEvent[] = [];
  const results = await executeSpec(loadSpec(specFile), {
    outDir: out,
    threads: 1,
    onEvent: (e) => events.push(e),
  });
  const ids = (kind: string) => events.flatMap((e) => (e.kind === kind && "run" in e ? [e.run.id] : []));
  return {
    results,
    started: ids("start"),
    reused: ids("reuse"),
    notes: events.flatMap((e) => (e.kind === "note" ? [e.message] : [])),
  };
}

describe("reusing finished runs of an output folder", () => {
  it("a model file changed since its run is trained again, with a note naming it; the others are reused", async () => {
    const out = join(tmp, "flipped");
    await run(out);
    const model = join(out, "models", "teacher.onnx");
    const original = readFileSync(model);
    const flipped = Buffer.from(original);
    flipped[flipped.length >> 1]! ^= 1;
    writeFileSync(model, flipped);
    const r = await run(out);
    expect(r.notes).toEqual([`${model} does not match the digest in results.json: training teacher again`]);
    expect(r.started).toEqual(["teacher"]);
    expect(r.reused).toEqual(["distilled"]);
    expect(readFileSync(model).equals(original)).toBe(true);
  });

  it("results written before kd recorded digests are reused as found, and record them from then on", async () => {
    const out = join(tmp, "older");
    const first = await run(out);
    const path = join(out, "results.json");
    const older = JSON.parse(readFileSync(path, "utf8"));
    for (const rec of Object.values(older.runs) as { modelSha256?: string }[]) delete rec.modelSha256;
    writeFileSync(path, JSON.stringify(older));
    const r = await run(out);
    expect(r.started).toEqual([]);
    expect(r.reused.sort()).toEqual(["distilled", "teacher"]);
    for (const id of ["teacher", "distilled"]) {
      expect(r.results.runs[id]!.modelSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(r.results.runs[id]!.modelSha256).toBe(first.results.runs[id]!.modelSha256);
    }
  });

  it("a run whose twin (same settings) finished with a model file changed since trains instead of copying it", async () => {
    const dir = mkdtempSync(join(tmp, "twin-"));
    const same = { model: { kind: "mlp", hidden: [16] }, epochs: 2, seed: 1 };
    const loaded = loadSpec(writeSpec(dir, tinySpec({ runs: { "screen-point": same, chosen: same } })));
    const out = join(dir, "out");
    const starts: string[] = [];
    let original = Buffer.alloc(0);
    await executeSpec(loaded, {
      outDir: out,
      threads: 1,
      onEvent: (e) => {
        if (e.kind === "start") starts.push(e.run.id);
        if (e.kind === "done" && e.run.id === "screen-point") {
          const model = join(out, "models", "screen-point.onnx");
          original = readFileSync(model);
          const flipped = Buffer.from(original);
          flipped[flipped.length >> 1]! ^= 1;
          writeFileSync(model, flipped);
        }
      },
    });
    expect(starts).toEqual(["screen-point", "chosen"]);
    expect(readFileSync(join(out, "models", "chosen.onnx")).equals(original)).toBe(true);
  });
});
