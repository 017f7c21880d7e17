/**
 * A run's settings that the training layer uses, as schema fields: the run schema
 * (experiment/schema.ts) is built from them and TrainConfig/JobOptions take their types, so no
 * layer restates a field, its type or its bounds.
 */
import { z } from "zod";
import { kindUnion } from "../util/kinds.js";
import { LR_SCHEDULES, type LrScheduleSpec, type MomentumSpec, momentumSchema } from "./schedule.js";

const int = z.number().int();

/** What train() reads of a run, besides its model, data, optimizer and objective. */
export const trainFields = {
  lr: z.number().positive().max(100),
  lrSchedule: kindUnion<LrScheduleSpec>(LR_SCHEDULES).default({ kind: "constant" }),
  momentum: (momentumSchema as z.ZodType<MomentumSpec>).default(0.9),
  epochs: int.min(1).max(100_000),
  batchSize: int.min(1).max(65_536).default(128),
  /** Random shifts of whole images by up to this many pixels (0: off). */
  jitter: int.min(0).max(8).default(0),
  /**
   * Random crops with zero padding (`crop` pixels a side, as torchvision's RandomCrop) and
   * horizontal flips (off by default: wrong for digits), after jitter; then mixup of the batch's
   * examples in pairs with λ ~ Beta(mixup, mixup) (function matching: distillation without labels,
   * the teacher live on the mixed batch; absent or 0: off). Absent: none (and absent from
   * fingerprints, so runs from before it keep theirs; likewise `mixup` within it).
   */
  augment: z
    .strictObject({
      crop: int.min(0).max(16).default(0),
      flip: z.boolean().default(false),
      mixup: z.number().min(0).max(100).optional(),
    })
    .optional(),
  seed: int.min(0).default(1),
  /** Stop when validation errors have not improved for this many epochs; keep the best weights. */
  earlyStop: int.min(1).optional(),
};

/** What runJob() reads of a run besides the trainer's settings. */
export const jobFields = {
  /** Evaluated every epoch (default: the val dataset if any, else test, which is then measured once at the end). */
  evalEach: z.enum(["test", "val", "none"]).optional(),
  /** Bake the preprocessing into the exported graph, so the model takes raw values (bytes, raw features). */
  bakePreprocessing: z.boolean().optional(),
  /** Extra metadata written into the exported model. */
  metadata: z.record(z.string(), z.string()).optional(),
};

type Fields<F extends z.ZodRawShape> = z.infer<z.ZodObject<F>>;
export type TrainSettings = Fields<typeof trainFields>;
export type JobSettings = Fields<typeof jobFields>;

/** The training settings of a resolved run, passed down as the schema gave them (absent ones left out). */
export function trainSettings(run: TrainSettings): TrainSettings {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(trainFields) as (keyof TrainSettings)[])
    if (run[k] !== undefined) out[k] = run[k];
  return out as TrainSettings;
}
