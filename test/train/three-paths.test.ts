/**
 * One training core: the same settings trained through the spec runner, through `kd train` and
 * through the page's training core (web/core.ts, here on onnxruntime-node) give the same weights,
 * bit for bit.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Dataset } from "../../src/data/dataset.js";
import { initializers } from "../../src/deploy/graph.js";
import { loadSpec } from "../../src/experiment/load.js";
import { mlp } from "../../src/nn/model.js";
import { decodeModel } from "../../src/onnx/proto.js";
import { executeSpec } from "../../src/runner/execute.js";
import { exportModel } from "../../src/train/inference.js";
import { trainInPage } from "../../src/web/core.js";
import { kd } from "../helpers/cli.js";
import { writeIdx } from "../helpers/idx-files.js";
import { mnistTest, mnistTrain } from "../helpers/mnist.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-three-"));
const p = (f: string) => join(tmp, f);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The model file's initializers (its weights) by name, as raw bytes. */
function weights(onnx: Uint8Array): Map<string, string> {
  const init = [...initializers(decodeModel(onnx))].sort(([a], [b]) => a.localeCompare(b));
  return new Map(init.map(([n, t]) => [n, Buffer.from(t.rawData).toString("hex")]));
}

describe("one training core", () => {
  it("trains bit-identical weights through the spec runner, kd train and the page's core", async () => {
    const train = mnistTrain(500);
    const test = mnistTest(100);
    writeIdx(train, p("train-images"), p("train-labels"));
    writeIdx(test, p("test-images"), p("test-labels"));
    const settings = {
      hidden: 24,
      epochs: 2,
      batchSize: 64,
      lr: 0.05,
      momentum: 0.9,
      stepsPerRun: 3,
      seed: 7,
    };
    const args = [
      "train",
      ...["--train-images", p("train-images"), "--train-labels", p("train-labels")],
      ...["--test-images", p("test-images"), "--test-labels", p("test-labels")],
      ...["--arch", `mlp:${settings.hidden}`, "--epochs", `${settings.epochs}`],
      ...["--batch-size", `${settings.batchSize}`, "--lr", `${settings.lr}`],
      ...["--momentum", `${settings.momentum}`, "--steps-per-run", `${settings.stepsPerRun}`],
      ...["--seed", `${settings.seed}`, "--threads", "1", "--no-checkpoint"],
    ];

    const cli = kd([...args, "--out", p("cli.onnx")], 180_000);
    expect(cli.code, cli.stderr).toBe(0);

    const printed = kd([...args, "--out", "spec.onnx", "--print-spec"], 60_000, tmp);
    expect(printed.code, printed.stderr).toBe(0);
    writeFileSync(p("run.yaml"), printed.stdout);
    const results = await executeSpec(loadSpec(p("run.yaml")), { outDir: p("runs"), threads: 1 });
    const specModel = join(p("runs"), Object.values(results.runs)[0]!.model!);

    const model = mlp(784, [settings.hidden], 10);
    const images = (ds: Dataset) => ({ x: ds.x, y: Uint8Array.from(ds.y!), n: ds.n });
    const page = await trainInPage(
      { ...settings, model, objective: { kind: "ce" }, threads: 1 },
      images(train),
      images(test),
    );

    const fromCli = weights(readFileSync(p("cli.onnx")));
    expect(fromCli.size).toBeGreaterThanOrEqual(model.params.length);
    expect(weights(readFileSync(specModel))).toEqual(fromCli);
    expect(weights(exportModel(model, page.params))).toEqual(fromCli);
    expect(page.history).toHaveLength(settings.epochs);
  }, 300_000);
});
