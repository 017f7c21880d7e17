import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cnn, mlp } from "../../src/nn/model.js";
import { checkModel } from "../../src/onnx/check.js";
import { decodeModel } from "../../src/onnx/proto.js";
import { OnnxClassifier } from "../../src/runtime/classifier.js";
import { Forward, saveModel } from "../../src/train/forward.js";
import { train } from "../../src/train/trainer.js";
import { labelsConfig } from "../helpers/config.js";
import { mnistTest, mnistTrain } from "../helpers/mnist.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-export-"));

/** The official checker, when Debian's python3-onnx is installed (it is not a dependency). */
function officialCheck(path: string): string | undefined {
  const r = spawnSync(
    "/usr/bin/python3",
    ["-c", "import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)", path],
    {
      encoding: "utf8",
    },
  );
  if (r.error || /No module named/.test(r.stderr)) return undefined;
  return r.status === 0 ? "ok" : r.stderr.trim().split("\n").at(-1);
}

describe("export round trip", () => {
  for (const [name, model] of [
    ["mlp", mlp(784, [64, 32], 10, { inputDropout: 0.2, hiddenDropout: 0.5 })],
    ["cnn", cnn(28, [4, 8], 10)],
  ] as const) {
    it(`${name}: train, export, reload in a fresh session, same logits`, async () => {
      const res = await train(labelsConfig(model, mnistTrain(512), { batchSize: 64 }));
      const path = join(tmp, `${name}.onnx`);
      saveModel(path, model, res.params);
      const proto = decodeModel(readFileSync(path));
      expect(checkModel(proto)).toEqual([]);
      expect(proto.graph!.input.map((i) => i.name)).toEqual(["input"]);
      expect(proto.graph!.output.map((o) => o.name)).toEqual(["logits"]);
      const official = officialCheck(path);
      if (official !== undefined) expect(official).toBe("ok");

      const test = mnistTest(300);
      const fwd = await Forward.compile(model);
      const live = await fwd.logits(res.params, test.x, test.n);
      const clf = await OnnxClassifier.load(path);
      expect(clf.exampleShape).toEqual(model.inputShape);
      const loaded = await clf.logits(test.x, test.n, 128);
      expect(loaded.length).toBe(live.length);
      let maxDiff = 0;
      for (let i = 0; i < live.length; i++) maxDiff = Math.max(maxDiff, Math.abs(live[i]! - loaded[i]!));
      expect(maxDiff).toBeLessThan(1e-4);
      // Dropout is off at inference: two runs agree exactly.
      expect(Array.from(await clf.logits(test.x, test.n))).toEqual(Array.from(loaded));
      await Promise.all([clf.release(), fwd.release()]);
    });
  }

  it("the structural checker catches a node that reads an undefined value", () => {
    const proto = decodeModel(readFileSync(join(tmp, "mlp.onnx")));
    proto.graph!.node[0]!.input[0] = "nowhere";
    expect(checkModel(proto).join("\n")).toMatch(/reads "nowhere" before it is defined/);
  });

  it("a file that is not ONNX is one clear error", async () => {
    const bad = join(tmp, "bad.onnx");
    writeFileSync(bad, "this is not a protobuf");
    await expect(OnnxClassifier.load(bad)).rejects.toThrow(/bad\.onnx: not an ONNX model/);
  });
});
