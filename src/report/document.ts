/**
 * A report as data: sections of tables, charts, matrices and text, built from any spec's results
 * and its paper numbers. The markdown, HTML and terminal renderers only lay this out, so no table
 * is written twice.
 */
import { type Block, meanOf, num, valueText } from "../analyses/blocks.js";
import { analysisDef, pick } from "../analyses/index.js";
import { aggregate, cpuText, groupKey, type Results, type RunRecord } from "../analyses/results.js";
import { splitRowPath } from "../experiment/rows.js";
import type { AnalysisSpec, ReportRow, Spec } from "../experiment/schema.js";
import { formatSeconds } from "../util/duration.js";

export { type Block, num, valueText } from "../analyses/blocks.js";

export interface Section {
  readonly title: string;
  readonly blocks: readonly Block[];
}

export interface ReportDoc {
  readonly title: string;
  readonly meta: readonly (readonly [string, string])[];
  readonly sections: readonly Section[];
}

export function formatDuration(sec: number | undefined): string {
  if (typeof sec !== "number" || !Number.isFinite(sec)) return "—";
  return formatSeconds(sec);
}

/** Runs grouped over seeds, keyed by run name + grid point, in results order. */
export function runGroups(results: Results): Map<string, RunRecord[]> {
  const groups = new Map<string, RunRecord[]>();
  for (const r of Object.values(results.runs)) {
    const k = groupKey(r);
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return groups;
}

/**
 * What a dotted path in a report row points at: `runs.<group>...` (aggregated over seeds),
 * `analyses.<name>...` or anything else; run and analysis names may hold dots.
 */
export function resolvePath(results: Results, path: string): unknown {
  const groups = runGroups(results);
  const t = splitRowPath(path, { runs: groups.keys(), analyses: Object.keys(results.analyses) });
  if (t?.section === "runs") return aggregate(groups.get(t.name)!.map((r) => pick(r, t.rest)));
  if (t?.section === "analyses") return pick(results.analyses[t.name], t.rest);
  return path.startsWith("runs.") || path.startsWith("analyses.") ? undefined : pick(results, path);
}

/** " (diverged)" or " (1 of 2 seeds diverged)" for a group with diverged runs, else "". */
function divergedText(recs: readonly RunRecord[] | undefined): string {
  const k = recs?.filter((r) => r.diverged).length ?? 0;
  if (k === 0) return "";
  return recs!.length === 1 ? " (diverged)" : ` (${k} of ${recs!.length} seeds diverged)`;
}

/** The mark of a report row whose value comes from a run group with diverged runs. */
function rowDiverged(results: Results, path: string): string {
  const groups = runGroups(results);
  const t = splitRowPath(path, { runs: groups.keys(), analyses: Object.keys(results.analyses) });
  return t?.section === "runs" ? divergedText(groups.get(t.name)) : "";
}

/** ours − paper, in the row's unit, or a range check, or "—". */
function gapText(ours: unknown, paper: unknown, format: ReportRow["format"]): string {
  const o = meanOf(ours);
  if (o === undefined) return "—";
  const pp = format === "percent" || format === "rate";
  const scale = pp ? 100 : 1;
  if (Array.isArray(paper) && paper.length === 2 && paper.every((x) => typeof x === "number")) {
    const [lo, hi] = paper as [number, number];
    return o < lo
      ? `${num((o - lo) * scale, 1)} below`
      : o > hi
        ? `+${num((o - hi) * scale, 1)} above`
        : "inside";
  }
  if (typeof paper !== "number") return "n/a";
  const d = (o - paper) * scale;
  const s = d.toFixed(pp ? 1 : Number.isInteger(d) ? 0 : 1);
  return `${d > 0 ? "+" : ""}${Number(s) === 0 ? s.replace("-", "") : s}${pp ? " pp" : ""}`;
}

function paperText(paper: unknown, format: ReportRow["format"]): string {
  if (Array.isArray(paper)) return paper.map((x) => valueText(x, format)).join("–");
  return typeof paper === "number" ? valueText(paper, format) : paper === undefined ? "—" : String(paper);
}

/** The summary table's rows: label, paper, ours, gap. */
export function summaryRows(
  spec: Spec,
  results: Results,
  paper: Readonly<Record<string, unknown>>,
): string[][] {
  return spec.report.rows.map((row) => {
    const ours = resolvePath(results, row.value);
    const p = row.paper ? paper[row.paper] : undefined;
    const of = row.of ? meanOf(resolvePath(results, row.of)) : undefined;
    const text = `${valueText(ours, row.format)}${of !== undefined && ours !== undefined ? ` of ${of}` : ""}${rowDiverged(results, row.value)}`;
    return [row.label, paperText(p, row.format), text, row.paper ? gapText(ours, p, row.format) : "—"];
  });
}

/** One row per run group: what it trained, on how much, and its test (or validation) errors. */
function runsTable(results: Results): Block {
  const rows = [...runGroups(results)].map(([key, recs]) => {
    const a = aggregate(recs.map((r) => ({ e: r.test?.errors, n: r.test?.n, s: r.seconds }))) as {
      e: unknown;
      n: unknown;
      s: unknown;
    };
    const r = recs[0]!;
    return [
      key,
      r.arch,
      r.objective,
      String(r.trainExamples),
      String(r.epochs),
      recs.length > 1 ? String(recs.length) : "1",
      `${a.e === undefined ? "—" : `${valueText(a.e)} of ${meanOf(a.n)}`}${divergedText(recs)}`,
      formatDuration(recs.reduce((t, x) => t + x.seconds, 0)),
    ];
  });
  return {
    kind: "table",
    header: ["run", "model", "objective", "train examples", "epochs", "seeds", "test errors", "time"],
    rows,
  };
}

/** An analysis's section: its entry renders the result; a failed one is one line. */
function analysisBlocks(name: string, a: AnalysisSpec, value: unknown): Block[] {
  if (value && typeof value === "object" && "error" in value)
    return [{ kind: "text", text: `${name}: failed — ${String((value as { error: unknown }).error)}` }];
  const { kind: _k, ...params } = a;
  return analysisDef(a).render(params as never, value as Record<string, unknown>, { name });
}

function curves(spec: Spec, results: Results): Block | undefined {
  const wanted = spec.report.curves ?? Object.keys(spec.runs).filter((r) => !spec.runs[r]!.grid);
  const recs = wanted.flatMap((name) => {
    const first = Object.values(results.runs).find((r) => r.run === name);
    return first ? [first] : [];
  });
  if (recs.length === 0) return undefined;
  const series = (f: (h: RunRecord["history"][number]) => number | null) =>
    recs.map((r) => ({
      name: groupKey(r),
      points: r.history.flatMap((h) => (f(h) === null ? [] : [[h.epoch, f(h)!] as const])),
    }));
  return {
    kind: "charts",
    charts: [
      {
        title: "Errors on the evaluated set after each epoch",
        xLabel: "epoch",
        yLabel: "errors",
        logY: true,
        series: series((h) => h.evalErrors),
      },
      { title: "Training loss", xLabel: "epoch", yLabel: "loss", logY: true, series: series((h) => h.loss) },
    ],
  };
}

export function buildReport(
  spec: Spec,
  results: Results,
  paper: Readonly<Record<string, unknown>>,
): ReportDoc {
  const m = results.machine;
  const sections: Section[] = [];
  if (spec.report.rows.length > 0)
    sections.push({
      title: "Summary",
      // A spec without the paper's numbers gets no paper and gap columns.
      blocks: spec.report.rows.some((r) => r.paper)
        ? [
            { kind: "table", header: ["", "paper", "ours", "gap"], rows: summaryRows(spec, results, paper) },
            {
              kind: "text",
              text: "Gap: ours − paper (errors, or percentage points). Several seeds: mean ± sample std.",
            },
          ]
        : [
            {
              kind: "table",
              header: ["", "ours"],
              rows: summaryRows(spec, results, paper).map((r) => [r[0]!, r[2]!]),
            },
            { kind: "text", text: "Several seeds: mean ± sample std." },
          ],
    });
  sections.push({ title: "Runs", blocks: [runsTable(results)] });
  const failed = Object.entries(results.failed);
  if (failed.length > 0)
    sections.push({
      title: "Failed runs",
      blocks: [{ kind: "list", items: failed.map(([k, v]) => `${k}: ${v}`) }],
    });
  for (const [name, a] of Object.entries(spec.analyses)) {
    const value = results.analyses[name];
    if (value !== undefined)
      sections.push({ title: `Analysis: ${name}`, blocks: analysisBlocks(name, a, value) });
  }
  const c = curves(spec, results);
  if (c) sections.push({ title: "Training curves", blocks: [c] });
  const conf = spec.report.confusion.flatMap((name) => {
    const r = Object.values(results.runs).find((x) => x.run === name);
    return r?.test
      ? [
          {
            kind: "confusion" as const,
            title: `${groupKey(r)}: ${r.test.errors} test errors`,
            matrix: r.test.confusion,
          },
        ]
      : [];
  });
  if (conf.length > 0) sections.push({ title: "Confusion matrices (rows: true class)", blocks: conf });
  if (spec.notes || spec.description)
    sections.push({
      title: "Choices",
      blocks: [
        ...(spec.description ? [{ kind: "text" as const, text: spec.description }] : []),
        ...(spec.notes
          ? [{ kind: "list" as const, items: Object.entries(spec.notes).map(([k, v]) => `${k}: ${v}`) }]
          : []),
      ],
    });
  return {
    title: spec.title ?? spec.name,
    meta: [
      ["spec", `${spec.name}${results.profile ? ` (profile ${results.profile})` : ""}`],
      [
        "finished",
        results.finishedAt ? `${results.finishedAt.slice(0, 16).replace("T", " ")} UTC` : "not yet",
      ],
      ["training time", formatDuration(results.totalSeconds)],
      [
        "machine",
        `${cpuText(m)}, ${threadsUsed(results)}, Node ${m.node}, onnxruntime-node ${m.onnxruntime}`,
      ],
    ],
    sections,
  };
}

/** The threads the runs trained with (a queue's workers may use fewer than the coordinator). */
function threadsUsed(results: Results): string {
  const used = [...new Set(Object.values(results.runs).map((r) => r.threads ?? results.machine.threads))];
  const counts = used.length > 0 ? used.sort((a, b) => a - b) : [results.machine.threads];
  return `${counts.join(" or ")} ONNX Runtime thread${counts.length === 1 && counts[0] === 1 ? "" : "s"}`;
}
