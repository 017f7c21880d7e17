/** Report rows' paths into the results: split on the spec's own names (which may hold dots) and checked at load. */
import { z } from "zod";
import { type AnalysisKind, analysisDef } from "../analyses/index.js";
import { fmt, resultsSchema, runRecordSchema } from "../analyses/results.js";
import { KdError } from "../util/errors.js";
import type { ReportRow, Spec } from "./schema.js";

/** A row path's run group or analysis and the field inside it. */
export interface RowTarget {
  readonly section: "runs" | "analyses";
  readonly name: string;
  readonly rest: string;
}

/**
 * Splits `runs.<name>.<field>` or `analyses.<name>.<field>` at the longest name that fits, so
 * `analyses.best-T-w0.5.best` finds the analysis `best-T-w0.5`; undefined when no name fits.
 */
export function splitRowPath(
  path: string,
  names: { readonly runs: Iterable<string>; readonly analyses: Iterable<string> },
): RowTarget | undefined {
  for (const section of ["runs", "analyses"] as const) {
    if (!path.startsWith(`${section}.`)) continue;
    const tail = path.slice(section.length + 1);
    let name: string | undefined;
    for (const n of names[section]) if (tail.startsWith(`${n}.`) && n.length > (name?.length ?? -1)) name = n;
    return name === undefined ? undefined : { section, name, rest: tail.slice(name.length + 1) };
  }
  return undefined;
}

/** The first segment of `parts` that a zod object schema has no field for; undefined if all fit. */
function unknownField(schema: z.ZodType, parts: readonly string[]): string | undefined {
  let s: z.ZodType = schema;
  for (const p of parts) {
    while (s instanceof z.ZodOptional || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
    // Past records, arrays and unknowns the shape is data, not schema: nothing more to check.
    if (!(s instanceof z.ZodObject)) return undefined;
    if (!Object.hasOwn(s.shape, p)) return p;
    s = s.shape[p] as z.ZodType;
  }
  return undefined;
}

/** The group keys of a run (`student[temperature=4,softWeight=0.5]`) matched without listing every point. */
function isGroupOf(spec: Spec, run: string, key: string): boolean {
  const grid = Object.entries(spec.runs[run]?.grid ?? {});
  if (key === run) return grid.length === 0;
  if (grid.length === 0 || !key.startsWith(`${run}[`) || !key.endsWith("]")) return false;
  let left = key.slice(run.length + 1, -1);
  for (const [i, [field, values]] of grid.entries()) {
    const end = i === grid.length - 1 ? "" : ",";
    const hit = values
      .map((v) => `${field.split(".").pop()}=${fmt(v)}${end}`)
      .find((t) => (end ? left.startsWith(t) : left === t));
    if (hit === undefined) return false;
    left = left.slice(hit.length);
  }
  return true;
}

/** Why a row path resolves to nothing in this spec's results, or undefined when it can resolve. */
function problem(spec: Spec, path: string): string | undefined {
  const runs = Object.keys(spec.runs);
  if (path.startsWith("runs.")) {
    const tail = path.slice(5);
    const run = runs
      .filter((r) => tail.startsWith(`${r}.`) || tail.startsWith(`${r}[`))
      .sort((a, b) => b.length - a.length)[0];
    if (run === undefined) return `it names no run (known: ${runs.join(", ")})`;
    const dot = tail.startsWith(`${run}[`) ? tail.indexOf("].", run.length) + 1 : run.length;
    const key = tail.slice(0, dot);
    if (dot === 0 || !isGroupOf(spec, run, key)) {
      const grid = Object.entries(spec.runs[run]!.grid ?? {});
      const point = grid.map(([f, v]) => `${f.split(".").pop()}=${fmt(v[0])}`).join(",");
      if (key === run) return `run ${run} has a grid: name one point, as in runs.${run}[${point}].…`;
      return `run ${run} has no grid point ${key.slice(run.length)}${grid.length ? ` (one is [${point}])` : ""}`;
    }
    const rest = tail.slice(dot + 1).split(".");
    if (rest[0] === "test" || rest[0] === "val")
      if (!spec.runs[run]![rest[0]]) return `run ${run} has no ${rest[0]} dataset`;
    const bad = unknownField(runRecordSchema, rest);
    return bad === undefined ? undefined : `a run's results have no field "${bad}"`;
  }
  if (path.startsWith("analyses.")) {
    const a = splitRowPath(path, { runs: [], analyses: Object.keys(spec.analyses) });
    if (!a) return `it names no analysis (known: ${Object.keys(spec.analyses).join(", ") || "none"})`;
    const params = spec.analyses[a.name]!;
    const outputs = analysisDef(params as { kind: AnalysisKind }).outputs(params as never);
    const field = a.rest.split(".")[0]!;
    return outputs.includes(field)
      ? undefined
      : `analysis ${a.name} gives no "${field}" (it gives: ${outputs.join(", ")})`;
  }
  const bad = unknownField(resultsSchema, path.split("."));
  return bad === undefined ? undefined : `results have no field "${bad}"`;
}

/**
 * The report rows that can resolve: a row naming a run or analysis the chosen profile removed
 * (`dropped`) is left out with it; any other row that would resolve to nothing is an error.
 */
export function checkRows(spec: Spec, where: string, dropped: ReadonlySet<string>): ReportRow[] {
  return spec.report.rows.filter((row, i) => {
    for (const field of ["value", "of"] as const) {
      const path = row[field];
      if (path === undefined) continue;
      const why = problem(spec, path);
      if (why === undefined) continue;
      if ([...dropped].some((d) => path.startsWith(`${d}.`) || path.startsWith(`${d}[`))) return false;
      throw new KdError(`${where}: report.rows.${i}.${field}: ${path} resolves to nothing: ${why}`);
    }
    return true;
  });
}
