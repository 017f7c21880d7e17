/**
 * The queue's job kinds and the schema a worker checks every job's payload against (after its
 * signature), so a job from another kd version is refused with the field it trips on.
 */
import { z } from "zod";
import { datasetSchema } from "../data/sources.js";
import { describeIssue } from "../experiment/load.js";
import { runSchema, type Spec } from "../experiment/schema.js";
import { KdError } from "../util/errors.js";
import type { PlannedRun } from "./plan.js";

/** What a worker needs to rebuild the run: the plan entry, the spec's datasets and their folder. */
export interface RunJobData {
  readonly planned: PlannedRun;
  readonly datasets: Spec["data"];
  readonly baseDir: string;
  /** Teacher files in the store (blobs/), in order. */
  readonly teacherFiles: readonly string[];
  readonly stepsPerRun?: number;
}

/** One shard (row range) of a run's teacher logits over its transfer set. */
export interface ShardJobData extends RunJobData {
  readonly range: { readonly start: number; readonly end: number };
}

export type Job =
  | { readonly name: "run"; readonly data: RunJobData }
  | { readonly name: "shard"; readonly data: ShardJobData };

const int = z.number().int().nonnegative();
const text = z.string().min(1).max(4096);

const plannedSchema = z.strictObject({
  id: text,
  run: text,
  point: z.record(z.string(), z.unknown()),
  seed: int,
  spec: runSchema,
  teachers: z.array(
    z.union([
      z.strictObject({ kind: z.literal("run"), ids: z.array(text) }),
      z.strictObject({
        kind: z.literal("file"),
        path: text,
        input: z.string().optional(),
        output: z.string().optional(),
        probs: z.boolean().optional(),
      }),
    ]),
  ),
  deps: z.array(text),
  /** Optional so a job from a kd before run identities still parses; without it the trainer keys its own checkpoint. */
  identity: z
    .strictObject({
      version: int,
      settings: z.record(z.string(), z.unknown()),
      data: z.strictObject({ train: text, test: text.nullable(), val: text.nullable() }),
      teachers: z.array(
        z.union([
          z.array(text),
          z.strictObject({
            file: text,
            input: z.string().nullable(),
            output: z.string().nullable(),
            probs: z.boolean(),
          }),
        ]),
      ),
    })
    .optional(),
  fingerprint: z.string().regex(/^[0-9a-f]{8,64}$/),
});

const runJobSchema = z.strictObject({
  planned: plannedSchema,
  datasets: z.record(z.string(), datasetSchema),
  baseDir: text,
  teacherFiles: z.array(text),
  stepsPerRun: z.number().int().positive().optional(),
});

const shardJobSchema = runJobSchema.extend({
  range: z.strictObject({ start: int, end: int }).refine((r) => r.start < r.end, "empty range"),
});

/** A verified payload as a typed job, or a KdError naming the kind or field that does not fit. */
export function parseJob(name: unknown, payload: unknown): Job {
  if (name !== "run" && name !== "shard") throw new KdError(`unknown job kind (expected run or shard)`);
  const r = (name === "run" ? runJobSchema : shardJobSchema).safeParse(payload);
  if (!r.success) throw new KdError(describeIssue(r.error.issues, `not a kd ${name} job`).slice(0, 300));
  return { name, data: r.data } as Job;
}

const num = z.number();

/**
 * Progress a worker sends (queue.ts JobProgress). Anyone who can write to Redis can publish
 * events, so the coordinator shows only well-formed ones (a malformed one threw in its printer,
 * a forged part name could write terminal escapes); fields it does not know are dropped.
 */
export const jobProgressSchema = z.union([
  z.object({
    progress: z.object({
      epoch: int,
      epochs: int,
      seen: num,
      total: num,
      loss: num,
      accuracy: num.optional(),
      examplesPerSec: num,
    }),
  }),
  z.object({
    epoch: z.object({
      epoch: int,
      loss: num,
      parts: z.record(z.string().regex(/^[\w-]{1,40}$/), num),
      trainAccuracy: num.nullable(),
      evalErrors: num.nullable(),
      evalAccuracy: num.nullable(),
      lr: num,
      momentum: num,
      seconds: num,
      examplesPerSec: num,
    }),
  }),
]);
