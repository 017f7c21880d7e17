/**
 * The spec format: datasets, runs, analyses and the report, validated by one zod schema derived
 * from the registries (objectives, models, data sources, optimizers, schedules, analyses), so an
 * unknown kind or a misspelt field fails at parse time with the field's path.
 */
import { z } from "zod";
import { VALUE_FORMATS } from "../analyses/blocks.js";
import { ANALYSES, type AnalysisParams } from "../analyses/index.js";
import { datasetSchema } from "../data/sources.js";
import { MODELS, type ModelSpec } from "../nn/registry.js";
import { type ObjectiveSpec, objective, RUN_OBJECTIVES } from "../objectives/index.js";
import { OPTIMIZERS, type OptimizerSpec } from "../optim/registry.js";
import { jobFields, trainFields } from "../train/settings.js";
import { kindUnion } from "../util/kinds.js";

const int = z.number().int();

/** A teacher: another run of the spec (by name; all its seeds and grid points form an ensemble), or an ONNX file. */
export const teacherSchema = z.union([
  z.string().min(1),
  z.strictObject({
    path: z.string().min(1),
    /** Input and output names, when the file has several. */
    input: z.string().optional(),
    output: z.string().optional(),
    /** The output holds probabilities, not logits. */
    probs: z.boolean().optional(),
  }),
]);

/** One run: what a `kd train` or `kd distill` command does. */
export const runSchema = z
  .strictObject({
    model: kindUnion<ModelSpec>(MODELS),
    /** Dataset names (see `data`). */
    train: z.string().min(1),
    test: z.string().min(1).optional(),
    /** Evaluated every epoch instead of the test set (which is then measured once, at the end). */
    val: z.string().min(1).optional(),
    evalEach: jobFields.evalEach,
    objective: kindUnion<ObjectiveSpec>(RUN_OBJECTIVES).default({ kind: "ce" }),
    teachers: z.array(teacherSchema).min(1).optional(),
    /** How several teachers combine: mean of softmax(v/T), or mean of logits. */
    ensemble: z.enum(["prob", "logit"]).default("prob"),
    optimizer: kindUnion<OptimizerSpec>(OPTIMIZERS).default({ kind: "sgd", weightDecay: 0, maxNorm: 0 }),
    // The trainer's and the job's fields (train/settings.ts), each at its place: the run's
    // fingerprint hashes its settings in this order.
    lr: trainFields.lr,
    lrSchedule: trainFields.lrSchedule,
    momentum: trainFields.momentum,
    epochs: trainFields.epochs,
    batchSize: trainFields.batchSize,
    /**
     * Standardise the inputs with the training set's mean and std (per feature; per channel for
     * images) as the model's first step; recorded in the exported model's metadata.
     */
    standardize: z.boolean().optional(),
    bakePreprocessing: jobFields.bakePreprocessing,
    jitter: trainFields.jitter,
    augment: trainFields.augment,
    seed: trainFields.seed,
    /** Repeat the run over these seeds (overrides `seed`); tables then show mean ± std. */
    seeds: z.array(int.min(0)).min(1).optional(),
    earlyStop: trainFields.earlyStop,
    /** Field path → values: the run repeats for every combination (any field × any field). */
    grid: z.record(z.string(), z.array(z.unknown()).min(1)).optional(),
    /** Cache the teacher's logits on disk when the inputs do not change between epochs. */
    cache: z.boolean().default(true),
    /** GiB the teacher's features (hints, attention) may take when cached in memory (default 1). */
    featureCap: z.number().positive().max(1024).optional(),
    /** Where files go (for one-run specs from `kd train`/`kd distill`); default: inside the output folder. */
    out: z.string().min(1).optional(),
    /** A checkpoint path, or false for none. */
    checkpoint: z.union([z.string().min(1), z.literal(false)]).optional(),
    log: z.string().min(1).optional(),
    metadata: jobFields.metadata,
  })
  .superRefine((r, ctx) => {
    // The rules between a run's fields, once: a spec file, the CLI's one-run spec, a grid point
    // (runner/plan.ts) and a queue job (runner/jobs.ts) all parse a run with this schema.
    const rule = (ok: unknown, message: string) => {
      if (!ok) ctx.addIssue({ code: "custom", message });
    };
    const flag = "(on the command line: --val N)";
    rule(r.evalEach !== "val" || r.val, `evalEach val needs a val dataset ${flag}`);
    const wantsTeacher = objective.teacher(r.objective);
    rule(
      wantsTeacher === (r.teachers !== undefined),
      `the ${r.objective.kind} objective ${wantsTeacher ? "needs teachers" : "takes no teachers"}`,
    );
    // Mixed images have no label: refused here when no data could help (data/augment.ts checkMixup
    // refuses the rest when the run starts and knows whether its transfer set is labelled).
    rule(
      !r.augment?.mixup || (wantsTeacher && !objective.needsLabels(r.objective)),
      `mixup is function matching: the ${r.objective.kind} objective ${wantsTeacher ? "needs labels, which mixed images do not have" : "takes no teacher"}`,
    );
    if (r.earlyStop === undefined) return;
    rule(r.val, `earlyStop needs a val dataset to watch ${flag}`);
    // Choosing the epoch on the test set would leak it into the result.
    rule(
      !r.val || (r.evalEach ?? "val") === "val",
      "earlyStop watches the val dataset: evalEach must be val",
    );
  });
export type RunSpec = z.infer<typeof runSchema>;

/** A row of the report's summary table: a value from the results beside the paper's. */
export const rowSchema = z.strictObject({
  label: z.string(),
  /** A dotted path into the results, e.g. runs.teacher.test.errors or analyses.gap.value. */
  value: z.string(),
  /** A key of the paper's numbers file. */
  paper: z.string().optional(),
  format: z.enum(VALUE_FORMATS).default("count"),
  /** With format count: "of N" after the value, from this path (e.g. the test set's size). */
  of: z.string().optional(),
});
export type ReportRow = z.infer<typeof rowSchema>;

export const specSchema = z.strictObject({
  name: z.string().min(1),
  title: z.string().optional(),
  description: z.string().optional(),
  /** The paper's numbers: a YAML/JSON file beside the spec (a flat map of key → number, range or text). */
  paper: z.string().optional(),
  /** Choices where the paper is silent, in words, for the report. */
  notes: z.record(z.string(), z.string()).optional(),
  data: z.record(z.string(), datasetSchema),
  runs: z.record(z.string(), runSchema),
  analyses: z.record(z.string(), kindUnion<AnalysisSpec>(ANALYSES)).default({}),
  report: z
    .strictObject({
      rows: z.array(rowSchema).default([]),
      /** Runs whose confusion matrices are shown (default: none). */
      confusion: z.array(z.string()).default([]),
      /** Runs whose training curves are drawn (default: every run that is not a grid). */
      curves: z.array(z.string()).optional(),
    })
    .default({ rows: [], confusion: [] }),
});
export type Spec = z.infer<typeof specSchema>;
export type AnalysisSpec = {
  [K in keyof AnalysisParams]: { readonly kind: K } & AnalysisParams[K];
}[keyof AnalysisParams];
