import { describe, expect, it } from "vitest";
import { ANALYSES, type AnalysisContext } from "../../src/analyses/index.js";
import { RESULTS_VERSION, type Results, type RunRecord, stat } from "../../src/analyses/results.js";
import { validateSpec } from "../../src/experiment/load.js";
import {
  buildReport,
  confusionMatrix,
  fitTable,
  lineChart,
  renderHtml,
  renderMarkdown,
  renderText,
  resolvePath,
} from "../../src/report/index.js";

const SVG_NS = "http://www.w3.org/2000/svg";

const spec = validateSpec(
  {
    name: "toy",
    title: "A toy <spec>",
    data: {
      d: { source: { kind: "mnist", split: "train" } },
      t: { source: { kind: "mnist", split: "test" } },
    },
    defaults: { train: "d", test: "t", lr: 0.1, epochs: 2 },
    runs: {
      teacher: { model: { kind: "mlp", hidden: [8] } },
      student: { model: { kind: "mlp", hidden: [4] }, seeds: [1, 2, 3] },
      sweep: {
        model: { kind: "mlp", hidden: [4] },
        teachers: ["teacher"],
        objective: { kind: "kd" },
        grid: { "objective.temperature": [1, 4] },
      },
    },
    analyses: {
      gap: { kind: "gapClosed", baseline: "student", target: "teacher", candidate: "sweep" },
      bestT: { kind: "best", run: "sweep", axis: "objective.temperature", reference: "student" },
    },
    report: {
      rows: [
        { label: "teacher errors", value: "runs.teacher.test.errors", of: "runs.teacher.test.n", paper: "t" },
        { label: "student errors", value: "runs.student.test.errors", paper: "s" },
        { label: "gap closed", value: "analyses.gap.value", format: "percent", paper: "g" },
        { label: "best T", value: "analyses.bestT.best", format: "number", paper: "T" },
      ],
      confusion: ["teacher"],
    },
  },
  "toy",
).spec;

function rec(id: string, run: string, errors: number, over: Partial<RunRecord> = {}): RunRecord {
  return {
    id,
    run,
    point: {},
    seed: 1,
    fingerprint: "f",
    arch: "mlp:8",
    params: 100,
    objective: "labels",
    trainExamples: 1000,
    epochs: 2,
    test: {
      n: 500,
      errors,
      accuracy: 1 - errors / 500,
      ties: 0,
      perClass: [
        { total: 250, correct: 250 - errors / 2 },
        { total: 250, correct: 250 - errors / 2 },
      ],
      confusion: [
        [250 - errors / 2, errors / 2],
        [errors / 2, 250 - errors / 2],
      ],
    },
    history: [1, 2].map((epoch) => ({
      epoch,
      loss: 1 / epoch,
      parts: { ce: 1 / epoch },
      trainAccuracy: 0.9,
      evalErrors: errors + 10 / epoch,
      evalAccuracy: 0.9,
      lr: 0.1,
      momentum: 0.9,
      seconds: 1,
      examplesPerSec: 1000,
    })),
    seconds: 2,
    ...over,
  };
}

const results: Results = {
  version: RESULTS_VERSION,
  spec: "toy",
  profile: null,
  startedAt: "2026-01-01T00:00:00Z",
  finishedAt: "2026-01-01T00:10:00Z",
  totalSeconds: 600,
  machine: { cpus: 2, cpuModel: "cpu", node: "v20", onnxruntime: "1.30.0", threads: 2 },
  runs: {
    teacher: rec("teacher", "teacher", 20),
    "student@s1": rec("student@s1", "student", 40, { seed: 1 }),
    "student@s2": rec("student@s2", "student", 44, { seed: 2 }),
    "student@s3": rec("student@s3", "student", 48, { seed: 3 }),
    "sweep[temperature=1]": rec("sweep[temperature=1]", "sweep", 36, {
      point: { "objective.temperature": 1 },
    }),
    "sweep[temperature=4]": rec("sweep[temperature=4]", "sweep", 30, {
      point: { "objective.temperature": 4 },
    }),
  },
  failed: { "other@s1": "data.csv: bad cell" },
  analyses: {
    gap: { value: 0.5, baseline: 44, target: 20, candidate: 32 },
    bestT: {
      best: 4,
      value: 30,
      points: [
        { x: 1, y: stat([36]) },
        { x: 4, y: stat([30]) },
      ],
      reference: 44,
      referenceLabel: "student",
    },
  },
};
const paper = { t: 18, s: 44, g: 0.6, T: [2.5, 4] };

