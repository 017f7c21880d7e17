import { describe, expect, it } from "vitest";
import {
  confusionMatrix,
  lineChart,
  renderHtml,
  renderMarkdown,
  summaryTable,
} from "../../src/report/index.js";
import type { BiasExperiment, Results, RunSummary } from "../../src/repro/results.js";
import type { EpochLog } from "../../src/train/trainer.js";

const SVG_NS = "http://www.w3.org/2000/svg";

function confusion(errors: number, seed: number): number[][] {
  const totals = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];
  const m = totals.map((t, i) => totals.map((_, j) => (i === j ? t : 0)));
  for (let e = 0; e < errors; e++) {
    const i = (e * 7 + seed) % 10;
    const j = (i + 1 + ((e * 3 + seed) % 9)) % 10;
    m[i]![i]!--;
    m[i]![j]!++;
  }
  return m;
}

function run(name: string, testErrors: number, epochs = 3, seed = 1): RunSummary {
  const conf = confusion(testErrors, seed);
  const history: EpochLog[] = Array.from({ length: epochs }, (_, k) => ({
    epoch: k + 1,
    loss: 0.5 / (k + 1),
    soft: 0.3 / (k + 1),
    hard: 0.2 / (k + 1),
    trainAccuracy: 0.9 + k * 0.02,
    evalErrors: testErrors + (epochs - 1 - k) * 40,
    evalAccuracy: 1 - (testErrors + (epochs - 1 - k) * 40) / 10000,
    lr: 0.05 * 0.9 ** k,
    momentum: 0.9,
    seconds: 12.5,
    examplesPerSec: 4800,
  }));
  return {
    name,
    arch: "784-800-800-10",
    objective: "labels",
    trainExamples: 60000,
    epochs,
    testErrors,
    testAccuracy: 1 - testErrors / 10000,
    perClass: conf.map((row, k) => ({ total: row.reduce((a, b) => a + b, 0), correct: row[k]! })),
    confusion: conf,
    history,
    seconds: 37.5,
  };
}

function biasExp(classes: number[], shifted: number[], given: number, found: number): BiasExperiment {
  const o = (shift: number, testErrors: number, classErrors: number, errorRate: number) => ({
    shift,
    testErrors,
    classErrors,
    classTotal: 1010,
    errorRate,
  });
  return {
    run: run("bias", 230, 3, 4),
    classes,
    shiftedClasses: shifted,
    unshifted: o(0, 230, 150, 48.1),
    given: o(given, 120, 20, 14.0),
    found: { ...o(found, 115, 18, 12.5), valErrors: 40, valBaselineErrors: 90 },
  };
}

const full: Results = {
  profile: "quick",
  startedAt: "2026-01-02T03:04:05.000Z",
  finishedAt: "2026-01-02T03:10:00.000Z",
  totalSeconds: 355,
  machine: { cpus: 2, cpuModel: "Test CPU @ 2.0GHz", node: "v20.11.0", onnxruntime: "1.30.0", threads: 2 },
  choices: {
    optimizer: "SGD with momentum",
    "soft weight": "0.9 on soft, 0.1 on hard; T<20 never tried <b>",
  },
  experiments: {
    teacher: run("teacher", 75),
    student: run("student", 150),
    distilled: { ...run("distilled", 80, 3, 2), temperature: 20, gapClosed: 0.8 },
    omit3: biasExp([3], [3], 3.5, 3.8),
    only78: biasExp([7, 8], [7, 8], -7.6, -7.1),
    temperatureSweep: {
      trainExamples: 5000,
      epochs: 6,
      series: [
        {
          hidden: [300, 300],
          points: [1, 2, 4, 8, 20].map((t, i) => ({ temperature: t, testErrors: 200 - 10 * i })),
          labelsOnlyErrors: 260,
          bestTemperature: 20,
        },
        {
          hidden: [30, 30],
          points: [1, 2, 4, 8, 20].map((t, i) => ({
            temperature: t,
            testErrors: [420, 380, 360, 390, 410][i]!,
          })),
          labelsOnlyErrors: 450,
          bestTemperature: 4,
        },
      ],
    },
    softRegularizer: {
      fraction: 0.03,
      labelsOnly: run("few-labels", 600, 3, 5),
      softTargets: run("few-soft", 220, 3, 6),
      fullDataErrors: 150,
    },
  },
};

const partial: Results = {
  ...full,
  finishedAt: undefined,
  totalSeconds: undefined,
  experiments: { teacher: run("teacher", 75) },
};

const summaryLine = (md: string, label: string) =>
  md.split("\n").find((l) => l.startsWith(`| ${label}`)) ?? "";

