/** Experiments 4–5 of Hinton et al. (2015): shift some classes' logits, by a given amount and by one found on validation. */
import { z } from "zod";
import { searchShift, shiftVector } from "../distill/bias.js";
import { OnnxClassifier } from "../runtime/classifier.js";
import { argmaxRows } from "../train/metrics.js";
import { ensure } from "../util/errors.js";
import { meanOf, valueText } from "./blocks.js";
import { aggregate } from "./results.js";
import { type AnalysisDef, nonEmpty } from "./types.js";

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

/** A row of the shift table: one outcome, or dashes where it is absent. */
function outcomeRow(label: string, o: unknown): string[] {
  const x = o as Record<string, unknown> | undefined;
  return x
    ? [
        label,
        valueText(x.shift, "shift"),
        valueText(x.testErrors),
        `${valueText(x.classErrors)} of ${meanOf(x.classTotal)}`,
        valueText(x.classRight, "percent"),
        valueText(x.errorRate, "rate"),
      ]
    : [label, "—", "—", "—", "—", "—"];
}

export const biasShift: AnalysisDef<"biasShift"> = {
  params: z.strictObject({
    run: nonEmpty,
    classes: z.array(z.number().int().nonnegative()).min(1),
    val: nonEmpty,
    test: nonEmpty,
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
  render: (_p, v) => [
    {
      kind: "table",
      header: [
        "shift",
        "value",
        "test errors",
        "errors on shifted classes",
        "shifted classes right",
        "error rate",
      ],
      rows: [
        outcomeRow("none", v.unshifted),
        ...(v.given ? [outcomeRow("given", v.given)] : []),
        outcomeRow("found on validation", v.found),
      ],
    },
  ],
};
