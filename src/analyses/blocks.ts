/**
 * What a report is made of (tables, text, charts, matrices) and how values read in it: the
 * vocabulary analyses render to and report/ lays out, kept below both so neither imports the other.
 */
import { fmt, isStat } from "./results.js";

export interface LineSeries {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  /** Drawn dashed, without markers (e.g. a reference level). */
  readonly dashed?: boolean;
  /** Markers only, no line joining them (a scatter of separate results). */
  readonly scatter?: boolean;
  /** Per point, the half-height of a vertical bar drawn through it (a spread over seeds). */
  readonly spread?: readonly number[];
}

export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly LineSeries[];
  readonly logX?: boolean;
  readonly logY?: boolean;
  readonly width?: number;
  readonly height?: number;
}

export type Block =
  | {
      readonly kind: "table";
      readonly header: readonly string[];
      readonly rows: readonly (readonly string[])[];
    }
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "list"; readonly items: readonly string[] }
  | { readonly kind: "charts"; readonly charts: readonly LineChartOptions[] }
  | { readonly kind: "confusion"; readonly title: string; readonly matrix: readonly (readonly number[])[] };

/** How a report row's value reads (the spec's `report.rows[].format`). */
export const VALUE_FORMATS = ["count", "percent", "rate", "number", "shift"] as const;
export type ValueFormat = (typeof VALUE_FORMATS)[number];

/** A number for a table: integers as they are, others to 3 significant decimals. */
export function num(x: unknown, digits?: number): string {
  if (typeof x !== "number" || !Number.isFinite(x)) return "—";
  if (digits !== undefined) return x.toFixed(digits);
  return Number.isInteger(x) ? String(x) : String(Number(x.toFixed(3)));
}

/** A value or a Stat over seeds, as "mean ± std" (percentages scaled by `scale`). */
export function valueText(v: unknown, format: ValueFormat = "count"): string {
  const one = (x: number) => {
    switch (format) {
      case "percent":
        return `${(100 * x).toFixed(1)}%`;
      case "rate":
        return `${(100 * x).toFixed(1)}%`;
      case "shift":
        return `${x > 0 ? "+" : ""}${num(x)}`;
      case "count":
        return Number.isInteger(x) ? String(x) : x.toFixed(1);
      default:
        return num(x);
    }
  };
  if (isStat(v))
    return `${format === "count" ? v.mean.toFixed(1) : one(v.mean)} ± ${format === "percent" || format === "rate" ? `${(100 * v.std).toFixed(1)}` : num(v.std, 1)}`;
  if (typeof v === "number") return one(v);
  if (Array.isArray(v)) return fmt(v);
  // null is a value computed as undefined (a gap closed with no gap); absent is "—".
  return v === undefined ? "—" : v === null ? "undefined" : String(v);
}

/** The mean of a Stat, a number as it is, else undefined. */
export const meanOf = (v: unknown): number | undefined =>
  isStat(v) ? v.mean : typeof v === "number" ? v : undefined;

/** A share of a gap closed; null (the target no better than the baseline) has no share to print. */
export function gapClosedText(share: unknown): string {
  return share === null
    ? "gap closed undefined: the target is no better than the baseline"
    : `${valueText(share, "percent")} of the gap closed`;
}
