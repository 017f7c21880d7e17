/** report.md: the reproduction's numbers beside the paper's, then each experiment in detail. */
import type { BiasExperiment, Results, RunSummary, ShiftOutcome, SweepSeries } from "../repro/results.js";
import { PAPER } from "../repro/results.js";
import { pct, table } from "./text.js";

export const SUMMARY_HEADER = ["experiment", "paper", "ours", "gap"] as const;

/** A number, or "—" when missing or not finite. */
export function num(x: number | null | undefined, digits?: number): string {
  if (typeof x !== "number" || !Number.isFinite(x)) return "—";
  return digits === undefined
    ? Number.isInteger(x)
      ? String(x)
      : String(Number(x.toFixed(3)))
    : x.toFixed(digits);
}

/** A difference with its sign: "+8", "-3", "0", "+1.2 pp". */
export function signed(x: number | null | undefined, digits = 0, unit = ""): string {
  if (typeof x !== "number" || !Number.isFinite(x)) return "—";
  const s = x.toFixed(digits);
  const zero = Number(s) === 0;
  return `${zero ? s.replace("-", "") : x > 0 ? `+${s}` : s}${unit ? ` ${unit}` : ""}`;
}

export const shiftText = (s: number | undefined) => (typeof s === "number" && s > 0 ? `+${num(s)}` : num(s));
const fracPct = (x: number | null | undefined, digits = 1) =>
  typeof x === "number" && Number.isFinite(x) ? pct(x, digits) : "—";
const share = (num_: number, den: number) => (den > 0 ? num_ / den : Number.NaN);
const sizeName = (hidden: readonly number[] | undefined) => (hidden?.length ? hidden.join("-") : "?");