describe("reports built from results and spec", () => {
  const doc = buildReport(spec, results, paper);
  const md = renderMarkdown(doc);

  it("aggregates a run's seeds as mean ± sample std", () => {
    const s = resolvePath(results, "runs.student.test.errors");
    expect(s).toEqual({ mean: 44, std: 4, values: [40, 44, 48] });
    expect(md).toContain("| student errors | 44 | 44.0 ± 4.0 | 0 |");
  });

  it("resolves row paths whose run or analysis names hold dots", () => {
    const dotted = {
      ...results,
      runs: { "v1.2": rec("v1.2", "v1.2", 7) },
      analyses: { "best-T-w0.5": { best: 4, value: 30 } },
    };
    expect(resolvePath(dotted, "analyses.best-T-w0.5.best")).toBe(4);
    expect(resolvePath(dotted, "runs.v1.2.test.errors")).toBe(7);
    expect(resolvePath(dotted, "analyses.best-T-w0.9.best")).toBeUndefined();
  });

  it("puts the paper's numbers beside ours, with the gap in the row's unit and 'of N' for counts", () => {
    expect(md).toContain("| teacher errors | 18 | 20 of 500 | +2 |");
    expect(md).toContain("| gap closed | 60.0% | 50.0% | -10.0 pp |");
    expect(md).toContain("| best T | 2.5–4 | 4 | inside |");
  });

  it("has one row per run group, failed runs, analyses, curves, confusion matrices", () => {
    expect(md).toMatch(/\| sweep\[temperature=4\] \| mlp:8 \| labels \| 1000 \| 2 \| 1 \| 30 of 500 \|/);
    expect(md).toMatch(/\| student \| .* \| 3 \| 44\.0 ± 4\.0 of 500 \|/);
    expect(md).toContain("other@s1: data.csv: bad cell");
    expect(md).toContain("## Analysis: bestT");
    expect(md).toContain("best: 4 (30.0); reference student: 44.0");
    expect(md).toContain("**teacher: 20 test errors**");
  });

  it("renders one offline HTML page with the same tables, charts and escaped text", () => {
    const html = renderHtml(doc);
    expect(html).toContain("<td>teacher errors</td><td>18</td><td>20 of 500</td><td>+2</td>");
    expect(html.match(/<svg/g)!.length).toBeGreaterThanOrEqual(4);
    expect(html).toContain("A toy &lt;spec&gt;");
    expect(html.split(SVG_NS).join("")).not.toMatch(/https?:/);
  });

  it("prints a terminal summary no wider than 100 columns", () => {
    const long = fitTable(["x", "paper", "ours"], [["a very long label ".repeat(10), "1", "2"]]);
    for (const line of long.split("\n")) expect(line.length).toBeLessThanOrEqual(100);
    expect(long.split("\n").length).toBeGreaterThan(3);
    expect(renderText(doc)).toContain("teacher errors");
  });

  it("keeps each run name on one line when the terminal table is too wide to fit", () => {
    const header = ["run", "model", "objective", "train examples", "epochs", "seeds", "test errors", "time"];
    const row = ["kd[temperature=2]", "mlp:800x800", "soft targets T=2 (w=0.5)", "60000", "20", "3"];
    const text = fitTable(header, [[...row, "74.3 ± 2.1 of 10000", "1 h 02 min"]]);
    expect(text.split("\n")).toHaveLength(3);
    expect(text.split("\n")[2]).toMatch(/^kd\[temperature=2\] /);
  });

  it("prints a gap closed as undefined, not a number, when the target is no better than the baseline", () => {
    const worse = { ...results, analyses: { gap: { value: null, baseline: 20, target: 44, candidate: 32 } } };
    const text = renderMarkdown(buildReport(spec, worse, paper));
    expect(text).toContain("gap: gap closed undefined: the target is no better than the baseline");
    expect(text).toContain("| gap closed | 60.0% | undefined | — |");
    expect(text).not.toMatch(/0\.0% of the gap closed/);
  });

  it("renders partial results (runs and analyses missing) without throwing", () => {
    const partial = { ...results, runs: { teacher: results.runs.teacher! }, analyses: {} };
    const text = renderMarkdown(buildReport(spec, partial, paper));
    expect(text).toContain("| student errors | 44 | — | — |");
    expect(text).not.toContain("NaN");
  });

  it("names the runs' thread counts in the machine line, singular for one thread", () => {
    const machineLine = (r: Results) =>
      buildReport(spec, r, paper).meta.find(([k]) => k === "machine")?.[1] ?? "";
    const withThreads = (counts: number[]) => ({
      ...results,
      runs: Object.fromEntries(counts.map((t, i) => [`r${i}`, rec(`r${i}`, "student", 40, { threads: t })])),
    });
    expect(machineLine(withThreads([1, 1]))).toContain("2 cores, 1 ONNX Runtime thread, Node");
    expect(machineLine(withThreads([2, 1]))).toContain("1 or 2 ONNX Runtime threads, Node");
    expect(machineLine({ ...results, runs: {} })).toContain("2 ONNX Runtime threads, Node");
  });
});

