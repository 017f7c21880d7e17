/** A failed run's epoch log: kept only when its message says where, an empty one removed. */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSpec } from "../../src/experiment/load.js";
import { executeSpec } from "../../src/runner/execute.js";
import { tinySpec, writeSpec } from "../helpers/specs.js";

describe("a run that fails on bad input", () => {
  it("names the epoch log it leaves behind, and leaves none when it logged no epoch", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "kd-failed-log-"));
    const mlp = { model: { kind: "mlp", hidden: [8] }, seed: 1 };
    const spec = tinySpec({
      name: "failing",
      runs: {
        // Fine for one epoch, then the learning rate jumps a million-fold.
        late: { ...mlp, epochs: 3, lrSchedule: { kind: "exp", factor: 1e30 } },
        early: { model: { kind: "mlp", hidden: [64, 64, 64] }, seed: 1, epochs: 2, lr: 100, batchSize: 10 },
      },
    });
    const out = join(tmp, "out");
    const res = await executeSpec(loadSpec(writeSpec(tmp, spec)), { outDir: out, threads: 1 });
    const lateLog = join(out, "logs", "late.jsonl");
    expect(res.failed.late).toContain(`its epochs so far are logged in ${lateLog}`);
    expect(readFileSync(lateLog, "utf8").trim().split("\n")).toHaveLength(1);
    expect(res.failed.early).toBeDefined();
    expect(res.failed.early).not.toContain("logged in");
    expect(existsSync(join(out, "logs", "early.jsonl"))).toBe(false);
  });
});
