/** `kd summary --tensors`: the table of a model's intermediate tensors, its --json form, and refusals. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { initParam } from "../../src/nn/layers.js";
import { cnn } from "../../src/nn/model.js";
import { listTensors } from "../../src/runtime/tensors.js";
import "../../src/runtime/node.js";
import { saveModel } from "../../src/train/forward.js";
import { Rng } from "../../src/util/rng.js";
import { kd } from "../helpers/cli.js";
import { writeForeignConvNet } from "../helpers/onnx-files.js";

const dir = mkdtempSync(join(tmpdir(), "kd-cli-tensors-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("kd summary --tensors", () => {
  it("prints a kd cnn's tensors with their ops and shapes", () => {
    const path = join(dir, "cnn.onnx");
    const m = cnn([1, 28, 28], [4, 8], 10);
    const rng = new Rng(2);
    saveModel(path, m, new Map(m.params.map((p) => [p.name, initParam(p, rng)])));
    const r = kd(["summary", "--tensors", "--threads", "1", path]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines.slice(0, 4)).toEqual([
      `${path}: input input [N, 1, 28, 28], 13 intermediate tensors`,
      "tensor  op         type     shape",
      "t7      Conv       float32  [N, 4, 28, 28]",
      "t8      Add        float32  [N, 4, 28, 28]",
    ]);
    // Each block's output goes by the layer's name, as feature objectives call it.
    expect(lines).toContain("conv1   ReduceMax  float32  [N, 4, 14, 14]");
    expect(lines).toContain("conv2   ReduceMax  float32  [N, 8, 7, 7]");
    expect(lines.at(-1)).toBe("logits  Add        float32  [N, 10]");
    expect(lines).toHaveLength(15);
  });

  it("--json parses to the same list as the library's", async () => {
    const path = join(dir, "foreign.onnx");
    writeForeignConvNet(path);
    const r = kd(["summary", "--tensors", "--json", "--threads", "1", path]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(await listTensors(path, { threads: 1 }));
    expect(JSON.parse(r.stdout).tensors[4]).toEqual({ name: "/split/seq", op: "SplitToSequence" });
  });

  it("a file that is not an ONNX model, and --compare, are refused in one line", () => {
    const path = join(dir, "notes.onnx");
    writeFileSync(path, "these are my notes\n");
    const r = kd(["summary", "--tensors", path]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^kd: \S*notes\.onnx: not an ONNX model \([^\n]*\)\n$/);
    const c = kd(["summary", "--tensors", "--compare", path, path]);
    expect(c.stderr).toBe("kd: --tensors lists one model's tensors; leave out --compare\n");
    expect(c.code).toBe(1);
  });
});
