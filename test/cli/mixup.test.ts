/** `kd distill --mixup`: written into the run's augment setting, the teacher run live, refused in one line where it cannot apply. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { kd } from "../helpers/cli.js";
import { randomLinearClassifier } from "../helpers/onnx-files.js";

const dir = mkdtempSync(join(tmpdir(), "kd-mixup-"));
const teacher = randomLinearClassifier(join(dir, "t.onnx"), 1);
const args = (...more: string[]) => [
  "distill",
  ...["--teacher", teacher, "--teacher-output", "scores", "--mnist", "--no-progress"],
  ...["--count", "128", "--epochs", "1", "--arch", "mlp:16", "--out", join(dir, "s.onnx")],
  ...more,
];
const oneLine = (stderr: string) => stderr.trim().split("\n");

describe("kd distill --mixup", () => {
  it("refuses a negative alpha, and labels in the objective, each in one line", () => {
    const negative = kd(args("--mixup", "-1"));
    expect(negative.code).not.toBe(0);
    expect(oneLine(negative.stderr)).toHaveLength(1);
    expect(negative.stderr).toMatch(/--mixup.*-1/);
    const labels = kd(args("--mixup", "1"));
    expect(labels.code).toBe(1);
    expect(oneLine(labels.stderr)).toEqual([
      "kd: mixup is function matching: mixed images have no label, and the kd objective here uses labels (give the labels no weight, e.g. --soft-weight 1, or --unlabeled)",
    ]);
  });

  it("is the run's augment.mixup (absent at 0), and trains with the teacher on every batch", () => {
    const spec = kd(args("--mixup", "0.5", "--soft-weight", "1", "--print-spec"));
    expect(spec.code, spec.stderr).toBe(0);
    expect(spec.stdout).toMatch(/augment:\n\s+crop: 0\n\s+flip: false\n\s+mixup: 0.5\n/);
    expect(kd(args("--mixup", "0", "--print-spec")).stdout).not.toContain("augment");
    const run = kd(args("--mixup", "1", "--soft-weight", "1", "--json"));
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout.trim().split("\n").at(-1)!);
    expect(summary.teacher).toBe("run on every batch");
    expect(summary.loss.hard).toBe(0);
  });
});
