/**
 * Predictions of any ONNX classifier on files: images (one by one, a folder of them, or a folder
 * of class subfolders), NPY/NPZ arrays, CSV rows or IDX files. Each example gets its class and
 * the top-k probabilities softmax(z / T). Images go through the preprocessing the model records
 * (kd.preprocessing), else they are fed as pixel / 255 like kd's training data.
 */
import { readdirSync, statSync } from "node:fs";
import { basename } from "node:path";
import { alignClasses } from "../data/classes.js";
import type { Dataset } from "../data/dataset.js";
import {
  type ImageOptions,
  imageFilesIn,
  isImageFile,
  listImageFolder,
  loadImageFiles,
} from "../data/images.js";
import { type LoadOptions, loadDataset } from "../data/load.js";
import { type ClassifierOptions, OnnxClassifier } from "../runtime/classifier.js";
import { ensure, KdError } from "../util/errors.js";
import { printable } from "../util/printable.js";

export interface PredictOptions extends ClassifierOptions {
  /** Softmax temperature T > 0 (default 1): probabilities are softmax(z / T). */
  readonly temperature?: number;
  /** How many of the most probable classes to list (default 3, at most the class count). */
  readonly topK?: number;
  /** Labels for an NPY or IDX input (its true classes, to report accuracy). */
  readonly labels?: string;
  /** Loader options (CSV label column, NPZ array names, image resize and channels). */
  readonly load?: LoadOptions;
}

export interface ClassProb {
  readonly class: number;
  /** The class's name, when the model records names (`kd.classes`). */
  readonly name?: string;
  readonly prob: number;
}

export interface Prediction {
  /** The image file, or `file[i]` for row i (from 0) of an array or table. */
  readonly source: string;
  readonly class: number;
  /** The class's name, when the model records names (`kd.classes`). */
  readonly name?: string;
  /** The true class, when the input has labels. */
  readonly label?: number;
  readonly top: readonly ClassProb[];
}

export interface PredictResult {
  readonly model: string;
  readonly temperature: number;
  readonly numClasses: number;
  /** The model's class names (`kd.classes`: a CSV's label strings, an image folder's subfolders). */
  readonly classNames?: readonly string[];
  readonly predictions: readonly Prediction[];
  /** Over the examples with labels. */
  readonly accuracy?: { readonly right: number; readonly total: number };
}

/** Row-wise softmax(z / T) with the row max subtracted, in double precision. */
export function softmaxRows(z: Float32Array, n: number, c: number, T = 1): Float64Array {
  ensure(T > 0 && Number.isFinite(T), () => `temperature must be > 0, got ${T}`);
  const p = new Float64Array(n * c);
  for (let r = 0; r < n; r++) {
    let mx = -Infinity;
    for (let j = 0; j < c; j++) mx = Math.max(mx, z[r * c + j]!);
    let s = 0;
    for (let j = 0; j < c; j++) s += p[r * c + j] = Math.exp((z[r * c + j]! - mx) / T);
    for (let j = 0; j < c; j++) p[r * c + j]! /= s;
  }
  return p;
}

/** Images sized and coloured as the model wants them, read from its input shape. */
export function imageOptionsFor(shape: readonly number[]): ImageOptions {
  if (shape.length === 3 && (shape[0] === 1 || shape[0] === 3))
    return { resize: [shape[1]!, shape[2]!], channels: shape[0] };
  if (shape.length === 2) return { resize: [shape[0]!, shape[1]!], channels: 1 };
  if (shape.length === 1) {
    // A flat input: square grayscale (784 = 28·28), else square RGB.
    for (const c of [1, 3] as const) {
      const side = Math.round(Math.sqrt(shape[0]! / c));
      if (side * side * c === shape[0]) return { resize: [side, side], channels: c };
    }
  }
  return {};
}

interface Block {
  readonly ds: Dataset;
  readonly sources: readonly string[];
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    throw new KdError(`${path}: no such file or folder`);
  }
}

/** `fn()`, or undefined when it throws a KdError (bad input read one way may be good read another). */
function unlessKdError<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (e instanceof KdError) return undefined;
    throw e;
  }
}

