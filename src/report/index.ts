/** Reports of any spec's results: a document built from data, rendered as markdown, HTML and terminal text. */
import { join } from "node:path";
import type { Results } from "../analyses/results.js";
import type { Spec } from "../experiment/schema.js";
import { writeFileAtomic } from "../util/atomic.js";
import { buildReport } from "./document.js";
import { renderHtml, renderMarkdown, renderText } from "./render.js";

export { buildReport, type ReportDoc, resolvePath, summaryRows } from "./document.js";
export { fitTable, renderHtml, renderMarkdown, renderText } from "./render.js";
export { confusionMatrix, lineChart } from "./svg.js";
export { formatMetrics, pct, table } from "./text.js";

/** Writes report.md and report.html beside results.json; returns the terminal summary. */
export function writeReports(
  outDir: string,
  spec: Spec,
  results: Results,
  paper: Readonly<Record<string, unknown>>,
): string {
  const doc = buildReport(spec, results, paper);
  writeFileAtomic(join(outDir, "report.md"), renderMarkdown(doc));
  writeFileAtomic(join(outDir, "report.html"), renderHtml(doc));
  return renderText(doc);
}