describe("renderMarkdown", () => {
  const md = renderMarkdown(full);

  it("has the summary table with the paper's numbers beside ours and a signed gap", () => {
    expect(md).toContain("| experiment | paper | ours | gap |");
    expect(summaryLine(md, "1. teacher")).toMatch(/\| 67 \| 75 \| \+8 \|$/);
    expect(summaryLine(md, "2. student")).toMatch(/\| 146 \| 150 \| \+4 \|$/);
    expect(summaryLine(md, "3. distilled student")).toMatch(/\| 74 \| 80 \| \+6 \|$/);
    expect(summaryLine(md, "4. omit 3s, unshifted: test errors")).toMatch(/\| 206 \| 230 \| \+24 \|$/);
    expect(summaryLine(md, "4. omit 3s, unshifted: errors on the 1010 test 3s")).toMatch(
      /\| 133 \| 150 \| \+17 \|$/,
    );
    expect(summaryLine(md, "4. omit 3s, shift +3.5: test errors")).toMatch(/\| 109 \| 120 \| \+11 \|$/);
    expect(summaryLine(md, "5. only 7s and 8s, unshifted")).toMatch(/\| 47.3% \| 48.1% \| \+0.8 pp \|$/);
    expect(summaryLine(md, "5. only 7s and 8s, shift -7.6")).toMatch(/\| 13.2% \| 14.0% \| \+0.8 pp \|$/);
    expect(summaryLine(md, "5. only 7s and 8s, shift -7.1 found")).toMatch(
      /\| 13.2% \(at -7.6\) \| 12.5% \| -0.7 pp \|$/,
    );
    expect(summaryLine(md, "3. distilled: share")).toContain("91.1%");
    expect(md).toContain("98.6%");
    expect(summaryLine(md, "6. T sweep, 30-30")).toMatch(/2\.5–4 \| T = 4 \(360 errors\) \| inside \|$/);
    expect(summaryLine(md, "6. T sweep, 300-300")).toContain("T = 20 (160 errors)");
    expect(summaryLine(md, "7. 3% of data, labels only")).toContain("44.5%");
    expect(summaryLine(md, "7. 3% of data, soft targets")).toContain("57.0%");
    expect(summaryLine(md, "7. all data")).toContain("58.9%");
  });

  it("has the metadata, a section per experiment, the sweep table and the choices", () => {
    expect(md).toContain("profile: **quick**");
    expect(md).toContain("Test CPU @ 2.0GHz, 2 cores, 2 threads; Node v20.11.0, onnxruntime 1.30.0");
    expect(md).toContain("total time: 5 min 55 s");
    for (const h of [
      "## 1. Teacher",
      "## 4. Transfer set without 3s",
      "## 6. Temperature sweep",
      "## 7. Soft targets",
    ])
      expect(md).toContain(h);
    expect(md).toContain("| temperature | 300-300 student | 30-30 student |");
    expect(md).toContain("| T = 4 | 180 | **360** |");
    expect(md).toContain("## Choices where the paper is silent");
    expect(md).toContain("- **optimizer**: SGD with momentum");
  });

  it("has a plain-text summary for the terminal", () => {
    const t = summaryTable(full).split("\n");
    expect(t[0]).toMatch(/^experiment\s+paper\s+ours\s+gap$/);
    expect(t.find((l) => l.startsWith("1. teacher"))).toMatch(/\s67\s+75\s+\+8$/);
    expect(summaryTable(partial).split("\n")).toHaveLength(3);
  });

  it("renders a partial run without the missing rows", () => {
    const p = renderMarkdown(partial);
    expect(p).toContain("| experiment | paper | ours | gap |");
    expect(summaryLine(p, "1. teacher")).toMatch(/\| 67 \| 75 \| \+8 \|$/);
    expect(p).not.toContain("146");
    expect(p).not.toContain("omit 3s");
    expect(p).not.toContain("T sweep");
    expect(p).toContain("(unfinished)");
  });

  it("never throws, even on a nearly empty or malformed object", () => {
    const empty = {
      profile: "x",
      startedAt: "now",
      machine: {},
      choices: {},
      experiments: {},
    } as unknown as Results;
    expect(renderMarkdown(empty)).toContain("No experiment has finished yet.");
    const broken = {
      experiments: { teacher: { testErrors: 70 }, temperatureSweep: {} },
    } as unknown as Results;
    expect(() => renderMarkdown(broken)).not.toThrow();
    expect(() => renderHtml(broken)).not.toThrow();
  });
});

describe("renderHtml", () => {
  const html = renderHtml(full);

  it("is a self-contained page with the summary, charts and matrices", () => {
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html.trimEnd().endsWith("</html>")).toBe(true);
    expect(html).toContain("<svg");
    expect(html).toContain("<th>experiment</th><th>paper</th><th>ours</th><th>gap</th>");
    expect(html).toContain("<td>67</td><td>75</td><td>+8</td>");
    expect(html).toContain("Test errors against temperature");
    expect(html).toContain("Errors per epoch");
    expect(
      (html.match(/aria-label="[^"]*confusion|aria-label="(Teacher|Student|Distilled)/g) ?? []).length,
    ).toBeGreaterThanOrEqual(3);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link/i);
    expect(html.split(SVG_NS).join("")).not.toMatch(/https?:/);
    expect(html).not.toContain("NaN");
    expect(html.match(/<svg/g)?.length).toBe(html.match(/<\/svg>/g)?.length);
  });

  it("escapes text", () => {
    expect(html).toContain("T&lt;20 never tried &lt;b&gt;");
    expect(html).not.toContain("<b>\n");
    expect(html).not.toContain("never tried <b>");
  });

  it("omits what a partial run lacks", () => {
    const p = renderHtml(partial);
    expect(p.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(p).toContain("<td>67</td><td>75</td><td>+8</td>");
    expect(p).not.toContain("Temperature sweep");
    expect(p).not.toContain("146");
    expect(p).not.toContain("NaN");
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