/** An ISO time as "2026-01-02 03:04 UTC" (other text as it is). */
export function formatDate(iso: string | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

export function formatDuration(sec: number | undefined): string {
  if (typeof sec !== "number" || !Number.isFinite(sec)) return "—";
  if (sec < 60) return `${sec.toFixed(1)} s`;
  const m = Math.floor(sec / 60);
  if (m < 60) return `${m} min ${String(Math.round(sec - 60 * m)).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/** Right share of the shifted classes' test examples. */
const classRight = (o: ShiftOutcome | undefined) =>
  o && o.classTotal > 0 ? (o.classTotal - o.classErrors) / o.classTotal : Number.NaN;

/** Test images a run was scored on (the sum of its per-class totals), if known. */
export function testSize(run: RunSummary | undefined): number | undefined {
  const n = run?.perClass?.reduce((a, p) => a + (p?.total ?? 0), 0);
  return n ? n : undefined;
}

function sweepRow(s: SweepSeries): string[] {
  const name = `6. T sweep, ${sizeName(s.hidden)} student: best T`;
  const best = s.points?.find((p) => p.temperature === s.bestTemperature);
  const ours = `T = ${num(s.bestTemperature)}${best ? ` (${num(best.testErrors)} errors)` : ""}`;
  const width = s.hidden?.length ? Math.max(...s.hidden) : Number.NaN;
  if (width >= 300) {
    const hot = (s.points ?? []).filter((p) => p.temperature > 8).map((p) => p.testErrors);
    const spread = hot.length > 1 ? `T > 8 spread: ${Math.max(...hot) - Math.min(...hot)} errors` : "—";
    return [name, PAPER.sweep.wideNote, ours, spread];
  }
  if (width <= 30) {
    const [a, b] = PAPER.sweep.narrowBest;
    const t = s.bestTemperature;
    const gap = t < a ? signed(t - a, 1, "below") : t > b ? signed(t - b, 1, "above") : "inside";
    return [name, `best T ${a}–${b}`, ours, gap];
  }
  return [name, "—", ours, "—"];
}

function biasRows(tag: string, e: BiasExperiment, rate: boolean): string[][] {
  const rows: string[][] = [];
  if (rate) {
    const p = PAPER.only78;
    const at = ` (at ${shiftText(p.shift)})`;
    const r = (o: ShiftOutcome | undefined) => (o ? `${num(o.errorRate, 1)}%` : "—");
    const g = (o: ShiftOutcome | undefined, ref: number) =>
      signed((o?.errorRate ?? Number.NaN) - ref, 1, "pp");
    rows.push([
      `${tag}, unshifted: test error rate`,
      `${p.errorRate}%`,
      r(e.unshifted),
      g(e.unshifted, p.errorRate),
    ]);
    rows.push([
      `${tag}, shift ${shiftText(e.given?.shift)}: test error rate`,
      `${p.shiftedErrorRate}%`,
      r(e.given),
      g(e.given, p.shiftedErrorRate),
    ]);
    if (e.found)
      rows.push([
        `${tag}, shift ${shiftText(e.found.shift)} found on validation: test error rate`,
        `${p.shiftedErrorRate}%${at}`,
        r(e.found),
        g(e.found, p.shiftedErrorRate),
      ]);
    return rows;
  }
  const p = PAPER.omit3;
  const block = (label: string, o: ShiftOutcome | undefined, errs: number, errs3: number, note: string) => {
    if (!o) return;
    const of = o.classTotal !== p.test3s ? ` of ${o.classTotal}` : "";
    rows.push([`${label}: test errors`, `${errs}${note}`, num(o.testErrors), signed(o.testErrors - errs)]);
    rows.push([
      `${label}: errors on the ${p.test3s} test 3s`,
      `${errs3}${note}`,
      `${num(o.classErrors)}${of}`,
      signed(o.classErrors - errs3),
    ]);
    const paperRight = (p.test3s - errs3) / p.test3s;
    rows.push([
      `${label}: test 3s right`,
      `${pct(paperRight, 1)}${note}`,
      fracPct(classRight(o)),
      signed(100 * (classRight(o) - paperRight), 1, "pp"),
    ]);
  };
  block(`${tag}, unshifted`, e.unshifted, p.errors, p.errors3, "");
  block(`${tag}, shift ${shiftText(e.given?.shift)}`, e.given, p.shiftedErrors, p.shiftedErrors3, "");
  block(
    `${tag}, shift ${shiftText(e.found?.shift)} found on validation`,
    e.found,
    p.shiftedErrors,
    p.shiftedErrors3,
    ` (at ${shiftText(p.shift)})`,
  );
  return rows;
}

/** The summary table's rows: experiment | paper | ours | gap (ours − paper, signed). */
export function summaryRows(r: Results): string[][] {
  const x = r.experiments ?? {};
  const rows: string[][] = [];
  const errRow = (label: string, paper: number, run: RunSummary | undefined) => {
    if (run) rows.push([label, String(paper), num(run.testErrors), signed(run.testErrors - paper)]);
  };
  const arch = (run: RunSummary | undefined) => run?.arch.replace(/^mlp:/, "784-").replace(/,/g, "-") ?? "";
  errRow(`1. teacher ${arch(x.teacher)}-10, regularised: test errors`, PAPER.teacherErrors, x.teacher);
  errRow(`2. student ${arch(x.student)}-10, labels only: test errors`, PAPER.studentErrors, x.student);
  if (x.distilled) {
    errRow(
      `3. distilled student, T = ${num(x.distilled.temperature)}: test errors`,
      PAPER.distilledErrors,
      x.distilled,
    );
    const paperShare = share(
      PAPER.studentErrors - PAPER.distilledErrors,
      PAPER.studentErrors - PAPER.teacherErrors,
    );
    rows.push([
      "3. distilled: share of the student→teacher gap closed",
      pct(paperShare, 1),
      fracPct(x.distilled.gapClosed),
      signed(100 * (x.distilled.gapClosed - paperShare), 1, "pp"),
    ]);
  }
  if (x.omit3) rows.push(...biasRows("4. omit 3s", x.omit3, false));
  if (x.only78) rows.push(...biasRows("5. only 7s and 8s", x.only78, true));
  for (const s of x.temperatureSweep?.series ?? []) rows.push(sweepRow(s));
  const f = x.softRegularizer;
  if (f) {
    const tag = `7. ${pct(f.fraction, 0)} of data`;
    const sp = PAPER.speech3pct;
    const speech = (a: number) => `${a.toFixed(1)}% (speech test frame acc.)`;
    rows.push([
      `${tag}, labels only: test errors`,
      speech(sp.hardTest),
      num(f.labelsOnly?.testErrors),
      "n/a",
    ]);
    rows.push([
      `${tag}, soft targets: test errors`,
      speech(sp.softTest),
      num(f.softTargets?.testErrors),
      "n/a",
    ]);
    rows.push(["7. all data, labels only: test errors", speech(sp.fullTest), num(f.fullDataErrors), "n/a"]);
    const paperShare = share(sp.softTest - sp.hardTest, sp.fullTest - sp.hardTest);
    const ours = share(
      (f.labelsOnly?.testErrors ?? 0) - (f.softTargets?.testErrors ?? 0),
      (f.labelsOnly?.testErrors ?? 0) - f.fullDataErrors,
    );
    rows.push([
      `${tag}: share of the gap to all data closed by soft targets`,
      pct(paperShare, 1),
      fracPct(ours),
      signed(100 * (ours - paperShare), 1, "pp"),
    ]);
  }
  return rows;
}

/** The summary as a fixed-width text table for the terminal (never throws). */
export function summaryTable(r: Results): string {
  try {
    const rows = summaryRows(r);
    return rows.length ? table(SUMMARY_HEADER, rows) : "No experiment has finished yet.";
  } catch (err) {
    return `(could not render the summary: ${err instanceof Error ? err.message : String(err)})`;
  }
}

const cellText = (s: string) => s.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
/** Markdown text outside code: keep "<" from opening an HTML tag. */
const mdText = (s: string) => String(s).replace(/<(?=[A-Za-z/!?])/g, "&lt;");

/** A markdown pipe table; columns after the first right-aligned unless `left` says otherwise. */
export function mdTable(header: readonly string[], rows: readonly (readonly string[])[], left = 1): string {
  const line = (r: readonly string[]) =>
    `| ${header.map((_, j) => mdText(cellText(r[j] ?? ""))).join(" | ")} |`;
  const rule = `|${header.map((_, j) => (j < left ? "---" : "---:")).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/** Evenly chosen rows of a long history (always the first and last). */
export function sampleHistory<T>(h: readonly T[], max = 12): T[] {
  if (h.length <= max) return [...h];
  const idx = new Set<number>();
  for (let i = 0; i < max; i++) idx.add(Math.round((i * (h.length - 1)) / (max - 1)));
  return [...idx].sort((a, b) => a - b).map((i) => h[i]!);
}

/** The largest off-diagonal counts of a confusion matrix, as "4→9 ×12". */
export function topConfusions(conf: RunSummary["confusion"] | undefined, k = 6): string[] {
  const cells: [number, number, number][] = [];
  (conf ?? []).forEach((row, i) => {
    (row ?? []).forEach((v, j) => {
      if (i !== j && v > 0) cells.push([i, j, v]);
    });
  });
  return cells
    .sort((a, b) => b[2] - a[2])
    .slice(0, k)
    .map(([i, j, v]) => `${i}→${j} ×${v}`);
}

function runDetails(run: RunSummary): string {
  const n = testSize(run);
  const out = [
    `- architecture: ${mdText(run.arch ?? "—")}; learned from: ${mdText(run.objective ?? "—")}`,
    `- ${num(run.trainExamples)} training examples, ${num(run.epochs)} epochs, ${formatDuration(run.seconds)}`,
    `- test: **${num(run.testErrors)} errors**${n ? ` in ${n}` : ""} (accuracy ${fracPct(run.testAccuracy, 2)})`,
  ];
  const conf = topConfusions(run.confusion);
  if (conf.length) out.push(`- most frequent confusions (true→predicted): ${conf.join(", ")}`);
  const pc = run.perClass ?? [];
  if (pc.length) {
    out.push(
      "",
      mdTable(
        ["class", ...pc.map((_, k) => String(k))],
        [
          ["examples", ...pc.map((p) => num(p.total))],
          ["correct", ...pc.map((p) => num(p.correct))],
          ["accuracy", ...pc.map((p) => (p.total ? pct(p.correct / p.total, 1) : "—"))],
        ],
      ),
    );
  }
  const h = run.history ?? [];
  if (h.length) {
    const shown = sampleHistory(h);
    out.push(
      "",
      shown.length < h.length
        ? `Training history (${shown.length} of ${h.length} epochs):`
        : "Training history:",
      "",
      mdTable(
        ["epoch", "loss", "soft", "hard", "train acc.", "eval errors", "lr", "momentum", "seconds"],
        shown.map((e) => [
          num(e.epoch),
          num(e.loss, 4),
          num(e.soft, 4),
          num(e.hard, 4),
          e.trainAccuracy == null ? "—" : pct(e.trainAccuracy, 2),
          num(e.evalErrors),
          num(e.lr, 5),
          num(e.momentum, 3),
          num(e.seconds, 1),
        ]),
      ),
    );
  }
  return out.join("\n");
}

/** The detail rows of a bias experiment (unshifted, paper's shift, found shift), for both reports. */
export function biasRowsDetail(e: BiasExperiment): string[][] {
  const row = (label: string, s: ShiftOutcome | undefined) =>
    s
      ? [
          label,
          shiftText(s.shift),
          num(s.testErrors),
          `${num(s.errorRate, 2)}%`,
          `${num(s.classErrors)} of ${num(s.classTotal)}`,
          fracPct(classRight(s)),
        ]
      : [];
  return [
    row("unshifted", e.unshifted),
    row("paper's shift", e.given),
    row("found on validation", e.found),
  ].filter((r) => r.length);
}

function biasSection(e: BiasExperiment, what: string, shiftedWhat: string): string {
  const rows = biasRowsDetail(e);
  const out = [
    `- transfer set: ${what} ${(e.classes ?? []).join(", ")}; biases shifted: ${(e.shiftedClasses ?? []).length === 1 ? "class" : "classes"} ${(e.shiftedClasses ?? []).join(", ")}`,
  ];
  if (e.found)
    out.push(
      `- the shift search on the validation split: ${num(e.found.valErrors)} validation errors at ${shiftText(e.found.shift)} (unshifted: ${num(e.found.valBaselineErrors)})`,
    );
  out.push(
    "",
    mdTable(
      ["setting", "shift", "test errors", "error rate", `errors on ${shiftedWhat}`, `${shiftedWhat} right`],
      rows,
    ),
  );
  if (e.run) out.push("", "The student:", "", runDetails(e.run));
  return out.join("\n");
}

function sweepSection(sw: NonNullable<Results["experiments"]["temperatureSweep"]>): string {
  const series = sw.series ?? [];
  const temps = [...new Set(series.flatMap((s) => (s.points ?? []).map((p) => p.temperature)))].sort(
    (a, b) => a - b,
  );
  const cell = (s: SweepSeries, t: number) => {
    const p = s.points?.find((q) => q.temperature === t);
    if (!p) return "—";
    return t === s.bestTemperature ? `**${num(p.testErrors)}**` : num(p.testErrors);
  };
  const rows = temps.map((t) => [`T = ${num(t)}`, ...series.map((s) => cell(s, t))]);
  rows.push(["labels only", ...series.map((s) => num(s.labelsOnlyErrors))]);
  rows.push(["best T", ...series.map((s) => num(s.bestTemperature))]);
  return [
    `- ${num(sw.trainExamples)} training examples, ${num(sw.epochs)} epochs per run; test errors (best in bold)`,
    `- paper: with ≥ 300 units per layer ${PAPER.sweep.wideNote.replace(/ \(.*\)$/, "")}; with 30 units, T from ${PAPER.sweep.narrowBest[0]} to ${PAPER.sweep.narrowBest[1]} worked significantly better`,
    "",
    mdTable(["temperature", ...series.map((s) => `${sizeName(s.hidden)} student`)], rows),
  ].join("\n");
}

function fewDataSection(f: NonNullable<Results["experiments"]["softRegularizer"]>): string {
  const sp = PAPER.speech3pct;
  const r = (label: string, run: RunSummary | undefined) =>
    run
      ? [label, num(run.trainExamples), num(run.epochs), num(run.testErrors), fracPct(run.testAccuracy, 2)]
      : [label, "—", "—", "—", "—"];
  const out = [
    mdTable(
      ["student", "training examples", "epochs", "test errors", "test accuracy"],
      [
        r(`${pct(f.fraction, 0)} of data, labels only`, f.labelsOnly),
        r(`${pct(f.fraction, 0)} of data, soft targets`, f.softTargets),
        ["all data, labels only", "—", "—", num(f.fullDataErrors), "—"],
      ],
    ),
    "",
    `The paper's analogue is on speech (test frame accuracy): 3% hard targets ${sp.hardTest.toFixed(1)}%, 3% soft targets ${sp.softTest.toFixed(1)}%, all data ${sp.fullTest.toFixed(1)}%; the hard-target model needed early stopping, the soft-target one did not.`,
  ];
  const h = f.labelsOnly?.history?.filter((e) => typeof e.evalErrors === "number") ?? [];
  if (h.length) {
    const best = h.reduce((a, b) => (b.evalErrors! < a.evalErrors! ? b : a));
    out.push(
      "",
      `Labels only: lowest eval errors during training ${num(best.evalErrors)} at epoch ${num(best.epoch)} of ${h.length} (final: ${num(h[h.length - 1]!.evalErrors)}).`,
    );
  }
  return out.join("\n");
}

/** Renders a section, or a note saying why it could not be rendered; never throws. */
function guard(title: string, body: () => string): string {
  try {
    return `## ${title}\n\n${body()}`;
  } catch (err) {
    return `## ${title}\n\n_(could not render: ${mdText(err instanceof Error ? err.message : String(err))})_`;
  }
}

export function renderMarkdown(r: Results): string {
  const x = r?.experiments ?? {};
  const m = r?.machine;
  const out: string[] = [
    "# Distilling the Knowledge in a Neural Network: MNIST reproduction",
    "",
    "Hinton, Vinyals & Dean (2015), arXiv:1503.02531, section 3.",
    "",
    `- profile: **${mdText(r?.profile ?? "—")}**`,
    `- date: ${mdText(formatDate(r?.startedAt))}${r?.finishedAt ? ` – ${mdText(formatDate(r.finishedAt))}` : " (unfinished)"}`,
    `- machine: ${mdText(m?.cpuModel ?? "—")}, ${num(m?.cpus)} cores, ${num(m?.threads)} threads; Node ${mdText(m?.node ?? "—")}, onnxruntime ${mdText(m?.onnxruntime ?? "—")}`,
    `- total time: ${formatDuration(r?.totalSeconds)}`,
  ];
  out.push(
    "",
    guard("Summary", () => {
      const rows = summaryRows(r);
      if (!rows.length) return "No experiment has finished yet.";
      const n = testSize(x.teacher ?? x.student ?? x.distilled);
      const note =
        n && n !== 10000 ? `\n\nOur test set has ${n} images; the paper's counts are out of 10,000.` : "";
      return `${mdTable(SUMMARY_HEADER, rows)}\n\nGap: ours − paper (errors, or percentage points); "n/a" where the paper's number is from another task.${note}`;
    }),
  );
  if (x.teacher)
    out.push(
      "",
      guard("1. Teacher", () => runDetails(x.teacher!)),
    );
  if (x.student)
    out.push(
      "",
      guard("2. Student on labels alone", () => runDetails(x.student!)),
    );
  if (x.distilled)
    out.push(
      "",
      guard(`3. Distilled student (T = ${num(x.distilled.temperature)})`, () =>
        [
          `- share of the student→teacher gap closed: ${fracPct(x.distilled!.gapClosed)}`,
          runDetails(x.distilled!),
        ].join("\n"),
      ),
    );
  if (x.omit3)
    out.push(
      "",
      guard("4. Transfer set without 3s", () => biasSection(x.omit3!, "classes except", "test 3s")),
    );
  if (x.only78)
    out.push(
      "",
      guard("5. Transfer set of only 7s and 8s", () =>
        biasSection(x.only78!, "only classes", "test 7s and 8s"),
      ),
    );
  if (x.temperatureSweep)
    out.push(
      "",
      guard("6. Temperature sweep", () => sweepSection(x.temperatureSweep!)),
    );
  if (x.softRegularizer)
    out.push(
      "",
      guard(`7. Soft targets as a regulariser: ${pct(x.softRegularizer.fraction, 0)} of the data`, () =>
        fewDataSection(x.softRegularizer!),
      ),
    );
  out.push(
    "",
    guard("Choices where the paper is silent", () => {
      const entries = Object.entries(r?.choices ?? {});
      return entries.length
        ? entries.map(([k, v]) => `- **${mdText(k)}**: ${mdText(String(v))}`).join("\n")
        : "None recorded.";
    }),
  );
  return `${out.join("\n")}\n`;
}
