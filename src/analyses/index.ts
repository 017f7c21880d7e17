/**
 * The analysis registry: computations over finished runs (bias-shift search, share of a gap
 * closed, best value along a grid axis). Each entry declares its parameters (zod), the runs it
 * reads, and computes a JSON result stored under `analyses.<name>` in results.json.
 */
import { z } from "zod";
import type { DataCatalog } from "../data/sources.js";
import { searchShift, shiftVector } from "../distill/bias.js";
import { OnnxClassifier } from "../runtime/classifier.js";
import { argmaxRows } from "../train/metrics.js";
import { ensure } from "../util/errors.js";
import { aggregate, groupKey, type RunRecord, stat } from "./results.js";

export interface AnalysisContext {
  /** The finished records of a run, optionally only those at grid values `where`. */
  records(run: string, where?: Readonly<Record<string, unknown>>): RunRecord[];
  /** Absolute path of a record's exported model. */
  modelPath(r: RunRecord): string;
  readonly data: DataCatalog;
  readonly threads?: number;
}

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
  /** The grid value of `axis` with the lowest mean `metric` among a run's records. */
  best: {
    run: string;
    axis: string;
    metric: string;
    where?: Record<string, unknown> | undefined;
    reference?: string | undefined;
    /** Another metric reported at the chosen value (e.g. choose on val.errors, report test.errors). */
    report?: string | undefined;
    /** With `reference` and `report`: the share of the reference→target gap the chosen value closes. */
    target?: string | undefined;
  };
}
export type AnalysisKind = keyof AnalysisParams;

