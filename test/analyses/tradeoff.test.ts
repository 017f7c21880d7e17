/** The tradeoff analysis: accuracy over seeds against parameters and batch-1 latency, Δ vs twins and teacher. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ANALYSES, type AnalysisContext } from "../../src/analyses/index.js";
import type { RunRecord } from "../../src/analyses/results.js";
import type { TradeoffPoint } from "../../src/analyses/tradeoff.js";
import { createModel, encodeModel, makeNode, makeTensor, valueInfo } from "../../src/onnx/proto.js";
import { lineChart } from "../../src/report/svg.js";
import { KdError } from "../../src/util/errors.js";

const dir = mkdtempSync(join(tmpdir(), "kd-tradeoff-"));
// A linear classifier [N, 4] → 3 with one output, as kd exports a student: what the analysis times.
writeFileSync(
  join(dir, "m.onnx"),
  encodeModel(
    createModel({
      irVersion: 8n,
      opsetImport: [{ domain: "", version: 13n }],
      graph: {
        name: "linear",
        node: [makeNode("Gemm", ["x", "W", "b"], ["logits"])],
        initializer: [
          makeTensor("W", "float32", [4, 3], new Float32Array(12).fill(0.1)),
          makeTensor("b", "float32", [3], new Float32Array(3)),
        ],
        input: [valueInfo("x", "float32", ["N", 4])],
        output: [valueInfo("logits", "float32", ["N", 3])],
      },
    }),
  ),
);

function rec(run: string, seed: number, accuracy: number, params: number): RunRecord {
  return {
    id: `${run}@s${seed}`,
    run,
    point: {},
    seed,
    fingerprint: "f",
    arch: run === "teacher" ? "resnet:20" : "mlp:8",
    params,
    objective: "labels",
    trainExamples: 100,
    epochs: 1,
    test: {
      n: 1000,
      errors: Math.round(1000 * (1 - accuracy)),
      accuracy,
      ties: 0,
      perClass: [],
      confusion: [],
    },
    history: [],
    seconds: 1,
    model: "m.onnx",
  };
}

const records: RunRecord[] = [
  rec("teacher", 1, 0.92, 270_000),
  rec("small-labels", 1, 0.85, 30_000),
  rec("small-labels", 2, 0.87, 30_000),
  rec("small-kd", 1, 0.885, 30_000),
  rec("small-kd", 2, 0.895, 30_000),
  rec("mlp-labels", 1, 0.8, 200_000),
];
const ctx = (recs: RunRecord[]): AnalysisContext => ({
  records: (run) => recs.filter((r) => r.run === run),
  modelPath: (r) => join(dir, r.model!),
  data: undefined as never,
  threads: 1,
});
const params = ANALYSES.tradeoff.params.parse({
  teacher: "teacher",
  runs: {
    "small-labels": { model: "Small", objective: "labels only" },
    "small-kd": { model: "Small", objective: "kd", twin: "small-labels" },
    "mlp-labels": { model: "MLP", objective: "labels only" },
  },
  timingMs: 20,
});

describe("tradeoff analysis", () => {
  it("reads the teacher, each run and its twin, and no other run", () => {
    expect(ANALYSES.tradeoff.runs(params).sort()).toEqual([
      "mlp-labels",
      "small-kd",
      "small-labels",
      "teacher",
    ]);
  });

  it("gives each run its mean and spread over seeds in pp, its parameters, a latency, and Δ vs twin and teacher", async () => {
    const v = (await ANALYSES.tradeoff.compute(params, ctx(records))) as {
      teacher: TradeoffPoint;
      points: Record<string, TradeoffPoint>;
    };
    expect(v.teacher.accuracy.mean).toBeCloseTo(92, 9);
    expect(v.teacher.params).toBe(270_000);
    const kd = v.points["small-kd"]!;
    expect(kd.accuracy.mean).toBeCloseTo(89, 9);
    // Sample sd of 88.5 and 89.5.
    expect(kd.accuracy.std).toBeCloseTo(Math.SQRT1_2, 9);
    expect(kd.accuracy.values).toHaveLength(2);
    expect(kd.vsTwin).toBeCloseTo(89 - 86, 9);
    expect(kd.vsTeacher).toBeCloseTo(89 - 92, 9);
    expect(kd.params).toBe(30_000);
    expect(kd.latencyMs).toBeGreaterThan(0);
    expect(v.points["small-labels"]!.vsTwin).toBeUndefined();
    expect(v.points["mlp-labels"]!.vsTeacher).toBeCloseTo(-12, 9);
  });

  it("renders two charts (a series per objective, bars for the spread) and a table with the teacher's row first", async () => {
    const v = (await ANALYSES.tradeoff.compute(params, ctx(records))) as Record<string, unknown>;
    const blocks = ANALYSES.tradeoff.render(params, v, { name: "students" });
    const charts = blocks.find((b) => b.kind === "charts");
    const table = blocks.find((b) => b.kind === "table");
    if (charts?.kind !== "charts" || table?.kind !== "table") throw new Error("missing blocks");
    expect(charts.charts.map((c) => c.xLabel)).toEqual([
      "parameters (log scale)",
      "latency at batch 1, ms (log scale)",
    ]);
    const series = charts.charts[0]!.series;
    expect(series.map((s) => s.name)).toEqual(["labels (teacher)", "labels only", "kd"]);
    expect(series[1]!.points).toEqual([
      [30_000, 86],
      [200_000, 80],
    ]);
    expect(series[2]!.spread![0]).toBeCloseTo(Math.SQRT1_2, 9);
    const svg = lineChart(charts.charts[0]!);
    // A scatter draws no line between its points, and one bar for the one point with a spread.
    expect(svg).not.toMatch(/stroke-width="2" stroke-linejoin/);
    expect(svg.match(/stroke-width="1.5"/g)).toHaveLength(2);
    expect(table.rows[0]!.slice(0, 2)).toEqual(["resnet:20", "labels (teacher)"]);
    expect(table.rows[0]![6]).toBe("—");
    // One seed: a mean, no spread.
    expect(table.rows[0]![4]).toBe("92.00");
    expect(table.rows[2]).toEqual(
      expect.arrayContaining(["Small", "kd", "30000", "89.00 ± 0.71", "2", "+3.00", "-3.00"]),
    );
  });

  it("refuses, in one line, a run with no results or no numeric metric", async () => {
    const noKd = records.filter((r) => r.run !== "small-kd");
    await expect(ANALYSES.tradeoff.compute(params, ctx(noKd))).rejects.toThrow(
      new KdError("analysis: run small-kd has no results"),
    );
    const noTest = records.map((r) =>
      r.run === "mlp-labels" ? { ...r, test: undefined } : r,
    ) as RunRecord[];
    await expect(ANALYSES.tradeoff.compute(params, ctx(noTest))).rejects.toThrow(
      "analysis: run mlp-labels has no numeric test.accuracy",
    );
  });
});
