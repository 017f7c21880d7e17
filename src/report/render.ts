/** Renderers of a report document: markdown (report.md), one offline HTML page (report.html), terminal text. */
import type { Block, ReportDoc } from "./document.js";
import { confusionMatrix, esc, lineChart } from "./svg.js";
import { table } from "./text.js";

const mdCell = (s: string) => s.replace(/\|/g, "\\|");

export function mdTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (r: readonly string[]) => `| ${r.map(mdCell).join(" | ")} |`;
  return [
    line(header),
    `|${header.map((_, j) => (j === 0 ? "---" : "---:")).join("|")}|`,
    ...rows.map(line),
  ].join("\n");
}

function mdBlock(b: Block): string {
  switch (b.kind) {
    case "table":
      return mdTable(b.header, b.rows);
    case "text":
      return b.text;
    case "list":
      return b.items.map((i) => `- ${i}`).join("\n");
    case "charts":
      return `_Charts: ${b.charts.map((c) => c.title).join("; ")} — see report.html._`;
    case "confusion":
      return `**${b.title}**\n\n${mdTable(
        ["true \\ predicted", ...b.matrix.map((_, k) => String(k))],
        b.matrix.map((row, k) => [String(k), ...row.map(String)]),
      )}`;
  }
}

export function renderMarkdown(doc: ReportDoc): string {
  const meta = doc.meta.map(([k, v]) => `- **${k}:** ${v}`).join("\n");
  const body = doc.sections.map((s) => `## ${s.title}\n\n${s.blocks.map(mdBlock).join("\n\n")}`).join("\n\n");
  return `# ${doc.title}\n\n${meta}\n\n${body}\n`;
}

const STYLE = `
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1f2328;background:#f6f8fa;margin:0}
main{max-width:1120px;margin:0 auto;padding:28px 32px 48px;background:#fff;min-height:100vh}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:36px 0 12px;padding-bottom:6px;border-bottom:1px solid #d0d7de}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}dl.meta dt{color:#57606a}dl.meta dd{margin:0}
table{border-collapse:collapse;margin:8px 0 12px;font-size:14px}
th,td{padding:5px 10px;border-bottom:1px solid #e5e7eb;text-align:right;white-space:nowrap}
th{background:#f6f8fa;font-weight:600;border-bottom:2px solid #d0d7de}
td:first-child,th:first-child{text-align:left;white-space:normal}
tbody tr:nth-child(even){background:#fafbfc}
.charts{display:flex;flex-wrap:wrap;gap:16px}
.charts figure{margin:0;border:1px solid #e5e7eb;border-radius:6px;padding:6px;background:#fff}
.charts svg{display:block;max-width:100%;height:auto}
`;

function htmlBlock(b: Block): string {
  switch (b.kind) {
    case "table": {
      const head = `<thead><tr>${b.header.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead>`;
      const body = b.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("");
      return `<table>${head}<tbody>${body}</tbody></table>`;
    }
    case "text":
      return `<p>${esc(b.text)}</p>`;
    case "list":
      return `<ul>${b.items.map((i) => `<li>${esc(i)}</li>`).join("")}</ul>`;
    case "charts":
      return `<div class="charts">${b.charts.map((c) => `<figure>${lineChart(c)}</figure>`).join("")}</div>`;
    case "confusion":
      return `<div class="charts"><figure>${confusionMatrix({ title: b.title, matrix: b.matrix })}</figure></div>`;
  }
}

/** One self-contained page: inline CSS and SVG, nothing fetched. */
export function renderHtml(doc: ReportDoc): string {
  const meta = `<dl class="meta">${doc.meta.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl>`;
  const body = doc.sections
    .map((s) => `<h2>${esc(s.title)}</h2>${s.blocks.map(htmlBlock).join("")}`)
    .join("");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(doc.title)}</title><style>${STYLE}</style></head><body><main><h1>${esc(doc.title)}</h1>${meta}${body}</main></body></html>\n`;
}

/** Wraps text at spaces to lines of at most `width` characters; a longer word keeps its own line. */
function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  out.push(line);
  return out;
}

/**
 * A terminal table no wider than `max` columns where it can be: the first column wraps at spaces
 * to fit, but never inside a word, so a run name (`kd[temperature=2]`) stays on one line.
 */
export function fitTable(header: readonly string[], rows: readonly (readonly string[])[], max = 100): string {
  const widths = header.map((_, j) => Math.max(...[header, ...rows].map((r) => (r[j] ?? "").length)));
  const rest = widths.slice(1).reduce((a, w) => a + w + 2, 0);
  const longestWord = Math.max(...rows.flatMap((r) => r[0]!.split(" ").map((w) => w.length)));
  const first = Math.max(16, longestWord, Math.min(widths[0]!, max - rest));
  const wrapped = rows.flatMap((r) =>
    wrap(r[0]!, first).map((l, i) => [l, ...(i === 0 ? r.slice(1) : r.slice(1).map(() => ""))]),
  );
  return table(header, wrapped);
}

/** The document's first table (the summary, or the runs) for the terminal. */
export function renderText(doc: ReportDoc): string {
  const t = doc.sections[0]?.blocks.find((b) => b.kind === "table");
  return t && t.kind === "table" ? fitTable(t.header, t.rows) : "";
}