interface AnalysisDef<K extends AnalysisKind> {
  readonly params: z.ZodType<AnalysisParams[K]> & z.ZodObject;
  /** Runs whose results it reads. */
  runs(p: AnalysisParams[K]): string[];
  /** The top-level fields of its result (what a report row may name after `analyses.<name>.`). */
  outputs(p: AnalysisParams[K]): string[];
  compute(p: AnalysisParams[K], ctx: AnalysisContext): Promise<unknown>;
}

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
function meanOf(ctx: AnalysisContext, run: string, metric: string, where?: Record<string, unknown>): number {
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
function gapShare(baseline: number, target: number, candidate: number): number | null {
  return baseline - target > 0 ? (baseline - candidate) / (baseline - target) : null;
}

/** Test outcome of adding `shift` to the logits of `classes`. */
function outcome(logits: Float32Array, labels: Int32Array, classes: readonly number[], shift: number) {
  const c = logits.length / labels.length;
  const moved = new Float32Array(logits);
  const v = shiftVector(c, classes, shift);
  for (let i = 0; i < moved.length; i++) moved[i]! += v[i % c]!;
  const pred = argmaxRows(moved, labels.length, c);
  let errors = 0;
  let classErrors = 0;
  let classTotal = 0;
  for (let i = 0; i < labels.length; i++) {
    const wrong = pred[i] !== labels[i];
    if (wrong) errors++;
    if (classes.includes(labels[i]!)) {
      classTotal++;
      if (wrong) classErrors++;
    }
  }
  return {
    shift,
    testErrors: errors,
    classErrors,
    classTotal,
    /** Share of the shifted classes' test examples that are right. */
    classRight: classTotal > 0 ? (classTotal - classErrors) / classTotal : 0,
    errorRate: errors / labels.length,
  };
}

const name = z.string().min(1);

export const ANALYSES: { readonly [K in AnalysisKind]: AnalysisDef<K> } = {
  biasShift: {
    params: z.strictObject({
      run: name,
      classes: z.array(z.number().int().nonnegative()).min(1),
      val: name,
      test: name,
      given: z.number().optional(),
      range: z.number().positive().default(20),
      step: z.number().positive().default(0.05),
    }),
    runs: (p) => [p.run],
    outputs: (p) => ["unshifted", ...(p.given !== undefined ? ["given"] : []), "found", "instances"],
    async compute(p, ctx) {
      const val = ctx.data.get(p.val);
      const test = ctx.data.get(p.test);
      ensure(val.y && test.y, `biasShift: datasets ${p.val} and ${p.test} need labels`);
      const instances: Record<string, unknown> = {};
      for (const r of ctx.records(p.run)) {
        const clf = await OnnxClassifier.load(ctx.modelPath(r), ctx.threads ? { threads: ctx.threads } : {});
        try {
          const testLogits = await clf.logits(test.x, test.n);
          const valLogits = await clf.logits(val.x, val.n);
          const found = searchShift(valLogits, val.y, clf.numClasses, p.classes, p);
          instances[r.id] = {
            unshifted: outcome(testLogits, test.y, p.classes, 0),
            ...(p.given !== undefined ? { given: outcome(testLogits, test.y, p.classes, p.given) } : {}),
            found: {
              ...outcome(testLogits, test.y, p.classes, found.shift),
              valErrors: found.errors,
              valBaselineErrors: found.baselineErrors,
            },
          };
        } finally {
          await clf.release();
        }
      }
      return { ...(aggregate(Object.values(instances)) as object), instances };
    },
  },
  gapClosed: {
    params: z.strictObject({
      baseline: name,
      target: name,
      candidate: name,
      metric: name.default("test.errors"),
    }),
    runs: (p) => [p.baseline, p.target, p.candidate],
    outputs: () => ["value", "baseline", "target", "candidate"],
    async compute(p, ctx) {
      const [b, t, c] = [p.baseline, p.target, p.candidate].map((r) => meanOf(ctx, r, p.metric)) as [
        number,
        number,
        number,
      ];
      return { value: gapShare(b, t, c), baseline: b, target: t, candidate: c };
    },
  },
  best: {
    params: z.strictObject({
      run: name,
      axis: name,
      metric: name.default("test.errors"),
      where: z.record(z.string(), z.unknown()).optional(),
      reference: name.optional(),
      report: name.optional(),
      target: name.optional(),
    }),
    runs: (p) => [p.run, ...(p.reference ? [p.reference] : []), ...(p.target ? [p.target] : [])],
    outputs: (p) => [
      "best",
      "value",
      "points",
      ...(p.report ? ["reported"] : []),
      ...(p.reference ? ["reference", "referenceLabel"] : []),
      ...(p.reference && p.report && p.target ? ["gapClosed"] : []),
    ],
    async compute(p, ctx) {
      const groups = new Map<string, { x: unknown; ys: number[]; zs: number[]; diverged: number }>();
      for (const r of ctx.records(p.run, p.where)) {
        const x = r.point[p.axis];
        ensure(x !== undefined, `best: run ${p.run} has no grid axis ${p.axis}`);
        const y = pick(r, p.metric);
        ensure(typeof y === "number", `best: run ${r.id} has no ${p.metric}`);
        const key = JSON.stringify(x);
        const g = groups.get(key) ?? { x, ys: [], zs: [], diverged: 0 };
        g.ys.push(y);
        if (r.diverged) g.diverged++;
        if (p.report) g.zs.push(pick(r, p.report) as number);
        groups.set(key, g);
      }
      const points = [...groups.values()].map((g) => ({
        x: g.x,
        y: stat(g.ys),
        ...(p.report ? { reported: stat(g.zs) } : {}),
        // Runs at this value whose training diverged (train/divergence.ts): the value is never chosen.
        ...(g.diverged > 0 ? { diverged: g.diverged } : {}),
      }));
      ensure(
        points.length > 0,
        `best: run ${p.run} has no results${p.where ? " at the given grid values" : ""}`,
      );
      const candidates = points.filter((pt) => pt.diverged === undefined);
      ensure(candidates.length > 0, `best: every value of ${p.axis} in run ${p.run} has a diverged run`);
      const best = candidates.reduce((a, b) => (b.y.mean < a.y.mean ? b : a));
      const ref = p.reference ? ctx.records(p.reference, p.where) : [];
      const gap = (() => {
        if (!p.target || !p.report || ref.length === 0 || !best.reported) return {};
        const b = stat(ref.map((r) => pick(r, p.report!) as number)).mean;
        const t = meanOf(ctx, p.target, p.report);
        return { gapClosed: gapShare(b, t, best.reported.mean) };
      })();
      return {
        ...gap,
        best: best.x,
        value: best.y.mean,
        // The chosen value's other metric, over its seeds (e.g. test errors of the setting chosen on validation).
        ...(best.reported
          ? { reported: best.reported.values.length > 1 ? best.reported : best.reported.mean }
          : {}),
        points,
        ...(ref.length
          ? {
              reference: stat(ref.map((r) => pick(r, p.metric) as number)).mean,
              referenceLabel: groupKey(ref[0]!),
            }
          : {}),
      };
    },
  },
};

export function analysisDef<K extends AnalysisKind>(spec: { kind: K }): AnalysisDef<K> {
  return ANALYSES[spec.kind] as unknown as AnalysisDef<K>;
}
