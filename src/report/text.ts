/** Plain-text renderings for the terminal: metrics, per-class accuracy, confusion matrices, tables. */
import type { ClassMetrics } from "../train/metrics.js";

/** A fixed-width table: first column left-aligned, the rest right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, j) => Math.max(...all.map((r) => (r[j] ?? "").length)));
  const line = (r: readonly string[]) =>
    r.map((cell, j) => (j === 0 ? cell.padEnd(widths[j]!) : cell.padStart(widths[j]!))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export const pct = (x: number, digits = 2) => `${(100 * x).toFixed(digits)}%`;

/** Metrics as the trainer measures them, or as results.json records them (per-class accuracy derived). */
type MetricsLike = Omit<ClassMetrics, "perClass" | "ties"> & {
  readonly perClass: readonly { readonly total: number; readonly correct: number }[];
};

export function formatMetrics(m: MetricsLike, title = "test"): string {
  const head = `${title}: ${m.errors} errors in ${m.n} (accuracy ${pct(m.accuracy)})`;
  const per = table(
    ["class", "examples", "correct", "accuracy"],
    m.perClass.map((c, k) => [
      String(k),
      String(c.total),
      String(c.correct),
      pct(c.total ? c.correct / c.total : 0),
    ]),
  );
  const conf = table(
    ["true\\pred", ...m.confusion.map((_, k) => String(k))],
    m.confusion.map((row, k) => [String(k), ...row.map(String)]),
  );
  return `${head}\n\n${per}\n\nconfusion matrix (rows: true class, columns: predicted)\n${conf}`;
}
