/** report.html: one self-contained page (inline CSS and SVG, nothing fetched) with the summary, curves and matrices. */
import type { BiasExperiment, Results, RunSummary } from "../repro/results.js";
import { PAPER } from "../repro/results.js";
import {
  biasRowsDetail,
  formatDate,
  formatDuration,
  num,
  SUMMARY_HEADER,
  shiftText,
  summaryRows,
  testSize,
  topConfusions,
} from "./markdown.js";
import { confusionMatrix, esc, type LineSeries, lineChart } from "./svg.js";
import { pct } from "./text.js";

const STYLE = `
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1f2328;background:#f6f8fa;margin:0}
main{max-width:1120px;margin:0 auto;padding:28px 32px 48px;background:#fff;min-height:100vh}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:36px 0 12px;padding-bottom:6px;border-bottom:1px solid #d0d7de}
.sub{color:#57606a;margin:0 0 16px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}dl.meta dt{color:#57606a}dl.meta dd{margin:0}
table{border-collapse:collapse;margin:8px 0 12px;font-size:14px}
th,td{padding:5px 10px;border-bottom:1px solid #e5e7eb;text-align:right;white-space:nowrap}
th{background:#f6f8fa;font-weight:600;border-bottom:2px solid #d0d7de}
td:first-child,th:first-child{text-align:left;white-space:normal}
tbody tr:nth-child(even){background:#fafbfc}
.charts{display:flex;flex-wrap:wrap;gap:16px}
.charts figure{margin:0;border:1px solid #e5e7eb;border-radius:6px;padding:6px;background:#fff}
.charts svg{display:block;max-width:100%;height:auto}
figcaption,.note{color:#57606a;font-size:13px}
figcaption{width:0;min-width:100%;margin-top:2px}
ul.choices li{margin:2px 0}
`;

/** An HTML table; the cells are text and get escaped. */
function htmlTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const head = `<thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead>`;
  const body = rows.map((r) => `<tr>${header.map((_, j) => `<td>${esc(r[j] ?? "")}</td>`).join("")}</tr>`);
  return `<table>${head}<tbody>${body.join("")}</tbody></table>`;
}

const figure = (svg: string, caption?: string) =>
  `<figure>${svg}${caption ? `<figcaption>${esc(caption)}</figcaption>` : ""}</figure>`;
const charts = (figs: string[]) => (figs.length ? `<div class="charts">${figs.join("")}</div>` : "");

/** Try a part; on failure, a note instead, so a malformed results.json still gives a page. */
function guard(what: string, f: () => string): string {
  try {
    return f();
  } catch (err) {
    return `<p class="note">(could not render ${esc(what)}: ${esc(err instanceof Error ? err.message : String(err))})</p>`;
  }
}

function curves(r: Results): string {
  const x = r.experiments ?? {};
  const runs: [string, RunSummary | undefined][] = [
    ["teacher", x.teacher],
    ["student", x.student],
    ["distilled", x.distilled],
  ];
  const errs: LineSeries[] = [];
  const loss: LineSeries[] = [];
  for (const [name, run] of runs) {
    const h = run?.history ?? [];
    const e = h
      .filter((l) => typeof l.evalErrors === "number")
      .map((l) => [l.epoch, l.evalErrors!] as [number, number]);
    if (e.length) errs.push({ name, points: e });
    if (h.length) loss.push({ name, points: h.map((l) => [l.epoch, l.loss] as [number, number]) });
  }
  if (!errs.length && !loss.length) return "";
  const figs: string[] = [];
  if (errs.length) {
    const present = new Set(errs.map((s) => s.name));
    const refs = (
      [
        ["teacher", PAPER.teacherErrors],
        ["student", PAPER.studentErrors],
        ["distilled", PAPER.distilledErrors],
      ] as const
    )
      .filter(([name]) => present.has(name))
      .map(([name, v]) => [`paper: ${name} ${v}`, v] as const);
    const xs = errs.flatMap((s) => s.points.map((p) => p[0]));
    const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
    const withRefs = [
      ...errs,
      ...refs.map(([name, v]) => ({
        name,
        points: [
          [lo, v],
          [hi, v],
        ] as [number, number][],
        dashed: true,
      })),
    ];
    figs.push(
      figure(
        lineChart({
          title: "Errors per epoch",
          xLabel: "epoch",
          yLabel: "errors on the evaluation set",
          series: withRefs,
          logY: true,
          width: 500,
          height: 330,
        }),
        "history[].evalErrors after each epoch (log scale); dashed: the paper's final test errors.",
      ),
    );
  }
  if (loss.length)
    figs.push(
      figure(
        lineChart({
          title: "Training loss per epoch",
          xLabel: "epoch",
          yLabel: "loss",
          series: loss,
          logY: true,
          width: 500,
          height: 330,
        }),
        "The training objective (distillation: weighted soft + hard terms), log scale.",
      ),
    );
  return `<h2>Training curves</h2>${charts(figs)}`;
}

