/**
 * NumPy's .npy (one array) and .npz (a zip of .npy files, plain or deflated) formats.
 * NPY is a magic string, a Python-dict header and the raw C-order bytes; NPZ entries are
 * inflated one at a time, only those asked for (zip.ts).
 */
import { basename } from "node:path";
import { ensure } from "../util/errors.js";
import { readInputFile } from "../util/files.js";
import { type ArrayDatasetOptions, datasetFromArrays } from "./arrays.js";
import type { Dataset } from "./dataset.js";
import {
  type NpyArray,
  npyFeatures,
  npyLabels,
  parseNpy,
  parseNpyHeader,
  X_KEYS,
  Y_KEYS,
} from "./npy-format.js";
import { peekEntry, readEntry, zipEntries } from "./zip.js";

export * from "./npy-format.js";

/** An .npz archive's arrays, read one at a time: those never asked for are never inflated. */
export interface NpzArchive {
  /** Array names (entry names without ".npy"), in the archive's order. */
  readonly names: readonly string[];
  /** The array `name` (one of `names`). */
  read(name: string): NpyArray;
}

/**
 * Opens an .npz archive: its zip directory is checked whole (see zipEntries), and each array's
 * declared size must match its NPY header before the array is inflated.
 */
export function openNpz(bytes: Uint8Array, what: string): NpzArchive {
  const entries = new Map(
    zipEntries(bytes, what)
      .filter((e) => e.name.endsWith(".npy"))
      .map((e) => [e.name.slice(0, -4), e] as const),
  );
  ensure(entries.size > 0, () => `${what}: the archive holds no .npy arrays`);
  return {
    names: [...entries.keys()],
    read(name) {
      const e = entries.get(name);
      ensure(e !== undefined, () => `${what}: no array named "${name}"`);
      const w = `${what}[${name}]`;
      const { info, dims, start, need } = parseNpyHeader(peekEntry(bytes, e, w), w);
      ensure(
        start + need === e.size,
        () =>
          `${w}: its zip entry declares ${e.size} bytes, but shape [${dims.join(", ")}] of ${info.dtype} takes ${start + need}`,
      );
      return parseNpy(readEntry(bytes, e, w), w);
    },
  };
}

/** The arrays of an .npz file, by name without the ".npy" suffix, in the archive's order. */
export function parseNpz(bytes: Uint8Array, what: string): Map<string, NpyArray> {
  const npz = openNpz(bytes, what);
  return new Map(npz.names.map((name) => [name, npz.read(name)]));
}

function readBytes(path: string, what: string): Uint8Array {
  return readInputFile(path, what);
}

/** Reads the one array of an .npy file. */
export function readNpyArray(path: string): NpyArray {
  return parseNpy(readBytes(path, "NPY file"), path);
}

/** Loads features from an .npy file and labels from another .npy file (when given). */
export function loadNpyDataset(path: string, labelsPath?: string, opts: ArrayDatasetOptions = {}): Dataset {
  const x = readNpyArray(path);
  const y = labelsPath === undefined ? undefined : npyLabels(readNpyArray(labelsPath), labelsPath);
  return datasetFromArrays(npyFeatures(x), y, basename(path), opts);
}

export interface NpzOptions extends ArrayDatasetOptions {
  /** Name of the features array (default: x, X, images, data or features). */
  readonly xKey?: string;
  /** Name of the labels array (default: y, labels, targets or label), or none for unlabeled data. */
  readonly yKey?: string;
}

/**
 * Loads an .npz archive: features and labels by name (see NpzOptions). With a single array
 * that array is the features. `labelsPath` (an .npy file) overrides the archive's labels.
 */
export function loadNpzDataset(path: string, labelsPath?: string, opts: NpzOptions = {}): Dataset {
  const npz = openNpz(readBytes(path, "NPZ file"), path);
  const names = npz.names;
  const arrays = new Set(names);
  const pick = (key: string | undefined, defaults: readonly string[], role: string): string | undefined => {
    if (key !== undefined) {
      ensure(
        arrays.has(key),
        () => `${path}: no array named "${key}" for ${role} (arrays: ${names.join(", ")})`,
      );
      return key;
    }
    return defaults.find((k) => arrays.has(k));
  };
  let xKey = pick(opts.xKey, X_KEYS, "the features");
  if (xKey === undefined && names.length === 1) xKey = names[0];
  ensure(
    xKey !== undefined,
    () =>
      `${path}: which array holds the features? (arrays: ${names.join(", ")}; name one as x or pass its name)`,
  );
  let y: ArrayLike<number | bigint> | undefined;
  if (labelsPath !== undefined) {
    y = npyLabels(readNpyArray(labelsPath), labelsPath);
  } else {
    const yKey = pick(opts.yKey, Y_KEYS, "the labels");
    if (yKey !== undefined) y = npyLabels(npz.read(yKey), `${path}[${yKey}]`);
  }
  return datasetFromArrays(npyFeatures(npz.read(xKey)), y, basename(path), opts);
}
