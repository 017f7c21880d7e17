/** Tests for baked preprocessing: the baked model on raw values gives the original's logits on preprocessed ones. */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  bakePreprocessing,
  parseScale,
  readPreprocessing,
  recordPreprocessing,
} from "../../src/deploy/preprocess.js";
import { initParam } from "../../src/nn/layers.js";
import { cnn, mlp } from "../../src/nn/model.js";
import { checkModel } from "../../src/onnx/check.js";
import { decodeModel, encodeModel } from "../../src/onnx/proto.js";
import { OnnxClassifier } from "../../src/runtime/classifier.js";
import { saveModel } from "../../src/train/forward.js";
import { KdError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";
import { kd } from "../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "kd-bake-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function officialCheck(path: string): string | undefined {
  const r = spawnSync(
    "/usr/bin/python3",
    ["-c", "import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)", path],
    { encoding: "utf8" },
  );
  if (r.error || /No module named/.test(r.stderr)) return undefined;
  return r.status === 0 ? "ok" : r.stderr.trim().split("\n").at(-1);
}

async function logits(path: string, x: Float32Array, n: number): Promise<Float32Array> {
  const clf = await OnnxClassifier.load(path);
  const z = await clf.logits(x, n);
  await clf.release();
  return z;
}

describe("bake-preprocessing", () => {
  const rng = new Rng(5);
  for (const [name, model, mean, std] of [
    ["rgb cnn", cnn([3, 8, 8], [4], 5), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]],
    ["mlp", mlp(12, [6], 3), [0.5], [0.25]],
  ] as const) {
    it(`${name}: raw values through the baked model = preprocessed values through the original`, async () => {
      const path = join(dir, `${name}.onnx`);
      saveModel(path, model, new Map(model.params.map((p) => [p.name, initParam(p, rng)])));
      const pre = { scale: 1 / 255, mean: [...mean], std: [...std] };
      const baked = bakePreprocessing(decodeModel(readFileSync(path)), pre);
      expect(checkModel(baked)).toEqual([]);
      const bakedPath = join(dir, `${name}.baked.onnx`);
      writeFileSync(bakedPath, encodeModel(baked));
      const official = officialCheck(bakedPath);
      if (official !== undefined) expect(official).toBe("ok");
      expect(readPreprocessing(baked)).toEqual({ ...pre, baked: true });

      const n = 4;
      const f = model.inputShape.reduce((a, b) => a * b, 1);
      const raw = Float32Array.from({ length: n * f }, () => rng.int(256));
      const c = model.inputShape.length === 3 ? model.inputShape[0]! : 1;
      const plane = f / c;
      const y = raw.map((v, i) => {
        const ch = mean.length === 1 ? 0 : Math.floor(i / plane) % c;
        return (v / 255 - mean[ch]!) / std[ch]!;
      });
      const want = await logits(path, y, n);
      const got = await logits(bakedPath, raw, n);
      got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 4));
      expect(() => bakePreprocessing(baked, pre)).toThrow(/already baked/);
    });
  }

  it("refuses per-channel values that do not match the channels; records without baking; parses scales", () => {
    const m = cnn([3, 4, 4], [2], 2);
    const path = join(dir, "c3.onnx");
    saveModel(path, m, new Map(m.params.map((p) => [p.name, initParam(p, new Rng(1))])));
    const proto = decodeModel(readFileSync(path));
    expect(() => bakePreprocessing(proto, { scale: 1, mean: [0.1, 0.2] })).toThrow(KdError);
    expect(() => bakePreprocessing(proto, { scale: 1, mean: [0.1, 0.2] })).toThrow(
      /2 per-channel values, but the input has 3 channels/,
    );
    recordPreprocessing(proto, { scale: 0.5 });
    expect(readPreprocessing(proto)).toEqual({ scale: 0.5 });
    expect(parseScale("1/255")).toBeCloseTo(1 / 255, 12);
    expect(parseScale("0.5")).toBe(0.5);
    expect(() => parseScale("-1")).toThrow(/positive number/);

    const r = kd([
      "bake-preprocessing",
      path,
      "--out",
      join(dir, "c3.baked.onnx"),
      "--mean",
      "0.5,0.5,0.5",
      "--std",
      "0.25",
    ]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(
      /takes raw values and computes x × 0\.0039\d* − \[0\.5, 0\.5, 0\.5\] ÷ \[0\.25\]/,
    );
    const bad = kd(["bake-preprocessing", path, "--out", join(dir, "never.onnx"), "--mean", "1,2"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^kd: .*2 per-channel values, but the input has 3 channels\n$/);
    expect(existsSync(join(dir, "never.onnx"))).toBe(false);
  });
});
