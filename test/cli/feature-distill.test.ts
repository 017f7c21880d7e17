/**
 * kd distill --hints / --attention end to end: a resnet:8 student from a small cnn teacher on a few
 * hundred MNIST images; the hint's regressor trained, checkpointed and resumed, and absent from the export.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { cnn } from "../../src/nn/model.js";
import { decodeModel } from "../../src/onnx/proto.js";
import { readCheckpoint } from "../../src/train/checkpoint.js";
import { saveModel } from "../../src/train/forward.js";
import { train } from "../../src/train/trainer.js";
import { type CliResult, kdArgs } from "../helpers/cli.js";
import { labelsConfig } from "../helpers/config.js";
import { writeIdx } from "../helpers/idx-files.js";
import { mnistTest, mnistTrain } from "../helpers/mnist.js";

/** `kd ARGS` in a child process, awaited: a minute of training must not block the test worker's event loop. */
function kd(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const env = { ...process.env, KD_DEBUG: "" };
    execFile(process.execPath, kdArgs(args), { env, timeout: 120_000 }, (e, stdout, stderr) =>
      resolve({ code: e ? (typeof e.code === "number" ? e.code : -1) : 0, stdout, stderr }),
    );
  });
}

const tmp = mkdtempSync(join(tmpdir(), "kd-feature-distill-"));
const p = (f: string) => join(tmp, f);
const REGRESSOR = "hints(stage2.block1->t14)";

beforeAll(async () => {
  // A cnn:8,16 teacher: t9 is [8, 28, 28] after its first ReLU, t14 [16, 14, 14] after its second.
  const m = cnn([1, 28, 28], [8, 16], 10);
  const t = await train(labelsConfig(m, mnistTrain(500), { epochs: 1 }));
  saveModel(p("teacher.onnx"), m, t.params);
  writeIdx(mnistTest(300), p("test-x.idx"), p("test-y.idx"));
});

const args = (out: string, epochs: number, extra: readonly string[]) => [
  "distill",
  "--teacher",
  p("teacher.onnx"),
  "--arch",
  "resnet:8",
  "--epochs",
  String(epochs),
  "--count",
  "300",
  "--batch-size",
  "50",
  "--test",
  p("test-x.idx"),
  "--test-labels",
  p("test-y.idx"),
  "--out",
  p(out),
  "--log",
  p(`${out}.log`),
  "--cache-dir",
  p("cache"),
  "--json",
  ...extra,
];
const epochs = (log: string) =>
  readFileSync(p(log), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { epoch: number; parts: Record<string, number> });

describe("kd distill with feature terms", () => {
  it("--hints: the regressor trains with the student (the hint falls), is checkpointed and resumed, and is not exported", async () => {
    const ck = ["--checkpoint", p("h.ckpt"), "--keep-checkpoints"];
    const r = await kd(args("h.onnx", 2, ["--hints", "t14=stage2.block1", ...ck]));
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.teacher).toBe("cached (built)");
    expect(Object.keys(s.loss).sort()).toEqual(["hints.hint", "kd.hard", "kd.soft", "total"]);
    const log = epochs("h.onnx.log");
    expect(log[1]!.parts["hints.hint"]).toBeLessThan(log[0]!.parts["hints.hint"]!);
    // The checkpoint holds the 1×1 regressor from 32 channels to 16, and its optimizer state.
    const names = new Map([...readCheckpoint(p("h.ckpt")).tensors].map(([k, v]) => [k, v.length]));
    expect(names.get(`${REGRESSOR}.weight`)).toBe(16 * 32);
    expect(names.get(`${REGRESSOR}.bias`)).toBe(16);
    expect([...names.keys()].some((k) => k.startsWith("state/") && k.includes(REGRESSOR))).toBe(true);
    const exported = decodeModel(readFileSync(p("h.onnx"))).graph!;
    expect(exported.initializer.length).toBeGreaterThan(0);
    expect(exported.initializer.filter((t) => t.name.includes("hints"))).toEqual([]);
    expect(exported.input.map((i) => i.name)).toEqual(["input"]);
    // Its layers' outputs go by the names the hint used (kd summary --tensors lists them).
    expect(exported.node.flatMap((n) => n.output)).toContain("stage2.block1");
    // Resumed for a third epoch: the first two are the checkpoint's, not trained again.
    const again = await kd(args("h.onnx", 3, ["--hints", "t14=stage2.block1", ...ck, "--resume"]));
    expect(again.code, again.stderr).toBe(0);
    const resumed = epochs("h.onnx.log");
    expect(resumed.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(resumed.slice(0, 2)).toEqual(log);
  });

  it("--attention with crops runs the teacher live on every augmented batch", async () => {
    const r = await kd(
      args("a.onnx", 1, ["--attention", "t9=stage1.block1", "--crop", "2", "--no-checkpoint"]),
    );
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.teacher).toBe("run on every batch");
    expect(s.loss["attention.at"]).toBeGreaterThan(0);
    expect(Number.isFinite(s.testAccuracy)).toBe(true);
  });

  it("refuses features beyond the cap with one line, before training", async () => {
    const capped = await kd(args("c.onnx", 1, ["--hints", "t14=stage2.block1", "--feature-cap", "0.001"]));
    expect(capped.code).toBe(1);
    expect(capped.stderr.trim()).toMatch(
      /^kd: the teacher's features for 300 examples would take 3\.76 MB of memory, more than the feature cache's cap of 1\.07 MB: raise the cap \(--feature-cap <GiB>, featureCap in a spec\) or run the teacher on every batch instead \(--no-cache, cache: false\)$/,
    );
  });
});