describe("diverged runs", () => {
  const runs = {
    ...results.runs,
    "student@s2": rec("student@s2", "student", 44, { seed: 2, diverged: true }),
    "sweep[temperature=4]": rec("sweep[temperature=4]", "sweep", 30, {
      point: { "objective.temperature": 4 },
      diverged: true,
    }),
  };
  const ctx = {
    records: (run: string) => Object.values(runs).filter((r) => r.run === run),
  } as unknown as AnalysisContext;
  const best = { run: "sweep", axis: "objective.temperature", metric: "test.errors" };

  it("are never chosen by a best analysis, and listed as diverged", async () => {
    const r = (await ANALYSES.best.compute(best, ctx)) as { best: unknown; points: { diverged?: number }[] };
    expect(r.best).toBe(1);
    expect(r.points.map((pt) => pt.diverged)).toEqual([undefined, 1]);
    const all = { ...ctx, records: () => [runs["sweep[temperature=4]"]] } as AnalysisContext;
    await expect(ANALYSES.best.compute(best, all)).rejects.toThrow(
      /every value of objective\.temperature .* diverged/,
    );
  });

  it("are marked in the summary rows, the runs table and a best analysis' table", () => {
    const bestT = {
      best: 1,
      value: 36,
      points: [
        { x: 1, y: stat([36]) },
        { x: 4, y: stat([30]), diverged: 1 },
      ],
    };
    const md = renderMarkdown(
      buildReport(spec, { ...results, runs, analyses: { ...results.analyses, bestT } }, paper),
    );
    expect(md).toContain("| student errors | 44 | 44.0 ± 4.0 (1 of 3 seeds diverged) | 0 |");
    expect(md).toMatch(/\| sweep\[temperature=4\] \| .* \| 30 of 500 \(diverged\) \|/);
    expect(md).toMatch(/\| 4 \(diverged\) \| 30\.0 \|/);
    expect(md).toMatch(/\| sweep\[temperature=1\] \| .* \| 36 of 500 \|/);
  });
});

describe("analyses", () => {
  it("gapClosed is null, not 0, when the target is no better than the baseline", async () => {
    const ctx = {
      records: (run: string) => Object.values(results.runs).filter((r) => r.run === run),
    } as unknown as AnalysisContext;
    const p = { metric: "test.errors", candidate: "sweep" };
    const worse = await ANALYSES.gapClosed.compute({ ...p, baseline: "teacher", target: "student" }, ctx);
    expect(worse).toEqual({ value: null, baseline: 20, target: 44, candidate: 33 });
    const better = await ANALYSES.gapClosed.compute({ ...p, baseline: "student", target: "teacher" }, ctx);
    expect(better).toMatchObject({ value: 11 / 24 });
  });
});

