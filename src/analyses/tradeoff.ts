/**
 * Accuracy against cost: each listed run's test accuracy (mean and spread over seeds) against its
 * parameters and its batch-1 latency as `kd summary` measures it, beside the teacher, with each
 * student's difference from its labels-only twin. One point per run; a table for the markdown.
 */
import { z } from "zod";
import { OnnxClassifier, parseModelFile } from "../runtime/classifier.js";
import { medianLatencyMs } from "../runtime/latency.js";
import { createSession } from "../runtime/session.js";
import { ensure } from "../util/errors.js";
import type { Block, LineChartOptions, LineSeries } from "./blocks.js";
import { type RunRecord, type Stat, stat } from "./results.js";
import { type AnalysisContext, type AnalysisDef, nonEmpty, pick } from "./types.js";

/** One point of the plot and row of the table. */
export interface TradeoffPoint {
  readonly run: string;
  readonly model: string;
  readonly objective: string;
  /** The trained model's parameters (batch-norm scales and shifts included). */
  readonly params: number;
  /** Median milliseconds of one batch-1 run of the exported model (its first seed's). */
  readonly latencyMs: number;
  /** The metric over seeds, in percentage points. */
  readonly accuracy: Stat;
  /** The mean's difference from the twin's mean (pp); absent without a twin. */
  readonly vsTwin?: number;
  readonly twin?: string;
  /** The mean's difference from the teacher's mean (pp). */
  readonly vsTeacher: number;
}

const entry = z.strictObject({
  /** The model as the table names it ("MobileNet"). */
  model: nonEmpty,
  /** The objective as the table names it ("kd, consistent"). */
  objective: nonEmpty,
  /** The labels-only run it is compared with. */
  twin: nonEmpty.optional(),
});

const pp = (x: number) => `${x > 0 ? "+" : ""}${x.toFixed(2)}`;

/** The metric of each of a run's records, in percent, refused in one line where one is missing. */
function accuracies(run: string, recs: readonly RunRecord[], metric: string): Stat {
  ensure(recs.length > 0, `analysis: run ${run} has no results`);
  const vals = recs.map((r) => pick(r, metric));
  ensure(
    vals.every((v) => typeof v === "number"),
    `analysis: run ${run} has no numeric ${metric}`,
  );
  return stat((vals as number[]).map((v) => 100 * v));
}

/** Batch-1 latency of a record's exported model, timed as `kd summary` times it. */
async function latencyOf(ctx: AnalysisContext, r: RunRecord, timingMs: number): Promise<number> {
  const path = ctx.modelPath(r);
  const opts = ctx.threads ? { threads: ctx.threads } : {};
  const clf = await OnnxClassifier.load(path, opts);
  try {
    const session = await createSession(parseModelFile(path).bytes, opts);
    try {
      return await medianLatencyMs(session, clf.inputName, clf.exampleShape, 1, timingMs);
    } finally {
      await session.release();
    }
  } finally {
    await clf.release();
  }
}

/** Accuracy against one cost, a series per objective so the legend names them. */
function chart(points: readonly TradeoffPoint[], x: "params" | "latencyMs"): LineChartOptions {
  const objectives = [...new Set(points.map((p) => p.objective))];
  const series: LineSeries[] = objectives.map((o) => {
    const pts = points.filter((p) => p.objective === o);
    return {
      name: o,
      scatter: true,
      points: pts.map((p) => [p[x], p.accuracy.mean] as const),
      spread: pts.map((p) => p.accuracy.std),
    };
  });
  return {
    title: x === "params" ? "Test accuracy against parameters" : "Test accuracy against batch-1 latency",
    xLabel: x === "params" ? "parameters (log scale)" : "latency at batch 1, ms (log scale)",
    yLabel: "test accuracy, % (bar: ± 1 sd over seeds)",
    logX: true,
    series,
  };
}

function table(teacher: TradeoffPoint, points: readonly TradeoffPoint[]): Block {
  return {
    kind: "table",
    header: [
      "model",
      "objective",
      "params",
      "latency (ms, batch 1)",
      "accuracy % (mean ± sd)",
      "seeds",
      "Δ vs labels only (pp)",
      "Δ vs teacher (pp)",
    ],
    rows: [teacher, ...points].map((p) => [
      p.model,
      p.objective,
      String(p.params),
      p.latencyMs.toFixed(3),
      // One seed has no spread to show.
      p.accuracy.values.length > 1
        ? `${p.accuracy.mean.toFixed(2)} ± ${p.accuracy.std.toFixed(2)}`
        : p.accuracy.mean.toFixed(2),
      String(p.accuracy.values.length),
      p.vsTwin === undefined ? "—" : pp(p.vsTwin),
      p === teacher ? "—" : pp(p.vsTeacher),
    ]),
  };
}

export const tradeoff: AnalysisDef<"tradeoff"> = {
  params: z.strictObject({
    teacher: nonEmpty,
    runs: z.record(z.string(), entry).refine((r) => Object.keys(r).length > 0, "list at least one run"),
    metric: nonEmpty.default("test.accuracy"),
    /** Time spent timing each model (as `kd summary --timing`). */
    timingMs: z.number().int().positive().default(500),
  }),
  runs: (p) => [
    p.teacher,
    ...new Set([...Object.keys(p.runs), ...Object.values(p.runs).flatMap((e) => (e.twin ? [e.twin] : []))]),
  ],
  outputs: () => ["points", "teacher"],
  async compute(p, ctx) {
    // Every run's accuracy first, so a missing one is refused before any model is timed.
    const acc = (run: string) => accuracies(run, ctx.records(run), p.metric);
    const entries = Object.entries(p.runs);
    const teacherAcc = acc(p.teacher);
    const accs = entries.map(([run, e]) => ({ accuracy: acc(run), twin: e.twin ? acc(e.twin) : undefined }));
    const cost = async (run: string) => {
      const first = [...ctx.records(run)].sort((a, b) => a.seed - b.seed)[0]!;
      return { params: first.params, latencyMs: await latencyOf(ctx, first, p.timingMs) };
    };
    const model = ctx.records(p.teacher)[0]!.arch;
    const teacher: TradeoffPoint = {
      run: p.teacher,
      model,
      objective: "labels (teacher)",
      ...(await cost(p.teacher)),
      accuracy: teacherAcc,
      vsTeacher: 0,
    };
    const points: Record<string, TradeoffPoint> = {};
    for (const [i, [run, e]] of entries.entries()) {
      const { accuracy, twin } = accs[i]!;
      points[run] = {
        run,
        model: e.model,
        objective: e.objective,
        ...(await cost(run)),
        accuracy,
        vsTeacher: accuracy.mean - teacherAcc.mean,
        ...(e.twin && twin ? { twin: e.twin, vsTwin: accuracy.mean - twin.mean } : {}),
      };
    }
    return { teacher, points };
  },
  render(p, v) {
    const teacher = v.teacher as TradeoffPoint;
    const points = Object.values(v.points as Record<string, TradeoffPoint>);
    return [
      {
        kind: "charts",
        charts: [chart([teacher, ...points], "params"), chart([teacher, ...points], "latencyMs")],
      },
      table(teacher, points),
      {
        kind: "text",
        text: `Accuracy is ${p.metric} in percent over each run's seeds; parameters are the trained model's (batch norm's scales and shifts included; export folds them away); latency is the median batch-1 time of the exported model, timed as kd summary times it, on the machine of the run.`,
      },
    ];
  },
};
