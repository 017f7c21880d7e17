/**
 * The grid value of an axis (or the combination of several, e.g. T × soft weight) with the lowest
 * mean metric among a run's records, and how far it closes a gap.
 */
import { z } from "zod";
import { ensure } from "../util/errors.js";
import { type Block, gapClosedText, num, valueText } from "./blocks.js";
import { fmt, groupKey, type Stat, stat } from "./results.js";
import { type AnalysisDef, gapShare, nonEmpty, pick, runMean } from "./types.js";

interface Point {
  readonly x: unknown;
  readonly y: Stat;
  readonly diverged?: number;
}

/** A chosen value as the tables show it: "4", or "temperature=4, softWeight=0.9" for several axes. */
function xText(x: unknown): string {
  if (x === null || typeof x !== "object" || Array.isArray(x)) return fmt(x);
  return Object.entries(x)
    .map(([k, v]) => `${k}=${fmt(v)}`)
    .join(", ");
}

/** The metric along the axis as a line (numeric axes only), with the reference as a dashed level. */
function chart(name: string, pts: readonly Point[], reference: unknown): Block {
  return {
    kind: "charts",
    charts: [
      {
        title: name,
        xLabel: "value",
        yLabel: "mean",
        logX: pts.every((p) => (p.x as number) > 0),
        series: [
          { name, points: pts.map((p) => [p.x as number, p.y.mean] as const) },
          ...(typeof reference === "number"
            ? [
                {
                  name: "reference",
                  dashed: true,
                  points: pts.map((p) => [p.x as number, reference] as const),
                },
              ]
            : []),
        ],
      },
    ],
  };
}

export const best: AnalysisDef<"best"> = {
  params: z.strictObject({
    run: nonEmpty,
    axis: z.union([nonEmpty, z.array(nonEmpty).min(1)]),
    metric: nonEmpty.default("test.errors"),
    where: z.record(z.string(), z.unknown()).optional(),
    reference: nonEmpty.optional(),
    report: nonEmpty.optional(),
    target: nonEmpty.optional(),
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
    const axes = typeof p.axis === "string" ? [p.axis] : p.axis;
    for (const r of ctx.records(p.run, p.where)) {
      for (const a of axes) ensure(r.point[a] !== undefined, `best: run ${p.run} has no grid axis ${a}`);
      // One axis: its value; several: their values by the axes' last names ({ temperature, softWeight }).
      const x =
        typeof p.axis === "string"
          ? r.point[p.axis]
          : Object.fromEntries(axes.map((a) => [a.split(".").pop()!, r.point[a]]));
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
    ensure(
      candidates.length > 0,
      `best: every value of ${axes.join(" × ")} in run ${p.run} has a diverged run`,
    );
    const best = candidates.reduce((a, b) => (b.y.mean < a.y.mean ? b : a));
    const ref = p.reference ? ctx.records(p.reference, p.where) : [];
    const gap = (() => {
      if (!p.target || !p.report || ref.length === 0 || !best.reported) return {};
      const b = stat(ref.map((r) => pick(r, p.report!) as number)).mean;
      const t = runMean(ctx, p.target, p.report);
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
  render(p, v, { name }) {
    const pts = (v.points ?? []) as Point[];
    return [
      {
        kind: "table",
        header: ["value", `${p.metric} (mean)`, "± std", "seeds"],
        rows: pts.map((p) => [
          `${xText(p.x)}${p.diverged ? " (diverged)" : ""}`,
          num(p.y.mean, 1),
          num(p.y.std, 1),
          String(p.y.values.length),
        ]),
      },
      {
        kind: "text",
        text: `best: ${xText(v.best)} (${num(v.value, 1)})${v.reported !== undefined ? `; reported there: ${valueText(v.reported)}` : ""}${v.gapClosed !== undefined ? `, ${gapClosedText(v.gapClosed)}` : ""}${v.reference !== undefined ? `; reference ${String(v.referenceLabel)}: ${num(v.reference, 1)}` : ""}`,
      },
      ...(pts.every((p) => typeof p.x === "number") ? [chart(name, pts, v.reference)] : []),
    ];
  },
};