describe("best over several axes", () => {
  // T × w, two seeds each; val errors choose, test errors are only reported. The best mean of val is
  // (T=4, w=0.5), which neither axis alone would pick: T=8 has the best mean over w, w=0.9 over T.
  const cells: [number, number, number[], number][] = [
    [4, 0.5, [10, 12], 50],
    [4, 0.9, [40, 42], 20],
    [8, 0.5, [20, 20], 10],
    [8, 0.9, [15, 15], 30],
  ];
  const runs = cells.flatMap(([t, w, vals, test]) =>
    vals.map((v, i) =>
      rec(`g[temperature=${t},softWeight=${w}]@s${i + 1}`, "g", test, {
        point: { "objective.temperature": t, "objective.softWeight": w },
        seed: i + 1,
        val: { ...rec("x", "x", v).test!, errors: v },
      }),
    ),
  );
  const ctx = { records: (run: string) => runs.filter((r) => r.run === run) } as unknown as AnalysisContext;
  const p = {
    run: "g",
    axis: ["objective.temperature", "objective.softWeight"],
    metric: "val.errors",
    report: "test.errors",
  };

  it("chooses the combination with the lowest mean and names each axis", async () => {
    const v = (await ANALYSES.best.compute(p, ctx)) as Record<string, unknown>;
    expect(v.best).toEqual({ temperature: 4, softWeight: 0.5 });
    expect(v.value).toBe(11);
    expect(v.reported).toMatchObject({ mean: 50, values: [50, 50] });
    const md = renderMarkdown({
      title: "t",
      meta: [],
      sections: [{ title: "a", blocks: ANALYSES.best.render(p, v, { name: "a" } as never) }],
    } as never);
    expect(md).toContain("| value | val.errors (mean) | ± std | seeds |");
    expect(md).toContain("| temperature=4, softWeight=0.5 | 11.0 |");
    expect(md).toContain("best: temperature=4, softWeight=0.5 (11.0); reported there: 50");
    expect(md).not.toContain("[object Object]");
  });

  it("refuses records missing one of the axes in one line", async () => {
    await expect(ANALYSES.best.compute({ ...p, axis: ["objective.temperature", "lr"] }, ctx)).rejects.toThrow(
      "best: run g has no grid axis lr",
    );
  });
});

describe("svg charts", () => {
  it("lineChart handles a log x axis and a single-point series", () => {
    const svg = lineChart({
      title: "a <b> & c",
      xLabel: "T",
      yLabel: "errors",
      logX: true,
      series: [
        { name: "one point", points: [[20, 74]] },
        {
          name: "curve",
          points: [
            [1, 90],
            [2.5, 80],
            [4, 78],
            [20, 75],
          ],
        },
        {
          name: "skipped",
          points: [
            [0, 1],
            [Number.NaN, 3],
          ],
        },
      ],
    });
    expect(svg).not.toContain("NaN");
    expect(svg).not.toContain("Infinity");
    expect(svg).toContain("a &lt;b&gt; &amp; c");
    for (const t of [">1<", ">2<", ">5<", ">10<", ">20<"]) expect(svg).toContain(t);
    expect(svg).toContain("<circle");
    expect(svg).not.toContain("skipped");
  });

  it("lineChart on a lone point or no data still gives a finite chart", () => {
    for (const logX of [false, true]) {
      const one = lineChart({
        title: "t",
        xLabel: "x",
        yLabel: "y",
        logX,
        series: [{ name: "s", points: [[3, 5]] }],
      });
      expect(one).not.toMatch(/NaN|Infinity/);
      expect(one).toContain("<circle");
    }
    const none = lineChart({ title: "t", xLabel: "x", yLabel: "y", series: [] });
    expect(none).toContain("no data");
    expect(none).not.toMatch(/NaN|Infinity/);
  });

  it("confusionMatrix writes every count in a cell", () => {
    const svg = confusionMatrix({
      title: "m",
      matrix: [
        [50, 2],
        [0, 40],
      ],
    });
    expect(svg.match(/<rect class="cell"/g)?.length).toBe(4);
    for (const v of [">50<", ">2<", ">0<", ">40<"]) expect(svg).toContain(v);
    expect(svg).not.toContain("NaN");
  });
});
