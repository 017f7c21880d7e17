import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderHtml, renderMarkdown } from "../../src/report/index.js";
import { plan, reproduceMnist } from "../../src/repro/mnist.js";
import { PROFILES } from "../../src/repro/profiles.js";
import type { Results } from "../../src/repro/results.js";

const out = mkdtempSync(join(tmpdir(), "kd-repro-"));

describe("kd reproduce mnist, reduced profile end to end", () => {
  let results: Results;

  it("runs every experiment and writes results.json", async () => {
    const status: string[] = [];
    results = await reproduceMnist({ profile: PROFILES.smoke, outDir: out, onStatus: (m) => status.push(m) });
    const x = results.experiments;
    for (const key of [
      "teacher",
      "student",
      "distilled",
      "omit3",
      "only78",
      "temperatureSweep",
      "softRegularizer",
    ] as const)
      expect(x[key], key).toBeDefined();
    expect(JSON.parse(readFileSync(join(out, "results.json"), "utf8")).experiments.teacher.testErrors).toBe(
      x.teacher!.testErrors,
    );
    expect(existsSync(join(out, "teacher.onnx"))).toBe(true);
    expect(status.filter((s) => s.endsWith(": running"))).toHaveLength(7);
  });

  it("distillation beats the label-only student", () => {
    const { student, distilled, teacher } = results.experiments;
    expect(teacher!.testErrors).toBeLessThan(student!.testErrors);
    expect(distilled!.testErrors).toBeLessThan(student!.testErrors);
    expect(distilled!.gapClosed).toBeGreaterThan(0);
  });

  it("experiments 4 and 5 are scored on the test set at the given and the found shift", () => {
    const { omit3, only78 } = results.experiments;
    expect(omit3!.run.trainExamples).toBeLessThan(PROFILES.smoke.trainCount! - PROFILES.smoke.valCount);
    // Raising class 3's bias can only make more test 3s right.
    expect(omit3!.given.classErrors).toBeLessThanOrEqual(omit3!.unshifted.classErrors);
    expect(omit3!.given.shift).toBe(3.5);
    expect(only78!.given.shift).toBe(-7.6);
    // The search minimises validation errors, so it never does worse there than no shift.
    expect(omit3!.found.valErrors).toBeLessThanOrEqual(omit3!.found.valBaselineErrors);
    expect(only78!.found.valErrors).toBeLessThanOrEqual(only78!.found.valBaselineErrors);
  });

  it("the report has the summary beside the paper's numbers, and the plots", () => {
    const md = renderMarkdown(results);
    expect(md).toMatch(/\| experiment +\| paper +\| ours +\| gap/);
    for (const paper of ["67", "146", "74", "206", "47.3%"]) expect(md).toContain(paper);
    expect(md).toContain(String(results.experiments.distilled!.testErrors));
    const html = renderHtml(results);
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect((html.match(/<svg/g) ?? []).length).toBeGreaterThanOrEqual(4);
  });

  it("a rerun reuses finished experiments instead of training again", async () => {
    const status: string[] = [];
    const again = await reproduceMnist({
      profile: PROFILES.smoke,
      outDir: out,
      onStatus: (m) => status.push(m),
    });
    expect(status.filter((s) => s.includes("reusing"))).toHaveLength(7);
    expect(again.experiments.distilled!.testErrors).toBe(results.experiments.distilled!.testErrors);
  });

  it("--only runs an experiment and what it needs", () => {
    expect(plan(["distilled"])).toEqual(["teacher", "student", "distilled"]);
    expect(plan(["omit3"])).toEqual(["teacher", "omit3"]);
  });
});
