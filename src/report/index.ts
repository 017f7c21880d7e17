/** Reports of a reproduction: report.md, report.html, and plain-text tables for the terminal. */
export { renderHtml } from "./html.js";
export { renderMarkdown, summaryTable } from "./markdown.js";
export { confusionMatrix, lineChart } from "./svg.js";
export { formatMetrics, pct, table } from "./text.js";
