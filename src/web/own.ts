/**
 * Distilling a user's own teacher on their own images, without the DOM: the teacher file checked
 * as the CLI checks one (runtime/signature.ts), a validation split, the teacher run once over the
 * set, the student trained by the shared core (core.ts trainInPage) and exported as `kd train`
 * exports (its preprocessing, data and class names recorded).
 */
import type { Model } from "../nn/model.js";
import { buildModel, parseArchSpec } from "../nn/registry.js";
import { paramCount } from "../nn/size.js";
import {
  type ObjectiveKind,
  type ObjectiveSpec,
  objective as obj,
  withDefaults,
} from "../objectives/index.js";
import { dataMetadata, META } from "../onnx/metadata.js";
import { modelInput } from "../onnx/preprocess.js";
import { decodeModel } from "../onnx/proto.js";
import { createSession } from "../runtime/session.js";
import { type ClassifierSignature, classifierSignature } from "../runtime/signature.js";
import { exportWithPreprocessing } from "../train/inference.js";
import { ensure, KdError } from "../util/errors.js";
import { checkAllocation } from "../util/memory.js";
import { Rng } from "../util/rng.js";
import { accuracy, Classifier, type PageProgress, type Rows, trainInPage } from "./core.js";
import type { ImageSet } from "./folder.js";

export interface Teacher {
  readonly name: string;
  /** The file, to load it again on another backend. */
  readonly onnx: Uint8Array;
  readonly bytes: number;
  readonly params: number;
  readonly signature: ClassifierSignature;
  readonly classifier: Classifier;
}

const PAGE_FLAGS = {
  input: "kd distill's --teacher-input (the page takes a model with one input)",
  output: "kd distill's --teacher-output (the page takes one float output)",
};

/** Loads a teacher file; anything that is not a classifier kd can run is one line naming the file. */
export async function loadTeacher(bytes: Uint8Array, name: string): Promise<Teacher> {
  let model: ReturnType<typeof decodeModel>;
  try {
    model = decodeModel(bytes);
  } catch {
    throw new KdError(`${name}: not an ONNX file`);
  }
  const signature = classifierSignature(model, name, { flags: PAGE_FLAGS });
  let session: Awaited<ReturnType<typeof createSession>>;
  try {
    session = await createSession(bytes);
  } catch (e) {
    throw new KdError(
      `${name}: ONNX Runtime cannot load it (${String((e as Error).message).split("\n")[0]})`,
    );
  }
  await session.release();
  const classifier = await Classifier.load(
    bytes,
    signature.input,
    signature.output,
    signature.exampleShape,
    signature.classes,
  );
  const params = model.graph!.initializer.reduce((a, t) => a + t.dims.reduce((x, d) => x * Number(d), 1), 0);
  return { name, onnx: bytes, bytes: bytes.length, params, signature, classifier };
}

/** Refuses a set the teacher cannot take: another number of values per example, or more classes than it outputs. */
export function checkFits(t: Teacher, set: ImageSet): void {
  const { exampleShape, classes } = t.signature;
  const f = exampleShape.reduce((a, b) => a * b, 1);
  const g = set.shape.reduce((a, b) => a * b, 1);
  ensure(
    f === g,
    () =>
      `${t.name} takes [${exampleShape.join(", ")}] (${f} values) per example; ${set.name}'s ${set.shape.length > 1 ? "images" : "examples"} are [${set.shape.join(", ")}] (${g} values)`,
  );
  ensure(
    set.classes.length <= classes,
    () => `${t.name} outputs ${classes} classes; ${set.name} has ${set.classes.length} class folders`,
  );
}

/**
 * The set with its labels numbered as the teacher numbers its classes: by the class names the
 * teacher records (kd.classes), when it records them; else in the folder's order, as kd does.
 * A class the teacher does not know is one line.
 */
export function forTeacher(t: Teacher, set: ImageSet): ImageSet {
  checkFits(t, set);
  const names = t.signature.classNames;
  if (!names) return set;
  const index = set.classes.map((c) => {
    const k = names.indexOf(c);
    ensure(
      k >= 0,
      () =>
        `${set.name}: class "${c}" is not one of ${t.name}'s classes (${names.slice(0, 10).join(", ")}${names.length > 10 ? ", ..." : ""})`,
    );
    return k;
  });
  const counts = names.map(() => 0);
  set.counts.forEach((n, c) => {
    counts[index[c]!] = n;
  });
  return { ...set, y: Int32Array.from(set.y, (c) => index[c]!), classes: names, counts };
}

/** The teacher's logits of every image (its recorded preprocessing applied, as kd distill does). */
export async function teacherLogits(
  t: Teacher,
  set: ImageSet,
  progress?: (done: number) => void | Promise<void>,
): Promise<Float32Array> {
  checkFits(t, set);
  checkAllocation(4 * set.n * t.signature.classes, `${t.name}: logits of ${set.n} images`);
  const x = modelInput(set.x, t.signature.exampleShape, t.signature.preprocessing, set.rawScale);
  return t.classifier.logits(x, set.n, 256, progress);
}

/** Rows `idx` of a row-major array of `width` columns. */
function pick(from: Float32Array, width: number, idx: Int32Array): Float32Array {
  const out = new Float32Array(idx.length * width);
  for (let i = 0; i < idx.length; i++)
    out.set(from.subarray(idx[i]! * width, (idx[i]! + 1) * width), i * width);
  return out;
}

/** A random split (seeded) of the set's rows: `share` of them, at least one, for validation. */
export function splitRows(n: number, share: number, seed: number): { train: Int32Array; val: Int32Array } {
  const count = Math.max(1, Math.round(n * share));
  ensure(count < n, () => `${n} images leave none to train on after a validation share of ${share}`);
  const order = new Rng(seed).permutation(n);
  return { val: order.slice(0, count).sort(), train: order.slice(count).sort() };
}

