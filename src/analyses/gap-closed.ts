/** (baseline − candidate) / (baseline − target) of a metric: the share of a gap a candidate closes. */
import { z } from "zod";
import { gapClosedText, num } from "./blocks.js";
import { type AnalysisDef, gapShare, nonEmpty, runMean } from "./types.js";

export const gapClosed: AnalysisDef<"gapClosed"> = {
  params: z.strictObject({
    baseline: nonEmpty,
    target: nonEmpty,
    candidate: nonEmpty,
    metric: nonEmpty.default("test.errors"),
  }),
  runs: (p) => [p.baseline, p.target, p.candidate],
  outputs: () => ["value", "baseline", "target", "candidate"],
  async compute(p, ctx) {
    const [b, t, c] = [p.baseline, p.target, p.candidate].map((r) => runMean(ctx, r, p.metric)) as [
      number,
      number,
      number,
    ];
    return { value: gapShare(b, t, c), baseline: b, target: t, candidate: c };
  },
  render: (_p, v, { name }) => [
    {
      kind: "text",
      text: `${name}: ${gapClosedText(v.value)} (baseline ${num(v.baseline)}, target ${num(v.target)}, candidate ${num(v.candidate)})`,
    },
  ],
};