function sweep(r: Results): string {
  const sw = r.experiments?.temperatureSweep;
  if (!sw) return "";
  const series = sw.series ?? [];
  const lines: LineSeries[] = series.map((s) => ({
    name: `${(s.hidden ?? []).join("-")} student`,
    points: [...(s.points ?? [])]
      .sort((a, b) => a.temperature - b.temperature)
      .map((p) => [p.temperature, p.testErrors] as [number, number]),
  }));
  const temps = [...new Set(series.flatMap((s) => (s.points ?? []).map((p) => p.temperature)))].sort(
    (a, b) => a - b,
  );
  const rows = temps.map((t) => [
    `T = ${num(t)}`,
    ...series.map((s) => num(s.points?.find((p) => p.temperature === t)?.testErrors)),
  ]);
  rows.push(
    ["labels only", ...series.map((s) => num(s.labelsOnlyErrors))],
    ["best T", ...series.map((s) => num(s.bestTemperature))],
  );
  const chart = lineChart({
    title: "Test errors against temperature",
    xLabel: "temperature T (log scale)",
    yLabel: "test errors",
    series: lines,
    logX: true,
    width: 620,
    height: 360,
  });
  return `<h2>6. Temperature sweep</h2><p class="note">${esc(`${num(sw.trainExamples)} training examples, ${num(sw.epochs)} epochs per run. Paper: with ≥ 300 units per layer all T above 8 gave similar results; with 30 units T from 2.5 to 4 worked best.`)}</p>${charts([figure(chart)])}${htmlTable(["temperature", ...lines.map((l) => l.name)], rows)}`;
}

function bias(title: string, e: BiasExperiment | undefined, classWord: string, short: string): string {
  if (!e) return "";
  const rows = biasRowsDetail(e);
  const note = e.found
    ? `<p class="note">${esc(`Shift search on the validation split: ${num(e.found.valErrors)} validation errors at ${shiftText(e.found.shift)} (unshifted ${num(e.found.valBaselineErrors)}). Classes shifted: ${(e.shiftedClasses ?? []).join(", ")}.`)}</p>`
    : "";
  const conf = e.run?.confusion?.length
    ? charts([
        figure(
          confusionMatrix({
            title: `${short}: ${num(e.run.testErrors)} errors, unshifted`,
            matrix: e.run.confusion,
          }),
        ),
      ])
    : "";
  return `<h2>${esc(title)}</h2>${htmlTable(["setting", "shift", "test errors", "error rate", `errors on ${classWord}`, `${classWord} right`], rows)}${note}${conf}`;
}

function fewData(r: Results): string {
  const f = r.experiments?.softRegularizer;
  if (!f) return "";
  const row = (label: string, run: RunSummary | undefined) => [
    label,
    num(run?.trainExamples),
    num(run?.epochs),
    num(run?.testErrors),
    run ? pct(run.testAccuracy, 2) : "—",
  ];
  const frac = pct(f.fraction, 0);
  const sp = PAPER.speech3pct;
  const rows = [
    row(`${frac} of data, labels only`, f.labelsOnly),
    row(`${frac} of data, soft targets`, f.softTargets),
    ["all data, labels only", "—", "—", num(f.fullDataErrors), "—"],
  ];
  const series: LineSeries[] = [
    ["labels only", f.labelsOnly],
    ["soft targets", f.softTargets],
  ].flatMap(([name, run]) => {
    const pts = ((run as RunSummary | undefined)?.history ?? [])
      .filter((l) => typeof l.evalErrors === "number")
      .map((l) => [l.epoch, l.evalErrors!] as [number, number]);
    return pts.length ? [{ name: name as string, points: pts }] : [];
  });
  const chart = series.length
    ? charts([
        figure(
          lineChart({
            title: `${frac} of the data: errors per epoch`,
            xLabel: "epoch",
            yLabel: "errors on the evaluation set",
            series,
            logY: true,
            width: 500,
            height: 330,
          }),
          "The paper's hard-target model needed early stopping; the soft-target one did not.",
        ),
      ])
    : "";
  return `<h2>${esc(`7. Soft targets as a regulariser: ${frac} of the data`)}</h2>${htmlTable(["student", "training examples", "epochs", "test errors", "test accuracy"], rows)}<p class="note">${esc(`Paper (speech, test frame accuracy): 3% hard targets ${sp.hardTest.toFixed(1)}%, 3% soft targets ${sp.softTest.toFixed(1)}%, all data ${sp.fullTest.toFixed(1)}%.`)}</p>${chart}`;
}

