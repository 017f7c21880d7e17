/**
 * One entry point for datasets on disk: the format is told from the path (a folder of class
 * subfolders, .csv/.tsv) or from the file's first bytes (NPY, NPZ, IDX, plain or gzipped).
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { basename, extname } from "node:path";
import { ensure, KdError } from "../util/errors.js";
import { fsErrorMessage } from "../util/fs-errors.js";
import { type ArrayDatasetOptions, datasetFromArrays } from "./arrays.js";
import { type CsvOptions, loadCsvDataset } from "./csv.js";
import type { Dataset } from "./dataset.js";
import { readIdxFile } from "./idx.js";
import { type ImageOptions, isImageFile, loadImageFiles, loadImageFolder } from "./images.js";
import { isNpy, isZip, loadNpyDataset, loadNpzDataset, type NpzOptions } from "./npy.js";

export type DataFormat = "images" | "image" | "csv" | "npy" | "npz" | "idx";

/** Options of every format; each loader reads the ones that concern it. */
export interface LoadOptions extends ArrayDatasetOptions, CsvOptions, NpzOptions, ImageOptions {
  /** Skip detection. */
  readonly format?: DataFormat;
}

/** The first `n` bytes of a file (fewer when it is shorter). */
function firstBytes(path: string, n: number): Uint8Array {
  const buf = new Uint8Array(n);
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    return buf.subarray(0, readSync(fd, buf, 0, n, 0));
  } catch (e) {
    throw new KdError(fsErrorMessage(e, path));
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The format of `path`: folders are image folders, then by extension, then by magic bytes. */
export function detectFormat(path: string): DataFormat {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    throw new KdError(`${path}: no such file or folder`);
  }
  if (st.isDirectory()) return "images";
  // Sniffing opens the file: a FIFO with no writer would block that open forever.
  if (!st.isFile()) throw new KdError(`${path}: not a regular file (a device or pipe), not a data file`);
  const ext = extname(path).toLowerCase();
  if (ext === ".csv" || ext === ".tsv") return "csv";
  if (isImageFile(path)) return "image";
  const head = firstBytes(path, 8);
  if (isNpy(head)) return "npy";
  if (isZip(head)) return "npz";
  // IDX starts with two zero bytes; gzipped files are taken for gzipped IDX (MNIST's .gz files).
  if ((head[0] === 0 && head[1] === 0) || (head[0] === 0x1f && head[1] === 0x8b)) return "idx";
  throw new KdError(
    `${path}: unknown data format (expected an image folder, .csv, .npy, .npz or an IDX file, plain or .gz)`,
  );
}

function loadIdx(path: string, labelsPath: string | undefined, opts: ArrayDatasetOptions): Dataset {
  const images = readIdxFile(path);
  let labels: ArrayLike<number> | undefined;
  if (labelsPath !== undefined) {
    const l = readIdxFile(labelsPath);
    ensure(l.dims.length === 1, () => `${labelsPath}: labels must be 1-D, got dims [${l.dims.join(", ")}]`);
    // As for MNIST-style IDX pairs (fromIdx): class labels are stored as integers; floats mean the wrong file.
    ensure(
      l.dtype !== "float32" && l.dtype !== "float64",
      () => `${labelsPath}: labels must be integers, got ${l.dtype}`,
    );
    labels = l.data;
  }
  return datasetFromArrays(images, labels, basename(path), opts);
}

/**
 * Loads a dataset from `path`, whatever its format:
 * - a folder: one subfolder of PNG/JPEG images per class (options resize, channels);
 * - .csv/.tsv: a header, numeric features and a label column (labelColumn);
 * - .png/.jpg: one unlabeled image;
 * - .npy: features [N, ...] (uint8, integers or floats), labels in `labelsPath` (.npy);
 * - .npz: arrays named x/y or xKey/yKey (labels from `labelsPath` override);
 * - IDX (plain or gzipped), labels in `labelsPath` (IDX).
 * Every format's uint8 data is scaled to [0, 1]; features must be finite, labels whole numbers in
 * [0, numClasses). Bad input throws a KdError naming the file and the problem.
 */
export function loadDataset(path: string, labelsPath?: string, opts: LoadOptions = {}): Dataset {
  const format = opts.format ?? detectFormat(path);
  const noLabelsFile = (why: string) =>
    ensure(labelsPath === undefined, () => `${path}: ${why}; a separate labels file does not apply`);
  switch (format) {
    case "images":
      noLabelsFile("an image folder's labels are its subfolders");
      return loadImageFolder(path, opts);
    case "image":
      noLabelsFile("a single image has no label");
      return loadImageFiles([path], undefined, basename(path), opts);
    case "csv":
      noLabelsFile("CSV labels come from a column (labelColumn)");
      return loadCsvDataset(path, opts);
    case "npy":
      return loadNpyDataset(path, labelsPath, opts);
    case "npz":
      return loadNpzDataset(path, labelsPath, opts);
    case "idx":
      return loadIdx(path, labelsPath, opts);
  }
}
