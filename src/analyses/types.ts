/** The shape of an analysis's registry entry, and the small pieces the entries share. */
import { z } from "zod";
import type { DataCatalog } from "../data/sources.js";
import { ensure } from "../util/errors.js";
import type { Block } from "./blocks.js";
import type { AnalysisKind, AnalysisParams } from "./index.js";
import { type RunRecord, stat } from "./results.js";

export interface AnalysisContext {
  /** The finished records of a run, optionally only those at grid values `where`. */
  records(run: string, where?: Readonly<Record<string, unknown>>): RunRecord[];
  /** Absolute path of a record's exported model. */
  modelPath(r: RunRecord): string;
  readonly data: DataCatalog;
  readonly threads?: number;
}

/** What rendering an analysis's result knows besides its parameters and value. */
export interface RenderContext {
  /** The analysis's name in the spec (titles, text). */
  readonly name: string;
}

export interface AnalysisDef<K extends AnalysisKind> {
  readonly params: z.ZodType<AnalysisParams[K]> & z.ZodObject;
  /** Runs whose results it reads. */
  runs(p: AnalysisParams[K]): string[];
  /** The top-level fields of its result (what a report row may name after `analyses.<name>.`). */
  outputs(p: AnalysisParams[K]): string[];
  compute(p: AnalysisParams[K], ctx: AnalysisContext): Promise<unknown>;
  /** Its section of a report, from the result `compute` returned (a failed one never gets here). */
  render(p: AnalysisParams[K], value: Readonly<Record<string, unknown>>, ctx: RenderContext): Block[];
}

/** A name of a run, dataset or metric path. */
export const nonEmpty = z.string().min(1);

/** A dotted path into an object ("test.errors"); undefined when absent. */
export function pick(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** The mean of a metric over a run's records. */
export function runMean(
  ctx: AnalysisContext,
  run: string,
  metric: string,
  where?: Record<string, unknown>,
): number {
  const recs = ctx.records(run, where);
  ensure(recs.length > 0, `analysis: run ${run} has no results`);
  const vals = recs.map((r) => pick(r, metric));
  ensure(
    vals.every((v) => typeof v === "number"),
    `analysis: run ${run} has no numeric ${metric}`,
  );
  return stat(vals as number[]).mean;
}

/**
 * The share of the baseline→target gap the candidate closes (lower is better); null where the
 * target is no better than the baseline, since there is no gap to close and any number would mislead.
 */
export function gapShare(baseline: number, target: number, candidate: number): number | null {
  return baseline - target > 0 ? (baseline - candidate) / (baseline - target) : null;
}