function confusions(r: Results): string {
  const x = r.experiments ?? {};
  const runs: [string, RunSummary | undefined][] = [
    ["Teacher", x.teacher],
    ["Student (labels)", x.student],
    ["Distilled student", x.distilled],
  ];
  const figs = runs
    .filter(([, run]) => run?.confusion?.length)
    .map(([name, run]) => {
      const top = topConfusions(run!.confusion, 4);
      return figure(
        confusionMatrix({ title: `${name}: ${num(run!.testErrors)} errors`, matrix: run!.confusion }),
        top.length ? `most frequent: ${top.join(", ")}` : undefined,
      );
    });
  return figs.length
    ? `<h2>Confusion matrices (rows: true class, columns: predicted)</h2>${charts(figs)}`
    : "";
}

export function renderHtml(r: Results): string {
  const m = r?.machine;
  const x = r?.experiments ?? {};
  const title = "Distilling the Knowledge in a Neural Network: MNIST reproduction";
  const meta: [string, string][] = [
    ["profile", r?.profile ?? "—"],
    [
      "date",
      `${formatDate(r?.startedAt)}${r?.finishedAt ? ` – ${formatDate(r.finishedAt)}` : " (unfinished)"}`,
    ],
    ["machine", `${m?.cpuModel ?? "—"}, ${num(m?.cpus)} cores, ${num(m?.threads)} threads`],
    ["software", `Node ${m?.node ?? "—"}, onnxruntime ${m?.onnxruntime ?? "—"}`],
    ["total time", formatDuration(r?.totalSeconds)],
  ];
  const summary = guard("the summary", () => {
    const rows = summaryRows(r);
    const n = testSize(x.teacher ?? x.student ?? x.distilled);
    const note = `Gap: ours − paper (errors, or percentage points); "n/a" where the paper's number is from another task.${n && n !== 10000 ? ` Our test set has ${n} images; the paper's counts are out of 10,000.` : ""}`;
    return rows.length
      ? `${htmlTable(SUMMARY_HEADER, rows)}<p class="note">${esc(note)}</p>`
      : `<p>No experiment has finished yet.</p>`;
  });
  const choices = Object.entries(r?.choices ?? {});
  const parts = [
    `<h1>${esc(title)}</h1><p class="sub">Hinton, Vinyals &amp; Dean (2015), arXiv:1503.02531, section 3.</p>`,
    `<dl class="meta">${meta.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl>`,
    `<h2>Summary</h2>${summary}`,
    guard("the training curves", () => curves(r)),
    guard("the confusion matrices", () => confusions(r)),
    guard("experiment 4", () => bias("4. Transfer set without 3s", x.omit3, "test 3s", "Without 3s")),
    guard("experiment 5", () =>
      bias("5. Transfer set of only 7s and 8s", x.only78, "test 7s and 8s", "Only 7s and 8s"),
    ),
    guard("the temperature sweep", () => sweep(r)),
    guard("experiment 7", () => fewData(r)),
    `<h2>Choices where the paper is silent</h2>${choices.length ? `<ul class="choices">${choices.map(([k, v]) => `<li><b>${esc(k)}</b>: ${esc(v)}</li>`).join("")}</ul>` : "<p>None recorded.</p>"}`,
  ];
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body><main>
${parts.filter(Boolean).join("\n")}
</main></body>
</html>
`;
}
