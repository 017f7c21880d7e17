/**
 * experiments/fashion-students.yaml in its smoke profile, end to end, on MNIST images written as the
 * IDX files the spec reads (Fashion-MNIST's own are a Debian package CI need not have): every run,
 * screen and analysis of the shipped spec must still plan, train and report.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSpec } from "../../src/experiment/load.js";
import { executeSpec } from "../../src/runner/execute.js";
import { writeIdx } from "../helpers/idx-files.js";
import { mnistTest, mnistTrain } from "../helpers/mnist.js";

describe("experiments/fashion-students.yaml (smoke profile)", () => {
  it("trains every run, picks every screen's setting and fills every summary row", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kd-fashion-smoke-"));
    const p = (f: string) => join(dir, f);
    writeIdx(mnistTrain(700), p("train-images"), p("train-labels"));
    writeIdx(mnistTest(200), p("test-images"), p("test-labels"));
    const loaded = loadSpec("experiments/fashion-students.yaml", {
      profile: "smoke",
      set: [
        `data.fashion-train.source.images=${p("train-images")}`,
        `data.fashion-train.source.labels=${p("train-labels")}`,
        `data.test.source.images=${p("test-images")}`,
        `data.test.source.labels=${p("test-labels")}`,
      ],
    });
    const r = await executeSpec(loaded, { outDir: p("out"), threads: 2 });
    // A teacher tensor or student layer renamed under the spec fails its runs: none may.
    expect(r.failed).toEqual({});
    const runs = new Set(Object.values(r.runs).map((x) => x.run));
    expect([...runs].sort()).toEqual(Object.keys(loaded.spec.runs).sort());
    for (const [name, a] of Object.entries(loaded.spec.analyses ?? {}))
      if (a.kind === "best") expect((r.analyses[name] as { best?: unknown }).best, name).toBeDefined();
    const points = (r.analyses.students as { points: Record<string, unknown> }).points;
    expect(Object.keys(points).sort()).toEqual(
      Object.keys((loaded.spec.analyses!.students as { runs: object }).runs).sort(),
    );
    const summary = readFileSync(p("out/report.md"), "utf8").split("## Runs")[0]!;
    const rows = summary.split("\n").filter((l) => /^\| (teacher|MobileNet|ResNet-8|MLP|CNN)/.test(l));
    expect(rows).toHaveLength(loaded.spec.report!.rows!.length);
    for (const row of rows) expect(row, row).toMatch(/\| -?[\d.]+%? \|$/);
  }, 240_000);
});
