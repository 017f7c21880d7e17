import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadSpec } from "../../src/experiment/load.js";
import { executeSpec, type RunEvent } from "../../src/runner/execute.js";
import { type SpecDoc, tinySpec, writeSpec } from "../helpers/specs.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-resume-"));
const bin = fileURLToPath(new URL("../../src/cli/bin.ts", import.meta.url));
const lines = (p: string) =>
  existsSync(p) ? readFileSync(p, "utf8").trim().split("\n").filter(Boolean).length : 0;

// Enough epochs that the kill lands mid-run however late the poller wakes: a tiny epoch takes
// milliseconds, and with 3 of them a loaded machine let the run finish before the kill.
const EPOCHS = 40;

describe("a multi-run spec killed in the middle resumes", () => {
  const spec: SpecDoc = tinySpec();
  spec.runs.distilled.epochs = EPOCHS;
  const specFile = writeSpec(tmp, spec);

  it("SIGKILL during the second run: the rerun reuses the first, resumes the second from its checkpoint, and ends bit-identical", async () => {
    const killed = join(tmp, "killed");
    const child = spawn(
      process.execPath,
      ["--import", "tsx", bin, "run", specFile, "--out", killed, "--threads", "2", "--no-progress"],
      {
        stdio: "ignore",
      },
    );
    // Wait until the second run (distilled, after its teacher) has checkpointed one epoch, then
    // kill. The log line is written just before the checkpoint: on a loaded machine a kill between
    // the two left no checkpoint, and the rerun rightly trained all epochs again.
    const log = join(killed, "logs", "distilled.jsonl");
    const ckpt = join(killed, "ckpt");
    const checkpointed = () =>
      existsSync(ckpt) && readdirSync(ckpt).some((f) => f.startsWith("distilled-") && f.endsWith(".ckpt"));
    const t0 = Date.now();
    while ((lines(log) < 1 || !checkpointed()) && Date.now() - t0 < 100_000 && child.exitCode === null)
      await new Promise((r) => setTimeout(r, 25));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("close", r));
    expect(lines(log)).toBeGreaterThanOrEqual(1);
    expect(lines(log)).toBeLessThan(EPOCHS);

    const events: RunEvent[] = [];
    const resumed = await executeSpec(loadSpec(specFile), {
      outDir: killed,
      threads: 2,
      onEvent: (e) => events.push(e),
    });
    expect(
      events.filter((e) => e.kind === "reuse").map((e) => (e as { run: { id: string } }).run.id),
    ).toEqual(["teacher"]);
    expect(
      events.filter((e) => e.kind === "start").map((e) => (e as { run: { id: string } }).run.id),
    ).toEqual(["distilled", "student"]);
    // The resumed run trained only the epochs the kill took from it.
    const distilledEpochs = events.filter((e) => e.kind === "epoch" && e.run.id === "distilled").length;
    expect(distilledEpochs).toBeLessThan(EPOCHS);

    const clean = join(tmp, "clean");
    const fresh = await executeSpec(loadSpec(specFile), { outDir: clean, threads: 2 });
    for (const id of ["teacher", "distilled", "student"]) {
      expect(resumed.runs[id]!.test, id).toEqual(fresh.runs[id]!.test);
      expect(
        readFileSync(join(killed, resumed.runs[id]!.model!)).equals(
          readFileSync(join(clean, fresh.runs[id]!.model!)),
        ),
        id,
      ).toBe(true);
    }
    // Each run is recorded once, and finished runs leave no checkpoint behind.
    expect(Object.keys(resumed.runs).sort()).toEqual(["distilled", "student", "teacher"]);
    expect(readdirSync(join(killed, "ckpt"))).toEqual([]);
  });
});