/** Loads one input as a block of examples with their source names. */
function loadInput(path: string, clf: OnnxClassifier, opts: PredictOptions): Block {
  const load = opts.load ?? {};
  const imageOpts: ImageOptions = { ...imageOptionsFor(clf.exampleShape), ...load };
  const rows = (ds: Dataset) => ({ ds, sources: Array.from({ length: ds.n }, (_, i) => `${path}[${i}]`) });
  if (isDir(path)) {
    const subdirs = readdirSync(path).filter(
      (f) => !f.startsWith(".") && statSync(`${path}/${f}`).isDirectory(),
    );
    if (subdirs.length > 0) {
      const { classes, paths, labels } = listImageFolder(path);
      if (clf.classNames) {
        // A model with class names labels each image by its folder's name.
        const ds = { ...loadImageFiles(paths, labels, basename(path), imageOpts), classNames: classes };
        return { ds: alignClasses(ds, clf.classNames, clf.path), sources: paths };
      }
      // Folders named by class numbers (0, 1, ..., maybe with gaps) label their images by that number.
      const numbered = classes.every((c) => /^\d+$/.test(c));
      const y = numbered ? labels.map((k) => Number(classes[k])) : labels;
      return { ds: loadImageFiles(paths, y, basename(path), imageOpts), sources: paths };
    }
    const paths = imageFilesIn(path);
    ensure(paths.length > 0, () => `${path}: no PNG or JPEG images and no class subfolders`);
    return { ds: loadImageFiles(paths, undefined, basename(path), imageOpts), sources: paths };
  }
  if (isImageFile(path))
    return { ds: loadImageFiles([path], undefined, basename(path), imageOpts), sources: [path] };
  if (/\.(csv|tsv)$/i.test(path) && load.labelColumn === undefined) {
    // Rows of exactly the model's features have no label column; otherwise one column is the label
    // (a column of names cannot be a feature: such a table is read with labels).
    const unlabeled = unlessKdError(() => loadDataset(path, undefined, { ...load, labelColumn: null }));
    if (unlabeled?.features === clf.features) return rows(unlabeled);
  }
  return rows(alignClasses(loadDataset(path, opts.labels, load), clf.classNames, clf.path));
}

/** Runs the model at `modelPath` on every input and returns each example's top-k classes. */
export async function predict(
  modelPath: string,
  inputs: readonly string[],
  opts: PredictOptions = {},
): Promise<PredictResult> {
  ensure(inputs.length > 0, "no inputs to predict on");
  const T = opts.temperature ?? 1;
  ensure(T > 0 && Number.isFinite(T), () => `temperature must be > 0, got ${T}`);
  const clf = await OnnxClassifier.load(modelPath, opts);
  try {
    const c = clf.numClasses;
    const names = clf.classNames;
    const k = Math.min(opts.topK ?? 3, c);
    ensure(Number.isInteger(k) && k >= 1, () => `top-k must be a whole number ≥ 1, got ${opts.topK}`);
    // Everything loads and is checked before anything runs.
    const blocks = inputs.map((p) => loadInput(p, clf, opts));
    for (const b of blocks) clf.checkFits(b.ds);
    const predictions: Prediction[] = [];
    let right = 0;
    let total = 0;
    for (const { ds, sources } of blocks) {
      // The model's recorded preprocessing is applied to the values as loaded.
      const p = softmaxRows(await clf.logitsOf(ds), ds.n, c, T);
      for (let i = 0; i < ds.n; i++) {
        const row: ClassProb[] = Array.from(p.subarray(i * c, (i + 1) * c), (prob, cls) => ({
          class: cls,
          ...(names ? { name: names[cls]! } : {}),
          prob,
        }));
        row.sort((a, b) => b.prob - a.prob || a.class - b.class);
        const best = row[0]!.class;
        const label = ds.y?.[i];
        if (label !== undefined) {
          total++;
          if (label === best) right++;
        }
        predictions.push({
          source: sources[i]!,
          class: best,
          ...(names ? { name: names[best]! } : {}),
          ...(label !== undefined ? { label } : {}),
          top: row.slice(0, k),
        });
      }
    }
    return {
      model: modelPath,
      temperature: T,
      numClasses: c,
      ...(names ? { classNames: names } : {}),
      predictions,
      ...(total > 0 ? { accuracy: { right, total } } : {}),
    };
  } finally {
    await clf.release();
  }
}

/** One line per example: source, class (and true label), then the top-k probabilities; classes by name when the model has names. */
export function formatPredictions(res: PredictResult): string {
  // Names come from the data (a CSV's cells, folder names): shown so they cannot break the line.
  const show = (k: number) => (res.classNames ? printable(res.classNames[k]!) : String(k));
  const lines = res.predictions.map((p) => {
    const truth = p.label === undefined ? "" : p.label === p.class ? " (right)" : ` (label ${show(p.label)})`;
    const top = p.top.map((t) => `${show(t.class)}: ${t.prob.toFixed(4)}`).join("  ");
    return `${p.source}\t${show(p.class)}${truth}\t${top}`;
  });
  if (res.accuracy)
    lines.push(
      `accuracy ${((100 * res.accuracy.right) / res.accuracy.total).toFixed(2)}% (${res.accuracy.right}/${res.accuracy.total})${res.temperature !== 1 ? `, T = ${res.temperature}` : ""}`,
    );
  return lines.join("\n");
}
