/** Tabular data from a CSV file: the file read here, parsed by csv-format.ts with csv-parse's Node build. */
import { basename } from "node:path";
import { parse } from "csv-parse/sync";
import { readInputFile } from "../util/files.js";
import { type CsvOptions, csvDataset } from "./csv-format.js";
import type { Dataset } from "./types.js";

export * from "./csv-format.js";

/** Parses CSV text into a dataset (see csvDataset). */
export function parseCsvDataset(text: string, what: string, opts: CsvOptions = {}): Dataset {
  return csvDataset(parse, text, what, opts);
}

/** Loads a CSV file (see parseCsvDataset); a .tsv file is tab-separated. */
export function loadCsvDataset(path: string, opts: CsvOptions = {}): Dataset {
  const text = readInputFile(path, "CSV file").toString("utf8");
  const delimiter = opts.delimiter ?? (path.toLowerCase().endsWith(".tsv") ? "\t" : ",");
  return parseCsvDataset(text, basename(path), { ...opts, delimiter });
}