/**
 * Each objective's parameters from the page's two fields (T and the weight); the rest keep their
 * defaults. `undefined`: not offered in the page (the feature objectives need tensor names).
 */
const OBJECTIVE_FIELDS: {
  readonly [K in ObjectiveKind]: ((T: number, w: number) => Record<string, number>) | undefined;
} = {
  ce: () => ({}),
  kd: (T, w) => ({ temperature: T, softWeight: w }),
  match: (_T, w) => ({ softWeight: w }),
  dkd: (T) => ({ temperature: T }),
  lskd: (T) => ({ temperature: T }),
  dist: (T) => ({ temperature: T }),
  hints: undefined,
  attention: undefined,
};

export const PAGE_OBJECTIVES = (Object.keys(OBJECTIVE_FIELDS) as ObjectiveKind[]).filter(
  (k) => OBJECTIVE_FIELDS[k] !== undefined,
);

export interface OwnOptions {
  /** The student in kd's short form: "mlp:100", "cnn:16,32", "resnet:8", "mobilenet:0.5". */
  readonly arch: string;
  readonly objective: ObjectiveKind;
  readonly temperature: number;
  readonly weight: number;
  readonly epochs: number;
  readonly lr: number;
  readonly momentum?: number;
  readonly batchSize?: number;
  /** Share of the images held out for validation (default 0.2). */
  readonly valShare?: number;
  readonly seed?: number;
  readonly stepsPerRun?: number;
}

export interface OwnResult {
  readonly arch: string;
  readonly params: number;
  /** The exported student's example shape (an MLP's is flat). */
  readonly inputShape: readonly number[];
  readonly onnx: Uint8Array;
  readonly teacherAccuracy: number;
  readonly studentAccuracy: number;
  readonly valCount: number;
  readonly trainCount: number;
  readonly epochs: number;
  readonly stopped: boolean;
  readonly stepsPerSecond: number;
}

export interface OwnHooks {
  /** The teacher's pass over the set: images done. */
  readonly teacher?: (done: number, total: number) => void | Promise<void>;
  readonly progress?: (p: PageProgress) => void | Promise<void>;
  readonly stop?: () => boolean;
}

/** The objective spec of the page's fields, checked by the objective's own schema. */
export function pageObjective(o: Pick<OwnOptions, "objective" | "temperature" | "weight">): ObjectiveSpec {
  const fields = OBJECTIVE_FIELDS[o.objective];
  ensure(fields !== undefined, () => `the page does not offer the ${o.objective} objective`);
  return withDefaults(o.objective, fields(o.temperature, o.weight));
}

/** Distils the student `o.arch` from `t` on `set`; the teacher runs once, over all of it. */
export async function distilOwn(
  t: Teacher,
  given: ImageSet,
  o: OwnOptions,
  h: OwnHooks = {},
): Promise<OwnResult> {
  const objective = pageObjective(o);
  const set = forTeacher(t, given);
  const classes = t.signature.classes;
  // Through the registry, as every other path: the kind's shape and size checks run on the page's choice too.
  const model: Model = buildModel(parseArchSpec(o.arch), set.shape, classes);
  const split = splitRows(set.n, o.valShare ?? 0.2, o.seed ?? 1);
  const features = set.shape.reduce((a, b) => a * b, 1);
  const rows = (idx: Int32Array): Rows => ({
    x: pick(set.x, features, idx),
    y: Int32Array.from(idx, (j) => set.y[j]!),
    n: idx.length,
  });
  checkAllocation(4 * set.n * features, `${set.name}: the training and validation copies`);
  const train = rows(split.train);
  const val = rows(split.val);
  const all = await teacherLogits(t, set, (done) => h.teacher?.(done, set.n));
  const teacherTrain = obj.teacher(objective) ? pick(all, classes, split.train) : undefined;
  const teacherAccuracy = accuracy(pick(all, classes, split.val), val.y, val.n, classes);
  const B = o.batchSize ?? 64;
  const { params, history, stopped } = await trainInPage(
    {
      model,
      objective,
      epochs: o.epochs,
      batchSize: B,
      lr: o.lr,
      momentum: o.momentum ?? 0.9,
      // No more steps a graph run than an epoch has: a longer graph would be compiled and never run.
      stepsPerRun: Math.min(o.stepsPerRun ?? 8, Math.ceil(train.n / B)),
      seed: o.seed ?? 1,
      ...(h.stop ? { stop: h.stop } : {}),
    },
    train,
    val,
    teacherTrain,
    h.progress,
  );
  // Training steps only (the validation pass after each epoch is not a step).
  const seconds = history.reduce((a, log) => a + train.n / log.examplesPerSec, 0);
  const steps = history.length * Math.ceil(train.n / B);
  const onnx = exportWithPreprocessing(
    model,
    params,
    {
      // Class names only when they name every output (a model's names must, see readClassNames).
      ...dataMetadata(set.name, set.shape, set.classes.length === classes ? set.classes : undefined),
      ...(obj.teacher(objective) ? { [META.teachers]: t.name } : {}),
      [META.demo]: "distilled in the browser",
    },
    { rawScale: set.rawScale },
  );
  return {
    arch: model.arch,
    params: paramCount(model),
    inputShape: model.inputShape,
    onnx,
    teacherAccuracy,
    studentAccuracy: history.at(-1)?.evalAccuracy ?? 0,
    valCount: val.n,
    trainCount: train.n,
    epochs: history.length,
    stopped,
    stepsPerSecond: steps / seconds,
  };
}
