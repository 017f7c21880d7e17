/**
 * The analysis registry: computations over finished runs (bias-shift search, share of a gap
 * closed, best value along a grid axis, accuracy against cost). Each entry (one file) declares its
 * parameters (zod), the runs it reads, computes a JSON result stored under `analyses.<name>` in
 * results.json, and renders that result as report blocks. A new analysis: its file, one key in AnalysisParams and ANALYSES,
 * and its test.
 */
import { best } from "./best.js";
import { biasShift } from "./bias-shift.js";
import { gapClosed } from "./gap-closed.js";
import { tradeoff } from "./tradeoff.js";
import type { AnalysisDef } from "./types.js";

export type { AnalysisContext, AnalysisDef, RenderContext } from "./types.js";
export { pick } from "./types.js";

export interface AnalysisParams {
  /** Experiments 4–5 of the paper: shift some classes' logits; a given shift and one found on validation. */
  biasShift: {
    run: string;
    classes: number[];
    val: string;
    test: string;
    given?: number | undefined;
    range: number;
    step: number;
  };
  /** (baseline − candidate) / (baseline − target) of a metric: the share of a gap closed. */
  gapClosed: { baseline: string; target: string; candidate: string; metric: string };
  /** The grid value of `axis` (or the combination of several axes) with the lowest mean `metric` among a run's records. */
  best: {
    run: string;
    axis: string | string[];
    metric: string;
    where?: Record<string, unknown> | undefined;
    reference?: string | undefined;
    /** Another metric reported at the chosen value (e.g. choose on val.errors, report test.errors). */
    report?: string | undefined;
    /** With `reference` and `report`: the share of the reference→target gap the chosen value closes. */
    target?: string | undefined;
  };
  /** Accuracy (mean and spread over seeds) against parameters and batch-1 latency, with Δ vs a labels-only twin. */
  tradeoff: {
    teacher: string;
    runs: Record<string, { model: string; objective: string; twin?: string | undefined }>;
    metric: string;
    timingMs: number;
  };
}
export type AnalysisKind = keyof AnalysisParams;

export const ANALYSES: { readonly [K in AnalysisKind]: AnalysisDef<K> } = {
  biasShift,
  gapClosed,
  best,
  tradeoff,
};

export function analysisDef<K extends AnalysisKind>(spec: { kind: K }): AnalysisDef<K> {
  return ANALYSES[spec.kind] as unknown as AnalysisDef<K>;
}
