/** A checkpoint resumes only under its run's identity: a longer run resumes, other settings are refused in one line. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { kd } from "../helpers/cli.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-resume-identity-"));
const p = (name: string) => join(tmp, name);
const base = ["train", "--arch", "mlp:50", "--count", "2000", "--no-progress", "--keep-checkpoints"];
const args = (...more: string[]) => [...base, "--checkpoint", p("ck.bin"), "--out", p("m.onnx"), ...more];

describe("--resume and the run's identity", () => {
  it("refuses to resume an unstandardised checkpoint with --standardize, naming it; resumes a longer run of the same settings", () => {
    const first = kd(args("--epochs", "2"));
    expect(first.code, first.stderr).toBe(0);

    const standardised = kd(args("--standardize", "--resume", "--epochs", "4"));
    expect(standardised.code).toBe(1);
    const lines = standardised.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /ck\.bin belongs to a run with other settings \(standardize: true now, unset in the checkpoint\)/,
    );

    const longer = kd(args("--resume", "--epochs", "4"));
    expect(longer.code, longer.stderr).toBe(0);
    expect(longer.stderr).toContain("resumed from epoch 2 of 4");
  }, 120_000);
});
