/** The one results schema of every spec's results.json, validated with zod when read back. */
import { existsSync } from "node:fs";
import { z } from "zod";
import { KdError } from "../util/errors.js";
import { readInputFile } from "../util/files.js";

/** Bumped whenever results from older code could differ: part of every run's fingerprint. */
export const RESULTS_VERSION = 2;

export const metricsSchema = z.object({
  n: z.number().int(),
  errors: z.number().int(),
  accuracy: z.number(),
  ties: z.number().int().default(0),
  perClass: z.array(z.object({ total: z.number().int(), correct: z.number().int() })),
  confusion: z.array(z.array(z.number().int())),
});
export type Metrics = z.infer<typeof metricsSchema>;

export const epochSchema = z.object({
  epoch: z.number().int(),
  loss: z.number(),
  parts: z.record(z.string(), z.number()),
  trainAccuracy: z.number().nullable(),
  evalErrors: z.number().nullable(),
  evalAccuracy: z.number().nullable(),
  /** Absent in results written before kd measured it. */
  evalLoss: z.number().nullable().optional(),
  lr: z.number(),
  momentum: z.number(),
  seconds: z.number(),
  examplesPerSec: z.number(),
  /** This epoch's accuracy was at chance (train/divergence.ts). */
  diverged: z.literal(true).optional(),
});

export const runRecordSchema = z.object({
  id: z.string(),
  /** The spec's run name (grid points and seeds share it). */
  run: z.string(),
  /** The grid point: dotted field path → value. */
  point: z.record(z.string(), z.unknown()),
  seed: z.number().int(),
  fingerprint: z.string(),
  arch: z.string(),
  params: z.number().int(),
  objective: z.string(),
  trainExamples: z.number().int(),
  epochs: z.number().int(),
  bestEpoch: z.number().int().optional(),
  /**
   * The returned weights' accuracy is at chance (train/divergence.ts): recorded, not failed, but
   * marked in the reports and never chosen by a `best` analysis. Absent in older results.
   */
  diverged: z.boolean().optional(),
  test: metricsSchema.optional(),
  val: metricsSchema.optional(),
  history: z.array(epochSchema),
  seconds: z.number(),
  /** ONNX Runtime threads of the process that trained it (a queue's workers may differ from the coordinator). */
  threads: z.number().optional(),
  teacher: z.string().optional(),
  /** Exported ONNX file, relative to the output folder. */
  model: z.string().optional(),
  /** The model file's SHA-256: a rerun reuses the run only while the file still has it. */
  modelSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});
export type RunRecord = z.infer<typeof runRecordSchema>;

export const resultsSchema = z.object({
  version: z.literal(RESULTS_VERSION),
  spec: z.string(),
  profile: z.string().nullable(),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  totalSeconds: z.number().optional(),
  machine: z.object({
    cpus: z.number(),
    cpuModel: z.string(),
    /** Absent in results written before kd recorded them. */
    vectorExtensions: z.array(z.string()).optional(),
    node: z.string(),
    onnxruntime: z.string(),
    threads: z.number(),
  }),
  runs: z.record(z.string(), runRecordSchema),
  /** Runs that failed on bad input: id → the one-line message. */
  failed: z.record(z.string(), z.string()).default({}),
  analyses: z.record(z.string(), z.unknown()).default({}),
});
export type Results = z.infer<typeof resultsSchema>;

/** Reads a results.json; a missing file is undefined, an unreadable or foreign one is one clear line. */
/**
 * "AMD EPYC (AVX2, AVX-512 F/BW/…), 2 cores": the CPU a number was measured on. Extensions
 * recorded as none readable say so; results from before kd recorded them say nothing.
 */
export function cpuText(m: Pick<Results["machine"], "cpuModel" | "cpus" | "vectorExtensions">): string {
  const ext = m.vectorExtensions;
  const named = ext === undefined ? "" : ` (${ext.length ? ext.join(", ") : "vector extensions unknown"})`;
  return `${m.cpuModel}${named}, ${m.cpus} cores`;
}

export function readResults(path: string): Results | undefined {
  if (!existsSync(path)) return undefined;
  let raw: unknown;
  try {
    // The output folder is the user's: results.json may be a FIFO or a link to a device.
    raw = JSON.parse(readInputFile(path, "results file").toString("utf8"));
  } catch (e) {
    if (e instanceof KdError) throw e;
    // Not JSON.parse's message: on Node 20 it quotes the start of the file.
    throw new KdError(`${path} is not valid JSON`);
  }
  const r = resultsSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new KdError(
      `${path} is not a kd results file of version ${RESULTS_VERSION} (${i.path.join(".")}: ${i.message})`,
    );
  }
  return r.data;
}

/** A number over seeds: mean, sample standard deviation and every value. */
export interface Stat {
  readonly mean: number;
  readonly std: number;
  readonly values: readonly number[];
}

export function stat(values: readonly number[]): Stat {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, n);
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, values };
}

export const isStat = (x: unknown): x is Stat =>
  typeof x === "object" && x !== null && "mean" in x && "values" in x && Array.isArray((x as Stat).values);

/**
 * Aggregates objects of one shape (a run's repeats over seeds): where they disagree, numbers become
 * a Stat; identical values stay as they are; arrays and objects are aggregated element-wise.
 */
export function aggregate(items: readonly unknown[]): unknown {
  if (items.length === 1) return items[0];
  const first = items[0];
  if (typeof first === "number") {
    const nums = items.filter((x): x is number => typeof x === "number");
    return nums.every((x) => x === first) ? first : stat(nums);
  }
  if (Array.isArray(first)) {
    const len = Math.min(...items.map((x) => (Array.isArray(x) ? x.length : 0)));
    return Array.from({ length: len }, (_, i) => aggregate(items.map((x) => (x as unknown[])[i])));
  }
  if (first && typeof first === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(first))
      out[k] = aggregate(items.map((x) => (x as Record<string, unknown>)?.[k]));
    return out;
  }
  return first;
}

/** Groups of a run's records that differ only in the seed, keyed by run name + grid point. */
export function groupKey(r: Pick<RunRecord, "run" | "point">): string {
  const pts = Object.entries(r.point);
  return pts.length === 0
    ? r.run
    : `${r.run}[${pts.map(([k, v]) => `${k.split(".").pop()}=${fmt(v)}`).join(",")}]`;
}

/**
 * A grid value as run names show it: a list of scalars joined by "x" (hidden [300, 300] → 300x300),
 * anything holding objects as JSON (a `plus` term), so that distinct values never share a name.
 */
export const fmt = (v: unknown): string => {
  if (
    v !== null &&
    typeof v === "object" &&
    !(Array.isArray(v) && v.every((x) => x === null || typeof x !== "object"))
  )
    return JSON.stringify(v);
  return Array.isArray(v) ? v.join("x") : String(v);
};
