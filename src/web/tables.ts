/**
 * NPY pairs and CSV files in the page, parsed and checked by kd's own loaders' pure halves
 * (data/npy-format.ts, data/csv-format.ts, data/arrays.ts), so the page sees what `kd train
 * --train FILE` sees: the same values, labels, class names and one-line messages.
 */
import { type ArrayDatasetOptions, datasetFromArrays } from "../data/arrays.js";
import { type CsvParse, csvDataset } from "../data/csv-format.js";
import { npyFeatures, npyLabels, parseNpy, Y_KEYS } from "../data/npy-format.js";
import { ensure } from "../util/errors.js";
import { type ImageSet, setFromDataset } from "./folder.js";

/** A file the page was given: its name and bytes. */
export interface GivenFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/**
 * A CSV (or tab-separated .tsv) file, read as `kd train --train FILE.csv` reads it; `parse` is
 * csv-parse's (the page loads its browser build, kd-csv.js, when first given a CSV file).
 */
export function loadCsvSet(parse: CsvParse, f: GivenFile, opts: ArrayDatasetOptions = {}): ImageSet {
  const text = new TextDecoder("utf-8").decode(f.bytes);
  const delimiter = f.name.toLowerCase().endsWith(".tsv") ? "\t" : ",";
  return setFromDataset(csvDataset(parse, text, f.name, { ...opts, delimiter }));
}

/** Whether an .npy file's name says it holds labels: y.npy, labels.npy, train_y.npy, mnist-labels.npy... */
const labelsName = (name: string) =>
  Y_KEYS.some((k) => new RegExp(`(^|[-_.])${k}$`, "i").test(name.replace(/\.npy$/i, "")));

/**
 * An .npy pair picked together, read as `kd train --train X.npy --train-labels Y.npy` reads it.
 * The labels file is the one named as labels (see labelsName), else the only 1-D one. A single
 * .npy holds no labels, so it cannot give a validation accuracy: refused in one line.
 */
export function loadNpyPair(files: readonly GivenFile[], opts: ArrayDatasetOptions = {}): ImageSet {
  ensure(
    files.length === 2,
    () =>
      `${files.map((f) => f.name).join(", ")}: give two .npy files together, the features and their labels (a single .npy has no labels to validate on)`,
  );
  const arrays = files.map((f) => ({ f, a: parseNpy(f.bytes, f.name) }));
  let yi = arrays.findIndex(({ f }) => labelsName(f.name));
  if (yi < 0 || labelsName(arrays[1 - yi]!.f.name)) {
    const flat = arrays.map(({ a }) => a.dims.length === 1);
    yi = flat[0] === flat[1] ? -1 : flat.indexOf(true);
  }
  ensure(
    yi >= 0,
    () =>
      `${files[0]!.name}, ${files[1]!.name}: which one holds the labels? (name it y.npy or labels.npy, or make it 1-D)`,
  );
  const x = arrays[1 - yi]!;
  const y = arrays[yi]!;
  return setFromDataset(datasetFromArrays(npyFeatures(x.a), npyLabels(y.a, y.f.name), x.f.name, opts));
}
