import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSpec } from "../../src/experiment/load.js";
import { executeSpec } from "../../src/runner/execute.js";

describe("experiments/temperature-sweep.yaml (smoke profile)", () => {
  it("runs every grid cell over every seed and reports mean ± std per cell", async () => {
    const out = mkdtempSync(join(tmpdir(), "kd-sweep-"));
    const r = await executeSpec(loadSpec("experiments/temperature-sweep.yaml", { profile: "smoke" }), {
      outDir: out,
    });
    expect(Object.keys(r.runs).sort()).toEqual([
      "labels@s1",
      "labels@s2",
      "student[temperature=1,softWeight=0.5]@s1",
      "student[temperature=1,softWeight=0.5]@s2",
      "student[temperature=4,softWeight=0.5]@s1",
      "student[temperature=4,softWeight=0.5]@s2",
      "teacher",
    ]);
    const md = readFileSync(join(out, "report.md"), "utf8");
    for (const T of [1, 4]) {
      const recs = [1, 2].map((s) => r.runs[`student[temperature=${T},softWeight=0.5]@s${s}`]!.test!.errors);
      const mean = (recs[0]! + recs[1]!) / 2;
      const std = Math.abs(recs[0]! - recs[1]!) / Math.SQRT2;
      expect(md).toContain(
        `| student[temperature=${T},softWeight=0.5] | mlp:100 | soft targets T=${T} (w=0.5) | 1000 | 2 | 2 | ${mean.toFixed(1)} ± ${std.toFixed(1)} of 500 |`,
      );
    }
    const best = r.analyses["best-T-w0.5"] as {
      best: number;
      points: { x: number; y: { values: number[] } }[];
    };
    expect([1, 4]).toContain(best.best);
    // The analysis name holds a dot: its summary rows show its numbers, and the smoke profile's
    // dropped analysis takes its rows with it.
    expect(md).toContain(`| best T at w = 0.5 | ${best.best} |`);
    expect(md).not.toContain("best T at w = 0.9");
    expect(best.points.map((p) => p.y.values.length)).toEqual([2, 2]);
  });
});
