/** Tests for the spec progress printer: epoch lines name their run while several runs are in flight. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { epochLine, progressPrinter } from "../../src/cli/progress.js";
import type { RunEvent } from "../../src/runner/execute.js";

afterEach(() => vi.restoreAllMocks());

const run = (id: string) => ({ id, point: {}, spec: { epochs: 2 } }) as never;
const epoch = (n: number, seconds = 1) =>
  ({ epoch: n, loss: 0.5, parts: { ce: 0.5 }, trainAccuracy: 0.9, evalErrors: 10, seconds }) as never;

describe("progress lines", () => {
  it("name the run when two are in flight, and not when one is", () => {
    const lines: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((s) => {
      lines.push(String(s).trimEnd());
      return true;
    });
    const p = progressPrinter({ bar: false });
    const a = run("teacher[lr=0.03]");
    const b = run("teacher[lr=0.1]");
    const events: RunEvent[] = [
      { kind: "start", index: 1, total: 2, run: a },
      { kind: "start", index: 2, total: 2, run: b },
      { kind: "epoch", index: 1, total: 2, run: a, epoch: epoch(1) },
      { kind: "epoch", index: 2, total: 2, run: b, epoch: epoch(1) },
      { kind: "done", index: 1, total: 2, run: a, seconds: 2 },
      { kind: "epoch", index: 2, total: 2, run: b, epoch: epoch(2) },
    ];
    for (const e of events) p.event(e);
    const epochs = lines.filter((l) => l.includes("epoch "));
    expect(epochs[0]).toMatch(/^\s+\[1\/2\] teacher\[lr=0\.03\] epoch 1\/2/);
    expect(epochs[1]).toMatch(/^\s+\[2\/2\] teacher\[lr=0\.1\] epoch 1\/2/);
    expect(epochs[2]).toMatch(/^\s+epoch 2\/2/);
  });

  it("print the spec ETA rounded into the next minute, never as 60 seconds", () => {
    const lines: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((s) => {
      lines.push(String(s).trimEnd());
      return true;
    });
    const p = progressPrinter({ bar: false });
    const a = { id: "student", point: {}, spec: { epochs: 101 } } as never;
    p.event({ kind: "plan", runs: [a, run("teacher")], reused: [] } as never);
    p.event({ kind: "start", index: 1, total: 2, run: a });
    // 103 epochs planned; after the third, 100 are left at 5.996 s each: 599.6 s.
    p.event({ kind: "epoch", index: 1, total: 2, run: a, epoch: epoch(1, 5.996) });
    p.event({ kind: "epoch", index: 1, total: 2, run: a, epoch: epoch(2, 5.996) });
    p.event({ kind: "epoch", index: 1, total: 2, run: a, epoch: epoch(3, 5.996) });
    expect(lines.at(-1)).toMatch(/spec ETA 10m00s$/);
    expect(lines.join("\n")).not.toMatch(/60s/);
  });

  it("show the eval set's loss beside its errors and the learning rate, and mark a diverged epoch", () => {
    const e = {
      epoch: 3,
      loss: 0.5,
      parts: { ce: 0.5 },
      trainAccuracy: 0.1,
      evalErrors: 900,
      evalAccuracy: 0.1,
      evalLoss: 1.23456,
      lr: 0.0125,
      momentum: 0.9,
      seconds: 1.5,
      examplesPerSec: 1000,
      diverged: true,
    } as const;
    expect(epochLine(e, 20, "val")).toBe(
      "epoch 3/20 - loss 0.5000 - acc 10.00% - val errors 900 - val loss 1.2346 - lr 0.0125 - 1.5s - diverged (accuracy at chance)",
    );
  });
});
